// Files that cannot be opened, and why: not for our keys, no keys at all, passphrase files, and
// things that are not age files. Each must say what the file is for and never what it holds.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgeDecryptError, decryptAge, type AgeErrorKind } from '../../src/age/decrypt.js';
import { parseX25519Secret, type AgeIdentity } from '../../src/age/identity.js';
import { AGE_SKIP, SCRYPT_SKIP, SSH_SKIP, ageEncrypt, ageKeygen, agePassphraseEncrypt, sshKeygen, suiteDir, tempDir, type AgeKey } from './helpers/tools.js';

/** Asserts a failure of `kind` whose message matches every pattern and contains none of `never`. */
async function assertError(promise: Promise<unknown>, kind: AgeErrorKind, patterns: RegExp[], never: string[] = []): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof AgeDecryptError, String(e));
    assert.equal(e.kind, kind, e.message);
    for (const p of patterns) assert.match(e.message, p);
    for (const n of never) assert.ok(!e.message.includes(n), `the message contains ${JSON.stringify(n)}`);
    return true;
  });
}

describe('files no key here opens', { skip: AGE_SKIP }, () => {
  const dir = suiteDir();
  const plaintext = 'the plaintext of a file for someone else';
  let ours: AgeKey;
  let theirs: AgeKey;
  let ids: AgeIdentity[];
  before(() => {
    ours = ageKeygen(dir, 'ours.txt');
    theirs = ageKeygen(dir, 'theirs.txt');
    ids = [parseX25519Secret(ours.secret, 'ours')!];
  });

  test('a file for another X25519 key: no-identity, with the stanza types and what was tried', async () => {
    const file = ageEncrypt(plaintext, { recipients: [theirs.recipient] });
    await assertError(decryptAge(file, ids), 'no-identity', [/the file is for 1 X25519/, /1 identity \(X25519\) tried/], [plaintext, ours.secret]);
  });

  test('a file for SSH and X25519 keys we do not hold lists every stanza type', { skip: SSH_SKIP }, async (t) => {
    const keys = tempDir(t);
    const ed = sshKeygen(keys, 'ed25519');
    const rsa = sshKeygen(keys, 'rsa');
    const file = ageEncrypt(plaintext, { recipients: [theirs.recipient], recipientFiles: [ed.pubFile, rsa.pubFile] });
    await assertError(decryptAge(file, ids), 'no-identity', [/1 X25519, 1 ssh-ed25519, 1 ssh-rsa/]);
  });

  test('no identities at all: says that no key is configured, and where keys come from', async () => {
    const file = ageEncrypt(plaintext, { recipients: [theirs.recipient] });
    await assertError(decryptAge(file, []), 'no-identity', [/no usable key is configured/, /keys\.ageKeyFiles/, /1 X25519/]);
  });

  test('a passphrase (scrypt) file is refused as unsupported, whatever keys there are', { skip: SCRYPT_SKIP }, async () => {
    const file = agePassphraseEncrypt(dir, plaintext, 'a passphrase nobody types at boot');
    assert.match(file.toString('latin1', 0, 100), /\n-> scrypt /);
    for (const keys of [ids, []]) await assertError(decryptAge(file, keys), 'unsupported', [/passphrase-encrypted \(scrypt\)/], [plaintext]);
  });
});

describe('things that are not age files', () => {
  // Each with the reason it must be refused for (so a case cannot pass by failing elsewhere).
  const cases: [string, string | Buffer, RegExp][] = [
    ['an empty file', '', /bad version line/],
    ['the version line alone, without a newline', 'age-encryption.org/v1', /bad version line/],
    ['plain text', 'password=hunter2\n', /bad version line/],
    ['a PGP message', '-----BEGIN PGP MESSAGE-----\n\nhQEMA\n-----END PGP MESSAGE-----\n', /bad version line/],
    ['age v2', 'age-encryption.org/v2\n-> X25519 AAAA\nAAAA\n--- AAAA\n', /bad version line/],
    ['a header without its MAC line', 'age-encryption.org/v1\n-> X25519 AAAA\n\n', /truncated header/],
    ['a stanza body line longer than 64 columns', `age-encryption.org/v1\n-> X25519 AAAA\n${'A'.repeat(65)}\n--- ${'A'.repeat(43)}\n`, /longer than 64 columns/],
    ['a short MAC', 'age-encryption.org/v1\n-> X25519 AAAA\n\n--- AAAA\n', /MAC has the wrong length/],
    ['padded base64 in a stanza', `age-encryption.org/v1\n-> X25519 AAAA\nAA==\n--- ${'A'.repeat(43)}\n`, /stanza body: invalid base64/],
    ['armor without its END line', '-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n', /armor: missing END line/],
    ['armor with a short line before the last', `-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n${'A'.repeat(64)}\n-----END AGE ENCRYPTED FILE-----\n`, /armor: short line before the last/],
    ['armor with padding in the middle', `-----BEGIN AGE ENCRYPTED FILE-----\n${'A'.repeat(60)}AA==\nAAAA\n-----END AGE ENCRYPTED FILE-----\n`, /armor: non-canonical base64/],
    ['armor with non-zero padding bits', '-----BEGIN AGE ENCRYPTED FILE-----\nYR==\n-----END AGE ENCRYPTED FILE-----\n', /armor: non-canonical base64/],
    ['binary garbage', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x0a]), /bad version line/],
  ];
  for (const [name, content, reason] of cases) {
    test(`${name} is corrupt: not a valid age file`, async () => {
      const file = typeof content === 'string' ? Buffer.from(content, 'latin1') : content;
      await assertError(decryptAge(file, []), 'corrupt', [/^not a valid age file: /, reason], ['hunter2']);
    });
  }
});

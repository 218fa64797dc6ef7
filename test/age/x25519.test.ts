// Files the real `age` CLI encrypts to X25519 recipients, opened by our decrypter, and checked
// against two independent decrypters: the `age` CLI itself and the age-encryption library.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Decrypter } from 'age-encryption';
import { AgeDecrypter, decryptAge } from '../../src/age/decrypt.js';
import { parseX25519Secret, type AgeIdentity } from '../../src/age/identity.js';
import { isArmored } from '../../src/age/armor.js';
import { AGE_SKIP, SSH_SKIP, ageDecrypt, ageEncrypt, ageKeygen, randomBytes, sshKeygen, suiteDir, tempDir, type AgeKey } from './helpers/tools.js';

/** Our identity for a key age-keygen made. */
function identity(key: AgeKey): AgeIdentity {
  const id = parseX25519Secret(key.secret, key.file);
  assert.ok(id, 'age-keygen wrote a key we cannot parse');
  return id;
}

/** The age-encryption library's answer for the same file (X25519 only: it has no SSH support). */
async function libraryDecrypt(file: Uint8Array, key: AgeKey): Promise<Buffer> {
  const d = new Decrypter();
  d.addIdentity(key.secret);
  const { armor } = await import('age-encryption');
  const binary = isArmored(file) ? armor.decode(Buffer.from(file).toString('latin1')) : file;
  return Buffer.from(await d.decrypt(binary));
}

// Sizes around the 64 KiB STREAM chunk: empty, tiny, one byte short of, exactly, one byte over a
// chunk, exactly two chunks, and about 1 MiB (16 full chunks plus a short one).
const SIZES = [0, 1, 65535, 65536, 65537, 131072, 1024 * 1024 + 7];

describe('X25519 files from the age CLI', { skip: AGE_SKIP }, () => {
  const dir = suiteDir();
  let ours: AgeKey;
  let other: AgeKey;
  let third: AgeKey;
  before(() => {
    ours = ageKeygen(dir, 'ours.txt');
    other = ageKeygen(dir, 'other.txt');
    third = ageKeygen(dir, 'third.txt');
  });

  test('our recipient for a key equals the one age-keygen printed', () => {
    assert.equal(identity(ours).recipient, ours.recipient);
    assert.equal(identity(other).recipient, other.recipient);
  });

  for (const armored of [false, true]) {
    for (const size of SIZES) {
      test(`${armored ? 'armored' : 'binary'}, ${size} bytes: same plaintext as the age CLI and the library`, async () => {
        const plaintext = randomBytes(size);
        const file = ageEncrypt(plaintext, { recipients: [ours.recipient], armor: armored });
        assert.equal(isArmored(file), armored);
        const mine = await decryptAge(file, [identity(ours)]);
        assert.ok(mine.equals(plaintext), 'our plaintext differs from the original');
        assert.ok(ageDecrypt(file, ours.file).equals(mine), 'age -d disagrees');
        assert.ok((await libraryDecrypt(file, ours)).equals(mine), 'age-encryption disagrees');
      });
    }
  }

  test('several recipients: our key second, then third', async () => {
    const plaintext = Buffer.from('several recipients');
    const second = ageEncrypt(plaintext, { recipients: [other.recipient, ours.recipient, third.recipient] });
    const last = ageEncrypt(plaintext, { recipients: [other.recipient, third.recipient, ours.recipient], armor: true });
    for (const file of [second, last]) {
      assert.ok((await decryptAge(file, [identity(ours)])).equals(plaintext));
      assert.ok((await libraryDecrypt(file, ours)).equals(plaintext));
    }
  });

  test('several recipients of mixed types (ssh-ed25519, ssh-rsa, X25519) with ours last', { skip: SSH_SKIP }, async (t) => {
    const keys = tempDir(t);
    const ed = sshKeygen(keys, 'ed25519');
    const rsa = sshKeygen(keys, 'rsa');
    const plaintext = randomBytes(70_000);
    const file = ageEncrypt(plaintext, { recipientFiles: [ed.pubFile, rsa.pubFile], recipients: [other.recipient, ours.recipient] });
    assert.ok((await decryptAge(file, [identity(ours)])).equals(plaintext));
    assert.ok((await libraryDecrypt(file, ours)).equals(plaintext));
  });

  test('several identities: the one that matches is found wherever it is in the list', async () => {
    const plaintext = Buffer.from('found among many');
    const file = ageEncrypt(plaintext, { recipients: [ours.recipient] });
    for (const ids of [[identity(other), identity(third), identity(ours)], [identity(ours), identity(other)], [identity(third), identity(ours), identity(other)]]) {
      assert.ok((await decryptAge(file, ids)).equals(plaintext));
    }
  });

  test('one decrypter over a batch of files for different keys and stanza orders', async () => {
    // The decrypter and each X25519 identity remember what matched last; a batch whose files
    // disagree with that memory must still open every file correctly. Our stanza moves through
    // every position after every other position; the matching key changes too.
    const decrypter = new AgeDecrypter([identity(other), identity(ours), identity(third)]);
    const single = new AgeDecrypter([identity(ours)]);
    const positions = [2, 1, 0, 2, 0, 1, 1, 2, 2, 0, 0];
    for (const [i, position] of positions.entries()) {
      const recipients = [other.recipient, third.recipient];
      recipients.splice(position, 0, ours.recipient);
      const plaintext = Buffer.from(`batch file ${i}`);
      const file = ageEncrypt(plaintext, { recipients });
      assert.ok((await single.decrypt(file)).equals(plaintext), `file ${i}, our stanza at ${position}`);
      assert.ok((await decrypter.decrypt(file)).equals(plaintext), `file ${i}, our stanza at ${position}, three identities`);
    }
    for (const [i, key] of [third, other, ours, other].entries()) {
      const plaintext = Buffer.from(`file ${i} for one key`);
      assert.ok((await decrypter.decrypt(ageEncrypt(plaintext, { recipients: [key.recipient] }))).equals(plaintext));
    }
  });

  test('CRLF line endings in an armored file are accepted, as age accepts them', async () => {
    const plaintext = Buffer.from('crlf armor');
    const file = ageEncrypt(plaintext, { recipients: [ours.recipient], armor: true });
    const crlf = Buffer.from(file.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    assert.ok(ageDecrypt(crlf, ours.file).equals(plaintext), 'age itself refused the CRLF variant');
    assert.ok((await decryptAge(crlf, [identity(ours)])).equals(plaintext));
  });
});

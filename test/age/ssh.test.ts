// SSH keys as age identities: native `ssh-ed25519` and `ssh-rsa` stanzas from `age -R key.pub`,
// the ed25519 → X25519 conversion sops-nix and ssh-to-age use (checked against sops-nix's own
// vector), every private key format ssh-keygen writes, and passphrase-protected keys refused.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgeDecryptError, decryptAge } from '../../src/age/decrypt.js';
import { dearmor } from '../../src/age/armor.js';
import { parseKeyFile, parseX25519Secret } from '../../src/age/identity.js';
import { parseSshPrivateKey, parseSshPublicLine, SshKeyError, sshEd25519PublicLineToAge, sshIdentities } from '../../src/age/ssh.js';
import { have } from '../helpers/tools.js';
import { AGE_SKIP, SSH_SKIP, ageDecrypt, ageEncrypt, randomBytes, run, sshKeygen, sshToAgeByHand, suiteDir, type SshKey } from './helpers/tools.js';

const OPENSSL_SKIP = have('openssl') ? false : 'needs openssl (Debian: apt-get install openssl)';
const FIXTURES = new URL('../fixtures/age/sops-nix/', import.meta.url).pathname;
const VECTOR_RECIPIENT = 'age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs';
/**
 * A second published ssh-to-age conversion: the README of pinpox/pgp2ssh (commit b2bce8e5a792),
 * which pipes a gpg-exported ed25519 key into ssh-to-age and shows what it printed.
 */
const PGP2SSH_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYvKXGcG4a19tTT0Rycbn+D0r/YlKltLJ9dY2gR/Fjx openpgp:0x47C9F3FF';
const PGP2SSH_RECIPIENT = 'age18s8m9hvlrwvltgys4lafyyqe356ntc7e06t4kd2nccqm5amsaa2s878mju';
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'latin1');

/** Our identities for a private key file. */
const idsOf = (key: SshKey | string) => sshIdentities(parseSshPrivateKey(typeof key === 'string' ? key : key.privateText), 'test key');

describe('the sops-nix ed25519 vector', () => {
  test('converts to the recipient sops-nix encrypted to, from the private and from the public key', () => {
    const ids = idsOf(fixture('ssh-ed25519-key'));
    assert.deepEqual(
      ids.map((i) => i.recipient),
      [fixture('ssh-ed25519-key.pub').trim().split(' ').slice(0, 2).join(' '), VECTOR_RECIPIENT],
    );
    assert.equal(sshEd25519PublicLineToAge(fixture('ssh-ed25519-key.pub')), VECTOR_RECIPIENT);
  });

  test('a second published ssh-to-age output (pgp2ssh README) converts the same', () => {
    assert.equal(sshEd25519PublicLineToAge(PGP2SSH_LINE), PGP2SSH_RECIPIENT);
  });

  test('opens the data key sops (Go age) wrapped for it; the age key opens its own copy; both agree', async () => {
    const viaSsh = await decryptAge(Buffer.from(fixture('data-key.age1a8pk.age'), 'latin1'), idsOf(fixture('ssh-ed25519-key')));
    const line = parseKeyFile(fixture('age-keys.txt')).find((l) => l.kind === 'x25519');
    assert.ok(line && line.kind === 'x25519');
    const viaAge = await decryptAge(Buffer.from(fixture('data-key.age1yt3t.age'), 'latin1'), [parseX25519Secret(line.text, 'age-keys.txt')!]);
    assert.equal(viaSsh.length, 32);
    assert.ok(viaSsh.equals(viaAge), 'the two wrapped copies of the data key differ');
    // And neither key opens the other's copy.
    await assert.rejects(decryptAge(Buffer.from(fixture('data-key.age1yt3t.age'), 'latin1'), idsOf(fixture('ssh-ed25519-key'))), (e: unknown) => e instanceof AgeDecryptError && e.kind === 'no-identity');
  });

  test('the age CLI encrypting to the converted recipient gives a file the SSH key opens', { skip: AGE_SKIP }, async () => {
    const plaintext = randomBytes(1000);
    const file = ageEncrypt(plaintext, { recipients: [VECTOR_RECIPIENT] });
    assert.ok((await decryptAge(file, idsOf(fixture('ssh-ed25519-key')))).equals(plaintext));
  });
});

describe('SSH recipients from the age CLI (age -R key.pub)', { skip: AGE_SKIP || SSH_SKIP }, () => {
  const dir = suiteDir();
  let ed: SshKey;
  let rsa: SshKey;
  let otherEd: SshKey;
  before(() => {
    ed = sshKeygen(dir, 'ed25519');
    rsa = sshKeygen(dir, 'rsa');
    otherEd = sshKeygen(dir, 'ed25519', { name: 'other_ed25519' });
  });

  for (const armor of [false, true]) {
    test(`ssh-ed25519 stanza, ${armor ? 'armored' : 'binary'}: same plaintext as age -d`, async () => {
      const plaintext = randomBytes(70_000);
      const file = ageEncrypt(plaintext, { recipientFiles: [ed.pubFile], armor });
      const header = armor ? dearmor(file) : file;
      assert.match(header.toString('latin1', 0, 200), /\n-> ssh-ed25519 /);
      const mine = await decryptAge(file, idsOf(ed));
      assert.ok(mine.equals(plaintext));
      assert.ok(ageDecrypt(file, ed.file).equals(mine), 'age -d disagrees');
    });

    test(`ssh-rsa stanza, ${armor ? 'armored' : 'binary'}: same plaintext as age -d`, async () => {
      const plaintext = randomBytes(300);
      const file = ageEncrypt(plaintext, { recipientFiles: [rsa.pubFile], armor });
      const mine = await decryptAge(file, idsOf(rsa));
      assert.ok(mine.equals(plaintext));
      assert.ok(ageDecrypt(file, rsa.file).equals(mine), 'age -d disagrees');
    });
  }

  test('our ssh-ed25519 stanza third among other SSH recipients', async () => {
    const plaintext = Buffer.from('third of three');
    const file = ageEncrypt(plaintext, { recipientFiles: [otherEd.pubFile, rsa.pubFile, ed.pubFile] });
    assert.ok((await decryptAge(file, idsOf(ed))).equals(plaintext));
  });

  test('an ed25519 key opens files for its converted age1 recipient too (what sops-nix relies on)', async () => {
    // The recipient ssh-to-age would print, derived without our code (seed, SHA-512, age-keygen -y).
    const { recipient } = sshToAgeByHand(ed);
    assert.equal(sshEd25519PublicLineToAge(ed.publicLine), recipient);
    assert.equal(idsOf(ed)[1]!.recipient, recipient);
    const plaintext = Buffer.from('via ssh-to-age');
    const file = ageEncrypt(plaintext, { recipients: [recipient] });
    assert.match(file.toString('latin1'), /-> X25519 /);
    assert.ok((await decryptAge(file, idsOf(ed))).equals(plaintext));
  });

  test('RSA keys in PEM and PKCS#8 form work like the OpenSSH form', async () => {
    const plaintext = Buffer.from('rsa in other wrappers');
    for (const format of ['pem', 'pkcs8'] as const) {
      const key = sshKeygen(dir, 'rsa', { name: `id_rsa_${format}`, format });
      assert.match(key.privateText, format === 'pem' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN PRIVATE KEY/);
      const file = ageEncrypt(plaintext, { recipientFiles: [key.pubFile] });
      assert.ok((await decryptAge(file, idsOf(key))).equals(plaintext), format);
      assert.equal(idsOf(key)[0]!.recipient, parseSshPublicLine(key.publicLine).line, `${format}: recipient`);
      assert.equal(parseSshPublicLine(key.publicLine).ageRecipient, undefined);
    }
  });

  test('an ed25519 key in PKCS#8 form (openssl) works like the OpenSSH form', { skip: OPENSSL_SKIP }, async () => {
    const pem = run('openssl', ['genpkey', '-algorithm', 'ed25519']).toString('latin1');
    const [ssh, x25519] = idsOf(pem);
    assert.match(ssh!.recipient, /^ssh-ed25519 AAAA/);
    const plaintext = Buffer.from('pkcs8 ed25519');
    const file = ageEncrypt(plaintext, { recipients: [x25519!.recipient] });
    assert.ok((await decryptAge(file, [ssh!, x25519!])).equals(plaintext));
  });

  test('a file for another SSH key is "no identity", naming the stanza types', async () => {
    const file = ageEncrypt(Buffer.from('not for us'), { recipientFiles: [otherEd.pubFile, rsa.pubFile] });
    await assert.rejects(decryptAge(file, idsOf(ed)), (e: unknown) => {
      assert.ok(e instanceof AgeDecryptError);
      assert.equal(e.kind, 'no-identity');
      assert.match(e.message, /1 ssh-ed25519, 1 ssh-rsa/);
      return true;
    });
  });

  test('passphrase-protected keys in every format are refused with a clear reason', () => {
    for (const [type, format] of [['ed25519', 'openssh'], ['rsa', 'openssh'], ['rsa', 'pem'], ['rsa', 'pkcs8']] as const) {
      const key = sshKeygen(dir, type, { name: `locked_${type}_${format}`, passphrase: 'correct horse', format });
      assert.throws(() => parseSshPrivateKey(key.privateText), (e: unknown) => e instanceof SshKeyError && /passphrase-protected/.test(e.message), `${type} ${format}`);
    }
  });

  test('unsupported key types are named', () => {
    const key = sshKeygen(dir, 'ecdsa', { name: 'id_ecdsa' });
    assert.throws(() => parseSshPrivateKey(key.privateText), /unsupported key type ecdsa-sha2-nistp256/);
    assert.throws(() => parseSshPublicLine(key.publicLine), /not an ssh-ed25519 or ssh-rsa public key/);
  });
});

describe('public key lines', () => {
  test('the comment is dropped and ed25519 lines get their age recipient', () => {
    const parsed = parseSshPublicLine(`${fixture('ssh-ed25519-key.pub').trim()} someone@host\n`);
    assert.equal(parsed.type, 'ssh-ed25519');
    assert.equal(parsed.ageRecipient, VECTOR_RECIPIENT);
    assert.doesNotMatch(parsed.line, /someone/);
  });

  test('malformed lines are refused', () => {
    const good = fixture('ssh-ed25519-key.pub').trim().split(' ')[1]!;
    for (const bad of ['', 'ssh-ed25519', 'ssh-ed25519 !!!', `ssh-rsa ${good}`, `ssh-ed25519 ${good.slice(0, -8)}`, `ssh-ed25519 ${Buffer.concat([Buffer.from(good, 'base64'), Buffer.from([0])]).toString('base64')}`]) {
      assert.throws(() => parseSshPublicLine(bad), SshKeyError, JSON.stringify(bad));
    }
  });

  test('an SSH public key is not a private key', () => {
    assert.throws(() => parseSshPrivateKey(fixture('ssh-ed25519-key.pub')), /not an SSH private key/);
  });
});

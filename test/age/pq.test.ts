// Post-quantum hybrid keys (`AGE-SECRET-KEY-PQ-1…`, stanza `mlkem768x25519`). Debian's age 1.1.1
// predates them (they arrived in age 1.3), so here the age-encryption library makes the key and
// the file; our code must load the key from an ordinary key file, open the file, and import the
// library only when such a key is configured.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encrypter, armor, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AgeDecryptError, decryptAge } from '../../src/age/decrypt.js';
import { loadKeyRing } from '../../src/keys/index.js';
import { silentLogger } from '../../src/log.js';
import { CLI, registerSecretValues, runCli } from '../helpers/cli.js';
import { writeAgeConfig } from './helpers/config.js';
import { tempDir } from './helpers/tools.js';

/** Encrypts with the library (the only encrypter here that knows age1pq1… recipients). */
async function encryptTo(recipient: string, plaintext: string | Uint8Array): Promise<Buffer> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return Buffer.from(await e.encrypt(plaintext));
}

/** A key file as age-keygen -pq would write it: comments, then the key line. */
function writeKeyFile(dir: string, secret: string, recipient: string, name = 'pq.txt'): string {
  const file = join(dir, name);
  writeFileSync(file, `# created: 2025-01-01T00:00:00Z\n# public key: ${recipient}\n${secret}\n`, { mode: 0o600 });
  return file;
}

const keys = (ageKeyFiles: string[]) => ({ ageKeyFiles, sshKeyPaths: [], gnupgHome: null });

describe('post-quantum hybrid keys', () => {
  test('a key file with an AGE-SECRET-KEY-PQ-1 line opens files encrypted to its age1pq1 recipient', async (t) => {
    const dir = tempDir(t);
    const secret = await generateHybridIdentity();
    const recipient = await identityToRecipient(secret);
    assert.match(recipient, /^age1pq1/);
    const ring = await loadKeyRing(keys([writeKeyFile(dir, secret, recipient)]), silentLogger());
    assert.deepEqual(ring.problems, []);
    assert.deepEqual(ring.entries, [{ file: join(dir, 'pq.txt'), line: 3, kind: 'age-pq', recipients: [recipient] }]);
    for (const size of [0, 100, 64 * 1024 + 1]) {
      const plaintext = Buffer.alloc(size, 0x5a);
      const binary = await encryptTo(recipient, plaintext);
      assert.match(binary.toString('latin1', 0, 60), /\n-> mlkem768x25519 /);
      assert.ok((await decryptAge(binary, ring.identities)).equals(plaintext), `binary, ${size} bytes`);
      const armored = Buffer.from(armor.encode(binary), 'latin1');
      assert.ok((await decryptAge(armored, ring.identities)).equals(plaintext), `armored, ${size} bytes`);
    }
  });

  test('a PQ file for another PQ key is no-identity; damage is corrupt', async (t) => {
    const dir = tempDir(t);
    const secret = await generateHybridIdentity();
    const ring = await loadKeyRing(keys([writeKeyFile(dir, secret, await identityToRecipient(secret))]), silentLogger());
    const stranger = await identityToRecipient(await generateHybridIdentity());
    await assert.rejects(decryptAge(await encryptTo(stranger, 'not ours'), ring.identities), (e: unknown) => e instanceof AgeDecryptError && e.kind === 'no-identity' && /1 mlkem768x25519/.test(e.message));
    const file = await encryptTo(await identityToRecipient(secret), 'ours, then damaged');
    const macAt = file.indexOf('\n--- ') + 10;
    const badMac = Buffer.from(file);
    badMac[macAt] = badMac[macAt] === 0x41 ? 0x42 : 0x41;
    await assert.rejects(decryptAge(badMac, ring.identities), (e: unknown) => e instanceof AgeDecryptError && e.kind === 'corrupt' && /header MAC/.test(e.message));
    const badPayload = Buffer.from(file);
    badPayload[badPayload.length - 3]! ^= 1;
    await assert.rejects(decryptAge(badPayload, ring.identities), (e: unknown) => e instanceof AgeDecryptError && e.kind === 'corrupt');
  });

  test('an invalid PQ key line is a warning naming file and line, never the key', async (t) => {
    const dir = tempDir(t);
    const secret = await generateHybridIdentity();
    const broken = `${secret.slice(0, -6)}${secret.slice(-6) === 'QQQQQQ' ? 'PPPPPP' : 'QQQQQQ'}`;
    const file = writeKeyFile(dir, broken, 'age1pq1…');
    const log = silentLogger();
    const ring = await loadKeyRing(keys([file]), log);
    assert.equal(ring.identities.length, 0);
    assert.deepEqual(log.warnings, [`age key file ${file}, line 3: not a valid AGE-SECRET-KEY-PQ-1 key; skipped`]);
  });
});

describe('the age-encryption library loads only for post-quantum keys', () => {
  /** The files of the age-encryption package a run loaded (it is a package of its own, outside the bundle). */
  function libraryChunks(loads: string): string[] {
    return loads
      .split('\n')
      .filter((url) => url.startsWith('file:'))
      .map((url) => fileURLToPath(url))
      .filter((path) => path.includes('/node_modules/age-encryption/'));
  }

  /** Runs `materialize apply` on one secret, recording which modules the process loaded. */
  async function applyRecordingLoads(dir: string, keyFile: string, file: Buffer): Promise<{ code: number | null; stderr: string; chunks: string[] }> {
    writeFileSync(join(dir, 'secret.age'), file);
    const config = writeAgeConfig(dir, { ageKeyFiles: [keyFile], secrets: { s: join(dir, 'secret.age') } });
    const loads = join(dir, 'loads.txt');
    writeFileSync(loads, '');
    const hook = new URL('./helpers/record-loads.mjs', import.meta.url).href;
    const r = await runCli(['apply', '--config', config, '--json'], { env: { NODE_OPTIONS: `--import ${hook}`, MATERIALIZE_TEST_LOADS: loads } });
    return { code: r.code, stderr: r.stderr, chunks: libraryChunks(readFileSync(loads, 'utf8')) };
  }

  test('an X25519 key: the run never loads it; a PQ key: it does', async (t) => {
    const dir = tempDir(t);
    assert.ok(existsSync(CLI), `build the CLI first (${CLI})`);
    // The X25519 key and file come from the library too, only because this test is about imports;
    // the age CLI tests cover X25519 files from the real age.
    const x = await generateX25519Identity();
    const xr = await identityToRecipient(x);
    registerSecretValues(x, 'x25519 payload for the lazy-load test');
    const plain = await applyRecordingLoads(dir, writeKeyFile(dir, x, xr, 'x.txt'), await encryptTo(xr, 'x25519 payload for the lazy-load test'));
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.chunks, [], 'age-encryption was loaded for an X25519-only run');
    assert.equal(readFileSync(join(dir, 'out/secrets/s'), 'utf8'), 'x25519 payload for the lazy-load test');

    const pq = await generateHybridIdentity();
    const pqr = await identityToRecipient(pq);
    registerSecretValues(pq, 'post-quantum payload for the lazy-load test');
    const hybrid = await applyRecordingLoads(dir, writeKeyFile(dir, pq, pqr, 'pq.txt'), await encryptTo(pqr, 'post-quantum payload for the lazy-load test'));
    assert.equal(hybrid.code, 0, hybrid.stderr);
    assert.ok(hybrid.chunks.some((path) => path.endsWith('/node_modules/age-encryption/dist/index.js')), `age-encryption was not loaded for a PQ key: ${hybrid.chunks.join(', ')}`);
    assert.equal(readFileSync(join(dir, 'out/secrets/s'), 'utf8'), 'post-quantum payload for the lazy-load test');
  });
});

// Damaged and tampered files: every change to a file the age CLI wrote must fail as `corrupt`
// (or, where the format cannot tell damage from "not ours", as `no-identity`), and must never
// yield a plaintext, whole or partial.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { fcSeeded } from '../helpers/random.js';
import { AgeDecryptError, decryptAge, unwrapFileKey, type AgeErrorKind } from '../../src/age/decrypt.js';
import { parseHeader } from '../../src/age/format.js';
import { parseX25519Secret, type AgeIdentity } from '../../src/age/identity.js';
import { parseSshPrivateKey, sshIdentities } from '../../src/age/ssh.js';
import { AGE_SKIP, SSH_SKIP, ageDecrypt, ageEncrypt, ageKeygen, randomBytes, sshKeygen, suiteDir, type AgeKey } from './helpers/tools.js';

const CHUNK = 64 * 1024 + 16;

/** Offsets in a binary age file, found by plain text search (not by our parser). */
function layout(file: Buffer): { macLine: number; payload: number; body: number } {
  const macLine = file.indexOf('\n--- ') + 1;
  const payload = file.indexOf('\n', macLine) + 1;
  assert.ok(macLine > 0 && payload > macLine, 'not an age file');
  return { macLine, payload, body: payload + 16 };
}

/** A copy with one byte changed at `at`. */
function flip(file: Buffer, at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(file);
  copy[at]! ^= mask;
  return copy;
}

/** A copy with the base64 character at `at` replaced by another one (still valid base64). */
function changeChar(file: Buffer, at: number): Buffer {
  const copy = Buffer.from(file);
  copy[at] = copy[at] === 0x41 ? 0x42 : 0x41;
  return copy;
}

/** Where the first stanza's body starts: the line after `-> …` (the header's second line). */
const firstStanzaBody = (file: Buffer) => file.indexOf('\n', file.indexOf('\n') + 1) + 1;

/** Asserts that decrypting fails with `kind` (and so returns nothing at all). */
async function assertFails(file: Uint8Array, ids: readonly AgeIdentity[], kind: AgeErrorKind, message?: RegExp): Promise<void> {
  let result: Buffer | undefined;
  try {
    result = await decryptAge(file, ids);
  } catch (error) {
    assert.ok(error instanceof AgeDecryptError, `expected an AgeDecryptError, got ${(error as Error)?.name}: ${(error as Error)?.message}`);
    assert.equal(error.kind, kind, error.message);
    if (message) assert.match(error.message, message);
    return;
  }
  assert.fail(`decryption succeeded (${result.length} bytes) where it had to fail`);
}

describe('tampering with files the age CLI wrote', { skip: AGE_SKIP }, () => {
  const dir = suiteDir();
  let key: AgeKey;
  let other: AgeKey;
  let ids: AgeIdentity[];
  let small: Buffer;
  let twoChunks: Buffer;
  let threeChunks: Buffer;
  let twoFull: Buffer;
  before(() => {
    key = ageKeygen(dir, 'key.txt');
    other = ageKeygen(dir, 'other.txt');
    ids = [parseX25519Secret(key.secret, 'key')!];
    small = ageEncrypt(Buffer.from('a small secret value'), { recipients: [key.recipient] });
    twoChunks = ageEncrypt(randomBytes(64 * 1024 + 100), { recipients: [key.recipient] });
    threeChunks = ageEncrypt(randomBytes(2 * 64 * 1024 + 100), { recipients: [key.recipient] });
    twoFull = ageEncrypt(randomBytes(2 * 64 * 1024), { recipients: [key.recipient] });
  });

  test('the untouched files decrypt (the baseline the other tests change)', async () => {
    for (const file of [small, twoChunks, threeChunks, twoFull]) assert.ok((await decryptAge(file, ids)).equals(ageDecrypt(file, key.file)));
  });

  test('a changed header MAC', async () => {
    const { macLine, payload } = layout(small);
    const mac = Buffer.from(small.toString('latin1', macLine + 4, payload - 1), 'base64');
    mac[5]! ^= 0x80;
    const forged = Buffer.concat([small.subarray(0, macLine + 4), Buffer.from(mac.toString('base64').replace(/=+$/, '')), small.subarray(payload - 1)]);
    await assertFails(forged, ids, 'corrupt', /header MAC does not match/);
  });

  test('a changed stanza of another recipient: caught by the header MAC', async () => {
    const file = ageEncrypt(Buffer.from('two recipients'), { recipients: [other.recipient, key.recipient] });
    // The first stanza's body line is the second line of the header.
    await assertFails(changeChar(file, firstStanzaBody(file) + 10), ids, 'corrupt', /header MAC does not match/);
  });

  test('a changed X25519 stanza of ours: indistinguishable from a file for another key', async () => {
    // X25519 stanzas carry no key id, so age itself says "no identity matched" here; so do we,
    // and the message says that damage looks the same.
    await assertFails(changeChar(small, firstStanzaBody(small) + 3), ids, 'no-identity', /damaged stanza looks the same/);
  });

  test('a changed ssh-ed25519 stanza of ours: its tag names our key, so it is corrupt', { skip: SSH_SKIP }, async () => {
    const ssh = sshKeygen(dir, 'ed25519');
    const sshIds = sshIdentities(parseSshPrivateKey(ssh.privateText), 'ssh');
    const file = ageEncrypt(Buffer.from('ssh stanza'), { recipientFiles: [ssh.pubFile] });
    await assertFails(changeChar(file, firstStanzaBody(file) + 3), sshIds, 'corrupt', /ssh-ed25519 stanza for this key/);
  });

  test('a changed ssh-rsa stanza of ours is corrupt', { skip: SSH_SKIP }, async () => {
    const rsa = sshKeygen(dir, 'rsa');
    const rsaIds = sshIdentities(parseSshPrivateKey(rsa.privateText), 'rsa');
    const file = ageEncrypt(Buffer.from('rsa stanza'), { recipientFiles: [rsa.pubFile] });
    await assertFails(changeChar(file, firstStanzaBody(file) + 20), rsaIds, 'corrupt', /ssh-rsa stanza for this key/);
  });

  test('a changed byte in the payload nonce, the first chunk, the last chunk, a tag', async () => {
    const { payload, body } = layout(twoChunks);
    await assertFails(flip(small, layout(small).payload + 3), ids, 'corrupt');
    await assertFails(flip(twoChunks, payload + 5), ids, 'corrupt', /chunk 1/);
    await assertFails(flip(twoChunks, body + 10), ids, 'corrupt', /chunk 1/);
    await assertFails(flip(twoChunks, body + CHUNK + 3), ids, 'corrupt', /chunk 2/);
    await assertFails(flip(twoChunks, twoChunks.length - 1), ids, 'corrupt', /chunk 2/);
  });

  test('truncation anywhere', async () => {
    const { macLine, payload, body } = layout(twoChunks);
    for (const at of [0, 10, macLine + 2, payload, payload + 8, body, body + 15, body + 1000, body + CHUNK - 1, body + CHUNK + 5, twoChunks.length - 1]) {
      await assertFails(twoChunks.subarray(0, at), ids, 'corrupt');
    }
  });

  test('the final chunk removed: the remaining full chunk is not flagged last', async () => {
    const { body } = layout(twoChunks);
    await assertFails(twoChunks.subarray(0, body + CHUNK), ids, 'corrupt', /chunk 1/);
    // Also with a full final chunk: dropping it leaves a file that ends on a non-final chunk.
    await assertFails(twoFull.subarray(0, layout(twoFull).body + CHUNK), ids, 'corrupt', /chunk 1/);
  });

  test('chunks reordered or duplicated', async () => {
    const { body } = layout(threeChunks);
    const c1 = threeChunks.subarray(body, body + CHUNK);
    const c2 = threeChunks.subarray(body + CHUNK, body + 2 * CHUNK);
    const rest = threeChunks.subarray(body + 2 * CHUNK);
    const head = threeChunks.subarray(0, body);
    await assertFails(Buffer.concat([head, c2, c1, rest]), ids, 'corrupt', /chunk 1/);
    await assertFails(Buffer.concat([head, c1, c1, rest]), ids, 'corrupt', /chunk 2/);
    await assertFails(Buffer.concat([head, c1, rest]), ids, 'corrupt');
  });

  test('an empty final chunk after a full one (which age never writes) is refused', async () => {
    // Re-seal the real file's payload (with node:crypto directly) so that its second full chunk is
    // no longer final and an empty final chunk follows: every chunk authenticates, the shape is wrong.
    const { payload, body } = layout(twoFull);
    const fileKey = await unwrapFileKey(parseHeader(twoFull), ids);
    const streamKey = Buffer.from(hkdfSync('sha256', fileKey, twoFull.subarray(payload, body), 'payload', 32));
    const nonce = (counter: number, last: boolean) => Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, counter, last ? 1 : 0]);
    const open = (chunk: Buffer, n: Buffer) => {
      const d = createDecipheriv('chacha20-poly1305', streamKey, n, { authTagLength: 16 });
      d.setAuthTag(chunk.subarray(-16));
      return Buffer.concat([d.update(chunk.subarray(0, -16)), d.final()]);
    };
    const seal = (plain: Buffer, n: Buffer) => {
      const c = createCipheriv('chacha20-poly1305', streamKey, n, { authTagLength: 16 });
      return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    };
    const second = open(twoFull.subarray(body + CHUNK), nonce(1, true));
    const reshaped = Buffer.concat([twoFull.subarray(0, body + CHUNK), seal(second, nonce(1, false)), seal(Buffer.alloc(0), nonce(2, true))]);
    await assertFails(reshaped, ids, 'corrupt', /ends with an empty chunk/);
  });

  test('bytes appended after the last chunk', async () => {
    await assertFails(Buffer.concat([small, Buffer.from([0])]), ids, 'corrupt');
    await assertFails(Buffer.concat([twoFull, twoFull.subarray(layout(twoFull).body, layout(twoFull).body + CHUNK)]), ids, 'corrupt');
  });

  test('an armored file with one base64 character changed', async () => {
    const armored = ageEncrypt(Buffer.from('armored and damaged'), { recipients: [key.recipient], armor: true });
    const text = armored.toString('latin1');
    const at = text.lastIndexOf('\n-----END') - 10;
    const changed = `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    await assertFails(Buffer.from(changed, 'latin1'), ids, 'corrupt');
  });

  test('any single changed byte anywhere fails; only X25519 stanza bytes may read as "no identity"', async () => {
    const file = ageEncrypt(randomBytes(3000), { recipients: [other.recipient, key.recipient] });
    const { macLine } = layout(file);
    const stanzas = file.indexOf('\n') + 1;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const kind: AgeErrorKind[] = at >= stanzas && at < macLine ? ['corrupt', 'no-identity'] : ['corrupt'];
        try {
          await decryptAge(flip(file, at, mask), ids);
        } catch (error) {
          return error instanceof AgeDecryptError && kind.includes(error.kind);
        }
        return false;
      }),
      fcSeeded(300),
    );
  });
});

// age encryption (for the sealed store) against the real age CLI: every file we write opens with
// `age -d` at every chunk boundary, to one recipient or several, and with our own decryption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bech32Decode } from '../../src/age/bech32.js';
import { decryptAge } from '../../src/age/decrypt.js';
import { encryptAge } from '../../src/age/encrypt.js';
import { parseX25519Secret } from '../../src/age/identity.js';
import { AGE_SKIP, run, tempDir } from './helpers/tools.js';
import { seededRandom } from '../helpers/random.js';

function keygen(dir: string, name: string): { file: string; point: Buffer; secret: string } {
  const file = join(dir, name);
  run('age-keygen', ['-o', file]);
  const text = readFileSync(file, 'utf8');
  const recipient = /^# public key: (age1\S+)$/m.exec(text)![1]!;
  return { file, point: bech32Decode(recipient)!.data, secret: /^(AGE-SECRET-KEY-1\S+)$/m.exec(text)![1]! };
}

test('files encrypted to X25519 recipients open with the real age CLI and with our decryption, at every chunk boundary', { skip: AGE_SKIP }, async (t) => {
  const dir = tempDir(t, 'materialize-encrypt-');
  const a = keygen(dir, 'a.txt');
  const b = keygen(dir, 'b.txt');
  const random = seededRandom(11);
  for (const size of [0, 1, 65535, 65536, 65537, 2 * 65536, 2 * 65536 + 7]) {
    const plaintext = Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)));
    const file = join(dir, `p${size}.age`);
    writeFileSync(file, encryptAge(plaintext, [a.point, b.point]));
    for (const key of [a, b]) assert.ok(run('age', ['-d', '-i', key.file, file]).equals(plaintext), `age -d, ${size} bytes`);
    assert.ok((await decryptAge(readFileSync(file), [parseX25519Secret(b.secret, 'b')!])).equals(plaintext), `our decryption, ${size} bytes`);
  }
  // A key it was not encrypted to opens nothing.
  const c = keygen(dir, 'c.txt');
  const file = join(dir, 'only-a.age');
  writeFileSync(file, encryptAge(Buffer.from('for a only'), [a.point]));
  assert.throws(() => run('age', ['-d', '-i', c.file, file]), /no identity matched/);
  await assert.rejects(decryptAge(readFileSync(file), [parseX25519Secret(c.secret, 'c')!]));
});

test('each encryption is fresh (new file key, ephemeral share and nonce): two encryptions of one value differ', () => {
  const point = Buffer.alloc(32, 9);
  assert.notDeepEqual(encryptAge(Buffer.from('same'), [point]), encryptAge(Buffer.from('same'), [point]));
  assert.throws(() => encryptAge(Buffer.from('x'), []), /at least one recipient/);
});

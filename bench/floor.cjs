// The floor of the start-up table: the least any Node program must do for the same job, timed
// beside materialize, so a ratio to `node -e 0` can be read against what Node itself allows.
// `apply CONFIG`: load node:crypto, read the config, the age key and every file; open each file
// for real (X25519, HKDF, ChaCha20-Poly1305, header MAC, STREAM payload); write the values into a
// new directory and make it live with one rename. `check CONFIG`: read the config, derive the key's
// recipient, read every file's header. Nothing else: no validation beyond what decrypting needs,
// no lock, owners, manifest, report or error handling. CommonJS, one file: Node's cheapest load.
'use strict';
const { closeSync, mkdirSync, openSync, readFileSync, readSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } = require('node:crypto');

const [command, configFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const files = Object.entries(config.secrets).map(([name, s]) => [name, s.sources[0].age.file]);

// AGE-SECRET-KEY-1… is bech32: 5-bit groups after the last '1', less the 6-character checksum.
function bech32Bytes(text) {
  const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
  let acc = 0;
  let bits = 0;
  const out = [];
  for (const c of text.slice(text.lastIndexOf('1') + 1, -6).toLowerCase()) {
    acc = (acc << 5) | CHARSET.indexOf(c);
    bits += 5;
    if (bits >= 8) out.push((acc >> (bits -= 8)) & 0xff);
  }
  return Buffer.from(out);
}
const secretKey = readFileSync(config.keys.ageKeyFiles[0], 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'));
const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), bech32Bytes(secretKey)]), format: 'der', type: 'pkcs8' });
const recipient = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x, 'base64url');

const hkdf = (ikm, salt, info) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
function open(key, nonce, sealed) {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

/** The plaintext of an X25519 age file with one recipient (the bench's files). */
function decrypt(file) {
  const macLine = file.indexOf('\n---');
  const lines = file.subarray(0, macLine).toString('latin1').split('\n');
  const end = file.indexOf(10, macLine + 1);
  const share = Buffer.from(lines[1].split(' ')[2], 'base64');
  const shared = diffieHellman({ privateKey, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: share.toString('base64url') }, format: 'jwk' }) });
  const fileKey = open(hkdf(shared, Buffer.concat([share, recipient]), 'age-encryption.org/v1/X25519'), Buffer.alloc(12), Buffer.from(lines[2], 'base64'));
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header')).update(file.subarray(0, macLine + 4)).digest();
  if (!mac.equals(Buffer.from(file.subarray(macLine + 5, end).toString('latin1'), 'base64'))) throw new Error('header MAC');
  const payload = file.subarray(end + 1);
  const key = hkdf(fileKey, payload.subarray(0, 16), 'payload');
  const chunks = [];
  for (let at = 16, i = 0; at < payload.length; at += 65536 + 16, i++) {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(i, 7);
    if (at + 65536 + 16 >= payload.length) nonce[11] = 1;
    chunks.push(open(key, nonce, payload.subarray(at, at + 65536 + 16)));
  }
  return Buffer.concat(chunks);
}

if (command === 'check') {
  for (const [, file] of files) {
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(256);
    readSync(fd, head, 0, 256, 0);
    closeSync(fd);
    if (!head.toString('latin1').startsWith('age-encryption.org/v1\n-> X25519 ')) throw new Error(`${file}: not an age file`);
  }
  if (recipient.length !== 32) throw new Error('bad key');
} else {
  const root = `${config.mountPoint}-floor`;
  const generation = join(root, String(process.pid));
  for (const [name, file] of files) {
    const path = join(generation, name);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'wx', 0o400);
    writeSync(fd, decrypt(readFileSync(file)));
    closeSync(fd);
  }
  const link = join(root, 'live');
  let previous;
  try {
    previous = readlinkSync(link);
  } catch {
    previous = undefined; // the first run
  }
  symlinkSync(generation, `${link}.new`);
  renameSync(`${link}.new`, link);
  if (previous) rmSync(previous, { recursive: true, force: true });
}

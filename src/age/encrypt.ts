// age v1 encryption to X25519 recipients, on node:crypto: what the sealed store of last-known-good
// values needs (the host encrypts to its own keys, as a sops file encrypted to the host would be).
// Spec: https://age-encryption.org/v1 (C2SP age). The real `age` CLI is the test oracle: every file
// written here must open with `age -d` and with our own decryption.
import { createCipheriv, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { hkdf, hmacSha256, x25519, x25519PublicBytes, x25519PublicKey } from './primitives.js';

const VERSION_LINE = 'age-encryption.org/v1';
const X25519_LABEL = 'age-encryption.org/v1/X25519';
const CHUNK = 64 * 1024;

/** ChaCha20-Poly1305 seal (ciphertext followed by its 16-byte tag). */
function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Unpadded standard base64, as age writes it. */
function b64(data: Uint8Array): string {
  return Buffer.from(data).toString('base64').replace(/=+$/, '');
}

/** A stanza body wrapped at 64 columns; a body whose last line is full gets an empty line after it. */
function wrapBody(body: Uint8Array): string {
  const text = b64(body);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 64) lines.push(text.slice(i, i + 64));
  if (text.length % 64 === 0) lines.push('');
  return lines.join('\n');
}

/** The X25519 stanza wrapping `fileKey` to the recipient's public point `recipient` (32 bytes). */
function x25519Stanza(fileKey: Buffer, recipient: Uint8Array): string {
  const { privateKey }: { privateKey: KeyObject } = generateKeyPairSync('x25519');
  const share = x25519PublicBytes(privateKey);
  const shared = x25519(privateKey, x25519PublicKey(recipient));
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient]), X25519_LABEL);
  shared.fill(0);
  const body = seal(wrapKey, Buffer.alloc(12), fileKey);
  wrapKey.fill(0);
  return `-> X25519 ${b64(share)}\n${wrapBody(body)}\n`;
}

/** The STREAM payload: a 16-byte nonce, then 64 KiB chunks, the last flagged (an empty plaintext is one empty chunk). */
function payload(fileKey: Buffer, plaintext: Uint8Array): Buffer {
  const nonce = randomBytes(16);
  const key = hkdf(fileKey, nonce, 'payload');
  const parts: Buffer[] = [nonce];
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < count; i++) {
    const chunkNonce = Buffer.alloc(12);
    chunkNonce.writeUIntBE(i, 5, 6);
    if (i === count - 1) chunkNonce[11] = 1;
    parts.push(seal(key, chunkNonce, plaintext.subarray(i * CHUNK, (i + 1) * CHUNK)));
  }
  key.fill(0);
  return Buffer.concat(parts);
}

/** Encrypts `plaintext` to every X25519 recipient (32-byte public points); a binary age v1 file. */
export function encryptAge(plaintext: Uint8Array, recipients: readonly Uint8Array[]): Buffer {
  if (recipients.length === 0) throw new Error('age encryption needs at least one recipient');
  const fileKey = randomBytes(16);
  try {
    const header = `${VERSION_LINE}\n${recipients.map((r) => x25519Stanza(fileKey, r)).join('')}---`;
    const mac = hmacSha256(hkdf(fileKey, Buffer.alloc(0), 'header'), Buffer.from(header, 'latin1'));
    return Buffer.concat([Buffer.from(`${header} ${b64(mac)}\n`, 'latin1'), payload(fileKey, plaintext)]);
  } finally {
    fileKey.fill(0);
  }
}

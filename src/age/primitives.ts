// The few primitives age needs, on node:crypto (OpenSSL): X25519, HKDF-SHA256, HMAC and
// ChaCha20-Poly1305. Native code is what makes 1,000 files decrypt in milliseconds, where a
// pure-JS X25519 costs ~1.5 ms per file.
import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 private scalar as a KeyObject (OpenSSL clamps it). */
export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
  if (scalar.length !== 32) throw new Error('X25519 scalar must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8' });
}

export function x25519PublicKey(point: Uint8Array): KeyObject {
  if (point.length !== 32) throw new Error('X25519 point must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: 'der', type: 'spki' });
}

/** The public point (scalar · basepoint) of a private key. */
export function x25519PublicBytes(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
}

/** X25519(scalar, point). Throws when the result is all zeros (a low-order point), as age requires. */
export function x25519(privateKey: KeyObject, point: Uint8Array): Buffer {
  const shared = diffieHellman({ privateKey, publicKey: x25519PublicKey(point) });
  if (shared.every((b) => b === 0)) throw new Error('X25519 produced the all-zero value');
  return shared;
}

export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** ChaCha20-Poly1305 open; returns undefined when authentication fails (wrong key or tampering). */
export function chachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < 16) return undefined;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = decipher.update(sealed.subarray(0, sealed.length - 16));
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    out.fill(0);
    return undefined;
  }
}

/** ChaCha20-Poly1305 seal; only tests and the demo need to encrypt. */
export function chachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export const ZERO_NONCE = Buffer.alloc(12);

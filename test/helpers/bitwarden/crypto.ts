// The test server's side of Bitwarden's cryptography, written from Bitwarden's published design
// (and independently of src/providers/bitwarden): master keys from PBKDF2-SHA256 or Argon2id, the
// HKDF-stretched key that wraps the user key, EncString type 2 and the attachment buffers. What the
// real `bw` CLI and `@bitwarden/sdk-napi` accept from this server is what proves it right.
import { createCipheriv, createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { argon2id } from '@noble/hashes/argon2.js';

export type Kdf = { type: 0; iterations: number } | { type: 1; iterations: number; memory: number; parallelism: number };

/** Bytes from a seeded source (keys and IVs are test data: a run is reproducible). */
export type Bytes = (n: number) => Buffer;

/** The master key: PBKDF2-SHA256(password, salt = email) or Argon2id(password, salt = SHA-256(email)). */
export function masterKey(password: string, email: string, kdf: Kdf): Buffer {
  const salt = email.trim().toLowerCase();
  if (kdf.type === 0) return pbkdf2Sync(password, salt, kdf.iterations, 32, 'sha256');
  const saltHash = createHash('sha256').update(salt).digest();
  return Buffer.from(argon2id(password, saltHash, { t: kdf.iterations, m: kdf.memory * 1024, p: kdf.parallelism, dkLen: 32 }));
}

/** What the client sends to log in with a password: PBKDF2-SHA256(masterKey, password, 1 iteration), base64. */
export function masterPasswordHash(key: Buffer, password: string): string {
  return pbkdf2Sync(key, password, 1, 32, 'sha256').toString('base64');
}

// HKDF-Expand (RFC 5869), one block per 32 bytes.
function expand(prk: Buffer, info: string, length: number): Buffer {
  let t = Buffer.alloc(0);
  const out: Buffer[] = [];
  for (let i = 1; Buffer.concat(out).length < length; i++) out.push((t = createHmac('sha256', prk).update(Buffer.concat([t, Buffer.from(info), Buffer.of(i)])).digest()));
  return Buffer.concat(out).subarray(0, length);
}

/** The 64-byte key that wraps the user key: HKDF-Expand(masterKey, "enc") ‖ HKDF-Expand(masterKey, "mac"). */
export function stretch(key: Buffer): Buffer {
  return Buffer.concat([expand(key, 'enc', 32), expand(key, 'mac', 32)]);
}

/** An access token's key: HKDF-Expand(HMAC-SHA256("bitwarden-accesstoken", seed), "sm-access-token", 64). */
export function accessTokenKey(seed: Buffer): Buffer {
  return expand(createHmac('sha256', 'bitwarden-accesstoken').update(seed).digest(), 'sm-access-token', 64);
}

function seal(plain: Buffer, key: Buffer, bytes: Bytes): { iv: Buffer; ct: Buffer; mac: Buffer } {
  const iv = bytes(16);
  const cipher = createCipheriv('aes-256-cbc', key.subarray(0, 32), iv);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  const mac = createHmac('sha256', key.subarray(32, 64)).update(iv).update(ct).digest();
  return { iv, ct, mac };
}

/** EncString type 2: `2.<iv>|<ciphertext>|<mac>`, AES-256-CBC then HMAC-SHA256 over IV‖ciphertext. */
export function encString(plain: string | Buffer, key: Buffer, bytes: Bytes): string {
  const { iv, ct, mac } = seal(Buffer.isBuffer(plain) ? plain : Buffer.from(plain, 'utf8'), key, bytes);
  return `2.${iv.toString('base64')}|${ct.toString('base64')}|${mac.toString('base64')}`;
}

/** An encrypted attachment file (EncArrayBuffer): type byte 2, IV, MAC, ciphertext. */
export function encArrayBuffer(plain: Buffer, key: Buffer, bytes: Bytes): Buffer {
  const { iv, ct, mac } = seal(plain, key, bytes);
  return Buffer.concat([Buffer.of(2), iv, mac, ct]);
}

/** An unsigned JWT (the clients read its claims; only the server would check a signature). */
export function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('test-server-unsigned').toString('base64url')}`;
}

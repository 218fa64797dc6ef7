// Bitwarden's symmetric cryptography, on node:crypto: EncString type 2 (AES-256-CBC with an
// HMAC-SHA256 over IV and ciphertext, encrypt-then-MAC), the 64-byte keys it uses (32 to encrypt,
// 32 to authenticate), and the key a Secrets Manager access token derives (HKDF-SHA256).
// The MAC is always checked, in constant time, before anything is decrypted.
import { createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { untraced } from '../../untraced.js';

/** A 64-byte Bitwarden symmetric key, split into its two halves. */
export interface SymmetricKey {
  encKey: Buffer;
  macKey: Buffer;
}

/** Why an EncString could not be opened: malformed text, a wrong key or tampering (bad MAC), bad padding. */
export class EncStringError extends Error {
  override name = 'EncStringError';
}

/** Splits a 64-byte key into its encryption and MAC halves. */
export function symmetricKey(bytes: Buffer): SymmetricKey {
  if (bytes.length !== 64) throw new EncStringError(`a key must be 64 bytes, got ${bytes.length}`);
  return { encKey: bytes.subarray(0, 32), macKey: bytes.subarray(32, 64) };
}

// Strict base64: Bitwarden writes standard padded base64; anything else is damage, not a format.
function b64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new EncStringError(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

/** The parts of an EncString type 2 (`2.<iv>|<ciphertext>|<mac>`). */
export interface EncString {
  iv: Buffer;
  data: Buffer;
  mac: Buffer;
}

/** Parses `2.iv|ct|mac`; other types (0 without MAC, RSA 3–6) are refused: none belongs where we read. */
export function parseEncString(text: string): EncString {
  const dot = text.indexOf('.');
  if (dot < 0) throw new EncStringError('not an EncString (no type)');
  const type = text.slice(0, dot);
  if (type !== '2') throw new EncStringError(`EncString type ${/^\d{1,2}$/.test(type) ? type : '?'} is not supported (expected 2: AES-256-CBC with HMAC-SHA256)`);
  const parts = text.slice(dot + 1).split('|');
  if (parts.length !== 3) throw new EncStringError('an EncString of type 2 has three parts');
  const [iv, data, mac] = [b64(parts[0]!, 'its IV'), b64(parts[1]!, 'its ciphertext'), b64(parts[2]!, 'its MAC')];
  if (iv.length !== 16) throw new EncStringError('its IV is not 16 bytes');
  if (mac.length !== 32) throw new EncStringError('its MAC is not 32 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw new EncStringError('its ciphertext is not a whole number of AES blocks');
  return { iv, data, mac };
}

/** Verifies the MAC over IV‖ciphertext, then decrypts (AES-256-CBC, PKCS#7). */
export function decryptEncString(text: string, key: SymmetricKey): Buffer {
  const enc = parseEncString(text);
  const mac = untraced(() => createHmac('sha256', key.macKey).update(enc.iv).update(enc.data).digest());
  if (!timingSafeEqual(mac, enc.mac)) throw new EncStringError('its MAC does not match (wrong key, or the data was altered)');
  try {
    const decipher = untraced(() => createDecipheriv('aes-256-cbc', key.encKey, enc.iv));
    return Buffer.concat([decipher.update(enc.data), decipher.final()]);
  } catch {
    throw new EncStringError('its padding is invalid');
  }
}

/**
 * Bitwarden's "shareable key": PRK = HMAC-SHA256(key = "bitwarden-<name>", data = a 16-byte seed),
 * then HKDF-Expand-SHA256(PRK, info, 64). That HMAC is HKDF-Extract (RFC 5869 §2.2) with the salt
 * "bitwarden-<name>", so the whole is HKDF-SHA256(seed, salt, info, 64): node's hkdfSync.
 * Access tokens use name "accesstoken", info "sm-access-token".
 */
export function deriveShareableKey(seed: Buffer, name: string, info?: string): SymmetricKey {
  return symmetricKey(Buffer.from(untraced(() => hkdfSync('sha256', seed, `bitwarden-${name}`, info ?? '', 64))));
}

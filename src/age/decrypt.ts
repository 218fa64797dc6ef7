// Decrypting an age file (binary or armored) with a set of identities: header, MAC, STREAM payload.
import { dearmor, isArmored } from './armor.js';
import { AgeFormatError, parseHeader, type AgeHeader } from './format.js';
import type { AgeIdentity } from './identity.js';
import { chachaOpen, constantTimeEqual, hkdf, hmacSha256 } from './primitives.js';

export type AgeErrorKind = 'no-identity' | 'corrupt' | 'unsupported';

/** Why a file could not be opened; the message names stanza types and reasons, never contents. */
export class AgeDecryptError extends Error {
  override name = 'AgeDecryptError';
  constructor(
    readonly kind: AgeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const CHUNK = 64 * 1024;

/** Opens the header with the first identity that matches; returns the file key. */
export async function unwrapFileKey(header: AgeHeader, identities: readonly AgeIdentity[]): Promise<Buffer> {
  const types = [...new Set(header.stanzas.map((s) => s.args[0]))];
  if (types.includes('scrypt')) {
    throw new AgeDecryptError('unsupported', 'the file is passphrase-encrypted (scrypt); use a recipient key instead');
  }
  for (const identity of identities) {
    if (!header.stanzas.some((s) => identity.stanzaTypes.includes(s.args[0]!))) continue;
    let fileKey: Buffer | null;
    try {
      fileKey = await identity.unwrap(header);
    } catch (error) {
      throw new AgeDecryptError('corrupt', `malformed recipient stanza (${(error as Error).message})`);
    }
    if (!fileKey) continue;
    if (fileKey.length !== 16) throw new AgeDecryptError('corrupt', 'the file key has the wrong length');
    const macKey = hkdf(fileKey, Buffer.alloc(0), 'header');
    if (!constantTimeEqual(hmacSha256(macKey, header.headerNoMac), header.mac)) {
      throw new AgeDecryptError('corrupt', 'the header MAC does not match (file modified or damaged)');
    }
    return fileKey;
  }
  const tried = identities.length === 0 ? 'no identities are configured' : `none of ${identities.length} identit${identities.length === 1 ? 'y' : 'ies'} matched`;
  throw new AgeDecryptError('no-identity', `no identity can open it: ${tried} (file is for: ${types.join(', ') || 'no recipients'})`);
}

/** Decrypts the STREAM payload (16-byte nonce, then 64 KiB ChaCha20-Poly1305 chunks). */
export function decryptPayload(fileKey: Buffer, payload: Buffer): Buffer {
  if (payload.length < 16 + 16) throw new AgeDecryptError('corrupt', 'the payload is truncated');
  const key = hkdf(fileKey, payload.subarray(0, 16), 'payload');
  const body = payload.subarray(16);
  const parts: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  for (let offset = 0, counter = 0; ; offset += CHUNK + 16, counter++) {
    const end = Math.min(offset + CHUNK + 16, body.length);
    const last = end === body.length;
    const chunk = body.subarray(offset, end);
    if (chunk.length < 16) throw new AgeDecryptError('corrupt', 'the payload is truncated');
    nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
    nonce.writeUInt32BE(counter >>> 0, 7);
    nonce[11] = last ? 1 : 0;
    const plain = chachaOpen(key, nonce, chunk);
    if (!plain) {
      for (const p of parts) p.fill(0);
      throw new AgeDecryptError('corrupt', 'the payload failed authentication (file modified or damaged)');
    }
    if (last && plain.length === 0 && counter > 0) throw new AgeDecryptError('corrupt', 'the payload ends with an empty chunk');
    parts.push(plain);
    if (last) break;
  }
  if (parts.length === 1) return parts[0]!;
  const out = Buffer.concat(parts);
  for (const p of parts) p.fill(0);
  return out;
}

/** Decrypts a whole age file (binary, or armored text) held in memory. */
export async function decryptAge(file: Uint8Array, identities: readonly AgeIdentity[]): Promise<Buffer> {
  let binary: Buffer;
  let header: AgeHeader;
  try {
    binary = isArmored(file) ? dearmor(file) : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    header = parseHeader(binary);
  } catch (error) {
    const reason = error instanceof AgeFormatError || (error as Error).message.startsWith('armor') ? (error as Error).message : 'malformed';
    throw new AgeDecryptError('corrupt', `not a valid age file: ${reason}`);
  }
  const fileKey = await unwrapFileKey(header, identities);
  try {
    return decryptPayload(fileKey, binary.subarray(header.payloadOffset));
  } finally {
    fileKey.fill(0);
  }
}

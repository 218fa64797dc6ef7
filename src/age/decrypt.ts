// Decrypting an age file (binary or armored) with a set of identities: header, MAC, STREAM payload.
// Either the whole plaintext comes back, or an AgeDecryptError: never a part of it.
import { dearmor, isArmored } from './armor.js';
import { AgeFormatError, parseHeader, type AgeHeader } from './format.js';
import { StanzaError, type AgeIdentity } from './identity.js';
import { chachaOpen, constantTimeEqual, hkdf, hmacSha256 } from './primitives.js';

/** `no-identity`: no key opens it; `corrupt`: damaged or tampered; `unsupported`: a kind we refuse (scrypt). */
export type AgeErrorKind = 'no-identity' | 'corrupt' | 'unsupported';

/** Why a file could not be opened; the message names stanza types and reasons, never contents. */
export class AgeDecryptError extends Error {
  override name = 'AgeDecryptError';
  constructor(
    readonly kind: AgeErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CHUNK = 64 * 1024;
const TAG = 16;

/** "2 X25519, 1 ssh-ed25519": what a header holds, for messages (types are public). */
export function describeStanzas(header: AgeHeader): string {
  const counts = new Map<string, number>();
  for (const s of header.stanzas) counts.set(s.args[0]!, (counts.get(s.args[0]!) ?? 0) + 1);
  return [...counts].map(([type, n]) => `${n} ${type}`).join(', ') || 'no recipients';
}

/**
 * Decrypts many files with one set of identities. It remembers which identity opened the last
 * file and tries it first: the files of one host are made for the same keys, so in a batch every
 * file after the first costs one identity's work, not all of them. The result never depends on it.
 */
export class AgeDecrypter {
  readonly #identities: readonly AgeIdentity[];
  #last: AgeIdentity | undefined;
  constructor(identities: readonly AgeIdentity[]) {
    this.#identities = identities;
  }

  /** Decrypts a whole age file (binary, or armored text) held in memory. */
  async decrypt(file: Uint8Array): Promise<Buffer> {
    const { binary, header } = parseFile(file);
    const fileKey = await this.unwrapFileKey(header);
    try {
      return decryptPayload(fileKey, binary.subarray(header.payloadOffset));
    } finally {
      fileKey.fill(0);
    }
  }

  /** Opens the header with the first identity that matches and checks the header MAC; returns the file key. */
  async unwrapFileKey(header: AgeHeader): Promise<Buffer> {
    if (header.stanzas.some((s) => s.args[0] === 'scrypt')) {
      throw new AgeDecryptError('unsupported', 'the file is passphrase-encrypted (scrypt), which cannot be opened unattended; encrypt it to a recipient key instead');
    }
    for (const identity of this.#order()) {
      if (!header.stanzas.some((s) => identity.stanzaTypes.includes(s.args[0]!))) continue;
      let fileKey: Buffer | null;
      try {
        fileKey = await identity.unwrap(header);
      } catch (error) {
        const reason = error instanceof StanzaError ? error.message : `malformed recipient stanza: ${(error as Error).message}`;
        throw new AgeDecryptError('corrupt', reason, { cause: error });
      }
      if (!fileKey) continue;
      this.#last = identity;
      if (fileKey.length !== 16) {
        fileKey.fill(0);
        throw new AgeDecryptError('corrupt', 'the file key has the wrong length');
      }
      const macKey = hkdf(fileKey, Buffer.alloc(0), 'header');
      const ok = constantTimeEqual(hmacSha256(macKey, header.headerNoMac), header.mac);
      macKey.fill(0);
      if (!ok) {
        fileKey.fill(0);
        throw new AgeDecryptError('corrupt', 'the header MAC does not match (file modified or damaged)');
      }
      return fileKey;
    }
    throw new AgeDecryptError('no-identity', this.#noMatch(header));
  }

  /** The identities, the one that opened the previous file first. */
  #order(): readonly AgeIdentity[] {
    const last = this.#last;
    if (!last || this.#identities[0] === last) return this.#identities;
    return [last, ...this.#identities.filter((i) => i !== last)];
  }

  /** The message for a file no identity opens: what the file is for and what was tried, nothing secret. */
  #noMatch(header: AgeHeader): string {
    const forWhat = describeStanzas(header);
    if (this.#identities.length === 0) return `no usable key is configured (set keys.ageKeyFiles or keys.sshKeyPaths); the file is for ${forWhat}`;
    const ours = new Set(this.#identities.flatMap((i) => i.stanzaTypes));
    const n = this.#identities.length;
    const x25519 = ours.has('X25519') && header.stanzas.some((s) => s.args[0] === 'X25519');
    return (
      `no key here opens it: the file is for ${forWhat}; ${n} identit${n === 1 ? 'y' : 'ies'} (${[...ours].join(', ')}) tried` +
      (x25519 ? ' (X25519 stanzas carry no key id: a damaged stanza looks the same as one for another key)' : '')
    );
  }
}

/** Dearmors if needed and parses the header; anything malformed is a `corrupt` error. */
function parseFile(file: Uint8Array): { binary: Buffer; header: AgeHeader } {
  try {
    const binary = isArmored(file) ? dearmor(file) : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    return { binary, header: parseHeader(binary) };
  } catch (error) {
    const reason = error instanceof AgeFormatError || (error as Error).message.startsWith('armor') ? (error as Error).message : 'malformed';
    throw new AgeDecryptError('corrupt', `not a valid age file: ${reason}`, { cause: error });
  }
}

/** Opens the header with the first identity that matches; returns the file key. */
export function unwrapFileKey(header: AgeHeader, identities: readonly AgeIdentity[]): Promise<Buffer> {
  return new AgeDecrypter(identities).unwrapFileKey(header);
}

/**
 * Decrypts the STREAM payload (16-byte nonce, then 64 KiB ChaCha20-Poly1305 chunks, the last one
 * flagged). Every chunk is authenticated before anything is returned; on failure the chunks
 * already opened are wiped.
 */
export function decryptPayload(fileKey: Buffer, payload: Buffer): Buffer {
  if (payload.length < 16 + TAG) throw new AgeDecryptError('corrupt', 'the payload is truncated');
  const key = hkdf(fileKey, payload.subarray(0, 16), 'payload');
  const body = payload.subarray(16);
  const parts: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  try {
    for (let offset = 0, counter = 0; ; offset += CHUNK + TAG, counter++) {
      const end = Math.min(offset + CHUNK + TAG, body.length);
      const last = end === body.length;
      const chunk = body.subarray(offset, end);
      if (chunk.length < TAG) throw new AgeDecryptError('corrupt', 'the payload is truncated');
      nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
      nonce.writeUInt32BE(counter >>> 0, 7);
      nonce[11] = last ? 1 : 0;
      const plain = chachaOpen(key, nonce, chunk);
      if (!plain) throw new AgeDecryptError('corrupt', `the payload failed authentication at chunk ${counter + 1} (file modified, truncated or damaged)`);
      parts.push(plain);
      if (last && plain.length === 0 && counter > 0) throw new AgeDecryptError('corrupt', 'the payload ends with an empty chunk');
      if (last) break;
    }
  } catch (error) {
    for (const p of parts) p.fill(0);
    throw error;
  } finally {
    key.fill(0);
  }
  if (parts.length === 1) return parts[0]!;
  const out = Buffer.concat(parts);
  for (const p of parts) p.fill(0);
  return out;
}

/** Decrypts a whole age file (binary, or armored text) held in memory. */
export function decryptAge(file: Uint8Array, identities: readonly AgeIdentity[]): Promise<Buffer> {
  return new AgeDecrypter(identities).decrypt(file);
}

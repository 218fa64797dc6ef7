// Decrypting an age file (binary or armored) with a set of identities: header, MAC, STREAM payload.
// Either the whole plaintext comes back, or an AgeDecryptError: never a part of it.
import { ArmorError, dearmor, isArmored } from './armor.js';
import { AgeFormatError, parseHeader, type AgeHeader } from './format.js';
import { HeaderMacError, StanzaError, type AgeIdentity } from './identity.js';
import { chachaOpen, constantTimeEqual, hkdf, hmacSha256 } from './primitives.js';

/** `no-identity`: no key opens it; `corrupt`: damaged or tampered; `unsupported`: a kind we refuse (scrypt). */
export type AgeErrorKind = 'no-identity' | 'corrupt' | 'unsupported';

/**
 * Why a file could not be opened; the message names stanza types and reasons, never contents.
 * One subclass per failure class of the age spec's test suite (C2SP CCTV), so that callers and
 * tests tell them apart by class, never by the wording of a message.
 */
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

/** The ASCII armor is malformed (CCTV: armor failure). */
export class AgeArmorError extends AgeDecryptError {
  override name = 'AgeArmorError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('corrupt', message, options);
  }
}

/** The header does not parse, or a stanza of one of our types is malformed (CCTV: header failure). */
export class AgeHeaderError extends AgeDecryptError {
  override name = 'AgeHeaderError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('corrupt', message, options);
  }
}

/** A file key was unwrapped but the header MAC does not match it (CCTV: HMAC failure). */
export class AgeHmacError extends AgeDecryptError {
  override name = 'AgeHmacError';
  constructor(message = 'the header MAC does not match (file modified or damaged)', options?: { cause?: unknown }) {
    super('corrupt', message, options);
  }
}

/** The STREAM payload does not decrypt all the way to its end (CCTV: payload failure). */
export class AgePayloadError extends AgeDecryptError {
  override name = 'AgePayloadError';
  constructor(message: string) {
    super('corrupt', message);
  }
}

/** The header parses but no identity here opens any stanza (CCTV: no match). */
export class AgeNoMatchError extends AgeDecryptError {
  override name = 'AgeNoMatchError';
  constructor(message: string) {
    super('no-identity', message);
  }
}

/** A file we refuse by design: passphrase (scrypt) files, which no one can type at boot. */
export class AgeUnsupportedError extends AgeDecryptError {
  override name = 'AgeUnsupportedError';
  constructor(message: string) {
    super('unsupported', message);
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
    const { binary, header } = parseAgeFile(file);
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
      throw new AgeUnsupportedError('the file is passphrase-encrypted (scrypt), which cannot be opened unattended; encrypt it to a recipient key instead');
    }
    for (const identity of this.#order()) {
      if (!header.stanzas.some((s) => identity.stanzaTypes.includes(s.args[0]!))) continue;
      let fileKey: Buffer | null;
      try {
        fileKey = await identity.unwrap(header);
      } catch (error) {
        if (error instanceof HeaderMacError) throw new AgeHmacError(error.message, { cause: error });
        const reason = error instanceof StanzaError ? error.message : `malformed recipient stanza: ${(error as Error).message}`;
        throw new AgeHeaderError(reason, { cause: error });
      }
      if (!fileKey) continue;
      this.#last = identity;
      if (fileKey.length !== 16) {
        fileKey.fill(0);
        throw new AgeHeaderError('the file key has the wrong length');
      }
      const macKey = hkdf(fileKey, Buffer.alloc(0), 'header');
      const ok = constantTimeEqual(hmacSha256(macKey, header.headerNoMac), header.mac);
      macKey.fill(0);
      if (!ok) {
        fileKey.fill(0);
        throw new AgeHmacError();
      }
      return fileKey;
    }
    throw new AgeNoMatchError(this.#noMatch(header));
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

/** Dearmors if needed and parses the header: bad armor is an AgeArmorError, a bad header an AgeHeaderError. */
export function parseAgeFile(file: Uint8Array): { binary: Buffer; header: AgeHeader } {
  let binary: Buffer;
  try {
    binary = isArmored(file) ? dearmor(file) : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  } catch (error) {
    if (!(error instanceof ArmorError)) throw error;
    throw new AgeArmorError(`not a valid age file: armor: ${error.message}`, { cause: error });
  }
  try {
    return { binary, header: parseHeader(binary) };
  } catch (error) {
    if (!(error instanceof AgeFormatError)) throw error;
    throw new AgeHeaderError(`not a valid age file: ${error.message}`, { cause: error });
  }
}

/** Opens the header with the first identity that matches; returns the file key. */
export function unwrapFileKey(header: AgeHeader, identities: readonly AgeIdentity[]): Promise<Buffer> {
  return new AgeDecrypter(identities).unwrapFileKey(header);
}

/**
 * The STREAM payload (16-byte nonce, then 64 KiB ChaCha20-Poly1305 chunks, the last one flagged),
 * one authenticated chunk at a time, read as the reference implementation reads it: a full-size
 * chunk is opened as a middle chunk first, then as the final one; a short chunk must be final.
 * Throws AgePayloadError where the stream stops being valid. Only decryptPayload consumes it (and
 * releases nothing unless every chunk is valid); the conformance test reads it to check the
 * authenticated prefix a streaming decrypter would release.
 */
export function* payloadChunks(fileKey: Buffer, payload: Buffer): Generator<Buffer, void, undefined> {
  if (payload.length < 16) throw new AgeHeaderError('the file ends before the payload nonce');
  const key = hkdf(fileKey, payload.subarray(0, 16), 'payload');
  const body = payload.subarray(16);
  const nonce = Buffer.alloc(12);
  try {
    for (let offset = 0, counter = 0; ; offset += CHUNK + TAG, counter++) {
      const chunk = body.subarray(offset, offset + CHUNK + TAG);
      if (chunk.length === 0) throw new AgePayloadError(`the payload ends after chunk ${counter} without a final chunk (truncated)`);
      if (chunk.length < TAG) throw new AgePayloadError('the payload is truncated');
      nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
      nonce.writeUInt32BE(counter >>> 0, 7);
      let last = chunk.length < CHUNK + TAG;
      nonce[11] = last ? 1 : 0;
      let plain = chachaOpen(key, nonce, chunk);
      if (!plain && !last) {
        last = true;
        nonce[11] = 1;
        plain = chachaOpen(key, nonce, chunk);
      }
      if (!plain) throw new AgePayloadError(`the payload failed authentication at chunk ${counter + 1} (file modified, truncated or damaged)`);
      if (last && plain.length === 0 && counter > 0) throw new AgePayloadError('the payload ends with an empty chunk');
      yield plain;
      if (last) {
        if (offset + chunk.length < body.length) throw new AgePayloadError(`data after the final chunk (chunk ${counter + 1})`);
        return;
      }
    }
  } finally {
    key.fill(0);
  }
}

/** Decrypts the whole STREAM payload; every chunk is authenticated before anything is returned, and on failure the chunks already opened are wiped. */
function decryptPayload(fileKey: Buffer, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  try {
    for (const plain of payloadChunks(fileKey, payload)) parts.push(plain);
  } catch (error) {
    for (const p of parts) p.fill(0);
    throw error;
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

// Identities that open age files: the interface, native X25519 keys, and age key-file parsing.
import { bech32Decode, bech32Encode } from './bech32.js';
import { b64decode, type AgeHeader, type Stanza } from './format.js';
import { chachaOpen, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, x25519PublicKey, ZERO_NONCE } from './primitives.js';
import type { KeyObject } from 'node:crypto';

/** Anything that can open a stanza type: native keys here, SSH keys in ssh.ts, PQ keys in pq.ts. */
export interface AgeIdentity {
  /** Where the key came from, for messages ("age key file /var/lib/sops/age.key, line 2"). Never key material. */
  readonly origin: string;
  /** The public recipient string that encrypts to this identity (`age1…`, `ssh-ed25519 AAAA…`). */
  readonly recipient: string;
  /** The stanza types this identity can open. */
  readonly stanzaTypes: readonly string[];
  /**
   * The 16-byte file key when a stanza is for this identity, null when none is.
   * Throws only for a stanza of its type that is malformed.
   */
  unwrap(header: AgeHeader): Buffer | null | Promise<Buffer | null>;
}

/** A stanza of an identity's type that is malformed or fails where only tampering explains it. */
export class StanzaError extends Error {
  override name = 'StanzaError';
}

/** An identity that checks the header MAC itself (the post-quantum library) found it wrong. */
export class HeaderMacError extends Error {
  override name = 'HeaderMacError';
}

const X25519_LABEL = 'age-encryption.org/v1/X25519';

/** An ephemeral X25519 share from a stanza: its bytes (for the HKDF salt) and its imported key. */
export interface StanzaShare {
  readonly bytes: Buffer;
  readonly key: KeyObject;
}

/** Decoded and imported shares, per parsed stanza: several identities reuse one import. */
const shareCache = new WeakMap<Stanza, StanzaShare>();

/**
 * The ephemeral X25519 share in `stanza.args[index]`, decoded and imported once per stanza however
 * many identities try it. Throws StanzaError when it is not 32 bytes of canonical base64.
 */
export function stanzaShare(stanza: Stanza, index: number, type: string): StanzaShare {
  const cached = shareCache.get(stanza);
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = b64decode(stanza.args[index] ?? '');
  } catch {
    throw new StanzaError(`malformed ${type} stanza (bad share encoding)`);
  }
  if (bytes.length !== 32) throw new StanzaError(`malformed ${type} stanza (share is not 32 bytes)`);
  const share = { bytes, key: x25519PublicKey(bytes) };
  shareCache.set(stanza, share);
  return share;
}

/** A native `AGE-SECRET-KEY-1…` identity (also the form SSH ed25519 host keys are converted to). */
export class X25519Identity implements AgeIdentity {
  readonly stanzaTypes = ['X25519'];
  readonly recipient: string;
  readonly publicKey: Buffer;
  readonly #key: KeyObject;
  /** Index of the stanza that last opened: files of one deployment list their recipients in one order. */
  #hint = 0;
  constructor(
    scalar: Uint8Array,
    readonly origin: string,
  ) {
    this.#key = x25519PrivateKey(scalar);
    this.publicKey = x25519PublicBytes(this.#key);
    this.recipient = bech32Encode('age', this.publicKey);
  }

  /** The file key from the first X25519 stanza this key opens, or null. */
  unwrap(header: AgeHeader): Buffer | null {
    const stanzas = header.stanzas;
    // Try the stanza position that matched last time first; X25519 stanzas carry no key id, so
    // otherwise every one costs a Diffie-Hellman. Any order yields the same file key.
    const first = this.#hint < stanzas.length ? this.#hint : 0;
    for (let n = 0; n < stanzas.length; n++) {
      const i = n === 0 ? first : n <= first ? n - 1 : n;
      const fileKey = this.#open(stanzas[i]!);
      if (fileKey) {
        this.#hint = i;
        return fileKey;
      }
    }
    return null;
  }

  /** Opens one stanza if it is an X25519 stanza for this key. */
  #open(stanza: Stanza): Buffer | undefined {
    if (stanza.args[0] !== 'X25519') return undefined;
    if (stanza.args.length !== 2 || stanza.body.length !== 32) throw new StanzaError('malformed X25519 stanza');
    const share = stanzaShare(stanza, 1, 'X25519');
    const shared = x25519(this.#key, share.key);
    const wrapKey = hkdf(shared, Buffer.concat([share.bytes, this.publicKey]), X25519_LABEL);
    shared.fill(0);
    return chachaOpen(wrapKey, ZERO_NONCE, stanza.body);
  }
}

/** Parses one `AGE-SECRET-KEY-1…` string; returns undefined when it is not a valid X25519 key. */
export function parseX25519Secret(text: string, origin: string): X25519Identity | undefined {
  const decoded = bech32Decode(text);
  if (!decoded || decoded.prefix !== 'age-secret-key-' || decoded.data.length !== 32) return undefined;
  try {
    return new X25519Identity(decoded.data, origin);
  } finally {
    decoded.data.fill(0);
  }
}

export type KeyLine =
  | { kind: 'x25519'; line: number; text: string }
  | { kind: 'pq'; line: number; text: string }
  | { kind: 'plugin'; line: number }
  /** A public recipient (`age1…`, `ssh-ed25519 …`) where a secret key belongs: a common mix-up. */
  | { kind: 'public'; line: number }
  | { kind: 'invalid'; line: number };

/**
 * Splits an age identity file into key lines: empty lines and `#` comments are skipped, as age and
 * sops do. Returns kinds and line numbers so warnings can point at a line without showing it.
 */
export function parseKeyFile(text: string): KeyLine[] {
  const out: KeyLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('AGE-SECRET-KEY-PQ-1')) out.push({ kind: 'pq', line: i + 1, text: line });
    else if (line.startsWith('AGE-SECRET-KEY-1')) out.push({ kind: 'x25519', line: i + 1, text: line });
    else if (line.startsWith('AGE-PLUGIN-')) out.push({ kind: 'plugin', line: i + 1 });
    else if (/^(age1|ssh-ed25519 |ssh-rsa )/.test(line)) out.push({ kind: 'public', line: i + 1 });
    else out.push({ kind: 'invalid', line: i + 1 });
  });
  return out;
}

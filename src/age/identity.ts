// Identities that open age files: the interface, native X25519 keys, and age key-file parsing.
import { bech32Decode, bech32Encode } from './bech32.js';
import { b64decode, type AgeHeader } from './format.js';
import { chachaOpen, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, ZERO_NONCE } from './primitives.js';
import type { KeyObject } from 'node:crypto';

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

export class StanzaError extends Error {
  override name = 'StanzaError';
}

const X25519_LABEL = 'age-encryption.org/v1/X25519';

/** A native `AGE-SECRET-KEY-1…` identity (also the form SSH ed25519 host keys are converted to). */
export class X25519Identity implements AgeIdentity {
  readonly stanzaTypes = ['X25519'];
  readonly recipient: string;
  readonly publicKey: Buffer;
  readonly #key: KeyObject;
  constructor(
    scalar: Uint8Array,
    readonly origin: string,
  ) {
    this.#key = x25519PrivateKey(scalar);
    this.publicKey = x25519PublicBytes(this.#key);
    this.recipient = bech32Encode('age', this.publicKey);
  }

  unwrap(header: AgeHeader): Buffer | null {
    for (const stanza of header.stanzas) {
      if (stanza.args[0] !== 'X25519') continue;
      if (stanza.args.length !== 2) throw new StanzaError('malformed X25519 stanza');
      const share = b64decode(stanza.args[1]!);
      if (share.length !== 32 || stanza.body.length !== 32) throw new StanzaError('malformed X25519 stanza');
      const shared = x25519(this.#key, share);
      const wrapKey = hkdf(shared, Buffer.concat([share, this.publicKey]), X25519_LABEL);
      const fileKey = chachaOpen(wrapKey, ZERO_NONCE, stanza.body);
      if (fileKey) return fileKey;
    }
    return null;
  }
}

/** Parses one `AGE-SECRET-KEY-1…` string; returns undefined when it is not a valid X25519 key. */
export function parseX25519Secret(text: string, origin: string): X25519Identity | undefined {
  const decoded = bech32Decode(text);
  if (!decoded || decoded.prefix !== 'age-secret-key-' || decoded.data.length !== 32) return undefined;
  return new X25519Identity(decoded.data, origin);
}

export type KeyLine =
  | { kind: 'x25519'; line: number; text: string }
  | { kind: 'pq'; line: number; text: string }
  | { kind: 'plugin'; line: number }
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
    else out.push({ kind: 'invalid', line: i + 1 });
  });
  return out;
}

// The sealed store of last-known-good values of network sources (1Password, Bitwarden): one age
// file on persistent disk, encrypted to the host's own keys (its SSH ed25519 host key converted to
// X25519, its age key files) — as safe at rest as a sops file encrypted to the host. When a network
// source fails for a temporary reason, or the boot run asks for cached values, the sealed value
// answers instead. Written whole (temp file, fsync, rename): a kill at any instant leaves the old
// seal or the new one. A seal whose MAC fails (tampered, truncated) is refused whole, never half-used.
import { readFileSync } from 'node:fs';
import { decryptAge } from '../age/decrypt.js';
import { encryptAge } from '../age/encrypt.js';
import type { AgeIdentity } from '../age/identity.js';
import { describeSystemError } from '../errors.js';
import { replaceFile } from './state.js';

export const SEAL_NAME = 'sealed.age';
const MAGIC = 'materialize-seal/1\n';

/** One sealed value: what it is (never the value in any message), and when the network gave it. */
export interface SealedValue {
  /** The provider (`onepassword`), and the source's value-free description (`op://Infra/db/password`). */
  provider: string;
  source: string;
  /** When the network last answered with this value (ISO time). */
  fetchedAt: string;
  value: Buffer;
}

/** What a run read from the seal: its values by source key, or why it could not be used. */
export interface SealContents {
  values: Map<string, SealedValue>;
  /** Set when a seal exists but was refused (tampered, truncated, no key opens it): every value then comes from the network. */
  problem?: string;
  /** Whether a seal file exists at all. */
  exists: boolean;
}

interface IndexEntry {
  key: string;
  provider: string;
  source: string;
  fetchedAt: string;
  size: number;
}

// Why a binary layout and not JSON with base64 values: values stay Buffers, sliced from the
// decrypted payload, never turned into strings.
/** The plaintext of a seal: magic, one JSON line of index (no values), then the values back to back. */
function serialize(values: ReadonlyMap<string, SealedValue>): Buffer {
  const index: IndexEntry[] = [];
  const parts: Buffer[] = [];
  for (const [key, v] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    index.push({ key, provider: v.provider, source: v.source, fetchedAt: v.fetchedAt, size: v.value.length });
    parts.push(v.value);
  }
  return Buffer.concat([Buffer.from(`${MAGIC}${JSON.stringify(index)}\n`, 'utf8'), ...parts]);
}

/** The inverse of serialize; throws on anything that is not exactly a seal (the MAC already passed). */
function deserialize(data: Buffer): Map<string, SealedValue> {
  if (!data.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC))) throw new Error('not a materialize seal');
  const end = data.indexOf(0x0a, MAGIC.length);
  if (end < 0) throw new Error('seal index is truncated');
  const index = JSON.parse(data.subarray(MAGIC.length, end).toString('utf8')) as IndexEntry[];
  const values = new Map<string, SealedValue>();
  let pos = end + 1;
  for (const e of index) {
    if (pos + e.size > data.length) throw new Error('seal values are truncated');
    values.set(e.key, { provider: e.provider, source: e.source, fetchedAt: e.fetchedAt, value: data.subarray(pos, pos + e.size) });
    pos += e.size;
  }
  if (pos !== data.length) throw new Error('seal has trailing bytes');
  return values;
}

/** Reads and opens the seal at `file` with the host's identities. Never throws: a problem is reported instead. */
export async function readSeal(file: string, identities: readonly AgeIdentity[]): Promise<SealContents> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { values: new Map(), exists: false };
    return { values: new Map(), exists: true, problem: `${file} cannot be read (${describeSystemError(error)}); sealed values are not used` };
  }
  try {
    return { values: deserialize(await decryptAge(data, identities)), exists: true };
  } catch (error) {
    return { values: new Map(), exists: true, problem: `${file} cannot be opened with this host's keys or is damaged (${(error as Error).message}); it is not used at all and will be replaced` };
  }
}

/** Writes the seal whole (see state.ts), encrypted to the host's X25519 public points. */
export function writeSeal(file: string, values: ReadonlyMap<string, SealedValue>, recipients: readonly Uint8Array[]): void {
  replaceFile(file, encryptAge(serialize(values), recipients));
}

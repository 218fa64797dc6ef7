// Loads the host's identities once per run (age key files, SSH host keys) for every provider that
// decrypts locally. A key that cannot be used is a warning naming the file (and line), never fatal
// on its own: only "no usable key for this file" fails, and it fails the secrets concerned.
import type { Logger } from '../log.js';
import type { KeySettings } from '../providers/provider.js';
import type { AgeIdentity } from '../age/identity.js';
import { KeyFileError, ageKeysFromText, loadAgeKeyFile, loadSshKeyFile, type KeyKind, type LoadedKey } from './files.js';

export interface KeyEntry {
  file: string;
  /** The line of an age key file the key is on (absent for SSH keys). */
  line?: number;
  kind: KeyKind;
  /** Public recipients only. */
  recipients: string[];
}

export interface KeyRing {
  identities: AgeIdentity[];
  entries: KeyEntry[];
  /** Why configured keys were skipped (also logged as warnings). */
  problems: string[];
}

/** Adds a file's keys to the ring; a key already present (same recipient) adds no second identity. */
function addKeys(ring: KeyRing, keys: LoadedKey[], seen: Set<string>): void {
  for (const key of keys) {
    ring.entries.push({ file: key.file, ...(key.line ? { line: key.line } : {}), kind: key.kind, recipients: key.identities.map((i) => i.recipient) });
    for (const identity of key.identities) {
      const id = `${identity.stanzaTypes.join(',')} ${identity.recipient}`;
      if (seen.has(id)) continue;
      seen.add(id);
      ring.identities.push(identity);
    }
  }
}

/** A run's identities, loaded once when first needed (a run that decrypts nothing loads no key). */
export function lazyKeyRing(keys: KeySettings, log: Logger, options: { ageLib?: unknown } = {}): () => Promise<KeyRing> {
  let ring: Promise<KeyRing> | undefined;
  return () => (ring ??= loadKeyRing(keys, log, options));
}

/** Every configured key, loaded; problems are logged as warnings and kept for reports. */
export async function loadKeyRing(keys: KeySettings, log: Logger, options: { ageLib?: unknown } = {}): Promise<KeyRing> {
  const ring: KeyRing = { identities: [], entries: [], problems: [] };
  const seen = new Set<string>();
  const load = async (file: string, loader: (file: string, problems: string[]) => LoadedKey[] | Promise<LoadedKey[]>) => {
    try {
      addKeys(ring, await loader(file, ring.problems), seen);
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      ring.problems.push(error.message);
    }
  };
  for (const file of keys.ageKeyFiles) await load(file, (f, p) => loadAgeKeyFile(f, p, options));
  for (const file of keys.sshKeyPaths) await load(file, loadSshKeyFile);
  for (const { name, text } of keys.ageKeyTexts ?? []) await load(name, (f, p) => ageKeysFromText(text, f, p, { ...options, what: 'environment variable' }));
  for (const problem of ring.problems) log.warn(problem);
  return ring;
}

// Loads the host's identities once per run (age key files, SSH host keys) for every provider that
// decrypts locally. A key that cannot be used is a warning naming the file (and line), never fatal
// on its own: only "no usable key for this file" fails, and it fails the secrets concerned.
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { KeySettings } from '../providers/provider.js';
import { parseKeyFile, parseX25519Secret, type AgeIdentity } from '../age/identity.js';
import { HybridIdentity } from '../age/pq.js';
import { parseSshPrivateKey, sshIdentities } from '../age/ssh.js';
import { describeSystemError } from '../errors.js';

export interface KeyEntry {
  file: string;
  kind: 'age' | 'age-pq' | 'ssh-ed25519' | 'ssh-rsa';
  /** Public recipients only. */
  recipients: string[];
}

export interface KeyRing {
  identities: AgeIdentity[];
  entries: KeyEntry[];
  /** Why configured keys were skipped (also logged as warnings). */
  problems: string[];
}

/** Reads a key file, warning when others can read it; returns undefined (and a problem) when it cannot. */
function readKeyFile(file: string, what: string, problems: string[]): string | undefined {
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      problems.push(`${what} ${file} is not a regular file`);
      return undefined;
    }
    if (st.mode & 0o004) problems.push(`${what} ${file} is readable by every user (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    return readFileSync(file, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${what} ${file} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read: ${describeSystemError(error)}`}`);
    return undefined;
  }
}

async function addSshKey(text: string, file: string, ring: KeyRing): Promise<void> {
  try {
    const key = parseSshPrivateKey(text);
    const ids = sshIdentities(key, `SSH key ${file}`);
    ring.identities.push(...ids);
    ring.entries.push({ file, kind: key.type, recipients: ids.map((i) => i.recipient) });
  } catch (error) {
    ring.problems.push(`SSH key ${file} cannot be used: ${(error as Error).message}`);
  }
}

export async function loadKeyRing(keys: KeySettings, log: Logger, options: { ageLib?: unknown } = {}): Promise<KeyRing> {
  const ring: KeyRing = { identities: [], entries: [], problems: [] };
  for (const file of keys.ageKeyFiles) {
    const text = readKeyFile(file, 'age key file', ring.problems);
    if (text === undefined) continue;
    if (text.trimStart().startsWith('-----BEGIN')) {
      // age accepts SSH private keys as identity files; so do we.
      await addSshKey(text, file, ring);
      continue;
    }
    const lines = parseKeyFile(text);
    if (lines.length === 0) ring.problems.push(`age key file ${file} holds no keys`);
    for (const line of lines) {
      const origin = `age key file ${file}, line ${line.line}`;
      if (line.kind === 'x25519') {
        const identity = parseX25519Secret(line.text, origin);
        if (identity) {
          ring.identities.push(identity);
          ring.entries.push({ file, kind: 'age', recipients: [identity.recipient] });
        } else ring.problems.push(`${origin}: not a valid AGE-SECRET-KEY-1 key (bad checksum or length)`);
      } else if (line.kind === 'pq') {
        try {
          const identity = await HybridIdentity.create(line.text, origin, options.ageLib);
          ring.identities.push(identity);
          ring.entries.push({ file, kind: 'age-pq', recipients: [identity.recipient] });
        } catch {
          ring.problems.push(`${origin}: not a valid AGE-SECRET-KEY-PQ-1 key`);
        }
      } else if (line.kind === 'plugin') {
        ring.problems.push(`${origin}: age plugin identities are not supported; skipped`);
      } else {
        ring.problems.push(`${origin}: not an age secret key; skipped`);
      }
    }
  }
  for (const file of keys.sshKeyPaths) {
    const text = readKeyFile(file, 'SSH key', ring.problems);
    if (text !== undefined) await addSshKey(text, file, ring);
  }
  for (const problem of ring.problems) log.warn(problem);
  return ring;
}

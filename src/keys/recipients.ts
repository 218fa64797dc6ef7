// The public side of this host's keys, for `materialize keys`: the age recipient of each SSH host
// key and age key file (what ssh-to-age and `age-keygen -y` print), so the host can be added to
// `.sops.yaml` or agenix's `secrets.nix`. Recipients come from the same identities that decrypt,
// so what is printed is exactly what opens files here. Nothing secret leaves this module.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseSshPublicLine, SshKeyError } from '../age/ssh.js';
import { ageKeysFromText, KeyFileError, loadAgeKeyFile, loadSshKeyFile, looksLikePemKey, readKeyFile, type KeyKind, type LoadedKey } from './files.js';

/** One key, public parts only. */
export interface RecipientEntry {
  /** Where it came from: a file, `FILE:LINE`, `stdin`, `SOPS_AGE_KEY:LINE`. */
  source: string;
  type: KeyKind;
  /** What to put in `.sops.yaml` / `secrets.nix`: `age1…` (ed25519 keys converted), `age1pq1…`, or `ssh-rsa AAAA…`. */
  recipient: string;
  /** For SSH keys, the `ssh-ed25519 AAAA…` line (agenix also accepts it as a recipient). */
  sshPublicKey?: string;
}

/** Where keys may be found; `optional` ones (the defaults) may be absent without a warning. */
export type KeySource =
  | { kind: 'age-key-file'; path: string; optional?: boolean }
  | { kind: 'ssh-private-key'; path: string }
  | { kind: 'ssh-public-key'; path: string; optional?: boolean }
  | { kind: 'ssh-public-text'; name: string; text: string }
  | { kind: 'age-key-text'; name: string; text: string };

export interface RecipientList {
  entries: RecipientEntry[];
  /** Keys or files that could not be used (name file and line, never key text). */
  problems: string[];
  /** Every place looked at, for the message when nothing was found. */
  looked: string[];
}

/** The places sops and sops-nix look when nothing is configured: the SSH host key and sops's own. */
export function defaultKeySources(env: NodeJS.ProcessEnv = process.env): KeySource[] {
  const sources: KeySource[] = [{ kind: 'ssh-public-key', path: '/etc/ssh/ssh_host_ed25519_key.pub', optional: true }];
  if (env.SOPS_AGE_KEY) sources.push({ kind: 'age-key-text', name: 'SOPS_AGE_KEY', text: env.SOPS_AGE_KEY });
  if (env.SOPS_AGE_KEY_FILE) sources.push({ kind: 'age-key-file', path: env.SOPS_AGE_KEY_FILE });
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  sources.push({ kind: 'age-key-file', path: join(config, 'sops/age/keys.txt'), optional: true });
  return sources;
}

/** A loaded key as a public entry; `source` overrides the file name (e.g. for key text from the environment). */
function entryOf(key: LoadedKey, source?: string): RecipientEntry {
  const where = source ?? key.file;
  const at = key.line ? `${where}:${key.line}` : where;
  const [first, second] = key.identities;
  if (key.kind === 'ssh-ed25519') return { source: at, type: key.kind, recipient: second!.recipient, sshPublicKey: first!.recipient };
  if (key.kind === 'ssh-rsa') return { source: at, type: key.kind, recipient: first!.recipient, sshPublicKey: first!.recipient };
  return { source: at, type: key.kind, recipient: first!.recipient };
}

/** Public key lines (one or several, `#` comments allowed) as entries; private keys are refused unread. */
function publicEntries(text: string, source: string, problems: string[]): RecipientEntry[] {
  if (looksLikePemKey(text)) {
    problems.push(`${source} holds a private key; pass its public key (the .pub file) instead`);
    return [];
  }
  const lines = text.split(/\r?\n/).map((l, i) => ({ text: l.trim(), line: i + 1 })).filter((l) => l.text !== '' && !l.text.startsWith('#'));
  if (lines.length === 0) problems.push(`${source} holds no public key`);
  const entries: RecipientEntry[] = [];
  for (const l of lines) {
    const at = lines.length > 1 ? `${source}:${l.line}` : source;
    try {
      const key = parseSshPublicLine(l.text);
      entries.push({ source: at, type: key.type, recipient: key.ageRecipient ?? key.line, sshPublicKey: key.line });
    } catch (error) {
      if (!(error instanceof SshKeyError)) throw error;
      problems.push(`${at}: ${error.message}`);
    }
  }
  return entries;
}

/** An SSH host key's entries: from the private key when readable, else from the `.pub` beside it. */
function sshKeyEntries(path: string, problems: string[]): RecipientEntry[] {
  try {
    return loadSshKeyFile(path, problems).map((k) => entryOf(k));
  } catch (error) {
    if (!(error instanceof KeyFileError)) throw error;
    // Not root: the private host key is unreadable, but its public half says the same.
    try {
      return publicEntries(readKeyFile(`${path}.pub`, 'SSH public key').text, `${path}.pub`, problems);
    } catch {
      problems.push(error.message);
      return [];
    }
  }
}

/** Collects the public recipients of every source; problems are returned, not thrown. */
export async function listRecipients(sources: readonly KeySource[], options: { ageLib?: unknown } = {}): Promise<RecipientList> {
  const list: RecipientList = { entries: [], problems: [], looked: [] };
  for (const source of sources) {
    list.looked.push('path' in source ? source.path : source.name);
    try {
      if (source.kind === 'age-key-file') list.entries.push(...(await loadAgeKeyFile(source.path, list.problems, options)).map((k) => entryOf(k)));
      else if (source.kind === 'ssh-private-key') list.entries.push(...sshKeyEntries(source.path, list.problems));
      else if (source.kind === 'ssh-public-key') list.entries.push(...publicEntries(readKeyFile(source.path, 'SSH public key').text, source.path, list.problems));
      else if (source.kind === 'ssh-public-text') list.entries.push(...publicEntries(source.text, source.name, list.problems));
      else {
        const keys = await ageKeysFromText(source.text, source.name, list.problems, { ...options, what: 'environment variable' });
        list.entries.push(...keys.map((k) => entryOf(k, source.name)));
      }
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      if (!(error.code === 'missing' && 'optional' in source && source.optional)) list.problems.push(error.message);
    }
  }
  return list;
}

// Reading key files into parsed keys, shared by the run's key ring and `materialize keys`. Every
// problem becomes a message naming the file (and line), never the key text: a bad line is skipped,
// a bad file is skipped, and the caller decides whether what is left is enough.
import { readFileSync, statSync } from 'node:fs';
import { parseKeyFile, parseX25519Secret, type AgeIdentity } from '../age/identity.js';
import { AgeLibraryError, HybridIdentity } from '../age/pq.js';
import { parseSshPrivateKey, sshIdentities, type SshPrivateKey } from '../age/ssh.js';
import { describeSystemError } from '../errors.js';

export type KeyKind = 'age' | 'age-pq' | 'ssh-ed25519' | 'ssh-rsa';

/** One usable key found in a file: its identities (one, or two for an ed25519 SSH key). */
export interface LoadedKey {
  file: string;
  /** 1-based line in an age key file; absent for SSH key files. */
  line?: number;
  kind: KeyKind;
  identities: AgeIdentity[];
}

/** Why a key file cannot be read at all; `missing` lets callers treat absent defaults as normal. */
export class KeyFileError extends Error {
  override name = 'KeyFileError';
  constructor(
    readonly file: string,
    readonly code: 'missing' | 'unreadable' | 'not-a-file',
    message: string,
  ) {
    super(message);
  }
}

/** A key file's text, and its mode when every user can read it. */
export interface KeyFileText {
  text: string;
  /** The permission bits when others may read the file, else undefined. */
  openMode?: number;
}

/** Reads a key file as text. Throws KeyFileError when it cannot. */
export function readKeyFile(file: string, what: string): KeyFileText {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new KeyFileError(file, 'not-a-file', `${what} ${file} is not a regular file`);
    const text = readFileSync(file, 'latin1');
    return st.mode & 0o004 ? { text, openMode: st.mode & 0o777 } : { text };
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyFileError(file, 'missing', `${what} ${file} does not exist`);
    if (code === 'EACCES') throw new KeyFileError(file, 'unreadable', `${what} ${file} is not readable (permission denied)`);
    throw new KeyFileError(file, 'unreadable', `${what} ${file} cannot be read: ${describeSystemError(error)}`);
  }
}

/** What to say of a file of secret keys every user can read (its permission bits): a key anyone can copy is no longer a secret. */
export function openKeyFileWarning(file: string, what: string, openMode: number): string {
  return `${what} ${file} is readable by every user (mode ${openMode.toString(8).padStart(4, '0')}); chmod 600 it`;
}

/** Reports a file of secret keys every user can read. */
function warnIfOpen(read: KeyFileText, file: string, what: string, problems: string[]): void {
  if (read.openMode !== undefined) problems.push(openKeyFileWarning(file, what, read.openMode));
}

/** True when the text is one public key line (`ssh-ed25519 AAAA…`), which is no secret. */
function isPublicKeyText(text: string): boolean {
  return /^(ssh-ed25519|ssh-rsa) AAAA\S*( .*)?$/.test(text.trim());
}

/** True when the text is an SSH private key rather than an age identity file (age accepts both). */
export function looksLikePemKey(text: string): boolean {
  return text.trimStart().startsWith('-----BEGIN');
}

/** The identities of an SSH private key's text; problems name the file, never the key. */
export function sshKeyFromText(text: string, file: string, what: string, problems: string[]): LoadedKey | undefined {
  let key: SshPrivateKey;
  try {
    key = parseSshPrivateKey(text);
  } catch (error) {
    // A `.pub` file where the private key belongs is the usual slip: say so.
    const hint = isPublicKeyText(text) ? 'it holds a public key; point at the private key (the file without .pub)' : (error as Error).message;
    problems.push(`${what} ${file} cannot be used: ${hint}`);
    return undefined;
  }
  return { file, kind: key.type, identities: sshIdentities(key, `${what} ${file}`) };
}

/**
 * Parses an age identity file's text (`AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…`, comments,
 * blank lines, CRLF). Post-quantum keys load the age-encryption library, and only they do.
 */
export async function ageKeysFromText(text: string, file: string, problems: string[], options: { ageLib?: unknown; what?: string } = {}): Promise<LoadedKey[]> {
  const what = options.what ?? 'age key file';
  const lines = parseKeyFile(text);
  if (lines.length === 0) problems.push(`${what} ${file} holds no keys`);
  const keys: LoadedKey[] = [];
  for (const line of lines) {
    const at = `${what} ${file}, line ${line.line}`;
    if (line.kind === 'x25519') {
      const identity = parseX25519Secret(line.text, at);
      if (identity) keys.push({ file, line: line.line, kind: 'age', identities: [identity] });
      else problems.push(`${at}: not a valid AGE-SECRET-KEY-1 key (bad checksum or length); skipped`);
    } else if (line.kind === 'pq') {
      try {
        const identity = await HybridIdentity.create(line.text, at, options.ageLib);
        keys.push({ file, line: line.line, kind: 'age-pq', identities: [identity] });
      } catch (error) {
        problems.push(error instanceof AgeLibraryError ? `${at}: post-quantum key skipped: ${error.message}` : `${at}: not a valid AGE-SECRET-KEY-PQ-1 key; skipped`);
      }
    } else if (line.kind === 'plugin') {
      problems.push(`${at}: age plugin identities (AGE-PLUGIN-…) are not supported; skipped`);
    } else if (line.kind === 'public') {
      problems.push(`${at}: a public recipient, not a secret key; skipped`);
    } else {
      problems.push(`${at}: not an age secret key; skipped`);
    }
  }
  return keys;
}

/** Loads an age identity file (or an SSH private key given as one, as age allows). */
export async function loadAgeKeyFile(file: string, problems: string[], options: { ageLib?: unknown } = {}): Promise<LoadedKey[]> {
  const read = readKeyFile(file, 'age key file');
  if (looksLikePemKey(read.text)) {
    warnIfOpen(read, file, 'age key file', problems);
    const key = sshKeyFromText(read.text, file, 'age key file', problems);
    return key ? [key] : [];
  }
  // A file of public recipients only is a mistake reported line by line, not a secret left open.
  if (!parseKeyFile(read.text).every((l) => l.kind === 'public')) warnIfOpen(read, file, 'age key file', problems);
  return ageKeysFromText(read.text, file, problems, options);
}

/** Loads an SSH private key (keys.sshKeyPaths). */
export function loadSshKeyFile(file: string, problems: string[]): LoadedKey[] {
  const read = readKeyFile(file, 'SSH key');
  if (!isPublicKeyText(read.text)) warnIfOpen(read, file, 'SSH key', problems);
  const key = sshKeyFromText(read.text, file, 'SSH key', problems);
  return key ? [key] : [];
}

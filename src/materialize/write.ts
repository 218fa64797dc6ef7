// Secure creation of generation files and directories. Files are created O_EXCL|O_NOFOLLOW (never
// through a planted symlink, never over an existing file) and get their owner and mode before the
// generation they belong to becomes visible.
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { WriteError, describeSystemError } from '../errors.js';

export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

export interface WriteOptions {
  /** chown only when running as root; an unprivileged run owns what it writes. */
  chown: boolean;
  /** fsync files (for mount "none" on a disk; ramfs and tmpfs have nothing to flush). */
  durable: boolean;
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW; // libuv adds O_CLOEXEC itself

export function writeSecretFile(path: string, data: Uint8Array, owner: Ownership, options: WriteOptions): void {
  let fd: number;
  try {
    fd = openSync(path, CREATE, 0o600);
  } catch (error) {
    throw new WriteError(`cannot create ${path}: ${describeSystemError(error)}`, path, { cause: error });
  }
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    if (options.chown) fchownSync(fd, owner.uid, owner.gid);
    fchmodSync(fd, owner.mode);
    if (options.durable) fsyncSync(fd);
  } catch (error) {
    throw new WriteError(`cannot write ${path}: ${describeSystemError(error)}`, path, { cause: error });
  } finally {
    closeSync(fd);
  }
}

/** Creates one directory (not its parents) with an explicit mode, since umask 077 would narrow it. */
export function makeDirectory(path: string, owner: Ownership, options: Pick<WriteOptions, 'chown'>): void {
  try {
    mkdirSync(path, { mode: 0o700 });
    if (options.chown) chownSync(path, owner.uid, owner.gid);
    chmodSync(path, owner.mode);
  } catch (error) {
    throw new WriteError(`cannot create directory ${path}: ${describeSystemError(error)}`, path, { cause: error });
  }
}

/** Flushes a directory's entries (after a rename on a real disk). */
export function syncDirectory(path: string): void {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Best effort: some file systems refuse fsync on directories.
  }
}

/**
 * `mkdir -p` that gives each directory it creates an explicit mode (umask 077 would make them 0700,
 * and a custom-path symlink inside a root-only directory is unreachable for its owner).
 * Existing directories are left as they are.
 */
export function ensureDirectory(path: string, mode = 0o755): void {
  let existing: ReturnType<typeof statSync> | undefined;
  try {
    existing = statSync(path);
  } catch {
    existing = undefined;
  }
  // Why: a path that exists as something else (a file) must never be treated as our directory.
  if (existing) {
    if (existing.isDirectory()) return;
    throw new WriteError(`${path} exists and is not a directory`, path);
  }
  const parent = dirname(path);
  if (parent !== path) ensureDirectory(parent, mode);
  try {
    mkdirSync(path, { mode: 0o700 });
    chmodSync(path, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) {
      throw new WriteError(`cannot create directory ${path}: ${describeSystemError(error)}`, path, { cause: error });
    }
  }
}

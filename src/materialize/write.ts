// Secure creation of generation files and directories. Files are created O_EXCL|O_NOFOLLOW (never
// through a planted symlink, never over an existing file) and get their owner and mode before the
// generation they belong to becomes visible.
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { PermissionError, WriteError, describeSystemError } from '../errors.js';

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

/** Why a failed chown or chmod is not an I/O error: exit 77 tells the operator it is about privileges. */
function failure(what: string, path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM' || code === 'EACCES') return new PermissionError(`cannot ${what} ${path}: ${describeSystemError(error)}`, { cause: error });
  return new WriteError(`cannot ${what} ${path}: ${describeSystemError(error)}`, path, { cause: error });
}

/**
 * Creates the file, writes it, then sets group, mode and, last, owner: the file is never its
 * owner's before its final mode is set (an owner handed a 0600 file could rewrite it before the
 * chmod), and never more open to anyone than it ends up.
 */
export function writeSecretFile(path: string, data: Uint8Array, owner: Ownership, options: WriteOptions): void {
  let fd: number;
  try {
    fd = openSync(path, CREATE, 0o600);
  } catch (error) {
    throw failure('create', path, error);
  }
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    setGroup(fd, owner, options);
    fchmodSync(fd, owner.mode);
    if (options.chown && owner.uid !== process.geteuid?.()) fchownSync(fd, owner.uid, -1);
    if (options.durable) fsyncSync(fd);
  } catch (error) {
    throw failure('write', path, error);
  } finally {
    closeSync(fd);
  }
}

// Why the group first, alone: while root still owns the file, the group may read what the final
// mode gives it (and no more); the owner gets the file only when nothing is left to set.
// Why the non-root branch: an unprivileged run cannot give a file away, but it may give it to one
// of its own groups, and the plan allowed exactly that.
function setGroup(fd: number, owner: Ownership, options: Pick<WriteOptions, 'chown'>): void {
  if (owner.gid < 0) return;
  if (options.chown || owner.gid !== process.getgid?.()) fchownSync(fd, -1, owner.gid);
}

/** Creates one directory (not its parents) with an explicit mode, since umask 077 would narrow it. */
export function makeDirectory(path: string, owner: Ownership, options: Pick<WriteOptions, 'chown'>): void {
  try {
    mkdirSync(path, { mode: 0o700 });
    if (options.chown) chownSync(path, owner.uid, owner.gid);
    chmodSync(path, owner.mode);
  } catch (error) {
    throw failure('create directory', path, error);
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
    chmodNoFollow(path, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) {
      throw new WriteError(`cannot create directory ${path}: ${describeSystemError(error)}`, path, { cause: error });
    }
  }
}

// Why through a descriptor: chmod(path) follows a symlink swapped in after mkdir (by whoever owns
// the parent), which would let them choose what root makes 0755; O_NOFOLLOW refuses the swap.
function chmodNoFollow(path: string, mode: number): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

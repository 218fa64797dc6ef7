// Custom paths. By default a `path` is a symlink to secretsDir/<name>, so it follows every switch;
// with `symlink: false` it is a real copy with the secret's owner and mode (agenix's
// `symlink = false`, for services that refuse symlinks), rewritten whenever its value, owner or
// mode changes. What stands in the way and is not ours is moved aside, never deleted (displace.ts).
// What is ours: a symlink into secretsDir, or a copy that still is, byte for byte and with the
// owner and mode we gave it, a value an earlier generation published at that path.
//
// As root, every step works on the descriptor of the directory that holds the path, reached and
// judged by dirfd.ts (root's directories, then the owner's; anything else is refused): nothing is
// done through a path someone could swap, and the process never takes anyone else's identity.
// Files and links are made under a temporary name, given owner and mode through a descriptor
// while no one else can read them, and renamed into place.
import { chownSync, closeSync, constants, fchownSync, fchmodSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, readlinkSync, renameSync, symlinkSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { describeSystemError } from '../errors.js';
import { checkpoint } from './checkpoint.js';
import { O_PATH, at, lstatAt, openParentAsRoot, openParentAsSelf, type OpenDirectory } from './dirfd.js';
import { moveAside, type Displaced } from './displace.js';

export interface PathRequest {
  name: string;
  path: string;
  uid: number;
  gid: number;
  /** The owner's primary group: directories made in the owner's territory get it. */
  ownerGid: number;
  mode: number;
  /** `symlink: false`: the bytes of the copy. */
  copy?: Buffer;
}

/** What earlier (kept) generations published at a path. */
export interface PathHistory {
  name: string;
  uid: number;
  gid: number;
  mode: number;
  copy: boolean;
  /** Files in kept generations holding values that were copied to this path (what a copy of ours can hold). */
  values: string[];
}

export interface PathResult {
  linked: string[];
  copied: string[];
  removed: string[];
  /** Paths of entries that went away but were left, because what is there is no longer ours. */
  left: { path: string; reason: string }[];
  displaced: Displaced[];
  errors: { name: string; path: string; message: string }[];
}

export interface PathOptions {
  root: boolean;
  now: Date;
}

const tmpName = (leaf: string) => `.${leaf}.materialize-tmp`;

// Why a fixed temporary name: runs are serialized by the lock, and what a killed run left must be
// found (and removed) by the next one, whatever its pid was.
function removeLeftover(fd: number, leaf: string): void {
  const st = lstatAt(fd, tmpName(leaf));
  if (st && (st.isSymbolicLink() || st.isFile())) unlinkSync(at(fd, tmpName(leaf)));
}

/** Whether the regular file `st` at `leaf` is a copy we wrote: owner, mode, one link, and a value we published there. */
function isOurCopy(fd: number, leaf: string, st: Stats, history: PathHistory | undefined, root: boolean): boolean {
  if (!history?.copy || !st.isFile() || st.nlink !== 1 || (st.mode & 0o777) !== history.mode) return false;
  if (root && (st.uid !== history.uid || st.gid !== history.gid)) return false;
  const candidates = history.values.flatMap((file) => {
    try {
      const value = readFileSync(file);
      return value.length === st.size ? [value] : [];
    } catch {
      return [];
    }
  });
  if (candidates.length === 0) return false;
  return candidates.some((value) => sameContent(fd, leaf, st, value));
}

// Why O_NONBLOCK and the inode check: the entry may have been swapped since lstat (for a FIFO, say);
// only the file that was judged is read, and only as far as the value's length.
function sameContent(fd: number, leaf: string, st: Stats, value: Buffer): boolean {
  let f: number | undefined;
  try {
    f = openSync(at(fd, leaf), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const now = fstatSync(f);
    if (!now.isFile() || now.ino !== st.ino || now.size !== value.length) return false;
    const data = Buffer.alloc(value.length);
    let read = 0;
    while (read < data.length) {
      const n = readSync(f, data, read, data.length - read, null);
      if (n === 0) return false;
      read += n;
    }
    const equal = data.equals(value);
    data.fill(0);
    return equal;
  } catch {
    return false;
  } finally {
    if (f !== undefined) closeSync(f);
  }
}

/** What to do with what stands at the path: nothing (it is right), replace it (ours), or move it aside first. */
function verdict(fd: number, leaf: string, request: PathRequest, target: string, secretsDir: string, history: PathHistory | undefined, root: boolean): 'done' | 'replace' | 'displace' {
  const st = lstatAt(fd, leaf);
  if (!st) return 'replace';
  const owned = !root || (st.uid === request.uid && st.gid === request.gid);
  if (st.isSymbolicLink()) {
    const points = readlinkSync(at(fd, leaf));
    if (!request.copy && points === target && owned) return 'done';
    return points.startsWith(`${secretsDir}/`) ? 'replace' : 'displace';
  }
  if (st.isFile()) {
    if (request.copy && owned && (st.mode & 0o777) === request.mode && st.nlink === 1 && st.size === request.copy.length && sameContent(fd, leaf, st, request.copy)) return 'done';
    return isOurCopy(fd, leaf, st, history, root) ? 'replace' : 'displace';
  }
  return 'displace';
}

/** A symlink under the temporary name, owned by the secret's owner (as root), renamed into place. */
function placeLink(fd: number, leaf: string, target: string, request: PathRequest, root: boolean): void {
  const tmp = tmpName(leaf);
  symlinkSync(target, at(fd, tmp));
  if (root) {
    // Through an O_PATH descriptor of the link itself: if anyone swapped the name for something
    // else (a hard link to a file of root's), the check below refuses it; chown never follows it.
    const link = openSync(at(fd, tmp), O_PATH | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(link);
      if (!st.isSymbolicLink() || st.uid !== 0 || st.nlink !== 1) throw Object.assign(new Error('the temporary link was replaced'), { code: 'EAGAIN' });
      chownSync(`/proc/self/fd/${link}`, request.uid, request.gid);
    } finally {
      closeSync(link);
    }
  }
  checkpoint();
  renameSync(at(fd, tmp), at(fd, leaf));
}

/**
 * A copy under the temporary name: created empty with mode 0000 (no one but root can open it),
 * given its owner, filled, given its mode, flushed, renamed over the old one. At no instant can
 * anyone the secret's mode does not allow read either file.
 */
function placeCopy(fd: number, leaf: string, data: Buffer, request: PathRequest, root: boolean): void {
  const tmp = tmpName(leaf);
  const file = openSync(at(fd, tmp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o000);
  try {
    if (root) fchownSync(file, request.uid, request.gid);
    else if (request.gid !== process.getgid?.()) fchownSync(file, -1, request.gid);
    for (let offset = 0; offset < data.length; ) offset += writeSync(file, data, offset, data.length - offset);
    fchmodSync(file, request.mode);
    fsyncSync(file);
  } catch (error) {
    closeSync(file);
    unlinkSync(at(fd, tmp));
    throw error;
  }
  closeSync(file);
  checkpoint();
  renameSync(at(fd, tmp), at(fd, leaf));
  try {
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory
  }
}

function openParent(path: string, owner: { uid: number; gid: number }, root: boolean, create: boolean): OpenDirectory | { refuse: string } | { missing: true } {
  return root ? openParentAsRoot(path, owner, { create }) : openParentAsSelf(path, { create });
}

/** Puts one path in place; returns why it could not, or undefined. */
function placeOne(request: PathRequest, secretsDir: string, history: PathHistory | undefined, options: PathOptions, result: PathResult): string | undefined {
  const dir = openParent(request.path, { uid: request.uid, gid: request.ownerGid }, options.root, true);
  if ('refuse' in dir) return dir.refuse;
  if ('missing' in dir) return `cannot create the directory of ${request.path}`;
  const leaf = basename(request.path);
  const target = join(secretsDir, request.name);
  try {
    removeLeftover(dir.fd, leaf);
    const decision = verdict(dir.fd, leaf, request, target, secretsDir, history, options.root);
    if (decision === 'done') return undefined;
    if (decision === 'displace') {
      try {
        result.displaced.push(moveAside(dir.fd, dir.real, leaf, options.now));
      } catch (error) {
        return `${request.path} is in the way and could not be moved aside (${describeSystemError(error)}); it was left untouched`;
      }
    }
    if (request.copy) placeCopy(dir.fd, leaf, request.copy, request, options.root);
    else placeLink(dir.fd, leaf, target, request, options.root);
    return undefined;
  } catch (error) {
    try {
      removeLeftover(dir.fd, leaf);
    } catch {
      // nothing left, or nothing we may remove
    }
    return `cannot create ${request.copy ? 'the copy' : 'symlink'} ${request.path}: ${describeSystemError(error)}`;
  } finally {
    closeSync(dir.fd);
  }
}

/** Removes what an earlier generation put at a path no longer wanted, if it is still ours. */
function removeOne(path: string, history: PathHistory, secretsDir: string, options: PathOptions, result: PathResult): void {
  const dir = openParent(path, { uid: history.uid, gid: history.gid }, options.root, false);
  if (!('fd' in dir)) return;
  const leaf = basename(path);
  try {
    removeLeftover(dir.fd, leaf);
    const st = lstatAt(dir.fd, leaf);
    if (!st) return;
    const ours = st.isSymbolicLink() ? readlinkSync(at(dir.fd, leaf)) === join(secretsDir, history.name) : isOurCopy(dir.fd, leaf, st, history, options.root);
    if (ours) {
      unlinkSync(at(dir.fd, leaf));
      result.removed.push(path);
    } else result.left.push({ path, reason: st.isSymbolicLink() ? 'it points elsewhere now' : 'it changed since materialize wrote it' });
  } catch (error) {
    result.left.push({ path, reason: describeSystemError(error) });
  } finally {
    closeSync(dir.fd);
  }
}

/**
 * Puts every requested path in place (a link or a copy), and removes what earlier generations put
 * at paths no longer wanted, when it is still ours. `options.root`: the run is privileged.
 */
export function syncPaths(requests: readonly PathRequest[], previous: ReadonlyMap<string, PathHistory>, secretsDir: string, options: PathOptions): PathResult {
  const result: PathResult = { linked: [], copied: [], removed: [], left: [], displaced: [], errors: [] };
  const wanted = new Set(requests.map((r) => r.path));
  for (const request of requests) {
    const error = placeOne(request, secretsDir, previous.get(request.path), options, result);
    if (error) result.errors.push({ name: request.name, path: request.path, message: error });
    else (request.copy ? result.copied : result.linked).push(request.path);
  }
  for (const [path, history] of previous) if (!wanted.has(path)) removeOne(path, history, secretsDir, options, result);
  return result;
}

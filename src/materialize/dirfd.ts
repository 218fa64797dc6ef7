// Directories reached by descriptor, never by a path another user could change under us. As root,
// the directory that will hold a custom path is opened component by component from `/` with
// O_DIRECTORY|O_NOFOLLOW, each one judged on the descriptor just opened (fstat), and every later
// operation (mkdir, symlink, open, rename, unlink) names an entry of that descriptor through
// `/proc/self/fd/N/<name>` (Node has no *at() calls; the kernel resolves that path to the directory
// the descriptor holds, whatever was renamed or swapped since). A symlink is followed only when
// root owns it and it lies in a directory no one else can change; the walk then starts again from
// `/` on the resolved path, judging everything anew. The process never changes its own user or
// groups: nothing runs with anyone else's credentials, on this thread or in the thread pool.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeSystemError } from '../errors.js';
import { ensureDirectory } from './write.js';

/** Linux's O_PATH (not in fs.constants): a descriptor naming an inode without opening it. */
export const O_PATH = 0o10000000;
const DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Symlinks followed in one walk before it gives up (the kernel's own limit). */
const MAX_SYMLINKS = 40;

/** A path naming the entry `name` of the directory held by `fd`. */
export const at = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;

/**
 * Who may be acted for in a directory: `root` — root owns it and no one else can write to it;
 * `owner` — from the first directory owned by the secret's owner on (the owner could have made
 * anything we create there anyway). Once in the owner's territory, a walk stays in it.
 */
export type Territory = 'root' | 'owner' | 'self';

export interface OpenDirectory {
  fd: number;
  /** The directory's real path (symlinks resolved), for messages and reports. */
  real: string;
  territory: Territory;
}

export interface WalkOwner {
  uid: number;
  /** Group of the directories created in the owner's territory: the owner's primary group. */
  gid: number;
}

const writableByOthers = (st: Stats) => (st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0);

/** Why root may not go on through (or work in) this directory, or the territory it is in. */
function judge(st: Stats, real: string, territory: Territory, owner: WalkOwner, passing: boolean, target: string): Territory | 'pass' | { refuse: string } {
  if (st.uid === 0 && !writableByOthers(st)) return territory;
  // A sticky root directory (/tmp) may be passed through: no one else can rename or replace the
  // next component there. Creating entries in it ourselves would not be safe.
  if (territory === 'root' && passing && st.uid === 0 && (st.mode & 0o1000) !== 0) return 'pass';
  if (owner.uid !== 0 && st.uid === owner.uid && (st.mode & 0o002) === 0) return 'owner';
  const who = st.uid === 0 ? `writable by ${(st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`}` : `owned by uid ${st.uid}`;
  return { refuse: `${real} is ${who}, not by root or the secret's owner; refusing to create ${target} there` };
}

/** Gives a directory we just created its owner and mode, through a no-follow descriptor. */
function settle(parent: number, name: string, territory: Territory, owner: WalkOwner): number {
  const fd = openSync(at(parent, name), DIRECTORY);
  try {
    // Not ours any more (the owner replaced it with a directory of hers): judged like any other.
    if (fstatSync(fd).uid !== 0) return fd;
    if (territory === 'owner') fchownSync(fd, owner.uid, owner.gid);
    fchmodSync(fd, 0o755);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/** Follows a root-owned symlink: the path to walk instead, or why not. */
function followLink(fd: number, name: string, real: string, territory: Territory | 'pass', rest: string[], target: string): string | { refuse: string } {
  const st = lstatSync(at(fd, name));
  const path = join(real, name);
  if (!st.isSymbolicLink()) return { refuse: `${path} exists and is not a directory; refusing to create ${target} under it` };
  if (st.uid !== 0) return { refuse: `${path} is a symlink owned by a non-root user; refusing to create ${target} through it` };
  if (territory !== 'root' && territory !== 'pass') return { refuse: `${path} is a symlink in a directory the secret's owner controls; refusing to create ${target} through it` };
  return resolve(real, readlinkSync(at(fd, name)), ...rest);
}

/**
 * Opens the directory that holds `target` (an absolute path) as root would work in it, creating
 * missing directories (root's: 0755 root:root; in the owner's territory: 0755 owner:primary group).
 * Returns the open directory (the caller closes `fd`) or why root must not act there.
 */
export function openParentAsRoot(target: string, owner: WalkOwner, options: { create: boolean }): OpenDirectory | { refuse: string } | { missing: true } {
  let want = dirname(target);
  for (let followed = 0; followed <= MAX_SYMLINKS; followed++) {
    const parts = want.split('/').filter(Boolean);
    let fd = openSync('/', DIRECTORY);
    let real = '/';
    let territory: Territory = 'root';
    let restart: string | undefined;
    try {
      for (let i = 0; ; i++) {
        const verdict = judge(fstatSync(fd), real, territory, owner, i < parts.length, target);
        if (typeof verdict === 'object') return verdict;
        if (i === parts.length) {
          if (verdict === 'pass') return { refuse: `${real} is writable by every user; refusing to create ${target} there` };
          const open = { fd, real, territory: verdict };
          fd = -1;
          return open;
        }
        const name = parts[i]!;
        let next: number;
        try {
          next = openSync(at(fd, name), DIRECTORY);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            if (!options.create) return { missing: true };
            if (verdict === 'pass') return { refuse: `${real} is writable by every user; refusing to create ${join(real, name)} there` };
            mkdirSync(at(fd, name), { mode: 0o700 });
            next = settle(fd, name, verdict, owner);
          } else if (code === 'ENOTDIR' || code === 'ELOOP') {
            const followed = followLink(fd, name, real, verdict, parts.slice(i + 1), target);
            if (typeof followed === 'object') return followed;
            restart = followed;
            break;
          } else throw error;
        }
        closeSync(fd);
        fd = next;
        real = join(real, name);
        territory = verdict === 'pass' ? 'root' : verdict;
      }
    } catch (error) {
      return { refuse: `cannot open ${real === '/' ? dirname(target) : real} for ${target}: ${describeSystemError(error)}` };
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    want = restart!;
  }
  return { refuse: `too many symlinks on the way to ${target}` };
}

/**
 * The same for an unprivileged run (home-manager): it can only act as itself, so the directory is
 * made and opened the ordinary way.
 */
export function openParentAsSelf(target: string, options: { create: boolean }): OpenDirectory | { refuse: string } | { missing: true } {
  const dir = dirname(target);
  try {
    if (options.create) ensureDirectory(dir);
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    return { fd, real: dir, territory: 'self' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !options.create) return { missing: true };
    return { refuse: `cannot open ${dir} for ${target}: ${error instanceof Error && !(error as NodeJS.ErrnoException).code ? error.message : describeSystemError(error)}` };
  }
}

/** The entry's lstat through its directory's descriptor, or undefined when there is none. */
export function lstatAt(fd: number, name: string): Stats | undefined {
  try {
    return lstatSync(at(fd, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}


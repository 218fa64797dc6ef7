// Custom paths: `path` publishes a symlink to secretsDir/<name>, so it follows every switch.
// Created by temporary link + lchown + rename (never by following what is there); symlinks of
// secrets that went away are removed, but only when they still point where we put them.
//
// As root, where the link goes matters: a user who controls a directory on the way could swap a
// component for a symlink between our checks and our rename and have root write elsewhere. So the
// real path of the link's parent is walked first: directories owned by root and writable by no one
// else are worked in as root; from the first directory owned by the secret's owner on, the work is
// done with that owner's effective uid and gid (it can then only redirect us where it could write
// itself); a directory anyone else could write to is refused.
import { lchownSync, lstatSync, readlinkSync, realpathSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { describeSystemError } from '../errors.js';
import { checkpoint } from './checkpoint.js';
import { ensureDirectory } from './write.js';

export interface LinkRequest {
  name: string;
  path: string;
  uid: number;
  gid: number;
}

export interface PreviousLink {
  name: string;
  uid: number;
  gid: number;
}

export interface LinkResult {
  linked: string[];
  removed: string[];
  errors: { name: string; path: string; message: string }[];
}

type Authority = { as: 'root' } | { as: 'owner' } | { refuse: string };

function targetOf(secretsDir: string, name: string): string {
  return join(secretsDir, name);
}

// Why: a symlink on the way is followed by every operation below; only root's may be trusted.
function foreignSymlinkOnTheWay(path: string): string | undefined {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink() && st.uid !== 0) return dir;
    } catch {
      // missing: will be created
    }
  }
  return undefined;
}

/** Decides who may work in the directory of `path` (see the header); root runs only. */
function authority(path: string, owner: { uid: number }): Authority {
  const foreign = foreignSymlinkOnTheWay(path);
  if (foreign) return { refuse: `${foreign} is a symlink owned by a non-root user; refusing to create ${path} through it` };
  // The deepest existing ancestor, resolved: the directories that really hold the link.
  let existing = dirname(path);
  while (existing !== dirname(existing)) {
    try {
      lstatSync(existing);
      break;
    } catch {
      existing = dirname(existing);
    }
  }
  let real: string;
  try {
    real = realpathSync(existing);
  } catch (error) {
    return { refuse: `cannot resolve ${existing}: ${describeSystemError(error)}` };
  }
  let as: Authority = { as: 'root' };
  const parts = real.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const st = lstatSync(dir);
    const writableByOthers = (st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0);
    if (st.uid === 0 && !writableByOthers) continue;
    // A sticky directory (/tmp) on the way is safe: no one else can rename or replace the next
    // component, which is checked in turn. Creating entries in it ourselves would not be.
    if (st.uid === 0 && (st.mode & 0o1000) !== 0 && i < parts.length) continue;
    if (owner.uid !== 0 && st.uid === owner.uid && (st.mode & 0o002) === 0) {
      as = { as: 'owner' };
      continue;
    }
    const who = st.uid === 0 ? `writable by ${(st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`}` : `owned by uid ${st.uid}`;
    return { refuse: `${dir} is ${who}, not by root or the secret's owner; refusing to create ${path} there` };
  }
  return as;
}

/** Runs `work` with the owner's effective uid and gid (root keeps its real uid, so it can switch back). */
function asOwner<T>(owner: { uid: number; gid: number }, work: () => T): T {
  const groups = process.getgroups!();
  const egid = process.getegid!();
  process.setgroups!([owner.gid]);
  process.setegid!(owner.gid);
  process.seteuid!(owner.uid);
  try {
    return work();
  } finally {
    process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}

// Why a fixed name: runs are serialized by the lock, and a link left by a killed run must be found
// (and removed) by the next one, whatever its pid was.
function tmpLink(path: string): string {
  return join(dirname(path), `.${basename(path)}.materialize-tmp`);
}

function removeLeftover(tmp: string): void {
  try {
    if (lstatSync(tmp).isSymbolicLink()) unlinkSync(tmp);
  } catch {
    // not there
  }
}

/** Creates or updates one link; returns why it could not, or undefined. */
function createLink(request: LinkRequest, target: string, chown: boolean): string | undefined {
  const path = request.path;
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isSymbolicLink()) {
    return `${path} exists and is not a symlink (${existing.isDirectory() ? 'a directory' : 'a file'}); it was left untouched — remove it or choose another path`;
  }
  const tmp = tmpLink(path);
  removeLeftover(tmp);
  if (existing && readlinkSync(path) === target && (!chown || (existing.uid === request.uid && existing.gid === request.gid))) return undefined;
  try {
    ensureDirectory(dirname(path));
    symlinkSync(target, tmp);
    if (chown) lchownSync(tmp, request.uid, request.gid);
    checkpoint();
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {
      // not created
    }
    return `cannot create symlink ${path}: ${describeSystemError(error)}`;
  }
  return undefined;
}

/** Removes a link of a secret that went away, if it still points where we put it. */
function removeLink(path: string, target: string): boolean {
  removeLeftover(tmpLink(path));
  try {
    if (lstatSync(path).isSymbolicLink() && readlinkSync(path) === target) {
      unlinkSync(path);
      return true;
    }
  } catch {
    // already gone
  }
  return false;
}

/**
 * Creates or updates the symlinks of `requests`, and removes those of `previous` paths that are no
 * longer wanted (when they still point into secretsDir). `root`: the run is privileged (see header).
 */
export function syncPaths(requests: readonly LinkRequest[], previous: ReadonlyMap<string, PreviousLink>, secretsDir: string, root: boolean): LinkResult {
  const result: LinkResult = { linked: [], removed: [], errors: [] };
  const wanted = new Set(requests.map((r) => r.path));
  for (const request of requests) {
    const target = targetOf(secretsDir, request.name);
    let error: string | undefined;
    if (!root) error = createLink(request, target, false);
    else {
      const who = authority(request.path, request);
      if ('refuse' in who) error = who.refuse;
      else if (who.as === 'root') error = createLink(request, target, true);
      else error = asOwner(request, () => createLink(request, target, false));
    }
    if (error) result.errors.push({ name: request.name, path: request.path, message: error });
    else result.linked.push(request.path);
  }
  for (const [path, link] of previous) {
    if (wanted.has(path)) continue;
    const target = targetOf(secretsDir, link.name);
    let removed = false;
    if (!root) removed = removeLink(path, target);
    else {
      const who = authority(path, link);
      if ('refuse' in who) continue;
      removed = who.as === 'root' ? removeLink(path, target) : asOwner(link, () => removeLink(path, target));
    }
    if (removed) result.removed.push(path);
  }
  return result;
}

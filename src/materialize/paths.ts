// Custom paths: `path` publishes a symlink to secretsDir/<name>, so it follows every switch.
// Created by temporary link + lchown + rename (never by following what is there); symlinks of
// secrets that went away are removed, but only when they still point where we put them.
import { lchownSync, lstatSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeSystemError } from '../errors.js';
import { checkpoint } from './checkpoint.js';
import { ensureDirectory } from './write.js';

export interface LinkRequest {
  name: string;
  path: string;
  uid: number;
  gid: number;
}

export interface LinkResult {
  linked: string[];
  removed: string[];
  errors: { name: string; path: string; message: string }[];
}

function targetOf(secretsDir: string, name: string): string {
  return join(secretsDir, name);
}

// Why: a root process creating links under a directory another user controls could be redirected
// by a symlink swapped into the path; only root-owned symlinks (e.g. NixOS's /etc) are followed.
function unsafeAncestor(path: string): string | undefined {
  let dir = dirname(path);
  const seen: string[] = [];
  while (dir !== '/' && !seen.includes(dir)) {
    seen.push(dir);
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink() && st.uid !== 0) return dir;
    } catch {
      // missing: will be created
    }
    dir = dirname(dir);
  }
  return undefined;
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

function link(request: LinkRequest, secretsDir: string, chown: boolean): string | undefined {
  const target = targetOf(secretsDir, request.name);
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
  if (chown) {
    const bad = unsafeAncestor(path);
    if (bad) return `${bad} is a symlink owned by a non-root user; refusing to create ${path} through it`;
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

/**
 * Creates or updates the symlinks of `requests`, and removes those of `previous` paths that are no
 * longer wanted (when they still point into secretsDir).
 */
export function syncPaths(requests: readonly LinkRequest[], previous: ReadonlyMap<string, string>, secretsDir: string, chown: boolean): LinkResult {
  const result: LinkResult = { linked: [], removed: [], errors: [] };
  const wanted = new Set(requests.map((r) => r.path));
  for (const request of requests) {
    const error = link(request, secretsDir, chown);
    if (error) result.errors.push({ name: request.name, path: request.path, message: error });
    else result.linked.push(request.path);
  }
  for (const [path, name] of previous) {
    if (wanted.has(path)) continue;
    removeLeftover(tmpLink(path));
    try {
      if (lstatSync(path).isSymbolicLink() && readlinkSync(path) === targetOf(secretsDir, name)) {
        unlinkSync(path);
        result.removed.push(path);
      }
    } catch {
      // already gone
    }
  }
  return result;
}

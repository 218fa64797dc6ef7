// What is in the way is moved aside, never deleted: a file, directory or foreign symlink standing
// where a custom path (or secretsDir) must go is renamed, in its own directory, to
// `<name>.materialize-displaced-<UTC time>` (`-2`, `-3`… when that name is taken, so two in one
// second stay apart). A rename within one directory: same file system, same inode, same owner,
// mode and content; restoring it is one `mv`. Reported by name, never by content.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { at, lstatAt } from './dirfd.js';

export interface Displaced {
  /** Where it was. */
  path: string;
  /** Where it is now. */
  to: string;
  what: 'file' | 'directory' | 'symlink' | 'other';
}

export const DISPLACED_INFIX = '.materialize-displaced-';

/** 2026-11-29T18:02:59.123Z → 20261129T180259Z: sortable, no characters a shell or a unit file minds. */
export function stamp(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

export function describeKind(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): Displaced['what'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/**
 * Renames the entry `name` of the directory held by `fd` (whose path is `dir`) to a free
 * displaced name beside it. Throws when it cannot (the caller reports that and leaves it).
 */
export function moveAside(fd: number, dir: string, name: string, now: Date): Displaced {
  const st = lstatAt(fd, name);
  if (!st) throw Object.assign(new Error(`${join(dir, name)} vanished`), { code: 'ENOENT' });
  const base = `${name}${DISPLACED_INFIX}${stamp(now)}`;
  if (Buffer.byteLength(base) + 4 > 255) throw Object.assign(new Error(`${name} is too long to be given a displaced name beside it`), { code: 'ENAMETOOLONG' });
  let free = base;
  for (let n = 2; lstatAt(fd, free); n++) free = `${base}-${n}`;
  renameSync(at(fd, name), at(fd, free));
  return { path: join(dir, name), to: join(dir, free), what: describeKind(st) };
}

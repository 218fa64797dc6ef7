// Snapshots of what a run left on disk (the live generation's files with bytes, owner and mode;
// the mount point's entries), so a test can assert "untouched" exactly and find leftovers.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface NodeState {
  type: 'file' | 'dir' | 'symlink';
  uid: number;
  gid: number;
  mode: string;
  /** File bytes (base64) or link target. */
  data?: string;
}

/** Every entry below `dir` (relative names), recursively, without following symlinks. */
export function walk(dir: string): Record<string, NodeState> {
  const out: Record<string, NodeState> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      const mode = `0${(st.mode & 0o7777).toString(8).padStart(3, '0')}`;
      if (st.isSymbolicLink()) out[r] = { type: 'symlink', uid: st.uid, gid: st.gid, mode, data: readlinkSync(p) };
      else if (st.isDirectory()) {
        out[r] = { type: 'dir', uid: st.uid, gid: st.gid, mode };
        visit(r);
      } else out[r] = { type: 'file', uid: st.uid, gid: st.gid, mode, data: readFileSync(p).toString('base64') };
    }
  };
  visit('');
  return out;
}

export interface LiveSnapshot {
  /** Where secretsDir points (absolute). */
  target: string;
  tree: Record<string, NodeState>;
}

/** The live generation as it is now: the symlink target and every entry in it. */
export function snapshotLive(secretsDir: string): LiveSnapshot {
  const target = resolve(dirname(secretsDir), readlinkSync(secretsDir));
  return { target, tree: walk(target) };
}

export function liveNumber(secretsDir: string): number {
  return Number(readlinkSync(secretsDir).split('/').pop());
}

/** Entries of a directory (empty when missing). */
export function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * The mount point's generations and leftovers, without the digest key every run keeps there
 * (`.materialize-key`, src/materialize/integrity.ts).
 */
export function mountEntries(mountPoint: string): string[] {
  return entries(mountPoint).filter((n) => n !== '.materialize-key');
}

/** Files the engine keeps for itself in a generation (manifest, markers): reserved names. */
export const isReserved = (name: string) => name.startsWith('.materialize');

/** Files (not dirs, not the engine's own) of a tree, as name → utf8 content. */
export function contents(tree: Record<string, NodeState>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tree)
      .filter(([name, s]) => s.type === 'file' && !isReserved(name))
      .map(([name, s]) => [name, Buffer.from(s.data!, 'base64').toString('utf8')]),
  );
}

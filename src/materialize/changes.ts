// What a new generation changes against the live one — content, owner, group, mode — and which
// units must restart or reload because of it. Owner and mode changes count (sops-nix #220), and so
// do removed secrets, whose units are known from the live generation's manifest.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { RESERVED_PREFIX } from '../config/names.js';
import { join } from 'node:path';
import type { LiveGeneration } from './generation.js';
import type { UnitActions } from './units.js';

export type Aspect = 'content' | 'owner' | 'group' | 'mode';

export interface Comparable {
  name: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
  restartUnits: readonly string[];
  reloadUnits: readonly string[];
}

export interface Change {
  name: string;
  status: 'added' | 'changed' | 'unchanged';
  aspects: Aspect[];
}

export interface Removal {
  name: string;
  restartUnits: string[];
  reloadUnits: string[];
  /** In the live generation but not in its manifest: left by another tool (sops-nix, agenix) or by hand. */
  stray?: boolean;
}

// Why: a generation made by another tool (sops-nix and agenix number theirs the same way, behind the
// same kind of symlink) or a file dropped into ours by hand goes away with the switch; saying so is
// the difference between a migration that reports what it dropped and one that drops it silently.
/** Files (and symlinks) below the live generation that neither its manifest nor the new outputs name. */
function strayFiles(dir: string, known: (name: string) => boolean): string[] {
  const found: string[] = [];
  const visit = (rel: string, depth: number) => {
    let list;
    try {
      list = readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && e.name.startsWith(RESERVED_PREFIX)) continue;
      if (e.isDirectory()) {
        if (depth < 64) visit(name, depth + 1);
      } else if (!known(name)) found.push(name);
    }
  };
  visit('', 0);
  return found.sort();
}

export function compare(outputs: readonly Comparable[], live: LiveGeneration | undefined, options: { compareOwners: boolean }): { changes: Change[]; removed: Removal[] } {
  const changes: Change[] = [];
  for (const out of outputs) {
    if (!live) {
      changes.push({ name: out.name, status: 'added', aspects: [] });
      continue;
    }
    const path = join(live.dir, out.name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      changes.push({ name: out.name, status: 'added', aspects: [] });
      continue;
    }
    const aspects: Aspect[] = [];
    if (!st.isFile()) aspects.push('content');
    else {
      try {
        if (!readFileSync(path).equals(out.data)) aspects.push('content');
      } catch {
        aspects.push('content'); // unreadable (not root): assume it changed
      }
    }
    if (options.compareOwners && st.uid !== out.uid) aspects.push('owner');
    if (options.compareOwners && st.gid !== out.gid) aspects.push('group');
    if ((st.mode & 0o777) !== out.mode) aspects.push('mode');
    changes.push({ name: out.name, status: aspects.length ? 'changed' : 'unchanged', aspects });
  }
  const removed: Removal[] = [];
  const names = new Set(outputs.map((o) => o.name));
  const listed = live?.manifest?.entries ?? {};
  for (const [name, entry] of Object.entries(listed)) {
    if (!names.has(name)) removed.push({ name, restartUnits: entry.restartUnits ?? [], reloadUnits: entry.reloadUnits ?? [] });
  }
  if (live) {
    // A known name's parent directories are not stray, whatever stands there now (a planted symlink
    // in place of `dir` of `dir/b` is that secret's problem, reported with it).
    const known = new Set([...names, ...Object.keys(listed)]);
    for (const n of [...known]) for (let i = n.indexOf('/'); i > 0; i = n.indexOf('/', i + 1)) known.add(n.slice(0, i));
    for (const name of strayFiles(live.dir, (n) => known.has(n))) removed.push({ name, restartUnits: [], reloadUnits: [], stray: true });
  }
  return { changes, removed };
}

/** Units to act on: only when a generation was live before (at boot, services start after us anyway). */
export function unitActions(outputs: readonly Comparable[], changes: readonly Change[], removed: readonly Removal[], hadLive: boolean): UnitActions {
  const restart = new Set<string>();
  const reload = new Set<string>();
  if (!hadLive) return { restart: [], reload: [] };
  const byName = new Map(outputs.map((o) => [o.name, o]));
  const touch = (r: readonly string[], l: readonly string[]) => {
    r.forEach((u) => restart.add(u));
    l.forEach((u) => reload.add(u));
  };
  for (const change of changes) {
    if (change.status === 'unchanged') continue;
    const out = byName.get(change.name)!;
    touch(out.restartUnits, out.reloadUnits);
  }
  for (const r of removed) touch(r.restartUnits, r.reloadUnits);
  // A unit restarted needs no reload as well.
  return { restart: [...restart].sort(), reload: [...reload].filter((u) => !restart.has(u)).sort() };
}

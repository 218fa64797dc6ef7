// What a new generation changes against the live one — content, owner, group, mode — and which
// units must restart or reload because of it. Owner and mode changes count (sops-nix #220), and so
// do removed secrets, whose units are known from the live generation's manifest.
import { lstatSync, readFileSync } from 'node:fs';
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
  for (const [name, entry] of Object.entries(live?.manifest?.entries ?? {})) {
    if (!names.has(name)) removed.push({ name, restartUnits: entry.restartUnits ?? [], reloadUnits: entry.reloadUnits ?? [] });
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

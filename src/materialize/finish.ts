// After the switch: the custom paths follow the new generation, old generations are pruned, and
// the units whose files changed are restarted or reloaded. The new generation is already live, so
// none of these steps may undo it, and a failure of one never skips the next.
import { join } from 'node:path';
import { describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Built } from './collect.js';
import { listGenerations, prune, type Layout, type LiveGeneration } from './generation.js';
import { UNITS_DONE_NAME, readManifest } from './manifest.js';
import type { Displaced } from './displace.js';
import { syncPaths, type PathHistory, type PathRequest, type PathResult } from './paths.js';
import type { Accounts } from './users.js';
import type { ApplyReport } from './report.js';
import { runUnitActions, type UnitMode } from './units.js';
import { writeSecretFile, type Ownership } from './write.js';

// Why every kept generation and not only the live one: a run killed between its switch and this
// step left paths that only the generation before it names; and a copy of ours may hold the value
// of any of them.
/** What the given generations published at each custom path: for which secret, owner, mode, and with which values. */
export function pathHistory(mountPoint: string, generations: readonly number[], live: LiveGeneration | undefined): Map<string, PathHistory> {
  const history = new Map<string, PathHistory>();
  for (const n of [...generations].sort((a, b) => a - b)) {
    const dir = join(mountPoint, String(n));
    const kept = n === live?.number ? live.manifest : readManifest(dir);
    for (const [name, entry] of Object.entries(kept?.entries ?? {})) {
      if (!entry.path) continue;
      const values = [...(history.get(entry.path)?.values ?? []), ...(entry.copy ? [join(dir, name)] : [])];
      // The newest generation says whose the path is now; the values of all of them count.
      history.set(entry.path, { name, uid: entry.uid, gid: entry.gid, mode: Number.parseInt(entry.mode, 8), copy: values.length > 0, values });
    }
  }
  return history;
}

/** Records in each entry's manifest whether its path is a copy (before the generation is built). */
export function markCopies(built: readonly Built[]): void {
  for (const b of built) if (b.entry.path && !b.planned.spec.symlink) b.entry.copy = true;
}

/** One entry's custom path as syncPaths wants it; `copy`: the bytes, when the path is a copy. */
export interface PathEntry {
  name: string;
  path: string;
  uid: number;
  gid: number;
  mode: number;
  copy?: Buffer;
}

/**
 * Puts every entry's custom path in place (link or copy), moving aside what is in the way, and
 * removes the paths of `history` no entry wants any more; reports it all. Shared by apply and rollback.
 */
export async function placePaths(entries: readonly PathEntry[], history: ReadonlyMap<string, PathHistory>, options: { secretsDir: string; root: boolean; accounts: Accounts; log: Logger }): Promise<{ paths: Omit<PathResult, 'displaced'>; displaced: Displaced[] }> {
  const { log } = options;
  const wanted: PathRequest[] = [];
  for (const e of entries) {
    // Directories made in the owner's territory get the owner's own primary group.
    const ownerGid = (await options.accounts.user({ id: e.uid }))?.gid ?? -1;
    wanted.push({ name: e.name, path: e.path, uid: e.uid, gid: e.gid, ownerGid: ownerGid >= 0 ? ownerGid : e.gid, mode: e.mode, ...(e.copy ? { copy: e.copy } : {}) });
  }
  const { displaced, ...paths } = syncPaths(wanted, history, options.secretsDir, { root: options.root, now: new Date() });
  for (const d of displaced) log.warn(`moved aside ${d.path} (a ${d.what} that was in the way) to ${d.to}`);
  for (const e of paths.errors) log.error(`${e.name}: ${e.message}`);
  for (const p of paths.removed) log.info(`removed ${p} (its entry went away)`);
  for (const p of paths.left) log.info(`left ${p.path} in place although its entry went away: ${p.reason}`);
  return { paths, displaced };
}

/** After apply's switch: every custom path follows the new generation. */
export async function linkPaths(report: ApplyReport, built: readonly Built[], options: { layout: Layout; number: number; live: LiveGeneration | undefined; root: boolean; accounts: Accounts; log: Logger }): Promise<void> {
  const { layout } = options;
  const entries = built.filter((b) => b.entry.path).map((b) => ({ name: b.name, path: b.entry.path!, uid: b.uid, gid: b.gid, mode: b.mode, ...(b.entry.copy ? { copy: b.data } : {}) }));
  const history = pathHistory(layout.mountPoint, listGenerations(layout.mountPoint).filter((g) => g < options.number), options.live);
  const { paths, displaced } = await placePaths(entries, history, { secretsDir: layout.secretsDir, root: options.root, accounts: options.accounts, log: options.log });
  report.paths = paths;
  report.displaced.push(...displaced);
}

export interface FinishOptions {
  layout: Layout;
  keepGenerations: number;
  number: number;
  /** The new generation's directory. */
  dir: string;
  units: UnitMode;
  unitScope: 'system' | 'user';
  dirOwner: Ownership;
  write: { chown: boolean; durable: boolean };
  log: Logger;
}

/** Prunes old generations, then restarts/reloads the report's units and records that they were handled. */
export async function pruneAndRestart(report: ApplyReport, options: FinishOptions): Promise<void> {
  const { log } = options;
  // The new generation is live; a generation that cannot be removed must not stop the restarts.
  try {
    report.pruned = prune(options.layout, options.keepGenerations, options.number);
  } catch (error) {
    log.warn(`could not prune old generations: ${describeSystemError(error)}; the next run tries again`);
  }
  for (const problem of await runUnitActions(report.units, { mode: options.units, scope: options.unitScope, log })) log.warn(problem);
  if (report.units.restart.length + report.units.reload.length === 0) return;
  try {
    writeSecretFile(join(options.dir, UNITS_DONE_NAME), Buffer.alloc(0), { uid: 0, gid: options.dirOwner.gid, mode: 0o640 }, options.write);
  } catch (error) {
    log.warn(`cannot record that the units were handled (the next run will do them again): ${(error as Error).message}`);
  }
}

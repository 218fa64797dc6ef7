// After the switch: the custom paths follow the new generation, old generations are pruned, and
// the units whose files changed are restarted or reloaded. The new generation is already live, so
// none of these steps may undo it, and a failure of one never skips the next.
import { join } from 'node:path';
import { describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Built } from './collect.js';
import { listGenerations, prune, type Layout, type LiveGeneration } from './generation.js';
import { UNITS_DONE_NAME, readManifest } from './manifest.js';
import { syncPaths, type PreviousLink } from './paths.js';
import type { ApplyReport } from './report.js';
import { runUnitActions, type UnitMode } from './units.js';
import { writeSecretFile, type Ownership } from './write.js';

// Why every kept generation and not only the live one: a run killed between its switch and this
// step left symlinks that only the generation before it names.
/** The custom paths that earlier generations linked, and for which secret and owner. */
function previousLinks(mountPoint: string, number: number, live: LiveGeneration | undefined): Map<string, PreviousLink> {
  const links = new Map<string, PreviousLink>();
  for (const n of listGenerations(mountPoint).filter((g) => g < number)) {
    const kept = n === live?.number ? live.manifest : readManifest(join(mountPoint, String(n)));
    for (const [name, entry] of Object.entries(kept?.entries ?? {})) if (entry.path) links.set(entry.path, { name, uid: entry.uid, gid: entry.gid });
  }
  return links;
}

/** Points every custom path at the new generation and removes the links of secrets that went away. */
export function linkPaths(report: ApplyReport, built: readonly Built[], options: { layout: Layout; number: number; live: LiveGeneration | undefined; root: boolean; log: Logger }): void {
  const { layout, log } = options;
  const wanted = built.filter((b) => b.entry.path).map((b) => ({ name: b.name, path: b.entry.path!, uid: b.uid, gid: b.gid }));
  const links = syncPaths(wanted, previousLinks(layout.mountPoint, options.number, options.live), layout.secretsDir, options.root);
  report.paths = links;
  for (const e of links.errors) log.error(`${e.name}: ${e.message}`);
  for (const p of links.removed) log.info(`removed stale symlink ${p}`);
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

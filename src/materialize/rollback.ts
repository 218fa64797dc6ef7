// `materialize rollback [--to N]`: makes a kept earlier generation live again, for an operator
// undoing a bad rotation. Nothing is fetched or rebuilt: the generation is live again exactly as it
// was published. In order, under the run lock:
//   1. check the target: kept, complete (its manifest and every file it lists), not already live;
//   2. compare it with the live generation (content, owner, group, mode) → units to act on;
//   3. write the rollback record (rollback-record.ts): from, to, the highest generation ever live,
//      the units owed — before the switch, so every later instant is covered;
//   4. switch secretsDir to it (the same atomic rename as apply);
//   5. custom paths: links of its secrets made, links of secrets it does not have removed;
//   6. restart/reload the units, then mark them done in the record.
// Killed before 4, nothing changed (the record names a switch that did not happen and is ignored).
// Killed after 4, the target is live and complete; the next apply (or rollback) restarts the units
// still owed and fixes the links. Generations are never deleted here.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { ExitCode, MaterializeError, WriteError, describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import { compare, unitActions, type Aspect, type Comparable } from './changes.js';
import { listGenerations, readLive, switchLive, type Layout, type LiveGeneration } from './generation.js';
import { acquireLock } from './lock.js';
import { readManifest, type GenerationManifest } from './manifest.js';
import { isMemoryFileSystem } from './mount.js';
import { pathHistory, placePaths } from './finish.js';
import type { Displaced } from './displace.js';
import type { PathResult } from './paths.js';
import { Accounts } from './users.js';
import { readRollbackRecord, writeRollbackRecord, type RollbackRecord } from './rollback-record.js';
import { runUnitActions, type UnitActions, type UnitMode } from './units.js';

export interface RollbackOptions {
  configFile: string;
  /** The generation to make live; default: the newest kept one below the live one. */
  to?: number;
  units?: UnitMode;
  unitScope?: 'system' | 'user';
  lockTimeoutMs?: number;
  log: Logger;
}

export interface RollbackEntry {
  name: string;
  status: 'added' | 'changed' | 'unchanged' | 'removed';
  aspects?: Aspect[];
}

export interface RollbackReport {
  exitCode: number;
  config: string;
  secretsDir: string;
  /** The generation live before, and the one live now (equal when nothing was done). */
  from: number;
  to: number;
  switched: boolean;
  /** What differs, from the live generation's point of view to the target's. */
  entries: RollbackEntry[];
  units: UnitActions;
  paths: Omit<PathResult, 'displaced'>;
  /** What was in the way of a custom path and was moved aside (by name, never content). */
  displaced: Displaced[];
  /** Generations kept on disk. */
  generations: number[];
  warnings: string[];
}

/** A rollback that cannot be done as asked: nothing was changed. */
export class RollbackError extends MaterializeError {
  override name = 'RollbackError';
}

/** The generation to make live, checked against what is kept. */
function chooseTarget(live: LiveGeneration, kept: readonly number[], to: number | undefined): number {
  const list = kept.join(', ') || 'none';
  if (to === undefined) {
    const earlier = kept.filter((n) => n < live.number).at(-1);
    if (earlier === undefined) throw new RollbackError(`no generation older than the live one (${live.number}) is kept (kept: ${list}); nothing was changed. Keep more with keepGenerations (materialize.keepGenerations) ≥ 2`, ExitCode.usage);
    return earlier;
  }
  if (!kept.includes(to)) throw new RollbackError(`generation ${to} is not kept (pruned, or never made; kept: ${list}); nothing was changed`, ExitCode.usage);
  return to;
}

// Why read every file: a generation whose file is missing is not one to make live; and the bytes
// are compared with the live generation to know which units must restart.
/** The target's files as the comparison takes them, from its manifest; throws if one is missing. */
function readGeneration(dir: string, manifest: GenerationManifest): Comparable[] {
  return Object.entries(manifest.entries).map(([name, entry]) => {
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      throw new WriteError(`generation ${dir} is incomplete: ${name} cannot be read (${describeSystemError(error)}); nothing was changed`, path);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new WriteError(`generation ${dir} is damaged: ${name} is not a regular file; nothing was changed`, path);
      return { name, data: readFileSync(fd), uid: st.uid, gid: st.gid, mode: st.mode & 0o777, restartUnits: entry.restartUnits ?? [], reloadUnits: entry.reloadUnits ?? [] };
    } finally {
      closeSync(fd);
    }
  });
}

/** The comparison as report entries (the names the target adds, changes or lacks). */
function entriesOf(changes: ReturnType<typeof compare>): RollbackEntry[] {
  return [
    ...changes.changes.map((c) => ({ name: c.name, status: c.status, ...(c.aspects.length ? { aspects: c.aspects } : {}) })),
    ...changes.removed.map((r) => ({ name: r.name, status: 'removed' as const })),
  ].sort((a, b) => a.name.localeCompare(b.name));
}

/** Makes a kept generation live again (see the header for the steps and what a crash leaves). */
export async function rollback(options: RollbackOptions): Promise<RollbackReport> {
  const { log } = options;
  const config = loadConfig(options.configFile);
  const layout: Layout = { secretsDir: config.secretsDir, mountPoint: config.mountPoint };
  const root = (process.geteuid?.() ?? 0) === 0;
  const durable = config.mount === 'none' && !isMemoryFileSystem(config.mountPoint);
  if (!readLive(layout)) throw new RollbackError(`${config.secretsDir}: no live generation to roll back from`, ExitCode.usage);
  const lock = await acquireLock(config.mountPoint, { timeoutMs: options.lockTimeoutMs ?? 60_000, log });
  try {
    const live = readLive(layout);
    if (!live) throw new RollbackError(`${config.secretsDir}: no live generation to roll back from`, ExitCode.usage);
    const kept = listGenerations(config.mountPoint);
    const to = chooseTarget(live, kept, options.to);
    const report: RollbackReport = { exitCode: 0, config: config.file, secretsDir: config.secretsDir, from: live.number, to, switched: false, entries: [], units: { restart: [], reload: [] }, paths: { linked: [], copied: [], removed: [], left: [], errors: [] }, displaced: [], generations: kept, warnings: log.warnings };
    if (to === live.number) {
      log.info(`generation ${to} is already live; nothing changed`);
      return report;
    }
    const dir = join(config.mountPoint, String(to));
    const manifest = readManifest(dir);
    if (!manifest) throw new WriteError(`generation ${dir} has no readable manifest (.materialize.json); refusing to make it live; nothing was changed`, dir);
    const outputs = readGeneration(dir, manifest);
    const changes = compare(outputs, live, { compareOwners: root });
    report.entries = entriesOf(changes);
    report.units = unitActions(outputs, changes.changes, changes.removed, true);

    const record: RollbackRecord = { version: 1, from: live.number, to, at: new Date().toISOString(), highest: Math.max(live.number, readRollbackRecord(config.mountPoint)?.highest ?? 0), units: report.units, unitsDone: false };
    writeRollbackRecord(config.mountPoint, record, durable);
    lock.verify();
    switchLive(layout, dir, durable);
    report.switched = true;

    // The target's paths (its copies hold its values); the other kept generations' paths are removed.
    const data = new Map(outputs.map((o) => [o.name, o.data]));
    const wanted = Object.entries(manifest.entries)
      .filter(([, e]) => e.path)
      .map(([name, e]) => ({ name, path: e.path!, uid: e.uid, gid: e.gid, mode: Number.parseInt(e.mode, 8), ...(e.copy ? { copy: data.get(name)! } : {}) }));
    const placed = await placePaths(wanted, pathHistory(config.mountPoint, kept.filter((g) => g !== to), live), { secretsDir: config.secretsDir, root, accounts: new Accounts(), log });
    for (const o of outputs) o.data.fill(0);
    report.paths = placed.paths;
    report.displaced = placed.displaced;

    for (const problem of await runUnitActions(report.units, { mode: options.units ?? 'auto', scope: options.unitScope ?? 'system', log })) log.warn(problem);
    if (report.units.restart.length + report.units.reload.length > 0) {
      try {
        writeRollbackRecord(config.mountPoint, { ...record, unitsDone: true }, durable);
      } catch (error) {
        log.warn(`cannot record that the units were handled (the next run will do them again): ${describeSystemError(error)}`);
      }
    }
    if (report.paths.errors.length > 0) report.exitCode = ExitCode.io;
    return report;
  } finally {
    await lock.release();
  }
}

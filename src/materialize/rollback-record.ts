// What `materialize rollback` leaves for the runs after it, in one small file beside the
// generations (no values): which generation it made live, from which, and the highest generation
// number ever made live — the generations above the live one up to that number were live once and
// are kept (the next apply numbers past them), anything above it was never live (a run killed
// between publishing and switching) and is a leftover. It also holds the units the rollback owes
// until they were restarted, so a rollback killed after its switch leaves them to the next run.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { UnitActions } from './units.js';
import { syncDirectory, writeSecretFile } from './write.js';

export const ROLLBACK_RECORD = '.materialize-rollback.json';

export interface RollbackRecord {
  version: 1;
  /** The generation that was live before the rollback. */
  from: number;
  /** The generation the rollback made live. */
  to: number;
  /** When (ISO 8601). */
  at: string;
  /** The highest generation number ever made live. */
  highest: number;
  /** What the rollback restarts and reloads; owed while `unitsDone` is false. */
  units: UnitActions;
  unitsDone: boolean;
}

export function readRollbackRecord(mountPoint: string): RollbackRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(join(mountPoint, ROLLBACK_RECORD), 'utf8')) as RollbackRecord;
    return record?.version === 1 && Number.isInteger(record.to) && Number.isInteger(record.highest) ? record : undefined;
  } catch {
    return undefined;
  }
}

// Why "live": a rollback killed before its switch wrote a record about a switch that never
// happened, and an apply killed after its switch left one that no longer describes anything.
/** The record, when it describes the live generation (its rollback got as far as the switch). */
export function currentRollback(mountPoint: string, liveNumber: number | undefined): RollbackRecord | undefined {
  const record = readRollbackRecord(mountPoint);
  return record && record.to === liveNumber ? record : undefined;
}

/** Replaces the record atomically (a private `.tmp-` name, which the next run's cleanup removes if we die, then a rename). */
export function writeRollbackRecord(mountPoint: string, record: RollbackRecord, durable: boolean): void {
  const tmp = join(mountPoint, `.tmp-rollback-${process.pid}`);
  rmSync(tmp, { force: true });
  const self = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, mode: 0o644 };
  writeSecretFile(tmp, Buffer.from(`${JSON.stringify(record, null, 2)}\n`), self, { chown: false, durable });
  renameSync(tmp, join(mountPoint, ROLLBACK_RECORD));
  if (durable) syncDirectory(mountPoint);
}

/** Drops the record once a new generation is live (it owes nothing more: apply took over its units). */
export function removeRollbackRecord(mountPoint: string): void {
  rmSync(join(mountPoint, ROLLBACK_RECORD), { force: true });
}

// Generations: numbered directories under the mount point, one symlink (secretsDir) naming the live
// one. A generation is built under a temporary name, renamed to its number once complete, and made
// live by renaming a temporary symlink over secretsDir: each step is one atomic rename, so a crash
// at any instant leaves secretsDir on a complete generation (the old or the new).
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { WriteError, describeSystemError } from '../errors.js';
import { checkpoint } from './checkpoint.js';
import { describeKind, moveAside, type Displaced } from './displace.js';
import { readManifest, type GenerationManifest } from './manifest.js';
import { readRollbackRecord } from './rollback-record.js';
import { ensureDirectory, makeDirectory, syncDirectory, type Ownership } from './write.js';
import { pidExists } from '../exec.js';

export interface Layout {
  secretsDir: string;
  mountPoint: string;
}

export interface LiveGeneration {
  number: number;
  dir: string;
  manifest: GenerationManifest | undefined;
}

const TMP_PREFIX = '.tmp-';
const isNumber = (name: string) => /^[1-9][0-9]{0,15}$/.test(name);

/**
 * The generation secretsDir points at, if it is one of ours. A secretsDir that is not a symlink (a
 * directory or file another tool left) has no live generation: it is moved aside at the switch
 * (`displaceSecretsDir`).
 */
export function readLive(layout: Layout): LiveGeneration | undefined {
  let target: string;
  try {
    if (!lstatSync(layout.secretsDir).isSymbolicLink()) return undefined;
    target = resolve(dirname(layout.secretsDir), readlinkSync(layout.secretsDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WriteError(`cannot read ${layout.secretsDir}: ${describeSystemError(error)}`, layout.secretsDir, { cause: error });
  }
  if (dirname(target) !== resolve(layout.mountPoint) || !isNumber(basename(target))) return undefined;
  try {
    if (!lstatSync(target).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return { number: Number(basename(target)), dir: target, manifest: readManifest(target) };
}

export function listGenerations(mountPoint: string): number[] {
  try {
    return readdirSync(mountPoint)
      .filter(isNumber)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

// Why not "live + 1": after `materialize rollback`, generations above the live one were live once
// and are kept; numbers never repeat, so a number always names one content (status, journals).
/** The number of the next generation: one past every generation on disk and the live one. */
export function nextGeneration(layout: Layout, live: LiveGeneration | undefined): number {
  const all = listGenerations(layout.mountPoint);
  return Math.max(all.at(-1) ?? 0, live?.number ?? 0) + 1;
}

function tmpLinkPrefix(layout: Layout): string {
  return `.${basename(layout.secretsDir)}.tmp-`;
}


/**
 * Removes what crashed runs left: half-built generations, generations completed but never made
 * live, temporary symlinks. Runs under the lock.
 */
export function cleanLeftovers(layout: Layout, live: LiveGeneration | undefined): string[] {
  const removed: string[] = [];
  // Never live = numbered above every generation that was ever live: the live one, or (after a
  // rollback) the highest the rollback record names. Those between were rolled back from; kept.
  const neverLiveAbove = live ? Math.max(live.number, readRollbackRecord(layout.mountPoint)?.highest ?? 0) : undefined;
  let names: string[] = [];
  try {
    names = readdirSync(layout.mountPoint);
  } catch {
    // no mount point yet
  }
  for (const name of names) {
    // A generation still being built by a live run is not a leftover (only possible if that run lost
    // the lock; it will then refuse to switch, and the next run removes its directory).
    const builder = /^\.tmp-\d+-(\d+)$/.exec(name);
    if (builder && Number(builder[1]) !== process.pid && pidExists(Number(builder[1]))) continue;
    if (name.startsWith(TMP_PREFIX) || (neverLiveAbove !== undefined && isNumber(name) && Number(name) > neverLiveAbove)) {
      const path = join(layout.mountPoint, name);
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    }
  }
  const parent = dirname(layout.secretsDir);
  try {
    for (const name of readdirSync(parent)) {
      if (name.startsWith(tmpLinkPrefix(layout))) {
        const path = join(parent, name);
        if (lstatSync(path).isSymbolicLink()) {
          unlinkSync(path);
          removed.push(path);
        }
      }
    }
  } catch {
    // parent does not exist yet
  }
  return removed;
}

/** Creates the hidden directory a generation is built in. */
export function startGeneration(layout: Layout, number: number, owner: Ownership, chown: boolean): string {
  const dir = join(layout.mountPoint, `${TMP_PREFIX}${number}-${process.pid}`);
  makeDirectory(dir, owner, { chown });
  return dir;
}

/** Renames the complete generation to its number. Fails (never overwrites) if that number exists. */
export function publishGeneration(layout: Layout, tmpDir: string, number: number, durable: boolean): string {
  const dir = join(layout.mountPoint, String(number));
  try {
    lstatSync(dir);
    throw new WriteError(`generation ${dir} already exists (another run?)`, dir);
  } catch (error) {
    if (error instanceof WriteError) throw error;
  }
  try {
    renameSync(tmpDir, dir);
  } catch (error) {
    throw new WriteError(`cannot publish generation ${dir}: ${describeSystemError(error)}`, dir, { cause: error });
  }
  if (durable) syncDirectory(layout.mountPoint);
  checkpoint();
  return dir;
}

/** What stands at secretsDir if it is not a symlink (a directory or file another tool left), else undefined. */
export function secretsDirInTheWay(layout: Layout): Displaced['what'] | undefined {
  try {
    const st = lstatSync(layout.secretsDir);
    return st.isSymbolicLink() ? undefined : describeKind(st);
  } catch {
    return undefined;
  }
}

// Why right before the switch, under the lock: a run that fails earlier leaves it where it was.
// sops-nix deletes such a directory (RemoveAll); it may hold the only copy of something.
/** Moves a secretsDir that is not a symlink aside (see displace.ts), so the switch can put the symlink there. */
export function displaceSecretsDir(layout: Layout, now: Date): Displaced | undefined {
  if (!secretsDirInTheWay(layout)) return undefined;
  const parent = dirname(layout.secretsDir);
  let fd: number | undefined;
  try {
    fd = openSync(parent, constants.O_RDONLY | constants.O_DIRECTORY);
    return moveAside(fd, parent, basename(layout.secretsDir), now);
  } catch (error) {
    throw new WriteError(`${layout.secretsDir} is in the way of the switch and could not be moved aside: ${describeSystemError(error)}`, layout.secretsDir, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Makes `dir` live: a temporary symlink renamed over secretsDir (atomic replace). */
export function switchLive(layout: Layout, dir: string, durable: boolean): void {
  const parent = dirname(layout.secretsDir);
  ensureDirectory(parent);
  const tmp = join(parent, `${tmpLinkPrefix(layout)}${process.pid}`);
  try {
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    symlinkSync(dir, tmp);
    checkpoint();
    renameSync(tmp, layout.secretsDir);
  } catch (error) {
    throw new WriteError(`cannot switch ${layout.secretsDir} to ${dir}: ${describeSystemError(error)}`, layout.secretsDir, { cause: error });
  }
  if (durable) syncDirectory(parent);
  checkpoint();
}

/**
 * Keeps the newest `keep` generations (the live one always among them); 0 keeps everything,
 * as sops-nix's keepGenerations does.
 */
export function prune(layout: Layout, keep: number, liveNumber: number): number[] {
  if (keep === 0) return [];
  const all = listGenerations(layout.mountPoint).filter((n) => n <= liveNumber);
  const doomed = all.slice(0, Math.max(0, all.length - keep)).filter((n) => n !== liveNumber);
  for (const n of doomed) {
    // Renamed out of the numbered names first: a run killed mid-delete leaves a `.tmp-` dir (removed
    // by the next run), never a half-deleted generation under its number.
    let dir = join(layout.mountPoint, String(n));
    const hidden = join(layout.mountPoint, `${TMP_PREFIX}pruned-${n}`);
    try {
      renameSync(dir, hidden);
      dir = hidden;
    } catch {
      // delete it where it is
    }
    rmSync(dir, { recursive: true, force: true });
    checkpoint();
  }
  return doomed;
}

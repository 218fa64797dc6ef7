// Serializes runs: proper-lockfile's mkdir lock beside the mount point, held for the whole run.
// A waiting run polls until its deadline, then fails with the "temporary" exit code. A lock left by
// a killed run is taken over as soon as its owner is known dead (pid check); proper-lockfile's mtime
// staleness is only the backstop for an owner that cannot be known (another pid namespace), and is
// long, because a holder busy decrypting thousands of files must never look stale. Before it
// switches generations a holder verifies, synchronously, that the lock is still its own.
import { readFileSync, readlinkSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { LockError, PermissionError, WriteError, describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDirectory } from './write.js';

const STALE_MS = 120_000;

export interface HeldLock {
  /** True when another process took the lock from us (we must not switch generations then). */
  readonly compromised: boolean;
  /** Throws a LockError unless the lock directory and its owner file are still this run's. */
  verify(): void;
  release(): Promise<void>;
}

function whoAmI(): { pid: number; ns: string; boot: string } {
  const read = (f: () => string) => {
    try {
      return f().trim();
    } catch {
      return '';
    }
  };
  return {
    pid: process.pid,
    ns: read(() => readlinkSync('/proc/self/ns/pid')),
    boot: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  };
}

// Why: the owner file sits beside the lock directory, so one left by a killed holder can outlive
// its directory (proper-lockfile's stale takeover removes only the directory). Naming the directory
// it belongs to keeps a waiter from judging a new holder, which has not written its file yet, dead.
function lockIdentity(lockPath: string): string {
  try {
    const st = statSync(lockPath);
    return `${st.ino}:${st.birthtimeMs}`;
  } catch {
    return '';
  }
}

// Why: a SIGKILLed holder can't release; if its pid is gone in our namespace and boot, the lock is dead.
function ownerIsDead(ownerFile: string, lockPath: string): boolean {
  try {
    const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as ReturnType<typeof whoAmI> & { lock?: string };
    const me = whoAmI();
    if (!owner.lock || owner.lock !== lockIdentity(lockPath)) return false;
    if (!owner.ns || owner.ns !== me.ns || owner.boot !== me.boot || owner.pid === me.pid) return false;
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false;
  }
}

// Why rename first: of several waiters that saw the same dead owner, only the one whose rename
// succeeds removes the lock directory, so a lock just taken by another waiter is never removed.
function reap(lockPath: string, ownerFile: string): boolean {
  const claimed = `${ownerFile}.reap-${process.pid}`;
  try {
    renameSync(ownerFile, claimed);
  } catch {
    return false;
  }
  if (!ownerIsDead(claimed, lockPath)) {
    // A live holder wrote this file after our first look: give it back.
    try {
      renameSync(claimed, ownerFile);
    } catch {
      // nothing sensible left to do; the holder's lock directory is intact
    }
    return false;
  }
  try {
    unlinkSync(claimed);
    rmdirSync(lockPath);
  } catch {
    // already removed
  }
  return true;
}

// Why not LockError: its exit code says "retry later", which a permission problem or a read-only
// file system never gets better from.
function lockFailure(lockPath: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return new PermissionError(`cannot take the run lock ${lockPath}: permission denied`, { cause: error });
  return new WriteError(`cannot take the run lock ${lockPath}: ${describeSystemError(error)}`, lockPath, { cause: error });
}

export async function acquireLock(target: string, options: { timeoutMs: number; log: Logger }): Promise<HeldLock> {
  const lockPath = `${target}.lock`;
  const ownerFile = `${target}.lock.owner`;
  try {
    ensureDirectory(dirname(target));
  } catch (error) {
    // ensureDirectory wraps the system error; one without a cause (a file in the way) says it all.
    const cause = error instanceof WriteError ? error.cause : error;
    throw cause ? lockFailure(lockPath, cause) : error;
  }
  const deadline = Date.now() + options.timeoutMs;
  let compromised = false;
  let waited = false;
  // Set once we hold the lock. proper-lockfile removes its directory on release and in an exit
  // hook; after a takeover that directory is the new holder's, so removal goes through this guard.
  let identity = '';
  const mine = (path: string) => identity === '' || lockIdentity(path) === identity;
  const guardedFs = {
    ...fs,
    rmdir: (path: string, callback: (error: NodeJS.ErrnoException | null) => void) => (mine(path) ? fs.rmdir(path, callback) : callback(null)),
    rmdirSync: (path: string) => (mine(path) ? fs.rmdirSync(path) : undefined),
  };
  for (;;) {
    try {
      const release = await lockfile.lock(target, {
        fs: guardedFs,
        lockfilePath: lockPath,
        realpath: false,
        stale: STALE_MS,
        update: 2000,
        retries: 0,
        onCompromised: (error) => {
          compromised = true;
          options.log.error(`the run lock ${lockPath} was taken by another process: ${error.message}`);
        },
      });
      identity = lockIdentity(lockPath);
      writeFileSync(ownerFile, JSON.stringify({ ...whoAmI(), lock: identity }), { mode: 0o600 });
      // Why both: a thief first replaces the directory, then writes its own owner file.
      const stillOurs = () => {
        try {
          const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as { pid?: number; lock?: string };
          return owner.pid === process.pid && owner.lock === identity && lockIdentity(lockPath) === identity;
        } catch {
          return false;
        }
      };
      return {
        get compromised() {
          return compromised;
        },
        verify() {
          if (compromised || !stillOurs()) throw new LockError(`the run lock ${lockPath} was taken by another process; this run switched nothing`);
        },
        async release() {
          // Only our own owner file: after a takeover it is the new holder's.
          if (stillOurs()) {
            try {
              unlinkSync(ownerFile);
            } catch {
              // already gone
            }
          }
          await release().catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockFailure(lockPath, error);
    }
    if (ownerIsDead(ownerFile, lockPath) && reap(lockPath, ownerFile)) {
      options.log.warn(`took over the run lock of a process that no longer exists (${lockPath})`);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockError(`another materialize run holds ${lockPath}; gave up after ${Math.round(options.timeoutMs / 1000)} s`);
    }
    if (!waited) options.log.info(`waiting for another materialize run to finish (${lockPath})`);
    waited = true;
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

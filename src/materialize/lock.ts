// Serializes runs: proper-lockfile's mkdir lock beside the mount point, held for the whole run.
// A waiting run polls until its deadline, then fails with the "temporary" exit code.
//
// A lock directory is born holding its owner record (pid, pid namespace, boot id, a random token):
// it is made under a private name with its `owner` file inside and renamed into place, so no
// instant exists in which the lock is held by nobody anyone can name. (Written after mkdir, as
// before, a run killed in between left a lock no one could judge, and every run after it waited
// out the stale backstop.) A lock whose owner is known dead is taken over at once; proper-lockfile's
// mtime staleness is only the backstop for an owner that cannot be judged (another pid namespace),
// and is long, because a holder busy decrypting thousands of files must never look stale. Before
// it switches generations a holder verifies, synchronously, that the lock is still its own.
import { mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LockError, PermissionError, WriteError, describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDirectory } from './write.js';
import { pidExists } from '../exec.js';

const STALE_MS = 120_000;
/** Private names a killed run may leave beside the lock: staging, claimed for reaping, released. */
const SIDE_NAME = /\.(new|reap|gone)-(\d+)-[0-9a-f]+$/;
/** A side directory whose pid we cannot judge is removed only once it is this old. */
const SIDE_MAX_AGE_MS = 10 * 60_000;

export interface HeldLock {
  /** Throws a LockError unless the lock directory still holds this run's owner record. */
  verify(): void;
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  ns: string;
  boot: string;
  token: string;
}

function whoAmI(): Omit<Owner, 'token'> {
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

function readOwner(lockDir: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(lockDir, 'owner'), 'utf8')) as Partial<Owner>;
    return typeof owner.pid === 'number' && typeof owner.token === 'string' ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}


// Why the namespace and boot id: a pid is only meaningful in the namespace and boot that wrote it.
function deadOwnerToken(lockDir: string): string | undefined {
  const owner = readOwner(lockDir);
  if (!owner) return undefined;
  const me = whoAmI();
  if (!owner.ns || owner.ns !== me.ns || owner.boot !== me.boot || owner.pid === me.pid) return undefined;
  return !pidExists(owner.pid) ? owner.token : undefined;
}

const sideName = (lockDir: string, kind: 'new' | 'reap' | 'gone') => `${lockDir}.${kind}-${process.pid}-${randomBytes(6).toString('hex')}`;

// Why rename first: the lock path is then either a whole lock or nothing, never an emptied one
// that another run's rename could land on half-way through.
function removeLockDir(lockDir: string): void {
  const gone = sideName(lockDir, 'gone');
  try {
    renameSync(lockDir, gone);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  rmSync(gone, { recursive: true, force: true });
}

// Why rename first: of several waiters that saw the same dead owner, only the one whose rename
// succeeds removes the lock, and it checks the record it moved (the record travels with its
// directory), so a lock just taken by another waiter is never removed for a dead one's sake.
function reap(lockDir: string, deadToken: string): boolean {
  const claimed = sideName(lockDir, 'reap');
  try {
    renameSync(lockDir, claimed);
  } catch {
    return false;
  }
  if (readOwner(claimed)?.token === deadToken) {
    rmSync(claimed, { recursive: true, force: true });
    return true;
  }
  // A live holder took the lock after our first look: give it back. If a third run took the
  // vacant path meanwhile, the robbed holder's verify() fails before its switch (exit 75).
  try {
    renameSync(claimed, lockDir);
  } catch {
    rmSync(claimed, { recursive: true, force: true });
  }
  return false;
}

// Why: staging and removal directories of killed runs would pile up beside the lock forever.
function sweepSideDirectories(lockDir: string): void {
  const prefix = `${basename(lockDir)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(lockDir)).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const match = SIDE_NAME.exec(name);
    if (!match) continue;
    const path = join(dirname(lockDir), name);
    try {
      const old = Date.now() - statSync(path).mtimeMs > SIDE_MAX_AGE_MS;
      if (Number(match[2]) !== process.pid && (!pidExists(Number(match[2])) || old)) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
}

// Why not LockError: its exit code says "retry later", which a permission problem or a read-only
// file system never gets better from.
function lockFailure(lockPath: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return new PermissionError(`cannot take the run lock ${lockPath}: permission denied`, { cause: error });
  return new WriteError(`cannot take the run lock ${lockPath}: ${describeSystemError(error)}`, lockPath, { cause: error });
}

type Callback<T = void> = (error: NodeJS.ErrnoException | null, result?: T) => void;

// Why synchronous: these are single system calls on the lock beside the mount point; done through
// the thread pool, the first one started the pool's threads and cost every run several ms.
const viaSync =
  <A extends unknown[], T>(call: (...args: A) => T) =>
  (...args: [...A, Callback<T>]) => {
    const callback = args.pop() as Callback<T>;
    let result: T;
    try {
      result = call(...(args as unknown as A));
    } catch (error) {
      callback(error as NodeJS.ErrnoException);
      return;
    }
    callback(null, result);
  };

/**
 * The file system proper-lockfile works through (the only calls it makes): its mkdir makes the
 * lock directory appear with its owner record already inside; its rmdir (release, stale takeover,
 * exit hook) removes a lock directory whole, and once this run holds a lock, only a directory that
 * is still its own. Only these members: copying all of node:fs would read its lazy getters, which
 * load fs/promises and the stream modules.
 */
function lockFs(owned: { token: string }) {
  const mine = (path: string) => owned.token === '' || readOwner(path)?.token === owned.token;
  const mkdirWithOwner = (path: string): void => {
    const token = randomBytes(12).toString('hex');
    const staging = sideName(path, 'new');
    try {
      mkdirSync(staging, 0o700);
      writeFileSync(join(staging, 'owner'), JSON.stringify({ ...whoAmI(), token }), { mode: 0o600 });
      // rename(2) onto a directory that is not empty fails: that is the lock being held. Every
      // lock directory holds its owner record from its first instant, so none is ever empty.
      renameSync(staging, path);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw Object.assign(new Error(`${path} exists`), { code: 'EEXIST' });
      throw error;
    }
    owned.token = token;
  };
  return {
    realpath: viaSync((path: string): string => realpathSync(path)),
    stat: viaSync((path: string): Stats => statSync(path)),
    utimes: viaSync((path: string, atime: Date, mtime: Date): void => utimesSync(path, atime, mtime)),
    mkdir: (path: string, callback: Callback) => {
      try {
        mkdirWithOwner(path);
        callback(null);
      } catch (error) {
        callback(error as NodeJS.ErrnoException);
      }
    },
    rmdir: (path: string, callback: Callback) => {
      try {
        if (mine(path)) removeLockDir(path);
        callback(null);
      } catch (error) {
        callback(error as NodeJS.ErrnoException);
      }
    },
    rmdirSync: (path: string) => {
      if (mine(path)) removeLockDir(path);
    },
  };
}

export async function acquireLock(target: string, options: { timeoutMs: number; log: Logger }): Promise<HeldLock> {
  const lockPath = `${target}.lock`;
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
  // Set by our mkdir when the lock is ours; proper-lockfile's later removals go through it.
  const owned = { token: '' };
  const guardedFs = lockFs(owned);
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
      sweepSideDirectories(lockPath);
      const stillOurs = () => readOwner(lockPath)?.token === owned.token;
      return {
        verify() {
          if (compromised || !stillOurs()) throw new LockError(`the run lock ${lockPath} was taken by another process; this run switched nothing`);
        },
        async release() {
          await release().catch(() => undefined);
        },
      };
    } catch (error) {
      owned.token = '';
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockFailure(lockPath, error);
    }
    const dead = deadOwnerToken(lockPath);
    if (dead !== undefined && reap(lockPath, dead)) {
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

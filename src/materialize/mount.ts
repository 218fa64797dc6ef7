// The mount point of the generations: what is mounted where (from /proc/self/mountinfo), and its
// preparation before a run writes there: a ramfs or tmpfs mounted (root only) unless one is there
// already, or a plain directory, mode 0751, owned root:keys when root.
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { childFailure, firstLine, runChild } from '../exec.js';
import { PermissionError, WriteError, describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDirectory, type Ownership } from './write.js';

/** The mounts of this process, in mount order: mount point (unescaped) and file system type. */
function mounts(): { point: string; type: string }[] {
  const out: { point: string; type: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields.length < 5) continue;
    out.push({ point: fields[4]!.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))), type: fields[sep + 1] ?? '' });
  }
  return out;
}

/** The file system type mounted exactly at `path` (the last mount there wins), or undefined. */
export function mountedType(path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined;
  }
  return mounts().findLast((m) => m.point === real)?.type;
}

/** Whether `path` (or its nearest existing ancestor) lives on tmpfs or ramfs, where fsync buys nothing. */
export function isMemoryFileSystem(path: string): boolean {
  let probe = path;
  while (!existsSync(probe)) {
    if (dirname(probe) === probe) return false;
    probe = dirname(probe);
  }
  const real = realpathSync(probe);
  // The longest mount point containing it; the last one mounted there when several are.
  let best: { point: string; type: string } | undefined;
  for (const m of mounts()) {
    const within = m.point === '/' || real === m.point || real.startsWith(`${m.point}/`);
    if (within && (!best || m.point.length >= best.point.length)) best = m;
  }
  return best?.type === 'tmpfs' || best?.type === 'ramfs';
}

/**
 * Prepares the mount point: with "ramfs"/"tmpfs", mounts it (root only) unless something is mounted
 * there already; with "none", a plain directory. Either way mode 0751, owned root:keys when root.
 */
export async function prepareMountPoint(mountPoint: string, mount: 'ramfs' | 'tmpfs' | 'none', owner: Ownership, options: { root: boolean; log: Logger }): Promise<void> {
  // Refused before anything is created: only root can mount.
  if (mount !== 'none' && !options.root && mountedType(mountPoint) === undefined) {
    throw new PermissionError(`mounting ${mount} at ${mountPoint} needs root; run as root, or set "mount": "none" for an unprivileged run`);
  }
  try {
    ensureDirectory(dirname(mountPoint));
    ensureDirectory(mountPoint, 0o751);
  } catch (error) {
    // ensureDirectory wraps the system error in a WriteError; its cause tells a permission problem.
    const code = ((error instanceof WriteError ? error.cause : error) as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EACCES' || code === 'EPERM') throw new PermissionError(`cannot create ${mountPoint}: permission denied`, { cause: error });
    if (error instanceof WriteError) throw error;
    throw new WriteError(`cannot create ${mountPoint}: ${describeSystemError(error)}`, mountPoint, { cause: error });
  }
  // Why lstat: owner and mode are set on mountPoint below; a symlink there would redirect them.
  if (!lstatSync(mountPoint).isDirectory()) throw new WriteError(`${mountPoint} is not a directory (a symlink or a file); refusing to use it as the mount point`, mountPoint);
  if (mount !== 'none') {
    const current = mountedType(mountPoint);
    if (current === undefined) {
      const result = await runChild('mount', ['-t', mount, '-o', `nodev,nosuid,noexec,mode=0751`, 'none', mountPoint], { timeoutMs: 30_000 });
      if (result.code !== 0) throw new PermissionError(`cannot mount ${mount} at ${mountPoint}: ${firstLine(result.stderr) || childFailure(result)}`);
      options.log.info(`mounted ${mount} at ${mountPoint}`);
    } else if (current !== mount) {
      options.log.debug(`${mountPoint} is already a ${current} mount; using it`);
    }
  }
  try {
    if (options.root) chownSync(mountPoint, owner.uid, owner.gid);
    chmodSync(mountPoint, owner.mode);
  } catch (error) {
    if (options.root) throw new WriteError(`cannot set owner and mode of ${mountPoint}: ${describeSystemError(error)}`, mountPoint, { cause: error });
  }
}

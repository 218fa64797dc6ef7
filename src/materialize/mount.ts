// The mount point of the generations: what is mounted where (from /proc/self/mountinfo), and its
// preparation before a run writes there: a ramfs or tmpfs mounted (root only) unless one is there
// already, or a plain directory, mode 0751, owned root:keys when root — in a parent no one else can
// write, and through a no-follow descriptor, so that no one can swap it for a symlink meanwhile.
import { closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { childFailure, firstLine, runChild } from '../exec.js';
import { PermissionError, WriteError, describeSystemError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDirectory, type Ownership } from './write.js';

/** The mounts of this process, in mount order: mount point (unescaped), device (`major:minor`) and file system type. */
function mounts(): { point: string; device: string; type: string }[] {
  const out: { point: string; device: string; type: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields.length < 5) continue;
    out.push({ point: fields[4]!.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))), device: fields[2] ?? '', type: fields[sep + 1] ?? '' });
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

/** Who may write a directory besides root and the running user: a description, or undefined when no one. */
function otherWriters(st: Stats, self: number): string | undefined {
  if (st.uid !== 0 && st.uid !== self) return `it belongs to uid ${st.uid}`;
  if ((st.mode & 0o020) !== 0 && st.gid !== 0) return `its group (gid ${st.gid}) may write it`;
  if ((st.mode & 0o002) !== 0) return 'everyone may write it';
  return undefined;
}

/**
 * Refuses a mount point whose parent directory, or any directory above it, someone other than root
 * and the running user could write: they could swap the mount point (or a directory on the way) for
 * a symlink between two steps and have root mount over, chown or chmod what it points to. A sticky
 * directory above the parent (`/tmp`) is fine when the next one belongs to root or the running user;
 * the parent itself must not be writable by others at all. Symlinks on the way must be root's or
 * the running user's. Missing directories are checked from the nearest existing one up.
 */
export function assertSafeParent(mountPoint: string): void {
  const self = process.geteuid?.() ?? 0;
  const refuse = (dir: string, why: string) =>
    new WriteError(`refusing the mount point ${mountPoint}: ${dir} is not safe (${why}); a user who can write there could swap the mount point for a symlink. Use a directory only root can write (such as /run)`, mountPoint);
  let parent = dirname(resolve(mountPoint));
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  // Symlinks in the path as written: each must be one that no one else can change.
  const parts = parent.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const st = lstatSync(prefix);
    if (st.isSymbolicLink() && st.uid !== 0 && st.uid !== self) throw refuse(prefix, `a symlink owned by uid ${st.uid}`);
  }
  // The directories the path really goes through, from the parent up to /.
  const real = realpathSync(parent);
  let child: Stats | undefined;
  for (let dir = real; ; dir = dirname(dir)) {
    const st = lstatSync(dir);
    const why = otherWriters(st, self);
    const sticky = (st.mode & 0o1000) !== 0;
    const others = why && !(why === 'everyone may write it' && sticky && child !== undefined && (child.uid === 0 || child.uid === self));
    if (others) throw refuse(dir, why);
    if (dirname(dir) === dir) break;
    child = st;
  }
}

/** The mount point's directory, opened without following a symlink (a symlink or a file there is refused). */
function openDirectory(mountPoint: string): number {
  try {
    return openSync(mountPoint, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new WriteError(`${mountPoint} is not a directory (a symlink or a file); refusing to use it as the mount point`, mountPoint, { cause: error });
    throw new WriteError(`cannot open ${mountPoint}: ${describeSystemError(error)}`, mountPoint, { cause: error });
  }
}

/** The type of the file system whose root the open directory `fd` is (something mounted right there), or undefined. */
function mountedTypeOf(fd: number): string | undefined {
  const dev = fstatSync(fd, { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const at = readlinkSync(`/proc/self/fd/${fd}`);
  return mounts().findLast((m) => m.point === at && m.device === `${major}:${minor}`)?.type;
}

/** Whether the open directory `fd` is still the one at `path` (not removed, renamed or replaced). */
function stillAt(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd);
    const there = lstatSync(path);
    return open.nlink > 0 && open.dev === there.dev && open.ino === there.ino;
  } catch {
    return false;
  }
}

/**
 * Prepares the mount point: with "ramfs"/"tmpfs", mounts it (root only) unless something is mounted
 * there already; with "none", a plain directory. Either way mode 0751, owned root:keys when root.
 * Everything after the checks is done through a descriptor opened with O_NOFOLLOW (the mount
 * through `/proc/<pid>/fd/<n>`, which the kernel resolves to that very directory): swapping the
 * mount point for a symlink at any instant redirects nothing.
 */
export async function prepareMountPoint(mountPoint: string, mount: 'ramfs' | 'tmpfs' | 'none', owner: Ownership, options: { root: boolean; log: Logger }): Promise<void> {
  // Refused before anything is created: only root can mount.
  if (mount !== 'none' && !options.root && mountedType(mountPoint) === undefined) {
    throw new PermissionError(`mounting ${mount} at ${mountPoint} needs root; run as root, or set "mount": "none" for an unprivileged run`);
  }
  assertSafeParent(mountPoint);
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
  let fd = openDirectory(mountPoint);
  try {
    if (mount !== 'none') {
      const current = mountedTypeOf(fd);
      if (current === undefined) {
        // --no-canonicalize: mount(8) must hand the magic link to the kernel as is, not resolve it to a path.
        const target = `/proc/${process.pid}/fd/${fd}`;
        const result = await runChild('mount', ['--no-canonicalize', '-t', mount, '-o', 'nodev,nosuid,noexec,mode=0751', 'none', target], { timeoutMs: 30_000 });
        if (result.code !== 0) {
          if (!stillAt(fd, mountPoint)) throw new WriteError(`${mountPoint} was replaced while ${mount} was being mounted on it; refusing to use it`, mountPoint);
          throw new PermissionError(`cannot mount ${mount} at ${mountPoint}: ${firstLine(result.stderr) || childFailure(result)}`);
        }
        closeSync(fd);
        fd = -1;
        // The new mount's root, reopened by path: what is there now must be it.
        fd = openDirectory(mountPoint);
        if (mountedTypeOf(fd) !== mount) throw new WriteError(`${mountPoint} was replaced while ${mount} was being mounted on it; refusing to use it`, mountPoint);
        options.log.info(`mounted ${mount} at ${mountPoint}`);
      } else if (current !== mount) {
        options.log.debug(`${mountPoint} is already a ${current} mount; using it`);
      }
    }
    try {
      if (options.root) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, owner.mode);
    } catch (error) {
      if (options.root) throw new WriteError(`cannot set owner and mode of ${mountPoint}: ${describeSystemError(error)}`, mountPoint, { cause: error });
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

// Mount helpers: reading /proc/self/mountinfo, mounting small file systems for tests, and
// unmounting everything under a temp dir — so the suite never leaves a mount behind (it must run
// twice on one machine, and a mounted dir cannot be removed).
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  /** Per-mount options (rw, nodev, nosuid, noexec, …). */
  options: string[];
  /** Super-block options (mode=751, size=…). */
  superOptions: string[];
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

export function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      return { mountPoint: unescape(f[4]!), fsType: f[sep + 1]!, options: f[5]!.split(','), superOptions: (f[sep + 3] ?? '').split(',') };
    });
}

/** The mounts stacked exactly at `path`, bottom first. */
export function mountsAt(path: string): MountEntry[] {
  const real = realpathSync(path);
  return mounts().filter((m) => m.mountPoint === real);
}

export function mount(type: string, dir: string, options: string): void {
  execFileSync('mount', ['-t', type, '-o', options, 'none', dir], { stdio: 'pipe' });
}

export function remount(dir: string, options: string): void {
  execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'pipe' });
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

/** Unmounts every mount at or below `dir` (deepest first, stacked ones one by one). */
export function unmountUnder(dir: string): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return;
  }
  for (;;) {
    const inside = mounts()
      .map((m) => m.mountPoint)
      .filter((p) => p === real || p.startsWith(`${real}/`))
      .sort((a, b) => b.length - a.length);
    if (inside.length === 0) return;
    execFileSync('umount', ['-l', inside[0]!], { stdio: 'pipe' });
  }
}

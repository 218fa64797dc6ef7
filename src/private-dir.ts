// Private directories for files that hold a secret for a moment: the files `materialize run` hands
// its command (--file) and the GnuPG home an SSH key is imported into (keys.gnupgSshKeyPaths).
// Each is made by its caller with mkdtemp (mode 0700) as `<prefix><pid>-…` in a base directory off
// the disk where one can be found, and removed when done; a run killed outright cannot remove its
// own, so the next run removes those whose process is gone.
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidExists } from './exec.js';

/** A base directory that may serve: its path, or undefined where it cannot here. */
export type Place = (env: NodeJS.ProcessEnv) => string | undefined;

/** The places a private directory may go; each caller lists them in its own order (privateBase). */
export const places = {
  /** systemd's RuntimeDirectory= of the unit this process runs in (the first, when it names several). */
  unit: (env) => env.RUNTIME_DIRECTORY?.split(':')[0] || undefined,
  /** $XDG_RUNTIME_DIR, as it is set. */
  session: (env) => env.XDG_RUNTIME_DIR || undefined,
  /** $XDG_RUNTIME_DIR when it is this user's alone: absolute, a directory the effective user owns, closed to group and others. */
  ownSession: (env) => {
    const dir = env.XDG_RUNTIME_DIR;
    if (!dir?.startsWith('/')) return undefined;
    try {
      const st = statSync(dir);
      return st.isDirectory() && st.uid === process.geteuid?.() && (st.mode & 0o077) === 0 ? dir : undefined;
    } catch {
      return undefined;
    }
  },
  /** /run, for root: a tmpfs only root may write to. */
  run: () => (process.getuid?.() === 0 ? '/run' : undefined),
  /** /dev/shm where there is one: a tmpfs, sticky, so a directory made in it stays its maker's. */
  shm: () => {
    try {
      return statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;
    } catch {
      return undefined;
    }
  },
} satisfies Record<string, Place>;

// Why a list: the two callers run in different settings (a unit at boot, a shell at the prompt)
// and look in different places first; what they share is the lookup and the last resort.
/** The first of `order` that serves, else the temporary directory (which may be on a disk). */
export function privateBase(order: readonly Place[], env: NodeJS.ProcessEnv = process.env): string {
  for (const place of order) {
    const dir = place(env);
    if (dir) return dir;
  }
  return tmpdir();
}


// Why by pid: the name is all that is left of a run that was killed outright (SIGKILL), and its
// pid says whether it still runs (this process's own are alive, so never listed).
/** The entries of `base` named `<prefix><pid>-…` whose process is gone, as paths; none when `base` cannot be read. */
export function leftovers(base: string, prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  return names.filter((name) => {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    return pid && !pidExists(pid);
  }).map((name) => join(base, name));
}

// Where compiled code is cached: the bundle's own V8 code cache (code-cache.ts) and, for the
// packages outside the bundle (age-encryption, the 1Password SDK), Node's module compile cache
// (Node ≥ 22.1). Best effort: a cache that cannot be used is skipped silently, and nothing about it
// can fail a run.
import module from 'node:module';
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the cache lives: MATERIALIZE_COMPILE_CACHE (a path, or "off"); for root
 * /var/cache/materialize/compile — persistent, so the run at boot, the one on the critical path,
 * finds it (/run is empty then, and /tmp may not be mounted yet); for other users
 * $XDG_CACHE_HOME/materialize/compile (~/.cache).
 */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): string | undefined {
  const chosen = env.MATERIALIZE_COMPILE_CACHE;
  if (chosen === 'off') return undefined;
  if (chosen) return chosen;
  if (uid === 0) return '/var/cache/materialize/compile';
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(env.HOME?.startsWith('/') ? env.HOME : homedir(), '.cache');
  return join(base, 'materialize', 'compile');
}

// Why the owner and mode check: V8 trusts what it reads from its code cache, so a directory
// someone else can write to would let them change what this process runs (as root, at boot).
function usable(dir: string, uid: number): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  return st.isDirectory() && (uid < 0 || st.uid === uid) && (st.mode & 0o022) === 0;
}

/** The cache directory, made if needed, when it is safe to use (see `usable`); else undefined. */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const uid = process.getuid?.() ?? -1;
    const dir = compileCacheDir(env, uid);
    return dir && usable(dir, uid) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Turns Node's compile cache on in `dir` where Node offers it (for the modules outside the bundle); returns whether it is on. */
export function enableCompileCache(dir: string | undefined): boolean {
  const enable = (module as { enableCompileCache?: (dir?: string) => { status: number } }).enableCompileCache;
  if (typeof enable !== 'function' || dir === undefined) return false; // Node < 22.1, or no safe place
  try {
    const { status } = enable(dir);
    const { constants } = module as unknown as { constants?: { compileCacheStatus?: Record<string, number> } };
    const ok = constants?.compileCacheStatus;
    return ok ? status === ok.ENABLED || status === ok.ALREADY_ENABLED : false;
  } catch {
    return false;
  }
}

// Node's module compile cache (Node ≥ 22.1): V8 keeps the compiled code of our chunks on disk, so a
// run no longer parses and compiles the bundle it loads. Best effort: a cache that cannot be used
// is skipped silently, and nothing about it can fail a run.
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

/** Turns the compile cache on where Node offers it; returns whether it is on. */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): boolean {
  const enable = (module as { enableCompileCache?: (dir?: string) => { status: number } }).enableCompileCache;
  if (typeof enable !== 'function') return false; // Node < 22.1
  try {
    const uid = process.getuid?.() ?? -1;
    const dir = compileCacheDir(env, uid);
    if (!dir || !usable(dir, uid)) return false;
    const { status } = enable(dir);
    const { constants } = module as unknown as { constants?: { compileCacheStatus?: Record<string, number> } };
    const ok = constants?.compileCacheStatus;
    return ok ? status === ok.ENABLED || status === ok.ALREADY_ENABLED : false;
  } catch {
    return false;
  }
}

// The bundle runs as one script with a V8 code cache of its own, written after a run. Why: Node's
// module compile cache (Node ≥ 22.1) keeps each module's code as compiled before it ran, so every
// function a run calls is compiled again at every start, and Node 20 has no such cache at all; the
// ES module loader also costs its own time per module. Here the bundle (dist/materialize.cjs) is
// one vm.Script, and after a run its cache holds the functions that command used: the next run of
// the same command compiles nothing it did before. The cache lives where the compile cache does,
// under the same rule (a directory of the running user that no one else can write: V8 trusts what
// it reads there), named by the bundle's build id, the Node version and the command, since V8 only
// checks that a cache was made by the same V8 for a source of the same length.
import { closeSync, constants, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** The bundle's exports: the program's entry. */
interface Bundle {
  main(): Promise<void>;
}

// The commands a cache is kept for (one each: what `apply` compiles is not what `get` does).
const COMMANDS = new Set(['apply', 'check', 'status', 'keys', 'import', 'get', 'run', 'rollback']);

/** The command of an argv (apply when none is named: it is the default). */
export function commandOf(argv: readonly string[]): string {
  return argv.find((a) => COMMANDS.has(a)) ?? (argv.some((a) => a === '-V' || a === '--version' || a === '-h' || a === '--help' || a === 'help') ? 'cli' : 'apply');
}

/** Removes the caches of other builds (an upgrade leaves its predecessor's behind, never to be read again). */
function pruneOtherBuilds(dir: string, id: string): void {
  for (const name of readdirSync(dir)) {
    if (!/^materialize-[0-9a-f]{16}-.*\.v8$/.test(name) || name.startsWith(`materialize-${id}-`)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // another run removed it first
    }
  }
}

/** Writes the cache next to its final name, then renames it: a reader sees a whole file or none. */
function save(script: Script, file: string, id: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    pruneOtherBuilds(dirname(file), id);
  } catch {
    // Best effort: a cache that cannot be written costs the next run its compiling, nothing else.
    try {
      unlinkSync(tmp);
    } catch {
      // never made
    }
  }
}

/**
 * Runs the bundle `file` (its build id `id`) with its code cache in `cacheDir` (none: no cache), and
 * `load` as its import() (the bundle, a script, has no module loader of its own).
 */
export function runBundle(file: string, id: string, cacheDir: string | undefined, load: (specifier: string) => Promise<unknown>): Promise<void> {
  const source = readFileSync(file, 'utf8');
  const cacheFile = cacheDir === undefined ? undefined : join(cacheDir, `materialize-${id}-${process.version}-${process.arch}-${commandOf(process.argv.slice(2))}.v8`);
  let cached: Buffer | undefined;
  try {
    cached = cacheFile === undefined ? undefined : readFileSync(cacheFile);
  } catch {
    cached = undefined; // the first run of this command with this build and Node
  }
  // The wrapper keeps line 1 of the bundle on line 1, so stack traces and the source map agree.
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`, { filename: file, ...(cached ? { cachedData: cached } : {}) });
  if (cacheFile !== undefined && (!cached || script.cachedDataRejected)) process.once('exit', () => save(script, cacheFile, id));
  const module = { exports: {} as Bundle };
  script.runInThisContext()(module.exports, require, module, file, dirname(file), load);
  return module.exports.main();
}

// `materialize run [--env VAR=NAME]… [--file VAR=NAME]… -- CMD ARGS…`: CMD with secrets in its
// environment, or as paths to private files, the wrapper functions users wrote around `rbw get`
// made declarative. Values never reach any argv: the environment is handed to execve, files are
// written here (0600, in a private directory) and only their paths are passed.
//
// Node cannot exec(), so this process stays CMD's parent: it forwards the signals a parent receives
// for its child, removes the files when CMD ends (also when CMD is killed, and when this process is
// told to stop), then exits with CMD's code or dies of CMD's signal, as a shell would show it.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { leftovers, places, privateBase } from '../private-dir.js';
import { originalUmask } from '../umask.js';
import { resolveValues } from './get.js';
import { writeSecretFile } from './write.js';

export interface RunOptions {
  configFile?: string;
  /** VAR=NAME pairs: the secret NAME's value in the environment variable VAR. */
  env: readonly string[];
  /** VAR=NAME pairs: the path of a private file holding NAME's value in VAR. */
  files: readonly string[];
  /** The command and its arguments. */
  command: readonly string[];
  log: Logger;
  timeoutMs: number;
  libs?: Record<string, unknown>;
}

/** How CMD ended: its exit code, or the signal that killed it (null code). */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Signals passed on to CMD. SIGINT and SIGQUIT come from the terminal to CMD as well, see below. */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const PREFIX = 'materialize-run-';

/** Parses `VAR=NAME`; the variable must be a shell-usable name. */
function parsePair(pair: string, option: string): [string, string] {
  const eq = pair.indexOf('=');
  const variable = eq > 0 ? pair.slice(0, eq) : '';
  const name = eq > 0 ? pair.slice(eq + 1) : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable) || name === '') throw new UsageError(`${option} ${JSON.stringify(pair)}: expected VAR=NAME (a variable name, "=", a secret name)`);
  return [variable, name];
}

/** The variables to set, checked: no variable twice, at least one secret. */
function plan(options: RunOptions): { env: [string, string][]; files: [string, string][] } {
  const env = options.env.map((p) => parsePair(p, '--env'));
  const files = options.files.map((p) => parsePair(p, '--file'));
  const seen = new Set<string>();
  for (const [variable] of [...env, ...files]) {
    if (seen.has(variable)) throw new UsageError(`${variable} is set twice; give each variable one secret`);
    seen.add(variable);
  }
  if (options.command.length === 0) throw new UsageError('no command given: materialize run [--env VAR=NAME]… [--file VAR=NAME]… -- COMMAND [ARGS…]');
  return { env, files };
}

// Why refuse rather than convert: an environment holds C strings of text; a value with a NUL byte
// would be cut short, and bytes that are not UTF-8 would be changed on the way.
/** A value as environment text, or a usage error saying to pass it as a file. */
function asEnvText(variable: string, name: string, value: Buffer): string {
  const text = value.toString('utf8');
  if (value.includes(0) || !Buffer.from(text, 'utf8').equals(value)) {
    throw new UsageError(`${JSON.stringify(name)} is not text an environment variable can hold (a NUL byte, or not UTF-8): pass it as a file, --file ${variable}=${name}`);
  }
  return text;
}

// Why $XDG_RUNTIME_DIR first, and only when it is ours: a tmpfs of this user's alone, cleared at
// logout (a `su` shell keeps the other user's). Without one (a cron job), /dev/shm keeps the files
// off the disk; the temporary directory is the last resort.
/** The directory the private directories are made in. */
const runBase = () => privateBase([places.ownSession, places.shm]);

/** Removes private directories of earlier runs that were killed outright (SIGKILL leaves no chance to clean). */
function sweepDeadRuns(base: string, log: Logger): void {
  for (const path of leftovers(base, PREFIX)) {
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== process.geteuid?.()) continue;
      rmSync(path, { recursive: true, force: true });
      log.debug(`removed ${path}, left by a run that was killed`);
    } catch {
      // another run took it
    }
  }
}

/** Writes each file secret into a new private directory; returns the directory and VAR → path. */
function writeFiles(files: readonly [string, string][], values: ReadonlyMap<string, Buffer>, log: Logger): { dir: string | undefined; paths: Record<string, string> } {
  if (files.length === 0) return { dir: undefined, paths: {} };
  const base = runBase();
  sweepDeadRuns(base, log);
  const dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
  const paths: Record<string, string> = {};
  const self = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, mode: 0o600 };
  for (const [variable, name] of files) {
    const path = join(dir, variable);
    writeSecretFile(path, values.get(name)!, self, { chown: false, durable: false });
    paths[variable] = path;
  }
  return { dir, paths };
}

// Why look at the terminal: Ctrl-C and Ctrl-\ go to the whole foreground process group, CMD
// included (it shares ours, so it can read the terminal). Passing them on again would deliver them
// twice, and many interactive programs take a second Ctrl-C as "quit now". Sent by `kill` to this
// process alone, they must be passed on.
/** Whether this process is in the foreground process group of its terminal (/proc/self/stat: tty_nr, pgrp, tpgid). */
function inTerminalForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [pgrp, ttyNr, tpgid] = [Number(fields[2]), Number(fields[4]), Number(fields[5])];
    return ttyNr !== 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

/** Dies of `signal` as CMD did (the default action, after our handlers are gone); falls back to 128+n. */
function dieOf(signal: NodeJS.Signals): number {
  for (const s of FORWARDED) process.removeAllListeners(s);
  try {
    process.kill(process.pid, signal);
  } catch {
    // not a signal we may send ourselves
  }
  // Still here: the signal's default action is to ignore it (or Node ignores it, as SIGPIPE).
  return 128 + (osConstants.signals[signal] ?? 0);
}

/**
 * Runs the command with its secrets and returns its exit code; when it was killed by a signal,
 * this process dies of the same signal (it returns only if that signal does not end a process).
 */
export async function runWithSecrets(options: RunOptions): Promise<number> {
  const { env, files } = plan(options);
  const names = [...new Set([...env, ...files].map(([, name]) => name))];
  const values = names.length ? await resolveValues(names, { configFile: options.configFile, log: options.log, timeoutMs: options.timeoutMs, libs: options.libs }) : new Map<string, Buffer>();
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [variable, name] of env) childEnv[variable] = asEnvText(variable, name, values.get(name)!);

  let dir: string | undefined;
  let child: ChildProcess | undefined;
  const cleanup = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  };
  // Installed before the files exist: a signal at any instant from here on removes them.
  const onSignal = (signal: NodeJS.Signals) => {
    if (!child) {
      cleanup();
      process.exitCode = dieOf(signal);
      return;
    }
    if ((signal === 'SIGINT' || signal === 'SIGQUIT') && inTerminalForeground()) return;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  for (const s of FORWARDED) process.on(s, onSignal);

  try {
    const written = writeFiles(files, values, options.log);
    dir = written.dir;
    Object.assign(childEnv, written.paths);
  } catch (error) {
    cleanup();
    for (const s of FORWARDED) process.removeListener(s, onSignal);
    throw error;
  }
  for (const value of values.values()) value.fill(0);

  const [file, ...args] = options.command as [string, ...string[]];
  let ended: Ended | { error: NodeJS.ErrnoException };
  try {
    ended = await new Promise<Ended | { error: NodeJS.ErrnoException }>((resolve) => {
      // The command gets the umask its caller had, not the 077 this program works under.
      const mask = process.umask(originalUmask());
      try {
        child = spawn(file, args, { stdio: 'inherit', env: childEnv });
      } finally {
        process.umask(mask);
      }
      child.on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
  } finally {
    cleanup();
  }
  if ('signal' in ended && ended.signal) return dieOf(ended.signal);
  for (const s of FORWARDED) process.removeListener(s, onSignal);
  if ('error' in ended) {
    const notFound = ended.error.code === 'ENOENT';
    options.log.error(`${file}: ${notFound ? 'command not found' : `cannot be run (${ended.error.code ?? 'error'})`}`);
    return notFound ? 127 : 126;
  }
  return ended.code ?? 0;
}

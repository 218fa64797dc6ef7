// Runs the built CLI (dist-test/cli.js: the production build plus test hooks, src/test-hooks.ts)
// the way users and systemd do, and scans every byte it prints
// for the plaintexts the tests know: no secret value may ever reach stdout or stderr.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI with test hooks; MATERIALIZE_DIST (relative to the repo) selects another build directory. */
export const CLI = join(REPO, process.env.MATERIALIZE_DIST ?? 'dist-test', 'cli.js');
/** The production build (no test hooks), as shipped. */
export const PRODUCTION_CLI = join(REPO, 'dist', 'cli.js');
/** The JavaScript files of the shipped build: the entry and the program's bundle. */
export const SHIPPED_FILES = [PRODUCTION_CLI, join(REPO, 'dist', 'materialize.cjs')];

/**
 * Plaintexts the suite has seen, as raw bytes (a value need not be UTF-8), keyed by their hex.
 * Registered by the tests that create or decrypt them; every byte runCli sees is scanned for them.
 */
const knownValues = new Map<string, Buffer>();

/** Registers plaintexts that must never appear in any output, as the bytes they are (strings as UTF-8). */
export function registerSecretValues(...values: (string | Buffer)[]): void {
  for (const v of values) {
    const bytes = Buffer.isBuffer(v) ? Buffer.from(v) : Buffer.from(v, 'utf8');
    if (bytes.length > 0) knownValues.set(bytes.toString('hex'), bytes);
  }
}

/**
 * A value of 4 bytes or more is distinctive: found anywhere in the output, it is a leak. So is a
 * shorter one holding a byte our output never contains: a control byte (JSON escapes them; names
 * refuse them) or a byte that never occurs in UTF-8 (0xC0, 0xC1, 0xF5–0xFF; the output is UTF-8).
 * Other 1–3 byte values ("7", "ok") occur by chance in sizes, modes and words, so they are looked
 * for only where a printed value would stand whole: a line of its own, after `=` or `: ` up to the
 * end of a line, or as a JSON string ("7"). That is how a leak would print, never how the
 * program's own text uses such characters.
 */
function leaks(output: Buffer, value: Buffer): boolean {
  if (value.length >= 4 || value.some((b) => (b < 0x20 && b !== 0x0a && b !== 0x09) || b === 0x7f || b === 0xc0 || b === 0xc1 || b >= 0xf5)) {
    return output.includes(value);
  }
  const v = value.toString('latin1');
  const text = output.toString('latin1');
  const quoted = JSON.stringify(value.toString('utf8'));
  return text.split('\n').some((line) => line === v || line.endsWith(`=${v}`) || line.endsWith(`: ${v}`)) || text.includes(quoted);
}

/** Fails when the output (raw bytes; a string is taken as UTF-8) contains a registered value. */
export function assertNoSecretValues(output: string | Buffer, context: string): void {
  const bytes = typeof output === 'string' ? Buffer.from(output, 'utf8') : output;
  for (const v of knownValues.values()) {
    assert.ok(!leaks(bytes, v), `${context}: output contains a secret value (${v.length} bytes) — values must never be printed`);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Run as this user and group (the test must be root): the unprivileged paths. */
  uid?: number;
  gid?: number;
  /** Another build of the CLI (PRODUCTION_CLI: the one without test hooks). */
  cli?: string;
  /**
   * Run in a private mount namespace where this file is /etc/group (the test must be root): a test
   * that needs a group such as `keys` gets it there, never on the machine, so neither a group left
   * behind nor a suite running beside this one can change what the test sees.
   */
  groupFile?: string;
  /** Printing a value on stdout is the command's job (`get`, or the command `run` starts): only stderr is scanned. */
  valuesOnStdout?: boolean;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const cli = options.cli ?? CLI;
    const [cmd, argv] = options.groupFile
      ? ['unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/group && exec "$@"', options.groupFile, process.execPath, cli, ...args]]
      : [process.execPath, [cli, ...args]];
    const child = spawn(cmd, argv, {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, MATERIALIZE_CONFIG: undefined, ...options.env } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    });
    // Raw bytes: the scan must see what was written, not a UTF-8 decoding of it.
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const context = `materialize ${args.join(' ')}`;
      const [stdout, stderr] = [Buffer.concat(out), Buffer.concat(err)];
      try {
        if (!options.valuesOnStdout) assertNoSecretValues(stdout, `${context} (stdout)`);
        assertNoSecretValues(stderr, `${context} (stderr)`);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ code, signal, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
    });
    child.stdin.end(options.input ?? '');
  });
}

export const isRoot = process.getuid?.() === 0;
export const ROOT_SKIP = isRoot ? false : 'needs root (mounts, users, chown): run the suite as root, as CI does';

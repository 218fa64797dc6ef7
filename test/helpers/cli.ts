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

/** Plaintexts the suite has seen; registered by the tests that create or decrypt them. */
const knownValues = new Set<string>();

/** Registers plaintexts that must never appear in any output (values shorter than 4 bytes are too common to scan). */
export function registerSecretValues(...values: (string | Buffer)[]): void {
  for (const v of values) {
    const s = Buffer.isBuffer(v) ? v.toString('utf8') : v;
    if (s.length >= 4) knownValues.add(s);
  }
}

export function assertNoSecretValues(text: string, context: string): void {
  for (const v of knownValues) {
    assert.ok(!text.includes(v), `${context}: output contains a secret value (${v.length} bytes) — values must never be printed`);
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
  /** Printing a value on stdout is the command's job (`get`, or the command `run` starts): only stderr is scanned. */
  valuesOnStdout?: boolean;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.cli ?? CLI, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, MATERIALIZE_CONFIG: undefined, ...options.env } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const context = `materialize ${args.join(' ')}`;
      try {
        if (!options.valuesOnStdout) assertNoSecretValues(stdout, `${context} (stdout)`);
        assertNoSecretValues(stderr, `${context} (stderr)`);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export const isRoot = process.getuid?.() === 0;
export const ROOT_SKIP = isRoot ? false : 'needs root (mounts, users, chown): run the suite as root, as CI does';

// Runs the built CLI (dist/cli.js) the way users and systemd do, and scans every byte it prints
// for the plaintexts the tests know: no secret value may ever reach stdout or stderr.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI; MATERIALIZE_DIST (relative to the repo) selects another build directory. */
export const CLI = join(REPO, process.env.MATERIALIZE_DIST ?? 'dist', 'cli.js');

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
  /**
   * Run in a private mount namespace where this file is /etc/group (the test must be root): a test
   * that needs a group such as `keys` gets it there, never on the machine, so neither a group left
   * behind nor a suite running beside this one can change what the test sees.
   */
  groupFile?: string;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = options.groupFile
      ? ['unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/group && exec "$@"', options.groupFile, process.execPath, CLI, ...args]]
      : [process.execPath, [CLI, ...args]];
    const child = spawn(cmd, argv, {
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
        assertNoSecretValues(stdout, `${context} (stdout)`);
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

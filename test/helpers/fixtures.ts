// A throwaway world per test: a temp dir with an age identity, secrets encrypted by the real `age`
// CLI, a secrets.json pointing at them and at secretsDir/mountPoint inside the temp dir. Tests run
// the built CLI against it, so they exercise exactly what a user's machine does.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { registerSecretValues, runCli, type CliOptions, type CliResult } from './cli.js';
import { unmountUnder } from './mounts.js';
import type { ApplyReport } from '../../src/materialize/apply.js';

export interface World {
  dir: string;
  keyFile: string;
  recipient: string;
  configFile: string;
  secretsDir: string;
  mountPoint: string;
}

export function makeWorld(t: TestContext, prefix = 'materialize-'): World {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Unmount first: the program may have mounted a ramfs inside, and a mounted dir cannot be removed.
  t.after(() => {
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  const keyFile = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
  const recipient = /^# public key: (age1\S+)$/m.exec(readFileSync(keyFile, 'utf8'))![1]!;
  return { dir, keyFile, recipient, configFile: join(dir, 'secrets.json'), secretsDir: join(dir, 'run/secrets'), mountPoint: join(dir, 'run/secrets.d') };
}

/** Encrypts `plaintext` to the world's key with the age CLI (plaintext on stdin, never in argv). */
export function encrypt(world: World, file: string, plaintext: string | Buffer, options: { armor?: boolean } = {}): string {
  const out = join(world.dir, 'src', file);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('age', ['-r', world.recipient, ...(options.armor ? ['-a'] : []), '-o', out], { input: plaintext, stdio: ['pipe', 'pipe', 'pipe'] });
  registerSecretValues(plaintext);
  return out;
}

/** The same ciphertext under another name: hundreds of secrets without hundreds of age runs. */
export function copyEncrypted(world: World, from: string, file: string): string {
  const out = join(world.dir, 'src', file);
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(from, out);
  return out;
}

export const ageSource = (file: string) => ({ sources: [{ age: { file } }] });

/** Writes secrets.json: the world's dirs, key and network state dir, mount "none" unless overridden, plus `config`. */
export function writeConfig(world: World, config: Record<string, unknown>, file = world.configFile): string {
  const full = {
    version: 1,
    secretsDir: world.secretsDir,
    mountPoint: world.mountPoint,
    mount: 'none',
    keys: { ageKeyFiles: [world.keyFile] },
    ...config,
    // Network sources keep their sealed values and call budget in the world, never in /var/lib.
    network: { stateDir: join(world.dir, 'state'), ...(config.network as Record<string, unknown> | undefined) },
  };
  writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  return file;
}

export function apply(world: World, args: string[] = [], options: CliOptions = {}): Promise<CliResult> {
  return runCli(['apply', '--config', world.configFile, ...args], options);
}

/** Runs apply --json and returns the parsed report with the exit code (asserting stdout is JSON). */
export async function applyJson(world: World, args: string[] = [], options: CliOptions = {}): Promise<{ code: number | null; report: ApplyJson; stderr: string }> {
  const r = await apply(world, ['--json', ...args], options);
  return { code: r.code, report: JSON.parse(r.stdout) as ApplyJson, stderr: r.stderr };
}

// Why the program's own types: `--json` prints the ApplyReport as it is, so the test reads that shape.
export type ApplyJson = ApplyReport;

export const statuses = (report: ApplyJson) => Object.fromEntries(report.entries.map((e) => [e.name, e.status]));

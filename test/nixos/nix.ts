// Helpers for the Nix module tests: find nix-instantiate, evaluate the modules through
// nixos-module/tests/eval.nix (nixpkgs' lib + stubs, nothing built, nothing written to the store),
// and run the program's build-time check on the manifests they give.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO, runCli, type CliResult } from '../helpers/cli.js';

/** Where `program` is on PATH, if it is: a test looks for its tools and skips, saying so, without them. */
export function findOnPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not here
    }
  }
  return undefined;
}

export const NIX_INSTANTIATE = findOnPath('nix-instantiate');
export const NIX_SKIP: string | false = NIX_INSTANTIATE
  ? false
  : 'nix-instantiate is not installed (Debian: apt-get install nix-bin); the Nix files are not checked';

const libDir = process.env.NIXPKGS_LIB;
export const LIB_SKIP: string | false =
  NIX_SKIP ||
  (libDir
    ? false
    : "NIXPKGS_LIB is not set: point it at nixpkgs' lib directory (the one holding default.nix, e.g. a checkout of github:nix-community/nixpkgs.lib) to evaluate the modules");

export interface NixResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs nix-instantiate with a store that cannot be written (`dummy://`, `--readonly-mode`). */
export function nixInstantiate(args: readonly string[]): Promise<NixResult> {
  return new Promise((resolve, reject) => {
    execFile(
      NIX_INSTANTIATE!,
      ['--store', 'dummy://', '--readonly-mode', ...args],
      { cwd: REPO, env: { ...process.env, NIXPKGS_LIB: libDir }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

export type Kind = 'nixos' | 'home-manager';

/** What nixos-module/tests/eval.nix returns (the fields depend on the kind). */
export type Evaluation = { failedAssertions: string[]; warnings: string[] } & Record<string, any>;

const work = mkdtempSync(join(tmpdir(), 'materialize-nix-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let count = 0;

/** A scratch directory removed when the test process exits. */
export function scratch(): string {
  return mkdtempSync(join(work, 'case-'));
}

/** Evaluates the module with `module` (Nix source of a module) as the configuration. */
export async function evalModule(kind: Kind, module: string): Promise<Evaluation> {
  const file = join(work, `config-${++count}.nix`);
  writeFileSync(file, module);
  const r = await nixInstantiate(['--eval', '--strict', '--json', 'nixos-module/tests/eval.nix', '--argstr', 'kind', kind, '--arg', 'configuration', file]);
  if (r.code !== 0) throw new Error(`nix-instantiate failed (${r.code}) for\n${module}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Evaluation;
}

/** Evaluates a configuration that must be accepted. */
export async function valid(kind: Kind, module: string): Promise<Evaluation> {
  const r = await evalModule(kind, module);
  assert.deepEqual(r.failedAssertions, [], 'the configuration should be accepted');
  return r;
}

/** `materialize check` on a manifest as the build runs it (validateSecrets): no users, no keys. */
export async function buildCheck(manifest: unknown): Promise<CliResult & { report: any }> {
  const file = join(scratch(), 'secrets.json');
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  const r = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file]);
  // No report at all when the program failed outright (exit 70); the exit code assertion shows why.
  return { ...r, report: r.stdout ? JSON.parse(r.stdout) : null };
}

/** Evaluates a Nix expression (strict, JSON). */
export async function evalExpr(expr: string): Promise<unknown> {
  const r = await nixInstantiate(['--eval', '--strict', '--json', '--expr', expr]);
  if (r.code !== 0) throw new Error(`nix-instantiate failed (${r.code}) for ${expr}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A Nix string literal. */
export const nixString = (s: string): string => JSON.stringify(s).replace(/\$\{/g, '\\${');

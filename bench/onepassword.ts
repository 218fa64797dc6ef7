// The 1Password scenarios: 100 secrets through the fake SDK (the test suite's, bundled) with 200 ms
// per call, run by a build with test hooks (the only way to inject it); and what loading the real
// SDK costs — time and peak RSS — against runs that never load it (--version, age only).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFakeSdkModule } from '../test/providers/onepassword/helpers/cli-fake.js';
import type { FakeWorld } from '../test/providers/onepassword/helpers/fake-sdk.js';
import { BENCH_NETWORK, ageFixtures, writeAgeConfig, fmtMs, median, runOnce, timeInterleaved, type Table } from './lib.js';
import type { ScenarioContext } from './scenarios.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const HOOKED = 'dist-bench-hooks';
const LATENCY_MS = 200;
const N = 100;

/** The test-hook build (dist-bench-hooks/) and the fake SDK bundled beside it. */
function hookedBuild(): { cli: string; fake: string } {
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--test-hooks'], { cwd: REPO, env: { ...process.env, MATERIALIZE_DIST: HOOKED }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test-hook build failed: ${r.stderr}`);
  const saved = process.env.MATERIALIZE_DIST;
  process.env.MATERIALIZE_DIST = HOOKED;
  try {
    return { cli: join(REPO, HOOKED, 'cli.js'), fake: buildFakeSdkModule() };
  } finally {
    if (saved === undefined) delete process.env.MATERIALIZE_DIST;
    else process.env.MATERIALIZE_DIST = saved;
  }
}

/** N age files made by the real `age` CLI (cached), for the runs that must not load the SDK. */
function ageConfig(dir: string): string {
  const { key, files } = ageFixtures(N);
  return writeAgeConfig(join(dir, 'a'), key, files);
}

/** 100 secrets over 10 items in 2 vaults, a token file, a world with the given latency. */
function onePasswordWorld(dir: string, latencyMs: number): { config: string; env: Record<string, string> } {
  const token = `ops_${Buffer.from('{"bench":true}').toString('base64url')}`;
  const world: FakeWorld & { backoffMs: number } = { token, latencyMs, backoffMs: 20, vaults: [] };
  const secrets: Record<string, unknown> = {};
  for (let v = 0; v < 2; v++) {
    world.vaults.push({ title: `Vault ${v}`, items: Array.from({ length: 5 }, (_, i) => ({ title: `item ${i}`, fields: Array.from({ length: 10 }, (_, f) => ({ title: `field ${f}`, value: `token-${v}-${i}-${f}-${'z'.repeat(24)}` })) })) });
    for (let i = 0; i < 5; i++) for (let f = 0; f < 10; f++) secrets[`svc${i}/v${v}-f${f}`] = { sources: [{ onepassword: `op://Vault ${v}/item ${i}/field ${f}` }] };
  }
  const tokenFile = join(dir, `token-${latencyMs}`);
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const worldFile = join(dir, `world-${latencyMs}.json`);
  writeFileSync(worldFile, JSON.stringify(world));
  const config = join(dir, `op-${latencyMs}.json`);
  writeFileSync(config, JSON.stringify({ version: 1, secretsDir: join(dir, `m${latencyMs}/secrets`), mountPoint: join(dir, `m${latencyMs}/secrets.d`), mount: 'none', network: BENCH_NETWORK(join(dir, `m${latencyMs}`)), providers: { onepassword: { tokenFile } }, secrets }));
  return { config, env: { MATERIALIZE_TEST_ONEPASSWORD_WORLD: worldFile } };
}

/** The calls one run made, from its --json report. */
function callsOf(cli: string, config: string, env: Record<string, string>): Record<string, number> {
  const r = spawnSync(process.execPath, [cli, 'apply', '--config', config, '--units', 'no', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`apply failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { calls: { onepassword: Record<string, number> } }).calls.onepassword;
}

interface Setup {
  cli: string;
  dir: string;
  slow: { config: string; env: NodeJS.ProcessEnv };
  fast: { config: string; env: NodeJS.ProcessEnv };
  age: string;
}

let setup: Setup | undefined;
function prepare(context: ScenarioContext): Setup {
  if (setup) return setup;
  const { cli, fake } = hookedBuild();
  const dir = context.workDir();
  const world = (latency: number) => {
    const w = onePasswordWorld(dir, latency);
    return { config: w.config, env: { ...process.env, MATERIALIZE_TEST_ONEPASSWORD_SDK: fake, ...w.env } };
  };
  return (setup = { cli, dir, slow: world(LATENCY_MS), fast: world(0), age: ageConfig(dir) });
}

const applyArgs = (cli: string, config: string) => [process.execPath, cli, 'apply', '--config', config, '--units', 'no', '-q'];

/** 100 secrets with 200 ms per call: the run's time is the calls it makes, in sequence, plus our overhead. */
export function onePasswordLatencyScenario(context: ScenarioContext): Table {
  const { cli, slow, fast, age } = prepare(context);
  const calls = callsOf(cli, slow.config, slow.env as Record<string, string>);
  const callCount = Object.values(calls).reduce((a, b) => a + b, 0);
  const t = timeInterleaved(
    {
      node: () => runOnce([process.execPath, '-e', '0']),
      age: () => runOnce(applyArgs(cli, age)),
      opFast: () => runOnce(applyArgs(cli, fast.config), { env: fast.env }),
      opSlow: () => runOnce(applyArgs(cli, slow.config), { env: slow.env }),
    },
    context.runs,
  );
  const floor = callCount * LATENCY_MS;
  return {
    title: `${N} 1Password secrets (10 items, 2 vaults) through the fake SDK, ${LATENCY_MS} ms per call`,
    columns: ['run', 'median', 'note'],
    rows: [
      ['node -e 0', fmtMs(t.node!), ''],
      [`apply, ${N} age secrets`, fmtMs(t.age!), 'no SDK loaded'],
      [`apply, ${N} 1Password secrets, 0 ms per call`, fmtMs(t.opFast!), 'our own overhead, the SDK\'s load included'],
      [`apply, ${N} 1Password secrets, ${LATENCY_MS} ms per call`, fmtMs(t.opSlow!), `${Object.entries(calls).map(([k, v]) => `${v} ${k}`).join(' + ')}: ${fmtMs(floor)} of waiting`],
      ['  of which not waiting on 1Password', fmtMs(t.opSlow! - floor), `vs ${fmtMs(t.opFast!)} at 0 ms per call`],
      ['one call per secret (a loop of resolve())', `≥ ${fmtMs((N + 1) * LATENCY_MS)}`, 'not run: the sign-in and 100 round trips'],
    ],
    notes: ['Target: the round trips of the calls made (one sign-in, one resolveAll for every text reference) plus our own overhead, whatever N.'],
  };
}

/** What loading the SDK costs, and that the runs which do not need it never pay it. */
export function onePasswordLoadScenario(context: ScenarioContext): Table {
  const { cli, fast, age } = prepare(context);
  const measure = (argv: string[], env: NodeJS.ProcessEnv = process.env) => {
    const samples = Array.from({ length: Math.max(3, Math.ceil(context.runs / 2)) }, () => runOnce(argv, { rss: true, env }));
    return { ms: median(samples.map((s) => s.ms)), mb: median(samples.map((s) => s.rssKiB!)) / 1024 };
  };
  const rows: [string, { ms: number; mb: number }][] = [
    ['node -e 0', measure([process.execPath, '-e', '0'])],
    ["node -e \"require('@1password/sdk')\"", measure([process.execPath, '-e', "require('@1password/sdk')"], { ...process.env, NODE_PATH: join(REPO, 'node_modules') })],
    ['materialize --version', measure([process.execPath, cli, '--version'])],
    [`materialize apply, ${N} age secrets`, measure(applyArgs(cli, age))],
    [`materialize apply, ${N} 1Password secrets (fake SDK, 0 ms)`, measure(applyArgs(cli, fast.config), fast.env)],
  ];
  return {
    title: 'loading the 1Password SDK (a 14 MB WASM): wall time and peak RSS, with and without',
    columns: ['command', 'median wall time', 'median peak RSS'],
    rows: rows.map(([name, s]) => [name, fmtMs(s.ms), `${s.mb.toFixed(0)} MB`]),
    notes: ['--version and sops/age-only runs never import the SDK (test/providers/onepassword/cli.test.ts records the modules a run loads); a 1Password run pays for the WASM once.'],
  };
}

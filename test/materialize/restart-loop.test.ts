// A unit stuck in a restart loop cannot exhaust a provider's quota: 1,000 runs of the real `apply`
// pipeline (in process, so that 1,000 runs take seconds, not the minutes 1,000 CLI starts would),
// 30 s apart on a simulated clock (systemd's RestartSec) — 8 h 20 min of restarts — against the
// 1Password fake injected at the provider's port (`libs`, as the CLI tests inject it through the test
// hook). The fake's own record of the calls it received is what is counted. The CLI version of the
// loop (test/providers/onepassword/seal.test.ts) is shorter and proves the budget survives processes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { apply } from '../../src/materialize/apply.js';
import { silentLogger } from '../../src/log.js';
import { HOUR } from '../../src/materialize/budget.js';
import { makeWorld, writeConfig } from '../helpers/fixtures.js';
import { AGE_SKIP } from '../helpers/tools.js';
import { seededRandom } from '../helpers/random.js';
import { FakeOnePassword, type Failure } from '../providers/onepassword/helpers/fake-sdk.js';
import { fakeToken, grid, writeToken } from '../providers/onepassword/helpers/world.js';

const RUNS = 1000;
// A memory file system where there is one: 1,000 generations without an fsync each.
if (!process.env.TMPDIR && existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
const RESTART_SEC = 30_000;
const PER_HOUR = 10;

interface Loop {
  /** Calls the fake received. */
  calls: number;
  /** The simulated instant of each of them (the instant of the run that made it). */
  instants: number[];
  /** Exit codes of the runs, counted. */
  codes: Map<number, number>;
  /** Runs whose every secret was published (from the network or the seal). */
  published: number;
}

async function restartLoop(t: TestContext, salt: number, failure: Failure | undefined, options: { seal?: boolean } = {}): Promise<Loop & { fake: FakeOnePassword; run: () => ReturnType<typeof apply>; hours: number }> {
  const world = makeWorld(t, 'materialize-loop-');
  const random = seededRandom(salt);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 2, fields: 2 });
  const tokenFile = writeToken(world.dir, token);
  writeConfig(world, {
    providers: { onepassword: { tokenFile } },
    network: { callsPerHour: PER_HOUR },
    secrets: Object.fromEntries(g.references.map((r, i) => [`s${i}`, { sources: [{ onepassword: r }] }])),
  });
  const fake = new FakeOnePassword(g.world);
  const libs = { onepassword: { sdk: fake.sdk(), backoffMs: 0 } };
  let now = Date.parse('2026-01-01T00:00:00Z');
  const run = () => apply({ configFile: world.configFile, units: 'no', log: silentLogger(), libs, now: () => now, fetchTimeoutMs: 30_000 });
  if (options.seal !== false) {
    // A good run first: the values are sealed, as on any host that has been up before.
    assert.equal((await run()).exitCode, 0);
    now += RESTART_SEC;
  }
  const before = fake.calls.length;
  g.world.failures = failure ? { createClient: failure } : {};
  const loop: Loop = { calls: 0, instants: [], codes: new Map(), published: 0 };
  for (let i = 0; i < RUNS; i++) {
    const made = fake.calls.length;
    const report = await run();
    for (let c = made; c < fake.calls.length; c++) loop.instants.push(now);
    loop.codes.set(report.exitCode, (loop.codes.get(report.exitCode) ?? 0) + 1);
    if (report.entries.every((e) => e.status === 'cached' || e.status === 'unchanged' || e.status === 'changed' || e.status === 'added')) loop.published++;
    now += RESTART_SEC;
  }
  loop.calls = fake.calls.length - before;
  return { ...loop, fake, run, hours: Math.ceil((RUNS * RESTART_SEC) / HOUR) };
}

/** The most calls within any hour (a sliding window, as 1Password counts). */
function busiestHour(instants: readonly number[]): number {
  let most = 0;
  for (const t of instants) most = Math.max(most, instants.filter((x) => x > t - HOUR && x <= t).length);
  return most;
}

test('1,000 restarts against a rate-limited 1Password: one call per hour-long back-off, every run publishes the sealed values', { skip: AGE_SKIP }, async (t) => {
  const loop = await restartLoop(t, 401, { as: 'rate-limit' });
  // Each 429 blocks the credential for an hour; the first run after the hour tries once more.
  assert.ok(loop.calls <= loop.hours, `${loop.calls} calls in ${loop.hours} hours`);
  assert.ok(loop.calls >= loop.hours - 1, `the back-off ends: ${loop.calls} calls in ${loop.hours} hours`);
  assert.equal(busiestHour(loop.instants), 1, 'never two calls within an hour');
  assert.deepEqual([...loop.codes], [[69, RUNS]], 'every run says "rate limited": systemd would have stopped at the first');
  assert.equal(loop.published, RUNS, 'every run published every secret, from the seal');
});

test('1,000 restarts against a 1Password answering 500: at most callsPerHour calls in any hour', { skip: AGE_SKIP }, async (t) => {
  const loop = await restartLoop(t, 402, { as: 'server' });
  assert.ok(loop.calls <= PER_HOUR * loop.hours, `${loop.calls} calls in ${loop.hours} hours`);
  assert.ok(loop.calls >= PER_HOUR * (loop.hours - 1), `the budget is spent, not wasted: ${loop.calls}`);
  assert.equal(busiestHour(loop.instants), PER_HOUR, 'never more than callsPerHour within any hour');
  assert.equal(loop.codes.get(75)! + loop.codes.get(69)!, RUNS);
  assert.equal(loop.published, RUNS);
});

test('1,000 restarts with the network down cost no budget: the first run after it comes back calls at once', { skip: AGE_SKIP }, async (t) => {
  const loop = await restartLoop(t, 403, { as: 'network' });
  // Every run tried (three attempts), and none of those calls could reach 1Password.
  assert.equal(loop.calls, RUNS * 3);
  assert.deepEqual([...loop.codes], [[75, RUNS]], 'each run asks systemd to try again (75), and it may: no budget was spent');
  assert.equal(loop.published, RUNS);
  // The network is back: the next run is not held back by the hours of failed attempts.
  loop.fake.world.failures = {};
  const back = await loop.run();
  assert.equal(back.exitCode, 0);
  assert.deepEqual(back.calls, { onepassword: { createClient: 1, resolveAll: 1 } });
  assert.equal(back.budget![0]!.used, 2, 'only the calls that reached 1Password count');
});

test('without a seal (a first boot), a restart loop against a rate-limited 1Password still makes one call per hour', { skip: AGE_SKIP }, async (t) => {
  const loop = await restartLoop(t, 404, { as: 'rate-limit' }, { seal: false });
  assert.ok(loop.calls <= loop.hours, `${loop.calls} calls in ${loop.hours} hours`);
  assert.deepEqual([...loop.codes], [[69, RUNS]]);
  assert.equal(loop.published, 0, 'nothing to publish');
});

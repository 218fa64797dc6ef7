// Fault and load tests at the sizes the benchmark issue names: 50 runs over 500 secrets, each
// SIGKILLed from outside at a random instant of its run, and 20 runs at once against one config.
// After every kill the live generation is complete and correct (one version's values, all of them,
// never a mix); the runs that follow repair what was left. Bounded: every run has a time limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { ageSource, copyEncrypted, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';

const COUNT = 500;
const DISTINCT = 10;

interface Version {
  config: Record<string, unknown>;
  values: Map<string, string>;
}

/** One version of the secrets: 500 names, 10 distinct ciphertexts copied under them. */
function version(world: World, tag: string): Version {
  const plain = Array.from({ length: DISTINCT }, (_, j) => `fault-${tag}-${j}-${randomBytes(5).toString('hex')}`);
  const files = plain.map((p, j) => encrypt(world, `${tag}/d${j}.age`, p));
  const secrets: Record<string, unknown> = {};
  const values = new Map<string, string>();
  for (let i = 0; i < COUNT; i++) {
    const name = i % 4 === 0 ? `svc${i % 7}/s${i}` : `s${i}`;
    secrets[name] = ageSource(copyEncrypted(world, files[i % DISTINCT]!, `${tag}/${i}.age`));
    values.set(name, plain[i % DISTINCT]!);
  }
  return { config: { keepGenerations: 2, secrets }, values };
}

/** Which version the live generation holds, asserting it holds exactly that version, complete. */
function liveVersion(world: World, versions: Version[]): number {
  const dir = readlinkSync(world.secretsDir);
  const first = readFileSync(join(dir, 's1'), 'utf8');
  const index = versions.findIndex((v) => v.values.get('s1') === first);
  assert.ok(index >= 0, `live generation ${dir} holds an unknown value`);
  for (const [name, value] of versions[index]!.values) {
    assert.equal(readFileSync(join(dir, name), 'utf8'), value, `${dir}/${name} is not version ${index}'s`);
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o400);
  }
  return index;
}

/** Nothing a crashed run leaves may survive a completed one. */
function assertClean(world: World): void {
  assert.deepEqual(readdirSync(world.mountPoint).filter((n) => !/^\d+$/.test(n)), [], 'temp generation dirs left');
  assert.deepEqual(readdirSync(join(world.dir, 'run')).filter((n) => n !== 'secrets' && n !== 'secrets.d'), [], 'lock, owner or temp link left');
}

test('50 runs over 500 secrets, each killed at a random instant: always a complete generation, always repaired', { timeout: 600_000 }, async (t) => {
  const world = makeWorld(t, 'materialize-fault-');
  const versions = [version(world, 'a'), version(world, 'b'), version(world, 'c')];
  writeConfig(world, versions[0]!.config);
  const started = Date.now();
  const first = await runCli(['apply', '--config', world.configFile, '-q']);
  const duration = Date.now() - started;
  assert.equal(first.code, 0, first.stderr);
  assert.equal(liveVersion(world, versions), 0);

  let live = 0;
  let killed = 0;
  let completed = 0;
  for (let run = 0; run < 50; run++) {
    const target = (live + 1 + (run % 2)) % versions.length;
    writeConfig(world, versions[target]!.config);
    // Uniform over a little more than a whole run, so kills land everywhere from start-up to prune.
    const delay = Math.floor(Math.random() * duration * 1.2);
    const r = await runCli(['apply', '--config', world.configFile, '-q'], { timeoutMs: Math.max(delay, 1) });
    if (r.signal === 'SIGKILL') killed++;
    else {
      assert.equal(r.code, 0, r.stderr);
      completed++;
    }
    const seen = liveVersion(world, versions);
    assert.ok(seen === live || seen === target, `after a kill the live generation is the old or the new version (run ${run})`);
    if (r.signal === null) assert.equal(seen, target);
    live = seen;
    if (run % 10 === 9) {
      // Every tenth run goes to the end: it must repair whatever the kills left.
      const repair = await runCli(['apply', '--config', world.configFile, '-q']);
      assert.equal(repair.code, 0, repair.stderr);
      assert.equal(liveVersion(world, versions), target);
      assertClean(world);
      live = target;
    }
  }
  t.diagnostic(`50 runs over ${COUNT} secrets (a full run takes ~${duration} ms): ${killed} killed mid-run, ${completed} finished before the kill`);
  assert.ok(killed >= 25, 'most runs must actually be killed');
});

test('20 runs at once against one config: all succeed, the result is correct, nothing is left over', { timeout: 300_000 }, async (t) => {
  const world = makeWorld(t, 'materialize-load-');
  const v = version(world, 'load');
  writeConfig(world, { ...v.config, keepGenerations: 3 });
  const runs = await Promise.all(Array.from({ length: 20 }, () => runCli(['apply', '--config', world.configFile, '--json', '--lock-timeout', '240'], { timeoutMs: 280_000 })));
  const generations = runs.map((r) => {
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { generation: number }).generation;
  });
  assert.deepEqual([...generations].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'twenty runs, twenty generations, one after the other');
  assert.equal(liveVersion(world, [v]), 0);
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '20'));
  assert.deepEqual(readdirSync(world.mountPoint).sort(), ['18', '19', '20'], 'pruned to keepGenerations');
  assertClean(world);
});

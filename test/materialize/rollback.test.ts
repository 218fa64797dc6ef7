// `materialize rollback` across three generations, with a fake systemctl recording exactly which
// units restart or reload (those of what differs between the live generation and the target); custom
// paths follow; `status` shows it; the next apply numbers past every kept generation and keeps the
// ones rolled back from; a pruned target is refused with nothing changed; and a rollback or an apply
// killed at its critical instants leaves a state the next run completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliOptions } from '../helpers/cli.js';
import { ageSource, applyJson, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { fakeSystemctl, type FakeSystemctl } from '../helpers/systemctl.js';
import { walk } from '../helpers/tree.js';

interface Generations {
  world: World;
  systemctl: FakeSystemctl;
  link: string;
  /** Writes the configuration of generation 1, 2 or 3. */
  config(n: 1 | 2 | 3): void;
  apply(env?: Record<string, string>): Promise<Awaited<ReturnType<typeof applyJson>>>;
  rollback(args?: string[], options?: CliOptions): ReturnType<typeof runCli>;
}

/**
 * Three generations: 2 changes db's value; 3 changes api's value and cfg's mode and adds extra (with
 * a custom path). Each secret has its own unit, so the calls say which files differ.
 */
async function threeGenerations(t: Parameters<typeof makeWorld>[0], keepGenerations = 5): Promise<Generations> {
  const world = makeWorld(t);
  const systemctl = fakeSystemctl(world.dir);
  const f = (name: string, value: string) => encrypt(world, name, value);
  const db1 = f('db1.age', 'rollback-db-one-01');
  const db2 = f('db2.age', 'rollback-db-two-02');
  const api1 = f('api1.age', 'rollback-api-one-03');
  const api2 = f('api2.age', 'rollback-api-two-04');
  const cfg = f('cfg.age', 'rollback-cfg-05');
  const extra = f('extra.age', 'rollback-extra-06');
  const link = join(world.dir, 'home/extra');
  const config = (n: 1 | 2 | 3) =>
    writeConfig(world, {
      keepGenerations,
      secrets: {
        db: { ...ageSource(n === 1 ? db1 : db2), restartUnits: ['db.service'] },
        api: { ...ageSource(n === 3 ? api2 : api1), reloadUnits: ['api.service'] },
        cfg: { ...ageSource(cfg), mode: n === 3 ? '0440' : '0400', restartUnits: ['cfg.service'] },
        ...(n === 3 ? { extra: { ...ageSource(extra), path: link, restartUnits: ['extra.service'] } } : {}),
      },
    });
  const g: Generations = {
    world,
    systemctl,
    link,
    config,
    apply: (env = {}) => applyJson(world, ['--units', 'yes'], { env: { ...systemctl.env, ...env } }),
    rollback: (args = [], options = {}) => runCli(['rollback', '--config', world.configFile, '--units', 'yes', ...args], { ...options, env: { ...systemctl.env, ...options.env } }),
  };
  for (const n of [1, 2, 3] as const) {
    config(n);
    const r = await g.apply();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.generation, n);
  }
  systemctl.take();
  return g;
}

const live = (world: World) => readlinkSync(world.secretsDir);
const status = async (world: World) => JSON.parse((await runCli(['status', '--json', '--config', world.configFile])).stdout) as { live: { generation: number }; generations: number[]; rollback: { from: number; to: number; at: string } | null };

test('rollback across three generations restarts exactly the units of what differs; paths follow; status shows it', async (t) => {
  const g = await threeGenerations(t);
  const { world, systemctl } = g;
  assert.equal(readlinkSync(g.link), join(world.secretsDir, 'extra'));

  // 3 → 2: api's value, cfg's mode, extra is gone.
  const back = await g.rollback();
  assert.equal(back.code, 0, back.stderr);
  assert.equal(live(world), join(world.mountPoint, '2'));
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- cfg.service extra.service', '--no-block try-reload-or-restart -- api.service']);
  assert.equal(back.stdout, [
    `generation 2 is live at ${world.secretsDir} again (rolled back from 3; kept: 1, 2, 3)`,
    '  changed   api   (content)',
    '  changed   cfg   (mode)',
    '  removed   extra',
    '  1 unchanged',
    'restart: cfg.service extra.service',
    'reload: api.service',
    '',
  ].join('\n'));
  assert.equal(readFileSync(join(world.secretsDir, 'api'), 'utf8'), 'rollback-api-one-03');
  assert.ok(!existsSync(g.link), 'the link of a secret generation 2 does not have is removed');
  const st = await status(world);
  assert.deepEqual([st.live.generation, st.generations, st.rollback?.from, st.rollback?.to], [2, [1, 2, 3], 3, 2]);
  const human = (await runCli(['status', '--config', world.configFile])).stdout.split('\n');
  assert.match(human[1]!, /^rolled back from generation 3 at \S+ \(materialize rollback\); the next apply makes generation 4$/);

  // 2 → 1 (the default: the newest kept below the live one): db's value only.
  const older = await g.rollback();
  assert.equal(older.code, 0, older.stderr);
  assert.equal(live(world), join(world.mountPoint, '1'));
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- db.service']);
  assert.equal(readFileSync(join(world.secretsDir, 'db'), 'utf8'), 'rollback-db-one-01');

  // 1 → 3, forward: everything that differs; the link comes back.
  const forward = await g.rollback(['--to', '3', '--json']);
  assert.equal(forward.code, 0, forward.stderr);
  const report = JSON.parse(forward.stdout);
  assert.deepEqual([report.from, report.to, report.switched, report.units], [1, 3, true, { restart: ['cfg.service', 'db.service', 'extra.service'], reload: ['api.service'] }]);
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- cfg.service db.service extra.service', '--no-block try-reload-or-restart -- api.service']);
  assert.equal(readlinkSync(g.link), join(world.secretsDir, 'extra'));

  // Already live: nothing to do.
  const same = await g.rollback(['--to', '3']);
  assert.equal(same.code, 0);
  assert.match(same.stdout, /^generation 3 is already live at .*; nothing changed/);
  assert.deepEqual(systemctl.take(), []);
});

test('after a rollback the next apply numbers past every kept generation, keeps the ones rolled back from, and replaces the record', async (t) => {
  const g = await threeGenerations(t);
  const { world, systemctl } = g;
  assert.equal((await g.rollback(['--to', '1'])).code, 0);
  systemctl.take();
  // The configuration is still generation 3's: the apply brings it back as generation 4.
  const r = await g.apply();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.report.previousGeneration, 1);
  assert.equal(r.report.generation, 4, 'not 2: generations 2 and 3 are kept and numbers never repeat');
  assert.deepEqual(r.report.cleaned, [], 'generations rolled back from are not leftovers');
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- cfg.service db.service extra.service', '--no-block try-reload-or-restart -- api.service']);
  const st = await status(world);
  assert.deepEqual([st.live.generation, st.generations, st.rollback], [4, [1, 2, 3, 4], null]);
  assert.ok(!existsSync(join(world.mountPoint, '.materialize-rollback.json')));
});

test('a rollback to a pruned generation is refused, with nothing changed', async (t) => {
  const g = await threeGenerations(t, 2);
  const { world, systemctl } = g;
  const before = walk(join(world.dir, 'run'));
  for (const args of [['--to', '1'], ['--to', '9']]) {
    const r = await g.rollback(args);
    assert.equal(r.code, 64, r.stderr);
    assert.equal(r.stderr, `error: generation ${args[1]} is not kept (pruned, or never made; kept: 2, 3); nothing was changed\n`);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(walk(join(world.dir, 'run')), before, 'the live generation, the others, the links: as they were');
  assert.deepEqual(systemctl.take(), []);
  // keepGenerations = 1 keeps only the live one: nothing to roll back to.
  g.config(3);
  writeConfig(world, { ...JSON.parse(readFileSync(world.configFile, 'utf8')), keepGenerations: 1 });
  assert.equal((await g.apply()).code, 0);
  const none = await g.rollback();
  assert.equal(none.code, 64);
  assert.match(none.stderr, /no generation older than the live one \(4\) is kept \(kept: 4\); nothing was changed\. Keep more with keepGenerations/);
});

test('a rollback killed before its switch changed nothing; killed after it, the next apply restarts the units it owed', async (t) => {
  const g = await threeGenerations(t);
  const { world, systemctl } = g;
  // Checkpoint 1 is right before the rename of the new symlink over secretsDir.
  const early = await g.rollback([], { env: { MATERIALIZE_CRASH_AT: '1' } });
  assert.equal(early.signal, 'SIGKILL');
  assert.equal(live(world), join(world.mountPoint, '3'));
  assert.equal((await status(world)).rollback, null, 'a record of a switch that did not happen is ignored');
  assert.deepEqual(systemctl.take(), []);

  // Checkpoint 2 is right after the switch: generation 2 is live, its units not restarted.
  const late = await g.rollback([], { env: { MATERIALIZE_CRASH_AT: '2' } });
  assert.equal(late.signal, 'SIGKILL');
  assert.equal(live(world), join(world.mountPoint, '2'));
  assert.deepEqual(systemctl.take(), []);
  // An apply whose own content equals generation 2 changes nothing itself, yet owes what the rollback did not do.
  g.config(2);
  const r = await g.apply();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.report.generation, 4);
  assert.ok(r.report.cleaned.some((p) => p.includes('.secrets.tmp-')), 'the temporary symlink of the first crash is cleaned');
  assert.deepEqual(r.report.entries.filter((e) => e.status !== 'unchanged'), []);
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- cfg.service extra.service', '--no-block try-reload-or-restart -- api.service']);
});

test('an apply killed between publishing and switching after a rollback: its generation is a leftover, the rolled-back-from ones are not', async (t) => {
  const g = await threeGenerations(t);
  const { world } = g;
  assert.equal((await g.rollback(['--to', '1'])).code, 0);
  // Generation 3's configuration has 4 files: checkpoints 1 (start), 2-5 (files), 6 (manifest), 7 (published).
  const crashed = await runCli(['apply', '--config', world.configFile, '--units', 'yes'], { env: { ...g.systemctl.env, MATERIALIZE_CRASH_AT: '7' } });
  assert.equal(crashed.signal, 'SIGKILL');
  assert.ok(existsSync(join(world.mountPoint, '4')), 'generation 4 was published');
  assert.equal(live(world), join(world.mountPoint, '1'), 'but never made live');
  const r = await g.apply();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.report.cleaned, [join(world.mountPoint, '4')]);
  assert.equal(r.report.generation, 4);
  assert.deepEqual((await status(world)).generations, [1, 2, 3, 4]);
});

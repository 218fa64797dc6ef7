// Restart/reload of the units whose secrets changed, through a fake systemctl that records its
// argv: exact calls for content, owner, mode changes and removals; none when nothing changed and
// none on the very first generation (services start after us at boot anyway).
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { fakeSystemctl } from '../helpers/systemctl.js';
import { createUser } from '../helpers/users.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

function setup(t: Parameters<typeof makeWorld>[0]) {
  const world = makeWorld(t);
  const systemctl = fakeSystemctl(world.dir);
  const v1 = encrypt(world, 'v1.age', 'unit-value-one-a1');
  const v2 = encrypt(world, 'v2.age', 'unit-value-two-b2');
  const run = async (args: string[] = []) => {
    const r = await applyJson(world, ['--units', 'yes', ...args], { env: systemctl.env });
    assert.ok(r.code === 0, r.stderr);
    return { report: r.report, calls: systemctl.take() };
  };
  return { world, systemctl, v1, v2, run };
}

const secret = (file: string, extra: Record<string, unknown> = {}) => ({ ...ageSource(file), ...extra });

test('units restart and reload exactly when their secret changes', async (t) => {
  const { world, v1, v2, run } = setup(t);
  const config = (db: string, extra: Record<string, unknown> = {}) =>
    writeConfig(world, {
      secrets: {
        db: secret(db, { restartUnits: ['postgresql.service', 'app.service'], ...extra }),
        api: secret(v1, { reloadUnits: ['nginx.service', 'app.service'] }),
        quiet: secret(v1, { restartUnits: ['quiet.service'] }),
      },
      templates: { 'app.env': { content: 'DB={{db}}\n', reloadUnits: ['app-env.service'] } },
    });

  config(v1);
  assert.deepEqual((await run()).calls, [], 'the first generation restarts nothing');
  assert.deepEqual((await run()).calls, [], 'nothing changed, nothing restarted');

  config(v2);
  const changed = await run();
  assert.deepEqual(changed.calls, ['--no-block try-restart -- app.service postgresql.service', '--no-block try-reload-or-restart -- app-env.service']);
  assert.deepEqual(changed.report.units, { restart: ['app.service', 'postgresql.service'], reload: ['app-env.service'] });

  config(v2, { mode: '0440' });
  assert.deepEqual((await run()).calls, ['--no-block try-restart -- app.service postgresql.service'], 'a mode change counts');

  writeConfig(world, { secrets: { db: secret(v2, { mode: '0440', restartUnits: ['postgresql.service', 'app.service'] }), quiet: secret(v1, { restartUnits: ['quiet.service'] }) } });
  const removed = await run();
  assert.deepEqual(removed.calls, ['--no-block try-reload-or-restart -- app-env.service app.service nginx.service'], 'removed secrets and templates reload their units');
  assert.deepEqual(
    removed.report.entries.filter((e) => e.status === 'removed').map((e) => e.name).sort(),
    ['api', 'app.env'],
  );
});

test('an owner change restarts the units', { skip: ROOT_SKIP }, async (t) => {
  const { world, v1, run } = setup(t);
  const alice = createUser(t);
  writeConfig(world, { secrets: { key: secret(v1, { restartUnits: ['sshd.service'] }) } });
  await run();
  writeConfig(world, { secrets: { key: secret(v1, { owner: alice.name, restartUnits: ['sshd.service'] }) } });
  const { calls, report } = await run();
  assert.deepEqual(calls, ['--no-block try-restart -- sshd.service']);
  assert.deepEqual(report.entries[0]!.aspects, ['owner', 'group']);
});

test('--units no and --dry-run name the units but call nothing', async (t) => {
  const { world, systemctl, v1, v2, run } = setup(t);
  writeConfig(world, { secrets: { db: secret(v1, { restartUnits: ['db.service'] }) } });
  await run();
  writeConfig(world, { secrets: { db: secret(v2, { restartUnits: ['db.service'] }) } });
  const dry = await apply(world, ['--dry-run', '--units', 'yes'], { env: systemctl.env });
  assert.equal(dry.code, 0);
  assert.match(dry.stdout, /^would restart: db\.service$/m);
  const no = await apply(world, ['--units', 'no'], { env: systemctl.env });
  assert.equal(no.code, 0);
  assert.match(no.stderr, /units not touched \(--units no\): would restart db\.service/);
  assert.match(no.stdout, /^restart: db\.service$/m);
  assert.deepEqual(systemctl.take(), []);
});

test('a failing systemctl is a warning, not a failed run', async (t) => {
  const world: World = makeWorld(t);
  mkdirSync(`${world.dir}/bin`);
  writeFileSync(`${world.dir}/bin/systemctl`, '#!/bin/sh\necho "Unit db.service not loaded." >&2\nexit 5\n');
  chmodSync(`${world.dir}/bin/systemctl`, 0o755);
  const env = { PATH: `${world.dir}/bin:${process.env.PATH}` };
  writeConfig(world, { secrets: { db: secret(encrypt(world, 'a.age', 'failing-systemctl-value'), { restartUnits: ['db.service'] }) } });
  assert.equal((await apply(world, ['--units', 'yes'], { env })).code, 0);
  writeConfig(world, { secrets: { db: secret(encrypt(world, 'b.age', 'failing-systemctl-value-2'), { restartUnits: ['db.service'] }) } });
  const r = await applyJson(world, ['--units', 'yes'], { env });
  assert.equal(r.code, 0);
  assert.deepEqual(r.report.warnings, ['systemctl try-restart db.service failed: Unit db.service not loaded.']);
});

test('--units-scope user restarts through systemctl --user (the home-manager service)', async (t) => {
  const { world, v1, v2, run } = setup(t);
  writeConfig(world, { secrets: { token: secret(v1, { restartUnits: ['editor.service'], reloadUnits: ['agent.service'] }) } });
  assert.deepEqual((await run(['--units-scope', 'user'])).calls, []);
  writeConfig(world, { secrets: { token: secret(v2, { restartUnits: ['editor.service'], reloadUnits: ['agent.service'] }) } });
  assert.deepEqual((await run(['--units-scope', 'user'])).calls, ['--user --no-block try-restart -- editor.service', '--user --no-block try-reload-or-restart -- agent.service']);
});

test('unit names without a type mean ".service", as for systemctl: restarted under that name, once', async (t) => {
  const { world, v1, v2, run } = setup(t);
  const config = (file: string) =>
    writeConfig(world, {
      secrets: {
        // sops-nix's own test writes restartUnits = [ "affected-service" ] (main_test.go).
        db: secret(file, { restartUnits: ['affected-service', 'nginx', 'nginx.service', 'getty@tty1', 'a.b'], reloadUnits: ['affected-reload-service', 'web.socket'] }),
      },
    });
  config(v1);
  await run();
  config(v2);
  const { calls, report } = await run();
  assert.deepEqual(calls, [
    '--no-block try-restart -- a.b.service affected-service.service getty@tty1.service nginx.service',
    '--no-block try-reload-or-restart -- affected-reload-service.service web.socket',
  ]);
  assert.deepEqual(report.units.restart, ['a.b.service', 'affected-service.service', 'getty@tty1.service', 'nginx.service']);
});

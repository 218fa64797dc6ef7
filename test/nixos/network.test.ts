// Network sources in the NixOS and home-manager modules (issue 13), evaluated with nixpkgs' lib
// (nixos-module/tests/eval.nix): `materialize.network.*` and `materialize.refresh.*` become the
// manifest's `network` block (only when a network source is used); with sealed values the secrets
// unit does not wait for network-online.target and runs `apply --boot`; a refresh service, started
// by a jittered timer, asks the network. Then the units' own command lines run the program on the
// generated manifest with the 1Password fake: boot from the seal with the network down, refresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { seededRandom } from '../helpers/random.js';
import { fakeSystemctl } from '../helpers/systemctl.js';
import { fakeRun } from '../providers/onepassword/helpers/cli-fake.js';
import { fakeToken, writeToken } from '../providers/onepassword/helpers/world.js';
import { LIB_SKIP, evalModule, nixString as s, scratch, type Evaluation, type Kind } from './nix.js';

const nixos = (body: string) => `{ lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`;
const home = (body: string) => `{ config, lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`;
const AGE = s('/nix/store/00000000000000000000000000000000-a.age');
const OP = `validateSecrets = false; onepassword.tokenFile = "/persist/op-token"; age.keyFile = "/persist/age.key";
    secrets.db = { onepassword = "op://Infra/db/password"; restartUnits = [ "db.service" ]; };
    secrets.local.age.file = ${AGE};`;

async function valid(kind: Kind, module: string): Promise<Evaluation> {
  const r = await evalModule(kind, module);
  assert.deepEqual(r.failedAssertions, [], 'the configuration should be accepted');
  return r;
}

const RETRIES = { Type: 'oneshot', Restart: 'on-failure', RestartPreventExitStatus: '64 65 69 70 74 77 78', RestartSec: '30s' };

test('NixOS, a network source, the defaults: sealed values, a boot run that does not wait for the network, a jittered refresh timer', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(OP));
  assert.deepEqual(r.manifest.network, { stateDir: '/var/lib/materialize', seal: { maxAge: '30d' }, callsPerHour: 60 });
  assert.equal(r.earlyBoot, false);
  const unit = r.services['materialize-secrets'];
  // No network-online.target on the boot's critical path: the sealed values are published at once.
  assert.deepEqual(unit.after, []);
  assert.ok(!unit.wants.includes('network-online.target'));
  assert.deepEqual(unit.wantedBy, ['multi-user.target']);
  assert.match(unit.serviceConfig.ExecStart, /^\/nix\/store\/\S+-materialize\/bin\/materialize apply --config (\/nix\/store\/\S+-materialize-secrets\.json) --boot --units yes --timeout 120$/);
  // The state directory (the seal, the budget) is mounted first, with the token's and the key's.
  assert.deepEqual(unit.unitConfig.RequiresMountsFor, ['/persist/age.key', '/persist/op-token', '/var/lib/materialize']);
  for (const [k, v] of Object.entries(RETRIES)) assert.equal(unit.serviceConfig[k], v, k);

  const refresh = r.services['materialize-secrets-refresh'];
  assert.deepEqual(refresh.after, ['network-online.target', 'materialize-secrets.service']);
  assert.deepEqual(refresh.wants, ['network-online.target']);
  assert.deepEqual(refresh.wantedBy, [], 'started by its timer only');
  assert.equal(refresh.restartIfChanged, false, 'a switch applies through the secrets service');
  // Network first (no --boot), the same manifest, the same exit-code retries; inactive after each run.
  assert.equal(refresh.serviceConfig.ExecStart, unit.serviceConfig.ExecStart.replace(' --boot', ''));
  for (const [k, v] of Object.entries(RETRIES)) assert.equal(refresh.serviceConfig[k], v, k);
  assert.equal(refresh.serviceConfig.RemainAfterExit, false);
  assert.equal(refresh.serviceConfig.TimeoutStartSec, '210s');
  assert.deepEqual(refresh.unitConfig.RequiresMountsFor, unit.unitConfig.RequiresMountsFor);
  assert.deepEqual(refresh.path, unit.path);

  const timer = r.timers['materialize-secrets-refresh'];
  assert.deepEqual(timer.wantedBy, ['timers.target']);
  assert.deepEqual(timer.timerConfig, { OnBootSec: '5min', OnUnitActiveSec: '1h', RandomizedDelaySec: '15min' });
});

test('NixOS: the network options go where they belong', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`${OP}
    network = { stateDir = "/persist/materialize"; seal.maxAge = "7d"; callsPerHour = 20; };
    refresh = { interval = "6h"; randomizedDelay = "6h"; };`));
  assert.deepEqual(r.manifest.network, { stateDir: '/persist/materialize', seal: { maxAge: '7d' }, callsPerHour: 20 });
  assert.ok(r.services['materialize-secrets'].unitConfig.RequiresMountsFor.includes('/persist/materialize'));
  assert.deepEqual(r.timers['materialize-secrets-refresh'].timerConfig, { OnBootSec: '5min', OnUnitActiveSec: '6h', RandomizedDelaySec: '6h' });
  // A relative state directory, or a path literal (which would be copied into the store), is refused.
  await assert.rejects(evalModule('nixos', nixos(`${OP} network.stateDir = "var/lib/m";`)), /absolute path given as a string/);
});

test('NixOS: without sealed values the unit waits for the network as before; refresh.interval = null: no timer', { skip: LIB_SKIP }, async () => {
  const off = await valid('nixos', nixos(`${OP} network.seal.enable = false;`));
  assert.deepEqual(off.manifest.network, { stateDir: '/var/lib/materialize', seal: false, callsPerHour: 60 });
  const unit = off.services['materialize-secrets'];
  assert.deepEqual(unit.after, ['network-online.target']);
  assert.ok(unit.wants.includes('network-online.target'));
  // --boot is on the command line all the same: without a seal it asks the network, as before.
  assert.match(unit.serviceConfig.ExecStart, / --boot /);
  assert.ok(off.timers['materialize-secrets-refresh'], 'the refresh timer does not need the seal');

  const noTimer = await valid('nixos', nixos(`${OP} refresh.interval = null;`));
  assert.equal(noTimer.services['materialize-secrets-refresh'], undefined);
  assert.equal(noTimer.timers['materialize-secrets-refresh'], undefined);
  assert.match(noTimer.services['materialize-secrets'].serviceConfig.ExecStart, / --boot /);
});

test('NixOS: sops and age only: no network block, no refresh, the early unit as before', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`validateSecrets = false; age.keyFile = "/persist/age.key"; secrets.local.age.file = ${AGE}; refresh.interval = "1h";`));
  assert.equal(r.manifest.network, undefined);
  assert.equal(r.earlyBoot, true);
  assert.deepEqual(Object.keys(r.services).filter((n) => n.startsWith('materialize')), ['materialize-secrets']);
  assert.deepEqual(r.timers, {});
  assert.deepEqual(r.services['materialize-secrets'].unitConfig.RequiresMountsFor, ['/persist/age.key']);
});

test('NixOS: earlyBoot with a network source needs sealed values (nothing can wait for the network before sysinit.target)', { skip: LIB_SKIP }, async () => {
  const sealed = await valid('nixos', nixos(`${OP} earlyBoot = true;`));
  const unit = sealed.services['materialize-secrets'];
  assert.equal(unit.unitConfig.DefaultDependencies, false);
  assert.ok(unit.before.includes('sysinit.target'));
  assert.deepEqual(unit.after, []);
  const unsealed = await evalModule('nixos', nixos(`${OP} earlyBoot = true; network.seal.enable = false;`));
  assert.deepEqual(unsealed.failedAssertions, [
    'materialize.earlyBoot runs the unit before sysinit.target, where it cannot wait for the network that onepassword needs: set materialize.earlyBoot = false, or keep materialize.network.seal.enable (the boot run then publishes sealed values without the network).',
  ]);
});

test('home-manager: the same network block (the program picks the state directory), --boot, and a user refresh timer', { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', home(`validateSecrets = false; onepassword.tokenFile = "\${config.xdg.configHome}/op/token"; secrets.gh.onepassword = "op://Personal/GitHub/token";`));
  assert.deepEqual(r.manifest.network, { seal: { maxAge: '30d' }, callsPerHour: 60 });
  const unit = r.userServices['materialize-secrets'];
  assert.match(unit.Service.ExecStart, / apply --config %t\/materialize\/secrets\.json --boot --units yes --units-scope user /);
  const refresh = r.userServices['materialize-secrets-refresh'];
  assert.deepEqual(refresh.Unit.After, ['materialize-secrets.service']);
  assert.equal(refresh.Unit.Wants, undefined, 'a user manager has no network-online.target');
  assert.equal(refresh.Service.ExecStart, unit.Service.ExecStart.replace(' --boot', ''));
  assert.equal(refresh.Service.ExecStartPre, unit.Service.ExecStartPre, 'the manifest is copied where the relative paths resolve');
  assert.equal(refresh.Service.RemainAfterExit, false);
  assert.equal(refresh.Service.RestartPreventExitStatus, '64 65 69 70 74 77 78');
  assert.equal(refresh.Install, undefined, 'started by its timer only');
  assert.deepEqual(r.userTimers['materialize-secrets-refresh'], {
    Unit: { Description: 'Refresh secrets from network sources every 1h' },
    Timer: { OnBootSec: '5min', OnUnitActiveSec: '1h', RandomizedDelaySec: '15min' },
    Install: { WantedBy: ['timers.target'] },
  });
  const custom = await valid('home-manager', home(`validateSecrets = false; onepassword.tokenFile = "/t"; secrets.gh.onepassword = "op://P/G/t"; network = { stateDir = "\${config.home.homeDirectory}/.local/state/secrets"; seal.enable = false; }; refresh.interval = null;`));
  assert.deepEqual(custom.manifest.network, { stateDir: '/home/alice/.local/state/secrets', seal: false, callsPerHour: 60 });
  assert.equal(custom.userServices['materialize-secrets-refresh'], undefined);
  assert.deepEqual(custom.userTimers, {});
});

test('the manifests pass materialize check; a maxAge that is not a duration fails it at its JSON path', { skip: LIB_SKIP }, async () => {
  const file = join(scratch(), 'secrets.json');
  // 1Password only: check would look for the age file, which is not there.
  const op = `validateSecrets = false; onepassword.tokenFile = "/persist/op-token"; secrets.db.onepassword = "op://Infra/db/password";`;
  for (const body of [op, `${op} network.seal.enable = false; network.callsPerHour = 0;`, `${op} network.seal.maxAge = "1d 12h";`]) {
    const r = await valid('nixos', nixos(body));
    writeFileSync(file, JSON.stringify(r.manifest));
    const ok = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  }
  const bad = await valid('nixos', nixos(`${op} network.seal.maxAge = "a month";`));
  writeFileSync(file, JSON.stringify(bad.manifest));
  const refused = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file]);
  assert.equal(refused.code, 78);
  assert.deepEqual(JSON.parse(refused.stdout).issues, [{ path: 'network.seal.maxAge', message: 'expected a duration such as "30d", "12h" or a number of seconds, got "a month"' }]);
});

/** A unit's ExecStart as the argv of the built CLI: the store's program dropped, its manifest replaced by `file`. */
function argvOf(execStart: string, file: string): string[] {
  const [, ...args] = execStart.split(' ');
  return args.map((a) => (/^\/nix\/store\/\S+-materialize-secrets\.json$/.test(a) ? file : a));
}

test('the units\' own command lines on the generated manifest: a boot with the network down publishes from the seal; the refresh asks the network', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const random = seededRandom(601);
  const token = fakeToken(random);
  const tokenFile = writeToken(dir, token);
  const keyFile = join(dir, 'host.key');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
  const world = { token, vaults: [{ title: 'Infra', items: [{ title: 'db', fields: [{ title: 'password', value: 'nixos-sealed-db-password-9e41' }] }] }] };
  const fake = await fakeRun(dir, world);
  const systemctl = fakeSystemctl(dir);
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    secretsDir = ${s(join(dir, 'run/secrets'))};
    mountPoint = ${s(join(dir, 'run/secrets.d'))};
    mount = "none";
    network.stateDir = ${s(join(dir, 'state'))};
    age.keyFile = ${s(keyFile)};
    onepassword.tokenFile = ${s(tokenFile)};
    secrets.db = { onepassword = "op://Infra/db/password"; restartUnits = [ "db.service" ]; };
  `));
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify(r.manifest));
  const boot = argvOf(r.services['materialize-secrets'].serviceConfig.ExecStart, file);
  const refresh = argvOf(r.services['materialize-secrets-refresh'].serviceConfig.ExecStart, file);
  const env = { ...fake.env, ...systemctl.env };
  const reboot = () => {
    rmSync(join(dir, 'run'), { recursive: true, force: true });
  };

  // The first boot: the network is there, the boot run fetches and seals.
  const first = await runCli([...boot, '--json'], { env });
  assert.equal(first.code, 0, first.stderr);
  // A reboot with 1Password unreachable: the boot run publishes the sealed value, no call, exit 0.
  reboot();
  fake.update({ ...world, failures: { createClient: { as: 'network' } }, backoffMs: 1 } as never);
  const calls = fake.calls().length;
  const sealed = await runCli([...boot, '--json'], { env });
  assert.equal(sealed.code, 0, sealed.stderr);
  assert.equal(JSON.parse(sealed.stdout).entries[0].status, 'cached');
  assert.equal(readFileSync(join(dir, 'run/secrets/db'), 'utf8'), 'nixos-sealed-db-password-9e41');
  assert.equal(fake.calls().length, calls);
  // The timer's refresh, still without the network: 75 (systemd retries), the value stays.
  const failed = await runCli([...refresh, '--json'], { env });
  assert.equal(failed.code, 75, failed.stderr);
  assert.equal(JSON.parse(failed.stdout).entries[0].status, 'cached');
  // The network is back with a new value: the refresh publishes it and restarts db.service.
  world.vaults[0]!.items[0]!.fields[0]!.value = 'nixos-rotated-db-password-1c07';
  fake.update(world);
  systemctl.take();
  const back = await runCli([...refresh, '--json'], { env });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(readFileSync(join(dir, 'run/secrets/db'), 'utf8'), 'nixos-rotated-db-password-1c07');
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- db.service']);
});

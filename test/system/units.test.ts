// The portable unit files (contrib/systemd/): exactly what scripts/units.mjs renders from
// nixos-module/units.json; accepted by systemd's own unit loader (`systemd-analyze verify`, the
// check that refused RestartForceExitStatus= on a oneshot unit); and carrying the same settings as
// the units the NixOS and home-manager modules evaluate to (with NIXPKGS_LIB). Booting them is
// test/system/boot.system.ts (`npm run test:system`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRIB, drift, portableUnits } from '../../scripts/units.mjs';
import { REPO } from '../helpers/cli.js';
import { LIB_SKIP, evalModule } from '../nixos/nix.js';
import { homeManagerUnit, nixosTimer, nixosUnit, parseUnit, type Sections } from './units.js';

const SYSTEM_UNITS = '/usr/lib/systemd/system';
const STANDARD_TARGETS = ['sysinit.target', 'basic.target', 'shutdown.target', 'network-online.target', 'network.target', 'timers.target', 'sockets.target', 'paths.target', 'slices.target', 'local-fs.target', 'multi-user.target', 'time-set.target', 'time-sync.target'];
const ANALYZE = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
const ANALYZE_SKIP = ANALYZE ? false : 'systemd-analyze is not installed (Debian: apt-get install systemd); the unit files are not verified by systemd';

test('contrib/systemd holds exactly what scripts/units.mjs renders from nixos-module/units.json', () => {
  assert.deepEqual(drift(), [], 'run `npm run units` and commit contrib/systemd/');
  // The check sees a drift: a copy of the tree with one setting edited by hand.
  const copy = mkdtempSync(join(tmpdir(), 'materialize-units-'));
  try {
    cpSync(join(REPO, CONTRIB), join(copy, CONTRIB), { recursive: true });
    const file = join(copy, CONTRIB, 'materialize-secrets.service');
    writeFileSync(file, readFileSync(file, 'utf8').replace('RestartSec=30s', 'RestartSec=5s'));
    assert.deepEqual(drift(copy), [`${CONTRIB}/materialize-secrets.service`]);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

/**
 * Runs `systemd-analyze verify` on units. System units are installed under a scratch root with
 * stand-in programs; user units (for which --root is not supported) are verified from a scratch
 * directory, the program path pointing at a stand-in there, with a scratch runtime directory.
 */
function verify(units: Record<string, string>, scope: 'system' | 'user'): { code: number | null; output: string } {
  const root = mkdtempSync(join(tmpdir(), 'materialize-verify-'));
  try {
    const standIn = (path: string) => {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '#!/bin/sh\n');
      chmodSync(path, 0o755);
    };
    let args: string[]; // after `systemd-analyze [--user] verify --man=no`
    let scopeFlag: string[] = [];
    let env = process.env;
    if (scope === 'system') {
      for (const program of ['usr/local/bin/materialize', 'usr/bin/install', 'usr/bin/systemctl']) standIn(join(root, program));
      // The system's own targets, which a unit with default dependencies (the refresh service, its
      // timer) is ordered against: systemd's files as installed here, where there are.
      const vendor = join(root, 'usr/lib/systemd/system');
      mkdirSync(vendor, { recursive: true });
      for (const target of STANDARD_TARGETS) if (existsSync(join(SYSTEM_UNITS, target))) copyFileSync(join(SYSTEM_UNITS, target), join(vendor, target));
      const dir = join(root, 'etc/systemd/system');
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(units)) writeFileSync(join(dir, name), text);
      args = [`--root=${root}`, ...Object.keys(units)];
    } else {
      standIn(join(root, 'bin/materialize'));
      mkdirSync(join(root, 'runtime'), { mode: 0o700 });
      for (const [name, text] of Object.entries(units)) writeFileSync(join(root, name), text.replaceAll('/usr/local/bin/materialize', join(root, 'bin/materialize')));
      scopeFlag = ['--user'];
      args = Object.keys(units).map((n) => join(root, n));
      env = { ...process.env, XDG_RUNTIME_DIR: join(root, 'runtime') };
    }
    const r = spawnSync(ANALYZE, [...scopeFlag, 'verify', '--man=no', ...args], { encoding: 'utf8', env, timeout: 60_000 });
    return { code: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("systemd's unit loader accepts the portable units (and refuses the setting that broke systemd < 256)", { skip: ANALYZE_SKIP }, () => {
  const files = portableUnits();
  const byName = (dir: string) => Object.fromEntries(Object.entries(files).filter(([p]) => p.startsWith(`${dir}/materialize`)).map(([p, t]) => [p.slice(dir.length + 1), t]));
  for (const [dir, scope] of [[CONTRIB, 'system'], [`${CONTRIB}/user`, 'user']] as const) {
    const r = verify(byName(dir), scope);
    assert.equal(r.code, 0, `${dir}: ${r.output}`);
    assert.equal(r.output.trim(), '', `${dir}: systemd-analyze has something to say`);
  }
  // The oracle can fail: the unit as the modules generated it before (RestartForceExitStatus=75 on a
  // oneshot service) is refused by this systemd (252 on Debian 12; accepted only from 256 on).
  const version = Number(/systemd (\d+)/.exec(spawnSync(ANALYZE, ['--version'], { encoding: 'utf8' }).stdout)?.[1]);
  if (version < 256) {
    const units = byName(CONTRIB);
    units['materialize-secrets.service'] = units['materialize-secrets.service']!.replace('RestartSec=30s', 'RestartSec=30s\nRestartForceExitStatus=75');
    const r = verify(units, 'system');
    assert.notEqual(r.code, 0);
    assert.match(r.output, /RestartForceExitStatus= set, which isn't allowed for Type=oneshot/);
  }
});

// The settings the modules compute from options (paths, store paths, the manifest, mounts of key
// files) differ by design; everything else must be the same in the module's unit and the file.
const LOCAL = new Set(['Description', 'ExecStart', 'ExecStartPre', 'ExecStartPost', 'Environment', 'X-Restart-Triggers', 'X-StopOnReconfiguration', 'RequiresMountsFor']);
const boolean = (v: string) => (/^(yes|true|on|1)$/.test(v) ? 'yes' : /^(no|false|off|0)$/.test(v) ? 'no' : v);

function comparable(sections: Sections): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const [name, entries] of Object.entries(sections)) {
    for (const [key, values] of Object.entries(entries)) {
      if (LOCAL.has(key)) continue;
      (out[name] ??= {})[key] = values.flatMap((v) => v.split(/\s+/)).map(boolean).sort();
    }
  }
  return out;
}

const portable = (path: string) => parseUnit(portableUnits()[`${CONTRIB}/${path}`]!);

test('the portable units carry the settings of the NixOS module (early boot, offline sources)', { skip: LIB_SKIP }, async () => {
  const r = await evalModule('nixos', `{ ... }: { materialize = {
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets.x = { age.file = "/etc/materialize/x.age"; };
  }; }`);
  const service = comparable(nixosUnit('service', r.services['materialize-secrets']));
  const file = comparable(portable('materialize-secrets.service'));
  // The module orders the unit after the mounts of the files it names; a portable unit cannot know
  // them and waits for every local file system instead.
  assert.deepEqual(file.Unit!.After, ['local-fs.target']);
  delete file.Unit!.After;
  assert.deepEqual(service, file);
  assert.deepEqual(comparable(nixosUnit('target', r.targets['materialize-secrets'])), comparable(portable('materialize-secrets.target')));
  const bare = (cmd: string) => cmd.replace(/^\S*\/bin\//, '');
  assert.equal(bare(r.services['materialize-secrets'].serviceConfig.ExecStartPost), portable('materialize-secrets.service').Service!.ExecStartPost![0]);
});

test('the portable user units carry the settings of the home-manager module', { skip: LIB_SKIP }, async () => {
  const r = await evalModule('home-manager', `{ ... }: { materialize = {
    validateSecrets = false;
    age.keyFile = "/home/alice/.config/sops/age/keys.txt";
    secrets.x = { age.file = "/home/alice/secrets/x.age"; };
  }; }`);
  assert.deepEqual(comparable(homeManagerUnit(r.userServices['materialize-secrets'])), comparable(portable('user/materialize-secrets.service')));
  assert.deepEqual(comparable(homeManagerUnit(r.userTargets['materialize-secrets'])), comparable(portable('user/materialize-secrets.target')));
  // What the comparison leaves out still has the same shape: copy the manifest into %t, apply it there.
  const hm = r.userServices['materialize-secrets'].Service;
  const file = portable('user/materialize-secrets.service').Service!;
  assert.equal(hm.ExecStartPre.replace(/^\S+\/bin\/install (.*) \S+ (\S+)$/, 'install $1 $2'), file.ExecStartPre![0]!.replace(/^\S+\/bin\/install (.*) \S+ (\S+)$/, 'install $1 $2'));
  assert.equal(hm.ExecStart.replace(/^\S+\/bin\/materialize/, 'materialize'), file.ExecStart![0]!.replace(/^\S+\/bin\/materialize/, 'materialize'));
  assert.equal(hm.ExecStartPost.replace(/^\S+\/bin\//, ''), file.ExecStartPost![0]);
});

test('the portable refresh units carry the settings of the modules\' refresh service and timer (a network source)', { skip: LIB_SKIP }, async () => {
  const r = await evalModule('nixos', `{ ... }: { materialize = {
    validateSecrets = false;
    onepassword.tokenFile = "/var/lib/materialize/op-token";
    secrets.x.onepassword = "op://Infra/x/password";
  }; }`);
  assert.deepEqual(comparable(nixosUnit('service', r.services['materialize-secrets-refresh'])), comparable(portable('materialize-secrets-refresh.service')));
  // A timer as NixOS writes it: [Unit], [Timer] from timerConfig, [Install].
  assert.deepEqual(comparable(nixosTimer(r.timers['materialize-secrets-refresh'])), comparable(portable('materialize-secrets-refresh.timer')));
  // The refresh asks the network first; the boot run takes the seal first, in both.
  const bare = (cmd: string) => cmd.replace(/^\S+\/bin\/materialize apply --config \S+/, 'materialize apply --config C');
  assert.equal(bare(r.services['materialize-secrets-refresh'].serviceConfig.ExecStart), bare(portable('materialize-secrets-refresh.service').Service!.ExecStart![0]!));
  assert.equal(bare(r.services['materialize-secrets'].serviceConfig.ExecStart), bare(portable('materialize-secrets.service').Service!.ExecStart![0]!));

  const hm = await evalModule('home-manager', `{ ... }: { materialize = {
    validateSecrets = false;
    onepassword.tokenFile = "/home/alice/.config/op/token";
    secrets.x.onepassword = "op://Infra/x/password";
  }; }`);
  assert.deepEqual(comparable(homeManagerUnit(hm.userServices['materialize-secrets-refresh'])), comparable(portable('user/materialize-secrets-refresh.service')));
  assert.deepEqual(comparable(homeManagerUnit(hm.userTimers['materialize-secrets-refresh'])), comparable(portable('user/materialize-secrets-refresh.timer')));
});

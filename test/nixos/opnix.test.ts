// The OpNix compatibility module (nixos-module/opnix-compat.nix), evaluated with nixpkgs' lib and
// the stubs: an OpNix configuration (OpNix's documented options, a user's older JSON file) becomes
// the expected secrets.json; its JSON files map exactly as `materialize import opnix` maps them; the
// unit's migration step, run for real, moves OpNix's plaintext leftovers aside; and the result,
// applied with the fake 1Password, puts every secret where OpNix put it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, ROOT_SKIP, runCli } from '../helpers/cli.js';
import { seededRandom } from '../helpers/random.js';
import { createGroup, groupId } from '../helpers/users.js';
import { fakeRun } from '../providers/onepassword/helpers/cli-fake.js';
import { fakeToken, writeToken } from '../providers/onepassword/helpers/world.js';
import { LIB_SKIP, buildCheck, nixInstantiate, nixString as s, scratch } from './nix.js';

const COMPAT = join(REPO, 'nixos-module/opnix-compat.nix');
const STUBS = join(REPO, 'nixos-module/tests/stubs.nix');
const FIXTURES = join(REPO, 'test/fixtures/opnix');

/**
 * Evaluates the compatibility module (which imports the materialize module) with `config` as the
 * user's module, and returns `result` (Nix, over the evaluation `e` and the stubs' `pkgs`) as JSON.
 * `pkgs` replaces the stubs' packages where a test needs other ones.
 */
async function evaluate(config: string, result: string, pkgs = 'stubs.pkgs'): Promise<any> {
  const file = join(scratch(), 'compat.nix');
  writeFileSync(
    file,
    `let
      lib = import (builtins.getEnv "NIXPKGS_LIB");
      stubs = import ${STUBS} { inherit lib; };
      pkgs = ${pkgs};
      e = lib.evalModules { modules = [ stubs.nixos ${COMPAT} { materialize.package = stubs.fakeDrv "materialize" "" { }; _module.args.pkgs = lib.mkForce pkgs; } (${config}) ]; };
    in ${result}`,
  );
  const r = await nixInstantiate(['--eval', '--strict', '--json', file]);
  if (r.code !== 0) throw new Error(`nix-instantiate failed (${r.code})\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** What the tests read of an evaluation: failed assertions, and when there are none the manifest, the units, users and groups. */
function evalCompat(config: string): Promise<any> {
  return evaluate(config, `let
      c = e.config;
      failed = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
    in { inherit failed; } // lib.optionalAttrs (failed == [ ]) {
      manifest = c.materialize.manifest;
      secretPaths = c.services.onepassword-secrets.secretPaths;
      unit = c.systemd.services.materialize-secrets or null;
      services = lib.mapAttrs (_: u: { inherit (u) after wants; }) (removeAttrs c.systemd.services [ "materialize-secrets" ]);
      poll = c.systemd.services.materialize-secrets-poll or null;
      timers = c.systemd.timers;
      groups = c.users.groups;
      users = c.users.users;
    }`);
}

/** The migration script's text: evaluated with a writeShellScript whose "store path" is the script itself. */
async function migrateScript(config: string): Promise<string> {
  const { text, coreutils } = (await evaluate(
    config,
    '{ text = builtins.head e.config.systemd.services.materialize-secrets.serviceConfig.ExecStartPre; coreutils = "${pkgs.coreutils}"; }',
    'stubs.pkgs // { writeShellScript = name: text: { type = "derivation"; inherit name; outPath = text; }; }',
  )) as { text: string; coreutils: string };
  // The script calls coreutils by store path; here, the host's.
  return text.split(`${coreutils}/bin/`).join('');
}

const PANTHER = `{ ... }: {
  services.onepassword-secrets = {
    enable = true;
    tokenFile = "/persist/root/.config/op/token";
    secrets = {
      databasePassword = { reference = "op://Homelab/Database/password"; owner = "postgres"; group = "postgres"; services = [ "postgresql" ]; };
      sslCertificate = {
        reference = "op://Homelab/SSL/certificate";
        path = "/etc/ssl/certs/app.pem";
        owner = "caddy"; group = "caddy"; mode = "0644";
        symlinks = [ "/etc/ssl/certs/legacy.pem" ];
        services = { caddy = { restart = true; after = [ "opnix-secrets.service" ]; }; haproxy = { signal = "SIGHUP"; }; };
      };
      serverKey = { reference = "op://Homelab/Keys/server.age"; kind = "file"; path = "keys/{host}.age"; variables.host = "panther"; };
    };
    systemdIntegration = { services = [ "grafana" ]; polling = { enable = true; interval = "30min"; }; errorHandling = { continueOnError = false; maxRetries = 5; }; };
  };
}`;

test('an OpNix configuration becomes this secrets.json: OpNix\'s paths as links, owners, modes, restarts, reloads, files', { skip: LIB_SKIP }, async () => {
  const r = await evalCompat(PANTHER);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.manifest.providers, { onepassword: { tokenFile: '/persist/root/.config/op/token', attempts: 5 } });
  assert.equal(r.manifest.failurePolicy, 'abort');
  assert.deepEqual(r.manifest.secrets, {
    databasePassword: { sources: [{ onepassword: 'op://Homelab/Database/password' }], owner: 'postgres', group: 'postgres', mode: '0600', path: '/var/lib/opnix/secrets/databasePassword', restartUnits: ['postgresql.service'] },
    sslCertificate: { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'caddy', group: 'caddy', mode: '0644', path: '/etc/ssl/certs/app.pem', restartUnits: ['caddy.service'], reloadUnits: ['haproxy.service'] },
    'sslCertificate.link1': { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'caddy', group: 'caddy', mode: '0644', path: '/etc/ssl/certs/legacy.pem', restartUnits: ['caddy.service'], reloadUnits: ['haproxy.service'] },
    serverKey: { sources: [{ onepassword: { reference: 'op://Homelab/Keys/server.age', kind: 'file' } }], owner: 'root', group: 'root', mode: '0600', path: '/var/lib/opnix/secrets/keys/panther.age' },
  });
  // Consumers reading OpNix's paths find them where they were.
  assert.deepEqual(r.secretPaths, { databasePassword: '/var/lib/opnix/secrets/databasePassword', sslCertificate: '/etc/ssl/certs/app.pem', serverKey: '/var/lib/opnix/secrets/keys/panther.age' });
  // 1Password's values are sealed: the unit does not wait for the network (the refresh does); its
  // token's mount first; OpNix's services are ordered after the secrets.
  assert.deepEqual(r.unit.after, []);
  assert.match(r.unit.serviceConfig.ExecStart, / apply --config \S+ --boot /);
  assert.deepEqual(r.unit.unitConfig.RequiresMountsFor.includes('/persist/root/.config/op/token'), true);
  assert.deepEqual(r.services.grafana, { after: ['materialize-secrets.target'], wants: ['materialize-secrets.target'] });
  for (const name of ['postgresql', 'caddy', 'haproxy']) assert.deepEqual(r.services[name].after, ['materialize-secrets.target'], name);
  // Polling: materialize's refresh timer, at OpNix's interval.
  assert.equal(r.timers['materialize-secrets-refresh'].timerConfig.OnUnitActiveSec, '30min');
  assert.equal(r.poll, null, 'no second timer restarting the secrets unit');
  // No `users`: no group, the token must be the service's alone.
  assert.deepEqual(r.groups, {});
  assert.equal(r.manifest.providers.onepassword.allowReadableTokenFile, undefined);
});

test('`users`: OpNix\'s group and its members are kept, and so is their read access to the token', { skip: LIB_SKIP }, async () => {
  const r = await evalCompat(`{ ... }: { services.onepassword-secrets = { enable = true; users = [ "alice" ]; secrets.apiKey.reference = "op://Work/API/key"; }; }`);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.groups, { 'onepassword-secrets': {} });
  assert.deepEqual(r.users.alice.extraGroups, ['onepassword-secrets']);
  assert.deepEqual(r.manifest.providers, { onepassword: { tokenFile: '/etc/opnix-token', allowReadableTokenFile: true } });
});

test('configFiles (both formats) map exactly as `materialize import opnix` maps the same files', { skip: LIB_SKIP }, async () => {
  for (const name of ['configuration-reference.json', 'multi-service.json', 'getting-started.json', 'older-format.json']) {
    const r = await evalCompat(`{ ... }: { services.onepassword-secrets = { enable = true; configFiles = [ ${join(FIXTURES, name)} ]; }; }`);
    assert.deepEqual(r.failed, [], name);
    const imported = await runCli(['import', 'opnix', join(FIXTURES, name)]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.deepEqual(r.manifest.secrets, JSON.parse(imported.stdout).secrets, name);
  }
});

test('impossible OpNix configurations fail with assertions', { skip: LIB_SKIP }, async () => {
  const literal = await evalCompat(`{ ... }: { services.onepassword-secrets = { enable = true; tokenFile = ${join(REPO, 'package.json')}; secrets.a.reference = "op://v/i/f"; }; }`);
  assert.ok(literal.failed.some((m: string) => /tokenFile is a Nix path literal, which would copy the token into the world-readable Nix store/.test(m)), literal.failed.join('\n'));
  const empty = await evalCompat(`{ ... }: { services.onepassword-secrets.enable = true; }`);
  assert.deepEqual(empty.failed, ['services.onepassword-secrets: set secrets, configFiles or configFile.']);
});

test('the compatibility manifest passes materialize check; disabled, the module adds nothing', { skip: LIB_SKIP }, async () => {
  const r = await evalCompat(PANTHER);
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  const off = await evalCompat(`{ ... }: { services.onepassword-secrets.secrets.a.reference = "op://v/i/f"; }`);
  assert.deepEqual(off.manifest.secrets, {});
});

/** The group OpNix gave the token to, made for the test when it does not exist (root only). */
function opnixGroup(t: TestContext): boolean {
  if (groupId('onepassword-secrets') !== undefined) return true;
  createGroup(t, 'onepassword-secrets');
  return true;
}

test('switching from OpNix: the unit\'s migration step moves OpNix\'s plaintext files aside, tightens the token, then apply links every path', { skip: LIB_SKIP || ROOT_SKIP }, async (t) => {
  const dir = scratch();
  const random = seededRandom(501);
  const token = fakeToken(random);
  const outputDir = join(dir, 'var/lib/opnix/secrets');
  const tokenFile = writeToken(dir, token, 0o640);
  opnixGroup(t);
  execFileSync('chown', ['root:onepassword-secrets', tokenFile]);
  const values = { db: 'opnix-switch-db-8a1f', cert: 'opnix-switch-cert-77b0' };
  const fake = await fakeRun(dir, { token, vaults: [{ title: 'Homelab', items: [{ title: 'Database', fields: [{ title: 'password', value: values.db }] }, { title: 'SSL', fields: [{ title: 'certificate', value: values.cert }] }] }] });
  const config = `{ ... }: {
    materialize = { secretsDir = ${s(join(dir, 'run/secrets'))}; mountPoint = ${s(join(dir, 'run/secrets.d'))}; mount = "none"; validateSecrets = false; network.stateDir = ${s(join(dir, 'state'))}; };
    services.onepassword-secrets = {
      enable = true;
      tokenFile = ${s(tokenFile)};
      outputDir = ${s(outputDir)};
      secrets.databasePassword.reference = "op://Homelab/Database/password";
      secrets.sslCertificate = { reference = "op://Homelab/SSL/certificate"; path = ${s(join(dir, 'etc/ssl/app.pem'))}; mode = "0644"; };
    };
  }`;
  // What OpNix left: plaintext files at both paths.
  mkdirSync(outputDir, { recursive: true });
  mkdirSync(join(dir, 'etc/ssl'), { recursive: true });
  writeFileSync(join(outputDir, 'databasePassword'), 'old plaintext from OpNix');
  writeFileSync(join(dir, 'etc/ssl/app.pem'), 'old certificate from OpNix');

  // ExecStartPre, run as the unit runs it.
  const script = join(dir, 'migrate.sh');
  writeFileSync(script, await migrateScript(config));
  chmodSync(script, 0o755);
  const migrated = spawnSync('/bin/sh', [script], { encoding: 'utf8' });
  assert.equal(migrated.status, 0);
  assert.match(migrated.stderr, /moved OpNix's file .*\/databasePassword aside to .*\/databasePassword\.opnix-old \(plaintext on disk: delete it\)/);
  assert.match(migrated.stderr, /app\.pem aside/);
  assert.match(migrated.stderr, /was readable by group onepassword-secrets \(set by OpNix\) and no user is in it: now root:root 0600/);
  assert.equal(readFileSync(join(outputDir, 'databasePassword.opnix-old'), 'utf8'), 'old plaintext from OpNix');
  assert.equal(readFileSync(join(dir, 'etc/ssl/app.pem.opnix-old'), 'utf8'), 'old certificate from OpNix');
  assert.equal(existsSync(join(outputDir, 'databasePassword')), false);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.equal(statSync(tokenFile).gid, 0);

  const r = await evalCompat(config);
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify(r.manifest));
  const applied = await runCli(['apply', '--json', '--units', 'no', '--config', file], { env: fake.env });
  assert.equal(applied.code, 0, applied.stderr);
  assert.ok(lstatSync(join(outputDir, 'databasePassword')).isSymbolicLink());
  assert.equal(readlinkSync(join(outputDir, 'databasePassword')), join(dir, 'run/secrets/databasePassword'));
  assert.equal(readFileSync(join(outputDir, 'databasePassword'), 'utf8'), values.db);
  assert.equal(readFileSync(join(dir, 'etc/ssl/app.pem'), 'utf8'), values.cert);
  assert.equal(statSync(join(dir, 'run/secrets/sslCertificate')).mode & 0o777, 0o644);
  // Run again (every start runs it): nothing left to do, nothing said.
  const again = spawnSync('/bin/sh', [script], { encoding: 'utf8' });
  assert.equal(again.status, 0);
  assert.equal(again.stderr, '');
});

test('the flake exposes the module as nixosModules.opnix-compat', { skip: LIB_SKIP }, async () => {
  const r = await nixInstantiate(['--eval', '--strict', '--json', '--expr', 'toString ((import ./flake.nix).outputs { self = null; nixpkgs = null; }).nixosModules.opnix-compat']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), COMPAT);
});

test('imported beside the materialize module itself (nixosModules.default), it is still one module', { skip: LIB_SKIP }, async () => {
  const r = await nixInstantiate(['--eval', '--strict', '--json', '--expr', `
    let lib = import (builtins.getEnv "NIXPKGS_LIB"); stubs = import ${STUBS} { inherit lib; };
      e = lib.evalModules { modules = [ stubs.nixos ${join(REPO, 'nixos-module')} ${COMPAT} { materialize.package = stubs.fakeDrv "m" "" { }; services.onepassword-secrets = { enable = true; secrets.apiKey.reference = "op://v/i/f"; }; } ]; };
    in builtins.attrNames e.config.materialize.manifest.secrets`]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['apiKey']);
});

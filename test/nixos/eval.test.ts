// The NixOS and home-manager modules, evaluated with nixpkgs' real lib and the stubs of
// nixos-module/tests/stubs.nix (nixos-module/tests/eval.nix): the secrets.json they generate, the
// units and activation snippets around it, the assertions for impossible configurations — and the
// generated JSON fed to the real program (`materialize check`, and `materialize apply` end to end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, registerSecretValues, runCli } from '../helpers/cli.js';
import { LIB_SKIP, buildCheck, evalExpr, evalModule, nixString, scratch, valid } from './nix.js';

const DB = join(REPO, 'demo/secrets/db-password.age');
const API = join(REPO, 'demo/secrets/api-token.age');
const DEPLOY = join(REPO, 'demo/secrets/deploy-key.age');
const SOPS = join(REPO, 'nixos-module/tests/fixtures/sops/secret.enc.yaml');
const FOR_USERS = join(REPO, 'nixos-module/tests/fixtures/alice-password.age');
const s = nixString;

registerSecretValues('correct horse battery staple', 'not a real key', 'this is a secret');

/** A configuration module whose `materialize` block is `body`, plus other settings. */
const nixos = (body: string, extra = '') => `{ lib, ... }: {\n${extra}\nmaterialize = {\n${body}\n};\n}\n`;
const evalNixos = (body: string, extra = '') => evalModule('nixos', nixos(body, extra));
const evalHome = (body: string) => evalModule('home-manager', `{ config, lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`);

/** A copy of the demo age key with the mode the program expects of a key file. */
function demoKey(dir: string): string {
  const key = join(dir, 'demo.agekey');
  copyFileSync(join(REPO, 'demo/keys/demo.agekey'), key);
  chmodSync(key, 0o600);
  return key;
}

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

test('options become exactly this secrets.json: shorthands, sources, default sops file, owners, links, template', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    defaultSopsFile = ${s(SOPS)};
    defaultSopsFormat = "yaml";
    age.keyFile = "/var/lib/materialize/age.key";
    keepGenerations = 3;
    secrets = {
      "db/password" = { age.file = ${s(DB)}; owner = "postgres"; group = "postgres"; mode = "0440"; restartUnits = [ "postgresql.service" ]; };
      api = { };
      nested = { sops.key = "complex/value"; owner = 4242; group = 4242; path = "/var/lib/app/nested"; reloadUnits = [ "app.service" ]; };
      fallback = { sources = [ { sops = { file = ${s(SOPS)}; key = "secret"; }; } { age.file = ${s(API)}; } ]; optional = true; };
      # A binary file holds one value: no key (sops-nix ignored it; the program refuses one).
      blob.sops = { file = "/etc/blob.bin"; format = "binary"; };
    };
    templates."app.env" = { content = "DB={{db/password}}\\n"; owner = "app"; restartUnits = [ "app.service" ]; };
  `));
  assert.deepEqual(r.manifest, {
    version: 1,
    secretsDir: '/run/secrets',
    mountPoint: '/run/secrets.d',
    mount: 'ramfs',
    keepGenerations: 3,
    failurePolicy: 'keep-previous',
    keys: { ageKeyFiles: ['/var/lib/materialize/age.key'], sshKeyPaths: [], gnupgHome: null },
    secrets: {
      'db/password': { sources: [{ age: { file: DB } }], owner: 'postgres', group: 'postgres', mode: '0440', restartUnits: ['postgresql.service'] },
      // No source named: the default sops file, under the secret's own name (as in sops-nix).
      api: { sources: [{ sops: { file: SOPS, key: 'api', format: 'yaml' } }], mode: '0400' },
      nested: { sources: [{ sops: { file: SOPS, key: 'complex/value', format: 'yaml' } }], owner: 4242, group: 4242, mode: '0400', path: '/var/lib/app/nested', reloadUnits: ['app.service'] },
      // A sources list goes through as written.
      fallback: { sources: [{ sops: { file: SOPS, key: 'secret' } }, { age: { file: API } }], mode: '0400', optional: true },
      blob: { sources: [{ sops: { file: '/etc/blob.bin', format: 'binary' } }], mode: '0400' },
    },
    templates: { 'app.env': { content: 'DB={{db/password}}\n', owner: 'app', mode: '0400', restartUnits: ['app.service'] } },
  });
  assert.equal(r.manifestForUsers, null);
  // `path` reads as where consumers find the file.
  assert.deepEqual(r.paths, { 'db/password': '/run/secrets/db/password', api: '/run/secrets/api', nested: '/var/lib/app/nested', fallback: '/run/secrets/fallback', blob: '/run/secrets/blob' });
  assert.equal(r.placeholder['db/password'], '{{db/password}}');
});

test('the generated secrets.json passes materialize check (age sources)', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets = {
      "db/password" = { age.file = ${s(DB)}; owner = "postgres"; mode = "0440"; restartUnits = [ "postgresql.service" ]; };
      "api/token" = { sources = [ { age.file = ${s(API)}; } { age.file = ${s(DB)}; } ]; owner = 999; optional = true; };
      deploy-key = { age.file = ${s(DEPLOY)}; path = "/root/.ssh/deploy"; };
    };
    templates."app.env".content = "PW={{db/password}}\\nTOKEN={{ api/token }}\\n";
  `));
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.equal(c.report.ok, true);
  assert.equal(c.report.secrets, 3);
  assert.equal(c.report.templates, 1);
  assert.deepEqual(c.report.providers, ['age']);
});

test('the generated secrets.json passes materialize check (sops sources)', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    defaultSopsFile = ${s(SOPS)};
    secrets = {
      secret = { };
      nested = { sops = { key = "complex/value"; format = "yaml"; }; };
      both = { sources = [ { sops = { file = ${s(SOPS)}; key = "string"; }; } { age.file = ${s(API)}; } ]; };
    };
  `));
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.deepEqual([...c.report.providers].sort(), ['age', 'sops']);
});

test('what the module passes through unjudged, the build-time check rejects, naming the JSON path', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets."db/password" = { age.file = ${s(DB)}; mode = "rw-r-----"; owner = "not a user!"; restartUnits = [ "nginx.servce" ]; };
    templates."app.env".content = "{{ db/pasword }}";
  `));
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 78);
  const issues = c.report.issues.map((i: any) => `${i.path}: ${i.message}`);
  const expect = (path: string, message: RegExp) =>
    assert.ok(issues.some((i: string) => i.startsWith(`${path}: `) && message.test(i)), `expected an issue at ${path} matching ${message}; got\n${issues.join('\n')}`);
  expect('secrets["db/password"].mode', /octal mode/);
  expect('secrets["db/password"].owner', /user name or a numeric id/);
  expect('secrets["db/password"].restartUnits[0]', /did you mean "nginx.service"/);
  expect('templates["app.env"].content', /no secret named "db\/pasword"/);

  // Files are checked once the configuration itself is sound.
  const missing = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets.missing.age.file = ${s(join(REPO, 'demo/secrets/no-such.age'))};
    secrets.notAge.age.file = ${s(SOPS)};
  `));
  const files = await buildCheck(missing.manifest);
  assert.equal(files.code, 78);
  assert.deepEqual(
    files.report.issues.map((i: any) => i.path),
    ['secrets.missing.sources[0].age.file', 'secrets.notAge.sources[0].age.file'],
  );
  assert.match(files.report.issues[0].message, /does not exist/);
  assert.match(files.report.issues[1].message, /not an age file/);
});

test('the unit: early, offline, oneshot, exit codes, mounts, re-run when the manifest changes', { skip: LIB_SKIP }, async () => {
  const body = (mode: string) => `
    validateSecrets = false;
    age.keyFile = "/persist/keys/age.key";
    timeout = 30;
    secrets."db/password" = { age.file = ${s(DB)}; mode = "${mode}"; path = "/var/lib/db/password"; };
    secrets.offstore = { age.file = "/persist/secrets/x.age"; };
  `;
  const r = await valid('nixos', nixos(body('0400')));
  const unit = r.services['materialize-secrets'];
  const manifest = r.manifestFile.path;
  assert.match(manifest, /^\/nix\/store\/[0-9a-z]{32}-materialize-secrets\.json$/);
  // --boot: a no-op for sops and age (it asks sealed values of network sources first after a reboot).
  assert.equal(unit.serviceConfig.ExecStart, `/nix/store/${r.systemPackages[0].split('/nix/store/')[1]}/bin/materialize apply --config ${manifest} --boot --units yes --timeout 30`);
  assert.equal(unit.serviceConfig.Type, 'oneshot');
  assert.equal(unit.serviceConfig.RemainAfterExit, true);
  // systemd < 256 refuses RestartForceExitStatus= on a oneshot unit (and never runs it): retries are
  // Restart=on-failure minus every exit code a retry cannot mend.
  assert.equal(unit.serviceConfig.Restart, 'on-failure');
  assert.equal(unit.serviceConfig.RestartPreventExitStatus, '64 65 69 70 74 77 78');
  assert.equal(unit.serviceConfig.RestartForceExitStatus, undefined);
  assert.equal(unit.serviceConfig.TimeoutStartSec, '120s');
  // Before sysinit.target, with no default dependencies, ordered after the mounts it reads from.
  // Wanted by multi-user.target, ordered before sysinit.target: a consumer's start (which pulls in
  // sysinit.target and all it wants) must never start the unit again when it failed.
  assert.deepEqual(unit.wantedBy, ['multi-user.target']);
  assert.deepEqual(unit.before.sort(), ['materialize-secrets.target', 'shutdown.target', 'sysinit.target']);
  assert.deepEqual(unit.conflicts, ['shutdown.target']);
  assert.deepEqual(unit.after, []);
  // Not Wants= the target: each automatic restart would pull it in again, and its Requisite= check
  // would hold sysinit.target for as long as the retries last. A successful run starts the target.
  assert.deepEqual(unit.wants, []);
  assert.match(unit.serviceConfig.ExecStartPost, /^\/nix\/store\/\S+-systemd\/bin\/systemctl --no-block start materialize-secrets\.target$/);
  assert.equal(unit.unitConfig.DefaultDependencies, false);
  assert.deepEqual(unit.unitConfig.RequiresMountsFor, ['/persist/keys/age.key', DB, '/persist/secrets/x.age', '/var/lib/db']);
  assert.ok(unit.path.some((p: string) => p.endsWith('-util-linux')), 'mount is on its PATH');
  // Re-run by switch-to-configuration when (and only when) the manifest changes, restarted in place.
  assert.deepEqual(unit.restartTriggers, [manifest]);
  assert.equal(unit.stopIfChanged, false);
  assert.equal(unit.restartIfChanged, true);
  const same = await valid('nixos', nixos(body('0400')));
  assert.equal(same.manifestFile.path, manifest, 'the same options give the same manifest');
  const changed = await valid('nixos', nixos(body('0440')));
  assert.notEqual(changed.manifestFile.path, manifest);
  assert.deepEqual(changed.services['materialize-secrets'].restartTriggers, [changed.manifestFile.path]);

  const target = r.targets['materialize-secrets'];
  assert.deepEqual(target.wantedBy, ['sysinit.target']);
  assert.deepEqual(target.requires, [], 'a consumer started while the service is failed must not run it again');
  assert.deepEqual(target.requisite, ['materialize-secrets.service']);
  assert.deepEqual(target.after, ['materialize-secrets.service']);
  assert.equal(target.unitConfig['X-StopOnReconfiguration'], true);
  assert.equal(r.etc['materialize/secrets.json'].source, manifest);
  assert.deepEqual(r.activationScripts.materializeSecretsForUsers, undefined);
});

test('a provider that needs the network moves the unit after network-online.target; earlyBoot = false without it', { skip: LIB_SKIP }, async () => {
  // Without sealed values (with them, the unit does not wait: test/nixos/network.test.ts).
  const online = await valid('nixos', nixos(`
    validateSecrets = false;
    network.seal.enable = false;
    age.keyFile = "/var/lib/materialize/age.key";
    onepassword.tokenFile = "/var/lib/materialize/op-token";
    secrets.openai.sources = [ { onepassword.reference = "op://Infra/openai/credential"; } { age.file = ${s(API)}; } ];
  `));
  assert.equal(online.earlyBoot, false);
  // Future providers slot in: the source goes through as written.
  assert.deepEqual(online.manifest.secrets.openai.sources[0], { onepassword: { reference: 'op://Infra/openai/credential' } });
  const unit = online.services['materialize-secrets'];
  assert.deepEqual(unit.wantedBy, ['multi-user.target']);
  assert.deepEqual(unit.after, ['network-online.target']);
  assert.deepEqual(unit.wants, ['network-online.target']);
  assert.equal(unit.unitConfig.DefaultDependencies, undefined);
  assert.deepEqual(unit.before, ['materialize-secrets.target']);
  assert.deepEqual(online.targets['materialize-secrets'].wantedBy, ['multi-user.target']);

  // Keys that appear late (cloud-init writes the host key): no sysinit ordering, no network either.
  const late = await valid('nixos', nixos(`
    validateSecrets = false;
    earlyBoot = false;
    age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    secrets.token.age.file = ${s(API)};
  `));
  assert.deepEqual(late.services['materialize-secrets'].wantedBy, ['multi-user.target']);
  assert.deepEqual(late.services['materialize-secrets'].after, []);
  assert.equal(late.services['materialize-secrets'].unitConfig.DefaultDependencies, undefined);
});

test('services in restartUnits and reloadUnits are ordered after materialize-secrets.target', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets.a = { age.file = ${s(DB)}; restartUnits = [ "postgresql.service" "container@web.service" "nginx.socket" ]; reloadUnits = [ "app.service" ]; };
    secrets.b = { age.file = ${s(API)}; restartUnits = [ "app.service" ]; };
    secrets.h = { age.file = ${s(FOR_USERS)}; neededForUsers = true; restartUnits = [ "ignored.service" ]; };
    templates."web.env" = { content = "X={{a}}"; restartUnits = [ "web.service" ]; };
  `, 'systemd.services.app.serviceConfig.ExecStart = "/bin/app";'));
  const dependents = Object.keys(r.services).filter((n) => n !== 'materialize-secrets').sort();
  // Template instances and non-service units are left alone; neededForUsers units are not restarted.
  assert.deepEqual(dependents, ['app', 'postgresql', 'web']);
  for (const name of dependents) {
    assert.deepEqual(r.services[name].after, ['materialize-secrets.target'], name);
    assert.deepEqual(r.services[name].wants, ['materialize-secrets.target'], name);
  }
  // Merged with the service's own definition, not replacing it.
  assert.equal(r.services.app.serviceConfig.ExecStart, '/bin/app');
  assert.deepEqual(r.warnings, [
    'materialize.secrets."h": restartUnits and reloadUnits are ignored for neededForUsers secrets (they are applied during activation, before services run).',
  ]);
});

test('neededForUsers: a second manifest, root-owned, applied by an activation snippet before `users`', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets."alice/password" = { age.file = ${s(FOR_USERS)}; neededForUsers = true; owner = "root"; };
    secrets.token = { age.file = ${s(API)}; };
  `));
  assert.deepEqual(r.manifestForUsers, {
    version: 1,
    secretsDir: '/run/secrets-for-users',
    mountPoint: '/run/secrets-for-users.d',
    mount: 'ramfs',
    keepGenerations: 1,
    failurePolicy: 'keep-previous',
    keys: { ageKeyFiles: ['/var/lib/materialize/age.key'], sshKeyPaths: [], gnupgHome: null },
    secrets: { 'alice/password': { sources: [{ age: { file: FOR_USERS } }], owner: 'root', mode: '0400' } },
  });
  assert.deepEqual(Object.keys(r.manifest.secrets), ['token'], 'the system service does not publish it');
  assert.equal(r.paths['alice/password'], '/run/secrets-for-users/alice/password');
  assert.equal(r.placeholder['alice/password'], undefined, 'templates cannot use it');

  const snippet = r.activationScripts.materializeSecretsForUsers;
  assert.deepEqual(snippet.deps, ['specialfs']);
  // The activation script's PATH has no gpg (nor the units' other tools): they come first.
  assert.match(snippet.text, /^PATH='?(\/nix\/store\/[0-9a-z]{32}-[^/:']+\/bin:?)+'?:"\$PATH" \/nix\/store\/\S+\/bin\/materialize apply --config \/nix\/store\/[0-9a-z]{32}-materialize-secrets-for-users\.json --units no --quiet --timeout 120\n$/);
  assert.deepEqual(r.activationScripts.users.deps, ['materializeSecretsForUsers']);
  assert.equal(r.services['materialize-secrets-for-users'], undefined);

  const c = await buildCheck(r.manifestForUsers);
  assert.equal(c.code, 0, c.stdout + c.stderr);

  // Only neededForUsers secrets: no system service, no target, the snippet alone.
  const only = await valid('nixos', nixos(`
    validateSecrets = false;
    age.keyFile = "/var/lib/materialize/age.key";
    secrets.hash = { age.file = ${s(FOR_USERS)}; neededForUsers = true; };
  `));
  assert.deepEqual(Object.keys(only.services), []);
  assert.deepEqual(Object.keys(only.targets), []);
  assert.ok(only.activationScripts.materializeSecretsForUsers);
});

for (const [label, setting, creator] of [
  ['systemd-sysusers', 'systemd.sysusers.enable = true;', 'systemd-sysusers.service'],
  ['userborn', 'services.userborn.enable = true;', 'userborn.service'],
] as const) {
  test(`neededForUsers with ${label}: a unit ordered before ${creator}`, { skip: LIB_SKIP }, async () => {
    const r = await valid('nixos', nixos(`
      validateSecrets = false;
      age.keyFile = "/var/lib/materialize/age.key";
      secrets.hash = { age.file = ${s(FOR_USERS)}; neededForUsers = true; };
      secrets.token = { age.file = ${s(API)}; };
    `, setting));
    const unit = r.services['materialize-secrets-for-users'];
    assert.deepEqual(unit.wantedBy, [creator]);
    assert.deepEqual(unit.before, [creator, 'shutdown.target']);
    assert.equal(unit.unitConfig.DefaultDependencies, false);
    // The key, and the source file (outside the store here: validateSecrets is off).
    assert.deepEqual(unit.unitConfig.RequiresMountsFor, ['/var/lib/materialize/age.key', FOR_USERS]);
    assert.match(unit.serviceConfig.ExecStart, /materialize apply --config \/nix\/store\/[0-9a-z]{32}-materialize-secrets-for-users\.json --units no /);
    assert.equal(r.activationScripts.materializeSecretsForUsers, undefined);
    // The regular secrets wait for the users to exist.
    assert.deepEqual(r.services['materialize-secrets'].after, [creator]);
    if (label === 'systemd-sysusers') assert.equal(r.activationScripts.users, '', 'NixOS empties the users snippet; it must stay a string');
  });
}

test('age.sshKeyPaths defaults to the ed25519 host keys when openssh is enabled', { skip: LIB_SKIP }, async () => {
  const secrets = `secrets.token.age.file = /. + ${s(API)};`;
  const on = await valid('nixos', nixos(secrets, 'services.openssh.enable = true;'));
  assert.deepEqual(on.keys, { ageKeyFiles: [], sshKeyPaths: ['/etc/ssh/ssh_host_ed25519_key'], gnupgHome: null });
  const custom = await valid('nixos', nixos(secrets, `
    services.openssh.enable = true;
    services.openssh.hostKeys = [ { type = "rsa"; bits = 4096; path = "/persist/ssh/rsa"; } { type = "ed25519"; path = "/persist/ssh/ed25519"; } ];
  `));
  assert.deepEqual(custom.keys.sshKeyPaths, ['/persist/ssh/ed25519']);
  assert.deepEqual(custom.services['materialize-secrets'].unitConfig.RequiresMountsFor, ['/persist/ssh/ed25519']);
  const off = await evalNixos(secrets);
  assert.deepEqual(off.failedAssertions, [
    'materialize: sops or age secrets are configured, but no key can open them: set materialize.age.keyFile, materialize.age.keyFiles, materialize.age.sshKeyPaths or materialize.gnupg.home.',
  ]);
});

test('a key given as a Nix path literal is refused (it would be copied into the world-readable store)', { skip: LIB_SKIP }, async () => {
  await assert.rejects(
    evalNixos(`validateSecrets = false; age.keyFile = /. + ${s(join(REPO, 'demo/keys/demo.agekey'))}; secrets.token.age.file = ${s(API)};`),
    /not a Nix path literal, which would copy the file into the world-readable Nix store/,
  );
});

test('validateSecrets: the manifest in the system is the one materialize check accepted at build time', { skip: LIB_SKIP }, async () => {
  // A path value is copied into the store (computed only: nothing is written here).
  const r = await valid('nixos', nixos(`
    age.keyFile = "/var/lib/materialize/age.key";
    secrets.db.age.file = /. + ${s(DB)};
    secrets.token.age.file = "/nix/store/00000000000000000000000000000000-secrets/api-token.age";
  `));
  assert.match(r.manifest.secrets.db.sources[0].age.file, /^\/nix\/store\/[0-9a-z]{32}-db-password\.age$/);
  const build: string = r.manifestFile.buildCommand;
  const checked = /materialize check --skip-owners --skip-keys --config (\/nix\/store\/[0-9a-z]{32}-materialize-secrets\.json)\n\s*cp \1 \$out/.exec(build);
  assert.ok(checked, `the manifest derivation runs the check, then copies the manifest:\n${build}`);
  assert.notEqual(checked[1], r.manifestFile.path);
  assert.ok(r.services['materialize-secrets'].serviceConfig.ExecStart.includes(`--config ${r.manifestFile.path} `), 'the unit applies the checked manifest');
  // Store files are not mounts to wait for.
  assert.equal(r.services['materialize-secrets'].unitConfig.RequiresMountsFor.length, 1);

  const outside = await evalNixos(`age.keyFile = "/k"; secrets.db.sops = { file = "/etc/secrets/db.yaml"; key = "db"; };`);
  assert.deepEqual(outside.failedAssertions, [
    'materialize.secrets."db": /etc/secrets/db.yaml is not in the Nix store, so it cannot be checked at build time. Use a path (./secrets.yaml, copied into the store) instead of a string, or set materialize.validateSecrets = false.',
  ]);
  const off = await valid('nixos', nixos(`validateSecrets = false; age.keyFile = "/k"; secrets.db.sops = { file = "/etc/secrets/db.yaml"; key = "db"; };`));
  assert.equal(off.manifestFile.buildCommand, undefined, 'no check without validateSecrets');
  assert.deepEqual(off.services['materialize-secrets'].unitConfig.RequiresMountsFor, ['/k', '/etc/secrets/db.yaml']);
});

test('impossible configurations fail with assertions that name the option', { skip: LIB_SKIP }, async () => {
  const key = 'validateSecrets = false; age.keyFile = "/k";';
  const cases: [string, string, string[]][] = [
    ['no source', `${key} secrets.x = { owner = "root"; };`, [
      'materialize.secrets."x" has no source: set materialize.secrets."x".sops (with materialize.defaultSopsFile or sops.file), materialize.secrets."x".age.file, materialize.secrets."x".onepassword, or materialize.secrets."x".sources.',
    ]],
    ['two shorthands', `${key} secrets.x = { age.file = ${s(DB)}; sops = { file = ${s(SOPS)}; }; };`, [
      'materialize.secrets."x" sets sops and age: use exactly one (to try several sources in order, list them all in materialize.secrets."x".sources).',
    ]],
    ['a shorthand and sources', `${key} secrets.x = { age.file = ${s(DB)}; sources = [ { age.file = ${s(API)}; } ]; };`, [
      'materialize.secrets."x" sets age and sources: use exactly one (to try several sources in order, list them all in materialize.secrets."x".sources).',
    ]],
    ['a sops shorthand without a file', `${key} secrets.x.sops.key = "a/b";`, [
      'materialize.secrets."x".sops has no file: set materialize.secrets."x".sops.file or materialize.defaultSopsFile.',
    ]],
    ['a custom path that is another secret\'s file', `${key} secrets.a.age.file = ${s(DB)}; secrets.b = { age.file = ${s(API)}; path = "/run/secrets/a"; };`, [
      'materialize: secret "a" and secret "b" share the path /run/secrets/a; each needs its own.',
    ]],
    ['two secrets linked at one path', `${key} secrets.a = { age.file = ${s(DB)}; path = "/etc/app/key"; }; secrets.b = { age.file = ${s(API)}; path = "/etc/app/key"; };`, [
      'materialize: secret "a" and secret "b" share the path /etc/app/key; each needs its own.',
    ]],
    ['a template and a secret at one path', `${key} secrets.a = { age.file = ${s(DB)}; path = "/etc/app.env"; }; templates.t = { content = "{{a}}"; path = "/etc/app.env"; };`, [
      'materialize: secret "a" and template "t" share the path /etc/app.env; each needs its own.',
    ]],
    ['neededForUsers owned by a user', `${key} secrets.pw = { age.file = ${s(FOR_USERS)}; neededForUsers = true; owner = "alice"; };`, [
      'materialize.secrets."pw": neededForUsers secrets are materialized before users exist, so they must be owned by root (owner and group null, "root" or 0).',
    ]],
    ['neededForUsers with a group', `${key} secrets.pw = { age.file = ${s(FOR_USERS)}; neededForUsers = true; group = 100; };`, [
      'materialize.secrets."pw": neededForUsers secrets are materialized before users exist, so they must be owned by root (owner and group null, "root" or 0).',
    ]],
    ['a relative path', `${key} secrets.a = { age.file = ${s(DB)}; path = "etc/app/key"; };`, [
      'materialize: the path of secret "a" is "etc/app/key"; expected an absolute path.',
    ]],
    ['neededForUsers in the secrets directory', `${key} secretsForUsersDir = "/run/secrets"; secrets.pw = { age.file = ${s(FOR_USERS)}; neededForUsers = true; };`, [
      'materialize.secretsForUsersDir must differ from materialize.secretsDir.',
    ]],
  ];
  for (const [label, body, messages] of cases) {
    const r = await evalNixos(body);
    assert.deepEqual(r.failedAssertions, messages, label);
  }
});

test('options → secrets.json → materialize apply: real files from age and sops, modes and links (mount none)', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const key = demoKey(dir);
  const sshKey = join(dir, 'ssh_host_ed25519_key');
  copyFileSync(join(REPO, 'demo/keys/ssh_host_ed25519_key'), sshKey);
  chmodSync(sshKey, 0o600);
  const sopsKey = join(dir, 'sops.agekey');
  copyFileSync(join(REPO, 'nixos-module/tests/fixtures/sops/key.txt'), sopsKey);
  chmodSync(sopsKey, 0o600);
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    secretsDir = ${s(join(dir, 'secrets'))};
    mountPoint = ${s(join(dir, 'secrets.d'))};
    mount = "none";
    age.keyFiles = [ ${s(key)} ${s(sopsKey)} ];
    age.sshKeyPaths = [ ${s(sshKey)} ];
    secrets."db/password" = { age.file = ${s(DB)}; mode = "0440"; };
    secrets."api/secret".sops = { file = ${s(SOPS)}; key = "complex/value"; };
    secrets.deploy-key = { age.file = ${s(DEPLOY)}; path = ${s(join(dir, 'home/.ssh/deploy'))}; };
    templates."app.env".content = "PW={{db/password}}\\n";
  `));
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify(r.manifest));
  const first = await runCli(['apply', '--json', '--units', 'no', '--config', file]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).generation, 1);
  assert.equal(readFileSync(join(dir, 'secrets/db/password'), 'utf8'), 'correct horse battery staple');
  assert.equal(modeOf(join(dir, 'secrets/db/password')), '440');
  assert.equal(readFileSync(join(dir, 'secrets/app.env'), 'utf8'), 'PW=correct horse battery staple\n');
  assert.equal(readFileSync(join(dir, 'secrets/api/secret'), 'utf8'), 'this is a secret');
  assert.equal(readlinkSync(join(dir, 'home/.ssh/deploy')), join(dir, 'secrets/deploy-key'));
  assert.equal(readlinkSync(join(dir, 'secrets')), join(dir, 'secrets.d/1'));
});

test('home-manager: paths under the runtime directory (%t) become relative to the copied manifest', { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', `{ config, ... }: {
    materialize = {
      validateSecrets = false;
      age.keyFile = "\${config.xdg.configHome}/sops/age/keys.txt";
      secrets.token = { age.file = ${s(API)}; restartUnits = [ "app.service" ]; };
      secrets.linked = { age.file = ${s(DB)}; path = "\${config.home.homeDirectory}/.config/app/password"; };
      secrets.near = { age.file = ${s(DB)}; path = "%t/app/password"; mode = "0440"; };
    };
  }`);
  assert.deepEqual(r.manifest, {
    version: 1,
    secretsDir: '../secrets',
    mountPoint: '../secrets.d',
    mount: 'none',
    keepGenerations: 1,
    failurePolicy: 'keep-previous',
    keys: { ageKeyFiles: ['/home/alice/.config/sops/age/keys.txt'], sshKeyPaths: [], gnupgHome: null },
    secrets: {
      token: { sources: [{ age: { file: API } }], mode: '0400', restartUnits: ['app.service'] },
      linked: { sources: [{ age: { file: DB } }], mode: '0400', path: '/home/alice/.config/app/password' },
      near: { sources: [{ age: { file: DB } }], mode: '0440', path: '../app/password' },
    },
  });
  assert.deepEqual(r.paths, { token: '%t/secrets/token', linked: '/home/alice/.config/app/password', near: '%t/app/password' });

  const unit = r.userServices['materialize-secrets'];
  const manifest = r.manifestFile.path;
  assert.match(unit.Service.ExecStartPre, new RegExp(`^/nix/store/\\S+-coreutils/bin/install -D -m 0644 ${manifest} %t/materialize/secrets\\.json$`));
  assert.match(unit.Service.ExecStart, /^\/nix\/store\/\S+\/bin\/materialize apply --config %t\/materialize\/secrets\.json --boot --units yes --units-scope user --timeout 120$/);
  assert.equal(unit.Service.Type, 'oneshot');
  assert.match(String(unit.Service.Environment), /PATH=\S*-systemd[^:]*\/bin/, 'systemctl is on its PATH, for --units-scope user');
  assert.equal(unit.Service.Restart, 'on-failure');
  assert.equal(unit.Service.RestartPreventExitStatus, '64 65 69 70 74 77 78');
  assert.equal(unit.Service.RestartForceExitStatus, undefined, 'systemd < 256 refuses it on a oneshot unit');
  assert.equal(unit.Unit.Wants, undefined, 'a successful run starts the target (ExecStartPost), retries do not pull it in');
  assert.match(unit.Service.ExecStartPost, /^\/nix\/store\/\S+-systemd\/bin\/systemctl --user --no-block start materialize-secrets\.target$/);
  assert.deepEqual(unit.Unit['X-Restart-Triggers'], [manifest]);
  assert.equal(unit.Unit.RequiresMountsFor, undefined, 'a user session starts with its home mounted; the user manager cannot mount');
  assert.deepEqual(unit.Install.WantedBy, ['default.target']);
  assert.equal(r.userTargets['materialize-secrets'].Unit.Requires, undefined);
  assert.deepEqual(r.userTargets['materialize-secrets'].Unit.Requisite, ['materialize-secrets.service']);
  assert.deepEqual(r.userServices.app.Unit.After, ['materialize-secrets.target']);
  assert.doesNotMatch(r.warnings.join('\n'), /restartUnits/, 'user units are restarted through systemctl --user');

  const bad = await evalHome(`validateSecrets = false; age.keyFile = "/k"; secrets.x = { age.file = ${s(API)}; path = "relative/x"; };`);
  assert.deepEqual(bad.failedAssertions, ['materialize: the path of secret "x" is "relative/x"; expected an absolute path or one under the runtime directory ("%t/...").']);
});

test('home-manager: the unit\'s steps, run by hand, materialize into the runtime directory without root', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const runtime = join(dir, 'run-user-1000');
  const home = join(dir, 'home');
  const key = demoKey(dir);
  const r = await valid('home-manager', `{ ... }: {
    materialize = {
      validateSecrets = false;
      age.keyFile = ${s(key)};
      secrets."api/token" = { age.file = ${s(API)}; };
      secrets.db = { age.file = ${s(DB)}; path = ${s(join(home, '.config/app/password'))}; };
      secrets.near = { age.file = ${s(DB)}; path = "%t/app/password"; };
      templates."app.env".content = "PW={{db}}\\n";
    };
  }`);
  // ExecStartPre: install -D -m 0644 <manifest> %t/materialize/secrets.json
  mkdirSync(join(runtime, 'materialize'), { recursive: true });
  const copied = join(runtime, 'materialize/secrets.json');
  writeFileSync(copied, JSON.stringify(r.manifest));
  // ExecStart: materialize apply --config %t/materialize/secrets.json --units yes --units-scope user
  // (here --units no: no user manager runs in the test; test/materialize/units.test.ts covers --user)
  const run = await runCli(['apply', '--json', '--units', 'no', '--config', copied]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readlinkSync(join(runtime, 'secrets')), join(runtime, 'secrets.d/1'));
  assert.ok(lstatSync(join(runtime, 'secrets.d/1/api/token')).isFile());
  assert.equal(readFileSync(join(runtime, 'secrets/db'), 'utf8'), 'correct horse battery staple');
  assert.equal(readFileSync(join(runtime, 'secrets/app.env'), 'utf8'), 'PW=correct horse battery staple\n');
  assert.equal(readlinkSync(join(home, '.config/app/password')), join(runtime, 'secrets/db'));
  assert.equal(readlinkSync(join(runtime, 'app/password')), join(runtime, 'secrets/near'));
});

test('home-manager: wrappers are executables in the profile that run a command through materialize run', { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', `{ ... }: {
    materialize = {
      validateSecrets = false;
      age.keyFile = "/home/alice/.config/sops/age/keys.txt";
      secrets.claude-work-token.age.file = ${s(API)};
      secrets."gcp/sa.json".age.file = ${s(DB)};
      wrappers.claudework = {
        command = "/opt/claude/bin/claude";
        args = [ "--model" "it's opus" ];
        env.ANTHROPIC_API_KEY = "claude-work-token";
        files.GOOGLE_APPLICATION_CREDENTIALS = "gcp/sa.json";
      };
    };
  }`);
  const w = r.wrappers.claudework;
  assert.equal(w.destination, '/bin/claudework');
  assert.ok(r.packages.some((p: string) => /-claudework$/.test(p)), 'in home.packages');
  const lines = w.text.trimEnd().split('\n');
  assert.match(lines[0], /^#!\/nix\/store\/\S+-bash\/bin\/bash$/);
  assert.match(w.text, new RegExp(`config="\\$runtime/materialize/${r.manifestFile.path.slice('/nix/store/'.length)}"`), 'a copy named after the manifest, beside the unit\'s');
  assert.match(lines.at(-1), /^exec \/nix\/store\/\S+-materialize\/bin\/materialize run --config "\$config" --env 'ANTHROPIC_API_KEY=claude-work-token' --file 'GOOGLE_APPLICATION_CREDENTIALS=gcp\/sa\.json' -- \/opt\/claude\/bin\/claude --model 'it'\\''s opus' "\$@"$/);

  const bad = await evalHome(`validateSecrets = false; age.keyFile = "/k"; secrets.token.age.file = ${s(API)};
    wrappers.w = { command = ""; env = { "1X" = "token"; TOKEN = "tokn"; }; files.TOKEN = "token"; };`);
  assert.deepEqual(bad.failedAssertions.sort(), [
    'materialize.wrappers."w".command is empty.',
    'materialize.wrappers."w".env: "1X" is not an environment variable name (letters, digits, _; not starting with a digit).',
    'materialize.wrappers."w".env.TOKEN names "tokn", which is not in materialize.secrets or materialize.templates.',
    'materialize.wrappers."w": TOKEN is in both env and files; give each variable one secret.',
  ].sort());
});

test('home-manager: a generated wrapper, run, gives its command the secrets and passes its own arguments on', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const runtime = join(dir, 'run-user-1000');
  mkdirSync(runtime, { mode: 0o700 });
  const out = join(dir, 'out');
  mkdirSync(out);
  const key = demoKey(dir);
  const script = `printf %s "$PW" > ${out}/env; cat "$TOKEN_FILE" > ${out}/file; printf '%s|' "$@" > ${out}/args`;
  const r = await valid('home-manager', `{ ... }: {
    materialize = {
      validateSecrets = false;
      age.keyFile = ${s(key)};
      secrets.db.age.file = ${s(DB)};
      secrets.api.age.file = ${s(API)};
      wrappers.show = { command = "/bin/sh"; args = [ "-c" ${s(script)} "show" ]; env.PW = "db"; files.TOKEN_FILE = "api"; };
    };
  }`);
  registerSecretValues('tok_demo_fcFpWXctTmGuxiHg');
  // The store paths the script names, pointed at real things: the built CLI, coreutils, the manifest.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'materialize'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, process.env.MATERIALIZE_DIST ?? 'dist-test', 'cli.js')}" "$@"\n`);
  chmodSync(join(bin, 'materialize'), 0o755);
  const manifest = join(dir, 'manifest.json');
  writeFileSync(manifest, JSON.stringify(r.manifest));
  const text = r.wrappers.show.text
    .replace(/^#!.*\n/, '#!/bin/sh\n')
    .replace(/\/nix\/store\/[0-9a-z]{32}-materialize\/bin\//g, `${bin}/`)
    .replace(/\/nix\/store\/[0-9a-z]{32}-coreutils\/bin\//g, '/usr/bin/')
    .replaceAll(`install -D -m 0644 ${r.manifestFile.path}`, `install -D -m 0644 ${manifest}`);
  assert.doesNotMatch(text, /\/nix\/store\/\S+ "\$config"/, 'every store path replaced');
  const wrapper = join(dir, 'show');
  writeFileSync(wrapper, text);
  chmodSync(wrapper, 0o755);
  const runWrapper = () => spawnSync(wrapper, ['first arg', '--help'], { env: { ...process.env, XDG_RUNTIME_DIR: runtime }, encoding: 'utf8' });

  // Before the user service ever ran: the wrapper copies the manifest, the values come from the sources.
  const first = runWrapper();
  assert.equal(first.status, 0, first.stderr);
  assert.equal(readFileSync(join(out, 'env'), 'utf8'), 'correct horse battery staple');
  assert.equal(readFileSync(join(out, 'file'), 'utf8'), 'tok_demo_fcFpWXctTmGuxiHg');
  assert.equal(readFileSync(join(out, 'args'), 'utf8'), 'first arg|--help|', 'its own arguments, after the configured ones');
  assert.ok(lstatSync(join(runtime, 'materialize', r.manifestFile.path.slice('/nix/store/'.length))).isFile());

  // The service's steps publish the secrets; then the wrapper reads the live files (no key needed).
  mkdirSync(join(runtime, 'materialize'), { recursive: true });
  writeFileSync(join(runtime, 'materialize/secrets.json'), JSON.stringify(r.manifest));
  assert.equal((await runCli(['apply', '--units', 'no', '--config', join(runtime, 'materialize/secrets.json')])).code, 0);
  chmodSync(key, 0o000);
  const second = runWrapper();
  chmodSync(key, 0o600);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(readFileSync(join(out, 'env'), 'utf8'), 'correct horse battery staple');
});

test('the package: every locked dependency has a registry URL and an integrity hash; the source is what the build reads', { skip: LIB_SKIP }, async () => {
  const result = (await evalExpr(`
    let
      lib = import (builtins.getEnv "NIXPKGS_LIB");
      package = import ./nixos-module/package.nix {
        inherit lib;
        buildNpmPackage = args: args;
        importNpmLock = { __functor = _: args: args; npmConfigHook = "hook"; };
        nodejs = "nodejs";
      };
      keep = p: package.src.filter (toString ./. + "/" + p) "regular";
    in {
      inherit (package) pname version npmBuildScript;
      packages = lib.mapAttrs (_: m: { resolved = m.resolved or null; integrity = m.integrity or null; }) package.npmDeps.packageLock.packages;
      kept = lib.genAttrs [ "src/cli/main.ts" "scripts/build.mjs" "package.json" "package-lock.json" "nixos-module/default.nix" "docs/nixos.md" "test/cli/demo.test.ts" "README.md" ] keep;
    }
  `)) as any;
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  assert.equal(result.pname, 'materialize');
  assert.equal(result.version, pkg.version);
  assert.equal(result.npmBuildScript, 'build');
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));
  const entries = Object.entries(result.packages as Record<string, { resolved: string | null; integrity: string | null }>).filter(([path]) => path !== '');
  assert.equal(entries.length, Object.keys(lock.packages).length - 1);
  for (const [path, { resolved, integrity }] of entries) {
    // npm's tarball URL: https://registry.npmjs.org/@scope/name/-/name-1.2.3.tgz
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const expected = lock.packages[path].resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${lock.packages[path].version}.tgz`;
    assert.equal(resolved, expected, path);
    assert.equal(integrity, lock.packages[path].integrity, path);
  }
  assert.deepEqual(result.kept, {
    'src/cli/main.ts': true,
    'scripts/build.mjs': true,
    'package.json': true,
    'package-lock.json': true,
    'nixos-module/default.nix': false,
    'docs/nixos.md': false,
    'test/cli/demo.test.ts': false,
    'README.md': false,
  });
});

test('the flake exposes the package, both modules and the checks', { skip: LIB_SKIP }, async () => {
  // nixpkgs replaced by a stand-in: this checks the flake's shape, not the builds.
  const result = (await evalExpr(`
    let
      lib = import (builtins.getEnv "NIXPKGS_LIB");
      flake = import ./flake.nix;
      fake = name: extra: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-\${name}"; } // extra;
      pkgsFor = system: {
        inherit lib;
        stdenv.hostPlatform.system = system;
        callPackage = _: _: fake "materialize" { passthru = { package = { }; packageLock = { }; }; };
        testers.runNixOSTest = test: fake test.name { nodes = builtins.attrNames test.nodes; };
        importNpmLock.buildNodeModules = _: fake "node-modules" { };
        runCommand = name: _: script: fake name { inherit script; };
        nodejs = fake "nodejs" { };
        nix = fake "nix" { };
      };
      nixpkgs = { inherit lib; outPath = "/nix/store/00000000000000000000000000000000-nixpkgs"; legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor; };
      self = flake.outputs { inherit self nixpkgs; };
    in {
      inputs = builtins.attrNames flake.inputs;
      packages = lib.mapAttrs (_: builtins.attrNames) self.packages;
      checks = lib.mapAttrs (_: builtins.attrNames) self.checks;
      nixosModule = toString self.nixosModules.default;
      homeManagerModule = toString self.homeManagerModules.default;
      vmNodes = self.checks.x86_64-linux.vm.nodes;
      moduleTests = self.checks.x86_64-linux.module-tests.script;
    }
  `)) as any;
  assert.deepEqual(result.inputs, ['nixpkgs']);
  assert.deepEqual(result.packages, { 'aarch64-linux': ['default', 'materialize'], 'x86_64-linux': ['default', 'materialize'] });
  assert.deepEqual(result.checks['x86_64-linux'], ['module-tests', 'package', 'vm']);
  assert.equal(result.nixosModule, join(REPO, 'nixos-module'));
  assert.equal(result.homeManagerModule, join(REPO, 'nixos-module/home-manager.nix'));
  assert.deepEqual(result.vmNodes, ['machine']);
  assert.match(result.moduleTests, /NIXPKGS_LIB=\/nix\/store\/0{32}-nixpkgs\/lib\n/);
  assert.match(result.moduleTests, /node scripts\/test\.mjs test\/nixos\/parse\.test\.ts test\/nixos\/eval\.test\.ts\n/);
});

test('the VM test\'s machine evaluates, before and after its switch, to the manifests its script expects', { skip: LIB_SKIP }, async () => {
  const result = (await evalExpr(`
    let
      lib = import (builtins.getEnv "NIXPKGS_LIB");
      vm = import ./nixos-module/tests/vm.nix { pkgs.testers.runNixOSTest = test: test; };
      machine = vm.nodes.machine;
      # NixOS evaluates a specialisation as the machine plus its configuration.
      second = args: let m = machine args; in removeAttrs m [ "specialisation" ] // { imports = m.imports ++ [ m.specialisation.second.configuration ]; };
      evaluate = configuration: import ./nixos-module/tests/eval.nix { inherit lib configuration; };
    in { first = evaluate machine; second = evaluate second; }
  `)) as any;
  const storeFile = (name: string) => new RegExp(`^/nix/store/[0-9a-z]{32}-${name.replace('.', '\\.')}$`);
  for (const phase of ['first', 'second'] as const) {
    const r = result[phase];
    assert.deepEqual(r.failedAssertions, [], phase);
    assert.deepEqual(r.warnings, [], phase);
    assert.deepEqual(r.activationScripts.materializeSecretsForUsers.deps, ['specialfs', 'materializeTestKeys']);
    assert.deepEqual(Object.keys(r.manifestForUsers.secrets), ['alice-password']);
    assert.equal(r.paths['alice-password'], '/run/secrets-for-users/alice-password');
    const secrets = r.manifest.secrets;
    assert.match(secrets['db/password'].sources[0].age.file, storeFile('db-password.age'));
    assert.deepEqual(secrets.secret.sources[0].sops.key, 'secret');
    assert.match(secrets.secret.sources[0].sops.file, storeFile('secret.enc.yaml'));
    assert.deepEqual(secrets['nested/value'].sources[0].sops.key, 'complex/value');
    assert.equal(secrets['nested/value'].owner, 4242);
    assert.deepEqual(r.services.consumer.after, ['materialize-secrets.target']);
    assert.match(r.manifestFile.buildCommand, /^materialize check --skip-owners --skip-keys --config /);
  }
  assert.equal(result.first.manifest.secrets['db/password'].mode, '0440');
  assert.equal(result.second.manifest.secrets['db/password'].mode, '0400');
  assert.deepEqual(Object.keys(result.first.manifest.secrets).sort(), ['db/password', 'nested/value', 'secret']);
  assert.deepEqual(Object.keys(result.second.manifest.secrets).sort(), ['api-token', 'db/password', 'nested/value', 'secret']);
  // The switch changes the manifest, so switch-to-configuration restarts the unit.
  assert.notEqual(result.first.manifestFile.path, result.second.manifestFile.path);
  assert.deepEqual(result.second.services['materialize-secrets'].restartTriggers, [result.second.manifestFile.path]);
});

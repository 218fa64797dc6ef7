// The Bitwarden options of the NixOS and home-manager modules: the `bitwarden` shorthand and
// `materialize.bitwarden.*` become exactly this `sources` and `providers.bitwarden` in secrets.json,
// the path of `bw` is added only when a vault item is read, the values are sealed (no network wait), and
// the program's build-time check accepts the result — or names the missing setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LIB_SKIP, buildCheck, evalModule, valid as validModule, type Evaluation, type Kind } from './nix.js';

const SECRET = '3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
const PROJECT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const CLIENT = 'user.6c1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a';

/** A configuration of `materialize` settings (`body`) that must be accepted. */
const valid = (kind: Kind, body: string): Promise<Evaluation> => validModule(kind, `{ config, lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`);

const both = `
  bitwarden = {
    server = "https://vault.bitwarden.eu";
    accessTokenFile = "/run/keys/bws-token";
    clientId = "${CLIENT}";
    clientSecretFile = "/var/lib/materialize/bw-client-secret";
    passwordFile = "/var/lib/materialize/bw-password";
  };
  secrets = {
    "db/password" = { bitwarden.secret = "${SECRET}"; owner = "postgres"; };
    "api/key".bitwarden = { project = "${PROJECT}"; key = "API_KEY"; };
    github-token.bitwarden = { item = "GitHub"; field = "API Key"; };
    deploy-key.bitwarden = { item = "Deploy"; attachment = "id_ed25519"; };
  };
`;

test('NixOS: the bitwarden shorthand and materialize.bitwarden become sources and providers.bitwarden; sealed values, so the unit does not wait for the network', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', `validateSecrets = false;\n${both}`);
  const m = r.manifest;
  assert.deepEqual(m.secrets['db/password'].sources, [{ bitwarden: { secret: SECRET } }]);
  assert.deepEqual(m.secrets['api/key'].sources, [{ bitwarden: { project: PROJECT, key: 'API_KEY' } }]);
  assert.deepEqual(m.secrets['github-token'].sources, [{ bitwarden: { item: 'GitHub', field: 'API Key' } }]);
  assert.deepEqual(m.secrets['deploy-key'].sources, [{ bitwarden: { item: 'Deploy', attachment: 'id_ed25519' } }]);
  const bw = m.providers.bitwarden;
  assert.match(bw.bw, /^\/nix\/store\/[0-9a-z]{32}-bitwarden-cli\/bin\/bw$/, 'bw from materialize.bitwarden.package (pkgs.bitwarden-cli)');
  assert.deepEqual({ ...bw, bw: undefined }, { server: 'https://vault.bitwarden.eu', accessTokenFile: '/run/keys/bws-token', clientId: CLIENT, clientSecretFile: '/var/lib/materialize/bw-client-secret', passwordFile: '/var/lib/materialize/bw-password', bw: undefined });
  const unit = r.services['materialize-secrets'];
  assert.equal(r.earlyBoot, false);
  // A network source: its values are sealed, and the boot run publishes them without waiting for
  // the network (the refresh unit asks it; test/nixos/network.test.ts).
  assert.deepEqual(m.network, { stateDir: '/var/lib/materialize', seal: { maxAge: '30d' }, callsPerHour: 60 });
  assert.deepEqual(unit.after, []);
  assert.deepEqual(unit.wants, []);
  assert.match(unit.serviceConfig.ExecStart, / --boot /);
  assert.deepEqual(unit.wantedBy, ['multi-user.target']);
  assert.deepEqual(r.services['materialize-secrets-refresh'].after, ['network-online.target', 'materialize-secrets.service']);

  // The build-time check accepts it (no network, no token files: they live on the host).
  const c = await buildCheck(m);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.deepEqual(c.report.providers, ['bitwarden']);
});

test('Secrets Manager only: no bw path; settings written in materialize.providers.bitwarden win', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', `
    validateSecrets = false;
    bitwarden.accessTokenFile = "/run/keys/bws-token";
    providers.bitwarden = { accessTokenFile = "/run/keys/other"; timeout = 10; };
    secrets.a.bitwarden.secret = "${SECRET}";
  `);
  assert.deepEqual(r.manifest.providers, { bitwarden: { accessTokenFile: '/run/keys/other', timeout: 10 } });
  // No Bitwarden source: no providers.bitwarden at all, whatever materialize.bitwarden says.
  const none = await valid('nixos', `validateSecrets = false;\nbitwarden.accessTokenFile = "/run/keys/bws-token";\nage.keyFile = "/k";\nsecrets.a.age.file = "/etc/a.age";`);
  assert.equal(none.manifest.providers, undefined);
});

test('the build-time check names a missing Bitwarden setting at the source that needs it (exit 78)', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', `validateSecrets = false;\nsecrets.token.bitwarden = { item = "GitHub"; };\nsecrets.sm.bitwarden.secret = "${SECRET}";`);
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 78);
  const issues = Object.fromEntries(c.report.issues.map((i: any) => [i.path, i.message]));
  assert.match(issues['secrets.token.sources[0].bitwarden'], /providers\.bitwarden\.clientId, clientSecretFile, passwordFile not set: a Password Manager source needs a personal API key and the master password/);
  assert.match(issues['secrets.sm.sources[0].bitwarden'], /providers\.bitwarden\.accessTokenFile not set/);

  const bad = await valid('nixos', `validateSecrets = false;\nbitwarden.accessTokenFile = "/t";\nsecrets.sm.bitwarden = { secret = "not-a-uuid"; };\nsecrets.both.bitwarden = { item = "x"; secret = "${SECRET}"; };`);
  const b = await buildCheck(bad.manifest);
  assert.equal(b.code, 78);
  const messages = b.report.issues.map((i: any) => `${i.path}: ${i.message}`).join('\n');
  assert.match(messages, /secrets\.sm\.sources\[0\]\.bitwarden\.secret: expected the secret's id/);
  assert.match(messages, /secrets\.both\.sources\[0\]\.bitwarden: unknown or conflicting key "item": a Secrets Manager source takes/);
});

test('two shorthands on one secret are an assertion naming both', { skip: LIB_SKIP }, async () => {
  const r = await evalModule('nixos', `{ ... }: { materialize = { validateSecrets = false; age.keyFile = "/k"; secrets.x = { age.file = "/etc/x.age"; bitwarden.secret = "${SECRET}"; }; }; }`);
  assert.ok(r.failedAssertions.some((m: string) => m.includes('materialize.secrets."x" sets age and bitwarden: use exactly one')), r.failedAssertions.join('\n'));
});

test('neededForUsers secrets cannot come from Bitwarden: they are materialized before the network is up', { skip: LIB_SKIP }, async () => {
  const r = await evalModule('nixos', `{ ... }: { materialize = { validateSecrets = false; bitwarden.accessTokenFile = "/t"; secrets.hash = { bitwarden.secret = "${SECRET}"; neededForUsers = true; }; }; }`);
  assert.ok(r.failedAssertions.some((m: string) => m.includes('materialize.secrets."hash": neededForUsers secrets are materialized before the network is up')), r.failedAssertions.join('\n'));
});

test('home-manager: the same options; bw from the package, no data directory set (the program uses $XDG_STATE_HOME)', { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', `validateSecrets = false;\n${both}`);
  assert.deepEqual(r.manifest.secrets['github-token'].sources, [{ bitwarden: { item: 'GitHub', field: 'API Key' } }]);
  assert.match(r.manifest.providers.bitwarden.bw, /-bitwarden-cli\/bin\/bw$/);
  assert.equal(r.manifest.providers.bitwarden.appDataDir, undefined);
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 0, c.stdout + c.stderr);
});

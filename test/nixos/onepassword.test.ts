// The 1Password options of the NixOS and home-manager modules, evaluated with nixpkgs' lib
// (nixos-module/tests/eval.nix): the `onepassword` shorthand (alone and inside `sources`), the
// token settings in `providers.onepassword`, the unit that waits for the network only then, the
// assertion for a missing token file — and the generated manifests fed to the real program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { seededRandom } from '../helpers/random.js';
import { fakeRun } from '../providers/onepassword/helpers/cli-fake.js';
import { fakeToken, writeToken } from '../providers/onepassword/helpers/world.js';
import { LIB_SKIP, buildCheck, evalModule, nixString as s, scratch, valid } from './nix.js';

const nixos = (body: string) => `{ lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`;
const home = (body: string) => `{ config, lib, ... }: {\nmaterialize = {\n${body}\n};\n}\n`;

const SECRETS = `
    onepassword = { tokenFile = "/persist/root/.config/op/token"; callTimeout = 20; };
    providers.onepassword.integrationName = "pantherOS";
    secrets = {
      "openai/key" = { onepassword = "op://Infrastructure Secrets/openai-api-key/password"; owner = "opencode"; restartUnits = [ "opencode.service" ]; };
      keystore = { onepassword = { reference = "op://Infra/keystore/keystore.p12"; kind = "file"; }; mode = "0440"; };
      totp.onepassword = { reference = "op://Infra/github/one-time password?attribute=otp"; };
      fallback.sources = [ { onepassword = "op://Infra/db/password"; } { onepassword.reference = "op://Backup/db/password"; } ];
    };
`;

test('NixOS: the shorthand, a file, sources, and the token settings become exactly this secrets.json', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`validateSecrets = false;${SECRETS}`));
  assert.deepEqual(r.manifest.providers, { onepassword: { tokenFile: '/persist/root/.config/op/token', callTimeout: 20, integrationName: 'pantherOS' } });
  assert.deepEqual(r.manifest.secrets, {
    'openai/key': { sources: [{ onepassword: 'op://Infrastructure Secrets/openai-api-key/password' }], owner: 'opencode', mode: '0400', restartUnits: ['opencode.service'] },
    keystore: { sources: [{ onepassword: { reference: 'op://Infra/keystore/keystore.p12', kind: 'file' } }], mode: '0440' },
    totp: { sources: [{ onepassword: { reference: 'op://Infra/github/one-time password?attribute=otp' } }], mode: '0400' },
    fallback: { sources: [{ onepassword: 'op://Infra/db/password' }, { onepassword: { reference: 'op://Backup/db/password' } }], mode: '0400' },
  });
  assert.equal(r.manifest.keys.ageKeyFiles.length, 0);
});

test('NixOS: 1Password moves the unit after network-online.target, out of early boot; the token file\'s mount comes first', { skip: LIB_SKIP }, async () => {
  // Without sealed values (with them, the unit does not wait: test/nixos/network.test.ts).
  const r = await valid('nixos', nixos(`validateSecrets = false; network.seal.enable = false;${SECRETS}`));
  assert.equal(r.earlyBoot, false);
  const unit = r.services['materialize-secrets'];
  assert.deepEqual(unit.wantedBy, ['multi-user.target']);
  assert.deepEqual(unit.after, ['network-online.target']);
  assert.deepEqual(unit.wants, ['network-online.target']);
  assert.equal(unit.unitConfig.DefaultDependencies, undefined);
  // The call budget lives on disk even without sealed values.
  assert.deepEqual(unit.unitConfig.RequiresMountsFor, ['/persist/root/.config/op/token', '/var/lib/materialize']);
  // Exit 69 (rate-limited) is never retried by systemd; 75 (unreachable) is.
  assert.match(String(unit.serviceConfig.RestartPreventExitStatus), /\b69\b/);
  assert.doesNotMatch(String(unit.serviceConfig.RestartPreventExitStatus), /\b75\b/);
  // Offline sources only: early, no network.
  const offline = await valid('nixos', nixos(`validateSecrets = false; age.keyFile = "/k"; onepassword.tokenFile = "/t"; secrets.a.age.file = ${s('/nix/store/00000000000000000000000000000000-a.age')};`));
  assert.equal(offline.earlyBoot, true);
  assert.deepEqual(offline.services['materialize-secrets'].after, []);
});

test('NixOS: a 1Password source without a token file, or two shorthands, fail with assertions naming the options', { skip: LIB_SKIP }, async () => {
  const none = await evalModule('nixos', nixos('validateSecrets = false; secrets.a.onepassword = "op://v/i/f";'));
  assert.deepEqual(none.failedAssertions, [
    'materialize: 1Password sources are configured, but no service account token: set materialize.onepassword.tokenFile to a file only root can read (e.g. "/var/lib/materialize/op-token", mode 0600).',
  ]);
  // Inside `sources` too.
  const inSources = await evalModule('nixos', nixos('validateSecrets = false; secrets.a.sources = [ { onepassword = "op://v/i/f"; } ];'));
  assert.equal(inSources.failedAssertions.length, 1);
  // The passthrough `providers.onepassword.tokenFile` is a token file too.
  await valid('nixos', nixos('validateSecrets = false; providers.onepassword.tokenFile = "/t"; secrets.a.onepassword = "op://v/i/f";'));
  const two = await evalModule('nixos', nixos(`validateSecrets = false; age.keyFile = "/k"; onepassword.tokenFile = "/t"; secrets.a = { onepassword = "op://v/i/f"; age.file = ${s('/nix/store/00000000000000000000000000000000-a.age')}; };`));
  assert.deepEqual(two.failedAssertions, ['materialize.secrets."a" sets age and onepassword: use exactly one (to try several sources in order, list them all in materialize.secrets."a".sources).']);
  // A token given as a Nix path literal would be copied into the store: refused by the option's type.
  await assert.rejects(evalModule('nixos', nixos('validateSecrets = false; onepassword.tokenFile = ./token; secrets.a.onepassword = "op://v/i/f";')), /not a Nix path literal|absolute path given as a string/);
});

test('home-manager: the same options, the same manifest; the user unit needs the token file too', { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', home(`validateSecrets = false; onepassword.tokenFile = "\${config.xdg.configHome}/op/token"; secrets.gh.onepassword = "op://Personal/GitHub/token";`));
  assert.deepEqual(r.manifest.providers, { onepassword: { tokenFile: '/home/alice/.config/op/token' } });
  assert.deepEqual(r.manifest.secrets.gh, { sources: [{ onepassword: 'op://Personal/GitHub/token' }], mode: '0400' });
  const none = await evalModule('home-manager', home('validateSecrets = false; secrets.gh.onepassword = "op://Personal/GitHub/token";'));
  assert.equal(none.failedAssertions.length, 1);
});

test('the generated manifest passes materialize check (the SDK\'s validator, no network), and a bad reference fails it at its JSON path', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', nixos(`validateSecrets = false;${SECRETS}`));
  const ok = await buildCheck(r.manifest);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).providers, ['onepassword']);
  const bad = await valid('nixos', nixos('validateSecrets = false; onepassword.tokenFile = "/t"; secrets.x.onepassword = "op://Infra/github/code?attribute=bogus";'));
  const refused = await buildCheck(bad.manifest);
  assert.equal(refused.code, 78);
  assert.equal(JSON.parse(refused.stdout).issues[0].path, 'secrets.x.sources[0].onepassword.reference');
});

test('options → secrets.json → materialize apply with the fake 1Password: files, modes, one client, one resolveAll', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const random = seededRandom(401);
  const token = fakeToken(random);
  const tokenFile = writeToken(dir, token);
  const fake = await fakeRun(dir, {
    token,
    vaults: [{ title: 'Infra', items: [{ title: 'db', fields: [{ title: 'password', value: 'nixos-op-db-password-51c2' }] }, { title: 'keystore', category: 'Document', document: { name: 'keystore.p12', content: { base64: Buffer.from([0, 159, 146, 150, 1]).toString('base64') } } }] }],
  });
  const r = await valid('nixos', nixos(`
    validateSecrets = false;
    secretsDir = ${s(join(dir, 'secrets'))};
    mountPoint = ${s(join(dir, 'secrets.d'))};
    mount = "none";
    network.stateDir = ${s(join(dir, 'state'))}; # never /var/lib/materialize in a test
    onepassword.tokenFile = ${s(tokenFile)};
    secrets.db.onepassword = "op://Infra/db/password";
    secrets.keystore = { onepassword = { reference = "op://Infra/keystore/keystore.p12"; kind = "file"; }; mode = "0440"; };
  `));
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify(r.manifest));
  const applied = await runCli(['apply', '--json', '--units', 'no', '--config', file], { env: fake.env });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(readFileSync(join(dir, 'secrets/db'), 'utf8'), 'nixos-op-db-password-51c2');
  assert.deepEqual([...readFileSync(join(dir, 'secrets/keystore'))], [0, 159, 146, 150, 1]);
  assert.deepEqual(JSON.parse(applied.stdout).calls, { onepassword: { createClient: 1, resolveAll: 1, 'vaults.list': 1, 'items.list': 1, 'items.get': 1, 'items.files.read': 1 } });
});

// `materialize import opnix FILE` through the built CLI: the printed secrets.json passes the
// program's own check (the SDK's validator on every reference), a new file is written but never
// over an existing one, and the imported configuration, applied with the fake 1Password, puts each
// secret where OpNix put it (a link to the live generation), with OpNix's owner and mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { makeWorld } from '../helpers/fixtures.js';
import { seededRandom } from '../helpers/random.js';
import { fakeRun } from '../providers/onepassword/helpers/cli-fake.js';
import { fakeToken, writeToken } from '../providers/onepassword/helpers/world.js';

const FIXTURES = join(REPO, 'test/fixtures/opnix');

test('each fixture imports to a secrets.json that materialize check accepts', async (t) => {
  const world = makeWorld(t, 'materialize-import-');
  for (const name of ['configuration-reference.json', 'multi-service.json', 'getting-started.json', 'older-format.json']) {
    const r = await runCli(['import', 'opnix', join(FIXTURES, name)]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const file = join(world.dir, `${name}.secrets.json`);
    writeFileSync(file, r.stdout);
    const check = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file]);
    assert.equal(check.code, 0, `${name}: ${check.stdout}${check.stderr}`);
    assert.deepEqual(JSON.parse(check.stdout).providers, ['onepassword']);
  }
});

test('-o writes a new file (0600) and never replaces one; unknown formats and broken input are refused', async (t) => {
  const world = makeWorld(t, 'materialize-import-');
  const out = join(world.dir, 'secrets.json');
  const r = await runCli(['import', 'opnix', join(FIXTURES, 'older-format.json'), '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*secrets\.json: 1 secrets; check it with: materialize check --config /);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const first = readFileSync(out, 'utf8');
  const again = await runCli(['import', 'opnix', join(FIXTURES, 'multi-service.json'), '-o', out]);
  assert.equal(again.code, 64);
  assert.match(again.stderr, /already exists; choose another --output or remove it first/);
  assert.equal(readFileSync(out, 'utf8'), first, 'untouched');
  assert.equal((await runCli(['import', 'sops-nix', join(FIXTURES, 'older-format.json')])).code, 64);
  const broken = join(world.dir, 'broken.json');
  writeFileSync(broken, '{"secrets": [');
  const b = await runCli(['import', 'opnix', broken]);
  assert.equal(b.code, 78);
  assert.match(b.stderr, /broken\.json: invalid configuration .*\n {2}is not valid JSON/);
  writeFileSync(broken, JSON.stringify({ secrets: [{ path: 'a' }] }));
  const missing = await runCli(['import', 'opnix', broken]);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /secrets\[0\]\.reference: is required/);
});

test('imported and applied with the fake 1Password: each secret where OpNix wrote it, as a link, with OpNix\'s mode; OpNix\'s leftovers are moved aside, never deleted', async (t) => {
  const world = makeWorld(t, 'materialize-import-');
  const random = seededRandom(301);
  const token = fakeToken(random);
  const tokenFile = writeToken(world.dir, token);
  const outputDir = join(world.dir, 'var/lib/opnix/secrets');
  const values = { database: 'import-db-password-7d1e', ssl: '-----BEGIN CERTIFICATE-----\nimport-test\n-----END CERTIFICATE-----\n' };
  const fake = await fakeRun(world.dir, {
    token,
    vaults: [{ title: 'Homelab', items: [{ title: 'Database', fields: [{ title: 'password', value: values.database }] }, { title: 'SSL', fields: [{ title: 'certificate', value: values.ssl }] }] }],
  });
  // OpNix wrote sslCertificate here before (plaintext, on disk).
  mkdirSync(outputDir, { recursive: true });
  writeFileSync(join(outputDir, 'sslCertificate'), 'what OpNix wrote');
  const imported = await runCli(['import', 'opnix', join(FIXTURES, 'getting-started.json'), '--token-file', tokenFile, '--output-dir', outputDir, '--secrets-dir', world.secretsDir]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stderr, /1 file OpNix wrote \(plaintext, on disk\) sit where materialize will put its links \(.*sslCertificate\)/);
  const config = { ...JSON.parse(imported.stdout), mountPoint: world.mountPoint, mount: 'none', network: { stateDir: join(world.dir, 'state') } };
  writeFileSync(world.configFile, JSON.stringify(config));
  const r = await runCli(['apply', '--json', '--config', world.configFile], { env: fake.env });
  assert.equal(r.code, 0, r.stderr);
  // What OpNix wrote is moved aside (never deleted, never read), and the link takes its place.
  const displaced = (JSON.parse(r.stdout) as { displaced: { path: string; to: string }[] }).displaced;
  assert.deepEqual(displaced.map((d) => d.path), [join(outputDir, 'sslCertificate')]);
  assert.equal(readFileSync(displaced[0]!.to, 'utf8'), 'what OpNix wrote', 'moved aside whole');
  assert.equal(readlinkSync(join(outputDir, 'databasePassword')), join(world.secretsDir, 'databasePassword'));
  assert.equal(readFileSync(join(outputDir, 'databasePassword'), 'utf8'), values.database);
  assert.equal(statSync(join(world.secretsDir, 'databasePassword')).mode & 0o777, 0o600, "OpNix's default mode");
  assert.ok(lstatSync(join(outputDir, 'sslCertificate')).isSymbolicLink());
  assert.equal(readFileSync(join(outputDir, 'sslCertificate'), 'utf8'), values.ssl);
});

// `materialize check` locates each problem at the source that caused it, and counts a GnuPG home
// as a key source (a configuration whose sops files are PGP-only has no age key at all).
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

const SOPS_NIX = join(REPO, 'test/fixtures/sops/sops-nix');

test('a PGP-only configuration passes check with keys.gnupgHome, and a missing home is located', async (t) => {
  const world = makeWorld(t);
  const secrets = { 'pgp/value': { sources: [{ sops: { file: join(SOPS_NIX, 'secrets.json'), key: 'test_key' } }] } };
  writeConfig(world, { keys: { gnupgHome: join(SOPS_NIX, 'gnupghome') }, secrets });
  const ok = await runCli(['check', '--config', world.configFile, '--skip-owners']);
  assert.equal(ok.code, 0, ok.stderr);

  writeConfig(world, { keys: { gnupgHome: join(world.dir, 'no-such-gnupg') }, secrets });
  const bad = await runCli(['check', '--config', world.configFile, '--skip-owners', '--json']);
  assert.equal(bad.code, 78);
  const report = JSON.parse(bad.stdout) as { issues: { path: string; message: string }[] };
  assert.deepEqual(report.issues.map((i) => i.path), ['keys.gnupgHome']);
});

test('a problem is reported at the one source that has it, not at every source of the secret', async (t) => {
  const world = makeWorld(t);
  const present = encrypt(world, 'present.age', 'check-located-value');
  writeConfig(world, {
    secrets: {
      s: { sources: [{ age: { file: present } }, { age: { file: join(world.dir, 'missing.age') } }] },
      u: { sources: [{ age: { file: join(world.dir, 'missing.age') } }] },
    },
  });
  const r = await runCli(['check', '--config', world.configFile, '--json']);
  assert.equal(r.code, 78);
  const report = JSON.parse(r.stdout) as { issues: { path: string; message: string }[] };
  assert.deepEqual(report.issues.map((i) => i.path).sort(), ['secrets.s.sources[1].age.file', 'secrets.u.sources[0].age.file']);
  for (const issue of report.issues) assert.match(issue.message, /missing\.age does not exist/);
});

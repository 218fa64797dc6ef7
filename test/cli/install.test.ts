// The README's install for other distributions copies dist/ and then installs the two packages the
// bundle leaves outside it (age-encryption, @1password/sdk). dist/ copied alone, with no
// node_modules anywhere above it: what does not need them works, and what does says which package
// is missing and what to do, never "a bug".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { PRODUCTION_CLI, registerSecretValues, runCli } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { AGE_SKIP } from '../helpers/tools.js';

/** The shipped dist/ copied into the world's directory; its cli.js. */
function distAlone(world: World): string {
  const dist = join(world.dir, 'lib/dist');
  cpSync(dirname(PRODUCTION_CLI), dist, { recursive: true });
  for (let dir = dist; dir !== '/'; dir = dirname(dir)) assert.ok(!existsSync(join(dir, 'node_modules')), `${dir} has a node_modules: the test would not test a lone dist/`);
  return join(dist, 'cli.js');
}

test('dist/ alone: age secrets are published; 1Password says its package is missing (apply exit 65, check at the source\'s path)', { skip: AGE_SKIP }, async (t) => {
  const world = makeWorld(t, 'materialize-install-');
  const cli = distAlone(world);
  writeConfig(world, { secrets: { a: ageSource(encrypt(world, 'a.age', 'install-alone-value')) } });
  const ok = await apply(world, ['-q', '--units', 'no'], { cli });
  assert.equal(ok.code, 0, ok.stderr);
  const token = join(world.dir, 'token');
  writeFileSync(token, 'ops_not-a-real-token-for-this-test\n', { mode: 0o600 });
  writeConfig(world, { providers: { onepassword: { tokenFile: token } }, network: { stateDir: join(world.dir, 'state') }, secrets: { b: { sources: [{ onepassword: 'op://vault/item/field' }] } } });
  const missing = /the 1Password SDK \(@1password\/sdk\) cannot be loaded \(Cannot find package '@1password\/sdk'.*\); install materialize's dependencies beside dist\//;
  const run = await apply(world, ['--units', 'no'], { cli });
  assert.equal(run.code, 65, run.stderr);
  assert.match(run.stderr, missing);
  assert.doesNotMatch(run.stderr, /a bug/);
  const check = await runCli(['check', '--skip-keys', '--skip-owners', '--config', world.configFile], { cli });
  assert.equal(check.code, 78, check.stderr);
  assert.match(check.stderr, /secrets\.b\.sources\[0\]\.onepassword: the 1Password SDK/);
  assert.doesNotMatch(check.stderr, /a bug/);
});

test('dist/ alone: a post-quantum key says age-encryption cannot be loaded, and X25519 files still open', { skip: AGE_SKIP }, async (t) => {
  const world = makeWorld(t, 'materialize-install-');
  const cli = distAlone(world);
  const secret = await generateHybridIdentity();
  const recipient = await identityToRecipient(secret);
  registerSecretValues(secret, 'install-pq-value');
  const pqKey = join(world.dir, 'pq.txt');
  writeFileSync(pqKey, `# public key: ${recipient}\n${secret}\n`, { mode: 0o600 });
  const e = new Encrypter();
  e.addRecipient(recipient);
  writeFileSync(join(world.dir, 'pq.age'), await e.encrypt('install-pq-value'));
  writeConfig(world, { keys: { ageKeyFiles: [world.keyFile, pqKey] }, secrets: { x: ageSource(encrypt(world, 'x.age', 'install-x25519-value')), pq: ageSource(join(world.dir, 'pq.age')) } });
  const r = await apply(world, ['--units', 'no'], { cli });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /pq\.txt, line 2: post-quantum key skipped: the age-encryption library cannot be loaded \(Cannot find package 'age-encryption'/);
  assert.match(r.stderr, /pq: every source failed: age: .*pq\.age: no key here opens it: the file is for 1 mlkem768x25519/);
  assert.doesNotMatch(r.stderr, /a bug/);
  assert.equal(readFileSync(join(world.secretsDir, 'x'), 'utf8'), 'install-x25519-value');
});

// `materialize get NAME` through the CLI, as root and as an ordinary user: the live file first (its
// bytes exactly), else the sources in order with the caller's own keys (an age file, a sops file
// with the user's key, the user's rbw agent through the fake rbw); nothing written; a secret no
// place can deliver is an error listing each place and why, with what would make one work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, ROOT_SKIP, registerSecretValues, runCli, type CliOptions } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { entries } from '../helpers/tree.js';
import { createUser, type TestUser } from '../helpers/users.js';
import { fakeRbw, login } from '../providers/helpers/rbw.js';

const get = (world: World, args: string[], options: CliOptions = {}) => runCli(['get', ...args, '--config', world.configFile], { ...options, valuesOnStdout: true });

/** An age key of the user's own, where sops looks for it (~/.config/sops/age/keys.txt), and its recipient. */
function userKey(world: World, user: TestUser): { home: string; recipient: string } {
  const home = join(world.dir, 'home');
  const dir = join(home, '.config/sops/age');
  mkdirSync(dir, { recursive: true });
  execFileSync('age-keygen', ['-o', join(dir, 'keys.txt')], { stdio: 'pipe' });
  for (const p of [home, join(home, '.config'), join(home, '.config/sops'), dir, join(dir, 'keys.txt')]) chownSync(p, user.uid, user.gid);
  const recipient = /^# public key: (age1\S+)$/m.exec(readFileSync(join(dir, 'keys.txt'), 'utf8'))![1]!;
  return { home, recipient };
}

/** Encrypts to the world's (root's) key and to more recipients, with the real age CLI. */
function encryptTo(world: World, file: string, plaintext: string | Buffer, recipients: string[]): string {
  const out = join(world.dir, 'src', file);
  mkdirSync(join(world.dir, 'src'), { recursive: true });
  execFileSync('age', ['-r', world.recipient, ...recipients.flatMap((r) => ['-r', r]), '-o', out], { input: plaintext });
  registerSecretValues(plaintext);
  return out;
}

/** Makes the world readable by a test user (the config, the sources; not the root key). */
function open(world: World): void {
  chmodSync(world.dir, 0o755);
  chmodSync(join(world.dir, 'src'), 0o755);
  for (const f of entries(join(world.dir, 'src'))) chmodSync(join(world.dir, 'src', f), 0o644);
  chmodSync(world.configFile, 0o644);
}

test('get prints the live file\'s bytes exactly, even when the source has changed since; nothing is written', async (t) => {
  const world = makeWorld(t);
  const bytes = Buffer.concat([Buffer.from('line one\nline two\n\n'), Buffer.from([0, 1, 0xfe, 0xff])]);
  const file = encrypt(world, 'v.age', bytes);
  writeConfig(world, { secrets: { 'app/blob': ageSource(file) } });
  assert.equal((await apply(world)).code, 0);
  encrypt(world, 'v.age', 'a-new-value-not-yet-applied');
  const before = entries(world.mountPoint);
  const r = await runCli(['get', 'app/blob', '--config', world.configFile], { valuesOnStdout: true, env: {} });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  // Read back as bytes: the test helper decodes stdout as UTF-8, so compare through a file.
  const out = join(world.dir, 'out.bin');
  execFileSync('sh', ['-c', `"${process.execPath}" "${join(REPO, process.env.MATERIALIZE_DIST ?? 'dist-test', 'cli.js')}" get app/blob --config "${world.configFile}" > "${out}"`]);
  assert.ok(readFileSync(out).equals(bytes), 'the exact bytes, no newline added');
  assert.deepEqual(entries(world.mountPoint), before, 'no generation, no file written');
  execFileSync('sh', ['-c', `"${process.execPath}" "${join(REPO, process.env.MATERIALIZE_DIST ?? 'dist-test', 'cli.js')}" get app/blob --newline --config "${world.configFile}" > "${out}"`]);
  assert.ok(readFileSync(out).equals(Buffer.concat([bytes, Buffer.from('\n')])), '--newline adds one when the value has none');
  const text = encrypt(world, 't.age', 'no-trailing-newline-01');
  writeConfig(world, { secrets: { t: ageSource(text) } });
  assert.equal((await get(world, ['t', '--newline'])).stdout, 'no-trailing-newline-01\n');
  assert.equal((await get(world, ['t'])).stdout, 'no-trailing-newline-01');
});

test('get, as an ordinary user: its own readable live file; else the source with its own key (age, sops); nothing written', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const user = createUser(t);
  const { home, recipient } = userKey(world, user);
  const mine = encryptTo(world, 'mine.age', 'owned-by-the-user-02', []);
  const rootOnly = encryptTo(world, 'root-only.age', 'root-only-live-value-03', [recipient]);
  // sops: the published sops test vector, opened with its key given to the user through SOPS_AGE_KEY_FILE.
  const sopsDir = join(world.dir, 'sops');
  mkdirSync(sopsDir);
  copyFileSync(join(REPO, 'test/fixtures/sops/sops-age/secret.enc.yaml'), join(sopsDir, 'secret.enc.yaml'));
  copyFileSync(join(REPO, 'test/fixtures/sops/sops-age/key.txt'), join(sopsDir, 'key.txt'));
  chmodSync(sopsDir, 0o755);
  chmodSync(join(sopsDir, 'secret.enc.yaml'), 0o644);
  chownSync(join(sopsDir, 'key.txt'), user.uid, user.gid);
  chmodSync(join(sopsDir, 'key.txt'), 0o600);
  registerSecretValues('this is a secret');
  const secrets = { mine: { ...ageSource(mine), owner: user.name }, shared: ageSource(rootOnly) };
  writeConfig(world, { secrets });
  open(world);
  assert.equal((await apply(world)).code, 0);
  // Added after the apply: root has no key for it, only the user does.
  writeConfig(world, { secrets: { ...secrets, 'from-sops': { sources: [{ sops: { file: join(sopsDir, 'secret.enc.yaml'), key: 'complex/value' } }] } } });
  encryptTo(world, 'mine.age', 'changed-after-apply-04', []);
  open(world);
  const before = entries(world.mountPoint);
  const as = { uid: user.uid, gid: user.gid, env: { HOME: home, XDG_RUNTIME_DIR: '', XDG_CONFIG_HOME: '' } };

  const live = await get(world, ['mine'], as);
  assert.equal(live.code, 0, live.stderr);
  assert.equal(live.stdout, 'owned-by-the-user-02', 'from the live file: the source holds another value now');

  const fetched = await get(world, ['shared'], as);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.equal(fetched.stdout, 'root-only-live-value-03', 'the live file is root\'s (0400): decrypted with the user\'s own key');

  const sops = await get(world, ['from-sops'], { ...as, env: { ...as.env, SOPS_AGE_KEY_FILE: join(sopsDir, 'key.txt') } });
  assert.equal(sops.code, 0, sops.stderr);
  assert.equal(sops.stdout, 'this is a secret');
  const noKey = await get(world, ['from-sops'], as);
  assert.equal(noKey.code, 65);
  assert.match(noKey.stderr, /give your user an age key that opens it/);
  assert.deepEqual(entries(world.mountPoint), before, 'nothing written');
});

test('get: the order is live file, then each source in turn; when none delivers, each place and its reason, and what would work', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const user = createUser(t);
  const fake = fakeRbw(join(world.dir, 'fake'));
  fake.setVault([login('github-token', 'ghp-from-rbw-05')]);
  const file = encrypt(world, 'gh.age', 'ghp-from-age-06');
  writeConfig(world, { secrets: { gh: { sources: [{ age: { file } }, { rbw: { name: 'github-token' } }] }, mine: { sources: [{ age: { file } }, { rbw: { name: 'github-token' } }], owner: user.name } } });
  open(world);
  assert.equal((await apply(world, [], { env: fake.env })).code, 0);
  const as = { uid: user.uid, gid: user.gid, env: { ...fake.env, HOME: join(world.dir, 'nohome'), XDG_RUNTIME_DIR: '' } };

  // 1. the live file: neither source is touched.
  assert.equal((await get(world, ['mine'], as)).stdout, 'ghp-from-age-06');
  assert.deepEqual(fake.take(), []);
  // 2-3. root's file, no age key for the user: the age source fails, rbw answers.
  const second = await get(world, ['gh'], as);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, 'ghp-from-rbw-05');
  assert.deepEqual(fake.take().map((c) => c.argv[0]), ['unlocked', 'get']);
  // Nothing delivers: the documented error, every place with its reason, then the ways out.
  fake.setState('locked');
  const none = await get(world, ['gh'], as);
  assert.equal(none.code, 65);
  const lines = none.stderr.trimEnd().split('\n');
  assert.equal(lines[0], `error: cannot get "gh" (from ${world.configFile}): no place tried could deliver it`);
  assert.match(lines[1]!, new RegExp(`^ {2}live file ${world.secretsDir}/gh: not readable by uid ${user.uid} \\(owner uid 0, group 0, mode 0400\\)$`));
  assert.match(lines[2]!, new RegExp(`^ {2}source 1, age: ${file}: no usable age or SSH key on this machine`));
  assert.match(lines[3]!, /^ {2}source 2, rbw: github-token: the rbw agent is locked; unlock it first \(`rbw unlock`\)/);
  assert.equal(lines[4], `to get it as uid ${user.uid}, one of:`);
  assert.match(lines[5]!, /^ {2}- give your user an age key that opens it: .*\(looked at: .*nohome\/\.config\/sops\/age\/keys\.txt \(missing\)\)$/);
  assert.equal(lines[6], '  - unlock your rbw agent: `rbw unlock`');
  assert.match(lines[7]!, /^ {2}- have it published readable by you: its owner, group or mode in /);
  assert.match(lines[8]!, /^ {2}- add a source your user can use to secrets\["gh"\]\.sources/);
  assert.equal(lines.length, 9);
});

test('get: a template is rendered from its secrets when not readable live; an unknown name is a usage error with a suggestion', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'template-part-a-07');
  writeConfig(world, { secrets: { 'db/password': ageSource(a) }, templates: { 'app.env': { content: 'PW={{db/password}}\n' } } });
  const r = await get(world, ['app.env']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'PW=template-part-a-07\n');
  const unknown = await get(world, ['db/pasword']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /^error: no secret or template named "db\/pasword" in .*secrets\.json \(did you mean "db\/password"\?\)\n$/);
});

test('get without --config: MATERIALIZE_CONFIG, else the user\'s runtime copy ($XDG_RUNTIME_DIR/materialize/secrets.json)', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'found-without-config-08');
  const runtime = join(world.dir, 'runtime');
  mkdirSync(join(runtime, 'materialize'), { recursive: true, mode: 0o700 });
  writeConfig(world, { secrets: { token: ageSource(a) } }, join(runtime, 'materialize/secrets.json'));
  const r = await runCli(['get', 'token'], { env: { XDG_RUNTIME_DIR: runtime }, valuesOnStdout: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'found-without-config-08');
  writeConfig(world, { secrets: { other: ageSource(a) } });
  const env = await runCli(['get', 'other'], { env: { XDG_RUNTIME_DIR: runtime, MATERIALIZE_CONFIG: world.configFile }, valuesOnStdout: true });
  assert.equal(env.stdout, 'found-without-config-08');
  if (!existsSync('/etc/materialize/secrets.json')) {
    const none = await runCli(['get', 'token'], { env: { XDG_RUNTIME_DIR: join(world.dir, 'empty') } });
    assert.equal(none.code, 64);
    assert.match(none.stderr, /no configuration given, and none found at .*\/empty\/materialize\/secrets\.json or \/etc\/materialize\/secrets\.json/);
  }
});

test('get: a live file in a generation someone else controls is not used', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const user = createUser(t);
  const a = encrypt(world, 'a.age', 'the-real-value-09');
  writeConfig(world, { secrets: { token: ageSource(a) } });
  assert.equal((await apply(world)).code, 0);
  // Another user's generation directory, where secretsDir now points.
  const planted = join(world.mountPoint, '7');
  mkdirSync(planted, { mode: 0o755 });
  writeFileSync(join(planted, 'token'), 'planted-value-10');
  registerSecretValues('planted-value-10');
  chownSync(planted, user.uid, user.gid);
  execFileSync('ln', ['-sfn', planted, world.secretsDir]);
  const r = await get(world, ['token']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'the-real-value-09', 'from the source, not from the planted file');
});

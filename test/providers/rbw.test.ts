// The rbw source through the CLI, against a fake rbw first on PATH that answers with rbw 1.15.0's
// shapes, texts and exit codes (./helpers/fake-rbw.mjs): `rbw unlocked` is asked first and a locked
// agent is an error, never a pinentry; names, users, folders and custom fields are matched exactly
// (rbw's substring fallbacks are refused); a missing part is "not found", never an empty secret; root
// without a session of its own is refused unless allowed; every rbw start is counted; a hanging rbw
// meets its deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP, isRoot, registerSecretValues, runCli } from '../helpers/cli.js';
import { applyJson, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { createUser } from '../helpers/users.js';
import { fakeRbw, login, note, type FakeRbw } from './helpers/rbw.js';

const rbw = (name: string, extra: Record<string, string> = {}) => ({ sources: [{ rbw: { name, ...extra } }] });

/** A world with the fake rbw and a runtime directory of root's own (a "session"), so root may use it. */
function setup(t: Parameters<typeof makeWorld>[0]): { world: World; fake: FakeRbw; env: Record<string, string> } {
  const world = makeWorld(t);
  const fake = fakeRbw(world.dir);
  const runtime = join(world.dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  return { world, fake, env: { ...fake.env, XDG_RUNTIME_DIR: runtime } };
}

const get = (world: World, name: string, env: Record<string, string>, extra: Parameters<typeof runCli>[1] = {}) =>
  runCli(['get', name, '--config', world.configFile], { ...extra, env: { ...env, ...extra.env }, valuesOnStdout: true });

test('rbw: `rbw unlocked`, then one `rbw get --raw` per item; the exact bytes, without rbw\'s added newline', async (t) => {
  const { world, fake, env } = setup(t);
  fake.setVault([login('github-token', 'ghp-rbw-secret-0001'), note('ssh-config', 'Host *\n  IdentitiesOnly yes\n\n')]);
  writeConfig(world, { secrets: { gh: rbw('github-token'), cfg: rbw('ssh-config') } });
  const r = await get(world, 'gh', env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ghp-rbw-secret-0001');
  assert.deepEqual(fake.take().map((c) => c.argv), [['unlocked'], ['get', '--raw', '--', 'github-token']]);
  // A secure note is its notes, trailing blank lines included (plain `rbw get` output could not tell).
  const n = await get(world, 'cfg', env);
  assert.equal(n.stdout, 'Host *\n  IdentitiesOnly yes\n\n');
  // The fake is the oracle of rbw's plain output: the same item printed with a newline added.
  assert.equal(execFileSync('rbw', ['get', 'github-token'], { env: { ...process.env, ...env } }).toString(), 'ghp-rbw-secret-0001\n');
});

test('rbw: a locked or stopped agent is a clear error and rbw get is never started (it would wait for pinentry)', async (t) => {
  const { world, fake, env } = setup(t);
  fake.setVault([login('github-token', 'ghp-locked-secret-02')]);
  writeConfig(world, { secrets: { gh: rbw('github-token') } });
  fake.setState('locked');
  const locked = await get(world, 'gh', env, { timeoutMs: 30_000 });
  assert.equal(locked.code, 65, locked.stderr);
  assert.match(locked.stderr, /source 1, rbw: github-token: the rbw agent is locked; unlock it first \(`rbw unlock`\): materialize never prompts/);
  assert.match(locked.stderr, /^ {2}- unlock your rbw agent: `rbw unlock`$/m);
  assert.deepEqual(fake.take().map((c) => c.argv), [['unlocked']]);
  fake.setState('stopped');
  const stopped = await get(world, 'gh', env);
  assert.equal(stopped.code, 65);
  assert.match(stopped.stderr, /the rbw agent is not running; start and unlock it first/);
  assert.deepEqual(fake.take().map((c) => c.argv), [['unlocked']]);
});

test('rbw: names are exact — rbw\'s substring fallback and an ambiguous name are refused; user and folder pick one', async (t) => {
  const { world, fake, env } = setup(t);
  fake.setVault([
    login('github-token', 'ghp-exact-name-003'),
    login('db', 'db-alice-password-04', { user: 'alice' }),
    login('db', 'db-bob-password-05', { user: 'bob' }),
    login('db', 'db-carol-password-14', { user: 'carol', folder: 'work' }),
  ]);
  writeConfig(world, { secrets: { short: rbw('github'), db: rbw('db'), bob: rbw('db', { user: 'bob' }), work: rbw('db', { folder: 'work' }), bo: rbw('db', { user: 'bo' }) } });
  // rbw itself answers `github` with github-token (no exact match, one entry contains it).
  assert.equal(execFileSync('rbw', ['get', 'github'], { env: { ...process.env, ...env } }).toString(), 'ghp-exact-name-003\n');
  const short = await get(world, 'short', env);
  assert.equal(short.code, 65);
  assert.match(short.stderr, /rbw matched the entry "github-token", whose name only contains "github"; materialize takes an entry named exactly so/);
  const db = await get(world, 'db', env);
  assert.equal(db.code, 65);
  assert.match(db.stderr, /several entries match; set "user" or "folder" \(rbw get: couldn't find entry for 'db': multiple entries found: alice@db, bob@db, carol@db\)/);
  assert.equal((await get(world, 'bob', env)).stdout, 'db-bob-password-05');
  assert.equal((await get(world, 'work', env)).stdout, 'db-carol-password-14');
  // rbw would take "bob" for "bo" (a user that contains it); not here.
  const bo = await get(world, 'bo', env);
  assert.equal(bo.code, 65);
  assert.match(bo.stderr, /whose user is not exactly "bo"/);
  const missing = fake.take().filter((c) => c.argv[0] === 'get').map((c) => c.argv);
  assert.deepEqual(missing.at(-1), ['get', '--raw', '--', 'db', 'bo']);
  assert.ok(missing.some((a) => a.join(' ') === 'get --raw --folder work -- db'));
});

test('rbw: custom fields match exactly, not by rbw\'s substring rule; a missing part is "not found" (rbw prints nothing, exit 0)', async (t) => {
  const { world, fake, env } = setup(t);
  fake.setVault([
    // The field rbw's --field finds first by substring comes first.
    login('anthropic', 'anthropic-password-06', { fields: [['API Key Old', 'sk-old-value-0007'], ['API Key', 'sk-new-value-0008']] }),
    login('no-password', null, { notes: 'notes-value-0009' }),
  ]);
  writeConfig(world, {
    secrets: {
      key: rbw('anthropic', { field: 'API Key' }),
      part: rbw('anthropic', { field: 'Key' }),
      user: rbw('anthropic', { field: 'username' }),
      password: rbw('no-password'),
      notes: rbw('no-password', { field: 'notes' }),
      totp: rbw('anthropic', { field: 'totp' }),
    },
  });
  const plain = (...args: string[]) => execFileSync('rbw', args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  // The oracle shows both pitfalls: --field takes the first name containing it; a missing password prints nothing, exit 0.
  assert.equal(plain('get', 'anthropic', '--field', 'API Key'), 'sk-old-value-0007\n');
  assert.equal(plain('get', 'no-password'), '');
  assert.equal(plain('get', 'anthropic', '--field', 'nothing-like-it'), '');

  assert.equal((await get(world, 'key', env)).stdout, 'sk-new-value-0008');
  const part = await get(world, 'part', env);
  assert.equal(part.code, 65);
  assert.match(part.stderr, /no field named exactly "Key" \(rbw's own --field would have taken "API Key Old", by substring\); the entry's fields: "API Key Old", "API Key"/);
  const user = await get(world, 'user', env);
  assert.equal(user.code, 65, 'a null username is not an empty secret');
  assert.match(user.stderr, /the entry has no username/);
  const password = await get(world, 'password', env);
  assert.equal(password.code, 65);
  assert.match(password.stderr, /no-password: the entry has no password/);
  assert.equal((await get(world, 'notes', env)).stdout, 'notes-value-0009');
  const totp = await get(world, 'totp', env);
  assert.equal(totp.code, 65);
  assert.match(totp.stderr, /TOTP codes are computed at each use/);
});

test('rbw: as root without a session of its own it is refused (no rbw started) unless providers.rbw.allowRoot', { skip: isRoot ? false : 'needs root: the rule is about root' }, async (t) => {
  const { world, fake } = setup(t);
  fake.setVault([login('github-token', 'ghp-root-rule-0010')]);
  writeConfig(world, { secrets: { gh: rbw('github-token') } });
  const boot = await get(world, 'gh', { ...fake.env, XDG_RUNTIME_DIR: '' });
  assert.equal(boot.code, 65);
  assert.match(boot.stderr, /refused as root without a session of root's own \(a boot or service run\).*set providers\.rbw\.allowRoot = true/);
  assert.deepEqual(fake.take(), [], 'rbw was not started');
  // Somebody else's runtime directory is not root's session either.
  const other = join(world.dir, 'other-runtime');
  mkdirSync(other, { mode: 0o700 });
  execFileSync('chown', ['65534', other]);
  assert.equal((await get(world, 'gh', { ...fake.env, XDG_RUNTIME_DIR: other })).code, 65);
  assert.deepEqual(fake.take(), []);

  writeConfig(world, { providers: { rbw: { allowRoot: true } }, secrets: { gh: rbw('github-token') } });
  const allowed = await get(world, 'gh', { ...fake.env, XDG_RUNTIME_DIR: '' });
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout, 'ghp-root-rule-0010');

  // apply at boot is refused the same way, and the run reports every rbw start it made.
  writeConfig(world, { secrets: { gh: rbw('github-token') } });
  const refused = await applyJson(world, [], { env: { ...fake.env, XDG_RUNTIME_DIR: '' } });
  assert.equal(refused.code, 65);
  assert.deepEqual(refused.report.calls, {});
  writeConfig(world, { providers: { rbw: { allowRoot: true } }, secrets: { gh: rbw('github-token'), again: rbw('github-token'), other: rbw('github-token', { field: 'password' }) } });
  const counted = await applyJson(world, [], { env: { ...fake.env, XDG_RUNTIME_DIR: '' } });
  assert.equal(counted.code, 0, counted.stderr);
  assert.deepEqual(counted.report.calls, { rbw: { 'rbw unlocked': 1, 'rbw get': 2 } }, 'one unlocked check; one get per distinct item and field');
});

test('rbw: an ordinary user\'s agent, with only what rbw needs of the environment', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const user = createUser(t);
  chmodSync(world.dir, 0o755);
  const fake = fakeRbw(join(world.dir, 'fake'));
  fake.setVault([login('claude-oauth-token', 'sk-ant-oat-user-0011')]);
  writeConfig(world, { secrets: { claude: rbw('claude-oauth-token') } });
  chmodSync(world.configFile, 0o644);
  registerSecretValues('op-token-must-not-leak-12');
  const r = await runCli(['get', 'claude', '--config', world.configFile], {
    valuesOnStdout: true,
    uid: user.uid,
    gid: user.gid,
    env: { ...fake.env, HOME: '/home/nobody-here', XDG_RUNTIME_DIR: '', RBW_PROFILE: 'work', OP_SERVICE_ACCOUNT_TOKEN: 'op-token-must-not-leak-12' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'sk-ant-oat-user-0011');
  const calls = fake.take();
  assert.deepEqual(calls.map((c) => c.argv), [['unlocked'], ['get', '--raw', '--', 'claude-oauth-token']]);
  for (const c of calls) assert.deepEqual(c.env, { HOME: '/home/nobody-here', RBW_PROFILE: 'work' }, 'the token and other variables stay out of rbw');
});

test('rbw: a call that hangs (a re-prompt waiting for pinentry) meets its deadline: exit 75, the process group killed', async (t) => {
  const { world, fake, env } = setup(t);
  fake.setVault([login('github-token', 'ghp-timeout-0013')]);
  writeConfig(world, { providers: { rbw: { timeout: 1 } }, secrets: { gh: rbw('github-token') } });
  // unlocked says yes, get waits: the agent locked between the two calls.
  fake.setState('unlocked');
  const script = join(world.dir, 'bin/rbw');
  const real = join(world.dir, 'bin/rbw-real');
  execFileSync('mv', [script, real]);
  const pidFile = join(world.dir, 'hanging.pid');
  execFileSync('sh', ['-c', `printf '#!/bin/sh\\n[ "$1" = unlocked ] && exec %s "$@"\\necho $$ > %s\\nexec sleep 600\\n' '${real}' '${pidFile}' > '${script}' && chmod 755 '${script}'`]);
  const started = Date.now();
  const r = await get(world, 'gh', env);
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /github-token: rbw did not answer in time/);
  assert.ok(Date.now() - started < 20_000, 'bounded by the 1 s deadline, not by sleep 600');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the hanging child is gone');
});

test('rbw: not installed is a clear error naming the setting', async (t) => {
  const { world, env } = setup(t);
  writeConfig(world, { secrets: { gh: rbw('github-token') } });
  const r = await get(world, 'gh', { ...env, PATH: '/nonexistent' });
  assert.equal(r.code, 65);
  assert.match(r.stderr, /rbw is not installed \(not found on PATH\); install rbw, or set providers\.rbw\.command/);
});

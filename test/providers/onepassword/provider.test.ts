// The 1Password provider through the engine's fetch phase (src/materialize/fetch.ts), in process,
// with the fake SDK of ./helpers/fake-sdk.ts: what it asks 1Password for (counted by the fake itself,
// and by the program), what each secret gets, and which failures are retried and which never are.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load.js';
import { fetchSecrets, type FetchResult } from '../../../src/materialize/fetch.js';
import { silentLogger } from '../../../src/log.js';
import { DEFAULT_INTEGRATION_VERSION } from '../../../src/providers/onepassword/settings.js';
import { seededHex, seededRandom } from '../../helpers/random.js';
import { FakeOnePassword, RateLimitExceededError, tokenDigest, type FakeWorld } from './helpers/fake-sdk.js';
import { silentServer } from './helpers/silent-server.js';
import { fakeToken, grid, writeToken } from './helpers/world.js';
import { registerSecretValues } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/temp.js';

interface Setup {
  fake: FakeOnePassword;
  run(secrets: Record<string, unknown>, options?: { settings?: Record<string, unknown>; timeoutMs?: number }): Promise<FetchResult>;
}

/** A fake 1Password and a runner of the engine's fetch phase against it, token in a 0600 file. */
function setup(t: TestContext, world: FakeWorld, token: string): Setup {
  const dir = tempDir(t);
  const tokenFile = writeToken(dir, token);
  const fake = new FakeOnePassword(world);
  return {
    fake,
    async run(secrets, options = {}) {
      const file = join(dir, 'secrets.json');
      const config = parseConfig(JSON.stringify({ version: 1, providers: { onepassword: { tokenFile, ...options.settings } }, secrets }), file);
      return fetchSecrets(config.secrets, { settings: config.providers, keys: config.keys, log: silentLogger(), timeoutMs: options.timeoutMs ?? 60_000, libs: { onepassword: { sdk: fake.sdk(), backoffMs: 5, random: seededRandom(3) } } });
    },
  };
}

const op = (reference: string, extra: Record<string, unknown> = {}) => ({ sources: [{ onepassword: { reference, ...extra } }] });
const text = (r: FetchResult, name: string) => r.values.get(name)?.toString('utf8');
const failure = (r: FetchResult, name: string) => r.failures.get(name)?.[0];

test('100 references across 10 items: one client, one resolveAll with each reference once, every value right', async (t) => {
  const random = seededRandom(101);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 2, items: 5, fields: 10 });
  const { fake, run } = setup(t, g.world, token);
  const secrets = Object.fromEntries(g.references.map((r, i) => [`app/s${i}`, op(r)]));
  const r = await run(secrets);
  assert.equal(r.failures.size, 0, JSON.stringify([...r.failures]));
  g.references.forEach((ref, i) => assert.equal(text(r, `app/s${i}`), g.values.get(ref)));
  assert.equal(fake.count('createClient'), 1);
  assert.equal(fake.count('resolveAll'), 1);
  assert.deepEqual([...fake.calls[1]!.references!].sort(), [...g.references].sort());
  assert.deepEqual(fake.calls.map((c) => c.call), ['createClient', 'resolveAll'], 'no other call');
  // The program's own count agrees with the fake's.
  assert.deepEqual(r.calls, { onepassword: { createClient: 1, resolveAll: 1 } });
  // The token reached the SDK as it is in the file; the integration is named within the SDK's limits.
  assert.equal(fake.calls[0]!.tokenSha256, tokenDigest(token));
  assert.equal(fake.calls[0]!.integrationName, 'materialize');
  assert.equal(fake.calls[0]!.integrationVersion, DEFAULT_INTEGRATION_VERSION);
});

test('duplicates are resolved once: the same reference in several secrets, as shorthand and as object', async (t) => {
  const random = seededRandom(102);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 2, fields: 2 });
  const { fake, run } = setup(t, g.world, token);
  const [a, b] = g.references as [string, string];
  const r = await run({
    one: op(a),
    two: { sources: [{ onepassword: a }] },
    three: op(a, { kind: 'field' }),
    other: op(b),
    // A fallback that names the same reference again is not asked for twice either.
    fallback: { sources: [{ onepassword: `op://Infra 0/service 0/no such field` }, { onepassword: b }] },
  });
  for (const name of ['one', 'two', 'three']) assert.equal(text(r, name), g.values.get(a));
  assert.equal(text(r, 'other'), g.values.get(b));
  assert.equal(text(r, 'fallback'), g.values.get(b));
  const asked = fake.calls.filter((c) => c.call === 'resolveAll').flatMap((c) => c.references!);
  assert.equal(asked.filter((x) => x === a).length, 1);
  // Round 1 asks for a, b and the missing field; round 2 (the fallback) asks for b again in a new batch.
  assert.equal(fake.count('createClient'), 1, 'one client per run, fallback rounds included');
});

test('a missing field fails that secret only (not-found), never retried; the others are delivered', async (t) => {
  const random = seededRandom(103);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 3, fields: 3 });
  const { fake, run } = setup(t, g.world, token);
  const secrets: Record<string, unknown> = Object.fromEntries(g.references.map((r, i) => [`s${i}`, op(r)]));
  secrets.missingField = op('op://Infra 0/service 1/no such field');
  secrets.missingItem = op('op://Infra 0/no such item/field 0');
  secrets.missingVault = op('op://Nowhere/service 1/field 0');
  secrets.missingSection = op('op://Infra 0/service 1/no section/field 0');
  const r = await run(secrets);
  assert.equal(r.values.size, g.references.length);
  assert.deepEqual(
    ['missingField', 'missingItem', 'missingVault', 'missingSection'].map((n) => [failure(r, n)?.kind, /\((\w+)\)$/.exec(failure(r, n)?.message ?? '')?.[1]]),
    [['not-found', 'fieldNotFound'], ['not-found', 'itemNotFound'], ['not-found', 'vaultNotFound'], ['not-found', 'noMatchingSections']],
  );
  assert.match(failure(r, 'missingField')!.message, /^op:\/\/Infra 0\/service 1\/no such field names a field that the item does not have/);
  assert.equal(fake.count('resolveAll'), 1, 'per-reference errors are never retried');
});

test('ambiguous names are configuration errors that say to use the ID; the ID works', async (t) => {
  const random = seededRandom(104);
  const token = fakeToken(random);
  const value = `dup-${seededHex(random, 8)}`;
  registerSecretValues(value);
  const world: FakeWorld = { token, vaults: [{ title: 'Infra', items: [{ id: 'aaaaaaaaaaaaaaaaaaaaaaaaa1', title: 'db', fields: [{ title: 'password', value }] }, { id: 'aaaaaaaaaaaaaaaaaaaaaaaaa2', title: 'db', fields: [{ title: 'password', value: 'other' }] }] }] };
  const { run } = setup(t, world, token);
  const r = await run({ byName: op('op://Infra/db/password'), byId: op('op://Infra/aaaaaaaaaaaaaaaaaaaaaaaaa1/password') });
  assert.equal(failure(r, 'byName')?.kind, 'config');
  assert.match(failure(r, 'byName')!.message, /ambiguous: several items have that name; use the item's ID \(tooManyItems\)/);
  assert.equal(text(r, 'byId'), value);
});

test('a reference the SDK validator refuses fails as configuration before any call; none at all when every reference is bad', async (t) => {
  const random = seededRandom(105);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 1, fields: 1 });
  const { fake, run } = setup(t, g.world, token);
  const bad = await run({ a: op('op://v/i/f?attribute=bogus'), b: op('op://v/i/f?foo=bar') });
  assert.equal(failure(bad, 'a')?.kind, 'config');
  assert.match(failure(bad, 'a')!.message, /1Password's validator refuses it: secret reference has invalid query parameter value/);
  assert.equal(fake.calls.length, 0, 'nothing was sent');
  assert.deepEqual(bad.calls, {});
  const mixed = await run({ good: op(g.references[0]!), bad: op('op://v/i/f?ssh-format=pem') });
  assert.equal(text(mixed, 'good'), g.values.get(g.references[0]!));
  assert.deepEqual(fake.calls.find((c) => c.call === 'resolveAll')!.references, [g.references[0]]);
});

test('one-time passwords, OpenSSH keys and text attachments resolve through the same resolveAll', async (t) => {
  const random = seededRandom(106);
  const token = fakeToken(random);
  const otp = String(Math.floor(random() * 1e6)).padStart(6, '0');
  const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${seededHex(random, 32)}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const note = `config = ${seededHex(random, 10)}\n`;
  registerSecretValues(key, note);
  const world: FakeWorld = {
    token,
    vaults: [{ title: 'Ops', items: [{ title: 'github', fields: [{ title: 'one-time password', value: 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', type: 'Totp', otp }, { title: 'password', value: 'pw-not-used' }] }, { title: 'deploy', category: 'SshKey', fields: [{ title: 'private key', value: 'PKCS8 form', type: 'SshKey', openssh: key }], files: [{ name: 'app.conf', content: note }, { name: 'blob.bin', content: { base64: Buffer.from([0, 1, 2, 255]).toString('base64') } }] }] }],
  };
  const { fake, run } = setup(t, world, token);
  const r = await run({
    otp: op('op://Ops/github/one-time password?attribute=otp'),
    ssh: op('op://Ops/deploy/private key?ssh-format=openssh'),
    conf: op('op://Ops/deploy/app.conf'),
    notOtp: op('op://Ops/github/password?attribute=otp'),
    binaryAsText: op('op://Ops/deploy/blob.bin'),
  });
  assert.equal(text(r, 'otp'), otp);
  assert.equal(text(r, 'ssh'), key);
  assert.equal(text(r, 'conf'), note);
  assert.equal(failure(r, 'notOtp')?.kind, 'config');
  assert.match(failure(r, 'notOtp')!.message, /incompatibleTOTPQueryParameterField/);
  assert.equal(failure(r, 'binaryAsText')?.kind, 'config');
  assert.match(failure(r, 'binaryAsText')!.message, /set "kind": "file" to publish its exact bytes \(unsupportedFileFormat\)/);
  assert.equal(fake.count('resolveAll'), 1);
});

test('files: attachments and Document items as exact bytes, each look-up once per run', async (t) => {
  const random = seededRandom(107);
  const token = fakeToken(random);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const cert = bytes(700);
  const key = Buffer.concat([Buffer.from([0, 0, 0xff, 0xfe]), bytes(300)]);
  const doc = bytes(2048);
  const other = bytes(64);
  const world: FakeWorld = {
    token,
    vaults: [
      {
        title: 'Infra',
        items: [
          { title: 'tls', fields: [{ title: 'note', value: 'n' }], files: [{ name: 'cert.der', content: { base64: cert.toString('base64') } }, { name: 'key.der', content: { base64: key.toString('base64') }, section: 'private' }, { name: 'dup.bin', content: { base64: other.toString('base64') } }, { name: 'dup.bin', content: { base64: other.toString('base64') }, section: 'old' }] },
          { title: 'keystore', category: 'Document', document: { name: 'keystore.p12', content: { base64: doc.toString('base64') } } },
        ],
      },
      { title: 'Other', items: [{ title: 'x', files: [{ name: 'y', content: { base64: other.toString('base64') } }] }] },
    ],
  };
  const { fake, run } = setup(t, world, token);
  const file = (reference: string) => op(reference, { kind: 'file' });
  const r = await run({
    cert: file('op://Infra/tls/cert.der'),
    key: file('op://Infra/tls/private/key.der'),
    doc: file('op://Infra/keystore/keystore.p12'),
    missing: file('op://Infra/tls/nope.der'),
    wrongSection: file('op://Infra/tls/public/key.der'),
    ambiguous: file('op://Infra/tls/dup.bin'),
    inSection: file('op://Infra/tls/old/dup.bin'),
    noVault: file('op://Nowhere/tls/cert.der'),
  });
  assert.ok(r.values.get('cert')!.equals(cert));
  assert.ok(r.values.get('key')!.equals(key), 'bytes, not text: NULs and invalid UTF-8 survive');
  assert.ok(r.values.get('doc')!.equals(doc));
  assert.ok(r.values.get('inSection')!.equals(other));
  assert.equal(failure(r, 'missing')?.kind, 'not-found');
  assert.match(failure(r, 'missing')!.message, /the item has no file named "nope\.der" \(it has 4 files\)/);
  assert.equal(failure(r, 'wrongSection')?.kind, 'not-found');
  assert.equal(failure(r, 'ambiguous')?.kind, 'config');
  assert.equal(failure(r, 'noVault')?.kind, 'not-found');
  // One vault list, one item list per vault, one item read per item, one file read per file.
  assert.equal(fake.count('vaults.list'), 1);
  assert.equal(fake.count('items.list'), 1);
  assert.equal(fake.count('items.get'), 2);
  assert.equal(fake.count('items.files.read'), 4);
  assert.equal(fake.count('resolveAll'), 0, 'no text reference, no resolveAll');
  assert.deepEqual(r.calls.onepassword, { createClient: 1, 'vaults.list': 1, 'items.list': 1, 'items.get': 2, 'items.files.read': 4 });
});

test('a fallback round reuses the first round\'s sign-in and file look-ups: each look-up once per run, not once per round', async (t) => {
  const random = seededRandom(111);
  const token = fakeToken(random);
  const a = Buffer.from([1, 2, 3, 0, 255]);
  const b = Buffer.from([9, 8, 7]);
  const world: FakeWorld = { token, vaults: [{ title: 'Infra', items: [{ title: 'tls', files: [{ name: 'a.bin', content: { base64: a.toString('base64') } }, { name: 'b.bin', content: { base64: b.toString('base64') } }] }] }] };
  const { fake, run } = setup(t, world, token);
  const file = (reference: string) => ({ onepassword: { reference, kind: 'file' } });
  // `late` reaches 1Password in the second round only: its first source (a missing age file) fails.
  const r = await run({
    early: { sources: [file('op://Infra/tls/a.bin')] },
    late: { sources: [{ age: { file: join(tempDir(t), 'missing.age') } }, file('op://Infra/tls/b.bin')] },
  });
  assert.ok(r.values.get('early')!.equals(a));
  assert.ok(r.values.get('late')!.equals(b), JSON.stringify([...r.failures]));
  assert.deepEqual(r.calls.onepassword, { createClient: 1, 'vaults.list': 1, 'items.list': 1, 'items.get': 1, 'items.files.read': 2 });
  assert.equal(fake.count('vaults.list'), 1);
  assert.equal(fake.count('items.get'), 1);
});

test('a rate limit at sign-in and at resolveAll: one call, never retried, rate-limited for every secret; nothing sent after it', async (t) => {
  const random = seededRandom(108);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 2, fields: 2 });
  g.world.vaults[0]!.items[0]!.files = [{ name: 'f.bin', content: { base64: 'AAEC' } }];
  const secrets = { ...Object.fromEntries(g.references.map((r, i) => [`s${i}`, op(r)])), file: op('op://Infra 0/service 0/f.bin', { kind: 'file' }) };

  const atSignIn = setup(t, { ...g.world, failures: { createClient: { as: 'rate-limit' } } }, token);
  const r1 = await atSignIn.run(secrets);
  assert.deepEqual(atSignIn.fake.calls.map((c) => c.call), ['createClient']);
  for (const name of Object.keys(secrets)) assert.equal(failure(r1, name)?.kind, 'rate-limited', name);
  assert.match(failure(r1, 's0')!.message, /^1Password rate limit exceeded \(createClient\): not retried/);

  // resolveAll throws the SDK's class; its message need not say "rate limit": the class decides.
  const atResolve = setup(t, { ...g.world, failures: { resolveAll: { as: 'rate-limit', message: 'too many requests for this token' }, 'vaults.list': { as: 'rate-limit' } } }, token);
  const r2 = await atResolve.run(secrets);
  assert.equal(atResolve.fake.count('resolveAll'), 1);
  assert.equal(atResolve.fake.count('vaults.list'), 1);
  for (const name of Object.keys(secrets)) assert.equal(failure(r2, name)?.kind, 'rate-limited', name);
  assert.ok(new RateLimitExceededError('x') instanceof Error, 'the fake throws the SDK\'s own class');
});

test('network failures are retried with backoff up to `attempts`; then the run says how often it tried', async (t) => {
  const random = seededRandom(109);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 1, fields: 2 });
  const secrets = Object.fromEntries(g.references.map((r, i) => [`s${i}`, op(r)]));

  const flaky = setup(t, { ...g.world, failures: { createClient: { as: 'network', times: 2 }, resolveAll: { as: 'server', times: 1 } } }, token);
  const r1 = await flaky.run(secrets);
  assert.equal(r1.failures.size, 0);
  assert.equal(flaky.fake.count('createClient'), 3);
  assert.equal(flaky.fake.count('resolveAll'), 2);
  assert.deepEqual(r1.calls.onepassword, { createClient: 3, resolveAll: 2 }, 'every attempt is counted');

  const down = setup(t, { ...g.world, failures: { createClient: { as: 'network' } } }, token);
  const r2 = await down.run(secrets, { settings: { attempts: 4 } });
  assert.equal(down.fake.count('createClient'), 4);
  assert.equal(failure(r2, 's0')?.kind, 'unavailable');
  assert.match(failure(r2, 's0')!.message, /^1Password could not be reached \(createClient\): .*\(4 attempts\)$/);

  // A refused token is not a network failure: one attempt.
  const refused = setup(t, { ...g.world, failures: { createClient: { as: 'unauthenticated' } } }, token);
  const r3 = await refused.run(secrets);
  assert.equal(refused.fake.count('createClient'), 1);
  assert.equal(failure(r3, 's0')?.kind, 'unauthorized');
  const badFormat = setup(t, { ...g.world, failures: { createClient: { as: 'bad-token' } } }, token);
  const r4 = await badFormat.run(secrets);
  assert.equal(badFormat.fake.count('createClient'), 1);
  assert.match(failure(r4, 's0')!.message, /the service account token is not valid/);
});

test('a silent server: "1Password did not answer in N s" within the call deadline, not retried, its request aborted', async (t) => {
  const random = seededRandom(110);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 1, fields: 1 });
  const silent = await silentServer(t);
  const { fake, run } = setup(t, { ...g.world, hangUrl: silent.url, failures: { createClient: { as: 'hang' } } }, token);
  const started = Date.now();
  const r = await run({ s: op(g.references[0]!) }, { settings: { callTimeout: 0.5 } });
  const elapsed = Date.now() - started;
  assert.equal(failure(r, 's')?.kind, 'unavailable');
  assert.equal(failure(r, 's')!.message, '1Password did not answer in 0.5 s (createClient); the network or 1Password\'s servers may be down');
  assert.ok(elapsed >= 450 && elapsed < 15_000, `took ${elapsed} ms`);
  assert.equal(fake.count('createClient'), 1, 'a call that may have reached 1Password is not sent again');
  // The abandoned request does not keep its socket: the guard aborted it when the provider answered.
  for (let i = 0; i < 100 && !silent.firstClosed(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(silent.sockets.length >= 1, 'the fake sent a real request');
  assert.equal(silent.firstClosed(), true, 'the hanging request was aborted, its socket closed');
  assert.equal(globalThis.fetch.name, 'fetch', 'the global fetch is restored');

  // The run's deadline cuts a hanging resolveAll too, whatever the call deadline.
  const second = setup(t, { ...g.world, hangUrl: silent.url, failures: { resolveAll: { as: 'hang' } } }, token);
  const r2 = await second.run({ s: op(g.references[0]!) }, { timeoutMs: 700 });
  assert.equal(failure(r2, 's')?.kind, 'unavailable');
});

test('the token: a 0644 file is refused before any call; OP_SERVICE_ACCOUNT_TOKEN is used without a file, then removed from the environment', async (t) => {
  const random = seededRandom(111);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 1, fields: 1 });
  const dir = tempDir(t);
  const readable = writeToken(dir, token, 0o644);
  const fake = new FakeOnePassword(g.world);
  const lib = { onepassword: { sdk: fake.sdk(), backoffMs: 5 } };
  const fetchWith = (providers: Record<string, unknown>) => {
    const config = parseConfig(JSON.stringify({ version: 1, providers, secrets: { s: op(g.references[0]!) } }), join(dir, 'secrets.json'));
    return fetchSecrets(config.secrets, { settings: config.providers, keys: config.keys, log: silentLogger(), timeoutMs: 30_000, libs: lib });
  };
  const refused = await fetchWith({ onepassword: { tokenFile: readable } });
  assert.equal(failure(refused, 's')?.kind, 'config');
  assert.match(failure(refused, 's')!.message, /has mode 0644, readable by its group or by others; make it 0600/);
  assert.equal(fake.calls.length, 0, 'nothing was sent');
  const allowed = await fetchWith({ onepassword: { tokenFile: readable, allowReadableTokenFile: true } });
  assert.equal(text(allowed, 's'), g.values.get(g.references[0]!));

  const saved = process.env.OP_SERVICE_ACCOUNT_TOKEN;
  t.after(() => (saved === undefined ? delete process.env.OP_SERVICE_ACCOUNT_TOKEN : (process.env.OP_SERVICE_ACCOUNT_TOKEN = saved)));
  process.env.OP_SERVICE_ACCOUNT_TOKEN = token;
  const fromEnv = await fetchWith({});
  assert.equal(text(fromEnv, 's'), g.values.get(g.references[0]!));
  assert.equal(fake.calls.at(-2)!.tokenSha256, tokenDigest(token));
  assert.equal(process.env.OP_SERVICE_ACCOUNT_TOKEN, undefined, 'read once, then gone from the environment');
  const none = await fetchWith({});
  assert.equal(failure(none, 's')?.kind, 'config');
  assert.match(failure(none, 's')!.message, /no service account token: set providers\.onepassword\.tokenFile/);
});

test('integration name and version: passed to the SDK; values the SDK would refuse are configuration errors at load', (t) => {
  const dir = tempDir(t);
  const load = (onepassword: unknown) => () => parseConfig(JSON.stringify({ version: 1, providers: { onepassword } }), join(dir, 'secrets.json'));
  assert.throws(load({ integrationName: 'x'.repeat(41) }), /providers\.onepassword\.integrationName: must be at most 40 characters/);
  assert.throws(load({ integrationName: 'a/b' }), /integrationName: must not contain "\/"/);
  assert.throws(load({ integrationVersion: '1.0.0+build' }), /integrationVersion: must not contain "\+"/);
  assert.throws(load({ integrationVersion: '1'.repeat(21) }), /must be at most 20 characters/);
  assert.throws(load({ tokenFile: 'relative/token' }), /tokenFile: must be an absolute path/);
  assert.throws(load({ callTimeout: 0 }), /callTimeout/);
  assert.throws(load({ tokenFil: '/x' }), /unknown key "tokenFil"/);
  assert.doesNotThrow(load({ integrationName: 'x'.repeat(40), integrationVersion: '1'.repeat(20) }));
  assert.ok(DEFAULT_INTEGRATION_VERSION.length <= 20 && !DEFAULT_INTEGRATION_VERSION.includes('+'));
});

test('no failure message carries the token, whatever the SDK said', async (t) => {
  const random = seededRandom(112);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 1, fields: 1 });
  for (const as of ['server', 'network', 'unauthenticated'] as const) {
    const { run } = setup(t, { ...g.world, failures: { createClient: { as, message: `boom with ${token} inside` } } }, token);
    const r = await run({ s: op(g.references[0]!) }, { settings: { attempts: 1 } });
    const message = failure(r, 's')!.message;
    assert.ok(!message.includes(token) && !message.includes(token.slice(4, 40)), `${as}: ${message}`);
  }
});

// 1Password end to end: the built CLI (dist-test/) with the fake SDK injected through the test
// hook MATERIALIZE_TEST_ONEPASSWORD_SDK, exactly as systemd runs it otherwise. The fake keeps its
// own record of the calls it received (JSON lines), checked against what the run reports; every
// output is scanned for the values and the token (test/helpers/cli.ts).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCTION_CLI, SHIPPED_FILES, registerSecretValues, runCli } from '../../helpers/cli.js';
import { applyJson, encrypt, makeWorld, writeConfig, type World } from '../../helpers/fixtures.js';
import { seededHex, seededRandom } from '../../helpers/random.js';
import { contents, entries, snapshotLive, walk } from '../../helpers/tree.js';
import { keyFile, SOPS_AGE } from '../sops/helpers/keys.js';
import { fakeRun, type FakeRun } from './helpers/cli-fake.js';
import { tokenDigest, type FakeWorld } from './helpers/fake-sdk.js';
import { silentServer } from './helpers/silent-server.js';
import { fakeToken, grid, writeToken, type Grid } from './helpers/world.js';

const op = (reference: string) => ({ sources: [{ onepassword: reference }] });

interface Setup {
  world: World;
  fake: FakeRun;
  tokenFile: string;
  token: string;
  grid: Grid;
  /** secrets.json with the token file and `secrets`; `extra` adds or overrides top-level keys. */
  config(secrets: Record<string, unknown>, extra?: Record<string, unknown>): void;
}

/** A world with a seeded 1Password grid of `shape` (changed by `tweak`), its token file and the fake SDK the CLI loads. */
async function setup(t: TestContext, salt: number, shape = { vaults: 1, items: 2, fields: 3 }, tweak: (w: FakeWorld) => void = () => {}): Promise<Setup> {
  const world = makeWorld(t, 'materialize-op-cli-');
  const random = seededRandom(salt);
  const token = fakeToken(random);
  const g = grid(random, token, shape);
  tweak(g.world);
  const tokenFile = writeToken(world.dir, token);
  const fake = await fakeRun(world.dir, g.world);
  return {
    world,
    fake,
    tokenFile,
    token,
    grid: g,
    config: (secrets, extra = {}) => {
      const { providers, ...rest } = extra as { providers?: Record<string, Record<string, unknown>> };
      writeConfig(world, { providers: { ...providers, onepassword: { tokenFile, ...providers?.onepassword } }, secrets, ...rest });
    },
  };
}

const calls = (fake: FakeRun) => fake.calls().map((c) => c.call);

test('100 secrets across 10 items: one client, one resolveAll, each value in its file; the report counts the same calls', async (t) => {
  const s = await setup(t, 201, { vaults: 2, items: 5, fields: 10 });
  s.config(Object.fromEntries(s.grid.references.map((r, i) => [`svc${i % 10}/secret${i}`, op(r)])));
  const { code, report, stderr } = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(code, 0, stderr);
  assert.deepEqual(calls(s.fake), ['createClient', 'resolveAll']);
  assert.equal(new Set(s.fake.calls()[1]!.references).size, 100);
  assert.deepEqual(report.calls, { onepassword: { createClient: 1, resolveAll: 1 } });
  s.grid.references.forEach((r, i) => assert.equal(readFileSync(join(s.world.secretsDir, `svc${i % 10}/secret${i}`), 'utf8'), s.grid.values.get(r)));
  assert.equal(report.entries.find((e) => e.name === 'svc0/secret0')!.source, `onepassword ${s.grid.references[0]}`);
});

test('a field deleted in 1Password fails that secret only: it keeps its live value (stale, exit 65), the others update', async (t) => {
  const s = await setup(t, 202);
  const [a, b, c] = s.grid.references as [string, string, string];
  s.config({ a: op(a), b: op(b), c: op(c) });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const old = readFileSync(join(s.world.secretsDir, 'a'), 'utf8');
  // In 1Password: a's field is deleted, b's value changes.
  const changed = `rotated-${seededHex(seededRandom(9), 10)}`;
  registerSecretValues(changed);
  const items = s.grid.world.vaults[0]!.items;
  items[0]!.fields = items[0]!.fields!.filter((f) => f.title !== 'field 0');
  items[0]!.fields.find((f) => f.title === 'field 1')!.value = changed;
  s.fake.update(s.grid.world);
  const before = s.fake.calls().length;
  const { code, report, stderr } = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(code, 65, stderr);
  assert.deepEqual(Object.fromEntries(report.entries.map((e) => [e.name, e.status])), { a: 'stale', b: 'changed', c: 'unchanged' });
  assert.match(report.entries.find((e) => e.name === 'a')!.reason!, /names a field that the item does not have \(fieldNotFound\)/);
  assert.equal(readFileSync(join(s.world.secretsDir, 'a'), 'utf8'), old);
  assert.equal(readFileSync(join(s.world.secretsDir, 'b'), 'utf8'), changed);
  assert.deepEqual(s.fake.calls().slice(before).map((x) => x.call), ['createClient', 'resolveAll'], 'not retried');
});

test('a rate limit at sign-in and at resolveAll: exit 69 after one call, no retry, the live generation untouched', async (t) => {
  const s = await setup(t, 203);
  // Without sealed values or a call budget: what a rate limit does on its own within one run (the
  // sealed store's answer to one, and the budget's back-off across runs, are tested with the seal).
  const alone = { seal: false, callsPerHour: 0 };
  s.config(Object.fromEntries(s.grid.references.map((r, i) => [`s${i}`, op(r)])), { failurePolicy: 'abort', network: alone });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const live = snapshotLive(s.world.secretsDir);
  for (const call of ['createClient', 'resolveAll'] as const) {
    s.fake.update({ ...s.grid.world, failures: { [call]: { as: 'rate-limit' } } });
    const before = s.fake.calls().length;
    const { code, report, stderr } = await applyJson(s.world, [], { env: s.fake.env });
    assert.equal(code, 69, `${call}: ${stderr}`);
    assert.equal(report.exitCode, 69);
    assert.equal(report.switched, false);
    assert.deepEqual(s.fake.calls().slice(before).map((x) => x.call), call === 'createClient' ? ['createClient'] : ['createClient', 'resolveAll'], `${call}: one call, no retry`);
    assert.match(stderr, new RegExp(`1Password rate limit exceeded \\(${call}\\): not retried`));
    assert.deepEqual(snapshotLive(s.world.secretsDir), live, `${call}: the live generation is untouched`);
    assert.deepEqual(entries(s.world.mountPoint).filter((e) => /^\d+$/.test(e)), ['1'], 'no new generation');
  }
  // With keep-previous (the default), the run still exits 69 and every value stays what it was.
  s.config(Object.fromEntries(s.grid.references.map((r, i) => [`s${i}`, op(r)])), { network: alone });
  const { code, report } = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(code, 69);
  assert.ok(report.entries.every((e) => e.status === 'stale'));
  assert.deepEqual(contents(walk(s.world.secretsDir + '/')), contents(live.tree));
});

test('a silent server: "1Password did not answer in N s", exit 75, and the process ends in bounded time', async (t) => {
  const s = await setup(t, 204);
  const hangUrl = (await silentServer(t)).url;
  s.fake.update({ ...s.grid.world, hangUrl, failures: { createClient: { as: 'hang' } } });
  s.config({ a: op(s.grid.references[0]!) }, { providers: { onepassword: { callTimeout: 1 } } });
  let started = Date.now();
  const r = await runCli(['apply', '--config', s.world.configFile], { env: s.fake.env, timeoutMs: 60_000 });
  let elapsed = Date.now() - started;
  assert.equal(r.signal, null, 'the process ended by itself');
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /1Password did not answer in 1 s \(createClient\)/);
  // The SDK would hold its socket for ~300 s; the run gave it up and exited.
  assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
  assert.deepEqual(calls(s.fake), ['createClient'], 'not retried');

  // Hanging at resolveAll, with only the run's deadline (--timeout) to stop it.
  s.fake.update({ ...s.grid.world, hangUrl, failures: { resolveAll: { as: 'hang' } } });
  s.config({ a: op(s.grid.references[0]!) });
  started = Date.now();
  const r2 = await runCli(['apply', '--config', s.world.configFile, '--timeout', '2'], { env: s.fake.env, timeoutMs: 60_000 });
  elapsed = Date.now() - started;
  assert.equal(r2.signal, null);
  assert.equal(r2.code, 75, r2.stderr);
  assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
});

test('a token file readable by others (0644) is refused before any call, naming the file and the fix', async (t) => {
  const s = await setup(t, 205);
  chmodSync(s.tokenFile, 0o644);
  s.config({ a: op(s.grid.references[0]!) });
  const r = await runCli(['apply', '--config', s.world.configFile], { env: s.fake.env });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, new RegExp(`providers\\.onepassword\\.tokenFile: ${s.tokenFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has mode 0644, readable by its group or by others; make it 0600`));
  assert.deepEqual(calls(s.fake), []);
  assert.equal(existsSync(join(s.world.secretsDir, 'a')), false);
});

/** A `systemctl` first on PATH that records its whole environment and argv. */
function recordingSystemctl(dir: string): { env: Record<string, string>; log: string } {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'systemctl-seen.txt');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\n{ echo "ARGV: $*"; env; } >> '${log}'\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return { env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, log };
}

test('the token is never in any output, argv or child environment, from a file or from OP_SERVICE_ACCOUNT_TOKEN', async (t) => {
  const s = await setup(t, 206);
  const systemctl = recordingSystemctl(s.world.dir);
  const [a, b] = s.grid.references as [string, string];
  for (const from of ['file', 'environment'] as const) {
    s.config({ [`a-${from}`]: { ...op(a), restartUnits: ['app.service'] }, b: op(b) }, from === 'environment' ? { providers: { onepassword: { tokenFile: undefined } } } : {});
    const env = { ...s.fake.env, ...systemctl.env, ...(from === 'environment' ? { OP_SERVICE_ACCOUNT_TOKEN: s.token } : {}) };
    // --json, then human output with --verbose: runCli fails if any output holds the token or a value.
    for (const args of [['--json'], ['--verbose'], ['--dry-run', '--json']]) {
      const r = await runCli(['apply', '--config', s.world.configFile, '--units', 'yes', ...args], { env });
      assert.equal(r.code, 0, `${from} ${args}: ${r.stderr}`);
    }
    const sign = s.fake.calls().filter((c) => c.call === 'createClient');
    assert.equal(sign.at(-1)!.tokenSha256, tokenDigest(s.token), `${from}: the SDK got the token`);
  }
  const seen = readFileSync(systemctl.log, 'utf8');
  assert.match(seen, /ARGV: --no-block try-restart -- app\.service/, 'a child was started');
  assert.ok(!seen.includes(s.token), 'the token reached a child');
  assert.ok(!seen.includes('OP_SERVICE_ACCOUNT_TOKEN'), 'the variable reached a child');
  assert.ok(!seen.includes(s.tokenFile), 'the token file reached a child');
});

test('sops, age and 1Password in one configuration, with fallbacks both ways', async (t) => {
  const s = await setup(t, 207);
  const sopsKey = keyFile(s.world.dir, join(SOPS_AGE, 'key.txt'), 'sops-age.key');
  const sops = join(SOPS_AGE, 'secret.enc.yaml');
  const age = encrypt(s.world, 'deploy.age', 'age-value-for-the-mixed-test');
  const [a, b] = s.grid.references as [string, string];
  s.config(
    {
      fromAge: { sources: [{ age: { file: age } }] },
      fromSops: { sources: [{ sops: { file: sops, key: 'secret' } }] },
      fromOp: op(a),
      // 1Password first; its field is gone, so sops answers.
      opThenSops: { sources: [{ onepassword: 'op://Infra 0/service 0/deleted field' }, { sops: { file: sops, key: 'string' } }] },
      // 1Password first and it answers: sops is not read for it.
      opFirst: { sources: [{ onepassword: b }, { sops: { file: sops, key: 'secret' } }] },
      // sops first; the key is missing, so 1Password answers (in a second round, same client).
      sopsThenOp: { sources: [{ sops: { file: sops, key: 'no/such/key' } }, { onepassword: b }] },
    },
    { keys: { ageKeyFiles: [s.world.keyFile, sopsKey] }, templates: { 'app.env': { content: 'A={{fromOp}}\nS={{fromSops}}\nF={{opThenSops}}\n' } } },
  );
  const { code, report, stderr } = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(code, 0, stderr);
  const read = (name: string) => readFileSync(join(s.world.secretsDir, name), 'utf8');
  assert.equal(read('fromAge'), 'age-value-for-the-mixed-test');
  assert.equal(read('fromSops'), 'this is a secret');
  assert.equal(read('fromOp'), s.grid.values.get(a));
  assert.equal(read('opThenSops'), 'string');
  assert.equal(read('opFirst'), s.grid.values.get(b));
  assert.equal(read('sopsThenOp'), s.grid.values.get(b));
  assert.equal(read('app.env'), `A=${s.grid.values.get(a)}\nS=this is a secret\nF=string\n`);
  const source = (name: string) => report.entries.find((e) => e.name === name)!.source;
  assert.equal(source('opThenSops'), `sops ${sops}#string`);
  assert.equal(source('sopsThenOp'), `onepassword ${b}`);
  assert.match(stderr, /opThenSops: fetched from fallback source 2/);
  // One sign-in for the run; one resolveAll per round that asked 1Password for something.
  assert.deepEqual(report.calls, { onepassword: { createClient: 1, resolveAll: 2 } });
  assert.deepEqual(calls(s.fake), ['createClient', 'resolveAll', 'resolveAll']);
});

test('materialize check: a bad reference is a configuration error at its JSON path (exit 78), and nothing is sent', async (t) => {
  const s = await setup(t, 208);
  const file = join(s.world.dir, 'bad.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      providers: { onepassword: { tokenFile: s.tokenFile } },
      secrets: {
        good: op(s.grid.references[0]!),
        badQuery: op('op://Infra/db/password?attribute=bogus'),
        emptySegment: { sources: [{ age: { file: '/nonexistent.age' } }, { onepassword: { reference: 'op://Infra//password' } }] },
      },
    }),
  );
  // An empty segment is refused when the file is loaded (no SDK needed).
  const load = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file], { env: s.fake.env });
  assert.equal(load.code, 78, load.stderr);
  assert.deepEqual(JSON.parse(load.stdout).issues, [{ path: 'secrets.emptySegment.sources[1].onepassword.reference', message: 'has an empty item segment; expected op://<vault>/<item>/[<section>/]<field>' }]);
  // A query the SDK's validator refuses is reported by check, at the same kind of path.
  const cfg = JSON.parse(readFileSync(file, 'utf8'));
  delete cfg.secrets.emptySegment;
  writeFileSync(file, JSON.stringify(cfg));
  const sdk = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file], { env: s.fake.env });
  assert.equal(sdk.code, 78, sdk.stderr);
  assert.deepEqual(JSON.parse(sdk.stdout).issues, [{ path: 'secrets.badQuery.sources[0].onepassword.reference', message: "1Password's validator refuses it: secret reference has invalid query parameter value}" }]);
  // Nothing was sent: check is local.
  assert.deepEqual(calls(s.fake), []);
  // A good configuration passes, still without a call.
  delete cfg.secrets.badQuery;
  writeFileSync(file, JSON.stringify(cfg));
  const ok = await runCli(['check', '--skip-owners', '--skip-keys', '--json', '--config', file], { env: s.fake.env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).providers, ['onepassword']);
  assert.deepEqual(calls(s.fake), []);
});

test('the shipped build ignores the test hook: it uses the real SDK (which refuses a made-up token locally)', async (t) => {
  const s = await setup(t, 209);
  s.config({ a: op(s.grid.references[0]!) });
  const r = await runCli(['apply', '--config', s.world.configFile], { env: s.fake.env, cli: PRODUCTION_CLI });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /the service account token is not valid \(createClient\)/);
  assert.deepEqual(calls(s.fake), [], 'the fake was not loaded');
  for (const f of SHIPPED_FILES) {
    assert.doesNotMatch(readFileSync(f, 'utf8'), /MATERIALIZE_TEST_ONEPASSWORD/, f);
  }
});

test('the SDK (its 14 MB WASM) is loaded by 1Password runs only: not by --version, not by an age-only run', async (t) => {
  const s = await setup(t, 210);
  const hook = new URL('../../age/helpers/record-loads.mjs', import.meta.url).href;
  const loadsOf = async (args: string[]) => {
    const loads = join(s.world.dir, `loads-${args[0]}-${Date.now()}.txt`);
    writeFileSync(loads, '');
    const r = await runCli(args, { env: { ...s.fake.env, NODE_OPTIONS: `--import ${hook}`, MATERIALIZE_TEST_LOADS: loads } });
    assert.equal(r.code, 0, r.stderr);
    return readFileSync(loads, 'utf8').split('\n').filter((u) => u.includes('/node_modules/@1password/'));
  };
  assert.deepEqual(await loadsOf(['--version']), []);
  writeConfig(s.world, { secrets: { a: { sources: [{ age: { file: encrypt(s.world, 'a.age', 'age-only-run-value') } }] } } });
  assert.deepEqual(await loadsOf(['apply', '--config', s.world.configFile]), []);
  s.config({ a: op(s.grid.references[0]!) });
  const loaded = await loadsOf(['apply', '--config', s.world.configFile]);
  assert.ok(loaded.some((u) => u.endsWith('/node_modules/@1password/sdk/dist/sdk.js')), loaded.join('\n'));
});

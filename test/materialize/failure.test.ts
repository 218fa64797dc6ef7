// Failure semantics: keep-previous (a failed secret keeps its live bytes, reported stale, exit 65,
// the others update), abort (no new generation at all), fallback sources, optional secrets, and
// templates whose secrets failed. A value is only ever carried forward from a file a run wrote.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, statuses, writeConfig, type World } from '../helpers/fixtures.js';
import { contents, snapshotLive, walk } from '../helpers/tree.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

/** Flips the last byte of an age file: the payload no longer authenticates. */
function corrupt(file: string): void {
  const data = readFileSync(file);
  data.writeUInt8(data.readUInt8(data.length - 1) ^ 0x55, data.length - 1);
  writeFileSync(file, data);
}

function world3(t: Parameters<typeof makeWorld>[0], policy: 'keep-previous' | 'abort') {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'failure-a-value-old');
  const b = encrypt(world, 'b.age', 'failure-b-value-old');
  const config = () =>
    writeConfig(world, {
      failurePolicy: policy,
      secrets: { 'db/a': { ...ageSource(a), restartUnits: ['a.service'] }, b: { ...ageSource(b), restartUnits: ['b.service'] } },
      templates: { 'a.env': { content: 'A={{db/a}}\n' }, 'b.env': { content: 'B={{ b }}\n' } },
    });
  config();
  return { world, a, b };
}

test('keep-previous: an undecryptable secret keeps its bytes (stale, exit 65) while the others update', async (t) => {
  const { world, a } = world3(t, 'keep-previous');
  assert.equal((await apply(world)).code, 0);
  corrupt(a);
  encrypt(world, 'b.age', 'failure-b-value-new');

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 65, stderr);
  assert.equal(report.exitCode, 65);
  assert.equal(report.generation, 2);
  assert.deepEqual(statuses(report), { 'db/a': 'stale', b: 'changed', 'a.env': 'stale', 'b.env': 'changed' });
  const stale = report.entries.find((e) => e.name === 'db/a')!;
  assert.match(stale.reason!, /a\.age: the payload failed authentication/);
  assert.equal(stale.source, `age ${a}`, 'still credited to the source that last delivered it');
  assert.match(report.entries.find((e) => e.name === 'a.env')!.reason!, /uses stale db\/a/);
  assert.match(stderr, /db\/a: every source failed .*keeping the value from generation 1 \(stale\)/);
  assert.deepEqual(report.units.restart, ['b.service'], 'a stale secret did not change');
  assert.deepEqual(contents(walk(world.secretsDir + '/')), {
    'db/a': 'failure-a-value-old',
    b: 'failure-b-value-new',
    'a.env': 'A=failure-a-value-old\n',
    'b.env': 'B=failure-b-value-new\n',
  });

  // Still failing: still stale, and "since" keeps the time it first failed.
  const since = JSON.parse(readFileSync(join(world.secretsDir, '.materialize.json'), 'utf8')).entries['db/a'].stale.since;
  const again = await applyJson(world);
  assert.equal(again.code, 65);
  assert.equal(JSON.parse(readFileSync(join(world.secretsDir, '.materialize.json'), 'utf8')).entries['db/a'].stale.since, since);
  const status = JSON.parse((await runCli(['status', '--json', '--config', world.configFile])).stdout);
  assert.deepEqual(status.entries.find((e: { name: string }) => e.name === 'db/a').stale.since, since);

  // Repaired: fresh again.
  encrypt(world, 'a.age', 'failure-a-value-new');
  const fixed = await applyJson(world);
  assert.equal(fixed.code, 0);
  assert.deepEqual(statuses(fixed.report), { 'db/a': 'changed', b: 'unchanged', 'a.env': 'changed', 'b.env': 'unchanged' });
  assert.equal(JSON.parse(readFileSync(join(world.secretsDir, '.materialize.json'), 'utf8')).entries['db/a'].stale, undefined);
});

test('abort: a failed secret means no new generation at all (exit 65), the live one untouched', async (t) => {
  const { world, a } = world3(t, 'abort');
  assert.equal((await apply(world)).code, 0);
  const before = snapshotLive(world.secretsDir);
  encrypt(world, 'b.age', 'failure-b-value-new');
  // Another key's file: "no identity can open it".
  const other = join(world.dir, 'other.key');
  execFileSync('age-keygen', ['-o', other], { stdio: 'pipe' });
  const recipient = /age1\S+/.exec(readFileSync(other, 'utf8'))![0];
  execFileSync('age', ['-r', recipient, '-o', a], { input: 'failure-a-value-other-key' });

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 65, stderr);
  assert.deepEqual([report.switched, report.generation, report.previousGeneration], [false, null, 1]);
  assert.deepEqual(report.units, { restart: [], reload: [] });
  assert.equal(report.entries.find((e) => e.name === 'db/a')!.status, 'failed');
  assert.equal(report.entries.find((e) => e.name === 'db/a')!.attempts![0]!.kind, 'unauthorized');
  assert.match(stderr, /failurePolicy is "abort": no new generation was made/);
  assert.deepEqual(snapshotLive(world.secretsDir), before);
  const human = await apply(world);
  assert.equal(human.code, 65);
  assert.match(human.stdout, /no new generation; .* still shows generation 1/);
  assert.match(human.stdout, /^  failed +db\/a +age: \S*a\.age: no key here opens it/m, "the provider, then the file once");
  assert.doesNotMatch(human.stdout, /removed/, 'a failed secret is not also "removed"');
  assert.match(human.stdout, /2 secrets and templates not up to date \(failed or stale\): db\/a, a\.env \(exit 65\)/);
});

test('fallback: when the first source is missing the second answers, and the report says so', async (t) => {
  const world = makeWorld(t);
  const good = encrypt(world, 'good.age', 'fallback-value-2d');
  writeConfig(world, { secrets: { s: { sources: [{ age: { file: join(world.dir, 'missing.age') } }, { age: { file: good } }] } } });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(report.entries[0]!.source, `age ${good}`);
  assert.deepEqual(report.warnings, [`s: fetched from fallback source 2 (age ${good})`]);
  assert.equal(readFileSync(join(world.secretsDir, 's'), 'utf8'), 'fallback-value-2d');
});

test('optional secrets may be absent (exit 0, reported); a template needing one fails', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 'v.age', 'optional-present-value');
  const missing = join(world.dir, 'nope.age');
  writeConfig(world, { secrets: { present: ageSource(file), maybe: { ...ageSource(missing), optional: true } } });
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  const absent = report.entries.find((e) => e.name === 'maybe')!;
  assert.equal(absent.status, 'absent');
  assert.match(absent.reason!, /nope\.age does not exist/);
  assert.deepEqual(Object.keys(contents(walk(world.secretsDir + '/'))), ['present']);

  // Present once, then gone again: its file goes away, and its units restart as for a removal.
  writeConfig(world, { secrets: { present: ageSource(file), maybe: { ...ageSource(missing), optional: true, restartUnits: ['maybe.service'] } } });
  encrypt(world, '../nope.age', 'optional-sometimes-value');
  assert.equal(statuses((await applyJson(world)).report).maybe, 'added');
  rmSync(missing);
  const gone = await applyJson(world);
  assert.equal(gone.code, 0);
  assert.deepEqual(statuses(gone.report), { present: 'unchanged', maybe: 'absent' });
  assert.deepEqual(gone.report.units.restart, ['maybe.service']);

  writeConfig(world, { secrets: { present: ageSource(file), maybe: { ...ageSource(missing), optional: true } }, templates: { t: { content: '{{maybe}}' } } });
  const withTemplate = await applyJson(world);
  assert.equal(withTemplate.code, 65);
  assert.equal(statuses(withTemplate.report).t, 'failed');
});

test('a template whose secret failed: kept stale with keep-previous, failed without a previous rendering', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'template-secret-value-1');
  writeConfig(world, { secrets: { a: ageSource(a) }, templates: { t: { content: 'X={{a}}' } } });
  corrupt(a);
  const first = await applyJson(world);
  assert.equal(first.code, 65);
  assert.deepEqual(statuses(first.report), { a: 'failed', t: 'failed' });
  assert.match(first.report.entries.find((e) => e.name === 't')!.reason!, /uses a, which could not be fetched/);
  assert.equal(first.report.generation, 1, 'keep-previous still publishes what it has');
  assert.deepEqual(contents(walk(world.secretsDir + '/')), {});

  encrypt(world, 'a.age', 'template-secret-value-2');
  assert.equal((await apply(world)).code, 0);
  corrupt(a);
  const third = await applyJson(world);
  assert.equal(third.code, 65);
  assert.deepEqual(statuses(third.report), { a: 'stale', t: 'stale' });
  assert.equal(readFileSync(join(world.secretsDir, 't'), 'utf8'), 'X=template-secret-value-2');
});

function plant(world: World, name: string, target: string): void {
  const path = join(readlinkSync(world.secretsDir), name);
  rmSync(path, { recursive: true, force: true });
  symlinkSync(target, path);
}

test('keep-previous never carries forward what a symlink planted in the live generation points to', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'planted-a-value-real');
  const b = encrypt(world, 'b.age', 'planted-b-value-real');
  writeConfig(world, { secrets: { a: { ...ageSource(a), restartUnits: ['a.service'] }, 'dir/b': ageSource(b) } });
  assert.equal((await apply(world)).code, 0);
  // Someone replaces the live file, and a directory above another one, with symlinks to elsewhere.
  writeFileSync(join(world.dir, 'shadow'), 'root:not-a-secret-but-not-yours');
  mkdirSync(join(world.dir, 'outside'));
  writeFileSync(join(world.dir, 'outside/b'), 'outside-b-content');
  plant(world, 'a', join(world.dir, 'shadow'));
  plant(world, 'dir', join(world.dir, 'outside'));
  corrupt(a);
  corrupt(b);
  const { code, report } = await applyJson(world);
  assert.equal(code, 65);
  assert.deepEqual(statuses(report), { a: 'failed', 'dir/b': 'failed' });
  assert.deepEqual(report.units, { restart: [], reload: [] }, 'a failed secret restarts nothing');
  assert.deepEqual(walk(world.secretsDir + '/'), walk(join(world.mountPoint, '2')));
  assert.deepEqual(Object.keys(walk(world.secretsDir + '/')), ['.materialize.json'], 'nothing carried forward');
});

test('mixed failures exit with the most telling code: 74 before 75 before 65', async (t) => {
  const world = makeWorld(t);
  const bad = encrypt(world, 'bad.age', 'precedence-value-corrupt');
  corrupt(bad);
  // A source that cannot be read for a reason other than absence or permission: "unavailable".
  const loop = join(world.dir, 'loop.age');
  symlinkSync(loop, loop);
  const secrets = { corrupt: ageSource(bad), loop: ageSource(loop) };
  writeConfig(world, { secrets });
  const fetchOnly = await applyJson(world);
  assert.equal(fetchOnly.code, 75, fetchOnly.stderr);
  assert.deepEqual(fetchOnly.report.entries.map((e) => e.attempts?.[0]?.kind), ['corrupt', 'unavailable']);

  // A custom path under a regular file (a file in the way of a custom path is moved aside, but one
  // in the way of a directory on its way is not).
  writeFileSync(join(world.dir, 'in-the-way'), 'a file');
  const good = encrypt(world, 'good.age', 'precedence-value-good');
  writeConfig(world, { secrets: { ...secrets, linked: { ...ageSource(good), path: join(world.dir, 'in-the-way/token') } } });
  const withPath = await applyJson(world);
  assert.equal(withPath.code, 74, withPath.stderr);
  assert.equal(withPath.report.exitCode, 74);
});

test('keep-previous never carries forward a live file its owner rewrote', async (t) => {
  const { world, a } = world3(t, 'keep-previous');
  assert.equal((await apply(world)).code, 0);
  // The owner of db/a (here the running user) makes it writable and rewrites it, then the source fails.
  const live = join(readlinkSync(world.secretsDir), 'db/a');
  chmodSync(live, 0o600);
  writeFileSync(live, 'planted-by-the-owner-line\nLD_PRELOAD=/tmp/x.so\n');
  chmodSync(live, 0o400);
  registerSecretValues('planted-by-the-owner-line');
  corrupt(a);
  const { code, report } = await applyJson(world);
  assert.equal(code, 65);
  // db/a is not carried forward; a.env's own rendering (written by materialize, untouched) is.
  assert.deepEqual(statuses(report), { 'db/a': 'failed', b: 'unchanged', 'a.env': 'stale', 'b.env': 'unchanged' });
  assert.match(report.entries.find((e) => e.name === 'db/a')!.reason!, /not kept: the file in generation 1 is not what materialize wrote there/);
  assert.ok(!existsSync(join(world.secretsDir, 'db/a')), 'the rewritten file does not reach the new generation');
  assert.equal(readFileSync(join(world.secretsDir, 'a.env'), 'utf8'), 'A=failure-a-value-old\n');
});

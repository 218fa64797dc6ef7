// Runs at once: serialized by the lock beside the mount point, every run succeeds, the final
// generation is the last run's, and nothing is left (no lock, no temp dirs). A lock left by a
// killed run is taken over at once, wherever the kill landed (a lock directory is born holding its
// owner record); a lock held by a live run makes a waiter give up with exit 75.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, REPO, assertNoSecretValues, runCli } from '../helpers/cli.js';
import { acquireLock } from '../../src/materialize/lock.js';
import { silentLogger } from '../../src/log.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { contents, entries, mountEntries, walk } from '../helpers/tree.js';
import { seededRandom, testSeed } from '../helpers/random.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

const leftovers = (world: World) => entries(join(world.dir, 'run')).filter((n) => n !== 'secrets' && n !== 'secrets.d');

test('concurrent runs all succeed, one after the other, and the last one wins', async (t) => {
  const world = makeWorld(t);
  const files = ['one', 'two'].map((v) => encrypt(world, `${v}.age`, `concurrent-value-${v}`));
  const configs = files.map((f, i) => writeConfig(world, { keepGenerations: 0, secrets: { 'a/s': ageSource(f), t: ageSource(files[1 - i]!) } }, join(world.dir, `c${i}.json`)));
  let generation = 0;
  for (let round = 0; round < 2; round++) {
    const runs = await Promise.all([0, 1, 0, 1].map((i) => runCli(['apply', '--json', '--config', configs[i]!]).then((r) => ({ i, r }))));
    const reports = runs.map(({ i, r }) => {
      assert.equal(r.code, 0, r.stderr);
      return { i, report: JSON.parse(r.stdout) as { generation: number; previousGeneration: number | null } };
    });
    const numbers = reports.map((x) => x.report.generation).sort((a, b) => a - b);
    assert.deepEqual(numbers, [1, 2, 3, 4].map((n) => n + generation), 'each run made its own generation');
    for (const { report } of reports) assert.equal(report.previousGeneration, report.generation === 1 ? null : report.generation - 1, 'each saw the one before it');
    generation += 4;
    const last = reports.find((x) => x.report.generation === generation)!;
    assert.deepEqual(contents(walk(world.secretsDir + '/')), { 'a/s': `concurrent-value-${last.i === 0 ? 'one' : 'two'}`, t: `concurrent-value-${last.i === 0 ? 'two' : 'one'}` });
    assert.deepEqual(leftovers(world), [], 'no lock, no owner file, no temp link');
    assert.deepEqual(mountEntries(world.mountPoint).filter((n) => !/^\d+$/.test(n)), []);
  }
});

test('a lock left by a killed run is taken over at once', async (t) => {
  const world = makeWorld(t);
  writeConfig(world, { secrets: { s: ageSource(encrypt(world, 's.age', 'killed-holder-value')) } });
  assert.equal((await apply(world)).code, 0);
  const count = Number(/(\d+) checkpoints/.exec((await runCli(['apply', '--config', world.configFile], { env: { MATERIALIZE_CRASH_AT: '999999' } })).stderr)![1]);
  const killed = await runCli(['apply', '--config', world.configFile], { env: { MATERIALIZE_CRASH_AT: String(count) } });
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(leftovers(world), ['secrets.d.lock'], 'the killed run held the lock');
  assert.deepEqual(entries(`${world.mountPoint}.lock`), ['owner'], 'with its owner record inside');
  const next = await apply(world, ['--lock-timeout', '30']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /took over the run lock of a process that no longer exists/);
  assert.deepEqual(leftovers(world), []);
});

/**
 * Starts a run that holds the lock until `release()`: it replaces a live secret whose unit must
 * restart, and its `systemctl` (a fake first on PATH) waits for a release file. Units run while
 * the run still holds the lock, after its switch.
 */
async function holder(world: World) {
  const bin = join(world.dir, 'holding-bin');
  const started = join(world.dir, 'systemctl-started');
  const release = join(world.dir, 'release');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\ntouch '${started}'\nwhile [ ! -e '${release}' ]; do sleep 0.02; done\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  const changed = encrypt(world, 'changed.age', 'live-holder-value-2');
  writeConfig(world, { secrets: { s: { ...ageSource(changed), restartUnits: ['hold.service'] } } }, join(world.dir, 'holder.json'));
  const run = runCli(['apply', '--config', join(world.dir, 'holder.json'), '--units', 'yes'], { env: { PATH: `${bin}:${process.env.PATH}` } });
  while (!existsSync(started)) await sleep(20);
  return {
    run,
    release: async () => {
      writeFileSync(release, '');
      return run;
    },
  };
}

test('a run waits for a live holder, or gives up after --lock-timeout with exit 75', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 's.age', 'live-holder-value');
  writeConfig(world, { secrets: { s: ageSource(file) } });
  assert.equal((await apply(world)).code, 0, 'a live generation whose secret the holder changes');
  const held = await holder(world);
  const gaveUp = await apply(world, ['--lock-timeout', '0.5']);
  assert.equal(gaveUp.code, 75, gaveUp.stderr);
  assert.match(gaveUp.stderr, /another materialize run holds .*secrets\.d\.lock; gave up after/);
  // A waiter, spawned directly so the holder is released only once it says it is waiting.
  const waiter = spawn(process.execPath, [CLI, 'apply', '--config', world.configFile, '--lock-timeout', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const raw: Buffer[] = [];
  waiter.stdout.on('data', (d: Buffer) => raw.push(d));
  let err = '';
  const exited = new Promise<number | null>((resolve) => waiter.on('close', resolve));
  await new Promise<void>((resolve) => waiter.stderr.on('data', (d: Buffer) => (raw.push(d), (err += d), err.includes('waiting for another materialize run') && resolve())));
  const first = await held.release();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await exited, 0, err);
  assertNoSecretValues(Buffer.concat(raw), 'waiting run');
  assert.deepEqual(mountEntries(world.mountPoint), ['3'], 'the waiter made generation 3 after the holder\'s 2');
  assert.deepEqual(leftovers(world), []);
});

test('a run whose lock was taken while it worked switches nothing, and leaves the new holder its lock', async (t) => {
  const world = makeWorld(t);
  const one = encrypt(world, 'one.age', 'taken-lock-value-1');
  const two = encrypt(world, 'two.age', 'taken-lock-value-2');
  writeConfig(world, { secrets: { s: ageSource(one) } });
  assert.equal((await apply(world)).code, 0);
  writeConfig(world, { secrets: { s: ageSource(two) } });
  // Checkpoints: 1 after the generation dir is made, 2 after the file, 3 after the manifest.
  const child = spawn(process.execPath, [CLI, 'apply', '--config', world.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MATERIALIZE_STOP_AT: '3' } });
  let err = '';
  const raw: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => (raw.push(d), (err += d)));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Wait until it has stopped itself (state T in /proc), its generation built but not published.
  while (!/^State:\s+T/m.test(readFileSync(`/proc/${child.pid}/status`, 'utf8'))) await sleep(10);
  // Another run takes the lock, as proper-lockfile's stale takeover would: a new directory, its owner record inside.
  const lockDir = `${world.mountPoint}.lock`;
  rmSync(lockDir, { recursive: true });
  mkdirSync(lockDir);
  const thief = JSON.stringify({ pid: 1, ns: 'elsewhere', boot: 'elsewhere', token: 'theirs' });
  writeFileSync(join(lockDir, 'owner'), thief);
  process.kill(child.pid!, 'SIGCONT');
  assert.equal(await exited, 75, err);
  assert.match(err, /the run lock .* was taken by another process; this run switched nothing/);
  assertNoSecretValues(Buffer.concat(raw), 'the run that lost its lock');
  assert.equal(readFileSync(join(world.secretsDir, 's'), 'utf8'), 'taken-lock-value-1', 'the live generation is untouched');
  assert.ok(existsSync(lockDir), "the new holder's lock directory is left alone");
  assert.equal(readFileSync(join(lockDir, 'owner'), 'utf8'), thief, 'and so is its owner record');
  // Once the new holder is gone, the next run cleans up and applies.
  rmSync(lockDir, { recursive: true });
  const next = await apply(world);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(readFileSync(join(world.secretsDir, 's'), 'utf8'), 'taken-lock-value-2');
  assert.deepEqual(mountEntries(world.mountPoint).filter((n) => !/^\d+$/.test(n)), []);
});

/**
 * A process that takes and releases the lock in a tight loop, through the real acquireLock, so a
 * kill at a random instant lands anywhere in the protocol: staging, rename, probe, release.
 */
const LOOPER = `
import { acquireLock } from ${JSON.stringify(join(REPO, 'src/materialize/lock.ts'))};
import { silentLogger } from ${JSON.stringify(join(REPO, 'src/log.ts'))};

const log = silentLogger();
process.stdout.write('ready\\n');
for (;;) {
  const lock = await acquireLock(process.argv[2], { timeoutMs: 60_000, log });
  lock.verify();
  await lock.release();
}
`;

test('a run killed anywhere in taking or releasing the lock never leaves one that makes the next run wait', { timeout: 180_000 }, async (t) => {
  const world = makeWorld(t);
  const script = join(world.dir, 'looper.mts');
  writeFileSync(script, LOOPER);
  const target = join(world.dir, 'run', 'secrets.d');
  const log = silentLogger();
  let heldAtKill = 0;
  const random = seededRandom(21);
  for (let round = 0; round < 40; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, target], { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await sleep(5 + random() * 40);
    const closed = new Promise((resolve) => child.on('close', resolve));
    child.kill('SIGKILL');
    await closed;
    if (existsSync(`${target}.lock`)) {
      heldAtKill++;
      assert.deepEqual(entries(`${target}.lock`), ['owner'], `round ${round}: a lock directory always holds its owner record`);
    }
    // The dead looper's lock, whatever state it was in, is taken at once (a 120 s stale wait would time out here).
    const lock = await acquireLock(target, { timeoutMs: 2000, log });
    assert.deepEqual(entries(join(world.dir, 'run')).filter((n) => n.startsWith('secrets.d.lock')), ['secrets.d.lock'], `round ${round}: only the lock, no staging or removal directories`);
    await lock.release();
    assert.deepEqual(entries(join(world.dir, 'run')).filter((n) => n.startsWith('secrets.d.lock')), [], `round ${round}: released`);
  }
  t.diagnostic(`seed ${testSeed}: 40 kills, ${heldAtKill} of them while the looper held or was taking the lock`);
  assert.ok(heldAtKill >= 2, 'kills must land while the lock is held (else this test proves nothing)');
});

test('side directories of killed runs are swept; those of live processes are not', async (t) => {
  const world = makeWorld(t);
  const target = join(world.dir, 'run', 'secrets.d');
  mkdirSync(join(world.dir, 'run'), { recursive: true });
  const log = silentLogger();
  // A pid that is certainly gone: a child that has exited and been reaped.
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => dead.on('close', resolve));
  for (const kind of ['new', 'reap', 'gone']) {
    mkdirSync(`${target}.lock.${kind}-${dead.pid}-abc123`);
    writeFileSync(`${target}.lock.${kind}-${dead.pid}-abc123/owner`, '{}');
  }
  mkdirSync(`${target}.lock.new-1-def456`); // pid 1 is alive: a contender still staging its lock
  const lock = await acquireLock(target, { timeoutMs: 2000, log });
  await lock.release();
  assert.deepEqual(entries(join(world.dir, 'run')), ['secrets.d.lock.new-1-def456']);
});

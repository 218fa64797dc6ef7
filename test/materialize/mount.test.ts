// The mount point and secretsDir's directory under stress: tmpfs mounts, a full file system, a
// read-only mount point, a read-only directory for the symlink. Each failure is a clean I/O error
// (exit 74, no stack trace) and the live generation stays exactly as it was.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { randomBytes } from '../age/helpers/tools.js';
import { mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { mount, mountsAt, remount } from '../helpers/mounts.js';
import { entries, mountEntries, snapshotLive } from '../helpers/tree.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

function assertCleanIoError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 74, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at \S+ \(/, 'no stack trace, not a bug report');
}

function twoValues(world: World, config: Record<string, unknown>) {
  const a = encrypt(world, 'a.age', 'mount-test-value-a');
  const b = encrypt(world, 'b.age', 'mount-test-value-b');
  writeConfig(world, { ...config, secrets: { s: ageSource(a) } });
  return () => writeConfig(world, { ...config, secrets: { s: ageSource(b) } });
}

test('mount "tmpfs" is mounted nodev,nosuid,noexec, once', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  twoValues(world, { mount: 'tmpfs' });
  assert.equal((await apply(world)).code, 0);
  assert.equal((await apply(world)).code, 0);
  const [m, ...more] = mountsAt(world.mountPoint);
  assert.equal(more.length, 0, 'not stacked');
  assert.equal(m!.fsType, 'tmpfs');
  for (const o of ['nodev', 'nosuid', 'noexec']) assert.ok(m!.options.includes(o));
  assert.ok(m!.superOptions.includes('mode=751'), m!.superOptions.join(','));
});

test('a full mount point: exit 74, the half-built generation removed, the live one untouched', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  mkdirSync(world.mountPoint, { recursive: true });
  mount('tmpfs', world.mountPoint, 'size=256k,mode=0751');
  const small = encrypt(world, 'small.age', 'small-value-before-full');
  writeConfig(world, { mount: 'tmpfs', secrets: { s: ageSource(small) } });
  assert.equal((await apply(world)).code, 0);
  const before = snapshotLive(world.secretsDir);

  const big = encrypt(world, 'big.age', randomBytes(300 * 1024).toString('base64'));
  writeConfig(world, { mount: 'tmpfs', secrets: { s: ageSource(small), big: ageSource(big) } });
  const r = await apply(world);
  assertCleanIoError(r, /cannot write .*\/big: ENOSPC/);
  assert.deepEqual(snapshotLive(world.secretsDir), before);
  assert.deepEqual(mountEntries(world.mountPoint), ['1'], 'no temporary generation left');
  assert.deepEqual(entries(join(world.dir, 'run')), ['secrets', 'secrets.d'], 'no lock left');
});

test('a read-only mount point: exit 74, the live generation untouched; the next run recovers', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const change = twoValues(world, { mount: 'ramfs' });
  assert.equal((await apply(world)).code, 0);
  const before = snapshotLive(world.secretsDir);
  remount(world.mountPoint, 'ro');
  change();
  assertCleanIoError(await apply(world), /secrets\.d.*EROFS/);
  assert.deepEqual(snapshotLive(world.secretsDir), before);
  remount(world.mountPoint, 'rw');
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.equal(report.generation, 2);
});

test('a read-only directory for the secretsDir symlink: exit 74, the symlink untouched; the next run cleans up', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const pub = join(world.dir, 'pub');
  mkdirSync(pub);
  mount('ramfs', pub, 'mode=0755');
  world.secretsDir = join(pub, 'secrets');
  const change = twoValues(world, { mount: 'ramfs' });
  assert.equal((await apply(world)).code, 0);
  const before = snapshotLive(world.secretsDir);
  remount(pub, 'ro');
  change();
  assertCleanIoError(await apply(world), /cannot switch .*secrets.*EROFS/);
  assert.deepEqual(snapshotLive(world.secretsDir), before);
  remount(pub, 'rw');
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.deepEqual(report.cleaned, [join(world.mountPoint, '2')], 'the generation that never went live');
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '2'));
});

test('secretsDir under a read-only directory that does not exist yet: exit 74, not an internal error', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const ro = join(world.dir, 'ro');
  mkdirSync(ro);
  mount('ramfs', ro, 'ro');
  world.secretsDir = join(ro, 'sub/secrets');
  twoValues(world, { mount: 'ramfs' });
  assertCleanIoError(await apply(world), /sub.*EROFS/);
  assert.deepEqual(entries(ro), []);
});

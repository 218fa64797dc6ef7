// Runs as an ordinary user (spawned with another uid by the root test): mount "none" works and
// owns what it writes; a ramfs mount or another owner is refused up front with exit 77.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { entries } from '../helpers/tree.js';
import { createUser } from '../helpers/users.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

function unprivilegedWorld(t: Parameters<typeof makeWorld>[0]) {
  const world = makeWorld(t);
  const user = createUser(t);
  chmodSync(world.dir, 0o755);
  chownSync(world.keyFile, user.uid, user.gid);
  mkdirSync(join(world.dir, 'run'));
  chownSync(join(world.dir, 'run'), user.uid, user.gid);
  const file = encrypt(world, 'v.age', 'unprivileged-value-42');
  chmodSync(join(world.dir, 'src'), 0o755);
  chmodSync(file, 0o644);
  const as = { uid: user.uid, gid: user.gid, env: { HOME: world.dir } };
  return { world, user, file, as };
}

test('an ordinary user with mount "none" gets files it owns', { skip: ROOT_SKIP }, async (t) => {
  const { world, user, file, as } = unprivilegedWorld(t);
  const link = join(world.dir, 'run/home/s');
  writeConfig(world, { secrets: { 'a/s': { ...ageSource(file), mode: '0440', path: link } } });
  const r = await apply(world, [], as);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readlinkSync(link), join(world.secretsDir, 'a/s'));
  assert.equal(lstatSync(link).uid, user.uid, 'its own link, made without lchown');
  const st = lstatSync(join(world.secretsDir, 'a/s'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [user.uid, user.gid, 0o440]);
  assert.equal(lstatSync(join(world.secretsDir, 'a')).mode & 0o777, 0o751);
  assert.equal(readFileSync(join(world.secretsDir, 'a/s'), 'utf8'), 'unprivileged-value-42');
});

test('an ordinary user asking for a ramfs, or for another owner, is refused with exit 77 before anything is written', { skip: ROOT_SKIP }, async (t) => {
  const { world, as, file } = unprivilegedWorld(t);
  writeConfig(world, { mount: 'ramfs', secrets: { s: ageSource(file) } });
  const ramfs = await apply(world, [], as);
  assert.equal(ramfs.code, 77, ramfs.stderr);
  assert.match(ramfs.stderr, /mounting ramfs at .* needs root; run as root, or set "mount": "none"/);

  writeConfig(world, { secrets: { s: { ...ageSource(file), owner: 'root' }, t: { ...ageSource(file), group: 0 } } });
  const owner = await apply(world, [], as);
  assert.equal(owner.code, 77, owner.stderr);
  assert.match(owner.stderr, /cannot give s, t to another owner or group; run as root, or remove owner\/group/);
  assert.deepEqual(entries(join(world.dir, 'run')), [], 'no lock, no mount point, no generation');
});

test('an ordinary user whose mount point lies in a directory it cannot write: exit 77, not "retry later"', { skip: ROOT_SKIP }, async (t) => {
  const { world, as, file } = unprivilegedWorld(t);
  mkdirSync(join(world.dir, 'root-only'), { mode: 0o755 });
  for (const mountPoint of [join(world.dir, 'root-only/secrets.d'), join(world.dir, 'root-only/deeper/secrets.d')]) {
    writeConfig(world, { mountPoint, secrets: { s: ageSource(file) } });
    const r = await apply(world, [], as);
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /cannot take the run lock .*: permission denied/);
  }
  assert.deepEqual(entries(join(world.dir, 'root-only')), []);
});

// Owners, groups and modes on a real ramfs with real users: by name, by number (with and without a
// passwd entry), nested names with 0751 directories owned root:keys (or root when there is no keys
// group), and the mount itself (type and options read back from /proc/self/mountinfo).
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, applyJson, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { mountsAt } from '../helpers/mounts.js';
import { walk } from '../helpers/tree.js';
import { createGroup, createUser, groupId, privateGroupFile, unusedId } from '../helpers/users.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

test('owners, groups and modes by name and by number, on a ramfs the program mounts', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const alice = createUser(t);
  const bob = createUser(t);
  const staff = createGroup(t);
  const ghost = unusedId();
  const file = encrypt(world, 'v.age', 'ownership-value-7f3a');
  const secrets = {
    'by-name': { ...ageSource(file), owner: alice.name },
    'by-uid': { ...ageSource(file), owner: bob.uid, mode: '0440' },
    'by-uid-string': { ...ageSource(file), owner: String(bob.uid), mode: '440' },
    ghost: { ...ageSource(file), owner: ghost, group: ghost, mode: '0600' },
    'ghost-own-group': { ...ageSource(file), owner: String(ghost) },
    'group-by-name': { ...ageSource(file), owner: alice.name, group: staff.name, mode: '0640' },
    'group-by-gid': { ...ageSource(file), group: staff.gid, mode: '0040' },
    default: ageSource(file),
    'a/b/c': { ...ageSource(file), owner: alice.name, mode: '0400' },
  };
  writeConfig(world, { mount: 'ramfs', secrets });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);

  const [mount, ...more] = mountsAt(world.mountPoint);
  assert.equal(more.length, 0);
  assert.equal(mount!.fsType, 'ramfs');
  for (const o of ['nodev', 'nosuid', 'noexec']) assert.ok(mount!.options.includes(o), `${o} in ${mount!.options.join(',')}`);

  const keys = groupId('keys') ?? 0;
  const tree = walk(world.mountPoint);
  const gen = (name: string) => tree[`1/${name}`]!;
  const expect = (name: string, uid: number, gid: number, mode: string) => {
    const s = gen(name);
    assert.deepEqual([s.type, s.uid, s.gid, s.mode], ['file', uid, gid, mode], name);
    assert.equal(readFileSync(join(world.secretsDir, name), 'utf8'), 'ownership-value-7f3a');
  };
  expect('by-name', alice.uid, alice.gid, '0400');
  expect('by-uid', bob.uid, bob.gid, '0440');
  expect('by-uid-string', bob.uid, bob.gid, '0440');
  expect('ghost', ghost, ghost, '0600');
  expect('ghost-own-group', ghost, 0, '0400'); // no passwd entry: the running user's group
  expect('group-by-name', alice.uid, staff.gid, '0640');
  expect('group-by-gid', 0, staff.gid, '0040');
  expect('default', 0, 0, '0400');
  expect('a/b/c', alice.uid, alice.gid, '0400');
  for (const dir of ['1', '1/a', '1/a/b']) assert.deepEqual([tree[dir]!.type, tree[dir]!.uid, tree[dir]!.gid, tree[dir]!.mode], ['dir', 0, keys, '0751'], dir);
  assert.deepEqual([tree['1/.materialize.json']!.uid, tree['1/.materialize.json']!.gid, tree['1/.materialize.json']!.mode], [0, keys, '0640'], 'manifest');
  const root = walk(join(world.dir, 'run'))['secrets.d']!;
  assert.deepEqual([root.uid, root.gid, root.mode], [0, keys, '0751'], 'the mount point itself');

  const ghostEntry = report.entries.find((e) => e.name === 'ghost')!;
  assert.deepEqual([ghostEntry.owner, ghostEntry.group, ghostEntry.uid, ghostEntry.gid], [String(ghost), String(ghost), ghost, ghost], 'ids without a name are shown as numbers');
  const named = report.entries.find((e) => e.name === 'group-by-name')!;
  assert.deepEqual([named.owner, named.group, named.mode], [alice.name, staff.name, '0640']);

  // An owner change alone makes a changed file in the next generation, owned anew.
  writeConfig(world, { mount: 'ramfs', secrets: { ...secrets, default: { ...ageSource(file), owner: alice.name } } });
  const second = await applyJson(world);
  assert.equal(second.code, 0);
  const changed = second.report.entries.find((e) => e.name === 'default')!;
  assert.deepEqual([changed.status, changed.aspects], ['changed', ['owner', 'group']]);
  assert.deepEqual([walk(world.secretsDir + '/')['default']!.uid], [alice.uid]);
});

// The `keys` group exists only in the /etc/group of the run's own mount namespace: the test never
// creates a system-wide group (which would change what a suite running beside it sees), and a
// `keys` group left on the machine changes nothing here. (No ramfs: a mount made inside the
// namespace would vanish with it; the ownership of directories does not depend on the mount.)
for (const present of [true, false]) {
  test(`generation directories are owned root:${present ? 'keys when a keys group exists' : 'root when there is none'}`, { skip: ROOT_SKIP }, async (t) => {
    const world = makeWorld(t);
    const gid = unusedId();
    const groupFile = privateGroupFile(t, present ? [`keys:x:${gid}:`] : []);
    writeConfig(world, { mount: 'none', secrets: { 'x/y': ageSource(encrypt(world, 'v.age', 'keys-group-value-19c2')) } });
    const { code, stderr } = await applyJson(world, [], { groupFile });
    assert.equal(code, 0, stderr);
    const tree = walk(world.mountPoint);
    for (const dir of ['1', '1/x']) assert.deepEqual([tree[dir]!.uid, tree[dir]!.gid, tree[dir]!.mode], [0, present ? gid : 0, '0751'], dir);
    assert.equal(tree['1/x/y']!.gid, 0, 'files keep their own group');
  });
}

// Custom paths: a symlink to secretsDir/<name> (so it follows every switch), lchowned to the
// secret's owner; removed when its secret goes away unless it no longer points at us; never created
// through a symlink another user controls, never over a file that is in the way.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, statuses, writeConfig } from '../helpers/fixtures.js';
import { entries, liveNumber } from '../helpers/tree.js';
import { createUser } from '../helpers/users.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

test('a custom path is a symlink to secretsDir/<name>, lchowned to the owner, following every switch', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const alice = createUser(t);
  const path = join(world.dir, 'home/alice/.config/app/token');
  const secret = (value: string) => ({ ...ageSource(encrypt(world, `v${value.at(-1)}.age`, value)), owner: alice.name, path });
  writeConfig(world, { secrets: { 'app/token': secret('custom-path-value-1') } });
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.deepEqual(report.paths.linked, [path]);
  assert.equal(readlinkSync(path), join(world.secretsDir, 'app/token'));
  const st = lstatSync(path);
  assert.deepEqual([st.isSymbolicLink(), st.uid, st.gid], [true, alice.uid, alice.gid]);
  assert.equal(lstatSync(join(world.dir, 'home/alice/.config')).mode & 0o777, 0o755, 'created parents are traversable');
  assert.equal(readFileSync(path, 'utf8'), 'custom-path-value-1');

  writeConfig(world, { secrets: { 'app/token': secret('custom-path-value-2') } });
  assert.equal((await apply(world)).code, 0);
  assert.equal(readFileSync(path, 'utf8'), 'custom-path-value-2', 'the same link now shows the new generation');
  assert.deepEqual(entries(join(world.dir, 'home/alice/.config/app')), ['token'], 'no temporary link left');
});

test('symlinks of secrets that went away are removed; one that points elsewhere now is left alone', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 'v.age', 'stale-link-value-3c');
  const links = join(world.dir, 'links');
  writeConfig(world, {
    secrets: {
      gone: { ...ageSource(file), path: join(links, 'gone') },
      repointed: { ...ageSource(file), path: join(links, 'repointed') },
      moved: { ...ageSource(file), path: join(links, 'moved-a') },
      kept: { ...ageSource(file), path: join(links, 'kept') },
    },
  });
  assert.equal((await apply(world)).code, 0);
  assert.deepEqual(entries(links), ['gone', 'kept', 'moved-a', 'repointed']);
  // An administrator points one of them elsewhere by hand: it is theirs now.
  writeFileSync(join(world.dir, 'elsewhere'), 'not ours');
  symlinkSync(join(world.dir, 'elsewhere'), join(links, 'repointed.new'));
  renameSync(join(links, 'repointed.new'), join(links, 'repointed'));

  writeConfig(world, { secrets: { moved: { ...ageSource(file), path: join(links, 'moved-b') }, kept: { ...ageSource(file), path: join(links, 'kept') } } });
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.deepEqual(report.paths.removed.sort(), [join(links, 'gone'), join(links, 'moved-a')]);
  assert.deepEqual(entries(links), ['kept', 'moved-b', 'repointed']);
  assert.equal(readlinkSync(join(links, 'repointed')), join(world.dir, 'elsewhere'));
  assert.equal(readlinkSync(join(links, 'moved-b')), join(world.secretsDir, 'moved'));
  assert.deepEqual(statuses(report), { moved: 'unchanged', kept: 'unchanged', gone: 'removed', repointed: 'removed' });
});

test('a file, directory or foreign symlink at a custom path is moved aside (same inode, same bytes), reported, and replaced; restored by hand byte for byte', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 'v.age', 'in-the-way-value-88');
  const etc = join(world.dir, 'etc');
  mkdirSync(join(etc, 'dir/sub'), { recursive: true });
  writeFileSync(join(etc, 'dir/sub/inner'), 'inner');
  const precious = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256)); // every byte value, binary
  writeFileSync(join(etc, 'file'), precious);
  chmodSync(join(etc, 'file'), 0o640);
  const before = lstatSync(join(etc, 'file'));
  symlinkSync('/nonexistent/elsewhere', join(etc, 'foreign'));
  const paths = { a: join(etc, 'file'), b: join(etc, 'dir'), c: join(etc, 'c'), d: join(etc, 'foreign') };
  writeConfig(world, { secrets: Object.fromEntries(Object.entries(paths).map(([n, path]) => [n, { ...ageSource(file), path }])) });

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.deepEqual(report.paths.linked.sort(), Object.values(paths).sort());
  assert.deepEqual(report.paths.errors, []);
  const moved = Object.fromEntries(report.displaced.map((d) => [d.path, d]));
  assert.deepEqual(Object.keys(moved).sort(), [paths.b, paths.a, paths.d].sort());
  assert.deepEqual([moved[paths.a]!.what, moved[paths.b]!.what, moved[paths.d]!.what], ['file', 'directory', 'symlink']);
  for (const d of report.displaced) {
    assert.match(d.to, new RegExp(`^${d.path.replace(/[.]/g, '\\.')}\\.materialize-displaced-\\d{8}T\\d{6}Z$`));
    assert.match(stderr, new RegExp(`warning: moved aside ${d.path} \\(a ${d.what} that was in the way\\) to ${d.to}`));
    assert.equal(readlinkSync(d.path), join(world.secretsDir, Object.entries(paths).find(([, p]) => p === d.path)![0]));
  }
  const aside = lstatSync(moved[paths.a]!.to);
  assert.deepEqual([aside.ino, aside.mode, aside.uid], [before.ino, before.mode, before.uid], 'moved, not copied: same inode, mode, owner');
  assert.equal(readFileSync(join(moved[paths.b]!.to, 'sub/inner'), 'utf8'), 'inner');
  assert.equal(readlinkSync(moved[paths.d]!.to), '/nonexistent/elsewhere');
  assert.doesNotMatch(stderr, /in-the-way-value/);

  // The administrator wants the file back: drop the custom path, and move it back by hand.
  writeConfig(world, { secrets: { c: { ...ageSource(file), path: paths.c } } });
  const next = await applyJson(world);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(next.report.paths.removed.sort(), [paths.a, paths.b, paths.d].sort(), 'our links go; nothing else');
  assert.deepEqual(next.report.displaced, []);
  renameSync(moved[paths.a]!.to, paths.a);
  assert.ok(readFileSync(paths.a).equals(precious), 'byte for byte');
  assert.equal(lstatSync(paths.a).mode & 0o777, 0o640);
  assert.deepEqual(entries(etc).filter((n) => !n.includes('displaced')), ['c', 'file']);
});

test('a symlink owned by another user in a custom path is never followed', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const mallory = createUser(t);
  const file = encrypt(world, 'v.age', 'planted-parent-value-51');
  // mallory's home, with a symlink of hers into a directory she wants root to write in.
  const home = join(world.dir, 'home/mallory');
  const target = join(world.dir, 'etc-victim');
  mkdirSync(home, { recursive: true });
  mkdirSync(target);
  chmodSync(world.dir, 0o755);
  chownSync(home, mallory.uid, mallory.gid);
  symlinkSync(target, join(home, 'config'));
  lchownSync(join(home, 'config'), mallory.uid, mallory.gid);
  // …and a symlink of hers where the final link goes, pointing at a file she wants replaced.
  writeFileSync(join(world.dir, 'victim-file'), 'victim');
  symlinkSync(join(world.dir, 'victim-file'), join(home, 'direct'));
  lchownSync(join(home, 'direct'), mallory.uid, mallory.gid);
  writeConfig(world, {
    secrets: {
      through: { ...ageSource(file), owner: mallory.name, path: join(home, 'config/app/token') },
      direct: { ...ageSource(file), owner: mallory.name, path: join(home, 'direct') },
    },
  });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 74, stderr);
  assert.match(stderr, /config is a symlink owned by a non-root user; refusing to create/);
  assert.deepEqual(entries(target), [], 'nothing was created through her symlink');
  // The final component is replaced by rename, never followed: her target file is untouched.
  assert.equal(readlinkSync(join(home, 'direct')), join(world.secretsDir, 'direct'));
  assert.deepEqual([lstatSync(join(home, 'direct')).uid], [mallory.uid]);
  assert.equal(readFileSync(join(world.dir, 'victim-file'), 'utf8'), 'victim');
  assert.equal(report.switched, true);
  assert.equal(liveNumber(world.secretsDir), 1);
});


test("as root, a custom path under the owner's own directory is made as the owner; another user's or a world-writable directory is refused", { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const alice = createUser(t);
  const bob = createUser(t);
  // The world dir is root's (0700): open it so the users can reach their homes below it.
  chmodSync(world.dir, 0o755);
  const home = (user: { uid: number; gid: number }, name: string) => {
    const dir = join(world.dir, name);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, user.uid, user.gid);
    return dir;
  };
  const aliceHome = home(alice, 'alice');
  const bobHome = home(bob, 'bob');
  const open = join(world.dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o1777);
  const file = encrypt(world, 'v.age', 'authority-path-value');
  const secret = (path: string) => ({ ...ageSource(file), owner: alice.name, path });
  writeConfig(world, {
    secrets: {
      mine: secret(join(aliceHome, '.config/app/token')),
      theirs: secret(join(bobHome, 'token')),
      shared: secret(join(open, 'token')),
    },
  });
  const { code, report } = await applyJson(world);
  assert.equal(code, 74);
  assert.deepEqual(report.paths.linked, [join(aliceHome, '.config/app/token')]);
  const created = lstatSync(join(aliceHome, '.config'));
  assert.deepEqual([created.uid, created.gid], [alice.uid, alice.gid], 'directories in her home are made by her');
  const link = lstatSync(join(aliceHome, '.config/app/token'));
  assert.deepEqual([link.uid, link.gid], [alice.uid, alice.gid]);
  const reasons = Object.fromEntries(report.paths.errors.map((e) => [e.name, e.message]));
  assert.match(reasons.theirs!, new RegExp(`${bobHome} is owned by uid ${bob.uid}, not by root or the secret's owner`));
  assert.match(reasons.shared!, new RegExp(`${open} is writable by every user`));
  assert.deepEqual(entries(bobHome), [], "nothing was created in another user's directory");

  // Gone from the config: the link in her home is removed (as her), the others were never made.
  writeConfig(world, { secrets: { other: { ...ageSource(file) } } });
  const next = await applyJson(world);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(next.report.paths.removed, [join(aliceHome, '.config/app/token')]);
  assert.deepEqual(entries(join(aliceHome, '.config/app')), []);
});

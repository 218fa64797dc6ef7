// `symlink: false` (agenix's `symlink = false`): the custom path is a real file with the secret's
// owner, group and mode, rewritten on every switch that changes it, removed when the secret goes
// away only while it still is the file we wrote, and never readable by anyone the mode does not
// allow — not even while it is being replaced (sampled here by another real user during runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, applyJson, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { entries } from '../helpers/tree.js';
import { createGroup, createUser } from '../helpers/users.js';

test('a copy is a real file with the entry\'s mode, follows every change, and goes when its entry goes; links and copies trade places', async (t) => {
  const world = makeWorld(t);
  const v1 = encrypt(world, 'v1.age', 'copy-mode-value-one');
  const v2 = encrypt(world, 'v2.age', 'copy-mode-value-two');
  const out = join(world.dir, 'etc/app');
  const config = (file: string, extra: Record<string, unknown> = {}, template: Record<string, unknown> = {}) =>
    writeConfig(world, {
      secrets: { key: { ...ageSource(file), path: join(out, 'key'), symlink: false, mode: '0440', ...extra } },
      templates: { 'app.conf': { content: 'key={{key}}\n', path: join(out, 'app.conf'), symlink: false, ...template } },
    });
  config(v1);
  const first = await applyJson(world);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.report.paths.copied.sort(), [join(out, 'app.conf'), join(out, 'key')]);
  assert.deepEqual(first.report.paths.linked, []);
  const st = lstatSync(join(out, 'key'));
  assert.ok(st.isFile(), 'a file, not a symlink');
  assert.equal(st.mode & 0o7777, 0o440);
  assert.equal(readFileSync(join(out, 'key'), 'utf8'), 'copy-mode-value-one');
  assert.equal(readFileSync(join(out, 'app.conf'), 'utf8'), 'key=copy-mode-value-one\n');
  assert.deepEqual(entries(out), ['app.conf', 'key'], 'no temporary file left');

  config(v2);
  assert.equal((await applyJson(world)).code, 0);
  assert.equal(readFileSync(join(out, 'key'), 'utf8'), 'copy-mode-value-two', 'updated with the switch');
  assert.equal(readFileSync(join(out, 'app.conf'), 'utf8'), 'key=copy-mode-value-two\n');
  const ino = lstatSync(join(out, 'key')).ino;
  assert.equal((await applyJson(world)).code, 0);
  assert.equal(lstatSync(join(out, 'key')).ino, ino, 'nothing changed: the copy is left as it is');

  config(v2, { mode: '0400' });
  assert.equal((await applyJson(world)).code, 0);
  assert.equal(lstatSync(join(out, 'key')).mode & 0o777, 0o400, 'a mode change is a change');

  // A copy becomes a link (and back): ours either way, replaced without being moved aside.
  config(v2, { mode: '0400', symlink: true });
  const toLink = await applyJson(world);
  assert.deepEqual([toLink.code, toLink.report.displaced], [0, []]);
  assert.equal(readlinkSync(join(out, 'key')), join(world.secretsDir, 'key'));
  config(v2, { mode: '0400' });
  const toCopy = await applyJson(world);
  assert.deepEqual([toCopy.code, toCopy.report.displaced], [0, []]);
  assert.ok(lstatSync(join(out, 'key')).isFile());

  // Someone edits the template's copy by hand; then both entries go away: ours is removed, theirs stays.
  chmodSync(join(out, 'app.conf'), 0o600);
  writeFileSync(join(out, 'app.conf'), 'edited by hand\n');
  chmodSync(join(out, 'app.conf'), 0o400);
  writeConfig(world, { secrets: { other: ageSource(v1) } });
  const gone = await applyJson(world);
  assert.equal(gone.code, 0, gone.stderr);
  assert.deepEqual(gone.report.paths.removed, [join(out, 'key')]);
  assert.deepEqual(gone.report.paths.left, [{ path: join(out, 'app.conf'), reason: 'it changed since materialize wrote it' }]);
  assert.deepEqual(entries(out), ['app.conf']);
  assert.equal(readFileSync(join(out, 'app.conf'), 'utf8'), 'edited by hand\n');
});

test('a copy someone changed is moved aside (not overwritten) when the entry is still wanted', async (t) => {
  const world = makeWorld(t);
  const v1 = encrypt(world, 'v1.age', 'copy-edited-value-1');
  const path = join(world.dir, 'srv/key');
  writeConfig(world, { secrets: { key: { ...ageSource(v1), path, symlink: false } } });
  assert.equal((await applyJson(world)).code, 0);
  chmodSync(path, 0o600);
  writeFileSync(path, 'local edit');
  chmodSync(path, 0o400);
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(report.displaced.length, 1);
  assert.equal(readFileSync(report.displaced[0]!.to, 'utf8'), 'local edit');
  assert.equal(readFileSync(path, 'utf8'), 'copy-edited-value-1');
});

// Another real user lists the directory and tries to open every entry, as fast as it can, while root
// replaces twenty copies on every run; any success, or any entry it could read by its mode, counts.
const SAMPLER = `
import os, stat, sys, time
d, me_uid, me_gids = sys.argv[1], os.getuid(), set(os.getgroups()) | {os.getgid()}
stop = time.time() + float(sys.argv[2])
seen, opened, readable = 0, [], []
while time.time() < stop and not os.path.exists(os.path.join(d, '..', 'stop')):
    for name in os.listdir(d):
        p = os.path.join(d, name)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        seen += 1
        m = st.st_mode
        if stat.S_ISREG(m) and (m & 0o004 or (m & 0o040 and st.st_gid in me_gids)):
            readable.append('%s %o %d:%d' % (name, m & 0o7777, st.st_uid, st.st_gid))
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            os.close(fd)
            opened.append(name)
        except OSError:
            pass
print(seen, len(opened), len(readable))
for x in (opened + readable)[:10]:
    print(x)
`;

test('copies are never readable by another user while runs replace them (sampled as that user)', { skip: ROOT_SKIP, timeout: 300_000 }, async (t) => {
  const world = makeWorld(t);
  const owner = createUser(t);
  const eve = createUser(t);
  const group = createGroup(t);
  chmodSync(world.dir, 0o755);
  const out = join(world.dir, 'etc/svc');
  mkdirSync(out, { recursive: true, mode: 0o755 });
  chmodSync(join(world.dir, 'etc'), 0o755);
  chmodSync(out, 0o755);
  writeFileSync(join(world.dir, 'sampler.py'), SAMPLER);
  // 1 MiB each, so that writing one takes long enough for a careless order of chown, write and
  // chmod to be seen by the sampler (a mode set too early was caught this way; see the commit).
  const big = (tag: string) => `sampled-copy-value-${tag}-`.repeat(Math.ceil(1048576 / 22)).slice(0, 1048576);
  const values = [encrypt(world, 'a.age', big('a')), encrypt(world, 'b.age', big('b'))];
  const config = (file: string) =>
    writeConfig(world, {
      secrets: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`s${i}`, { ...ageSource(file), owner: owner.name, group: group.name, mode: i % 2 ? '0440' : '0400', path: join(out, `s${i}`), symlink: false }]),
      ),
    });
  config(values[0]!);
  assert.equal((await applyJson(world)).code, 0);
  const sampler = spawn('python3', [join(world.dir, 'sampler.py'), out, '240'], { uid: eve.uid, gid: eve.gid, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => sampler.kill('SIGKILL'));
  let output = '';
  let errors = '';
  sampler.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  sampler.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
  const closed = new Promise((resolve) => sampler.on('close', resolve));
  let replaced = 0;
  for (let run = 1; run <= 8; run++) {
    config(values[run % 2]!);
    const r = await applyJson(world);
    assert.equal(r.code, 0, r.stderr);
    replaced += r.report.paths.copied.length;
    assert.ok(readFileSync(join(out, 's0'), 'utf8') === big(run % 2 ? 'b' : 'a'), 'the copy holds the new value');
  }
  writeFileSync(join(world.dir, 'etc/stop'), '');
  await closed;
  assert.equal(errors, '');
  const [seen, opened, readable] = output.trim().split('\n')[0]!.split(' ').map(Number);
  assert.ok(seen! > 1000, `the sampler looked (${seen} entries seen)`);
  assert.deepEqual([opened, readable], [0, 0], `another user could open or read copies:\n${output}`);
  assert.equal(replaced, 160);
  const st = lstatSync(join(out, 's1'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [owner.uid, group.gid, 0o440]);
});

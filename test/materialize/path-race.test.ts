// Issue 9.2: a secret's owner must not be able to make root create a custom path anywhere she could
// not write herself. The attack, with a real unprivileged user: her secret has `group` appgrp (she is
// not a member) and a path in a directory of hers; while materialize runs, a helper of hers swaps
// that directory with a symlink to /srv/app (root:appgrp 2775, holding root's files) with
// renameat2(RENAME_EXCHANGE) in a tight loop. The code before this fix switched the process to her
// uid and appgrp between its check and its rename, so the link landed in /srv/app, replacing root's
// file of that name. Now the directory is held by a no-follow descriptor from the check on, and the
// process never takes her identity (nor anyone's): /srv/app must come out untouched.
//
// Also proven here: at the instant a link is renamed into her directory, every thread of the process
// (the thread pool included: a pending fs call, the lock's heartbeat) still has root's ids and
// groups; and the shipped bundle holds no call that could change them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, ROOT_SKIP, SHIPPED_FILES, assertNoSecretValues } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { createGroup, createUser, type TestUser } from '../helpers/users.js';

const SWAPPER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
stop = time.time() + float(sys.argv[1])
n = 0
while time.time() < stop and not os.path.exists('stop'):
    for _ in range(2000):
        if libc.renameat2(AT_FDCWD, b'dir', AT_FDCWD, b'evil', RENAME_EXCHANGE) != 0:
            sys.exit('renameat2: errno %d' % ctypes.get_errno())
        n += 1
    # An even count: 'dir' is the real directory again.
print(n)
`;

/** Her home (hers, 0755) with `dir` (a real directory of hers) and `evil` (her symlink to the victim directory). */
function home(world: World, alice: TestUser, victim: string): string {
  chmodSync(world.dir, 0o755);
  const dir = join(world.dir, 'home/alice');
  mkdirSync(join(dir, 'dir'), { recursive: true });
  chmodSync(join(world.dir, 'home'), 0o755);
  chownSync(dir, alice.uid, alice.gid);
  chownSync(join(dir, 'dir'), alice.uid, alice.gid);
  chmodSync(join(dir, 'dir'), 0o755);
  symlinkSync(victim, join(dir, 'evil'));
  lchownSync(join(dir, 'evil'), alice.uid, alice.gid);
  writeFileSync(join(dir, 'swap.py'), SWAPPER);
  return dir;
}

/** What in the victim directory is not one of root's untouched files. */
function violations(victim: string): string[] {
  return readdirSync(victim).flatMap((name) => {
    const st = lstatSync(join(victim, name));
    if (!st.isFile() || st.uid !== 0) return [`${name}: ${st.isSymbolicLink() ? 'a symlink' : st.isFile() ? 'a file' : 'something'} of uid ${st.uid}`];
    return readFileSync(join(victim, name), 'utf8') === 'root-victim' ? [] : [`${name}: rewritten`];
  });
}

test('9.2: an owner swapping her directory for a symlink (renameat2 RENAME_EXCHANGE loop) never gets a link made in a directory only appgrp can write', { skip: ROOT_SKIP, timeout: 600_000 }, async (t) => {
  const world = makeWorld(t);
  const alice = createUser(t);
  const appgrp = createGroup(t);
  const victim = join(world.dir, 'srv/app');
  mkdirSync(victim, { recursive: true });
  chmodSync(join(world.dir, 'srv'), 0o755);
  chownSync(victim, 0, appgrp.gid);
  chmodSync(victim, 0o2775);
  const dir = home(world, alice, victim);
  const file = encrypt(world, 'v.age', 'race-value-9-2');

  const PER_RUN = 100;
  const RUNS = 6;
  const swapper: ChildProcess = spawn('python3', ['swap.py', '600'], { cwd: dir, uid: alice.uid, gid: alice.gid, stdio: ['ignore', 'pipe', 'pipe'] });
  let swapErr = '';
  swapper.stderr!.on('data', (d: Buffer) => (swapErr += d.toString()));
  t.after(() => swapper.kill('SIGKILL'));
  const found: string[] = [];
  let refused = 0;
  let linked = 0;
  for (let run = 0; run < RUNS && found.length === 0; run++) {
    const names = Array.from({ length: PER_RUN }, (_, j) => `r${run}-f${j}`);
    for (const name of names) writeFileSync(join(victim, name), 'root-victim');
    writeConfig(world, {
      secrets: Object.fromEntries(names.map((name) => [name, { ...ageSource(file), owner: alice.name, group: appgrp.name, mode: '0440', path: join(dir, 'dir', name) }])),
    });
    const r = await apply(world, ['--json'], { timeoutMs: 120_000 });
    assert.ok(r.code === 0 || r.code === 74, r.stderr);
    const report = JSON.parse(r.stdout);
    refused += (report.paths.errors as unknown[]).length;
    linked += (report.paths.linked as unknown[]).length;
    found.push(...violations(victim));
  }
  writeFileSync(join(dir, 'stop'), '');
  const swaps = await new Promise<string>((resolve) => {
    let out = '';
    swapper.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    swapper.on('close', () => resolve(out.trim()));
  });
  assert.equal(swapErr, '', 'the swapper ran');
  assert.ok(Number(swaps) > 10_000, `the swapper swapped (${swaps} exchanges)`);
  assert.deepEqual(found, [], `root's files in ${victim} were replaced or joined by the owner's (after ${refused} refusals)`);
  assert.ok(linked > 0, 'links were made under attack, in her real directory');
  t.diagnostic(`${RUNS * PER_RUN} paths under attack: ${linked} linked, ${refused} refused (the swap was visible when the directory was opened), ${swaps} exchanges, nothing in ${victim}`);
});

/** /proc/<pid>/task/<tid>/status lines for Uid, Gid and Groups, per thread. */
function credentials(pid: number): { tid: string; uid: string; gid: string; groups: string }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const line = (key: string) => (new RegExp(`^${key}:[ \\t]*([^\\n]*)$`, 'm').exec(status)?.[1] ?? '').trim().replace(/\s+/g, ' ');
    return { tid, uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
  });
}

function stopped(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
  } catch {
    return false;
  }
}

test("9.2: while a link is renamed into the owner's directory, every thread of the run still has root's ids and groups", { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const alice = createUser(t);
  const appgrp = createGroup(t);
  chmodSync(world.dir, 0o755);
  const dir = join(world.dir, 'alice');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, alice.uid, alice.gid);
  const file = encrypt(world, 'v.age', 'creds-value-9-2');
  writeConfig(world, { secrets: { token: { ...ageSource(file), owner: alice.name, group: appgrp.name, path: join(dir, 'token') } } });

  // Count the checkpoints of a first run (a throwaway copy of the world): the link's rename is the last.
  const count = spawnSync(process.execPath, [CLI, 'apply', '--config', world.configFile], { env: { ...process.env, MATERIALIZE_CRASH_AT: '1000000' }, encoding: 'utf8' });
  const total = Number(/materialize: (\d+) checkpoints passed/.exec(count.stderr)?.[1]);
  assert.ok(total > 0, count.stderr);
  // Start again from nothing, and stop the run at that checkpoint.
  for (const p of [world.secretsDir, world.mountPoint, `${world.mountPoint}.lock`, join(dir, 'token')]) spawnSync('rm', ['-rf', p]);
  const child = spawn(process.execPath, [CLI, 'apply', '--config', world.configFile], { cwd: REPO, env: { ...process.env, MATERIALIZE_STOP_AT: String(total) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (!stopped(child.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(stopped(child.pid!), `the run stopped at checkpoint ${total}: ${stderr}`);
  const creds = credentials(child.pid!);
  const rootGroups = credentials(process.pid)[0]!.groups;
  // The link is not there yet: the run is stopped right before its rename.
  assert.throws(() => lstatSync(join(dir, 'token')));
  process.kill(child.pid!, 'SIGCONT');
  assert.equal(await done, 0, stderr);
  assertNoSecretValues(stderr, 'apply');
  assert.ok(creds.length > 1, 'the thread pool and V8 threads are listed too');
  for (const c of creds) assert.deepEqual(c, { tid: c.tid, uid: '0 0 0 0', gid: '0 0 0 0', groups: rootGroups }, `thread ${c.tid} had ids other than root's at the link's rename`);
  assert.equal(lstatSync(join(dir, 'token')).uid, alice.uid, 'the link is hers all the same');
});

test('9.2: the shipped bundle holds no call that changes the process user or groups', () => {
  for (const f of SHIPPED_FILES) assert.ok(existsSync(f), `${f}: dist/ is built`);
  for (const f of SHIPPED_FILES) assert.doesNotMatch(readFileSync(f, 'utf8'), /\b(seteuid|setegid|setgroups|initgroups|setuid|setgid)\s*\(/, f);
});

// The mount point against a user who can write its parent (issue 9, item 3): they swap it for a
// symlink to a directory of root's, in a loop, while root prepares it — hoping that root mounts a
// ramfs over, chowns or chmods what the symlink points to. Such a mount point is refused outright
// (exit 74) before anything is created there, lock included; and where only root can write the
// parent, everything after the checks goes through a no-follow descriptor, so even root swapping it
// redirects nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { mounts, unmountUnder } from '../helpers/mounts.js';
import { createUser } from '../helpers/users.js';

// Swaps `<parent>/secrets.d` between a real directory and a symlink to the victim, as fast as it can,
// until killed. Renames only (what a user who can write the parent can do).
const SWAPPER = `
const fs = require('node:fs');
const [parent, victim] = process.argv.slice(1);
const mp = parent + '/secrets.d', real = parent + '/real', link = parent + '/link';
try { fs.mkdirSync(real); } catch {}
try { fs.symlinkSync(victim, link); } catch {}
const tryDo = (f) => { try { f(); } catch {} };
for (;;) {
  tryDo(() => fs.renameSync(real, mp));
  tryDo(() => fs.renameSync(mp, real));
  tryDo(() => fs.renameSync(link, mp));
  tryDo(() => fs.renameSync(mp, link));
}
`;

interface Victim {
  dir: string;
  before: { uid: number; gid: number; mode: number };
}

function makeVictim(world: World): Victim {
  const dir = join(world.dir, 'victim');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, 'precious'), 'root-only data');
  const st = statSync(dir);
  return { dir, before: { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 } };
}

/** The victim's owner and mode are as before, and nothing is mounted on it. */
function assertUntouched(victim: Victim, run: number): void {
  assert.deepEqual(
    mounts()
      .filter((m) => m.mountPoint === victim.dir)
      .map((m) => m.fsType),
    [],
    `run ${run}: something was mounted on the symlink's target`,
  );
  const st = statSync(victim.dir);
  assert.deepEqual({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, victim.before, `run ${run}: the symlink's target was chowned or chmodded`);
}

function startSwapper(parent: string, victim: string, ids?: { uid: number; gid: number }): ChildProcess {
  return spawn(process.execPath, ['-e', SWAPPER, parent, victim], { stdio: 'ignore', ...(ids ?? {}) });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((done) => child.on('close', done));
  child.kill('SIGKILL');
  await closed;
}

function world(t: Parameters<typeof makeWorld>[0]): { world: World; parent: string; victim: Victim } {
  const w = makeWorld(t);
  chmodSync(w.dir, 0o755);
  const parent = join(w.dir, 'run');
  mkdirSync(parent);
  mkdirSync(join(w.dir, 'pub'));
  w.secretsDir = join(w.dir, 'pub/secrets');
  w.mountPoint = join(parent, 'secrets.d');
  writeConfig(w, { mount: 'ramfs', secrets: { s: ageSource(encrypt(w, 's.age', 'mount-race-value-3be1')) } });
  return { world: w, parent, victim: makeVictim(w) };
}

test('a user who can write the mount point\'s parent, swapping it for a symlink in a loop, is refused (exit 74) and redirects nothing', { skip: ROOT_SKIP }, async (t) => {
  const { world: w, parent, victim } = world(t);
  const mallory = createUser(t);
  chownSync(parent, mallory.uid, mallory.gid);
  const swapper = startSwapper(parent, victim.dir, { uid: mallory.uid, gid: mallory.gid });
  t.after(() => stop(swapper));
  const results: { code: number | null; stderr: string }[] = [];
  try {
    // The victim first, after every run: that is the attack; then how each run ended.
    for (let run = 1; run <= 20; run++) {
      results.push(await apply(w));
      assertUntouched(victim, run);
      unmountUnder(parent); // each run starts from a mount point that is not mounted yet
    }
  } finally {
    await stop(swapper);
    unmountUnder(w.dir);
  }
  assertUntouched(victim, 0);
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 74, `run ${i + 1}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`refusing the mount point ${w.mountPoint}: ${parent} is not safe \\(it belongs to uid ${mallory.uid}\\)`));
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  }
  assert.deepEqual(mounts().filter((m) => m.mountPoint.startsWith(`${parent}/`)), [], 'nothing mounted in the parent');
});

test('a parent writable by its group or by everyone is refused too; a sticky /tmp above it is fine', { skip: ROOT_SKIP }, async (t) => {
  const { world: w, parent } = world(t);
  chmodSync(parent, 0o777);
  const open = await apply(w);
  assert.equal(open.code, 74, open.stderr);
  assert.match(open.stderr, /is not safe \(everyone may write it\)/);
  chmodSync(parent, 0o1777);
  assert.match((await apply(w)).stderr, /is not safe \(everyone may write it\)/, 'sticky does not help the parent itself');
  const group = createUser(t);
  chownSync(parent, 0, group.gid);
  chmodSync(parent, 0o775);
  assert.match((await apply(w)).stderr, new RegExp(`is not safe \\(its group \\(gid ${group.gid}\\) may write it\\)`));
  chmodSync(parent, 0o755);
  const ok = await apply(w);
  assert.equal(ok.code, 0, ok.stderr);
});

test('even root swapping the mount point for a symlink in a loop redirects nothing: it is used through a no-follow descriptor', { skip: ROOT_SKIP }, async (t) => {
  const { world: w, parent, victim } = world(t);
  const outcomes = new Map<number | null, number>();
  for (let run = 1; run <= 12; run++) {
    const swapper = startSwapper(parent, victim.dir);
    try {
      const r = await apply(w);
      outcomes.set(r.code, (outcomes.get(r.code) ?? 0) + 1);
      assert.ok(r.code === 0 || r.code === 74 || r.code === 75, `run ${run}: exit ${r.code}: ${r.stderr}`);
      if (r.code === 74) assert.match(r.stderr, /not a directory \(a symlink or a file\)|was replaced while ramfs was being mounted|exists and is not a directory|cannot/, r.stderr);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    } finally {
      await stop(swapper);
      unmountUnder(parent);
    }
    assertUntouched(victim, run);
  }
  t.diagnostic(`exit codes: ${[...outcomes].map(([c, n]) => `${c}×${n}`).join(', ')}`);
});

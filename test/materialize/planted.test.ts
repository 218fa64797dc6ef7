// A secret's owner attacking keep-previous on a real ramfs, as a real unprivileged user (issue 9,
// item 1): the owner of `svc/pw` polls the generation being built, and as soon as the file is theirs
// rewrites it (directly if it is still writable, else chmod 600, truncating write, chmod 400), hoping
// that the next run, whose source fails, carries their bytes forward into root's template. Whether
// the rewrite lands inside one ramfs timestamp step no longer matters: carried values are checked
// against a keyed digest, and a file is never its owner's before its final mode is set.
//
// The race is made deterministic, not left to chance: a preloaded module (helpers/slow-chown.mjs)
// holds the run for two seconds right after each fchown that hands a file to the owner, so the owner
// always sees the state that follows the hand-over, however loaded the machine is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, ROOT_SKIP, assertNoSecretValues, registerSecretValues } from '../helpers/cli.js';
import { ageSource, applyJson, encrypt, makeWorld, statuses, writeConfig, type ApplyJson, type World } from '../helpers/fixtures.js';
import { mountsAt } from '../helpers/mounts.js';
import { createUser, type TestUser } from '../helpers/users.js';

const PRELOAD = fileURLToPath(new URL('./helpers/slow-chown.mjs', import.meta.url));
const ORIGINAL = 'svc-password-original-41c7';
const PLANTED = 'svc-planted-line-9d2e\nLD_PRELOAD=/tmp/evil.so\n';
registerSecretValues(ORIGINAL, 'svc-planted-line-9d2e');

// The owner's side, run as that user: poll the file in the generation being built, rewrite it once.
// Prints how: "writable" (it was still writable when it became theirs) or "chmod" (chmod 600, write, chmod 400).
const ATTACKER = `
const fs = require('node:fs');
const [target, planted, waitMs] = process.argv.slice(1);
const end = Date.now() + Number(waitMs);
const nap = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
for (;;) {
  if (Date.now() > end) { console.log('missed'); process.exit(1); }
  let st;
  try { st = fs.lstatSync(target); } catch { nap(); continue; }
  if (st.uid !== process.getuid()) { nap(); continue; }
  if (st.mode & 0o200) { fs.writeFileSync(target, planted); console.log('writable'); process.exit(0); }
  fs.chmodSync(target, 0o600);
  fs.writeFileSync(target, planted);
  fs.chmodSync(target, 0o400);
  console.log('chmod');
  process.exit(0);
}
`;

interface Run {
  code: number | null;
  report: ApplyJson;
  stderr: string;
  attack: string;
}

/** One `apply --json` run (as root, fchown slowed for `owner`) while `owner` attacks `name` in the generation it builds. */
function applyUnderAttack(world: World, owner: TestUser, name: string, generation: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const run = spawn(process.execPath, [CLI, 'apply', '--config', world.configFile, '--json'], {
      env: { ...process.env, MATERIALIZE_CONFIG: undefined, NODE_OPTIONS: `--import=${PRELOAD}`, MATERIALIZE_TEST_SLOW_UID: String(owner.uid), MATERIALIZE_TEST_SLOW_MS: '2000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The owner cannot list the mount point (0751); the hidden directory's name is `.tmp-<N>-<pid>`,
    // and both are public (the live symlink, /proc).
    const target = join(world.mountPoint, `.tmp-${generation}-${run.pid}`, name);
    const attacker = spawn(process.execPath, ['-e', ATTACKER, target, PLANTED, '60000'], { uid: owner.uid, gid: owner.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let attack = '';
    run.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    run.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    attacker.stdout.setEncoding('utf8').on('data', (d: string) => (attack += d));
    attacker.stderr.setEncoding('utf8').on('data', (d: string) => (attack += d));
    const attackDone = new Promise<void>((done) => attacker.on('close', () => done()));
    run.on('error', reject);
    run.on('close', (code) => {
      void attackDone.then(() => {
        try {
          assertNoSecretValues(stdout + stderr, 'materialize apply');
          resolve({ code, report: JSON.parse(stdout) as ApplyJson, stderr, attack: attack.trim() });
        } catch (error) {
          reject(error);
        }
      });
    });
  });
}

/** Flips the last byte of an age file: its source fails from now on. */
function corrupt(file: string): void {
  const data = readFileSync(file);
  data.writeUInt8(data.readUInt8(data.length - 1) ^ 0x55, data.length - 1);
  writeFileSync(file, data);
}

function attackWorld(t: Parameters<typeof makeWorld>[0]): { world: World; svc: TestUser; source: string } {
  const world = makeWorld(t);
  chmodSync(world.dir, 0o755); // like /run: the owner can reach the mount point
  const svc = createUser(t);
  const source = encrypt(world, 'pw.age', ORIGINAL);
  writeConfig(world, {
    mount: 'ramfs',
    secrets: { 'svc/pw': { ...ageSource(source), owner: svc.name, mode: '0400' } },
    templates: { 'root.env': { content: 'PW={{svc/pw}}\n' } },
  });
  return { world, svc, source };
}

test('an owner rewriting their file in the generation being built cannot plant content in root\'s template (ramfs, real user)', { skip: ROOT_SKIP }, async (t) => {
  const { world, svc, source } = attackWorld(t);
  const first = await applyUnderAttack(world, svc, 'svc/pw', 1);
  assert.equal(first.code, 0, first.stderr);
  assert.notEqual(first.attack, 'missed', 'the owner found their file while the generation was built');
  assert.equal(mountsAt(world.mountPoint)[0]?.fsType, 'ramfs');
  assert.equal(readFileSync(join(world.secretsDir, 'svc/pw'), 'utf8'), PLANTED, 'the owner did rewrite their own file');
  assert.equal(readFileSync(join(world.secretsDir, 'root.env'), 'utf8'), `PW=${ORIGINAL}\n`);

  // Next run, the source fails: keep-previous must not carry the owner's bytes anywhere.
  corrupt(source);
  const second = await applyJson(world);
  assert.equal(second.code, 65, second.stderr);
  assert.deepEqual(statuses(second.report), { 'svc/pw': 'failed', 'root.env': 'stale' });
  assert.match(second.report.entries.find((e) => e.name === 'svc/pw')!.reason!, /not kept: the file in generation 1 is not what materialize wrote there/);
  assert.ok(!existsSync(join(world.secretsDir, 'svc/pw')), 'the rewritten value is not carried forward');
  const env = readFileSync(join(world.secretsDir, 'root.env'), 'utf8');
  assert.doesNotMatch(env, /LD_PRELOAD/, 'root.env holds nothing the owner chose');
  assert.equal(env, `PW=${ORIGINAL}\n`, 'root.env keeps its own rendering, which only root could write');
  const st = statSync(join(world.secretsDir, 'root.env'));
  assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o400]);

  // And the hand-over itself: the file was never the owner's while it was still writable.
  assert.equal(first.attack, 'chmod', 'the owner saw their file writable before its final mode was set');
});

test('a template never re-reads a stale secret from a file another user owns: it keeps its own rendering', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const svc = createUser(t);
  const pw = encrypt(world, 'pw.age', ORIGINAL);
  const b = encrypt(world, 'b.age', 'root-b-value-old-5c1a');
  writeConfig(world, {
    mount: 'ramfs',
    secrets: { 'svc/pw': { ...ageSource(pw), owner: svc.name }, b: ageSource(b) },
    templates: {
      'root.env': { content: 'PW={{svc/pw}}\nB={{b}}\n' },
      'svc.env': { content: 'PW={{svc/pw}}\nB={{b}}\n', owner: svc.name },
    },
  });
  assert.equal((await applyJson(world)).code, 0);
  encrypt(world, 'b.age', 'root-b-value-new-5c1a');
  corrupt(pw);
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 65, stderr);
  // Nobody touched svc/pw: its value is carried forward (its digest matches) for svc's own use…
  assert.deepEqual(statuses(report), { 'svc/pw': 'stale', b: 'changed', 'root.env': 'stale', 'svc.env': 'stale' });
  assert.equal(readFileSync(join(world.secretsDir, 'svc/pw'), 'utf8'), ORIGINAL);
  // …and for svc's template, re-rendered with the new b;
  assert.equal(readFileSync(join(world.secretsDir, 'svc.env'), 'utf8'), `PW=${ORIGINAL}\nB=root-b-value-new-5c1a\n`);
  // but root's template does not read svc's file: it keeps its own previous rendering.
  assert.equal(readFileSync(join(world.secretsDir, 'root.env'), 'utf8'), `PW=${ORIGINAL}\nB=root-b-value-old-5c1a\n`);
  assert.match(report.entries.find((e) => e.name === 'root.env')!.reason!, /svc\/pw is stale and its file belongs to another user/);
});

test('the digest key: 32 bytes, 0400, the running user\'s, in the mount point; an untrusted one is moved aside and nothing is carried', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'digest-key-value-a-77e0');
  writeConfig(world, { secrets: { a: ageSource(a) }, templates: { 'a.env': { content: 'A={{a}}\n' } } });
  assert.equal((await applyJson(world)).code, 0);
  const keyFile = join(world.mountPoint, '.materialize-key');
  const st = statSync(keyFile);
  assert.deepEqual([st.isFile(), st.size, st.uid, st.mode & 0o777], [true, 32, process.getuid!(), 0o400]);
  const key = readFileSync(keyFile);
  assert.equal((await applyJson(world)).code, 0);
  assert.ok(readFileSync(keyFile).equals(key), 'kept from run to run (on ramfs: for one boot)');
  const manifest = JSON.parse(readFileSync(join(world.secretsDir, '.materialize.json'), 'utf8'));
  assert.match(manifest.entries.a.digest, /^hmac-sha256:[A-Za-z0-9+/]{43}=$/);
  assert.equal(manifest.entries.a.ctime, undefined);

  // A key others could read proves nothing: moved aside (never deleted), replaced, nothing carried.
  chmodSync(keyFile, 0o440);
  corrupt(a);
  const { code, report } = await applyJson(world);
  assert.equal(code, 65);
  assert.deepEqual(statuses(report), { a: 'failed', 'a.env': 'failed' });
  assert.match(report.entries.find((e) => e.name === 'a')!.reason!, /not kept: the file in generation 2 is not what materialize wrote there/);
  assert.ok(report.warnings.some((w) => /\.materialize-key was not a usable digest key \(mode 0440 lets others read or write it\); moved to .*\.materialize-key\.untrusted-\d+/.test(w)), report.warnings.join('\n'));
  assert.equal(statSync(keyFile).mode & 0o777, 0o400);
  assert.ok(!readFileSync(keyFile).equals(key), 'a new key');
});

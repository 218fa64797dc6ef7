// The sealed store and the call budget end to end, with 1Password as the network source: the built
// CLI (dist-test/) with the fake SDK, as systemd runs it. "A reboot" empties the mount point (what a
// ramfs is after a reboot) and keeps the state directory (a disk). The real `age` CLI is the oracle
// for what the seal holds: it opens the file with the host's key, and the test looks for each value
// in that plaintext, and for none of them in the file's own bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { applyJson, makeWorld, statuses, writeConfig, type World } from '../../helpers/fixtures.js';
import { seededHex, seededRandom } from '../../helpers/random.js';
import { fakeSystemctl } from '../../helpers/systemctl.js';
import { AGE_SKIP, SSH_SKIP } from '../../helpers/tools.js';
import { keyFile, SOPS_AGE } from '../sops/helpers/keys.js';
import { fakeRun, type FakeRun } from './helpers/cli-fake.js';
import type { Failure, FakeWorld } from './helpers/fake-sdk.js';
import { fakeToken, grid, writeToken, type Grid } from './helpers/world.js';

const op = (reference: string, units: string[] = []) => ({ sources: [{ onepassword: reference }], ...(units.length ? { restartUnits: units } : {}) });

interface Setup {
  world: World;
  fake: FakeRun;
  grid: Grid;
  stateDir: string;
  seal: string;
  /** secrets.json: the token file, `secrets`, and top-level `extra` (network settings…). */
  config(secrets: Record<string, unknown>, extra?: Record<string, unknown>): void;
  /** The fake's world as it is now, with these failures (none: the network is back). */
  network(failures?: Partial<Record<'createClient' | 'resolveAll', Failure>>): void;
  /** The value 1Password holds for the grid's reference `i`. */
  value(i: number): string;
  /** Rotates the value of reference `i` in 1Password; returns the new value. */
  rotate(i: number, salt: number): string;
}

async function setup(t: TestContext, salt: number): Promise<Setup> {
  const world = makeWorld(t, 'materialize-seal-cli-');
  const random = seededRandom(salt);
  const token = fakeToken(random);
  const g = grid(random, token, { vaults: 1, items: 2, fields: 3 });
  const tokenFile = writeToken(world.dir, token);
  const fake = await fakeRun(world.dir, g.world);
  const stateDir = join(world.dir, 'state');
  let failures: FakeWorld['failures'] = {};
  const field = (i: number) => {
    const [, item, f] = /service (\d+)\/field (\d+)$/.exec(g.references[i]!)!;
    return g.world.vaults[0]!.items[Number(item)]!.fields!.find((x) => x.title === `field ${f}`)!;
  };
  return {
    world,
    fake,
    grid: g,
    stateDir,
    seal: join(stateDir, 'sealed.age'),
    config: (secrets, extra = {}) => writeConfig(world, { providers: { onepassword: { tokenFile } }, secrets, ...extra }),
    network: (f = {}) => {
      failures = f;
      fake.update({ ...g.world, failures, backoffMs: 1 });
    },
    value: (i) => field(i).value,
    rotate: (i, s) => {
      const value = `rotated-${seededHex(seededRandom(s), 16)}`;
      registerSecretValues(value);
      field(i).value = value;
      g.values.set(g.references[i]!, value);
      fake.update({ ...g.world, failures, backoffMs: 1 });
      return value;
    },
  };
}

/** What a reboot does to a ramfs: the generations, the live link and the lock are gone; the disk stays. */
function reboot(world: World): void {
  rmSync(world.mountPoint, { recursive: true, force: true });
  rmSync(world.secretsDir, { force: true });
}

/** The seal's plaintext, as the real age CLI opens it with the host's key. */
function openSeal(s: Setup): Buffer {
  return execFileSync('age', ['-d', '-i', s.world.keyFile, s.seal], { stdio: ['ignore', 'pipe', 'pipe'] });
}

const read = (world: World, name: string) => readFileSync(join(world.secretsDir, name), 'utf8');
const down: Partial<Record<'createClient', Failure>> = { createClient: { as: 'network' } };

test('the SDK says the same for a refused connection and for one reset after the request was read: only the refused attempts are given back to the budget', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 311);
  s.config({ a: op(s.grid.references[0]!) });
  s.network({ createClient: { as: 'network' } });
  const refused = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(refused.code, 75, refused.stderr);
  assert.match(refused.stderr, /1Password could not be reached \(createClient\): authentication error: request library compatibility issue/);
  assert.deepEqual(refused.report.calls, { onepassword: { createClient: 3 } }, 'three attempts, each counted');
  assert.equal(refused.report.budget![0]!.used, 0, 'no connection was made: nothing charged');
  s.network({ createClient: { as: 'reset' } });
  const reset = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(reset.code, 75, reset.stderr);
  assert.match(reset.stderr, /1Password could not be reached \(createClient\): authentication error: request library compatibility issue/);
  assert.deepEqual(reset.report.calls, { onepassword: { createClient: 3 } });
  assert.equal(reset.report.budget![0]!.used, 3, 'each request was read by the server before the reset: each stays charged');
});

test('network down at boot: every secret from the seal, exit 0, "cached" in the report and in status; without --boot exit 75 naming why; back up: new values, exactly the changed units restarted', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 301);
  const systemctl = fakeSystemctl(s.world.dir);
  const env = { ...s.fake.env, ...systemctl.env };
  s.config(
    { a: op(s.grid.references[0]!, ['a.service']), b: op(s.grid.references[1]!, ['b.service']), c: op(s.grid.references[4]!, ['c.service']) },
    { templates: { 'app.env': { content: 'A={{a}}\nB={{b}}\n', restartUnits: ['app.service'] } } },
  );
  const first = await applyJson(s.world, ['--units', 'yes'], { env });
  assert.equal(first.code, 0, first.stderr);
  const sealedAt = Date.now();
  // The seal: 0600, owned by the user running (root at boot), in a 0700 directory; the real age CLI
  // opens it with the host's key and finds every value; its own bytes hold none in clear.
  const st = statSync(s.seal);
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, process.getuid!());
  assert.equal(statSync(s.stateDir).mode & 0o777, 0o700);
  const plain = openSeal(s);
  const bytes = readFileSync(s.seal);
  for (const i of [0, 1, 4]) {
    assert.ok(plain.includes(s.value(i)), `the seal holds value ${i}`);
    assert.equal(bytes.indexOf(s.value(i)), -1, `value ${i} is not in the seal's bytes in clear`);
  }
  for (const file of readdirSync(s.stateDir)) for (const v of s.grid.values.values()) assert.equal(readFileSync(join(s.stateDir, file)).indexOf(v), -1, `${file} holds no value in clear`);
  systemctl.take();

  // Reboot with the network down: the boot run publishes from the seal without a single call.
  reboot(s.world);
  s.network(down);
  const callsBefore = s.fake.calls().length;
  const boot = await applyJson(s.world, ['--boot', '--units', 'yes'], { env });
  assert.equal(boot.code, 0, boot.stderr);
  assert.equal(boot.report.generation, 1);
  assert.deepEqual(statuses(boot.report), { a: 'cached', b: 'cached', c: 'cached', 'app.env': 'added' });
  for (const e of boot.report.entries.filter((x) => x.status === 'cached')) {
    assert.ok(Math.abs(Date.parse(e.fetchedAt!) - sealedAt) < 60_000, `${e.name}: fetchedAt is when the network gave it (${e.fetchedAt})`);
    assert.equal(e.reason, undefined, 'nothing failed: the boot run asked the seal first');
  }
  assert.equal(s.fake.calls().length, callsBefore, 'no call at boot');
  assert.deepEqual(boot.report.calls, {});
  assert.equal(read(s.world, 'a'), s.value(0));
  assert.equal(read(s.world, 'c'), s.value(4));
  assert.equal(read(s.world, 'app.env'), `A=${s.value(0)}\nB=${s.value(1)}\n`);
  const status = await runCli(['status', '--json', '--config', s.world.configFile]);
  assert.equal(status.code, 0, status.stderr);
  const st1 = JSON.parse(status.stdout);
  assert.deepEqual(st1.entries.filter((e: { cached: unknown }) => e.cached !== null).map((e: { name: string }) => e.name), ['a', 'b', 'c']);
  assert.equal(st1.network.seal.exists, true);
  assert.equal(st1.network.budget.length, 1);
  assert.match(st1.network.budget[0].label, /^onepassword, token file \//);
  assert.deepEqual([st1.network.budget[0].used, st1.network.budget[0].left, st1.network.budget[0].nextCallAt], [2, 58, null]);
  const human = await runCli(['status', '--config', s.world.configFile]);
  assert.match(human.stdout, /^ {2}a +0400 .* CACHED: sealed value from \S+ \(\d+s old\) \(onepassword op:\/\/Infra 0\/service 0\/field 0\)$/m);
  assert.match(human.stdout, /call budget \(onepassword, token file .*\): 58 of 60 calls left this hour; next call allowed now/);

  // The same reboot, run without --boot (network first): published from the seal all the same, but
  // exit 75 (retry) and each entry says why.
  reboot(s.world);
  const live = await applyJson(s.world, ['--units', 'yes'], { env });
  assert.equal(live.code, 75, live.stderr);
  assert.deepEqual(statuses(live.report), { a: 'cached', b: 'cached', c: 'cached', 'app.env': 'added' });
  for (const e of live.report.entries.filter((x) => x.status === 'cached')) assert.match(e.reason!, /1Password could not be reached \(createClient\)/);
  assert.match(live.stderr, /a: 1Password could not be reached .*; using the sealed value from /);
  assert.equal(read(s.world, 'b'), s.value(1));
  assert.deepEqual(live.report.calls, { onepassword: { createClient: 3 } }, 'three attempts, each counted');
  // None of them reached 1Password: the budget is as it was (2 calls, from the first run).
  assert.equal(live.report.budget![0]!.used, 2);

  // The network is back, and b was rotated meanwhile: the refresh publishes it and restarts b's unit
  // and the template's, nothing else.
  const oldB = s.value(1);
  const rotated = s.rotate(1, 3011);
  s.network();
  systemctl.take();
  const refresh = await applyJson(s.world, ['--units', 'yes'], { env });
  assert.equal(refresh.code, 0, refresh.stderr);
  assert.deepEqual(statuses(refresh.report), { a: 'unchanged', b: 'changed', c: 'unchanged', 'app.env': 'changed' });
  assert.equal(read(s.world, 'b'), rotated);
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- app.service b.service']);
  // The seal follows: the new value in, the old one gone.
  const after = openSeal(s);
  assert.ok(after.includes(rotated), 'the rotated value is sealed');
  assert.ok(!after.includes(oldB), 'the old value is no longer sealed');
  assert.ok(after.includes(s.value(0)) && after.includes(s.value(4)));
});

test('a field deleted in 1Password and a revoked token never fall back to the seal: the sealed value is dropped', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 302);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!), c: op(s.grid.references[4]!) });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const [a, b, c] = [s.value(0), s.value(1), s.value(4)];

  // a's field is deleted in 1Password: not found, exit 65; a keeps its live value (keep-previous,
  // from the live generation, not from the seal), and the seal forgets it.
  const item = s.grid.world.vaults[0]!.items[0]!;
  item.fields = item.fields!.filter((f) => f.title !== 'field 0');
  s.network();
  const gone = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(gone.code, 65, gone.stderr);
  assert.deepEqual(statuses(gone.report), { a: 'stale', b: 'unchanged', c: 'unchanged' });
  assert.match(gone.report.entries.find((e) => e.name === 'a')!.reason!, /fieldNotFound/);
  let plain = openSeal(s);
  assert.ok(!plain.includes(a), 'a is no longer sealed');
  assert.ok(plain.includes(b) && plain.includes(c));

  // A reboot with the network down: b and c from the seal; a has nothing to fall back on (exit 75).
  reboot(s.world);
  s.network(down);
  const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
  assert.equal(boot.code, 75, boot.stderr);
  assert.deepEqual(statuses(boot.report), { a: 'failed', b: 'cached', c: 'cached' });
  assert.equal(existsSync(join(s.world.secretsDir, 'a')), false);

  // The network is back, but the token was revoked (1Password answers 401): b and c keep their live
  // values (stale, exit 65), not the sealed ones, and the seal drops them: a revoked token's values
  // must not outlive it.
  s.grid.world.token = `${s.grid.world.token}-revoked`;
  s.network();
  const revoked = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(revoked.code, 65, revoked.stderr);
  assert.deepEqual(statuses(revoked.report), { a: 'failed', b: 'stale', c: 'stale' });
  for (const e of revoked.report.entries.filter((x) => x.name !== 'a')) assert.match(e.reason!, /did not accept the service account token/);
  plain = openSeal(s);
  for (const v of [a, b, c]) assert.ok(!plain.includes(v), 'nothing of the revoked token stays sealed');
  // And the next boot without the network has nothing to publish.
  reboot(s.world);
  s.network(down);
  const empty = await applyJson(s.world, ['--boot'], { env: s.fake.env });
  assert.equal(empty.code, 75, empty.stderr);
  assert.deepEqual(statuses(empty.report), { a: 'failed', b: 'failed', c: 'failed' });
});

test('a seal older than network.seal.maxAge is not used, and the reason says so', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 303);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!) }, { network: { seal: { maxAge: '2s' } } });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  await new Promise((r) => setTimeout(r, 2500));
  reboot(s.world);
  s.network(down);
  const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
  assert.equal(boot.code, 75, boot.stderr);
  assert.deepEqual(statuses(boot.report), { a: 'failed', b: 'failed' });
  for (const e of boot.report.entries) assert.match(e.reason!, /1Password could not be reached .*; the sealed value \(from \S+\) is older than network\.seal\.maxAge \(2s\) and is not used/);
  assert.equal(existsSync(join(s.world.secretsDir, 'a')), false);
  // The expired values stay sealed (a later answer refreshes them), but none was published.
  assert.ok(openSeal(s).includes(s.value(0)));
});

test('a tampered or truncated seal is refused whole and reported, never half-used; it is moved aside', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 304);
  // A value of 100 KiB: the seal's payload spans two 64 KiB chunks, so a truncation at the chunk
  // boundary leaves a first chunk that authenticates on its own.
  const big = `big-${seededHex(seededRandom(3041), 16)}-${'x'.repeat(100 * 1024)}`;
  registerSecretValues(big);
  s.grid.world.vaults[0]!.items[1]!.fields!.push({ title: 'big', value: big });
  s.network();
  s.config({ a: op(s.grid.references[0]!), big: op('op://Infra 0/service 1/big') });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const good = readFileSync(s.seal);
  const header = good.indexOf('\n---') + 1;
  const firstChunkEnd = good.indexOf('\n', header) + 1 + 16 + 64 * 1024 + 16;
  assert.ok(good.length > firstChunkEnd + 16, 'two chunks');
  const flip = (at: number) => {
    const copy = Buffer.from(good);
    copy[at] = copy[at]! ^ 0x01;
    return copy;
  };
  const damages: [string, Buffer][] = [
    ['a byte of the header changed', flip(40)],
    ['a byte of the first chunk changed', flip(firstChunkEnd - 100)],
    ['the last byte changed', flip(good.length - 1)],
    ['cut after the first chunk', good.subarray(0, firstChunkEnd)],
    ['cut by one byte', good.subarray(0, good.length - 1)],
    ['a byte appended', Buffer.concat([good, Buffer.from([0])])],
    ['emptied', Buffer.alloc(0)],
  ];
  s.network(down);
  for (const [what, bytes] of damages) {
    for (const f of readdirSync(s.stateDir)) if (f.includes('.refused-')) rmSync(join(s.stateDir, f));
    writeFileSync(s.seal, bytes, { mode: 0o600 });
    reboot(s.world);
    const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
    assert.equal(boot.code, 75, `${what}: ${boot.stderr}`);
    assert.deepEqual(statuses(boot.report), { a: 'failed', big: 'failed' }, `${what}: nothing from the seal`);
    assert.equal(existsSync(join(s.world.secretsDir, 'a')), false, what);
    assert.equal(existsSync(join(s.world.secretsDir, 'big')), false, what);
    assert.match(boot.stderr, /sealed\.age cannot be opened with this host's keys or is damaged/, what);
    assert.ok(boot.report.warnings.some((w) => /sealed\.age cannot be opened/.test(w)), `${what}: in the report's warnings`);
    // The refused file is kept aside, byte for byte; a valid (empty) seal takes its place.
    const aside = readdirSync(s.stateDir).filter((f) => f.startsWith('sealed.age.refused-'));
    assert.equal(aside.length, 1, what);
    assert.ok(readFileSync(join(s.stateDir, aside[0]!)).equals(bytes), what);
    assert.ok(!openSeal(s).includes(Buffer.from(s.value(0))), what);
  }
});

test('a secret removed from the configuration is removed from the seal, also when the network is down', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 305);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!), c: op(s.grid.references[2]!) });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  assert.ok(openSeal(s).includes(s.value(2)));
  s.network(down);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!) });
  const r = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(r.code, 75, r.stderr);
  assert.deepEqual(statuses(r.report), { a: 'cached', b: 'cached', c: 'removed' });
  const plain = openSeal(s);
  assert.ok(!plain.includes(s.value(2)), 'c is gone from the seal');
  assert.ok(plain.includes(s.value(0)) && plain.includes(s.value(1)));
});

test('SIGKILL at every step of a run that rewrites the seal leaves the old seal or the new one, never a broken one', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 306);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!) });
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const oldSeal = readFileSync(s.seal);
  const oldB = s.value(1);
  const newB = s.rotate(1, 3061);
  // How many checkpoints a complete run passes (it prints the count when asked for one past the end).
  const probe = await runCli(['apply', '--config', s.world.configFile], { env: { ...s.fake.env, MATERIALIZE_CRASH_AT: '100000' } });
  assert.equal(probe.code, 0, probe.stderr);
  const total = Number(/(\d+) checkpoints passed/.exec(probe.stderr)![1]);
  assert.ok(total >= 4, `${total} checkpoints`);
  const seen = new Set<string>();
  for (let k = 1; k <= total; k++) {
    writeFileSync(s.seal, oldSeal);
    s.network();
    const killed = await runCli(['apply', '--config', s.world.configFile], { env: { ...s.fake.env, MATERIALIZE_CRASH_AT: String(k) } });
    assert.equal(killed.signal, 'SIGKILL', `checkpoint ${k}: ${killed.stderr}`);
    // The real age CLI opens what is there, and it holds the old b or the new b, whole.
    const plain = openSeal(s);
    const which = plain.includes(newB) ? 'new' : plain.includes(oldB) ? 'old' : 'neither';
    assert.notEqual(which, 'neither', `checkpoint ${k}`);
    assert.ok(plain.includes(s.value(0)), `checkpoint ${k}: a is sealed`);
    seen.add(which);
    // And the next boot, without the network, publishes every secret from it.
    reboot(s.world);
    s.network(down);
    const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
    assert.equal(boot.code, 0, `checkpoint ${k}: ${boot.stderr}`);
    assert.deepEqual(statuses(boot.report), { a: 'cached', b: 'cached' }, `checkpoint ${k}`);
    assert.equal(read(s.world, 'b'), which === 'new' ? newB : oldB, `checkpoint ${k}`);
    assert.doesNotMatch(boot.stderr, /damaged/, `checkpoint ${k}`);
  }
  assert.deepEqual([...seen].sort(), ['new', 'old'], 'the sweep killed runs both before and after the seal was replaced');
});

test('a restart loop through the CLI: at most callsPerHour calls reach 1Password, and none after a rate limit', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 307);
  s.config({ a: op(s.grid.references[0]!), b: op(s.grid.references[1]!) }, { network: { callsPerHour: 4 }, providers: { onepassword: { tokenFile: join(s.world.dir, 'op-token'), attempts: 1 } } });
  // 1Password answers 500 (a server error: the calls reach it and count): each run fails with 75,
  // the code systemd restarts on. Twelve runs, as a restart loop would make them.
  s.network({ createClient: { as: 'server' } });
  const codes: (number | null)[] = [];
  for (let run = 0; run < 12; run++) codes.push((await applyJson(s.world, [], { env: s.fake.env })).code);
  assert.equal(s.fake.calls().length, 4, 'the budget: 4 calls in the hour');
  assert.deepEqual(codes, [75, 75, 75, 75, 69, 69, 69, 69, 69, 69, 69, 69], 'then 69: the budget is spent, and systemd stops restarting');
  const last = await applyJson(s.world, [], { env: s.fake.env });
  assert.match(last.report.entries[0]!.reason!, /call budget spent \(4 calls per hour\); next call allowed at /);
  const status = await runCli(['status', '--config', s.world.configFile]);
  assert.match(status.stdout, /call budget \(onepassword, token file .*\): spent \(4 calls in the last hour\); next call allowed at \S+/);

  // A rate limit from 1Password: one call, then none at all for the hour, whatever the budget left.
  const s2 = await setup(t, 308);
  s2.config({ a: op(s2.grid.references[0]!) });
  assert.equal((await applyJson(s2.world, [], { env: s2.fake.env })).code, 0);
  s2.network({ createClient: { as: 'rate-limit' } });
  const before = s2.fake.calls().length;
  for (let run = 0; run < 12; run++) {
    const r = await applyJson(s2.world, [], { env: s2.fake.env });
    assert.equal(r.code, 69, r.stderr);
    assert.deepEqual(statuses(r.report), { a: 'cached' }, 'the sealed value is published all the same');
  }
  assert.equal(s2.fake.calls().length - before, 1, 'one call: the one that was refused');
});

test('sealed to the SSH ed25519 host key when that is the only key (the NixOS default): the next boot opens it', { skip: AGE_SKIP || SSH_SKIP }, async (t) => {
  const s = await setup(t, 309);
  const hostKey = join(s.world.dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { stdio: 'pipe' });
  s.config({ a: op(s.grid.references[0]!) }, { keys: { ageKeyFiles: [], sshKeyPaths: [hostKey] } });
  const first = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /not sealed/);
  assert.equal(readFileSync(s.seal).indexOf(s.value(0)), -1);
  // The world's age key does not open it: it is sealed to this host's key only.
  assert.throws(() => openSeal(s));
  reboot(s.world);
  s.network(down);
  const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
  assert.equal(boot.code, 0, boot.stderr);
  assert.deepEqual(statuses(boot.report), { a: 'cached' });
  assert.equal(read(s.world, 'a'), s.value(0));
});

test('with no X25519 key to seal to, nothing is sealed and the run says so; the secrets are published all the same', { skip: AGE_SKIP || SSH_SKIP }, async (t) => {
  const s = await setup(t, 310);
  const rsa = join(s.world.dir, 'id_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa], { stdio: 'pipe' });
  s.config({ a: op(s.grid.references[0]!) }, { keys: { ageKeyFiles: [], sshKeyPaths: [rsa] } });
  const r = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /network values are not sealed: no age key or SSH ed25519 key is configured to seal them to/);
  assert.equal(existsSync(s.seal), false);
});

test('--dry-run reads the seal and the budget but writes neither, and creates no state directory', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 311);
  s.config({ a: op(s.grid.references[0]!) });
  const dry = await applyJson(s.world, ['--dry-run'], { env: s.fake.env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(existsSync(s.stateDir), false);
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  const before = readdirSync(s.stateDir).map((f) => [f, readFileSync(join(s.stateDir, f)).toString('base64')]);
  s.network(down);
  const preview = await applyJson(s.world, ['--dry-run'], { env: s.fake.env });
  assert.equal(preview.code, 75, preview.stderr);
  assert.deepEqual(statuses(preview.report), { a: 'cached' });
  assert.deepEqual(readdirSync(s.stateDir).map((f) => [f, readFileSync(join(s.stateDir, f)).toString('base64')]), before);
});

test('a secret\'s own fallback source comes before the seal; the seal answers only when every source failed', { skip: AGE_SKIP }, async (t) => {
  const s = await setup(t, 312);
  const sopsKey = keyFile(s.world.dir, join(SOPS_AGE, 'key.txt'), 'sops-age.key');
  const sops = join(SOPS_AGE, 'secret.enc.yaml');
  registerSecretValues('this is a secret');
  s.config(
    {
      // 1Password first, the sops file when it fails (a copy the admin keeps, say).
      withFallback: { sources: [{ onepassword: s.grid.references[0]! }, { sops: { file: sops, key: 'secret' } }] },
      // The fallback names a key the file does not have: only the seal is left.
      brokenFallback: { sources: [{ onepassword: s.grid.references[1]! }, { sops: { file: sops, key: 'no/such/key' } }] },
    },
    { keys: { ageKeyFiles: [s.world.keyFile, sopsKey] } },
  );
  assert.equal((await applyJson(s.world, [], { env: s.fake.env })).code, 0);
  s.network(down);
  const r = await applyJson(s.world, [], { env: s.fake.env });
  assert.equal(r.code, 75, r.stderr);
  assert.deepEqual(statuses(r.report), { withFallback: 'changed', brokenFallback: 'cached' });
  assert.equal(read(s.world, 'withFallback'), 'this is a secret');
  assert.equal(r.report.entries.find((e) => e.name === 'withFallback')!.source, `sops ${sops}#secret`);
  assert.equal(read(s.world, 'brokenFallback'), s.value(1));
  assert.match(r.report.entries.find((e) => e.name === 'brokenFallback')!.reason!, /1Password could not be reached/);
  // The boot run asks the seal first: the preferred source's last value, without the network.
  reboot(s.world);
  const boot = await applyJson(s.world, ['--boot'], { env: s.fake.env });
  assert.equal(boot.code, 0, boot.stderr);
  assert.deepEqual(statuses(boot.report), { withFallback: 'cached', brokenFallback: 'cached' });
  assert.equal(read(s.world, 'withFallback'), s.value(0));
});

// The scenarios `npm run test:system` runs, in order, in one booted Debian 12 container (issue 8).
// Each proves one behaviour of the units under a real systemd; they share the container and build
// on each other's state. New scenarios (a network provider unreachable, then back: issue 13) are
// added to `scenarios` at the end.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Container } from './container.js';
import { BitwardenTestServer } from '../helpers/bitwarden/server.js';
import { testCert } from '../helpers/bitwarden/cert.js';
import { CONFIG, NAMED, NETWORK_CONSUMER, NUMERIC, PROGRAM, SOURCES, USER, UNIT_SOURCE, ageFile, newValue, sha256, values, type Manifest, type World } from './world.js';

export interface Context {
  c: Container;
  w: World;
  log(s: string): void;
  /** The current plaintext of each secret (never leaves the test: the container is checked by hash). */
  current: Record<string, string>;
  /** Mode and group of worker/token (the owner/mode change edits them). */
  worker: { mode: string; group: number };
  /** Measurements for bench/RESULTS.md. */
  results: string[];
}

export interface Scenario {
  name: string;
  run(ctx: Context): Promise<void>;
}

const SERVICE = 'materialize-secrets.service';
const TARGET = 'materialize-secrets.target';
const CONSUMERS = ['consumer-env', 'consumer-path', 'consumer-cred', 'consumer-reload', 'consumer-bystander'] as const;
const FILES: Record<string, string> = {
  'db/password': 'db-password.age',
  'api/key': 'api-key.age',
  'worker/token': 'worker-token.age',
  'tls/cert': 'tls-cert.age',
  static: 'static.age',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const source = (name: string) => ({ sources: [{ age: { file: `${SOURCES}/${FILES[name]}` } }] });

/** The secrets.json of the system scenarios (README's example, with the consumers above). */
export function manifest(ctx: Context): Manifest {
  return {
    secrets: {
      'db/password': { ...source('db/password'), owner: NAMED, group: NAMED, mode: '0440' },
      'api/key': { ...source('api/key'), owner: NAMED, mode: '0400', path: '/etc/app/api-key', restartUnits: ['consumer-path.service'] },
      'worker/token': { ...source('worker/token'), owner: NUMERIC, group: ctx.worker.group, mode: ctx.worker.mode, restartUnits: ['consumer-cred.service'] },
      'tls/cert': { ...source('tls/cert'), mode: '0444', reloadUnits: ['consumer-reload.service'] },
      static: { ...source('static'), mode: '0400' },
    },
    templates: { 'app.env': { content: 'DB_PASSWORD={{db/password}}\n', owner: NAMED, mode: '0400', restartUnits: ['consumer-env.service'] } },
  };
}

/** Sets a secret's value: a new age file made by the real age CLI. */
export function setValue(ctx: Context, name: string, value: string): void {
  ctx.current[name] = value;
  ageFile(ctx.c.root, `${SOURCES}/${FILES[name]}`, value);
}

async function show(c: Container, unit: string, props: string[], user?: number): Promise<Record<string, string>> {
  const argv = ['systemctl', ...(user !== undefined ? ['--user'] : []), 'show', ...props.flatMap((p) => ['-p', p]), unit];
  const r = user !== undefined ? await asUser(c, user, argv) : await c.exec(argv);
  if (r.code !== 0) throw new Error(`systemctl show ${unit}: ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

const asUser = (c: Container, uid: number, argv: string[]) => c.exec(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--init-groups', ...argv], { env: { XDG_RUNTIME_DIR: `/run/user/${uid}` } });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

const invocations = async (c: Container) =>
  Object.fromEntries(await Promise.all(CONSUMERS.map(async (u) => [u, (await show(c, `${u}.service`, ['InvocationID'])).InvocationID!] as const)));

/** The hash a consumer wrote of what it read, for its current invocation. */
async function observed(c: Container, unit: string): Promise<string> {
  const id = (await show(c, `${unit}.service`, ['InvocationID'])).InvocationID;
  return (await c.sh(`cat /run/observed/${unit}.${id}`)).trim();
}

const generation = async (c: Container, dir = '/run/secrets') => Number(/\/(\d+)$/.exec((await c.sh(`readlink -f ${dir}`)).trim())?.[1]);

/** Hashes of the published files, computed inside (values never travel back). */
async function published(c: Container, names: string[], dir = '/run/secrets'): Promise<Record<string, string>> {
  const out = await c.sh(names.map((n) => `sha256sum < ${dir}/${n} | cut -c1-64`).join('; '));
  return Object.fromEntries(out.trim().split('\n').map((h, i) => [names[i]!, h]));
}

/** `uid gid mode` of a published file. */
const stat = async (c: Container, path: string) => (await c.sh(`stat -L -c '%u %g %a' ${path}`)).trim();

async function idOf(c: Container, name: string): Promise<number> {
  return Number((await c.sh(`id -u ${name}`)).trim());
}

/** The whole journal (every field of every entry, binary ones too) holds none of the test's values. */
async function assertJournalClean(c: Container): Promise<void> {
  const r = await c.exec(['journalctl', '--no-pager', '-o', 'export'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 10_000, 'the journal was read');
  for (const v of values) assert.ok(!r.stdout.includes(v), `the journal holds a secret value (${v.split('-')[0]}…)`);
}

/** After a boot: ordering, mount, owners, modes, contents, consumers. */
async function checkBoot(ctx: Context, expectedGeneration: number, options: { early?: boolean } = {}): Promise<void> {
  const { c } = ctx;
  const svc = await show(c, SERVICE, ['ActiveState', 'Result', 'NRestarts', 'ExecMainStatus', 'ExecMainExitTimestampMonotonic']);
  assert.deepEqual([svc.ActiveState, svc.Result, svc.ExecMainStatus, svc.NRestarts], ['active', 'success', '0', '0'], 'the secrets unit ran once and succeeded');
  const exited = Number(svc.ExecMainExitTimestampMonotonic);
  const target = await show(c, TARGET, ['ActiveState', 'ActiveEnterTimestampMonotonic']);
  assert.equal(target.ActiveState, 'active', 'the target is reached');
  assert.ok(Number(target.ActiveEnterTimestampMonotonic) >= exited, 'the target is reached after the unit exits');
  // Early boot: before sysinit.target, so before every ordinary service (the NixOS module's unit
  // with a network source runs in multi-user.target instead).
  const sysinit = Number((await show(c, 'sysinit.target', ['ActiveEnterTimestampMonotonic'])).ActiveEnterTimestampMonotonic);
  if (options.early ?? true) assert.ok(sysinit >= exited, `sysinit.target (${sysinit}) is reached after the secrets unit exits (${exited})`);

  assert.equal((await c.sh('findmnt -n -o FSTYPE /run/secrets.d')).trim(), 'ramfs');
  assert.equal(await generation(c), expectedGeneration, `generation ${expectedGeneration} is live`);
  const app = await idOf(c, NAMED);
  assert.equal(await stat(c, '/run/secrets/db/password'), `${app} ${app} 440`);
  assert.equal(await stat(c, '/run/secrets/api/key'), `${app} ${app} 400`);
  assert.equal(await stat(c, '/run/secrets/app.env'), `${app} ${app} 400`);
  assert.equal(await stat(c, '/run/secrets/worker/token'), `${NUMERIC} ${ctx.worker.group} ${ctx.worker.mode.replace(/^0/, '')}`);
  assert.notEqual((await c.exec(['getent', 'passwd', String(NUMERIC)])).code, 0, 'the numeric owner has no passwd entry');
  assert.equal(await stat(c, '/run/secrets/tls/cert'), '0 0 444');
  assert.equal((await c.sh('readlink /etc/app/api-key')).trim(), '/run/secrets/api/key');
  assert.deepEqual(await published(c, Object.keys(FILES)), Object.fromEntries(Object.keys(FILES).map((n) => [n, sha256(ctx.current[n]!)])));

  for (const u of CONSUMERS) {
    const s = await waitFor(`${u} to start`, async () => {
      const s = await show(c, `${u}.service`, ['ActiveState', 'ExecMainStartTimestampMonotonic']);
      return s.ActiveState === 'active' && s;
    });
    assert.ok(Number(s.ExecMainStartTimestampMonotonic) >= Number(target.ActiveEnterTimestampMonotonic), `${u} starts after the target`);
  }
  const expected: Record<string, string> = {
    'consumer-env': 'db/password', // through the template, EnvironmentFile=
    'consumer-path': 'api/key', // through the custom path /etc/app/api-key
    'consumer-cred': 'worker/token', // DynamicUser= with LoadCredential=
    'consumer-reload': 'tls/cert',
    'consumer-bystander': 'static',
  };
  for (const [u, secret] of Object.entries(expected)) {
    assert.equal(await waitFor(`${u}'s observation`, () => observed(c, u)), sha256(ctx.current[secret]!), `${u} read the value of ${secret}`);
  }
}

/** Restarts the secrets unit (as an admin or a switch does) and waits until the job is done. */
async function rerun(c: Container): Promise<number | null> {
  return (await c.exec(['systemctl', 'restart', SERVICE], { timeoutMs: 120_000 })).code;
}

async function expectRestarts(ctx: Context, before: Record<string, string>, restarted: string[]): Promise<void> {
  const { c } = ctx;
  await waitFor(`${restarted.join(', ')} to restart`, async () => {
    const now = await invocations(c);
    for (const u of restarted) if (now[u] === before[u]) return false;
    for (const u of restarted) if ((await show(c, `${u}.service`, ['ActiveState'])).ActiveState !== 'active') return false;
    return true;
  });
  // A restart that should not happen would be queued by now (--no-block returns at once): give it time to show.
  await sleep(2_000);
  const now = await invocations(c);
  for (const u of CONSUMERS) {
    if (restarted.includes(u)) assert.notEqual(now[u], before[u], `${u} restarted`);
    else assert.equal(now[u], before[u], `${u} was not restarted`);
  }
}

/** Shorter waits for the retry scenarios; the settings under test (Restart=, RestartPreventExitStatus=) stay the unit's own. */
async function fastRetries(ctx: Context, on: boolean): Promise<void> {
  const dir = join(ctx.c.root, `etc/systemd/system/${SERVICE}.d`);
  if (on) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'test-fast-retries.conf'), `[Service]\nRestartSec=1s\nExecStart=\nExecStart=${ctx.w.execStart} --lock-timeout 1\n`);
  } else rmSync(dir, { recursive: true, force: true });
  await ctx.c.sh('systemctl daemon-reload');
}

const boot: Scenario = {
  name: 'boot: the unit runs before sysinit.target and its consumers; ramfs, owners (named, numeric, DynamicUser= through LoadCredential=), modes, template, custom path',
  async run(ctx) {
    const { c } = ctx;
    await checkBoot(ctx, 1);
    const units = await c.sh(`systemctl show -p Restart -p RestartPreventExitStatus -p Type -p RemainAfterExit ${SERVICE}`);
    assert.match(units, /Restart=on-failure/);
    assert.match(units, /RestartPreventExitStatus=64 65 69 70 74 77 78/);
    ctx.log(`units from ${UNIT_SOURCE === 'nixos' ? "the NixOS module's evaluation" : 'contrib/systemd'}; booted: ${(await c.sh('systemctl --version | head -1')).trim()}`);
  },
};

const change: Scenario = {
  name: 'change: new values → exactly the listed units restart (by InvocationID), through a template and a custom path',
  async run(ctx) {
    const before = await invocations(ctx.c);
    const gen = await generation(ctx.c);
    setValue(ctx, 'api/key', newValue('api'));
    setValue(ctx, 'db/password', newValue('db'));
    assert.equal(await rerun(ctx.c), 0);
    await expectRestarts(ctx, before, ['consumer-path', 'consumer-env']);
    assert.equal(await generation(ctx.c), gen + 1);
    assert.equal(await observed(ctx.c, 'consumer-path'), sha256(ctx.current['api/key']!));
    assert.equal(await observed(ctx.c, 'consumer-env'), sha256(ctx.current['db/password']!));
    assert.equal((await show(ctx.c, TARGET, ['ActiveState'])).ActiveState, 'active');
  },
};

const ownerMode: Scenario = {
  name: 'change: a new group and mode (same value) restart the listed unit',
  async run(ctx) {
    const before = await invocations(ctx.c);
    ctx.worker = { mode: '0440', group: NUMERIC + 1 };
    await ctx.w.configure(manifest(ctx));
    assert.equal(await rerun(ctx.c), 0);
    await expectRestarts(ctx, before, ['consumer-cred']);
    assert.equal(await stat(ctx.c, '/run/secrets/worker/token'), `${NUMERIC} ${NUMERIC + 1} 440`);
    assert.equal(await observed(ctx.c, 'consumer-cred'), sha256(ctx.current['worker/token']!));
  },
};

const reload: Scenario = {
  name: 'change: a secret in reloadUnits → its unit is reloaded, not restarted',
  async run(ctx) {
    const { c } = ctx;
    const before = await invocations(c);
    const reloads = async () => Number((await c.sh('cat /run/observed/consumer-reload.reloads 2>/dev/null | wc -l')).trim());
    const count = await reloads();
    setValue(ctx, 'tls/cert', newValue('cert'));
    assert.equal(await rerun(c), 0);
    await waitFor('the reload', async () => (await reloads()) === count + 1);
    await expectRestarts(ctx, before, []);
    assert.equal(await observed(c, 'consumer-reload'), sha256(ctx.current['tls/cert']!), 'the reload read the new value');
  },
};

const tamper: Scenario = {
  name: 'failure: a tampered source → exit 65, no retry, keep-previous, consumers keep running, the journal names the secret and no value; repaired → the target is active again',
  async run(ctx) {
    const { c } = ctx;
    await fastRetries(ctx, true);
    const file = join(c.root, SOURCES, FILES['api/key']!);
    const good = `${file}.good`;
    copyFileSync(file, good);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x01; // the last byte of the payload's authentication tag
    writeFileSync(file, bytes);
    const before = await invocations(c);
    const gen = await generation(c);
    const old = ctx.current['api/key']!;

    assert.notEqual(await rerun(c), 0, 'systemctl restart reports the failure');
    const failed = await show(c, SERVICE, ['ActiveState', 'Result', 'ExecMainStatus', 'NRestarts', 'InvocationID']);
    assert.deepEqual([failed.ActiveState, failed.Result, failed.ExecMainStatus], ['failed', 'exit-code', '65']);
    // RestartSec is 1 s here: a retry of exit 65 would have happened.
    await sleep(4_000);
    const later = await show(c, SERVICE, ['ActiveState', 'NRestarts', 'InvocationID']);
    assert.deepEqual([later.ActiveState, later.NRestarts, later.InvocationID], ['failed', failed.NRestarts, failed.InvocationID], 'exit 65 is not retried');
    // keep-previous: a new generation, the failed secret still holding its last good value.
    assert.equal(await generation(c), gen + 1);
    assert.deepEqual(await published(c, ['api/key']), { 'api/key': sha256(old) });
    assert.equal(await observed(c, 'consumer-path'), sha256(old));
    const target = (await show(c, TARGET, ['ActiveState'])).ActiveState;
    assert.notEqual(target, 'active', 'the target does not claim the secrets are ready');

    // Starting consumers while the unit is failed does not run the unit again (Requisite=; and the
    // unit is not among what every start pulls in, sysinit.target's wants). Several starts: whether
    // systemd would merge a stray start job with the target's check depends on job order.
    for (let i = 0; i < 4; i++) assert.equal((await c.exec(['systemctl', 'restart', 'consumer-bystander.service'])).code, 0);
    before['consumer-bystander'] = (await show(c, 'consumer-bystander.service', ['InvocationID'])).InvocationID!;
    const still = await show(c, SERVICE, ['ActiveState', 'InvocationID']);
    assert.deepEqual([still.ActiveState, still.InvocationID], ['failed', failed.InvocationID], 'a consumer start did not re-run the failed unit');
    await expectRestarts(ctx, before, []);

    const journal = await c.sh(`journalctl --no-pager -o cat -u ${SERVICE} _SYSTEMD_INVOCATION_ID=${failed.InvocationID}`);
    assert.match(journal, /api\/key/, 'the journal names the failed secret');
    await assertJournalClean(c);

    copyFileSync(good, file);
    rmSync(good);
    assert.equal(await rerun(c), 0);
    assert.equal((await show(c, SERVICE, ['Result'])).Result, 'success');
    await waitFor('the target to be active again', async () => (await show(c, TARGET, ['ActiveState'])).ActiveState === 'active');
  },
};

const tempfail: Scenario = {
  name: 'exit 75: a held lock → systemd retries; once its holder is gone, a retry succeeds and the target is active',
  async run(ctx) {
    const { c } = ctx;
    const gen = await generation(c);
    // A lock held by a live process of this boot (the owner record every run writes): another run.
    await c.sh('systemd-run -q --unit=lock-holder sleep 600');
    const pid = (await waitFor('the lock holder', async () => Number((await show(c, 'lock-holder.service', ['MainPID'])).MainPID))).toString();
    await c.sh(`mkdir /run/secrets.d.lock.new
      printf '{"pid":%d,"ns":"%s","boot":"%s","token":"held-by-the-system-test"}' ${pid} "$(readlink /proc/${pid}/ns/pid)" "$(cat /proc/sys/kernel/random/boot_id)" > /run/secrets.d.lock.new/owner
      mv -T /run/secrets.d.lock.new /run/secrets.d.lock`);
    await c.sh(`systemctl restart --no-block ${SERVICE}`);
    await waitFor('two retries', async () => Number((await show(c, SERVICE, ['NRestarts'])).NRestarts) >= 2, 60_000);
    const waiting = await show(c, SERVICE, ['ActiveState', 'SubState', 'InvocationID']);
    assert.equal(waiting.ActiveState, 'activating', 'still trying, not failed');
    assert.match(await c.sh(`journalctl --no-pager -o cat -u ${SERVICE} -n 50`), /status=75/);
    assert.equal(await generation(c), gen, 'nothing switched while the lock was held');

    await c.sh('systemctl stop lock-holder.service');
    await waitFor('a retry to succeed', async () => (await show(c, SERVICE, ['ActiveState'])).ActiveState === 'active', 30_000);
    assert.equal((await show(c, SERVICE, ['Result'])).Result, 'success');
    await waitFor('the target', async () => (await show(c, TARGET, ['ActiveState'])).ActiveState === 'active');
    assert.equal(await generation(c), gen + 1);
    await fastRetries(ctx, false);
  },
};

const reboot: Scenario = {
  name: 'reboot: generation 1 again from nothing, everything back',
  async run(ctx) {
    await assertJournalClean(ctx.c); // the journal is in memory: check it before it goes
    await ctx.c.poweroff();
    await ctx.c.boot();
    await checkBoot(ctx, 1);
  },
};

const bootRetry: Scenario = {
  name: 'boot with a temporary failure (exit 75): the boot goes on, systemd retries, the target is reached once a retry succeeds',
  async run(ctx) {
    const { c, w } = ctx;
    const dir = join(c.root, `etc/systemd/system/${SERVICE}.d`);
    mkdirSync(dir, { recursive: true });
    // Exit 75 until /run/materialize-test-ok exists; then the unit's own command.
    writeFileSync(join(dir, 'test-boot-retry.conf'), `[Service]\nRestartSec=2s\nExecStart=\nExecStart=/bin/sh -c 'test -e /run/materialize-test-ok || exit 75; exec ${w.execStart}'\n`);
    await c.poweroff();
    await c.boot(); // waits for the end of the boot: it must not wait for the retries
    assert.equal((await show(c, 'sysinit.target', ['ActiveState'])).ActiveState, 'active');
    await waitFor('a retry', async () => Number((await show(c, SERVICE, ['NRestarts'])).NRestarts) >= 1);
    assert.notEqual((await show(c, TARGET, ['ActiveState'])).ActiveState, 'active', 'no secrets yet, no target');
    assert.equal(await c.exec(['test', '-e', '/run/secrets']).then((r) => r.code), 1, 'nothing published yet');
    await c.sh('touch /run/materialize-test-ok');
    await waitFor('a retry to succeed', async () => (await show(c, SERVICE, ['ActiveState'])).ActiveState === 'active');
    await waitFor('the target', async () => (await show(c, TARGET, ['ActiveState'])).ActiveState === 'active');
    assert.equal(await generation(c), 1);
    assert.deepEqual(await published(c, Object.keys(FILES)), Object.fromEntries(Object.keys(FILES).map((n) => [n, sha256(ctx.current[n]!)])));
    rmSync(dir, { recursive: true, force: true });
    await c.sh('systemctl daemon-reload');
    // Consumers started during the boot without their secrets (and failed): start them now.
    await c.sh(`systemctl reset-failed; systemctl restart ${CONSUMERS.map((u) => `${u}.service`).join(' ')}`);
  },
};

const homeManager: Scenario = {
  name: 'home-manager: the user unit under systemctl --user with lingering; a change restarts a user consumer',
  async run(ctx) {
    const { c, w } = ctx;
    const uid = await idOf(c, USER);
    const secrets = { 'user/token': { sources: [{ age: { file: `/home/${USER}/secrets/token.age` } }], restartUnits: ['user-consumer.service'] } };
    const set = (v: string) => {
      ctx.current['user/token'] = v;
      ageFile(c.root, `/home/${USER}/secrets/token.age`, v);
    };
    set(newValue('user'));
    await w.configureUser({ secrets }, uid);
    await c.sh(`loginctl enable-linger ${USER}`);
    const user = (argv: string[]) => asUser(c, uid, argv);
    await waitFor('the user target', async () => (await user(['systemctl', '--user', 'is-active', TARGET])).stdout.trim() === 'active', 60_000);
    const runtime = `/run/user/${uid}`;
    assert.equal(await stat(c, `${runtime}/secrets/user/token`), `${uid} ${uid} 400`);
    assert.deepEqual(await published(c, ['user/token'], `${runtime}/secrets`), { 'user/token': sha256(ctx.current['user/token']!) });
    const consumer = async () => {
      const s = await show(c, 'user-consumer.service', ['ActiveState', 'InvocationID'], uid);
      if (s.ActiveState !== 'active') return undefined;
      const seen = await c.exec(['cat', `${runtime}/observed.${s.InvocationID}`]);
      return seen.code === 0 && seen.stdout.trim() ? { id: s.InvocationID!, seen: seen.stdout.trim() } : undefined;
    };
    const first = await waitFor('the user consumer', consumer);
    assert.equal(first.seen, sha256(ctx.current['user/token']!));

    set(newValue('user'));
    const r = await user(['systemctl', '--user', 'restart', 'materialize-secrets.service']);
    assert.equal(r.code, 0, r.stderr);
    const second = await waitFor('the user consumer to restart', async () => {
      const s = await consumer();
      return s && s.id !== first.id && s;
    });
    assert.equal(second.seen, sha256(ctx.current['user/token']!));
    assert.equal(await generation(c, `${runtime}/secrets`), 2);
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The least a Node program does to publish the same secrets (bench/floor.cjs): the timing's second reference. */
const FLOOR = fileURLToPath(new URL('../../bench/floor.cjs', import.meta.url));
const FLOOR_IN_CONTAINER = '/usr/local/lib/materialize-floor.cjs';

/** Medians of `rounds` interleaved runs: node -e 0 and the floor as oneshot units, and the secrets unit from its start to the target. */
export async function measureUnit(c: Container, rounds: number): Promise<{ node: number; floor: number; unit: number; program: number; post: number }> {
  const us = (s: Record<string, string>, k: string) => Number(s[k]);
  const node: number[] = [];
  const floor: number[] = [];
  const unit: number[] = [];
  const program: number[] = [];
  const post: number[] = [];
  for (let i = 0; i <= rounds; i++) {
    const oneshot = async (what: string, command: string) => {
      const name = `bench-${what}-${Date.now()}-${i}`;
      await c.sh(`systemd-run -q -u ${name} -p Type=oneshot -p RemainAfterExit=yes ${command}`);
      const times = await show(c, `${name}.service`, ['InactiveExitTimestampMonotonic', 'ActiveEnterTimestampMonotonic']);
      await c.sh(`systemctl stop ${name}.service`);
      return (us(times, 'ActiveEnterTimestampMonotonic') - us(times, 'InactiveExitTimestampMonotonic')) / 1000;
    };
    const n = await oneshot('node', '/usr/local/bin/node -e 0');
    const f = await oneshot('floor', `/usr/local/bin/node ${FLOOR_IN_CONTAINER} apply ${CONFIG}`);
    // reset-failed: systemd refuses a sixth start within 10 s (StartLimitBurst=) otherwise.
    await c.sh(`systemctl reset-failed ${SERVICE}`);
    assert.equal((await c.exec(['systemctl', 'start', SERVICE], { timeoutMs: 120_000 })).code, 0);
    const t = await waitFor('the target', async () => {
      const t = await show(c, TARGET, ['ActiveState', 'ActiveEnterTimestampMonotonic']);
      return t.ActiveState === 'active' && t;
    });
    const s = await show(c, SERVICE, ['InactiveExitTimestampMonotonic', 'ExecMainStartTimestampMonotonic', 'ExecMainExitTimestampMonotonic']);
    await c.sh(`systemctl stop ${TARGET} ${SERVICE}`);
    if (i === 0) continue; // warm-up: the first run also fills the page cache (and the compile cache)
    node.push(n);
    floor.push(f);
    unit.push((us(t, 'ActiveEnterTimestampMonotonic') - us(s, 'InactiveExitTimestampMonotonic')) / 1000);
    program.push((us(s, 'ExecMainExitTimestampMonotonic') - us(s, 'ExecMainStartTimestampMonotonic')) / 1000);
    post.push((us(t, 'ActiveEnterTimestampMonotonic') - us(s, 'ExecMainExitTimestampMonotonic')) / 1000);
  }
  return { node: median(node), floor: median(floor), unit: median(unit), program: median(program), post: median(post) };
}

/**
 * The unit's start-to-target time against node -e 0 (the secrets unit must be configured and
 * stopped), with the container's Node, then with each of `extraNodes` in its place: markdown rows.
 */
export async function timeUnitPerNode(c: Container, extraNodes: string[], rounds: number): Promise<string[]> {
  const installed = join(c.root, 'usr/local/bin/node');
  const original = `${installed}.original`;
  copyFileSync(installed, original);
  copyFileSync(FLOOR, join(c.root, FLOOR_IN_CONTAINER));
  const table = [
    '| Node | node -e 0 (a oneshot unit) | floor (a oneshot unit) | materialize-secrets start → target | ratio to node -e 0 | ratio to the floor | of which the program | program exit → target |',
    '|---|---|---|---|---|---|---|---|',
  ];
  try {
    for (const binary of ['', ...extraNodes]) {
      if (binary) {
        copyFileSync(binary, `${installed}.new`);
        chmodSync(`${installed}.new`, 0o755);
        renameSync(`${installed}.new`, installed);
      }
      const version = (await c.sh('/usr/local/bin/node --version')).trim();
      const m = await measureUnit(c, rounds);
      assert.ok(m.node > 0 && m.floor > 0 && m.unit > 0);
      table.push(`| ${version} | ${m.node.toFixed(1)} ms | ${m.floor.toFixed(1)} ms (${(m.floor / m.node).toFixed(2)}×) | ${m.unit.toFixed(1)} ms | **${(m.unit / m.node).toFixed(2)}×** | ${(m.unit / m.floor).toFixed(2)}× | ${m.program.toFixed(1)} ms | ${m.post.toFixed(1)} ms |`);
    }
  } finally {
    renameSync(original, installed);
  }
  return table;
}

/** 100 age secrets (the real age CLI) under /etc/materialize/secrets/bench: the timing's configuration. */
export function hundredSecrets(root: string): Manifest['secrets'] {
  const secrets: Manifest['secrets'] = {};
  for (let i = 0; i < 100; i++) {
    const file = `${SOURCES}/bench/s${i}.age`;
    ageFile(root, file, newValue(`bench${i}`));
    secrets[`svc${i % 10}/secret${i}`] = { sources: [{ age: { file } }] };
  }
  return secrets;
}

const timing: Scenario = {
  name: 'time: the unit from start to the target with 100 secrets, against node -e 0 in the same container',
  async run(ctx) {
    const { c, w } = ctx;
    await w.configure({ secrets: hundredSecrets(c.root) });
    await c.sh(`systemctl stop ${TARGET} ${SERVICE}`);
    const rounds = Number(process.env.SYSTEM_TIMING_ROUNDS ?? 7);
    const table = await timeUnitPerNode(c, (process.env.MATERIALIZE_TEST_EXTRA_NODES ?? '').split(':').filter(Boolean), rounds);
    ctx.results.push(...table);
    ctx.log(`100 age secrets, Debian 12 container (systemd 252), medians of ${rounds} interleaved runs, systemd's own timestamps:\n${table.join('\n')}`);
    await w.configure(manifest(ctx));
    assert.equal((await c.exec(['systemctl', 'start', SERVICE], { timeoutMs: 120_000 })).code, 0);
  },
};

const journal: Scenario = {
  name: 'the whole journal holds no secret value',
  async run(ctx) {
    await assertJournalClean(ctx.c);
  },
};

const REFRESH = 'materialize-secrets-refresh.service';
const TOKEN_FILE = '/etc/materialize/bws-token';
const CA_FILE = '/etc/materialize/bitwarden-ca.pem';

/** Installs consumer-bw (reads bw/token), enabled as `systemctl enable` does; or removes it. */
function networkConsumer(ctx: Context, on: boolean): void {
  const dir = join(ctx.c.root, 'etc/systemd/system');
  rmSync(join(dir, 'multi-user.target.wants/consumer-bw.service'), { force: true });
  rmSync(join(dir, 'consumer-bw.service'), { force: true });
  if (!on) return;
  writeFileSync(join(dir, 'consumer-bw.service'), NETWORK_CONSUMER);
  symlinkSync('../consumer-bw.service', join(dir, 'multi-user.target.wants/consumer-bw.service'));
}

const sealedBoot: Scenario = {
  name: 'network source unreachable at boot (Bitwarden Secrets Manager, its server stopped): the sealed value is published at once, the target is reached with every consumer running; the server back, the refresh publishes the rotated value and restarts only its consumer',
  async run(ctx) {
    const { c, w } = ctx;
    // The local Bitwarden server on the host's 127.0.0.1 (the container shares the host's network).
    const server = await BitwardenTestServer.start({ seed: 1313 });
    try {
      const token = server.accessToken();
      values.add(token);
      writeFileSync(join(c.root, TOKEN_FILE), `${token}\n`, { mode: 0o600 });
      copyFileSync(testCert().certFile, join(c.root, CA_FILE));
      const first = newValue('bw');
      const id = server.addSecret({ key: 'TOKEN', value: first });
      ctx.current['bw/token'] = first;
      const withNetwork = (): Manifest => ({
        ...manifest(ctx),
        providers: { bitwarden: { server: server.url, accessTokenFile: TOKEN_FILE, caFile: CA_FILE } },
        secrets: { ...manifest(ctx).secrets, 'bw/token': { sources: [{ bitwarden: { secret: id } }], mode: '0400', restartUnits: ['consumer-bw.service'] } },
      });
      networkConsumer(ctx, true);
      await w.configure(withNetwork());
      // The network is up: the values are fetched and sealed on disk.
      assert.equal(await rerun(c), 0);
      await c.sh('systemctl start consumer-bw.service');
      assert.equal(await waitFor('consumer-bw', () => observed(c, 'consumer-bw')), sha256(first));
      const seal = readFileSync(join(c.root, 'var/lib/materialize/sealed.age'));
      assert.equal(await stat(c, '/var/lib/materialize/sealed.age'), '0 0 600');
      for (const v of values) assert.equal(seal.indexOf(v), -1, 'no value in the seal in clear');
      assert.ok(server.requests.length > 0, 'the server was asked');

      // The server goes away, and the host reboots.
      await server.down();
      await assertJournalClean(c); // the journal is in memory: check it before it goes
      await c.poweroff();
      await c.boot();
      await checkBoot(ctx, 1, { early: UNIT_SOURCE === 'portable' });
      // Not ordered after network-online.target: nothing on the boot's critical path waits for it.
      const after = (await show(c, SERVICE, ['After'])).After!.split(' ');
      assert.ok(!after.includes('network-online.target'), `After=${after.join(' ')}`);
      const consumer = await waitFor('consumer-bw to start', async () => {
        const s = await show(c, 'consumer-bw.service', ['ActiveState', 'ExecMainStartTimestampMonotonic']);
        return s.ActiveState === 'active' && s;
      });
      const target = await show(c, TARGET, ['ActiveEnterTimestampMonotonic']);
      assert.ok(Number(consumer.ExecMainStartTimestampMonotonic) >= Number(target.ActiveEnterTimestampMonotonic), 'consumer-bw starts after the target');
      assert.equal(await waitFor("consumer-bw's observation", () => observed(c, 'consumer-bw')), sha256(first), 'the sealed value');
      const config = /--config (\S+)/.exec(w.execStart)![1]!;
      const status = JSON.parse((await c.exec([PROGRAM, 'status', '--json', '--config', config])).stdout);
      const entry = status.entries.find((e: { name: string }) => e.name === 'bw/token');
      assert.notEqual(entry.cached, null, 'status says the value came from the seal');
      assert.equal(status.network.seal.exists, true);
      // The refresh timer is waiting (its first run: minutes after boot, plus a random delay).
      assert.equal((await show(c, 'materialize-secrets-refresh.timer', ['ActiveState'])).ActiveState, 'active');

      // A refresh while the server is still away: exit 75, systemd retries (sooner here); the values stay.
      const dropIn = join(c.root, `etc/systemd/system/${REFRESH}.d`);
      mkdirSync(dropIn, { recursive: true });
      writeFileSync(join(dropIn, 'test-fast-retries.conf'), '[Service]\nRestartSec=2s\n');
      await c.sh('systemctl daemon-reload');
      const before: Record<string, string> = { ...(await invocations(c)), 'consumer-bw': (await show(c, 'consumer-bw.service', ['InvocationID'])).InvocationID! };
      assert.notEqual((await c.exec(['systemctl', 'start', REFRESH], { timeoutMs: 120_000 })).code, 0);
      assert.equal((await show(c, REFRESH, ['ExecMainStatus'])).ExecMainStatus, '75');
      await waitFor('a retry of the refresh', async () => Number((await show(c, REFRESH, ['NRestarts'])).NRestarts) >= 1);
      assert.deepEqual(await published(c, ['bw/token']), { 'bw/token': sha256(first) });

      // The server is back, with a new value: a retry publishes it and restarts consumer-bw only.
      const rotated = newValue('bw');
      server.setSecretValue(id, rotated);
      ctx.current['bw/token'] = rotated;
      await server.up();
      await waitFor('the refresh to succeed', async () => {
        const s = await show(c, REFRESH, ['ActiveState', 'Result']);
        return s.ActiveState === 'inactive' && s.Result === 'success';
      }, 60_000);
      assert.deepEqual(await published(c, ['bw/token']), { 'bw/token': sha256(rotated) });
      await waitFor('consumer-bw to restart', async () => (await show(c, 'consumer-bw.service', ['InvocationID'])).InvocationID !== before['consumer-bw']);
      assert.equal(await waitFor("consumer-bw's observation", () => observed(c, 'consumer-bw')), sha256(rotated));
      const now = await invocations(c);
      for (const u of CONSUMERS) assert.equal(now[u], before[u], `${u} was not restarted`);
      assert.equal((await show(c, TARGET, ['ActiveState'])).ActiveState, 'active');

      // Back to the age-only configuration for the scenarios after this one.
      rmSync(dropIn, { recursive: true, force: true });
      networkConsumer(ctx, false);
      await c.sh('systemctl stop consumer-bw.service materialize-secrets-refresh.timer');
      await w.configure(manifest(ctx));
      assert.equal(await rerun(c), 0);
    } finally {
      await server.stop();
    }
  },
};

/** In order. The network scenario reboots, so it comes before the user units are set up. */
export const scenarios: Scenario[] = [boot, change, ownerMode, reload, tamper, tempfail, reboot, bootRetry, sealedBoot, homeManager, timing, journal];

// Crash safety, proven: a run over hundreds of secrets is SIGKILLed at many of its checkpoints
// (MATERIALIZE_CRASH_AT) and at seeded random instants; after every kill secretsDir must show a
// complete generation (the old or the new one, never a mix), and the next run must clean up and
// succeed. Time limits leave room for a loaded 2-core machine (the checkpoint test took 177 s
// under load); a broken layout fails as an assertion naming what is missing, not as a raw ENOENT.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isRoot, runCli } from '../helpers/cli.js';
import { median, seededHex, seededRandom, testSeed } from '../helpers/random.js';
import { ageSource, applyJson, copyEncrypted, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { entries, isReserved, mountEntries, walk } from '../helpers/tree.js';
import { fakeSystemctl } from '../helpers/systemctl.js';
import { createGroup, createUser, groupId } from '../helpers/users.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

const COUNT = 300;
const DISTINCT = 12;
type Variant = 'A' | 'B';

interface Expected {
  files: Map<string, { data: string; uid: number; gid: number; mode: number }>;
  links: Map<string, string>;
  config: Record<string, unknown>;
}

const nameOf = (i: number) => (i % 3 === 0 ? `svc${i % 10}/s${i}` : `s${i}`);

/** A run's time limit: a run over 300 secrets takes seconds, even on a loaded machine. */
const RUN_LIMIT_MS = 180_000;

function buildVariants(world: World, owners: { uid: number; gid: number; user?: string; group?: { name: string; gid: number } }, random: () => number): Record<Variant, Expected> {
  const out = {} as Record<Variant, Expected>;
  for (const v of ['A', 'B'] as const) {
    // A few distinct ciphertexts per variant, copied under many names: same security, far fewer age runs.
    const values = Array.from({ length: DISTINCT }, (_, j) => `${v}-value-${j}-${seededHex(random, 6)}`);
    const files = values.map((value, j) => encrypt(world, `${v}/distinct-${j}.age`, value));
    const indices = v === 'A' ? [...Array(COUNT).keys()] : [...Array(COUNT).keys()].map((i) => i + 1); // B drops s0, adds s300
    const secrets: Record<string, unknown> = {};
    const expected: Expected = { files: new Map(), links: new Map(), config: {} };
    for (const i of indices) {
      const name = nameOf(i);
      const entry: Record<string, unknown> = { ...ageSource(copyEncrypted(world, files[i % DISTINCT]!, `${v}/${i}.age`)) };
      let mode = 0o400;
      if (v === 'A' && i % 7 === 0) mode = 0o440;
      if (v === 'B' && i % 11 === 0) mode = 0o640;
      if (mode !== 0o400) entry.mode = `0${mode.toString(8)}`;
      let { uid, gid } = { uid: process.getuid!(), gid: process.getgid!() };
      if (owners.user && ((v === 'A' && i % 5 === 0) || (v === 'B' && i % 13 === 0))) {
        entry.owner = owners.user;
        ({ uid, gid } = owners);
      }
      if (owners.group && v === 'B' && i % 17 === 0) {
        entry.group = owners.group.name;
        gid = owners.group.gid;
      }
      if (i === 1) entry.restartUnits = ['s1.service'];
      secrets[name] = entry;
      expected.files.set(name, { data: values[i % DISTINCT]!, uid, gid, mode });
    }
    // Custom paths: one kept, one moved between variants, one only in A (its secret goes away in B).
    const link = (i: number, file: string) => {
      const path = join(world.dir, 'links', file);
      (secrets[nameOf(i)] as Record<string, unknown>).path = path;
      expected.links.set(path, nameOf(i));
    };
    link(3, 'three');
    link(4, v === 'A' ? 'four-a' : 'four-b');
    if (v === 'A') link(0, 'zero');
    const self = { uid: process.getuid!(), gid: process.getgid!() };
    expected.files.set('app.env', { data: `ONE=${expected.files.get('s1')!.data}\nTWO=${expected.files.get('s2')!.data}\n`, ...self, mode: v === 'A' ? 0o440 : 0o400 });
    expected.config = {
      mount: isRoot ? 'ramfs' : 'none',
      keepGenerations: 2,
      secrets,
      templates: { 'app.env': { content: 'ONE={{s1}}\nTWO={{ s2 }}\n', mode: v === 'A' ? '0440' : '0400', reloadUnits: ['app.service'] } },
    };
    out[v] = expected;
  }
  return out;
}

/** Which variant the generation in `dir` is, asserting it is exactly one of them, complete. */
function variantOf(dir: string, variants: Record<Variant, Expected>, dirGid: number): Variant {
  assert.ok(existsSync(dir), `generation ${dir} does not exist (in ${dirname(dir)}: ${listing(dirname(dir))})`);
  const tree = walk(dir);
  const problems: string[] = [];
  for (const v of ['A', 'B'] as const) {
    const want = variants[v];
    const wrong: string[] = [];
    for (const [name, f] of want.files) {
      const got = tree[name];
      if (!got || got.type !== 'file') wrong.push(`${name} missing`);
      else if (Buffer.from(got.data!, 'base64').toString() !== f.data || got.uid !== f.uid || got.gid !== f.gid || got.mode !== `0${f.mode.toString(8)}`) wrong.push(`${name} differs`);
    }
    for (const [name, s] of Object.entries(tree)) {
      if (s.type === 'dir') {
        if (s.mode !== '0751' || (isRoot && (s.uid !== 0 || s.gid !== dirGid))) wrong.push(`dir ${name} is ${s.mode} ${s.uid}:${s.gid}`);
      } else if (!isReserved(name) && !want.files.has(name)) wrong.push(`${name} is extra`);
    }
    if (!tree['.materialize.json']) wrong.push('manifest missing');
    if (wrong.length === 0) return v;
    problems.push(`${v}: ${wrong.slice(0, 3).join(', ')} (${wrong.length} problems)`);
  }
  assert.fail(`${dir} is not a complete generation: ${problems.join('; ')}`);
}

/** What a directory holds, for messages ("absent" when it does not exist). */
function listing(dir: string): string {
  return existsSync(dir) ? readdirSync(dir).join(' ') || 'nothing' : 'absent';
}

function liveDir(world: World): string {
  assert.ok(isLink(world.secretsDir), `secretsDir ${world.secretsDir} is not a symlink (in ${dirname(world.secretsDir)}: ${listing(dirname(world.secretsDir))})`);
  const target = readlinkSync(world.secretsDir);
  assert.equal(dirname(target), world.mountPoint, 'secretsDir points into the mount point');
  return target;
}

/** Everything a finished run must leave: one complete live generation of `v`, links, no leftovers. */
function assertClean(world: World, variants: Record<Variant, Expected>, v: Variant, dirGid: number): void {
  const live = liveDir(world);
  assert.equal(variantOf(live, variants, dirGid), v);
  const liveN = Number(basename(live));
  const inMount = mountEntries(world.mountPoint);
  assert.deepEqual(inMount.filter((n) => !/^[0-9]+$/.test(n)), [], 'no temporary dirs in the mount point');
  const numbers = inMount.map(Number);
  assert.ok(numbers.every((n) => n <= liveN), `no generation above the live one (${inMount.join(' ')})`);
  assert.ok(numbers.length <= 2, `keepGenerations 2 holds (${inMount.join(' ')})`);
  for (const n of numbers) variantOf(join(world.mountPoint, String(n)), variants, dirGid);
  assert.deepEqual(entries(dirname(world.secretsDir)).filter((n) => n !== 'secrets' && n !== 'secrets.d'), [], 'no temporary symlinks, no lock left');
  for (const [path, name] of variants[v].links) {
    assert.equal(readlinkSync(path), join(world.secretsDir, name), `${path} links ${name}`);
    const f = variants[v].files.get(name)!;
    if (isRoot) assert.deepEqual([lstatSync(path).uid, lstatSync(path).gid], [f.uid, f.gid], `${path} is lchowned`);
  }
  const otherLinks = [...variants[v === 'A' ? 'B' : 'A'].links.keys()].filter((p) => !variants[v].links.has(p));
  for (const p of otherLinks) assert.ok(!existsSync(p) && !isLink(p), `${p} (not wanted by ${v}) was removed`);
  assert.deepEqual(entries(join(world.dir, 'links')).filter((n) => n.startsWith('.')), [], 'no temporary custom-path links');
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const checkpointsOf = (stderr: string) => Number(/materialize: (\d+) checkpoints passed/.exec(stderr)?.[1]);

test('a run killed at any checkpoint leaves a complete generation, and the next run recovers', { timeout: 900_000 }, async (t) => {
  const world = makeWorld(t, 'materialize-crash-');
  const user = isRoot ? createUser(t) : undefined;
  const group = isRoot ? createGroup(t) : undefined;
  const dirGid = groupId('keys') ?? 0;
  const variants = buildVariants(world, user ? { uid: user.uid, gid: user.gid, user: user.name, group: group! } : { uid: 0, gid: 0 }, seededRandom(11));
  const outputs = (v: Variant) => variants[v].files.size;

  // Units too: s1 and the template change at every switch, so every completed run owes these calls.
  const systemctl = fakeSystemctl(world.dir);
  const owed = ['--no-block try-restart -- s1.service', '--no-block try-reload-or-restart -- app.service'];
  const run = (env: Record<string, string> = {}) => runCli(['apply', '--units', 'yes', '--config', world.configFile], { env: { ...systemctl.env, ...env }, timeoutMs: RUN_LIMIT_MS });

  writeConfig(world, variants.A.config);
  const first = await applyJson(world);
  assert.equal(first.code, 0, first.stderr);
  assertClean(world, variants, 'A', dirGid);

  // Learn each transition's checkpoint count from a run that passes them all.
  const counts = {} as Record<Variant, number>;
  for (const v of ['B', 'A'] as const) {
    writeConfig(world, variants[v].config);
    const r = await run({ MATERIALIZE_CRASH_AT: '1000000' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(systemctl.take(), owed);
    counts[v] = checkpointsOf(r.stderr);
    // start, one per file, manifest, publish, temp link, switch, custom paths (1 or 2 change), prune
    assert.ok(counts[v] >= outputs(v) + 6, `checkpoint count ${counts[v]} for ${outputs(v)} outputs`);
    assertClean(world, variants, v, dirGid);
  }

  // Crash points per direction: the first ones, a spread over the file writes, then every
  // checkpoint from the last file through manifest, publish, switch, custom paths and prune.
  const points = (v: Variant) => {
    const n = counts[v];
    const f = outputs(v);
    const set = new Set([1, 2]);
    for (let k = 3; k < f; k += Math.floor(f / 11)) set.add(k);
    for (let k = f; k <= n; k++) set.add(k);
    return [...set].sort((a, b) => a - b);
  };
  let current: Variant = 'A';
  let exercised = 0;
  // Variants alternate, so every killed run goes from one content to the other.
  const queue = { A: points('A'), B: points('B') };
  while (queue.A.length + queue.B.length > 0) {
    const next: Variant = current === 'A' ? 'B' : 'A';
    const k = queue[next].shift();
    if (k === undefined) {
      // Only the other direction has points left: switch over cleanly.
      writeConfig(world, variants[next].config);
      assert.equal((await run()).code, 0);
      systemctl.take();
      current = next;
      continue;
    }
    writeConfig(world, variants[next].config);
    const crashed = await run({ MATERIALIZE_CRASH_AT: String(k) });
    assert.equal(crashed.signal, 'SIGKILL', `run to ${next} was killed at checkpoint ${k} (exit ${crashed.code}: ${crashed.stderr})`);
    exercised++;
    const seen = variantOf(liveDir(world), variants, dirGid);
    // The switch is the rename after checkpoint f+4: before it the old generation shows, after it the new.
    assert.equal(seen, k <= outputs(next) + 4 ? current : next, `after a kill at checkpoint ${k} of ${counts[next]} (${current} -> ${next})`);
    assert.deepEqual(systemctl.take(), [], 'the killed run never reached its units');

    const recovered = await run();
    assert.equal(recovered.code, 0, `recovery after a kill at ${k}: ${recovered.stderr}`);
    assertClean(world, variants, next, dirGid);
    // Killed before the switch: the next run sees the change itself. After it: the units are owed.
    assert.deepEqual(systemctl.take(), owed, `units after a kill at ${k}`);
    current = next;
  }
  t.diagnostic(`crash points exercised: ${exercised} (checkpoints per run: A ${counts.A}, B ${counts.B})`);
  assert.ok(exercised >= 40, `at least 40 crash points (${exercised})`);
});

/** Whether a killed run left work in progress (a lock, a temp generation or link): it was killed mid-run. */
function leftWork(world: World): boolean {
  return readdirSync(world.mountPoint).some((n) => !/^\d+$/.test(n)) || readdirSync(join(world.dir, 'run')).some((n) => n !== 'secrets' && n !== 'secrets.d');
}

test('a run killed from outside at random instants leaves a complete generation', { timeout: 600_000 }, async (t) => {
  const random = seededRandom(12);
  const world = makeWorld(t, 'materialize-kill-');
  const dirGid = groupId('keys') ?? 0;
  const variants = buildVariants(world, { uid: 0, gid: 0 }, random);
  const durations: number[] = [];
  let current: Variant = 'A';
  /** A run to the other variant that must finish; its duration measures a warm run. */
  const complete = async () => {
    const next: Variant = current === 'A' ? 'B' : 'A';
    writeConfig(world, { ...variants[next].config, mount: 'none' }); // the fsync'ing path, where the first test uses ramfs
    const started = Date.now();
    const r = await runCli(['apply', '--config', world.configFile, '-q'], { timeoutMs: RUN_LIMIT_MS });
    assert.equal(r.code, 0, r.stderr);
    durations.push(Date.now() - started);
    assertClean(world, variants, next, dirGid);
    current = next;
  };
  await complete(); // cold: compiles and fills the page cache; not a measure of a run
  durations.length = 0;
  await complete();
  await complete();

  const delays: number[] = [];
  let killed = 0;
  let midRun = 0;
  for (let round = 0; round < 6; round++) {
    // Two kills in a row sometimes, so a run that is cleaning up after a crash is killed too.
    for (let kill = 0; kill < 1 + (round % 2); kill++) {
      const next: Variant = current === 'A' ? 'B' : 'A';
      writeConfig(world, { ...variants[next].config, mount: 'none' });
      // Uniform over most of a warm run (re-measured as the test goes): past start-up, before the end.
      const delay = Math.round(median(durations) * (0.2 + 0.8 * random()));
      delays.push(delay);
      const r = await runCli(['apply', '--config', world.configFile, '-q'], { timeoutMs: delay });
      const seen = variantOf(liveDir(world), variants, dirGid);
      if (r.signal === null) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(seen, next, 'a run that finished published its generation');
      } else {
        assert.equal(r.signal, 'SIGKILL');
        killed++;
        assert.ok(seen === current || seen === next, `after a kill at ${delay} ms the live generation is the old or the new one`);
        // Mid-run: the kill left a lock or temp files behind, or landed after the switch.
        if (leftWork(world) || seen !== current) midRun++;
      }
      current = seen;
    }
    await complete();
  }
  t.diagnostic(`seed ${testSeed}: a warm run takes ~${median(durations)} ms; killed after ${delays.join(', ')} ms: ${killed} of ${delays.length} runs killed, ${midRun} of them mid-run`);
  assert.ok(killed >= 3, `most runs must actually be killed (${killed} of ${delays.length})`);
  assert.ok(midRun >= 2, `kills must land while a run is working, not only during start-up (${midRun} of ${killed})`);
});

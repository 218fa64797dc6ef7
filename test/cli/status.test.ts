// `materialize status`, human and --json: the live generation, and per secret its path, owner,
// mode, size, freshness, stale mark and custom-path link; exit 1 when nothing is live. Never a value.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, runCli } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

interface StatusJson {
  secretsDir: string;
  live: { generation: number; dir: string; createdAt: string | null; config: string | null } | null;
  foreignTarget: string | null;
  generations: number[];
  entries: { name: string; kind: string; file: string; present: boolean; owner: string; group: string; mode: string | null; size: number | null; source: string; fetchedAt: string; stale: { reason: string; since: string } | null; path: string | null; linked: boolean | null }[];
}

test('status shows paths, owners, modes, sizes, freshness and stale marks, as text and as JSON', async (t) => {
  const world = makeWorld(t);
  const a = encrypt(world, 'a.age', 'status-value-aaaa');
  const b = encrypt(world, 'b.age', 'status-value-bbbbbbbb');
  const link = join(world.dir, 'home/b');
  writeConfig(world, { keepGenerations: 3, secrets: { 'db/a': { ...ageSource(a), mode: '0440' }, b: { ...ageSource(b), path: link } }, templates: { 'a.env': { content: 'A={{db/a}}\n' } } });
  assert.equal((await apply(world)).code, 0);
  writeFileSync(b, 'not an age file any more');
  assert.equal((await apply(world)).code, 65);

  const json = await runCli(['status', '--json', '--config', world.configFile]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as StatusJson;
  assert.deepEqual([report.secretsDir, report.live?.generation, report.live?.dir, report.live?.config, report.generations], [world.secretsDir, 2, join(world.mountPoint, '2'), world.configFile, [1, 2]]);
  const me = isRoot ? 'root' : String(process.getuid!());
  const byName = Object.fromEntries(report.entries.map((e) => [e.name, e]));
  assert.deepEqual(Object.keys(byName), ['a.env', 'b', 'db/a']);
  const e = byName['db/a']!;
  assert.deepEqual([e.kind, e.file, e.present, e.mode, e.size, e.source, e.stale, e.path, e.linked], ['secret', join(world.secretsDir, 'db/a'), true, '0440', 17, `age ${a}`, null, null, null]);
  if (isRoot) assert.deepEqual([e.owner, e.group], [me, 'root']);
  const stale = byName.b!;
  assert.deepEqual([stale.size, stale.path, stale.linked, stale.source], [21, link, true, `age ${b}`]);
  assert.match(stale.stale!.reason, /b\.age: not a valid age file/);
  assert.equal(stale.fetchedAt, JSON.parse(readFileSync(join(world.mountPoint, '1/.materialize.json'), 'utf8')).entries.b.fetchedAt, 'when it was last fetched');
  assert.deepEqual([byName['a.env']!.kind, byName['a.env']!.source, byName['a.env']!.size], ['template', 'template', 'A=status-value-aaaa\n'.length]);

  const human = await runCli(['status', '--config', world.configFile]);
  assert.equal(human.code, 0);
  const lines = human.stdout.split('\n');
  assert.match(lines[0]!, new RegExp(`^${world.secretsDir} -> ${world.mountPoint}/2 \\(generation 2, made \\S+; kept: 1, 2\\)$`));
  assert.match(lines[1]!, /^ {2}NAME +MODE +OWNER:GROUP +SIZE +FRESHNESS$/);
  assert.match(human.stdout, /^ {2}db\/a +0440 +\S+:\S+ +17 B +fetched \S+ from age .*a\.age$/m);
  assert.match(human.stdout, new RegExp(`^ {2}b +0400 +\\S+:\\S+ +21 B +STALE since \\S+: .*not a valid age file.* -> ${link}$`, 'm'));

  // The same through --secrets-dir, with a custom path gone and a file missing from the generation.
  unlinkSync(link);
  rmSync(join(world.mountPoint, '2/a.env'));
  const direct = JSON.parse((await runCli(['status', '--json', '--secrets-dir', world.secretsDir])).stdout) as StatusJson;
  assert.equal(direct.entries.find((x) => x.name === 'b')!.linked, false);
  assert.deepEqual([direct.entries.find((x) => x.name === 'a.env')!.present, direct.entries.find((x) => x.name === 'a.env')!.size], [false, null]);
  const text = (await runCli(['status', '--secrets-dir', world.secretsDir])).stdout;
  assert.match(text, /^ {2}a\.env +---- .* MISSING$/m);
  assert.match(text, /\(link missing\)$/m);
});

test('status exits 1 when nothing is live, and says when secretsDir is not ours', async (t) => {
  const world = makeWorld(t);
  const none = await runCli(['status', '--secrets-dir', world.secretsDir]);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, `${world.secretsDir}: no live generation\n`);
  const json = JSON.parse((await runCli(['status', '--json', '--secrets-dir', world.secretsDir])).stdout) as StatusJson;
  assert.deepEqual([json.live, json.entries], [null, []]);
  symlinkSync(world.dir, world.secretsDir.replace('/run/', '/'));
  const foreign = await runCli(['status', '--secrets-dir', world.secretsDir.replace('/run/', '/')]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stdout, /points at .*, which materialize does not manage/);
});

// Generations: numbering across runs and after the secretsDir symlink vanishes (a reboot), pruning
// with keepGenerations 0/1/5, and the removal of what killed runs leave behind.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_SKIP, isRoot } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { mountsAt, unmount } from '../helpers/mounts.js';
import { entries, liveNumber, mountEntries } from '../helpers/tree.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

function oneSecret(world: World, config: Record<string, unknown> = {}): void {
  writeConfig(world, { secrets: { token: ageSource(encrypt(world, 'token.age', 'generation-token-value')) }, ...config });
}

async function applyOk(world: World): Promise<number> {
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  return report.generation!;
}

test('generations are numbered 1, 2, 3 and secretsDir follows the newest', async (t) => {
  const world = makeWorld(t);
  oneSecret(world, { keepGenerations: 0 });
  for (const n of [1, 2, 3]) {
    assert.equal(await applyOk(world), n);
    assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, String(n)));
    assert.equal(readFileSync(join(world.secretsDir, 'token'), 'utf8'), 'generation-token-value');
  }
  assert.deepEqual(mountEntries(world.mountPoint), ['1', '2', '3']);
});

test('mount "none": after the symlink vanishes (reboot), numbering continues past what is on disk', async (t) => {
  const world = makeWorld(t);
  oneSecret(world, { keepGenerations: 0 });
  for (let i = 0; i < 3; i++) await applyOk(world);
  unlinkSync(world.secretsDir);
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.equal(report.generation, 4);
  assert.equal(report.previousGeneration, null, 'no generation was live');
  assert.deepEqual(report.units, { restart: [], reload: [] });
  assert.deepEqual(mountEntries(world.mountPoint), ['1', '2', '3', '4'], 'the old generations stay on disk');
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '4'));
});

test('mount "ramfs": after a reboot (ramfs gone, symlink gone) numbering starts at 1', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  oneSecret(world, { mount: 'ramfs' });
  await applyOk(world);
  assert.equal(await applyOk(world), 2);
  assert.equal(mountsAt(world.mountPoint).length, 1, 'mounted once, not once per run');
  unmount(world.mountPoint);
  unlinkSync(world.secretsDir);
  assert.deepEqual(mountEntries(world.mountPoint), [], 'the ramfs took its generations with it');
  assert.equal(await applyOk(world), 1);
  assert.deepEqual(mountsAt(world.mountPoint).map((m) => m.fsType), ['ramfs'], 'mounted again');
  assert.equal(readFileSync(join(world.secretsDir, 'token'), 'utf8'), 'generation-token-value');
});

test('mount "ramfs": a symlink left pointing into an unmounted ramfs is not a live generation', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  oneSecret(world, { mount: 'ramfs' });
  await applyOk(world);
  await applyOk(world);
  unmount(world.mountPoint);
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.equal(report.previousGeneration, null);
  assert.equal(report.generation, 1);
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '1'));
});

for (const [keep, expected] of [
  [0, ['1', '2', '3', '4', '5', '6', '7']],
  [1, ['7']],
  [5, ['3', '4', '5', '6', '7']],
] as const) {
  test(`keepGenerations ${keep} keeps ${expected.length} generation(s), the live one among them`, async (t) => {
    const world = makeWorld(t);
    oneSecret(world, { keepGenerations: keep });
    const pruned: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { code, report } = await applyJson(world);
      assert.equal(code, 0);
      pruned.push(...report.pruned);
    }
    assert.deepEqual(mountEntries(world.mountPoint), expected);
    assert.equal(liveNumber(world.secretsDir), 7);
    assert.deepEqual(pruned, keep === 0 ? [] : [1, 2, 3, 4, 5, 6].slice(0, 7 - keep));
  });
}

test('leftovers of killed runs are removed: temp dirs, generations above the live one, temp symlinks', async (t) => {
  const world = makeWorld(t);
  oneSecret(world);
  await applyOk(world);
  mkdirSync(join(world.mountPoint, '.tmp-2-99999/sub'), { recursive: true });
  writeFileSync(join(world.mountPoint, '.tmp-2-99999/sub/half'), 'half-written');
  mkdirSync(join(world.mountPoint, '.tmp-pruned-0'));
  mkdirSync(join(world.mountPoint, '2'));
  mkdirSync(join(world.mountPoint, '7'));
  symlinkSync(join(world.mountPoint, '2'), join(world.dir, 'run/.secrets.tmp-99999'));
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.equal(report.generation, 2, 'numbered after the live one, not after the leftovers');
  assert.deepEqual(
    report.cleaned.sort(),
    [join(world.mountPoint, '.tmp-2-99999'), join(world.mountPoint, '.tmp-pruned-0'), join(world.mountPoint, '2'), join(world.mountPoint, '7'), join(world.dir, 'run/.secrets.tmp-99999')].sort(),
  );
  assert.deepEqual(mountEntries(world.mountPoint), ['2']);
  assert.deepEqual(entries(join(world.dir, 'run')), ['secrets', 'secrets.d']);
});

test('a secretsDir that is a real directory (left by another tool) is moved aside, never deleted, and the symlink put there', async (t) => {
  const world = makeWorld(t);
  oneSecret(world, { mount: isRoot ? 'ramfs' : 'none' });
  // sops-nix's own NixOS test (age-keys) does `mkdir /run/secrets` first and expects the symlink.
  mkdirSync(world.secretsDir, { recursive: true });
  writeFileSync(join(world.secretsDir, 'hand-made'), 'keep me');
  const dry = await apply(world, ['--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /secrets is a directory, not a symlink: a real run moves it aside \(to .*secrets\.materialize-displaced-<UTC time>\)/);
  assert.deepEqual(entries(world.secretsDir), ['hand-made'], 'a dry run moves nothing');

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(report.displaced.length, 1);
  const moved = report.displaced[0]!;
  assert.equal(moved.path, world.secretsDir);
  assert.equal(moved.what, 'directory');
  assert.match(moved.to, new RegExp(`^${world.secretsDir}\\.materialize-displaced-\\d{8}T\\d{6}Z$`));
  assert.match(stderr, /warning: moved aside .*secrets \(a directory where the symlink to the live generation goes\) to /);
  assert.equal(readFileSync(join(moved.to, 'hand-made'), 'utf8'), 'keep me');
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '1'));
  assert.equal(readFileSync(join(world.secretsDir, 'token'), 'utf8'), 'generation-token-value');

  // A plain file there next time, twice within one second if the machine is quick: two names.
  for (const n of [1, 2]) {
    unlinkSync(world.secretsDir);
    writeFileSync(world.secretsDir, `file ${n}`);
    const again = await applyJson(world);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.report.displaced[0]!.what, 'file');
  }
  const aside = entries(join(world.dir, 'run')).filter((n) => n.includes('.materialize-displaced-'));
  assert.equal(aside.length, 3, aside.join(' '));
  const files = aside.map((n) => join(world.dir, 'run', n)).filter((p) => p !== moved.to);
  assert.deepEqual(files.map((p) => readFileSync(p, 'utf8')).sort(), ['file 1', 'file 2']);
});

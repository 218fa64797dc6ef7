// --dry-run fetches and compares but writes nothing: no generation dir, no symlink change, no
// mount, no lock; it reports what would be added, changed, removed and restarted.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT_SKIP } from '../helpers/cli.js';
import { ageSource, apply, applyJson, encrypt, makeWorld, statuses, writeConfig } from '../helpers/fixtures.js';
import { entries, snapshotLive, walk } from '../helpers/tree.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

test('a dry run before any generation mounts nothing and creates nothing', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  writeConfig(world, { mount: 'ramfs', secrets: { s: { ...ageSource(encrypt(world, 's.age', 'dry-run-first-value')), path: join(world.dir, 'link') } } });
  const { code, report } = await applyJson(world, ['--dry-run']);
  assert.equal(code, 0);
  assert.deepEqual([report.dryRun, report.switched, report.generation, report.previousGeneration], [true, false, null, null]);
  assert.deepEqual(statuses(report), { s: 'added' });
  assert.deepEqual(entries(world.dir).sort(), ['key.txt', 'secrets.json', 'src'], 'no run dir (so no mount), no link, no lock');
});

test('a dry run reports added, changed, removed and the units that would restart, and writes nothing', async (t) => {
  const world = makeWorld(t);
  const one = encrypt(world, 'one.age', 'dry-run-value-one');
  const two = encrypt(world, 'two.age', 'dry-run-value-two');
  writeConfig(world, {
    secrets: {
      same: ageSource(one),
      content: { ...ageSource(one), restartUnits: ['content.service'] },
      mode: { ...ageSource(one), reloadUnits: ['mode.service'] },
      gone: { ...ageSource(one), restartUnits: ['gone.service'], path: join(world.dir, 'gone-link') },
    },
  });
  assert.equal((await apply(world)).code, 0);
  const before = { live: snapshotLive(world.secretsDir), run: walk(join(world.dir, 'run')), top: entries(world.dir) };

  writeConfig(world, {
    secrets: {
      same: ageSource(one),
      content: { ...ageSource(two), restartUnits: ['content.service'] },
      mode: { ...ageSource(one), mode: '0440', reloadUnits: ['mode.service'] },
      fresh: { ...ageSource(two), restartUnits: ['fresh.service'], path: join(world.dir, 'fresh-link') },
    },
  });
  const { code, report } = await applyJson(world, ['--dry-run']);
  assert.equal(code, 0);
  assert.deepEqual(statuses(report), { same: 'unchanged', content: 'changed', mode: 'changed', fresh: 'added', gone: 'removed' });
  assert.deepEqual(report.entries.find((e) => e.name === 'content')!.aspects, ['content']);
  assert.deepEqual(report.entries.find((e) => e.name === 'mode')!.aspects, ['mode']);
  // A secret added to a running system restarts its units too (they may have started without it).
  assert.deepEqual(report.units, { restart: ['content.service', 'fresh.service', 'gone.service'], reload: ['mode.service'] });
  assert.deepEqual([report.switched, report.generation, report.previousGeneration, report.pruned, report.cleaned], [false, null, 1, [], []]);

  const human = await apply(world, ['--dry-run']);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /^dry run: nothing was written\. Live generation: 1\.$/m);
  assert.match(human.stdout, /^would restart: content\.service fresh\.service gone\.service$/m);
  assert.match(human.stdout, /^would reload: mode\.service$/m);
  assert.match(human.stdout, /^ {2}removed +gone/m);

  assert.deepEqual({ live: snapshotLive(world.secretsDir), run: walk(join(world.dir, 'run')), top: entries(world.dir) }, before, 'nothing changed on disk');
});

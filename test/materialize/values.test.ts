// Values arrive byte for byte: binary with NULs, empty, armored age files, one file shared by two
// secrets; templates render `{{ name }}` and `\{{`; a name can turn from a file into a directory.
import { testNeeding, AGE_SKIP } from '../helpers/tools.js';
import assert from 'node:assert/strict';
import { randomBytes } from '../age/helpers/tools.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues } from '../helpers/cli.js';
import { ageSource, applyJson, encrypt, makeWorld, statuses, writeConfig } from '../helpers/fixtures.js';

// Every test here drives the age CLI: without it, each skips saying so.
const test = testNeeding(AGE_SKIP);

test('values are written byte for byte, and templates render them', async (t) => {
  const world = makeWorld(t);
  const binary = Buffer.concat([Buffer.from([0, 0, 255, 10, 13]), randomBytes(64 * 1024), Buffer.from([0])]);
  const text = 'values-test-plain-8e1';
  const shared = encrypt(world, 'shared.age', text);
  writeConfig(world, {
    secrets: {
      binary: ageSource(encrypt(world, 'binary.age', binary)),
      empty: ageSource(encrypt(world, 'empty.age', '')),
      armored: ageSource(encrypt(world, 'armored.age', 'values-test-armored-44', { armor: true })),
      'one/copy': ageSource(shared),
      'two words/ключ': ageSource(shared),
    },
    templates: { 'conf/app.ini': { content: 'a={{one/copy}}\nb={{ two words/ключ }}\nliteral=\\{{one/copy}}\nempty=[{{empty}}]\n', mode: '0440' } },
  });
  registerSecretValues(binary.subarray(5, 200));
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  const read = (name: string) => readFileSync(join(world.secretsDir, name));
  assert.ok(read('binary').equals(binary));
  assert.equal(read('empty').length, 0);
  assert.equal(read('armored').toString(), 'values-test-armored-44');
  assert.equal(read('one/copy').toString(), text);
  assert.equal(read('two words/ключ').toString(), text);
  assert.equal(read('conf/app.ini').toString(), `a=${text}\nb=${text}\nliteral={{one/copy}}\nempty=[]\n`);
  assert.deepEqual(
    report.entries.map((e) => [e.name, e.size]),
    [
      ['binary', binary.length],
      ['empty', 0],
      ['armored', 22],
      ['one/copy', text.length],
      ['two words/ключ', text.length],
      ['conf/app.ini', read('conf/app.ini').length],
    ],
  );
});

test('a name can become a directory in the next generation (a → a/b)', async (t) => {
  const world = makeWorld(t);
  const file = encrypt(world, 'v.age', 'file-to-dir-value-6');
  writeConfig(world, { secrets: { a: { ...ageSource(file), restartUnits: ['a.service'] } } });
  assert.equal((await applyJson(world)).code, 0);
  writeConfig(world, { secrets: { 'a/b': { ...ageSource(file), restartUnits: ['b.service'] } } });
  const { code, report } = await applyJson(world);
  assert.equal(code, 0);
  assert.deepEqual(statuses(report), { 'a/b': 'added', a: 'removed' });
  assert.deepEqual(report.units.restart, ['a.service', 'b.service']);
  assert.equal(readFileSync(join(world.secretsDir, 'a/b'), 'utf8'), 'file-to-dir-value-6');
});

// Templates from a file (sops-nix's `templates.<n>.file`): the text is read from the file when the
// configuration is loaded — relative to secrets.json — with the same placeholders as `content`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ageSource, applyJson, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';

test('a template "file" renders like "content": read at run time, relative to secrets.json, placeholders filled', async (t) => {
  const world = makeWorld(t);
  const db = encrypt(world, 'db.age', 'template-file-db-value');
  mkdirSync(join(world.dir, 'tpl'));
  // Written by hand, as a Nix `pkgs.writeText` would leave it in the store.
  writeFileSync(join(world.dir, 'tpl/app.env'), 'DB_PASSWORD={{ db }}\nLITERAL=\\{{ kept }}\n');
  writeConfig(world, {
    secrets: { db: ageSource(db) },
    templates: { 'app.env': { file: 'tpl/app.env', mode: '0440' }, inline: { content: 'X={{db}}' } },
  });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(readFileSync(join(world.secretsDir, 'app.env'), 'utf8'), 'DB_PASSWORD=template-file-db-value\nLITERAL={{ kept }}\n');
  assert.equal(readFileSync(join(world.secretsDir, 'inline'), 'utf8'), 'X=template-file-db-value');
  assert.deepEqual(report.entries.map((e) => [e.name, e.kind, e.status, e.mode]), [
    ['db', 'secret', 'added', '0400'],
    ['app.env', 'template', 'added', '0440'],
    ['inline', 'template', 'added', '0400'],
  ]);

  // The file is read on every run: editing it changes the rendering (and nothing else).
  writeFileSync(join(world.dir, 'tpl/app.env'), 'PASSWORD={{db}}\n');
  const next = await applyJson(world);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(readFileSync(join(world.secretsDir, 'app.env'), 'utf8'), 'PASSWORD=template-file-db-value\n');
  assert.deepEqual(next.report.entries.filter((e) => e.status !== 'unchanged').map((e) => [e.name, e.status]), [['app.env', 'changed']]);
});

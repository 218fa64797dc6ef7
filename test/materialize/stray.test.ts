// Files in the live generation that its manifest does not name — dropped there by hand, or a whole
// generation made by sops-nix or agenix, which number theirs the same way behind the same kind of
// symlink — are reported as removed (by name, with why), and are not carried into the next one.
// sops-nix's own NixOS test ("change detection" in checks/nixos-test.nix) expects exactly this:
// `: > /run/secrets/another_key` then a switch reports "removing secret: another_key".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ageSource, applyJson, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { contents, entries, snapshotLive } from '../helpers/tree.js';

test('files dropped into the live generation by hand are reported removed, and the next generation has none of them', async (t) => {
  const world = makeWorld(t);
  const v = encrypt(world, 'v.age', 'stray-test-value-1');
  writeConfig(world, { secrets: { test_key: ageSource(v) }, templates: { 'rendered/test_template': { content: 'a secret: {{test_key}}\n' } } });
  assert.equal((await applyJson(world)).code, 0);
  writeFileSync(join(world.secretsDir, 'another_key'), '');
  writeFileSync(join(world.secretsDir, 'rendered/another_template'), '');

  const dry = await applyJson(world, ['--dry-run']);
  assert.deepEqual(dry.report.entries.filter((e) => e.status === 'removed').map((e) => e.name), ['another_key', 'rendered/another_template']);

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  const removed = report.entries.filter((e) => e.status === 'removed');
  assert.deepEqual(removed.map((e) => [e.name, e.stray]), [['another_key', true], ['rendered/another_template', true]]);
  assert.match(removed[0]!.reason!, /not in the manifest of generation 1 \(left by another tool or by hand\)/);
  assert.deepEqual(Object.keys(contents(snapshotLive(world.secretsDir).tree)).sort(), ['rendered/test_template', 'test_key']);
  assert.deepEqual(report.units, { restart: [], reload: [] }, 'no unit is known for a stray file');
});

test("a live generation made by another tool (sops-nix's layout, no manifest): configured names are compared, the rest reported removed", async (t) => {
  const world = makeWorld(t);
  const v = encrypt(world, 'v.age', 'stray-test-value-2');
  // What sops-install-secrets leaves: /run/secrets -> /run/secrets.d/1, templates under rendered/.
  const theirs = join(world.mountPoint, '1');
  mkdirSync(join(theirs, 'rendered'), { recursive: true });
  writeFileSync(join(theirs, 'test_key'), 'stray-test-value-2');
  chmodSync(join(theirs, 'test_key'), 0o644);
  writeFileSync(join(theirs, 'old_key'), 'x');
  writeFileSync(join(theirs, 'rendered/old_template'), 'y');
  symlinkSync(theirs, world.secretsDir);
  writeConfig(world, { secrets: { test_key: { ...ageSource(v), mode: '0400' } } });

  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(report.previousGeneration, 1);
  assert.equal(report.generation, 2);
  const byName = Object.fromEntries(report.entries.map((e) => [e.name, e]));
  assert.equal(byName.test_key!.status, 'changed');
  assert.deepEqual(byName.test_key!.aspects, ['mode'], 'same bytes: only the mode differs (0644 there, 0400 here)');
  assert.deepEqual([byName.old_key!.status, byName['rendered/old_template']!.status], ['removed', 'removed']);
  assert.deepEqual(entries(join(world.mountPoint, '2')).filter((n) => !n.startsWith('.')), ['test_key']);
});

// The fault hooks that the crash tests use (MATERIALIZE_CRASH_AT, MATERIALIZE_STOP_AT) exist in the
// test build only: in the shipped build no environment variable can make a run kill or stop itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCTION_CLI, SHIPPED_FILES } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';

test('MATERIALIZE_CRASH_AT kills a run of the test build at its first checkpoint, and does nothing to the production build', async (t) => {
  const world = makeWorld(t, 'materialize-hooks-');
  writeConfig(world, { secrets: { a: ageSource(encrypt(world, 'a.age', 'hook-test-value-a')) } });
  const testBuild = await apply(world, ['-q'], { env: { MATERIALIZE_CRASH_AT: '1' } });
  assert.equal(testBuild.signal, 'SIGKILL', 'the test build obeys the hook');
  const production = await apply(world, ['-q'], { env: { MATERIALIZE_CRASH_AT: '1', MATERIALIZE_STOP_AT: '1' }, cli: PRODUCTION_CLI });
  assert.equal(production.signal, null, production.stderr);
  assert.equal(production.code, 0, production.stderr);
  assert.equal(readFileSync(join(world.secretsDir, 'a'), 'utf8'), 'hook-test-value-a');
  // And the hooks' names are not even in the shipped code.
  for (const file of SHIPPED_FILES) assert.doesNotMatch(readFileSync(file, 'utf8'), /MATERIALIZE_(CRASH|STOP)_AT/, file);
});

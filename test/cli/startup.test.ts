// Start-up cost, tested as behaviour (the timings themselves are `npm run bench`'s): what a run
// loads and does that it does not need. Node's own list of loaded built-in modules is the oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_FILES, runCli } from '../helpers/cli.js';
import { ageSource, apply, encrypt, makeWorld, writeConfig } from '../helpers/fixtures.js';
import { AGE_SKIP } from '../helpers/tools.js';

test('the shipped bundle takes Node built-ins with require(), never as ES imports', () => {
  const files = SHIPPED_FILES;
  // An ES import of a builtin makes Node read every export of it: node:fs's lazy getters then load
  // fs/promises and the stream modules. (The banner's node:module import is the one exception.)
  const esImports = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:from\s*|import\s*\(\s*)["'](node:[\w/]+|fs|path|crypto|os)["']/g)].map((m) => `${f}: ${m[1]}`));
  assert.deepEqual(esImports.filter((i) => !i.endsWith(': node:module')), []);
});

const RECORDER = fileURLToPath(new URL('./helpers/record-builtins.cjs', import.meta.url));

/** The built-in modules a run of the CLI loaded after Node's own start-up (Node's process.moduleLoadList). */
async function builtinsLoadedBy(args: string[], dir: string): Promise<string[]> {
  const out = join(dir, `builtins-${args[0]}-${Date.now()}.txt`);
  const r = await runCli(args, { env: { NODE_OPTIONS: `--require ${RECORDER}`, MATERIALIZE_TEST_BUILTINS: out } });
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

test('--version prints through write(2): no stream module is loaded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-startup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const loaded = await builtinsLoadedBy(['--version'], dir);
  assert.ok(loaded.includes('process'), `the recorder works (${loaded.join(', ')})`);
  for (const unused of ['stream', 'internal/streams/writable', 'internal/fs/sync_write_stream', 'net', 'tty']) assert.ok(!loaded.includes(unused), `${unused} was loaded: ${loaded.join(', ')}`);
});

test('apply of age secrets loads neither node:assert, the fs streams nor fs/promises', { skip: AGE_SKIP }, async (t) => {
  const world = makeWorld(t);
  writeConfig(world, { secrets: { a: ageSource(encrypt(world, 'a.age', 'startup-value-1')) } });
  assert.equal((await apply(world, ['-q'])).code, 0);
  const loaded = await builtinsLoadedBy(['apply', '--config', world.configFile, '--units', 'no'], world.dir);
  assert.ok(loaded.includes('crypto'), `the recorder works: age needs node:crypto (${loaded.join(', ')})`);
  // (The program is one script, not ES modules: not even Node 20's ES module loader, which reads
  // every module through fs/promises, runs.)
  for (const unused of ['assert', 'internal/fs/streams', 'net', 'tty', 'internal/fs/promises', 'internal/readline/interface']) {
    assert.ok(!loaded.includes(unused), `${unused} was loaded: ${loaded.join(', ')}`);
  }
});

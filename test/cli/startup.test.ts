// Start-up cost, tested as behaviour (the timings themselves are `npm run bench`'s): what a run
// loads and does that it does not need. Node's own list of loaded built-in modules is the oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCTION_CLI } from '../helpers/cli.js';

test('the shipped bundle takes Node built-ins with require(), never as ES imports', () => {
  const dist = join(PRODUCTION_CLI, '..');
  const files = [join(dist, 'cli.js'), ...readdirSync(join(dist, 'chunks')).filter((f) => f.endsWith('.js')).map((f) => join(dist, 'chunks', f))];
  // An ES import of a builtin makes Node read every export of it: node:fs's lazy getters then load
  // fs/promises and the stream modules. (The banner's node:module import is the one exception.)
  const esImports = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:from\s*|import\s*\(\s*)["'](node:[\w/]+|fs|path|crypto|os)["']/g)].map((m) => `${f}: ${m[1]}`));
  assert.deepEqual(esImports.filter((i) => !i.endsWith(': node:module')), []);
});

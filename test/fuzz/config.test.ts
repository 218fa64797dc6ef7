// Property-based fuzzing of secrets.json: random documents and mutations of a valid one must
// either load or fail with a ConfigError whose issues name a path — never any other exception.
// A sample of the mutated documents then goes through the real CLI against a live generation:
// a documented exit code, no stack trace, and the live generation still complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP } from '../helpers/tools.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { runs, seed } from './seed.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { registerSecretValues, runCli } from '../helpers/cli.js';

const DOCUMENTED = new Set([0, 64, 65, 69, 74, 75, 77, 78]);

function baseConfig(dir: string, files: Record<string, string>, key: string) {
  return {
    version: 1,
    secretsDir: join(dir, 'secrets'),
    mountPoint: join(dir, 'secrets.d'),
    mount: 'none',
    keepGenerations: 2,
    failurePolicy: 'keep-previous',
    keys: { ageKeyFiles: [key], sshKeyPaths: [], gnupgHome: null },
    secrets: {
      'db/password': { sources: [{ age: { file: files.a } }], mode: '0400', restartUnits: ['db.service'] },
      token: { sources: [{ age: { file: files.b } }, { age: { file: files.a } }], path: join(dir, 'links/token'), optional: false },
      extra: { sources: [{ age: { file: files.b } }], optional: true },
    },
    templates: { 'app.env': { content: 'A={{db/password}}\nB={{ token }}\n', mode: '0440' } },
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (list of keys/indexes) in a JSON document, so a mutation can target any of them. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

type Mutation = { at: number; op: 'delete' | 'replace' | 'add'; key: string; value: Json };

function mutate(doc: Json, mutations: Mutation[]): Json {
  const copy = structuredClone(doc);
  for (const m of mutations) {
    const all = paths(copy);
    const path = all[m.at % all.length]!;
    if (path.length === 0) continue;
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, copy) as Record<string | number, Json> | Json[];
    const last = path.at(-1)!;
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last as string];
    } else if (m.op === 'replace') (parent as Record<string | number, Json>)[last] = structuredClone(m.value);
    else {
      // Copies: fast-check reuses generated values while shrinking, and later mutations edit in place.
      const target = (parent as Record<string | number, Json>)[last];
      if (target && typeof target === 'object' && !Array.isArray(target)) target[m.key] = structuredClone(m.value);
    }
  }
  return copy;
}

const mutationArb = fc.record({
  at: fc.nat(),
  op: fc.constantFrom<'delete' | 'replace' | 'add'>('delete', 'replace', 'add'),
  key: fc.oneof(fc.string(), fc.constantFrom('..', '/abs', 'a//b', 'mode', 'owner', 'sources', 'age', 'file', 'path', '.materialize')),
  value: fc.oneof(
    fc.jsonValue() as fc.Arbitrary<Json>,
    fc.constantFrom<Json>('0999', 'rwx', '4755', '0640', -1, 65536, '', '/etc/shadow', '../x', 'nobody-here', [], {}, null, true),
  ),
});

/** Loads one document; returns "ok" or "config-error", and fails the property on anything else. */
function loadOutcome(text: string): 'ok' | 'config-error' {
  try {
    parseConfig(text, '/fuzz/secrets.json');
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof ConfigError, `unexpected ${(error as Error)?.name}: ${(error as Error)?.message}`);
    assert.ok(error.issues.length > 0);
    for (const issue of error.issues) assert.ok(issue.message.length > 0);
    return 'config-error';
  }
}

/** Unmounts whatever the program mounted under `dir` (a mutation may turn "none" into "ramfs"). */
function unmountUnder(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) execFileSync('umount', ['-l', p]);
}

/** Keeps a mutated config inside the sandbox: absolute paths elsewhere are re-rooted under `dir`. */
function confine(value: Json, dir: string): Json {
  if (typeof value === 'string') return value.startsWith('/') && !value.startsWith(`${dir}/`) ? join(dir, 'elsewhere', value) : value;
  if (Array.isArray(value)) return value.map((v) => confine(v, dir));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, confine(v, dir)]));
  return value;
}

function fixtures(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-fuzz-'));
  t.after(() => {
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  const key = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
  const recipient = /public key: (age1\w+)/.exec(readFileSync(key, 'utf8'))![1]!;
  const files = { a: join(dir, 'a.age'), b: join(dir, 'b.age') };
  execFileSync('age', ['-r', recipient, '-o', files.a], { input: 'fuzz-value-alpha-7f3e' });
  execFileSync('age', ['-r', recipient, '-a', '-o', files.b], { input: 'fuzz-value-bravo-91c2' });
  registerSecretValues('fuzz-value-alpha-7f3e', 'fuzz-value-bravo-91c2');
  return { dir, key, files };
}

test('random JSON documents never crash the loader', () => {
  let ran = 0;
  fc.assert(
    fc.property(fc.jsonValue(), (doc) => {
      ran++;
      loadOutcome(JSON.stringify(doc));
    }),
    { numRuns: runs(3000) },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      ran++;
      loadOutcome(text);
    }),
    { numRuns: runs(2000) },
  );
  assert.equal(ran, runs(3000) + runs(2000));
});

test('mutations of a valid secrets.json load or fail with a located ConfigError', { skip: needs(AGE_SKIP) }, (t) => {
  const { dir, key, files } = fixtures(t);
  const base = baseConfig(dir, files, key) as unknown as Json;
  assert.equal(loadOutcome(JSON.stringify(base)), 'ok');
  const counts = { ok: 0, 'config-error': 0 };
  fc.assert(
    fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (mutations) => {
      counts[loadOutcome(JSON.stringify(mutate(base, mutations)))]++;
    }),
    { numRuns: runs(5000) },
  );
  t.diagnostic(`${runs(5000)} mutated documents: ${counts.ok} loaded, ${counts['config-error']} rejected with located errors`);
  assert.ok(counts.ok > 100 && counts['config-error'] > 100, 'the mutations must exercise both outcomes');
});

test('text-level damage to secrets.json (bytes flipped, cut, inserted) is a clear error', { skip: needs(AGE_SKIP) }, (t) => {
  const { dir, key, files } = fixtures(t);
  const text = JSON.stringify(baseConfig(dir, files, key), null, 2);
  let ran = 0;
  fc.assert(
    fc.property(fc.nat(text.length - 1), fc.constantFrom('flip', 'cut', 'insert'), fc.string({ minLength: 1, maxLength: 3 }), (at, how, s) => {
      ran++;
      const damaged = how === 'cut' ? text.slice(0, at) : how === 'insert' ? text.slice(0, at) + s + text.slice(at) : text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 0x20) + text.slice(at + 1);
      loadOutcome(damaged);
    }),
    { numRuns: runs(3000) },
  );
  assert.equal(ran, runs(3000));
});

test('mutated configs through the CLI: documented exit codes, no stack traces, live generation intact', { skip: needs(AGE_SKIP) }, async (t) => {
  const { dir, key, files } = fixtures(t);
  const base = baseConfig(dir, files, key) as unknown as Json;
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(base));
  const first = await runCli(['apply', '--config', good, '--units', 'no']);
  assert.equal(first.code, 0, first.stderr);

  // The run's seed (FUZZ_SEED; npm run fuzz picks a random one), and FUZZ_SCALE's multiple of 60.
  const count = runs(60);
  const samples = fc.sample(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), { numRuns: count, seed });
  const seen = new Map<number, number>();
  for (const [i, mutations] of samples.entries()) {
    // Three levels deep, so relative paths with "../" in them stay inside the sandbox too.
    const file = join(dir, 'c/o/n', `m${i}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(confine(mutate(base, mutations), dir)));
    const r = await runCli(['apply', '--config', file, '--units', 'no', '--lock-timeout', '5', '--timeout', '10']);
    seen.set(r.code ?? -1, (seen.get(r.code ?? -1) ?? 0) + 1);
    assert.ok(DOCUMENTED.has(r.code ?? -1), `mutation ${i}: undocumented exit ${r.code}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at .+:\d+:\d+/, `mutation ${i}: crash or stack trace: ${r.stderr}`);
    // Whatever happened, the base layout's secretsDir (if the mutation kept it) is a complete generation.
    const secretsDir = join(dir, 'secrets');
    const live = readlinkSync(secretsDir);
    const manifest = JSON.parse(readFileSync(join(live, '.materialize.json'), 'utf8')) as { entries: Record<string, unknown> };
    for (const name of Object.keys(manifest.entries)) assert.ok(existsSync(join(live, name)), `mutation ${i}: ${name} listed but missing in ${live}`);
  }
  assert.equal(samples.length, count);
  t.diagnostic(`${count} mutated configs through the CLI (seed ${seed}); exit codes seen: ${[...seen].map(([c, n]) => `${c}×${n}`).join(', ')}`);
});

// End to end through the built CLI: a secrets.json with sops sources (relative paths, every format,
// list indexes, subtrees, non-string values, a fallback, a template), `apply` writes the right files,
// and `check` validates without decrypting and points at the exact JSON path of a bad key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP, GPG_SKIP } from '../../helpers/tools.js';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { copyGnupgHome, keyFile, SOPS_AGE, SOPS_NIX, tempDir } from './helpers/keys.js';

registerSecretValues('test_value', 'another value', 'binary_value\n', 'Welcome to SOPS! Edit this file as you please!', 'example_value', 'give you up', 'this is a secret');

const sops = (file: string, key?: string, format?: string) => ({ sops: { file, ...(key !== undefined ? { key } : {}), ...(format ? { format } : {}) } });

interface Setup {
  dir: string;
  secretsDir: string;
  write: (secrets: Record<string, unknown>, extra?: Record<string, unknown>) => string;
}

/** sops-nix's files of every format and sops-age's under `sops/`, with the age keys and GnuPG home that open them. */
function setup(t: TestContext): Setup {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'sops'));
  for (const f of ['secrets.yaml', 'secrets.json', 'secrets.bin', 'secrets.env', 'secrets.ini']) cpSync(join(SOPS_NIX, f), join(dir, 'sops', f));
  cpSync(join(SOPS_AGE, 'secret.enc.json'), join(dir, 'sops/typed.json'));
  cpSync(join(SOPS_AGE, 'secret.enc.yaml'), join(dir, 'sops/typed.yaml'));
  // One file has one format in a configuration: the JSON file read as YAML is a copy of its own.
  cpSync(join(SOPS_NIX, 'secrets.json'), join(dir, 'sops/json-read-as-yaml.json'));
  const keys = { ageKeyFiles: [keyFile(dir, join(SOPS_NIX, 'age-keys.txt')), keyFile(dir, join(SOPS_AGE, 'key.txt'), 'sops-age.key')], gnupgHome: copyGnupgHome(t, dir) };
  const secretsDir = join(dir, 'run/secrets');
  return {
    dir,
    secretsDir,
    write: (secrets, extra = {}) => writeConfigIn(dir, { keys, secrets, ...extra }).config,
  };
}

test('apply materializes sops secrets of every format, relative to the config directory', { skip: needs(AGE_SKIP, GPG_SKIP) }, async (t) => {
  const s = setup(t);
  const config = s.write(
    {
      'db/password': { sources: [sops('sops/secrets.yaml', 'test_key')] },
      'list-item': { sources: [sops('sops/secrets.yaml', 'a_list/1')] },
      'whole.yaml': { sources: [sops('sops/secrets.yaml')] },
      'json-value': { sources: [sops('sops/secrets.json', 'test_key')] },
      'typed/int': { sources: [sops('sops/typed.json', 'int')] },
      'typed/float': { sources: [sops('sops/typed.yaml', 'float')] },
      'typed/bool': { sources: [sops('sops/typed.yaml', 'boolean')] },
      'complex.json': { sources: [sops('sops/typed.json', 'complex')] },
      'env/hello': { sources: [sops('sops/secrets.env', 'hello')] },
      'app.env': { sources: [sops('sops/secrets.env')] },
      'ini-key': { sources: [sops('sops/secrets.ini', 'Welcome!/example_key')] },
      blob: { sources: [sops('sops/secrets.bin')] },
      'yaml-as-json': { sources: [sops('sops/json-read-as-yaml.json', 'test_key', 'yaml')] },
      fallback: { sources: [sops('sops/secrets.yaml', 'no/such/key'), sops('sops/secrets.yaml', 'nested/test/file')] },
    },
    { templates: { 'app.conf': { content: 'password={{db/password}}\nitem={{list-item}}\n' } } },
  );
  const run = await runCli(['apply', '--config', config, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { entries: { name: string; status: string; source?: string }[] };
  assert.ok(report.entries.every((e) => e.status === 'added'), run.stdout);
  assert.equal(report.entries.find((e) => e.name === 'db/password')!.source, `sops ${join(s.dir, 'sops/secrets.yaml')}#test_key`);
  assert.equal(report.entries.find((e) => e.name === 'fallback')!.source, `sops ${join(s.dir, 'sops/secrets.yaml')}#nested/test/file`);
  const read = (name: string) => readFileSync(join(s.secretsDir, name), 'utf8');
  assert.equal(read('db/password'), 'test_value');
  assert.equal(read('list-item'), 'e3');
  assert.equal(read('whole.yaml'), 'test_key: test_value\na_list:\n    - e1\n    - e3\nnested:\n    test:\n        file: another value\n');
  assert.equal(read('json-value'), 'test_value');
  assert.equal(read('typed/int'), '7');
  assert.equal(read('typed/float'), '3.14');
  assert.equal(read('typed/bool'), 'true');
  assert.deepEqual(JSON.parse(read('complex.json')), { value: 'this is a secret', array: ['one', 'two', 'three'] });
  assert.equal(read('env/hello'), 'Welcome to SOPS! Edit this file as you please!');
  assert.match(read('app.env'), /^# This is an example file\.\nhello=Welcome to SOPS!.*\nnever_gonna=give you up\n$/s);
  assert.equal(read('ini-key'), 'example_value');
  assert.equal(read('blob'), 'binary_value\n');
  assert.equal(read('yaml-as-json'), 'test_value');
  assert.equal(read('fallback'), 'another value');
  assert.equal(read('app.conf'), 'password=test_value\nitem=e3\n');
});

test('check validates sops sources without decrypting, with JSON paths for bad keys and files', async (t) => {
  const s = setup(t);
  const good = s.write({
    'db/password': { sources: [sops('sops/secrets.yaml', 'nested/test/file')] },
    'list/1': { sources: [sops('sops/secrets.yaml', 'a_list/1')] },
    ini: { sources: [sops('sops/secrets.ini', 'Welcome!/hello')] },
    env: { sources: [sops('sops/secrets.env', 'never_gonna')] },
  });
  const ok = await runCli(['check', '--config', good]);
  assert.equal(ok.code, 0, ok.stderr);

  // At build time there are no keys at all: check still passes (it never decrypts).
  const noKeys = join(s.dir, 'nokeys.json');
  const parsed = JSON.parse(readFileSync(good, 'utf8'));
  writeFileSync(noKeys, JSON.stringify({ ...parsed, keys: { ageKeyFiles: [], gnupgHome: null } }));
  const skip = await runCli(['check', '--skip-keys', '--config', noKeys]);
  assert.equal(skip.code, 0, skip.stderr);

  const bad = s.write({
    'db/x': { sources: [sops('sops/secrets.yaml', 'nested/missing')] },
    'list/9': { sources: [sops('sops/secrets.yaml', 'a_list/9')] },
    'ini/x': { sources: [sops('sops/secrets.ini', 'Welcome!/nope')] },
    gone: { sources: [sops('sops/absent.yaml', 'a')] },
    plain: { sources: [sops('sops/not-sops.yaml', 'a')] },
  });
  writeFileSync(join(s.dir, 'sops/not-sops.yaml'), 'a: b\n');
  const run = await runCli(['check', '--config', bad]);
  assert.equal(run.code, 78, run.stderr);
  assert.match(run.stderr, /secrets\["db\/x"\]\.sources\[0\]\.sops\.key: \S+secrets\.yaml has no key "nested\/missing": "nested" has keys "test"/);
  assert.match(run.stderr, /secrets\["list\/9"\]\.sources\[0\]\.sops\.key: \S+ has no key "a_list\/9": "a_list" is a list of 2 items, index 9 is out of range/);
  assert.match(run.stderr, /secrets\["ini\/x"\]\.sources\[0\]\.sops\.key: \S+secrets\.ini has no key "Welcome!\/nope": section "Welcome!" has keys "hello", "example_key", "never_gonna"/);
  assert.match(run.stderr, /secrets\.gone\.sources\[0\]\.sops\.file: \S+absent\.yaml does not exist/);
  assert.match(run.stderr, /secrets\.plain\.sources\[0\]\.sops\.file: \S+not-sops\.yaml: not a valid sops yaml file: it has no sops metadata/);
});

test('a key that cannot name anything in its format is a configuration error at load', async (t) => {
  const s = setup(t);
  const config = s.write({
    'bin/x': { sources: [sops('sops/secrets.bin', 'data')] },
    'ini/x': { sources: [sops('sops/secrets.ini', 'hello')] },
    'yaml/x': { sources: [sops('sops/secrets.yaml', 'a//b')] },
    'fmt/x': { sources: [sops('sops/secrets.yaml', 'a', 'toml')] },
  });
  for (const command of ['check', 'apply']) {
    const run = await runCli([command, '--config', config]);
    assert.equal(run.code, 78, run.stderr);
    assert.match(run.stderr, /secrets\["bin\/x"\]\.sources\[0\]\.sops\.key: a binary sops file holds a single value: leave "key" out/);
    assert.match(run.stderr, /secrets\["ini\/x"\]\.sources\[0\]\.sops\.key: INI keys are written "section\/key" \(use "DEFAULT\/hello" for a key before any section\)/);
    assert.match(run.stderr, /secrets\["yaml\/x"\]\.sources\[0\]\.sops\.key: "a\/\/b" has an empty segment/);
    assert.match(run.stderr, /secrets\["fmt\/x"\]\.sources\[0\]\.sops\.format: /);
  }
});

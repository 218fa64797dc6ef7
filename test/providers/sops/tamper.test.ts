// A modified sops file is refused as a whole, through the real CLI: one flipped base64 character in a
// value or in the MAC, a changed lastmodified, swapped values, a dropped key, a plaintext slipped in,
// a removed MAC. Exit 65, the error names the file, the live generation stays as it was, and no
// secret from that file (not even an untouched one) gets a new value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP } from '../../helpers/tools.js';
import { copyFileSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { ageKey, keyFile, SOPS_NIX, tempDir } from './helpers/keys.js';
import { ageWrap, enc, map, newDataKey, writeSops } from './helpers/writer.js';

registerSecretValues('test_value', 'another value', 'injected-value', 'other-file-v1', 'other-file-v2');

const ORIGINAL = readFileSync(join(SOPS_NIX, 'secrets.yaml'), 'utf8');

/** Changes the first base64 character after `marker` to another base64 character. */
function flipAfter(text: string, marker: string): string {
  const at = text.indexOf(marker) + marker.length;
  assert.ok(at >= marker.length, marker);
  const c = text[at]!;
  return text.slice(0, at) + (c === 'A' ? 'B' : 'A') + text.slice(at + 1);
}

/** The line of `key` and its `ENC[…]` value, as two groups. */
const encOf = (key: string) => new RegExp(`^( *(?:- )?${key}:? ?)(ENC\\[[^\\]]+\\])`, 'm');

/** Swaps the `ENC[…]` values of the lines `a` and `b` match (encOf), keeping their keys. */
function swapLines(text: string, a: RegExp, b: RegExp): string {
  const va = a.exec(text)![2]!;
  const vb = b.exec(text)![2]!;
  return text.replace(a, `$1\u0000`).replace(b, `$1${va}`).replace('\u0000', vb);
}

const TAMPERS: [string, (text: string) => string, RegExp][] = [
  ['one base64 character of a value', (t) => flipAfter(t, 'test_key: ENC[AES256_GCM,data:'), /refused: the value at test_key cannot be decrypted: authentication failed/],
  ['one base64 character of the MAC', (t) => flipAfter(t, 'mac: ENC[AES256_GCM,data:'), /refused: the MAC cannot be decrypted/],
  ['lastmodified', (t) => t.replace('lastmodified: "2021-09-30T19:49:41Z"', 'lastmodified: "2021-09-30T19:49:42Z"'), /refused: the MAC cannot be decrypted \(the MAC or lastmodified was modified\)/],
  ['two list items swapped (same additional data)', (t) => {
    const items = [...t.matchAll(/^ {4}- (ENC\[[^\]]+\])$/gm)].map((m) => m[1]!);
    return t.replace(items[0]!, '\u0000').replace(items[1]!, items[0]!).replace('\u0000', items[1]!);
  }, /refused: MAC mismatch/],
  ['two values of different keys swapped', (t) => swapLines(t, encOf('test_key'), encOf('file')), /refused: the value at test_key cannot be decrypted: authentication failed/],
  ['a key dropped', (t) => t.replace(/^test_key: .*\n/m, ''), /refused: MAC mismatch/],
  ['a plaintext value slipped in', (t) => t.replace(encOf('file'), '$1injected-value'), /refused: the value at nested\/test\/file cannot be decrypted: it should be encrypted but is not/],
  ['the MAC removed', (t) => t.replace(/^ {4}mac: .*\n/m, ''), /refused: the file has no MAC/],
];

interface Setup {
  dir: string;
  file: string;
  config: string;
  secretsDir: string;
}

/** sops-nix's secrets.yaml and three of its secrets (`extra` besides), opened with its age key and `ageKeyFiles`. */
function setup(t: TestContext, failurePolicy: 'abort' | 'keep-previous', extra: Record<string, unknown> = {}, ageKeyFiles: string[] = []): Setup {
  const dir = tempDir(t);
  const file = join(dir, 'secrets.yaml');
  copyFileSync(join(SOPS_NIX, 'secrets.yaml'), file);
  const source = (key: string) => ({ sources: [{ sops: { file: 'secrets.yaml', key } }] });
  const { config, secretsDir } = writeConfigIn(dir, {
    failurePolicy,
    keys: { ageKeyFiles: [keyFile(dir, join(SOPS_NIX, 'age-keys.txt')), ...ageKeyFiles] },
    secrets: { test: source('test_key'), first: source('a_list/0'), nested: source('nested/test/file'), ...extra },
  });
  return { dir, file, config, secretsDir };
}

const read = (s: Setup, name: string) => readFileSync(join(s.secretsDir, name), 'utf8');

test('every kind of tampering is refused; the live generation and its files stay as they were', async (t) => {
  const s = setup(t, 'abort');
  const first = await runCli(['apply', '--config', s.config]);
  assert.equal(first.code, 0, first.stderr);
  const live = readlinkSync(s.secretsDir);
  assert.deepEqual([read(s, 'test'), read(s, 'first'), read(s, 'nested')], ['test_value', 'e1', 'another value']);

  for (const [what, tamper, expected] of TAMPERS) {
    const tampered = tamper(ORIGINAL);
    assert.notEqual(tampered, ORIGINAL, what);
    writeFileSync(s.file, tampered);
    const run = await runCli(['apply', '--config', s.config, '--json']);
    assert.equal(run.code, 65, `${what}: ${run.stderr}`);
    assert.ok(run.stderr.includes(`${s.file}: refused`) || run.stderr.includes(`${s.file} has no key`), `${what}: ${run.stderr}`);
    assert.match(run.stderr, expected, what);
    const report = JSON.parse(run.stdout) as { generation: number | null; switched: boolean; entries: { name: string; status: string }[] };
    assert.equal(report.switched, false, what);
    // Every secret from the file failed, including those whose own value was not touched.
    assert.deepEqual(report.entries.map((e) => `${e.name}:${e.status}`).sort(), ['first:failed', 'nested:failed', 'test:failed'], what);
    assert.equal(readlinkSync(s.secretsDir), live, what);
    assert.deepEqual([read(s, 'test'), read(s, 'first'), read(s, 'nested')], ['test_value', 'e1', 'another value'], what);
  }

  // And the untouched file still works: the refusals came from the tampering, not from the setup.
  writeFileSync(s.file, ORIGINAL);
  const again = await runCli(['apply', '--config', s.config]);
  assert.equal(again.code, 0, again.stderr);
});

test('keep-previous: secrets of the tampered file stay stale while another file updates', { skip: needs(AGE_SKIP) }, async (t) => {
  const dir0 = tempDir(t);
  const other = ageKey(dir0, 'other.key');
  const dataKey = newDataKey();
  const writeOther = (value: string) =>
    writeFileSync(join(s.dir, 'other.json'), writeSops('json', [map(['value', enc(value)])], { dataKey, groups: [{ age: [{ recipient: other.recipient, enc: ageWrap(dataKey, other.recipient) }] }] }));
  const s = setup(t, 'keep-previous', { other: { sources: [{ sops: { file: 'other.json', key: 'value' } }] } }, [other.file]);
  writeOther('other-file-v1');
  const first = await runCli(['apply', '--config', s.config]);
  assert.equal(first.code, 0, first.stderr);

  writeOther('other-file-v2');
  writeFileSync(s.file, TAMPERS[3]![1](ORIGINAL));
  const run = await runCli(['apply', '--config', s.config, '--json']);
  assert.equal(run.code, 65, run.stderr);
  const report = JSON.parse(run.stdout) as { generation: number; entries: { name: string; status: string }[] };
  assert.equal(report.generation, 2);
  assert.deepEqual(report.entries.map((e) => `${e.name}:${e.status}`).sort(), ['first:stale', 'nested:stale', 'other:changed', 'test:stale']);
  assert.equal(read(s, 'other'), 'other-file-v2');
  // The swapped list would have given "e3": the previous value is kept instead.
  assert.deepEqual([read(s, 'test'), read(s, 'first'), read(s, 'nested')], ['test_value', 'e1', 'another value']);
});

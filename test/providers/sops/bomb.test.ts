// A YAML alias bomb in a sops file (issue 9, item 4): no key is needed to make one, and the limit on
// expanded values used to be per YAML document, so forty documents each just under it (a 10 KB
// file) ran for minutes and crashed node out of memory, taking every other secret down with it.
// The limits are per file — values, scalar bytes and alias expansions, aliases counted expanded —
// and measured on the parsed file before anything is expanded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { keyFile, SOPS_AGE, tempDir } from './helpers/keys.js';
import { fetchSops } from './helpers/run.js';

registerSecretValues('this is a secret');

/**
 * One document that expands to `per` × 10^5 list items: anchors a..e each ten times the one before,
 * then `per` aliases to e. With `per` = 7 a document expands to about 900,000 values: under the old
 * per-document limit of 1,000,000, so only the sum over documents is a bomb.
 */
function bombDocument(per: number, filler: string): string {
  const levels = ['a', 'b', 'c', 'd', 'e'];
  const lines = [`a: &a [${Array(10).fill(filler).join(', ')}]`];
  for (let i = 1; i < levels.length; i++) lines.push(`${levels[i]}: &${levels[i]} [${Array(10).fill(`*${levels[i - 1]}`).join(', ')}]`);
  lines.push(`f: [${Array(per).fill('*e').join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

/** `documents` of bombDocument in one YAML file, separated by `---`. */
function bombFile(documents: number, per = 7, filler = 'x'): string {
  return Array.from({ length: documents }, () => bombDocument(per, filler)).join('---\n');
}

test('a 40-document alias bomb fails fast as a corrupt file (exit 65); the other files\' secrets are published', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src'));
  const bomb = join(dir, 'src/bomb.yaml');
  writeFileSync(bomb, bombFile(40));
  assert.ok(statSync(bomb).size < 12_000, `a small file (${statSync(bomb).size} bytes)`);
  cpSync(join(SOPS_AGE, 'secret.enc.yaml'), join(dir, 'src/good.yaml'));
  const key = keyFile(dir, join(SOPS_AGE, 'key.txt'));
  const { config, secretsDir } = writeConfigIn(dir, {
    keys: { ageKeyFiles: [key] },
    secrets: {
      bombed: { sources: [{ sops: { file: 'src/bomb.yaml', key: 'a' } }] },
      good: { sources: [{ sops: { file: 'src/good.yaml', key: 'secret' } }] },
    },
  });
  const r = await runCli(['apply', '--json', '--config', config], { timeoutMs: 120_000 });
  assert.equal(r.signal, null, `not killed (${r.stderr.slice(-300)})`);
  assert.equal(r.code, 65, r.stderr);
  const report = JSON.parse(r.stdout) as { entries: { name: string; status: string; attempts?: { kind: string; message: string }[] }[] };
  const bombed = report.entries.find((e) => e.name === 'bombed')!;
  assert.equal(bombed.status, 'failed');
  assert.equal(bombed.attempts![0]!.kind, 'corrupt');
  assert.match(bombed.attempts![0]!.message, /bomb\.yaml: not a valid sops yaml file: more than 1000000 values once aliases are expanded \(the whole file, 40 documents\)/);
  assert.equal(report.entries.find((e) => e.name === 'good')!.status, 'added');
  assert.equal(readFileSync(join(secretsDir, 'good'), 'utf8'), 'this is a secret');
});

test('the limits count the whole file: aliases expanded, and scalar bytes', async (t) => {
  const dir = tempDir(t);
  const cases: [string, string, RegExp][] = [
    // Many small documents, each far under any limit, together over the alias limit.
    ['aliases.yaml', Array.from({ length: 400 }, () => `a: &a x\nb: [${Array(30).fill('*a').join(', ')}]\n`).join('---\n'), /more than 10000 aliases once expanded \(the whole file, 400 documents\)/],
    // Few values, but each a long scalar: the bytes limit.
    ['bytes.yaml', `a: &a ${'y'.repeat(1 << 20)}\nb: [${Array(70).fill('*a').join(', ')}]\n`, /more than 64 MiB of text once aliases are expanded/],
  ];
  for (const [name, text, expected] of cases) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const [outcome] = await fetchSops([{ file, key: 'a' }]);
    assert.ok('error' in outcome!, name);
    assert.equal(outcome.error.kind, 'corrupt', name);
    assert.match(outcome.error.message, expected, name);
  }
  // Aliases well within the limits still work (and a plain file is never refused for its own size).
  const fine = join(dir, 'fine.yaml');
  writeFileSync(fine, `defaults: &d {user: app, port: 5432}\nhosts: [*d, *d, *d]\nsops: {}\n`);
  const [ok] = await fetchSops([{ file: fine, key: 'hosts' }]);
  assert.ok('error' in ok!);
  assert.doesNotMatch(ok.error.message, /aliases|values once|MiB/, 'refused for its metadata, not for its aliases');
});

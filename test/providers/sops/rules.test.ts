// sops's encryption rules are Go regular expressions, read before the MAC can be checked (issue 9,
// item 5): they must run in linear time (RE2, as Go's sops does) and mean exactly what they mean to
// Go. The hostile pattern below backtracks exponentially in a JavaScript RegExp (23.7 s of CPU for
// 32 a's in the review, doubling with each a); no timed assertion here: the result is asserted, and
// the suite's own limits bound the time. Then the run's deadline, true for synchronous work too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as re2 from 're2js';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { compileGoRegex } from '../../../src/providers/sops/rules.js';
import { SopsFormatError } from '../../../src/providers/sops/errors.js';
import { writeConfigIn } from './helpers/config.js';
import { keyFile, SOPS_AGE, tempDir } from './helpers/keys.js';
import { fetchSops } from './helpers/run.js';

const HOSTILE = '^(a+)+$|^password$';
const KEY = `${'a'.repeat(32)}!`;

test('a catastrophic-backtracking rule runs in linear time: ^(a+)+$|^password$ against 32 a\'s and !', () => {
  const rule = compileGoRegex(HOSTILE, 'encrypted_regex', re2);
  assert.equal(rule.test(KEY), false);
  assert.equal(rule.test(`${'a'.repeat(5000)}!`), false);
  assert.equal(rule.test('a'.repeat(32)), true);
  assert.equal(rule.test('password'), true);
});

// Expected answers are Go's, from where Go states them: the regexp/syntax package documentation
// (golang/go src/regexp/syntax/doc.go: Perl classes are ASCII, `\s` is [\t\n\f\r ], `.` excludes
// \n unless (?s), `$` is end of text unless (?m), `\A` `\z` `\Q…\E`, POSIX and Unicode classes,
// flags i m s U, named groups (?P<n>) and (?<n>)) and Go's own test data (src/regexp/testdata/
// re2-search.txt: the `[^\s\S]`, `(foo|bar|[A-Z])$` on "foo\n", `\bbar` on "foo\nbar x" and
// `h.*o` on "goodbye\nhello\n" cases, second column: unanchored search). MatchString semantics.
const GO_CASES: [pattern: string, input: string, matches: boolean, why: string][] = [
  ['\\s', '\v', false, '\\s is [\\t\\n\\f\\r ] in Go: no vertical tab (JavaScript includes it)'],
  ['\\s', '\u00a0', false, 'Perl classes are ASCII: no NBSP'],
  ['\\s', '\t', true, '\\t is whitespace'],
  ['\\w', 'é', false, '\\w is [0-9A-Za-z_]'],
  ['\\d', '٣', false, '\\d is [0-9]'],
  ['\\bé', ' é', false, '\\b is an ASCII word boundary'],
  ['\\pL', 'é', true, 'Unicode class'],
  ['\\p{Greek}', 'α', true, 'Unicode script'],
  ['[[:alpha:]]+$', 'abc', true, 'POSIX class'],
  ['[[:^alpha:]]', 'abc', false, 'negated POSIX class'],
  ['.', '\n', false, '. excludes \\n by default'],
  ['(?s).', '\n', true, '(?s) lets . match \\n'],
  ['a$', 'a\n', false, '$ is the end of text, not before a final \\n'],
  ['(?m)a$', 'a\n', true, '(?m): $ at end of line'],
  ['\\Aa', 'ba', false, '\\A: beginning of text'],
  ['a\\z', 'a\n', false, '\\z: end of text'],
  ['\\Qa.b\\E', 'axb', false, '\\Q…\\E is literal'],
  ['\\Qa.b\\E', 'a.b', true, '\\Q…\\E is literal'],
  ['(?i)PASSWORD', 'password', true, '(?i)'],
  ['(?i)k', '\u212a', true, '(?i) folds K to the Kelvin sign'],
  ['a(?i)b', 'aB', true, 'flags from the middle on'],
  ['(?i:a)b', 'AB', false, 'flags scoped to a group'],
  ['(?P<name>x)', 'x', true, 'named group, Python style'],
  ['(?<name>x)', 'x', true, 'named group, Perl style (Go 1.22)'],
  ['(?U)a+$', 'aaa', true, '(?U) ungreedy still matches'],
  ['\\x{41}', 'A', true, 'hex escape'],
  ['\\101', 'A', true, 'octal escape'],
  ['x{2,}', 'xx', true, 'counted repetition'],
  ['password', 'my_password_key', true, 'a search, not a full match (sops uses MatchString)'],
  ['^password$', 'my_password', false, 'anchors'],
  ['[^\\s\\S]', 'aaaaaaa', false, 're2-search.txt'],
  ['(foo|bar|[A-Z])$', 'foo\n', false, 're2-search.txt'],
  ['\\bbar', 'foo\nbar x', true, 're2-search.txt'],
  ['h.*o', 'goodbye\nhello\n', true, 're2-search.txt'],
];

test('rules mean what they mean to Go', () => {
  for (const [pattern, input, expected, why] of GO_CASES) {
    assert.equal(compileGoRegex(pattern, 'encrypted_regex', re2).test(input), expected, `${JSON.stringify(pattern)} on ${JSON.stringify(input)}: ${why}`);
  }
});

test('patterns Go refuses are refused (the file is corrupt), never approximated', () => {
  // Each is an error in Go's regexp/syntax: backreferences, lookaround, \C, counts over 1000,
  // nested repetition, (?x).
  for (const pattern of ['(a)\\1', '(?=a)', '(?<=a)b', '\\C', 'a{1001}', 'a**', '(?x)a', '[a']) {
    assert.throws(() => compileGoRegex(pattern, 'encrypted_regex', re2), (e: unknown) => e instanceof SopsFormatError && /encrypted_regex is not a regular expression Go accepts: error parsing regexp/.test(e.message), pattern);
  }
});

test('a sops file whose encrypted_regex backtracks catastrophically is decided at once (its MAC fails), through the CLI', async (t) => {
  const dir = tempDir(t);
  const original = readFileSync(join(SOPS_AGE, 'secret.enc.yaml'), 'utf8');
  assert.match(original, /^ {2}unencrypted_suffix: _unencrypted$/m);
  const hostile = `${KEY}: x\n${original.replace(/^ {2}unencrypted_suffix: _unencrypted$/m, () => `  encrypted_regex: '${HOSTILE}'`)}`;
  writeFileSync(join(dir, 'hostile.yaml'), hostile);
  cpSync(join(SOPS_AGE, 'secret.enc.yaml'), join(dir, 'good.yaml'));
  registerSecretValues('this is a secret');
  const { config } = writeConfigIn(dir, {
    keys: { ageKeyFiles: [keyFile(dir, join(SOPS_AGE, 'key.txt'))] },
    secrets: { hostile: { sources: [{ sops: { file: 'hostile.yaml', key: 'secret' } }] }, good: { sources: [{ sops: { file: 'good.yaml', key: 'secret' } }] } },
  });
  const r = await runCli(['apply', '--json', '--config', config, '--timeout', '5'], { timeoutMs: 120_000 });
  assert.equal(r.signal, null, 'not killed');
  assert.equal(r.code, 65, r.stderr);
  const report = JSON.parse(r.stdout) as { entries: { name: string; status: string; attempts?: { kind: string; message: string }[] }[] };
  const entry = report.entries.find((e) => e.name === 'hostile')!;
  assert.equal(entry.attempts![0]!.kind, 'corrupt');
  assert.match(entry.attempts![0]!.message, /hostile\.yaml: refused: .*MAC/);
  assert.equal(report.entries.find((e) => e.name === 'good')!.status, 'added');
});

test('the run\'s deadline stops synchronous decryption at the next file', async (t) => {
  const dir = tempDir(t);
  // Files that take real work each (thousands of values), far more together than the deadline.
  const big = `${Array.from({ length: 4000 }, (_, i) => `k${i}: v${i}`).join('\n')}\n`;
  const files = Array.from({ length: 30 }, (_, i) => {
    const file = join(dir, `f${i}.yaml`);
    writeFileSync(file, `${big}sops:\n    lastmodified: "2024-03-25T22:08:10Z"\n    age: []\n`);
    return file;
  });
  const outcomes = await fetchSops(
    files.map((file) => ({ file, key: 'k1' })),
    { signal: AbortSignal.timeout(1) },
  );
  const last = outcomes.at(-1)!;
  assert.ok('error' in last, 'the last file was not worked on');
  assert.equal(last.error.kind, 'unavailable');
  assert.match(last.error.message, /f29\.yaml: not read: the run's deadline \(--timeout\) passed/);
});

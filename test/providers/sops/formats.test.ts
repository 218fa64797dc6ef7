// Files the vectors do not cover, made by the test writer (real age CLI for the data key, AES-GCM and
// MAC computed in the test, no code of ours): every value type, YAML typing and multi-document
// files, JSON order and duplicates, dotenv and INI edge cases, each encryption rule, key paths and
// their errors. Each document states every value as sops holds it: encrypted with its Go string
// form and type, or in clear with the Go form the MAC hashes (yaml.v3's typing, worked out from
// its resolve.go: 0777 is the int 511, a date a time). Whole-file outputs are what `sops -d`
// prints, derived from the Go code named beside each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP } from '../../helpers/tools.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import * as yaml from 'yaml';
import { registerSecretValues } from '../../helpers/cli.js';
import { createSopsProvider } from '../../../src/providers/sops/provider.js';
import { silentLogger } from '../../../src/log.js';
import { ageKey, SOPS_NIX, tempDir } from './helpers/keys.js';
import { fetchSops, fetchText } from './helpers/run.js';
import { ageWrap, binaryDoc, clear, enc, list, map, newDataKey, note, writeSops, type Format, type MapDoc, type WriteOptions } from './helpers/writer.js';

const SECRETS = ['hunter2-secret', 'tok-1-secret', 'zero-key-secret', 'multi\nline secret', 'dotenv secret value', 'ini secret value', 'k8s-password', 'second-doc-secret', 'comment-protected'];
registerSecretValues(...SECRETS);

interface World {
  dir: string;
  keys: { ageKeyFiles: string[] };
  options: (extra?: Partial<WriteOptions>) => WriteOptions;
  write: (name: string, format: Format, docs: MapDoc[], extra?: Partial<WriteOptions>) => string;
}

/** A temp dir with one age identity, and a writer that encrypts to it. */
function world(t: TestContext): World {
  const dir = tempDir(t);
  const key = ageKey(dir, 'age.key');
  const dataKey = newDataKey();
  const enc = ageWrap(dataKey, key.recipient);
  const options = (extra: Partial<WriteOptions> = {}): WriteOptions => ({ dataKey, groups: [{ age: [{ recipient: key.recipient, enc }] }], ...extra });
  return {
    dir,
    keys: { ageKeyFiles: [key.file] },
    options,
    write: (name, format, docs, extra) => {
      const file = join(dir, name);
      writeFileSync(file, writeSops(format, docs, options(extra)));
      return file;
    },
  };
}

/**
 * This plaintext, as sops encrypts it (the `_unencrypted` keys stay clear):
 *
 *   # top comment
 *   password: hunter2-secret
 *   port: 5432
 *   ratio: 0.25
 *   enabled: true
 *   created: 2001-12-14t21:59:43.10-05:00
 *   nothing: ~
 *   empty: ""
 *   mode_unencrypted: 0777
 *   day_unencrypted: 2024-02-29
 *   note_unencrypted: plain words
 *   list:
 *       - a
 *       - name: x
 *         token: tok-1-secret # inline comment
 *   "0": zero-key-secret
 *   multi: |
 *       multi
 *       line secret
 */
const YAML_DOC = map(
  note(' top comment'),
  ['password', enc('hunter2-secret')],
  ['port', enc('5432', 'int')],
  ['ratio', enc('0.25', 'float')],
  ['enabled', enc('True', 'bool')], // sops writes booleans as True/False (aes/cipher.go)
  ['created', enc('2001-12-14T21:59:43.1-05:00', 'time')], // time.Time.MarshalText: RFC 3339 with nanoseconds, zeros trimmed
  ['nothing', clear('~', '')], // null: neither encrypted nor hashed
  ['empty', clear('""', '')], // "" is never encrypted and adds nothing to the MAC
  ['mode_unencrypted', clear('0777', '511')], // yaml.v3: an int, base 8
  ['day_unencrypted', clear('2024-02-29', '2024-02-29T00:00:00Z')], // yaml.v3: a time
  ['note_unencrypted', clear('plain words')],
  ['list', list(enc('a'), map(['name', enc('x')], ['token', enc('tok-1-secret'), note(' inline comment')]))],
  ['0', enc('zero-key-secret')],
  ['multi', enc('multi\nline secret\n')],
);

test('YAML: every value type, yaml.v3 typing of unencrypted values, lists by index, subtrees', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  const file = w.write('all.yaml', 'yaml', [YAML_DOC]);
  const get = (key: string) => fetchText({ file, key }, { keys: w.keys });
  assert.equal(await get('password'), 'hunter2-secret');
  assert.equal(await get('port'), '5432');
  assert.equal(await get('ratio'), '0.25');
  assert.equal(await get('enabled'), 'true');
  assert.equal(await get('created'), '2001-12-14T21:59:43.1-05:00');
  assert.equal(await get('nothing'), '');
  assert.equal(await get('empty'), '');
  assert.equal(await get('mode_unencrypted'), '511');
  assert.equal(await get('day_unencrypted'), '2024-02-29T00:00:00Z');
  assert.equal(await get('note_unencrypted'), 'plain words');
  assert.equal(await get('list/0'), 'a');
  assert.equal(await get('list/1/token'), 'tok-1-secret');
  assert.equal(await get('list/1'), 'name: x\ntoken: tok-1-secret # inline comment\n');
  assert.equal(await get('0'), 'zero-key-secret');
  assert.equal(await get('multi'), 'multi\nline secret\n');
  // The whole file: sops -d's shape (4-space indent), comments decrypted, typed values kept typed.
  const whole = await get('');
  assert.ok(whole.startsWith('# top comment\npassword: hunter2-secret\nport: 5432\n'), whole);
  assert.deepEqual(yaml.parse(whole, { version: '1.1' }), {
    password: 'hunter2-secret',
    port: 5432,
    ratio: 0.25,
    enabled: true,
    created: new Date('2001-12-15T02:59:43.100Z'),
    nothing: null,
    empty: '',
    mode_unencrypted: 511,
    day_unencrypted: new Date('2024-02-29T00:00:00Z'),
    note_unencrypted: 'plain words',
    list: ['a', { name: 'x', token: 'tok-1-secret' }],
    0: 'zero-key-secret',
    multi: 'multi\nline secret\n',
  });
});

test('YAML: several documents, sops metadata in the first, every document MAC-covered', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  // first: one / --- / second: second-doc-secret, nested: {deep: value}
  const file = w.write('multi.yaml', 'yaml', [map(['first', enc('one')]), map(['second', enc('second-doc-secret')], ['nested', map(['deep', enc('value')])])]);
  assert.equal(await fetchText({ file, key: 'second' }, { keys: w.keys }), 'second-doc-secret');
  assert.equal(await fetchText({ file, key: 'nested/deep' }, { keys: w.keys }), 'value');
  // sops -d: each document through yaml.v3's encoder with indent 4, joined by `---` lines
  // (stores/yaml EmitPlainFile).
  assert.equal(await fetchText({ file }, { keys: w.keys }), 'first: one\n---\nsecond: second-doc-secret\nnested:\n    deep: value\n');
});

test('JSON: document order (integer-like keys too), duplicate keys and int64 precision are kept', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  // The MAC is over values in this order; a reader that reorders "10" and "2" first fails it.
  const file = w.write('order.json', 'json', [
    map(
      ['b', enc('first')],
      ['10', enc('second')],
      ['a', enc('third')],
      ['2', enc('fourth')],
      ['dup', enc('one')],
      ['dup', enc('two')],
      ['big_unencrypted', clear('9007199254740993')], // an int64 (encoding/json with UseNumber): hashed as written
      ['n', enc('1.5', 'float')],
    ),
  ]);
  const whole = await fetchText({ file }, { keys: w.keys });
  // sops -d: the tree as JSON, keys in order and duplicates kept, through json.Indent with a tab
  // and a final newline (stores/json, reindentJSON); an int as its digits, a float as FormatFloat.
  assert.equal(whole, '{\n\t"b": "first",\n\t"10": "second",\n\t"a": "third",\n\t"2": "fourth",\n\t"dup": "one",\n\t"dup": "two",\n\t"big_unencrypted": 9007199254740993,\n\t"n": 1.5\n}\n');
  assert.equal(await fetchText({ file, key: 'dup' }, { keys: w.keys }), 'two');
  assert.equal(await fetchText({ file, key: 'big_unencrypted' }, { keys: w.keys }), '9007199254740993');
  assert.equal(await fetchText({ file, key: '10' }, { keys: w.keys }), 'second');
});

test('dotenv: values verbatim (quotes, =, spaces), newlines as \\n, comments kept', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  // # a comment / TOKEN=dotenv secret value / QUOTED="kept as is" / EQ=a=b=c / " SPACED = x " / MULTI=multi\nline secret
  const file = w.write('app.env', 'dotenv', [
    map(note(' a comment'), ['TOKEN', enc('dotenv secret value')], ['QUOTED', enc('"kept as is"')], ['EQ', enc('a=b=c')], [' SPACED ', enc(' x ')], ['MULTI', enc('multi\nline secret')]),
  ]);
  const get = (key: string) => fetchText({ file, key }, { keys: w.keys });
  assert.equal(await get('TOKEN'), 'dotenv secret value');
  assert.equal(await get('QUOTED'), '"kept as is"');
  assert.equal(await get('EQ'), 'a=b=c');
  assert.equal(await get(' SPACED '), ' x ');
  assert.equal(await get('MULTI'), 'multi\nline secret');
  // sops -d: `#` + comment, `KEY=value` with newlines as \n (stores/dotenv EmitPlainFile).
  assert.equal(await fetchText({ file }, { keys: w.keys }), '# a comment\nTOKEN=dotenv secret value\nQUOTED="kept as is"\nEQ=a=b=c\n SPACED = x \nMULTI=multi\\nline secret\n');
  const [missing] = await fetchSops([{ file, key: 'NOPE' }], { keys: w.keys });
  assert.ok('error' in missing!);
  assert.equal(missing.error.kind, 'not-found');
  assert.match(missing.error.message, /has no variable "NOPE" \(variables: "TOKEN", "QUOTED", "EQ", " SPACED ", "MULTI"\)/);
});

test('INI: DEFAULT keys, sections with "/" in their name, quoting, both metadata forms', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  // The plaintext: top = level / ; about db / [db/main] / password = ini secret value /
  // hash = `a # b` / quoted = "x ; y" / [other] / k = v. go-ini reads `"x ; y"` as `"x` with the
  // comment `; y"` (a comment starts at ; or #: values holding one take backquotes), and gives a
  // section the comment lines before its header. sops keeps comments as items; these stay clear.
  const doc = map(
    ['DEFAULT', map(['top', enc('level')])],
    ['db/main', map(note('; about db', true), ['password', enc('ini secret value')], ['hash', enc('a # b')], ['quoted', enc('"x')], note('; y"', true))],
    ['other', map(['k', enc('v')])],
  );
  for (const tripleQuotes of [false, true]) {
    const file = w.write(`app-${tripleQuotes}.ini`, 'ini', [doc], { iniTripleQuotes: tripleQuotes });
    const get = (key: string) => fetchText({ file, key }, { keys: w.keys });
    assert.equal(await get('DEFAULT/top'), 'level');
    assert.equal(await get('db/main/password'), 'ini secret value');
    assert.equal(await get('db/main/hash'), 'a # b');
    assert.equal(await get('db/main/quoted'), '"x');
    assert.equal(await get('other/k'), 'v');
    // sops -d: go-ini's WriteTo with PrettyFormat: the `=` of a section's keys aligned, a blank
    // line after each section, a comment line before what it belongs to, no [DEFAULT] header.
    assert.equal(await fetchText({ file }, { keys: w.keys }), 'top = level\n\n; about db\n[db/main]\npassword = ini secret value\nhash     = `a # b`\n; y"\nquoted   = "x\n\n[other]\nk = v\n');
  }
});

test('binary: the whole plaintext, byte for byte', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  const bytes = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x41]);
  const file = join(w.dir, 'blob');
  // sops stores the plaintext as a `str` (Go strings are bytes): not UTF-8 here on purpose.
  writeFileSync(file, writeSops('binary', [binaryDoc(bytes)], w.options()));
  const [outcome] = await fetchSops([{ file }], { keys: w.keys });
  assert.deepEqual(outcome, { ok: bytes });
});

test('encryption rules: encrypted_regex, encrypted_suffix, unencrypted_regex, comment regexes', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  // Which values each rule encrypts is stated here, value by value (not worked out by our rules code).
  // apiVersion: v1 / kind: Secret / data: {password: k8s-password} / stringData: {user: admin}
  const regexFile = w.write('k8s.yaml', 'yaml', [map(['apiVersion', clear('v1')], ['kind', clear('Secret')], ['data', map(['password', enc('k8s-password')])], ['stringData', map(['user', enc('admin')])])], {
    rule: { field: 'encrypted_regex', value: '^(data|stringData)$' },
  });
  assert.equal(await fetchText({ file: regexFile, key: 'data/password' }, { keys: w.keys }), 'k8s-password');
  assert.equal(await fetchText({ file: regexFile, key: 'kind' }, { keys: w.keys }), 'Secret');

  const suffixFile = w.write('suffix.yaml', 'yaml', [map(['db_secret', enc('hunter2-secret')], ['host', clear('db.local')])], {
    rule: { field: 'encrypted_suffix', value: '_secret' },
  });
  assert.equal(await fetchText({ file: suffixFile, key: 'db_secret' }, { keys: w.keys }), 'hunter2-secret');
  assert.equal(await fetchText({ file: suffixFile, key: 'host' }, { keys: w.keys }), 'db.local');

  const unRegexFile = w.write('unregex.yaml', 'yaml', [map(['public', map(['name', clear('app')])], ['secret', enc('hunter2-secret')])], {
    rule: { field: 'unencrypted_regex', value: '(?i)^PUB' },
  });
  assert.equal(await fetchText({ file: unRegexFile, key: 'public/name' }, { keys: w.keys }), 'app');
  assert.equal(await fetchText({ file: unRegexFile, key: 'secret' }, { keys: w.keys }), 'hunter2-secret');

  // encrypted_comment_regex: only items after a matching comment are encrypted; the marker comment itself is not.
  const commentFile = w.write('comments.yaml', 'yaml', [map(['visible', clear('plain')], note(' sops:enc', true), ['guarded', enc('comment-protected')], ['after', clear('plain too')])], {
    rule: { field: 'encrypted_comment_regex', value: 'sops:enc' },
  });
  assert.equal(await fetchText({ file: commentFile, key: 'guarded' }, { keys: w.keys }), 'comment-protected');
  assert.equal(await fetchText({ file: commentFile, key: 'after' }, { keys: w.keys }), 'plain too');

  const unCommentFile = w.write('uncomments.yaml', 'yaml', [map(note(' sops:plain', true), ['visible', clear('plain')], ['guarded', enc('comment-protected')])], {
    rule: { field: 'unencrypted_comment_regex', value: 'sops:plain' },
  });
  assert.equal(await fetchText({ file: unCommentFile, key: 'visible' }, { keys: w.keys }), 'plain');
  assert.equal(await fetchText({ file: unCommentFile, key: 'guarded' }, { keys: w.keys }), 'comment-protected');
});

test('mac_only_encrypted: the MAC covers encrypted values only (as sops: a changed plain value passes)', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  const doc = map(['password', enc('hunter2-secret')], ['host_unencrypted', clear('db.local')]);
  const onlyEncrypted = w.write('only.yaml', 'yaml', [doc], { macOnlyEncrypted: true });
  const everything = w.write('all.yaml', 'yaml', [doc]);
  assert.equal(await fetchText({ file: onlyEncrypted, key: 'password' }, { keys: w.keys }), 'hunter2-secret');
  // Edit the unencrypted value in both: only the file whose MAC covers it is refused.
  for (const f of [onlyEncrypted, everything]) writeFileSync(f, readFileSync(f, 'utf8').replace('db.local', 'evil.example'));
  assert.equal(await fetchText({ file: onlyEncrypted, key: 'host_unencrypted' }, { keys: w.keys }), 'evil.example');
  const [refused] = await fetchSops([{ file: everything, key: 'password' }], { keys: w.keys });
  assert.ok('error' in refused!);
  assert.equal(refused.error.kind, 'corrupt');
  assert.match(refused.error.message, /all\.yaml: refused: MAC mismatch/);
});

test('key paths: what is missing, and what is there instead, is named; values never are', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  const file = w.write('paths.yaml', 'yaml', [YAML_DOC]);
  const cases: [string, string][] = [
    ['nope', 'has no key "nope" at the top level (top-level keys: "password", "port", "ratio", "enabled", "created", "nothing", "empty", "mode_unencrypted", "day_unencrypted", "note_unencrypted", "list", "0", … (13 in all))'],
    ['list/2', 'has no key "list/2": "list" is a list of 2 items, index 2 is out of range'],
    ['list/x', 'has no key "list/x": "list" is a list of 2 items, so "x" should be an index from 0'],
    ['list/1/nope', 'has no key "list/1/nope": "list/1" has keys "name", "token"'],
    ['password/x', 'has no key "password/x": "password" is a value (str), not a mapping or list'],
  ];
  const outcomes = await fetchSops(cases.map(([key]) => ({ file, key })), { keys: w.keys });
  outcomes.forEach((o, i) => {
    assert.ok('error' in o, cases[i]![0]);
    assert.equal(o.error.kind, 'not-found');
    assert.equal(o.error.message, `${file} ${cases[i]![1]}`);
  });
  // Bad syntax for the format is a configuration error.
  const [syntax] = await fetchSops([{ file, key: 'a//b' }], { keys: w.keys });
  assert.ok('error' in syntax!);
  assert.equal(syntax.error.kind, 'config');
  const [binary] = await fetchSops([{ file, key: 'password', format: 'binary' }], { keys: w.keys });
  assert.ok('error' in binary! && binary.error.kind === 'config' && /binary sops file holds a single value/.test(binary.error.message));
});

test('malformed files are corrupt, and the message never quotes the file (a plain value could be secret)', { skip: needs(AGE_SKIP) }, async (t) => {
  const w = world(t);
  const cases: [string, string, RegExp][] = [
    ['bad.yaml', 'a: 1\nb: [unclosed supersecret-plaintext\n', /not a valid sops yaml file: YAML syntax error \(\w+\) at line \d+, column \d+$/],
    ['dup.yaml', 'a: supersecret-plaintext\na: 2\n', /YAML syntax error \(DUPLICATE_KEY\) at line 2, column 1/],
    ['nometa.yaml', 'a: supersecret-plaintext\n', /has no sops metadata/],
    ['bad.json', '{"a": "supersecret-plaintext",}', /JSON syntax error at line 1, column 31/],
    ['intkey.yaml', '1: supersecret-plaintext\n', /the mapping key is a int, not a string/],
    ['seq.yaml', '- supersecret-plaintext\n', /sequences are not supported/],
    ['laughs.yaml', `a0: &a0 [supersecret-plaintext, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]\n`).join('')}`, /more than 1000000 values once aliases are expanded/],
    ['cycle.yaml', 'a: &x\n    b: *x\n', /a recursive alias|has no anchor/],
  ];
  registerSecretValues('supersecret-plaintext');
  for (const [name, text, expected] of cases) {
    const file = join(w.dir, name);
    writeFileSync(file, text);
    const [outcome] = await fetchSops([{ file, key: 'a' }], { keys: w.keys });
    assert.ok('error' in outcome!, name);
    assert.equal(outcome.error.kind, 'corrupt', name);
    assert.match(outcome.error.message, expected, name);
    assert.ok(!outcome.error.message.includes('supersecret'), name);
  }
  const [missing] = await fetchSops([{ file: join(w.dir, 'absent.yaml'), key: 'a' }], { keys: w.keys });
  assert.ok('error' in missing! && missing.error.kind === 'not-found');
});

test('a file only a key service could open (KMS): fetch says so, and check finds it at build time', async (t) => {
  const dir = tempDir(t);
  const json = JSON.parse(readFileSync(join(SOPS_NIX, 'secrets.json'), 'utf8'));
  json.sops.kms = [{ arn: 'arn:aws:kms:eu-west-1:123456789012:key/abcd', enc: 'AQICAHg', created_at: '2020-07-03T08:21:00Z', aws_profile: '' }];
  json.sops.pgp = null;
  const file = join(dir, 'kms.json');
  writeFileSync(file, JSON.stringify(json));
  const [outcome] = await fetchSops([{ file, key: 'test_key' }]);
  assert.ok('error' in outcome!);
  assert.equal(outcome.error.kind, 'unauthorized');
  assert.match(outcome.error.message, /no key opens it \(kms arn:aws:kms:eu-west-1:123456789012:key\/abcd: kms keys are not supported by materialize\)/);
  const problems = await createSopsProvider().check!([{ id: 'x', secrets: ['x'], source: { file, key: 'test_key', format: 'json' } }], { settings: undefined, keys: { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null }, log: silentLogger(), signal: new AbortController().signal });
  assert.deepEqual(problems, [{ requestId: 'x', secrets: ['x'], field: 'file', message: `${file} needs 1 key group(s) but only 0 hold age or PGP keys (the others: kms, which materialize cannot use)` }]);
});

// The Go conversions the MAC depends on, checked against what Go's strconv, time and yaml.v3 produce
// (values worked out from the Go sources cited in src/providers/sops/gotypes.ts and yaml-scalar.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatRfc3339, formatRfc3339Nano, goAtoi, goFormatFloat, goParseBool, goParseFloat, parseRfc3339, parseYamlTimestamp } from '../../../src/providers/sops/gotypes.js';
import { needsQuotes, resolveScalar } from '../../../src/providers/sops/formats/yaml-scalar.js';
import { macBytes } from '../../../src/providers/sops/mac.js';

test("FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent", () => {
  const cases: [number, string][] = [
    [3.14, '3.14'],
    [7, '7'],
    [-0, '-0'],
    [0, '0'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e21, '1000000000000000000000'],
    [1.5e300, `15${'0'.repeat(299)}`],
    [1e-7, '0.0000001'],
    [-2.5e-5, '-0.000025'],
    [123456789.125, '123456789.125'],
    [5e-324, `0.${'0'.repeat(323)}5`],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [value, expected] of cases) assert.equal(goFormatFloat(value), expected, String(value));
});

test("FormatFloat(v, 'f', -1, 64) on 385 values worked out without our code (fixtures/go-format, see its ORIGIN)", () => {
  const rows = readFileSync(new URL('../../fixtures/go-format/format-float.tsv', import.meta.url), 'utf8').trim().split('\n').slice(1);
  assert.equal(rows.length, 385);
  for (const row of rows) {
    const [bits, expected] = row.split('\t') as [string, string];
    const value = Buffer.from(bits, 'hex').readDoubleBE(0);
    assert.equal(goFormatFloat(value), expected, `bits ${bits}`);
  }
});

test('ParseFloat accepts Go syntax (decimal, hex, inf/nan) and refuses overflow and stray underscores', () => {
  assert.equal(goParseFloat('3.14'), 3.14);
  assert.equal(goParseFloat('.5'), 0.5);
  assert.equal(goParseFloat('1e3'), 1000);
  assert.equal(goParseFloat('0x1p-2'), 0.25);
  assert.equal(goParseFloat('0x1.8p1'), 3);
  assert.equal(goParseFloat('0x_1p0'), 1);
  assert.equal(goParseFloat('-Inf'), -Infinity);
  assert.equal(goParseFloat('infinity'), Infinity);
  assert.ok(Number.isNaN(goParseFloat('NaN')));
  for (const bad of ['1e400', '1_000', '0x1p', '', '1.2.3', 'abc', '0x1__0p0']) assert.equal(goParseFloat(bad), undefined, bad);
});

test('Atoi and ParseBool as strconv has them', () => {
  assert.equal(goAtoi('007'), 7n);
  assert.equal(goAtoi('+5'), 5n);
  assert.equal(goAtoi('-9223372036854775808'), -(2n ** 63n));
  assert.equal(goAtoi('9223372036854775808'), undefined);
  assert.equal(goAtoi('1_0'), undefined);
  assert.equal(goAtoi('0x10'), undefined);
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(goParseBool(t), true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(goParseBool(f), false);
  for (const bad of ['yes', 'tRUE', '']) assert.equal(goParseBool(bad), undefined);
});

test("RFC 3339 as the MAC's additional data (Z for a zero offset) and as MarshalText", () => {
  assert.equal(formatRfc3339(parseRfc3339('2021-09-30T19:49:41Z')!), '2021-09-30T19:49:41Z');
  assert.equal(formatRfc3339(parseRfc3339('2021-09-30T19:49:41+00:00')!), '2021-09-30T19:49:41Z');
  assert.equal(formatRfc3339(parseRfc3339('2021-09-30T19:49:41.123-05:30')!), '2021-09-30T19:49:41-05:30');
  assert.equal(formatRfc3339Nano(parseRfc3339('2021-09-30T19:49:41.1230000Z')!), '2021-09-30T19:49:41.123Z');
  assert.equal(formatRfc3339Nano(parseRfc3339('2021-09-30T19:49:41.000000000+01:00')!), '2021-09-30T19:49:41+01:00');
  for (const bad of ['2021-09-30 19:49:41Z', '2021-02-30T00:00:00Z', '2021-09-30T24:00:00Z', '2021-09-30T19:49:41', 'yesterday']) assert.equal(parseRfc3339(bad), undefined, bad);
  assert.equal(formatRfc3339Nano(parseYamlTimestamp('2001-12-14t21:59:43.10-05:00')!), '2001-12-14T21:59:43.1-05:00');
  assert.equal(formatRfc3339Nano(parseYamlTimestamp('2001-12-14 21:59:43.10')!), '2001-12-14T21:59:43.1Z');
  assert.equal(formatRfc3339Nano(parseYamlTimestamp('2002-1-5')!), '2002-01-05T00:00:00Z');
});

const plain = (text: string) => resolveScalar({ text, plain: true, tag: undefined }, 'test');
const hashed = (text: string) => macBytes(plain(text)).toString();

test('yaml.v3 typing of plain scalars, as sops hashes them', () => {
  const cases: [string, string, string][] = [
    // text, Go type, the bytes sops feeds the MAC
    ['0777', 'int', '511'],
    ['0o17', 'int', '15'],
    ['0x1F', 'int', '31'],
    ['-0b101', 'int', '-5'],
    ['1_000', 'int', '1000'],
    ['+12', 'int', '12'],
    ['08', 'float', '8'],
    ['1e3', 'float', '1000'],
    ['.5', 'float', '0.5'],
    ['-.inf', 'float', '-Inf'],
    ['.NaN', 'float', 'NaN'],
    ['true', 'bool', 'True'],
    ['FALSE', 'bool', 'False'],
    ['yes', 'str', 'yes'],
    ['on', 'str', 'on'],
    ['tRUE', 'str', 'tRUE'],
    ['1e400', 'str', '1e400'],
    ['2001-12-14', 'time', '2001-12-14T00:00:00Z'],
    ['2001-12-14t21:59:43.10-05:00', 'time', '2001-12-14T21:59:43.1-05:00'],
    ['12:30', 'str', '12:30'],
    ['toString', 'str', 'toString'],
    ['off', 'str', 'off'],
    ['ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]', 'str', 'ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]'],
  ];
  for (const [text, kind, mac] of cases) {
    assert.equal(plain(text).kind, kind, text);
    assert.equal(hashed(text), mac, text);
  }
  for (const nul of ['', '~', 'null', 'Null', 'NULL']) assert.equal(plain(nul).kind, 'null', JSON.stringify(nul));
  assert.throws(() => plain('18446744073709551615'), /does not fit in int64/);
});

test('quoted and tagged scalars', () => {
  assert.equal(resolveScalar({ text: '0777', plain: false, tag: undefined }, 't').kind, 'str');
  assert.equal(resolveScalar({ text: '5', plain: true, tag: 'tag:yaml.org,2002:str' }, 't').kind, 'str');
  assert.equal(resolveScalar({ text: '5', plain: false, tag: 'tag:yaml.org,2002:int' }, 't').kind, 'int');
  assert.deepEqual(resolveScalar({ text: '5', plain: true, tag: 'tag:yaml.org,2002:float' }, 't'), { kind: 'float', value: 5 });
  assert.equal(resolveScalar({ text: 'aGk=', plain: true, tag: 'tag:yaml.org,2002:binary' }, 't').kind, 'str');
  assert.equal(macBytes(resolveScalar({ text: 'aGk=', plain: true, tag: 'tag:yaml.org,2002:binary' }, 't')).toString(), 'hi');
  assert.equal(resolveScalar({ text: '5', plain: true, tag: '!custom' }, 't').kind, 'str');
  assert.throws(() => resolveScalar({ text: 'abc', plain: true, tag: 'tag:yaml.org,2002:int' }, 't'), /cannot decode a string as !!int/);
});

test('strings that would read back as something else are quoted when written', () => {
  for (const text of ['yes', 'No', 'on', '0777', '1e3', 'true', 'null', '', '2001-12-14', '1:30']) assert.ok(needsQuotes(text), text);
  for (const text of ['hello', 'e1', 'ENC[x]', 'a b']) assert.ok(!needsQuotes(text), text);
});

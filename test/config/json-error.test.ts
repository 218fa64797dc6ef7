// The JSON syntax locator behind "not valid JSON at line L, column C": it must agree with V8 where
// V8 reports a position, find one where V8 only quotes the text, and never quote the text itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcSeeded } from '../helpers/random.js';
import { findJsonSyntaxError } from '../../src/config/json-error.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const sample = JSON.stringify({ version: 1, mount: 'none', secrets: { 'db/pw': { sources: [{ age: { file: 'x.age' } }], mode: '0400', optional: false, n: -1.5e3 } }, u: '\u00e9\\"' }, null, 2);

/** Valid documents damaged by deleting, inserting or replacing one character. */
const damaged = fc
  .tuple(fc.oneof(fc.constant(sample), fc.json()), fc.nat(), fc.constantFrom('delete', 'insert', 'replace'), fc.constantFrom(...'{}[],:"\\ -0.eEtfnux\n\u0001a'))
  .map(([text, at, op, c]) => {
    const i = text.length === 0 ? 0 : at % text.length;
    return op === 'delete' ? text.slice(0, i) + text.slice(i + 1) : op === 'insert' ? text.slice(0, i) + c + text.slice(i) : text.slice(0, i) + c + text.slice(i + 1);
  });

test('the located offset is the one V8 reports, whenever V8 reports one', () => {
  fc.assert(
    fc.property(damaged, (text) => {
      let message: string;
      try {
        JSON.parse(text);
        return true;
      } catch (error) {
        message = (error as Error).message;
      }
      const found = findJsonSyntaxError(text);
      assert.ok(found.offset >= 0 && found.offset <= text.length);
      const v8 = /at position (\d+)/.exec(message);
      if (v8) assert.equal(found.offset, Number(v8[1]), `${JSON.stringify(text)}: V8 says ${message}, we say ${found.offset} (${found.reason})`);
      if (/end of JSON input/.test(message)) assert.equal(found.offset, text.length);
      return true;
    }),
    fcSeeded(3000),
  );
});

test('a syntax error names line and column and never quotes the text', () => {
  const secretLooking = 'correct horse battery staple';
  for (const [text, where] of [
    [secretLooking, 'line 1, column 1'],
    [`{\n  "version": 1,\n  "mount": ${secretLooking}\n}`, 'line 3, column 12'],
    ['{"a": "unterminated', 'line 1, column 20'],
  ] as const) {
    assert.throws(
      () => parseConfig(text, '/etc/secrets.json'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, new RegExp(`not valid JSON at ${where}: `));
        assert.ok(!error.message.includes('horse'), error.message);
        assert.ok(!error.message.includes('unterminated'), error.message);
        return true;
      },
    );
  }
});

// untraced(): node:crypto calls without stack-trace capture, the limit restored whatever happens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { untraced } from '../src/untraced.js';

test('untraced runs the call with stack traces off and restores the limit, also when the call throws', () => {
  const before = Error.stackTraceLimit;
  let inside: number | undefined;
  assert.equal(
    untraced(() => {
      inside = Error.stackTraceLimit;
      return 42;
    }),
    42,
  );
  assert.equal(inside, 0);
  assert.equal(Error.stackTraceLimit, before);
  const thrown = (() => {
    try {
      untraced(() => createHmac('no-such-digest', 'k'));
    } catch (error) {
      return error as Error;
    }
  })();
  assert.ok(thrown instanceof Error, 'the error of the call reaches the caller');
  assert.equal(Error.stackTraceLimit, before);
});

test('an HMAC made under untraced is the same HMAC (RFC 4231 test case 2)', () => {
  const mac = untraced(() => createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'));
  assert.equal(mac, '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

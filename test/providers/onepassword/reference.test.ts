// References are checked twice before any call: by our parser (light, at load time, names the bad
// segment) and by the SDK's own validator (local). The SDK's validator is the oracle here: what it
// refuses we refuse; what it accepts we accept, except the empty segments it lets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as sdkModule from '@1password/sdk';
import { parseReference } from '../../../src/providers/onepassword/reference.js';
import { validate } from '../../../src/config/validate.js';
import { sourceSchema } from '../../../src/providers/onepassword/settings.js';

const sdk = ((sdkModule as unknown as { default?: typeof sdkModule }).default ?? sdkModule) as typeof sdkModule;

function sdkAccepts(reference: string): boolean {
  try {
    sdk.Secrets.validateSecretReference(reference);
    return true;
  } catch (error) {
    // The SDK throws a JSON string, not an Error.
    assert.equal(typeof error, 'string');
    assert.equal((JSON.parse(error as string) as { name: string }).name, 'ParsingSecretReference');
    return false;
  }
}

const VALID = [
  'op://vault/item/field',
  'op://My Vault/My Item/pass word',
  'op://vault/item/section/field',
  'op://vault/item/one-time password?attribute=otp',
  'op://vault/item/section/code?attribute=totp',
  'op://vault/ssh key/private key?ssh-format=openssh',
  'op://xbbdm4ktkrdyjy5zk46zxtxeja/5tfuwkwxuwebexbtrltjmssn6q/password',
];
const INVALID_FOR_BOTH = [
  '',
  'vault/item/field',
  'op://vault/item',
  'op://vault/item/a/b/c',
  'op://vault/item/field?attribute=bogus',
  'op://vault/item/field?ssh-format=pem',
  'op://vault/item/field?foo=bar',
  'op://vault/item/field?attribute=otp&ssh-format=openssh',
];
// The SDK's validator accepts these; each has an empty segment that cannot name anything.
const EMPTY_SEGMENTS: [string, RegExp][] = [
  ['op://vault//field', /empty item segment/],
  ['op:///item/field', /empty vault segment/],
  ['op://vault/item/field/', /empty field segment/],
  ['op://vault/item//field', /empty section segment/],
  ['op://vault/ /field', /empty item segment/],
];

test('what the SDK validator accepts, the parser accepts (segments split right)', () => {
  for (const reference of VALID) {
    assert.equal(sdkAccepts(reference), true, reference);
    const parsed = parseReference(reference);
    assert.ok(!('error' in parsed), `${reference}: ${JSON.stringify(parsed)}`);
  }
  assert.deepEqual(parseReference('op://vault/item/section/code?attribute=totp'), { vault: 'vault', item: 'item', section: 'section', field: 'code', query: 'attribute=totp' });
  assert.deepEqual(parseReference('op://My Vault/My Item/pass word'), { vault: 'My Vault', item: 'My Item', field: 'pass word' });
});

test('the empty segments the SDK validator lets through are refused, naming the segment', () => {
  for (const [reference, why] of EMPTY_SEGMENTS) {
    assert.equal(sdkAccepts(reference), true, `the SDK now refuses ${reference}: this special case may go`);
    const parsed = parseReference(reference);
    assert.ok('error' in parsed && why.test(parsed.error), `${reference}: ${JSON.stringify(parsed)}`);
  }
});

test('the schema refuses at load time what the parser refuses, at the reference\'s JSON path', () => {
  for (const reference of ['', 'vault/item/field', 'op://vault/item', 'op://vault/item/a/b/c', ...EMPTY_SEGMENTS.map(([r]) => r)]) {
    assert.equal(validate(sourceSchema(), reference, 'at').ok, false, reference);
    assert.equal(validate(sourceSchema(), { reference }, 'at').ok, false, reference);
  }
  const object = validate(sourceSchema(), { reference: 'op://vault//field' }, 'secrets.x.sources[0].onepassword');
  assert.deepEqual(object, { ok: false, issues: [{ path: 'secrets.x.sources[0].onepassword.reference', message: 'has an empty item segment; expected op://<vault>/<item>/[<section>/]<field>' }] });
  const shorthand = validate(sourceSchema(), 'op://vault/item', 'secrets.x.sources[0].onepassword');
  assert.equal(shorthand.ok, false);
  assert.equal(!shorthand.ok && shorthand.issues[0]!.path, 'secrets.x.sources[0].onepassword');
  const typo = validate(sourceSchema(), { reference: 'op://v/i/f', kinds: 'file' }, 'at');
  assert.deepEqual(!typo.ok && typo.issues.map((i) => i.message), ['unknown key "kinds" (typo?)']);
  const kind = validate(sourceSchema(), { reference: 'op://v/i/f', kind: 'document' }, 'at');
  assert.deepEqual(!kind.ok && kind.issues, [{ path: 'at.kind', message: 'expected "field" or "file"' }]);
  const fileQuery = validate(sourceSchema(), { reference: 'op://v/i/f?attribute=otp', kind: 'file' }, 'at');
  assert.match(!fileQuery.ok ? fileQuery.issues[0]!.message : '', /file reference takes no "\?" query/);
  // The shorthand and the object with kind "field" are the same source (one request, one value).
  assert.deepEqual(validate(sourceSchema(), 'op://v/i/f', ''), { ok: true, value: { reference: 'op://v/i/f' } });
  assert.deepEqual(validate(sourceSchema(), { reference: 'op://v/i/f', kind: 'field' }, ''), { ok: true, value: { reference: 'op://v/i/f' } });
  assert.deepEqual(validate(sourceSchema(), { reference: 'op://v/i/f.bin', kind: 'file' }, ''), { ok: true, value: { reference: 'op://v/i/f.bin', kind: 'file' } });
});

test('references the parser accepts but the SDK validator refuses are left to the SDK validator (run before any call)', () => {
  for (const reference of INVALID_FOR_BOTH) {
    assert.equal(sdkAccepts(reference), false, reference);
  }
  // Query values are the SDK's to judge: our parser passes them on.
  assert.ok(!('error' in parseReference('op://vault/item/field?attribute=bogus')));
});

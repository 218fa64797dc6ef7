// The primitives we built ourselves for speed, against node:crypto's reference versions, and the
// checks age requires of X25519 and bech32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { hkdf, x25519, x25519PrivateKey, x25519PublicBytes } from '../../src/age/primitives.js';
import { bech32Decode, bech32Encode } from '../../src/age/bech32.js';
import { parseX25519Secret } from '../../src/age/identity.js';

test('our HKDF-SHA256 equals hkdfSync for any key, salt (empty too), info and length ≤ 32', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 32 }), (ikm, salt, info, length) => {
      const expected = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'latin1'), length));
      return hkdf(ikm, salt, info, length).equals(expected);
    }),
    { numRuns: 500 },
  );
  assert.throws(() => hkdf(Buffer.alloc(32), Buffer.alloc(0), 'x', 33), /at most 32/);
});

test('X25519 agrees with node:crypto in both directions and refuses low-order points', () => {
  const a = generateKeyPairSync('x25519');
  const b = generateKeyPairSync('x25519');
  const aPub = x25519PublicBytes(a.privateKey);
  const bPub = x25519PublicBytes(b.privateKey);
  assert.ok(x25519(a.privateKey, bPub).equals(x25519(b.privateKey, aPub)));
  assert.ok(aPub.equals(a.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)));
  // The all-zero point and the point of order 8 (1) give an all-zero shared secret.
  for (const low of [Buffer.alloc(32), Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])]) {
    assert.throws(() => x25519(a.privateKey, low), /all-zero/);
  }
  assert.throws(() => x25519PrivateKey(Buffer.alloc(31)), /32 bytes/);
});

test('bech32 round-trips and rejects a changed character, mixed case and a wrong prefix', () => {
  const data = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
  const text = bech32Encode('age', data);
  assert.deepEqual(bech32Decode(text), { prefix: 'age', data });
  assert.deepEqual(bech32Decode(text.toUpperCase()), { prefix: 'age', data });
  const changed = `${text.slice(0, 10)}${text[10] === 'q' ? 'p' : 'q'}${text.slice(11)}`;
  assert.equal(bech32Decode(changed), undefined);
  assert.equal(bech32Decode(`${text.slice(0, 10).toUpperCase()}${text.slice(10)}`), undefined);
  const secret = bech32Encode('age-secret-key-', data).toUpperCase();
  assert.ok(parseX25519Secret(secret, 'test'));
  assert.equal(parseX25519Secret(bech32Encode('age-secret-key-', data.subarray(1)).toUpperCase(), 'test'), undefined, 'a 31-byte key');
  assert.equal(parseX25519Secret(bech32Encode('age-secret-key-pq-', data).toUpperCase(), 'test'), undefined, 'another prefix');
});

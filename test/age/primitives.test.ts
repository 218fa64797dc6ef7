// The primitives we built ourselves for speed, against published test vectors (RFC 7748 for
// X25519, RFC 5869 for HKDF, BIP 173 for bech32) and node:crypto's reference versions, and the
// checks age requires of X25519 and bech32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { fcSeeded } from '../helpers/random.js';
import { bech32 } from '@scure/base';
import { hkdf, x25519, x25519PrivateKey, x25519PublicBytes } from '../../src/age/primitives.js';
import { bech32Decode, bech32Encode } from '../../src/age/bech32.js';
import { parseX25519Secret } from '../../src/age/identity.js';

test('our HKDF-SHA256 equals hkdfSync for any key, salt (empty too), info and length ≤ 32', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 32 }), (ikm, salt, info, length) => {
      const expected = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'latin1'), length));
      return hkdf(ikm, salt, info, length).equals(expected);
    }),
    fcSeeded(500),
  );
  assert.throws(() => hkdf(Buffer.alloc(32), Buffer.alloc(0), 'x', 33), /at most 32/);
});

const hex = (s: string) => Buffer.from(s, 'hex');

test('HKDF-SHA256: RFC 5869 test cases 1 and 3 (first 32 bytes of each OKM)', () => {
  const ikm = Buffer.alloc(22, 0x0b);
  const okm1 = '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865';
  const okm3 = '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8';
  assert.equal(hkdf(ikm, hex('000102030405060708090a0b0c'), Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex').toString('latin1')).toString('hex'), okm1.slice(0, 64));
  assert.equal(hkdf(ikm, Buffer.alloc(0), '').toString('hex'), okm3.slice(0, 64));
  assert.equal(hkdf(ikm, Buffer.alloc(0), '', 16).toString('hex'), okm3.slice(0, 32));
});

test('X25519: the RFC 7748 test vectors (§5.2, the iterated one, and the §6.1 exchange)', () => {
  // §5.2: scalar, u-coordinate, result. The second u has its top bit set, which X25519 ignores.
  const vectors: [string, string, string][] = [
    ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
    ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957'],
  ];
  for (const [scalar, u, out] of vectors) assert.equal(x25519(x25519PrivateKey(hex(scalar)), hex(u)).toString('hex'), out);
  // §5.2 iterated: k = u = 9, then k, u = X25519(k, u), k.
  let k: Buffer = Buffer.alloc(32);
  k[0] = 9;
  let u: Buffer = Buffer.from(k);
  for (let i = 1; i <= 1000; i++) {
    [k, u] = [x25519(x25519PrivateKey(k), u), k];
    if (i === 1) assert.equal(k.toString('hex'), '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
  }
  assert.equal(k.toString('hex'), '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  // §6.1: Alice's and Bob's public keys and their shared secret.
  const alice = x25519PrivateKey(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
  const bob = x25519PrivateKey(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
  assert.equal(x25519PublicBytes(alice).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(x25519PublicBytes(bob).toString('hex'), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(x25519(alice, x25519PublicBytes(bob)).toString('hex'), shared);
  assert.equal(x25519(bob, x25519PublicBytes(alice)).toString('hex'), shared);
});

test('bech32: the BIP 173 valid strings decode, its invalid ones are refused', () => {
  // Valid (BIP 173 test vectors; the 90-character limit does not apply to age's use).
  assert.deepEqual(bech32Decode('A12UEL5L'), { prefix: 'a', data: Buffer.alloc(0) });
  assert.deepEqual(bech32Decode('a12uel5l'), { prefix: 'a', data: Buffer.alloc(0) });
  assert.deepEqual(bech32Decode('?1ezyfcl'), { prefix: '?', data: Buffer.alloc(0) });
  assert.equal(bech32Decode('an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs')?.prefix, 'an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio');
  // "qpzry9x8gf2tvdw0s3jn54khce6mua7l" is the alphabet in order: the values 0..31, as bytes.
  assert.deepEqual(bech32Decode('abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw'), { prefix: 'abcdef', data: hex('00443214c74254b635cf84653a56d7c675be77df') });
  assert.equal(bech32Decode('split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w')?.prefix, 'split');
  // Invalid: no separator, empty prefix, a character outside the alphabet, a checksum too short,
  // a checksum computed over the upper-case form, an empty prefix again.
  for (const bad of ['pzry9x0s0muk', '1pzry9x0s0muk', 'x1b4n0q5v', 'li1dgmt3', 'A1G7SGD8', '10a06t8', '1qzzfhee']) assert.equal(bech32Decode(bad), undefined, bad);
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
  // The encoder the age-encryption library uses writes the same string.
  assert.equal(text, bech32.encode('age', bech32.toWords(data), false));
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

// Property-based fuzzing of age files made by the real `age` CLI: flipped bits, cuts, insertions
// and spliced regions must either decrypt to exactly the original plaintext (a change the format
// ignores, e.g. unused base64 bits) or fail with AgeDecryptError — never another exception, never
// different bytes. Key files are fuzzed the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP } from '../helpers/tools.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { runs } from './seed.js';
import { AgeDecryptError, decryptAge } from '../../src/age/decrypt.js';
import { parseKeyFile, parseX25519Secret, type AgeIdentity } from '../../src/age/identity.js';
import { applyDamage, damageArbitrary } from './damage.js';
import { tempDir } from '../helpers/temp.js';

interface Case {
  name: string;
  file: Buffer;
  plaintext: Buffer;
}

function makeCases(t: { after(fn: () => void): void }): { identities: AgeIdentity[]; cases: Case[] } {
  const dir = tempDir(t, 'materialize-agefuzz-');
  const key = join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
  const text = readFileSync(key, 'utf8');
  const recipient = /public key: (age1\w+)/.exec(text)![1]!;
  const identity = parseX25519Secret(text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!, 'fuzz key')!;
  const other = join(dir, 'other.txt');
  execFileSync('age-keygen', ['-o', other], { stdio: 'ignore' });
  const otherRecipient = /public key: (age1\w+)/.exec(readFileSync(other, 'utf8'))![1]!;
  const make = (name: string, plaintext: Buffer, args: string[]): Case => ({
    name,
    plaintext,
    file: execFileSync('age', [...args, '-r', otherRecipient, '-r', recipient], { input: plaintext }),
  });
  const cases = [
    make('small binary', Buffer.from('fuzz-plaintext-small-3b9d'), []),
    make('small armored', Buffer.from('fuzz-plaintext-armored-77aa'), ['-a']),
    make('two chunks', Buffer.alloc(64 * 1024 + 300, 0x5a), []),
    make('empty', Buffer.alloc(0), []),
  ];
  return { identities: [identity], cases };
}

/** Decrypts a damaged file; the only acceptable outcomes are the exact plaintext or AgeDecryptError. */
async function outcome(file: Buffer, identities: AgeIdentity[], plaintext: Buffer): Promise<'same' | 'refused'> {
  try {
    const out = await decryptAge(file, identities);
    assert.ok(out.equals(plaintext), 'a damaged file decrypted to different bytes');
    return 'same';
  } catch (error) {
    assert.ok(error instanceof AgeDecryptError, `unexpected ${(error as Error)?.name}: ${(error as Error)?.message}`);
    return 'refused';
  }
}

const damage = damageArbitrary({ bits: 8, insert: fc.uint8Array({ minLength: 1, maxLength: 8 }), maxSplice: 64 });

test('damaged age files decrypt to the same bytes or are refused as AgeDecryptError', { skip: needs(AGE_SKIP) }, async (t) => {
  const { identities, cases } = makeCases(t);
  for (const c of cases) assert.ok((await decryptAge(c.file, identities)).equals(c.plaintext), `${c.name} must decrypt undamaged`);
  let total = 0;
  for (const c of cases) {
    const counts = { same: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        counts[await outcome(applyDamage(c.file, d), identities, c.plaintext)]++;
      }),
      { numRuns: runs(c.plaintext.length > 1000 ? 300 : 1500) },
    );
    total += counts.same + counts.refused;
    t.diagnostic(`${c.name}: ${counts.same + counts.refused} damaged files, ${counts.refused} refused, ${counts.same} harmless changes`);
    assert.ok(counts.refused > counts.same, 'nearly every change to an authenticated file must be refused');
  }
  t.diagnostic(`${total} damaged age files in all`);
});

test('random bytes and random text are refused as AgeDecryptError', { skip: needs(AGE_SKIP) }, async (t) => {
  const { identities } = makeCases(t);
  let ran = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.string({ maxLength: 400 }).map((s) => new Uint8Array(Buffer.from(`age-encryption.org/v1\n${s}`)))), async (bytes) => {
      ran++;
      await assert.rejects(decryptAge(Buffer.from(bytes), identities), AgeDecryptError);
    }),
    { numRuns: runs(2000) },
  );
  assert.equal(ran, runs(2000));
});

test('random key-file text never throws and never yields an identity from garbage', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      for (const line of parseKeyFile(text)) {
        if (line.kind === 'x25519') {
          // A random string passing the bech32 checksum is vanishingly unlikely; parse must not throw.
          parseX25519Secret(line.text, 'fuzz');
        }
      }
    }),
    { numRuns: runs(3000) },
  );
  fc.assert(
    fc.property(fc.stringMatching(/^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{0,70}$/), (line) => {
      assert.equal(parseX25519Secret(line, 'fuzz'), undefined);
    }),
    { numRuns: runs(2000) },
  );
});

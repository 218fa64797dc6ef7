// The C2SP CCTV age test suite (test/fixtures/cctv-age, see its ORIGIN): every vector, run through
// the entry point the age provider uses (`AgeDecrypter.decrypt`, armor detected as for users'
// files), must end as the vector says, with the failure class it names. Classes are told apart by
// our named error classes, so a parse error cannot hide behind a later MAC failure or the reverse.
// Passphrase (scrypt) vectors must be refused as such: nothing can type a passphrase at boot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import {
  AgeArmorError,
  AgeDecrypter,
  AgeDecryptError,
  AgeHeaderError,
  AgeHmacError,
  AgeNoMatchError,
  AgePayloadError,
  AgeUnsupportedError,
  parseAgeFile,
  payloadChunks,
} from '../../src/age/decrypt.js';
import { isArmored } from '../../src/age/armor.js';
import { parseX25519Secret, type AgeIdentity } from '../../src/age/identity.js';
import { HybridIdentity } from '../../src/age/pq.js';

const DIR = fileURLToPath(new URL('../fixtures/cctv-age/', import.meta.url));

type Expect = 'success' | 'no match' | 'HMAC failure' | 'header failure' | 'payload failure' | 'armor failure';
const EXPECTS: readonly string[] = ['success', 'no match', 'HMAC failure', 'header failure', 'payload failure', 'armor failure'];

interface Vector {
  name: string;
  expect: Expect;
  /** SHA-256 (hex) of all the plaintext a streaming decrypter releases, even when it then fails. */
  payload?: string;
  identities: string[];
  passphrases: string[];
  armored: boolean;
  fileKey?: string;
  file: Buffer;
}

/** Parses one vector: `key: value` lines, an empty line, then the age file (zlib when `compressed: zlib`). */
function readVector(name: string): Vector {
  const raw = readFileSync(DIR + name);
  const split = raw.indexOf('\n\n');
  assert.ok(split > 0, `${name}: no empty line after the header`);
  const v: Vector = { name, expect: 'success', identities: [], passphrases: [], armored: false, file: raw.subarray(split + 2) };
  let compressed = false;
  for (const line of raw.subarray(0, split).toString('utf8').split('\n')) {
    const colon = line.indexOf(': ');
    assert.ok(colon > 0, `${name}: malformed header line ${JSON.stringify(line)}`);
    const [key, value] = [line.slice(0, colon), line.slice(colon + 2)];
    if (key === 'expect') {
      assert.ok(EXPECTS.includes(value), `${name}: unknown expect ${value}`);
      v.expect = value as Expect;
    } else if (key === 'payload') v.payload = value;
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'passphrase') v.passphrases.push(value);
    else if (key === 'armored') v.armored = value === 'yes';
    else if (key === 'file key') v.fileKey = value;
    else if (key === 'compressed') {
      assert.equal(value, 'zlib', `${name}: unknown compression`);
      compressed = true;
    } else assert.equal(key, 'comment', `${name}: unknown header key ${key} (the README says to ignore such files; none exist in this copy)`);
  }
  if (compressed) v.file = inflateSync(v.file);
  return v;
}

async function identitiesOf(v: Vector): Promise<AgeIdentity[]> {
  const out: AgeIdentity[] = [];
  for (const secret of v.identities) {
    if (secret.startsWith('AGE-SECRET-KEY-PQ-1')) out.push(await HybridIdentity.create(secret, `${v.name} identity`));
    else {
      const id = parseX25519Secret(secret, `${v.name} identity`);
      assert.ok(id, `${v.name}: the vector's X25519 identity does not parse`);
      out.push(id);
    }
  }
  return out;
}

/** The error class each expected failure must surface as. */
const CLASS: Record<Exclude<Expect, 'success'>, new (...args: never[]) => AgeDecryptError> = {
  'no match': AgeNoMatchError,
  'HMAC failure': AgeHmacError,
  'header failure': AgeHeaderError,
  'payload failure': AgePayloadError,
  'armor failure': AgeArmorError,
};

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * What a streaming decrypter would have released before the failure: the chunks that
 * authenticated, through the same chunk reader decryptPayload uses. The file key comes from our
 * own unwrapping and must equal the vector's.
 */
async function releasedPrefix(v: Vector, identities: AgeIdentity[]): Promise<Buffer> {
  const { binary, header } = parseAgeFile(v.file);
  const fileKey = await new AgeDecrypter(identities).unwrapFileKey(header);
  if (v.fileKey) assert.equal(fileKey.toString('hex'), v.fileKey, `${v.name}: unwrapped a different file key`);
  const released: Buffer[] = [];
  try {
    for (const chunk of payloadChunks(fileKey, binary.subarray(header.payloadOffset))) released.push(Buffer.from(chunk));
  } catch (error) {
    assert.ok(error instanceof AgePayloadError, `${v.name}: the chunk reader failed with ${String(error)}`);
  }
  return Buffer.concat(released);
}

const names = readdirSync(DIR).filter((n) => n !== 'ORIGIN' && !n.startsWith('.')).sort();
const vectors = names.map(readVector);
const tally = new Map<string, number>();
const count = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);

describe('C2SP CCTV age vectors', () => {
  test('the copy is complete: 143 vectors, every class present', () => {
    assert.equal(vectors.length, 143);
    for (const e of EXPECTS) assert.ok(vectors.some((v) => v.expect === e), `no ${e} vector`);
  });

  for (const v of vectors) {
    const label = `${v.name}: ${v.passphrases.length ? 'scrypt, refused' : v.expect}`;
    test(label, async () => {
      // Armor is detected as for a user's file: the vector's own flag must agree.
      assert.equal(isArmored(v.file), v.armored, `${v.name}: armor detection disagrees with "armored: ${v.armored ? 'yes' : 'no'}"`);
      const identities = await identitiesOf(v);
      const outcome = await new AgeDecrypter(identities).decrypt(v.file).then(
        (plaintext) => ({ plaintext }),
        (error: unknown) => ({ error }),
      );

      if (v.passphrases.length > 0) {
        // Passphrase files: refused with their own message (or, when the armor or header around
        // the scrypt stanza is broken, with that failure: a file must parse before it is judged).
        assert.ok('error' in outcome, `${v.name}: a passphrase file was opened`);
        const e = outcome.error;
        if (e instanceof AgeUnsupportedError) {
          assert.match(e.message, /passphrase-encrypted \(scrypt\), which cannot be opened unattended/);
          count('scrypt refused');
          return;
        }
        assert.ok(v.expect !== 'success', `${v.name}: expected a refusal, got ${String(e)}`);
        assert.ok(e instanceof CLASS[v.expect as Exclude<Expect, 'success'>], `${v.name}: expected ${v.expect}, got ${String(e)}`);
        count(`scrypt ${v.expect}`);
        return;
      }

      if (v.expect === 'success') {
        assert.ok('plaintext' in outcome, `${v.name}: expected success, got ${'error' in outcome ? String(outcome.error) : ''}`);
        assert.equal(sha256(outcome.plaintext), v.payload, `${v.name}: wrong plaintext`);
        count('success');
        return;
      }
      assert.ok('error' in outcome, `${v.name}: expected ${v.expect}, but the file decrypted`);
      const e = outcome.error;
      assert.ok(e instanceof CLASS[v.expect], `${v.name}: expected ${v.expect}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
      assert.ok(e instanceof AgeDecryptError);
      assert.equal(e.kind, v.expect === 'no match' ? 'no-identity' : 'corrupt');
      if (v.expect === 'payload failure') {
        // Our API releases nothing of a file that fails; the authenticated prefix a streaming
        // decrypter would have released must still be exactly the vector's.
        assert.equal(sha256(await releasedPrefix(v, identities)), v.payload, `${v.name}: wrong authenticated prefix`);
      }
      count(v.expect);
    });
  }

  test('tally: every vector ran, passphrase vectors refused', () => {
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, vectors.length, JSON.stringify(Object.fromEntries(tally)));
    assert.ok((tally.get('scrypt refused') ?? 0) > 0);
  });
});

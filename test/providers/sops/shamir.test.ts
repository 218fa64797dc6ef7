// Shamir over GF(2^8) as sops (HashiCorp Vault's code) does it, and key groups: a 2-of-3 file whose
// shares are wrapped to three different age recipients by the real `age` CLI decrypts with any two
// keys and, with one, fails saying how many groups are needed, how many opened and why each did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, AGE_SKIP, GPG_SKIP } from '../../helpers/tools.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { fcSeeded } from '../../helpers/random.js';
import { combine, gfInverse, gfMul } from '../../../src/providers/sops/shamir.js';
import { gpgDecrypt } from '../../../src/providers/sops/pgp.js';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { ageKey, copyGnupgHome, tempDir } from './helpers/keys.js';
import { fetchSops } from './helpers/run.js';
import { ageWrap, enc, fieldMul, map, newDataKey, pgpWrap, shamirSplit, writeSops } from './helpers/writer.js';

const VALUE = 'shamir-protected-value';
registerSecretValues(VALUE);

test('GF(2^8) with 0x11B: the FIPS-197 check values', () => {
  // Both the product in src/ and the writer's table-driven one (another algorithm) meet FIPS-197's
  // examples, and agree on every pair: the writer's shares are an independent split.
  for (const mul of [gfMul, fieldMul]) {
    assert.equal(mul(0x57, 0x83), 0xc1);
    assert.equal(mul(0x57, 0x13), 0xfe);
    assert.equal(mul(0x53, 0xca), 0x01);
  }
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (gfMul(a, b) !== fieldMul(a, b)) assert.fail(`${a}·${b}`);
  assert.equal(gfMul(0x57, 0x83), 0xc1);
  assert.equal(gfMul(0x57, 0x13), 0xfe);
  assert.equal(gfInverse(0x53), 0xca);
  assert.equal(gfMul(0x53, 0xca), 0x01);
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInverse(a)), 1, `inverse of ${a}`);
  assert.equal(gfMul(0, 0x83), 0);
});

test('combine: a hand-computed 2-of-3 split of one byte', () => {
  // p(x) = 0x42 + 0x05·x: p(1) = 0x47, p(2) = 0x42 ⊕ 0x0a = 0x48, p(3) = 0x42 ⊕ 0x0f = 0x4d.
  const shares = [Buffer.from([0x47, 1]), Buffer.from([0x48, 2]), Buffer.from([0x4d, 3])];
  for (const pair of [[0, 1], [0, 2], [1, 2], [2, 0]]) assert.deepEqual(combine(pair.map((i) => shares[i]!)), Buffer.from([0x42]));
  assert.deepEqual(combine(shares), Buffer.from([0x42]));
  assert.throws(() => combine([shares[0]!]), /at least two shares/);
  assert.throws(() => combine([shares[0]!, shares[0]!]), /same x coordinate/);
  assert.throws(() => combine([shares[0]!, Buffer.from([1, 2, 3])]), /different lengths/);
});

test('combine inverts a split for any threshold and any large-enough subset of shares', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 0, max: 4 }), fc.integer(), (secret, threshold, extra, seed) => {
      const parts = threshold + extra;
      const shares = shamirSplit(Buffer.from(secret), parts, threshold);
      // A deterministic pick of `threshold` distinct shares from the seed.
      const order = shares.map((s, i) => ({ s, k: Math.imul(i + 1, seed | 1) >>> 0 })).sort((a, b) => a.k - b.k);
      assert.deepEqual(combine(order.slice(0, threshold).map((o) => o.s)), Buffer.from(secret));
    }),
    fcSeeded(200),
  );
});

test('a 2-of-3 key-group file (age CLI shares) opens with any two keys, not with one', { skip: needs(AGE_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const keys = [ageKey(dir, 'g1.key'), ageKey(dir, 'g2.key'), ageKey(dir, 'g3.key')];
  const dataKey = newDataKey();
  const shares = shamirSplit(dataKey, 3, 2);
  const groups = shares.map((share, i) => ({ age: [{ recipient: keys[i]!.recipient, enc: ageWrap(share, keys[i]!.recipient) }] }));
  const file = join(dir, 'groups.yaml');
  writeFileSync(file, writeSops('yaml', [map(['db', map(['password', enc(VALUE)])])], { dataKey, groups, threshold: 2 }));

  for (const subset of [[0, 1], [1, 2], [0, 2], [0, 1, 2]]) {
    const opened: string[] = [];
    const [outcome] = await fetchSops([{ file, key: 'db/password' }], { keys: { ageKeyFiles: subset.map((i) => keys[i]!.file) }, lib: { onUnwrap: (k) => opened.push(k) } });
    assert.deepEqual(outcome, { ok: Buffer.from(VALUE) }, `keys ${subset}`);
    // Two shares suffice: a third group is not tried once the threshold is met.
    assert.equal(opened.length, 2, `keys ${subset}`);
  }

  const [outcome] = await fetchSops([{ file, key: 'db/password' }], { keys: { ageKeyFiles: [keys[2]!.file] } });
  assert.ok('error' in outcome!);
  assert.equal(outcome.error.kind, 'unauthorized');
  const [r1, r2, r3] = keys.map((k) => k.recipient);
  assert.equal(
    outcome.error.message,
    `${file}: cannot recover the data key: needs 2 of 3 key groups, 1 opened (` +
      `group 1: age ${r1}: no matching key among the 1 age identity configured | ` +
      `group 2: age ${r2}: no matching key among the 1 age identity configured | ` +
      `group 3: opened by age ${r3})`,
  );

  // The same through the CLI: exit 65, the message on stderr, no value anywhere.
  const { config } = writeConfigIn(dir, { keys: { ageKeyFiles: [keys[2]!.file] }, secrets: { pw: { sources: [{ sops: { file: 'groups.yaml', key: 'db/password' } }] } } });
  const run = await runCli(['apply', '--config', config]);
  assert.equal(run.code, 65, run.stderr);
  assert.match(run.stderr, /groups\.yaml: cannot recover the data key: needs 2 of 3 key groups, 1 opened/);
});

test('inside a group age is tried before PGP; gpg runs only when no age key opens it', { skip: needs(AGE_SKIP, GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const home = copyGnupgHome(t, dir);
  const age = ageKey(dir, 'age.key');
  const dataKey = newDataKey();
  const fp = '7FB89715AADA920D65D25E63F9BA9DEBD03F57C0';
  // PGP listed first in the file: the order of attempts must not follow the file.
  const groups = [{ pgp: [{ fp, enc: pgpWrap(dataKey, home, fp) }], age: [{ recipient: age.recipient, enc: ageWrap(dataKey, age.recipient) }] }];
  const file = join(dir, 'mixed.json');
  writeFileSync(file, writeSops('json', [map(['value', enc(VALUE)])], { dataKey, groups }));

  let gpgRuns = 0;
  const gpg: typeof gpgDecrypt = (message, options) => {
    gpgRuns++;
    return gpgDecrypt(message, options);
  };
  const opened: string[] = [];
  const both = await fetchSops([{ file, key: 'value' }], { keys: { ageKeyFiles: [age.file], gnupgHome: home }, lib: { gpg, onUnwrap: (k) => opened.push(k) } });
  assert.deepEqual(both, [{ ok: Buffer.from(VALUE) }]);
  assert.equal(gpgRuns, 0);
  assert.deepEqual(opened, [`age ${age.recipient}`]);

  const pgpOnly = await fetchSops([{ file, key: 'value' }], { keys: { gnupgHome: home }, lib: { gpg, onUnwrap: (k) => opened.push(k) } });
  assert.deepEqual(pgpOnly, [{ ok: Buffer.from(VALUE) }]);
  assert.equal(gpgRuns, 1);
  assert.equal(opened.at(-1), `pgp ${fp}`);
});

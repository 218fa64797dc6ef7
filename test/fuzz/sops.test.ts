// Property-based fuzzing of sops files written by the real sops (test/fixtures/sops/sops-age):
// bytes flipped, cut, inserted and spliced anywhere — values, MAC, metadata, structure. Every
// request must come back either with exactly the value the intact file gives, or as a
// ProviderError; never another exception, never different bytes. `check` must never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { runs } from './seed.js';
import { ProviderError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { sopsProvider, type SopsSource } from '../../src/providers/sops/index.js';
import { createSopsProvider } from '../../src/providers/sops/provider.js';
import { REPO } from '../helpers/cli.js';
import { fetchSops } from '../providers/sops/helpers/run.js';
import { applyDamage, damageArbitrary } from './damage.js';
import { tempDir } from '../helpers/temp.js';

const SOPS_AGE = join(REPO, 'test/fixtures/sops/sops-age');

// sops does not authenticate comments (they are outside the MAC, and Go sops passes a comment it
// cannot decrypt through as plain text), so a '#' that turns a dotenv metadata line into a comment
// adds a comment line to the whole-file output, exactly as `sops -d` shows it. Whole-file outputs
// are therefore compared without their comment lines; every other line must be the same.
const withoutComments = (b: Buffer) => b.toString('utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
const sameValue = (got: Buffer, want: Buffer, key: string, file: string) =>
  got.equals(want) || (key === '' && file.endsWith('.env') && withoutComments(got) === withoutComments(want));

// Keys whose text does not depend on the value's sops type (the type tag is not authenticated by
// sops: `type:int` → `type:str` on "7" passes the MAC in Go sops too, so whole-file re-typing is
// not something a fuzzer may call a wrong value).
const CASES = [
  { file: 'secret.enc.yaml', keys: ['secret', 'string', 'complex/value', 'complex/array/1'] },
  { file: 'secret.enc.json', keys: ['secret', 'string', '0word', 'complex/value', 'complex/array/2'] },
  { file: 'secret.enc.env', keys: ['secret', 'another_secret', ''] },
];

const damage = damageArbitrary({
  bits: 7,
  insert: fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom('\n', ' ', ':', '- ', '"', '#', '=', '[', '{', 'ENC[')).map((s) => new Uint8Array(Buffer.from(s))),
  maxSplice: 80,
});

test('damaged sops files give the intact values or a ProviderError, in every format', async (t) => {
  const dir = tempDir(t, 'materialize-sopsfuzz-');
  const key = join(dir, 'key.txt');
  copyFileSync(join(SOPS_AGE, 'key.txt'), key);
  const keys = { ageKeyFiles: [key] };
  let total = 0;
  for (const c of CASES) {
    const original = readFileSync(join(SOPS_AGE, c.file));
    const file = join(dir, c.file);
    const sources: SopsSource[] = c.keys.map((k) => ({ file, key: k }));
    writeFileSync(file, original);
    const expected = (await fetchSops(sources, { keys })).map((o) => {
      assert.ok('ok' in o, `${c.file}: the intact file must decrypt`);
      return o.ok;
    });
    const counts = { same: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        writeFileSync(file, applyDamage(original, d));
        const outcomes = await fetchSops(sources, { keys });
        outcomes.forEach((o, i) => {
          if ('ok' in o) {
            assert.ok(sameValue(o.ok, expected[i]!, c.keys[i]!, c.file), `${c.file} key "${c.keys[i]}": a damaged file gave different bytes (${JSON.stringify(d)})`);
            counts.same++;
          } else {
            assert.ok(o.error instanceof ProviderError);
            // (A value that also appears in the encrypted file as text, like the key name "string", may be named.)
            const value = expected[i]!.toString();
            if (value.length >= 4 && !original.includes(value)) assert.ok(!o.error.message.includes(value), 'an error must not quote the value');
            counts.refused++;
          }
        });
      }),
      { numRuns: runs(700) },
    );
    total += runs(700);
    t.diagnostic(`${c.file}: ${runs(700)} damaged files × ${c.keys.length} keys: ${counts.refused} refused, ${counts.same} unaffected (damage outside what the key needs)`);
    assert.ok(counts.refused > 0 && counts.same > 0);
  }
  t.diagnostic(`${total} damaged sops files in all`);
});

test('check never throws on damaged sops files', async (t) => {
  const dir = tempDir(t, 'materialize-sopsfuzz-');
  const provider = createSopsProvider({});
  let ran = 0;
  for (const c of CASES) {
    const original = readFileSync(join(SOPS_AGE, c.file));
    const file = join(dir, c.file);
    const requests = c.keys.map((k, i) => ({ id: `r${i}`, secrets: [`s${i}`], source: sopsProvider.normalize!({ file, key: k }, '/') }));
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        ran++;
        writeFileSync(file, applyDamage(original, d));
        const problems = await provider.check!(requests, { settings: undefined, keys: { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null }, log: silentLogger(), signal: new AbortController().signal });
        for (const p of problems) assert.ok(p.message.length > 0 && requests.some((r) => r.id === p.requestId));
      }),
      { numRuns: runs(500) },
    );
  }
  assert.equal(ran, CASES.length * runs(500));
});

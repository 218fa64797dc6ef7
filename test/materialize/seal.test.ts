// The sealed store of network values: encrypted to the host's keys (the real age CLI opens it with
// the host's key), holds no value in clear, refused whole when damaged, replaced whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadKeyRing } from '../../src/keys/index.js';
import { silentLogger } from '../../src/log.js';
import { readSeal, writeSeal, type SealedValue } from '../../src/materialize/seal.js';
import { seededHex, seededRandom } from '../helpers/random.js';
import { AGE_SKIP } from '../age/helpers/tools.js';

async function hostKeys(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'materialize-seal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'host.key');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
  const ring = await loadKeyRing({ ageKeyFiles: [keyFile], sshKeyPaths: [], gnupgHome: null }, silentLogger());
  const points = ring.identities.map((i) => (i as unknown as { publicKey: Buffer }).publicKey);
  return { dir, keyFile, ring, points };
}

function values(random: () => number): Map<string, SealedValue> {
  const map = new Map<string, SealedValue>();
  for (let i = 0; i < 5; i++) {
    map.set(`onepassword:{"reference":"op://Infra/item${i}/password"}`, { provider: 'onepassword', source: `op://Infra/item${i}/password`, fetchedAt: new Date(1_800_000_000_000 + i).toISOString(), value: Buffer.from(`sealed-secret-${i}-${seededHex(random, 8)}`) });
  }
  map.set('bitwarden:{"secret":"x"}', { provider: 'bitwarden', source: 'bitwarden x', fetchedAt: new Date(1_800_000_000_000).toISOString(), value: Buffer.alloc(0) });
  map.set('bitwarden:{"secret":"bin"}', { provider: 'bitwarden', source: 'bitwarden bin', fetchedAt: new Date(1_800_000_000_000).toISOString(), value: Buffer.from([0, 10, 255, 13, 10]) });
  return map;
}

test('a seal opens with the host key (ours and the real age CLI), holds every value exactly, and none in clear', { skip: AGE_SKIP }, async (t) => {
  const host = await hostKeys(t);
  const file = join(host.dir, 'sealed.age');
  const original = values(seededRandom(21));
  writeSeal(file, original, host.points);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const bytes = readFileSync(file);
  for (const v of original.values()) if (v.value.length >= 4) assert.equal(bytes.indexOf(v.value), -1, 'no value in clear');
  const read = await readSeal(file, host.ring.identities);
  assert.equal(read.problem, undefined);
  assert.deepEqual([...read.values.keys()].sort(), [...original.keys()].sort());
  for (const [k, v] of original) {
    const got = read.values.get(k)!;
    assert.ok(got.value.equals(v.value), k);
    assert.equal(got.fetchedAt, v.fetchedAt);
    assert.equal(got.source, v.source);
  }
  // The real age CLI opens it with the host's key: it is a plain age file.
  const plain = execFileSync('age', ['-d', '-i', host.keyFile, file]);
  assert.ok(plain.subarray(0, 19).equals(Buffer.from('materialize-seal/1\n')));
});

test('a damaged or truncated seal is refused whole, with a reason, never half-used; a missing one is simply empty', { skip: AGE_SKIP }, async (t) => {
  const host = await hostKeys(t);
  const file = join(host.dir, 'sealed.age');
  assert.deepEqual(await readSeal(file, host.ring.identities), { values: new Map(), exists: false });
  writeSeal(file, values(seededRandom(22)), host.points);
  const good = readFileSync(file);
  const random = seededRandom(23);
  const damaged: Buffer[] = [good.subarray(0, good.length - 1), good.subarray(0, Math.floor(good.length / 2)), Buffer.alloc(0)];
  for (let i = 0; i < 20; i++) {
    const copy = Buffer.from(good);
    const at = Math.floor(random() * copy.length);
    copy[at] = copy[at]! ^ (1 + Math.floor(random() * 255));
    damaged.push(copy);
  }
  for (const [i, bytes] of damaged.entries()) {
    writeFileSync(file, bytes);
    const read = await readSeal(file, host.ring.identities);
    assert.equal(read.values.size, 0, `damage ${i}: nothing used`);
    assert.match(read.problem ?? '', /cannot be opened with this host's keys or is damaged/, `damage ${i}`);
  }
  // Another host's key opens nothing either.
  writeFileSync(file, good);
  const other = await hostKeys(t);
  assert.match((await readSeal(file, other.ring.identities)).problem ?? '', /cannot be opened/);
});

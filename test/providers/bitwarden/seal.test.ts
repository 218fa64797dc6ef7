// The sealed store and the call budget with Bitwarden Secrets Manager as the network source: the
// built CLI against the local Bitwarden server (test/helpers/bitwarden/server.ts, real cryptography
// on 127.0.0.1). "The network is down" is the server not listening (connections refused); "a
// reboot" empties the mount point and keeps the state directory. The real `age` CLI opens the seal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { OPENSSL_SKIP } from '../../helpers/bitwarden/cert.js';
import { applyJson, statuses, type World } from '../../helpers/fixtures.js';
import { seededHex, seededRandom } from '../../helpers/random.js';
import { fakeSystemctl } from '../../helpers/systemctl.js';
import { AGE_SKIP } from '../../helpers/tools.js';
import { bitwardenWorld, bw, configure, privateFile, published, type BitwardenWorld } from './helpers.js';

const SKIP = AGE_SKIP || OPENSSL_SKIP;
const random = seededRandom(1301);
const value = (label: string) => {
  const v = `${label}-${seededHex(random, 12)}`;
  registerSecretValues(v);
  return v;
};

function reboot(world: World): void {
  rmSync(world.mountPoint, { recursive: true, force: true });
  rmSync(world.secretsDir, { force: true });
}

const sealOf = (w: BitwardenWorld) => join(w.dir, 'state', 'sealed.age');
const openSeal = (w: BitwardenWorld) => execFileSync('age', ['-d', '-i', w.keyFile, sealOf(w)], { stdio: ['ignore', 'pipe', 'pipe'] });

test('Bitwarden unreachable at boot: every secret from the seal; back: the rotated one published and only its unit restarted', { skip: SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const systemctl = fakeSystemctl(w.dir);
  const values = { db: value('bw-db'), api: value('bw-api') };
  const db = w.server.addSecret({ key: 'DB', value: values.db });
  const api = w.server.addSecret({ key: 'API', value: values.api });
  configure(w, { db: bw({ secret: db }, { restartUnits: ['db.service'] }), api: bw({ secret: api }, { restartUnits: ['api.service'] }) });
  const env = systemctl.env;
  const first = await applyJson(w, ['--units', 'yes'], { env });
  assert.equal(first.code, 0, first.stderr);
  const plain = openSeal(w);
  assert.ok(plain.includes(values.db) && plain.includes(values.api));
  assert.equal(readFileSync(sealOf(w)).indexOf(values.db), -1, 'no value in clear');

  // The server is gone (connections refused) and the host reboots: published from the seal, no request.
  await w.server.down();
  reboot(w);
  const requests = w.server.requests.length;
  const boot = await applyJson(w, ['--boot', '--units', 'yes'], { env });
  assert.equal(boot.code, 0, boot.stderr);
  assert.deepEqual(statuses(boot.report), { db: 'cached', api: 'cached' });
  assert.equal(published(w, 'db').toString(), values.db);
  assert.deepEqual(boot.report.calls, {});
  // Network first, still down: published all the same, exit 75, the reason named; no budget spent.
  const live = await applyJson(w, ['--units', 'yes'], { env });
  assert.equal(live.code, 75, live.stderr);
  assert.deepEqual(statuses(live.report), { db: 'cached', api: 'cached' });
  assert.match(live.report.entries[0]!.reason!, /connection refused/);
  assert.ok(live.report.calls.bitwarden!.login! >= 1, 'the attempts are counted');
  assert.equal(live.report.budget![0]!.used, first.report.budget![0]!.used, 'refused connections cost no budget');
  assert.match(live.report.budget![0]!.label!, /^bitwarden, server https:\/\/127\.0\.0\.1:\d+, access token file /);
  assert.equal(w.server.requests.length, requests);

  // Back, with db rotated: the refresh publishes it and restarts db.service only.
  const rotated = value('bw-db-rotated');
  w.server.setSecretValue(db, rotated);
  await w.server.up();
  systemctl.take();
  const back = await applyJson(w, ['--units', 'yes'], { env });
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(statuses(back.report), { db: 'changed', api: 'unchanged' });
  assert.equal(published(w, 'db').toString(), rotated);
  assert.deepEqual(systemctl.take(), ['--no-block try-restart -- db.service']);
  const after = openSeal(w);
  assert.ok(after.includes(rotated) && !after.includes(values.db));
});

test('Bitwarden: a deleted secret and a revoked access token never fall back to the seal, and leave it', { skip: SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const values = { a: value('bw-a'), b: value('bw-b') };
  const a = w.server.addSecret({ key: 'A', value: values.a });
  const b = w.server.addSecret({ key: 'B', value: values.b });
  configure(w, { a: bw({ secret: a }), b: bw({ secret: b }) });
  assert.equal((await applyJson(w)).code, 0);
  w.server.removeSecret(a);
  const gone = await applyJson(w);
  assert.equal(gone.code, 65, gone.stderr);
  assert.deepEqual(statuses(gone.report), { a: 'stale', b: 'unchanged' });
  assert.ok(!openSeal(w).includes(values.a), 'a deleted secret leaves the seal');
  assert.ok(openSeal(w).includes(values.b));

  w.server.revokeAccessToken(w.accessToken);
  const revoked = await applyJson(w);
  assert.equal(revoked.code, 65, revoked.stderr);
  assert.deepEqual(statuses(revoked.report), { a: 'stale', b: 'stale' });
  assert.match(revoked.report.entries.find((e) => e.name === 'b')!.reason!, /access token was refused/);
  assert.ok(!openSeal(w).includes(values.b), "a refused token's values leave the seal");
  reboot(w);
  await w.server.down();
  const boot = await applyJson(w, ['--boot']);
  assert.equal(boot.code, 75, boot.stderr);
  assert.deepEqual(statuses(boot.report), { a: 'failed', b: 'failed' });
  assert.equal(existsSync(join(w.secretsDir, 'b')), false);
});

test('Bitwarden rate-limits (429): the sealed value is published, exit 69, and no request is sent again within the hour', { skip: SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const v = value('bw-limited');
  const id = w.server.addSecret({ key: 'L', value: v });
  configure(w, { l: bw({ secret: id }) });
  assert.equal((await applyJson(w)).code, 0);
  w.server.faults = [{ match: /connect\/token/, kind: '429' }];
  const before = w.server.requests.length;
  for (let run = 0; run < 5; run++) {
    const r = await applyJson(w);
    assert.equal(r.code, 69, r.stderr);
    assert.deepEqual(statuses(r.report), { l: 'cached' });
  }
  assert.equal(w.server.requests.length - before, 1, 'one request: the one refused');
  const status = await runCli(['status', '--config', w.configFile]);
  assert.match(status.stdout, /call budget \(bitwarden, server .*\): rate limited by the provider; no call before \S+/);
  // The token file is the budget's account: another token file has a budget of its own.
  const other = w.server.accessToken();
  registerSecretValues(other);
  configure(w, { l: bw({ secret: id }) }, w.settings({ accessTokenFile: privateFile(w.dir, 'other-token', `${other}\n`) }));
  w.server.faults = [];
  assert.equal((await applyJson(w)).code, 0);
});

// Secrets Manager through the whole CLI, against the local Bitwarden server: secrets by id and by
// key within a project, one login and one batched fetch per run, every failure class with its
// error kind and exit code, a server that never answers, a rate limit, a fallback to sops, and
// the access token never in any output or any process's argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, registerSecretValues } from '../../helpers/cli.js';
import { OPENSSL_SKIP } from '../../helpers/bitwarden/cert.js';
import { applyWatched, bitwardenWorld, bw, configure, failures, privateFile, published, secretValues, type BitwardenWorld } from './helpers.js';

const value = secretValues(1101);

/** Runs apply with the token, password and client secret watched in every argv; asserts nothing leaked. */
async function run(w: BitwardenWorld, args: string[] = []) {
  const r = await applyWatched(w, [w.accessToken, w.server.password, w.server.clientSecret], args);
  assert.deepEqual(r.argv.leaks, [], 'no token or password in any argv');
  assert.ok(r.argv.samples > 0);
  return r;
}

test('secrets by id and by key within a project: exact values, one login, one listing, one batched fetch', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const prod = w.server.addProject('prod');
  const dev = w.server.addProject('dev');
  const values = { db: value('db'), api: value('api'), multi: `${value('multi')}\nsecond line\n`, devDb: value('dev-db') };
  const db = w.server.addSecret({ key: 'DB_PASSWORD', value: values.db, projects: [prod] });
  w.server.addSecret({ key: 'DB_PASSWORD', value: values.devDb, projects: [dev] });
  const api = w.server.addSecret({ key: 'API', value: values.api, projects: [prod] });
  const multi = w.server.addSecret({ key: 'MULTI', value: values.multi });
  configure(w, {
    'db/by-id': bw({ secret: db.toUpperCase() }),
    'db/by-key': bw({ project: prod, key: 'DB_PASSWORD' }),
    'dev/db': bw({ project: dev, key: 'DB_PASSWORD' }),
    api: bw({ secret: api }),
    api2: bw({ secret: api }),
    multi: bw({ secret: multi }),
  });
  const r = await run(w);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(published(w, 'db/by-id').toString(), values.db);
  assert.equal(published(w, 'db/by-key').toString(), values.db);
  assert.equal(published(w, 'dev/db').toString(), values.devDb, 'the same key in another project is another secret');
  assert.equal(published(w, 'api').toString(), values.api);
  assert.equal(published(w, 'multi').toString(), values.multi, 'values are published byte for byte, newlines included');
  assert.deepEqual(r.report.calls, { bitwarden: { login: 1, 'list secrets': 1, 'get secrets': 1 } });
  const logins = w.server.requests.filter((q) => q.scope === 'api.secrets');
  assert.equal(logins.length, 1);

  // By id only: no listing at all.
  configure(w, { 'db/by-id': bw({ secret: db }), api: bw({ secret: api }) });
  const again = await run(w);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(again.report.calls, { bitwarden: { login: 1, 'get secrets': 1 } });
});

test('ambiguity and absence: a key held by two secrets of a project names both ids; a missing id fails alone; the rest is published', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const prod = w.server.addProject('prod');
  const a = w.server.addSecret({ key: 'TWICE', value: value('twice-a'), projects: [prod] });
  const b = w.server.addSecret({ key: 'TWICE', value: value('twice-b'), projects: [prod] });
  const good = value('good');
  const ok = w.server.addSecret({ key: 'OK', value: good, projects: [prod] });
  const gone = w.server.addSecret({ key: 'GONE', value: value('gone') });
  w.server.removeSecret(gone);
  configure(w, {
    twice: bw({ project: prod, key: 'TWICE' }),
    missing: bw({ secret: gone }),
    'wrong-case': bw({ project: prod, key: 'ok' }),
    fine: bw({ secret: ok }),
  });
  const r = await run(w);
  assert.equal(r.code, 65, 'not found and ambiguous are not temporary: 65');
  assert.equal(published(w, 'fine').toString(), good);
  const f = failures(r.report);
  assert.equal(f.twice![0]!.kind, 'config');
  assert.match(f.twice![0]!.message, new RegExp(`2 secrets with the key "TWICE" \\((${a}, ${b}|${b}, ${a})\\)`));
  assert.equal(f.missing![0]!.kind, 'not-found');
  assert.match(f.missing![0]!.message, new RegExp(`secret ${gone} does not exist`));
  assert.equal(f['wrong-case']![0]!.kind, 'not-found');
  assert.match(f['wrong-case']![0]!.message, /keys are case-sensitive/);
  // The server refuses a batch with any missing id (as Bitwarden's does): one listing tells which, one more fetch gets the rest.
  assert.deepEqual(r.report.calls, { bitwarden: { login: 1, 'list secrets': 1, 'get secrets': 2 } });
});

test('refused, malformed and readable tokens, and a Vaultwarden server: each its own message, exit 65, the token never shown', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const id = w.server.addSecret({ key: 'K', value: value('v') });
  const cases: { label: string; settings: Record<string, unknown>; kind: string; message: RegExp }[] = [
    { label: 'revoked', settings: { accessTokenFile: privateFile(w.dir, 'revoked', (() => { const tok = w.server.accessToken(); registerSecretValues(tok); w.server.revokeAccessToken(tok); return tok; })()) }, kind: 'unauthorized', message: /access token was refused \(invalid_client\)/ },
    { label: 'malformed', settings: { accessTokenFile: privateFile(w.dir, 'malformed', w.accessToken.replace(':', '|')) }, kind: 'config', message: /does not hold a Secrets Manager access token: it has no encryption key/ },
    { label: 'readable', settings: { accessTokenFile: privateFile(w.dir, 'readable', w.accessToken, 0o644) }, kind: 'config', message: /has mode 0644, readable by its group or by others/ },
    { label: 'absent', settings: { accessTokenFile: join(w.dir, 'nope') }, kind: 'config', message: /does not exist/ },
    { label: 'unset', settings: { accessTokenFile: undefined }, kind: 'config', message: /accessTokenFile is not set/ },
  ];
  for (const c of cases) {
    configure(w, { s: bw({ secret: id }) }, w.settings(c.settings));
    const r = await run(w);
    assert.equal(r.code, 65, `${c.label}: ${r.stderr}`);
    const f = failures(r.report).s![0]!;
    assert.equal(f.kind, c.kind, c.label);
    assert.match(f.message, c.message, c.label);
  }
  // The opt-out accepts a readable file.
  configure(w, { s: bw({ secret: id }) }, w.settings({ accessTokenFile: privateFile(w.dir, 'readable2', w.accessToken, 0o640), allowReadableTokenFiles: true }));
  assert.equal((await run(w)).code, 0);

  const vw = await bitwardenWorld(t, { vaultwarden: true });
  configure(vw, { s: bw({ secret: id }) });
  const r = await run(vw);
  assert.equal(r.code, 65);
  assert.match(failures(r.report).s![0]!.message, /does not serve Secrets Manager .*Vaultwarden/);
});

test('a server that accepts the connection and never answers: the per-call deadline ends the run with 75, no retry of a silent server', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const id = w.server.addSecret({ key: 'K', value: value('v') });
  w.server.faults = [{ match: /connect\/token/, kind: 'silent' }];
  configure(w, { s: bw({ secret: id }) }, w.settings({ timeout: 2 }));
  const started = Date.now();
  const r = await run(w);
  assert.equal(r.code, 75, r.stderr);
  assert.ok(Date.now() - started < 30_000, 'the run ends soon after the 2 s deadline');
  assert.match(failures(r.report).s![0]!.message, /no answer in 2 s/);
  assert.deepEqual(r.report.calls, { bitwarden: { login: 1 } });
});

test('rate-limited (429): exit 69 and no retry; a server error (500) is retried, then 75', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const id = w.server.addSecret({ key: 'K', value: value('v') });
  // What the provider does on its own, run after run: no sealed values, no budget (whose hour-long
  // back-off after a 429 would hold the next runs back: test/providers/bitwarden/seal.test.ts).
  configure(w, { s: bw({ secret: id }) }, w.settings(), { network: { seal: false, callsPerHour: 0 } });
  w.server.faults = [{ match: /get-by-ids/, kind: '429' }];
  const limited = await run(w);
  assert.equal(limited.code, 69, limited.stderr);
  assert.equal(failures(limited.report).s![0]!.kind, 'rate-limited');
  assert.match(failures(limited.report).s![0]!.message, /HTTP 429; retry after 60 s\); not retried/);
  assert.deepEqual(limited.report.calls, { bitwarden: { login: 1, 'get secrets': 1 } });

  w.server.faults = [{ match: /connect\/token/, kind: '500' }];
  const broken = await run(w);
  assert.equal(broken.code, 75);
  assert.deepEqual(broken.report.calls, { bitwarden: { login: 3 } }, 'three attempts in all');

  w.server.faults = [{ match: /get-by-ids/, kind: '500', times: 1 }];
  const healed = await run(w);
  assert.equal(healed.code, 0, 'a passing server error is retried away');
  assert.deepEqual(healed.report.calls, { bitwarden: { login: 1, 'get secrets': 2 } });
});

test('a fallback round reuses the run\'s login: one login for two rounds; a refused token is not sent again', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const first = value('first');
  const second = value('second');
  const a = w.server.addSecret({ key: 'A', value: first });
  const b = w.server.addSecret({ key: 'B', value: second });
  // `late` reaches Bitwarden in the second round only: its first source (a missing age file) fails.
  const missingAge = { age: { file: join(w.dir, 'missing.age') } };
  const secrets = { early: bw({ secret: a }), late: { sources: [missingAge, { bitwarden: { secret: b } }] } };
  configure(w, secrets);
  const r = await run(w);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(published(w, 'early').toString(), first);
  assert.equal(published(w, 'late').toString(), second);
  assert.deepEqual(r.report.calls, { bitwarden: { login: 1, 'get secrets': 2 } });
  assert.equal(w.server.requests.filter((q) => q.scope === 'api.secrets').length, 1, 'one login reached the server');

  const revoked = w.server.accessToken();
  registerSecretValues(revoked);
  w.server.revokeAccessToken(revoked);
  // New names: no earlier value to keep, so the refusal is what each secret reports.
  configure(w, { early2: secrets.early, late2: secrets.late }, w.settings({ accessTokenFile: privateFile(w.dir, 'revoked', revoked) }));
  const refused = await run(w);
  assert.equal(refused.code, 65, refused.stderr);
  assert.equal(failures(refused.report).early2![0]!.kind, 'unauthorized');
  assert.equal(failures(refused.report).late2!.at(-1)!.kind, 'unauthorized');
  assert.deepEqual(refused.report.calls, { bitwarden: { login: 1 } }, 'the refusal of the first round is the answer of the second');
});

test('sources [bitwarden, sops]: an unreachable Secrets Manager falls back to the sops file', { skip: OPENSSL_SKIP }, async (t) => {
  const w = await bitwardenWorld(t);
  const key = join(w.dir, 'sops-key.txt');
  copyFileSync(join(REPO, 'nixos-module/tests/fixtures/sops/key.txt'), key);
  chmodSync(key, 0o600);
  const sopsFile = join(REPO, 'nixos-module/tests/fixtures/sops/secret.enc.yaml');
  registerSecretValues('this is a secret');
  const id = w.server.addSecret({ key: 'K', value: value('from-bitwarden') });
  const secrets = { s: { sources: [{ bitwarden: { secret: id } }, { sops: { file: sopsFile, key: 'secret' } }] } };
  configure(w, secrets, w.settings(), { keys: { ageKeyFiles: [key] } });
  const first = await run(w);
  assert.equal(first.code, 0, first.stderr);
  assert.notEqual(published(w, 's').toString(), 'this is a secret', 'Bitwarden answers first');
  await w.server.stop();
  const r = await run(w);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(published(w, 's').toString(), 'this is a secret');
  assert.match(r.stderr, /s: fetched from fallback source 2 \(sops /);
});

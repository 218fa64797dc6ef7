// The test server is only worth what Bitwarden's own clients say of it. Here the real `bw` CLI
// (pinned: @bitwarden/cli 2026.6.0) logs in with the master password — so the server checks the
// hash bw derived with PBKDF2-SHA256 or Argon2id —, unlocks (bw opens the user key with its
// HKDF-stretched master key), syncs and lists, and every field it prints is the plaintext the
// server was given; attachments come back byte for byte, and bw's TOTP codes equal ours. Then the
// real @bitwarden/sdk-napi reads Secrets Manager secrets from it, and our client must agree with
// the SDK on every one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BitwardenTestServer, type ItemSpec } from '../../helpers/bitwarden/server.js';
import { OPENSSL_SKIP, testCert } from '../../helpers/bitwarden/cert.js';
import { loadBitwardenSdk, type BitwardenSdk } from '../../helpers/bitwarden/sdk.js';
import { seededHex, seededRandom } from '../../helpers/random.js';
import { fetchSecretsManager } from '../../../src/providers/bitwarden/secrets-manager.js';
import { totpCode } from '../../../src/providers/bitwarden/totp.js';
import { silentLogger } from '../../../src/log.js';
import { BW, privateFile } from './helpers.js';
import { tempDir } from '../../helpers/temp.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real bw with its data in `dir`, trusting the test certificate; secrets go in the environment. */
function bwIn(dir: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(BW, args, { env: { PATH: process.env.PATH!, HOME: dir, BITWARDENCLI_APPDATA_DIR: dir, NODE_EXTRA_CA_CERTS: testCert().certFile, BW_NOINTERACTION: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed: ${r.stderr.trim().split('\n').pop()}`);

const random = seededRandom(4242);
const items: ItemSpec[] = [
  { name: 'GitHub', login: { username: 'octocat', password: `gh-${seededHex(random, 12)}`, totp: 'JBSWY3DPEHPK3PXP', uris: ['https://github.com'] }, notes: 'line one\nline two ✓', fields: [{ name: 'API Key', value: `api-${seededHex(random, 8)}`, type: 1 }, { name: 'region', value: 'eu-west-1', type: 0 }, { name: 'enabled', value: 'true', type: 2 }] },
  { name: 'Secure note', type: 2, notes: `note-${seededHex(random, 8)}` },
  { name: 'Blob holder', login: { password: 'p' }, attachments: [{ fileName: 'blob.bin', data: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)) }, { fileName: 'empty-ish.txt', data: Buffer.from('x') }] },
  { name: 'Steam', login: { totp: 'steam://JBSWY3DPEHPK3PXP' } },
  { name: 'SHA256 8 digits', login: { totp: 'otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA&algorithm=SHA256&digits=8&period=60' } },
];

for (const kdf of [
  { label: 'PBKDF2-SHA256', kdf: { type: 0 as const, iterations: 5000 } },
  { label: 'Argon2id', kdf: { type: 1 as const, iterations: 2, memory: 16, parallelism: 2 } },
]) {
  test(`the real bw CLI logs in with a ${kdf.label} master password, unlocks, syncs and lists exactly what the server holds`, { skip: OPENSSL_SKIP, timeout: 600_000 }, async (t) => {
    const server = await BitwardenTestServer.start({ kdf: kdf.kdf, seed: kdf.kdf.type + 1 });
    t.after(() => server.stop());
    const ids = items.map((i) => server.addItem(i));
    const dir = tempDir(t, 'bw-fidelity-');

    ok(await bwIn(dir, ['config', 'server', server.url]), 'bw config server');
    // Password login: bw asks for the KDF (prelogin), derives the master key and sends its hash; the
    // server accepts only the hash of the key it derived itself.
    ok(await bwIn(dir, ['login', server.email, '--passwordenv', 'BW_PASSWORD'], { BW_PASSWORD: server.password }), 'bw login');
    assert.ok(server.requests.some((r) => r.path.startsWith('/identity/accounts/prelogin')), 'bw asked for the KDF settings');
    assert.ok(server.requests.some((r) => r.grant === 'password'), 'bw logged in with the password grant');
    const wrong = await bwIn(dir, ['unlock', '--passwordenv', 'BW_PASSWORD', '--raw'], { BW_PASSWORD: `${server.password}x` });
    assert.notEqual(wrong.code, 0, 'a wrong master password must not unlock');
    const unlocked = await bwIn(dir, ['unlock', '--passwordenv', 'BW_PASSWORD', '--raw'], { BW_PASSWORD: server.password });
    ok(unlocked, 'bw unlock');
    const session = { BW_SESSION: unlocked.stdout.toString().trim() };
    ok(await bwIn(dir, ['sync'], session), 'bw sync');
    const listed = await bwIn(dir, ['list', 'items'], session);
    ok(listed, 'bw list items');
    const got = JSON.parse(listed.stdout.toString()) as any[];
    assert.equal(got.length, items.length);
    items.forEach((spec, i) => {
      const item = got.find((g) => g.id === ids[i])!;
      assert.equal(item.name, spec.name);
      assert.equal(item.type, spec.type ?? 1);
      assert.equal(item.notes ?? undefined, spec.notes);
      if ((spec.type ?? 1) === 1) {
        assert.equal(item.login.username ?? undefined, spec.login?.username);
        assert.equal(item.login.password ?? undefined, spec.login?.password);
        assert.equal(item.login.totp ?? undefined, spec.login?.totp);
        assert.deepEqual((item.login.uris ?? []).map((u: any) => u.uri), spec.login?.uris ?? []);
      }
      assert.deepEqual((item.fields ?? []).map((f: any) => [f.name, f.value, f.type]), (spec.fields ?? []).map((f) => [f.name, f.value, f.type ?? 1]));
      assert.deepEqual((item.attachments ?? []).map((a: any) => [a.fileName, Number(a.size)]), (spec.attachments ?? []).map((a) => [a.fileName, a.data.length]));
    });

    // Attachments: bw fetches the encrypted file, opens its key with the user key, and prints the bytes.
    const holder = items.findIndex((i) => i.attachments);
    for (const a of items[holder]!.attachments!) {
      const r = await bwIn(dir, ['get', 'attachment', a.fileName, '--itemid', ids[holder]!, '--raw'], session);
      ok(r, `bw get attachment ${a.fileName}`);
      assert.deepEqual(r.stdout, a.data, `${a.fileName}: bw must print the exact bytes`);
    }

    // TOTP: bw's code for each seed format equals ours at the same instant (a code that changed
    // between the two readings is read again).
    for (const i of items.keys()) {
      const seed = items[i]!.login?.totp;
      if (!seed) continue;
      const before = totpCode(seed);
      const r = await bwIn(dir, ['get', 'totp', ids[i]!], session);
      ok(r, `bw get totp (${items[i]!.name})`);
      const after = totpCode(seed);
      assert.ok([before, after].includes(r.stdout.toString().trim()), `${items[i]!.name}: bw's TOTP code is ours`);
    }
  });
}

// Installed on first use (test/helpers/bitwarden/sdk.ts); a string is why it cannot be had here.
const sdkOrReason = OPENSSL_SKIP ? undefined : loadBitwardenSdk();
const SDK_SKIP = typeof sdkOrReason === 'string' ? sdkOrReason : false;

test('the real @bitwarden/sdk-napi reads every Secrets Manager secret from the server, and our client agrees with it on each', { skip: SDK_SKIP || OPENSSL_SKIP, timeout: 120_000 }, async (t) => {
  const server = await BitwardenTestServer.start({ seed: 7 });
  t.after(() => server.stop());
  const r = seededRandom(77);
  const project = server.addProject('production');
  const specs: { key: string; value: string; note?: string; projects: string[] }[] = [
    { key: 'DB_PASSWORD', value: seededHex(r, 16) },
    { key: 'multi-line', value: 'line 1\nline 2\r\nline 3\n' },
    { key: 'unicode ✓ ключ', value: 'значение ✓ 値 🔑' },
    { key: 'long', value: seededHex(r, 4000) },
    { key: 'with note', value: seededHex(r, 8), note: 'a note ✓' },
    ...Array.from({ length: 25 }, (_, i) => ({ key: `bulk-${i}`, value: seededHex(r, 4 + i) })),
  ].map((s: { key: string; value: string; note?: string }, i) => ({ ...s, projects: i % 2 ? [project] : [] }));
  const ids = specs.map((s) => server.addSecret(s));
  const token = server.accessToken();
  const dir = tempDir(t, 'bw-sdk-');

  const { BitwardenClient } = sdkOrReason as BitwardenSdk;
  // DeviceType 21 is the SDK's own ("SDK"); LogLevel is not exported at run time: 4 = Error.
  const sdk = new BitwardenClient({ apiUrl: `${server.httpUrl}/api`, identityUrl: `${server.httpUrl}/identity`, userAgent: 'materialize-tests', deviceType: 'SDK' }, 4);
  await sdk.auth().loginAccessToken(token);
  const fromSdk = (await sdk.secrets().getByIds(ids)).data;
  const listed = (await sdk.secrets().list(server.organizationId)).data;
  assert.equal(fromSdk.length, specs.length);
  assert.deepEqual(new Set(listed.map((s) => s.key)), new Set(specs.map((s) => s.key)), 'the SDK lists every key');

  const out = await fetchSecretsManager(
    ids.map((id, i) => ({ id: `r${i}`, secrets: [`s${i}`], source: { secret: id } })),
    { settings: { server: server.url, caFile: testCert().certFile, accessTokenFile: privateFile(dir, 'token', token) }, context: { signal: AbortSignal.timeout(60_000), countCall: () => {}, log: silentLogger() }, timeoutMs: 30_000 },
  );
  specs.forEach((spec, i) => {
    const sdkSecret = fromSdk.find((s) => s.id === ids[i])!;
    assert.equal(sdkSecret.key, spec.key);
    assert.equal(sdkSecret.value, spec.value, `the SDK decrypts ${spec.key}`);
    assert.equal(sdkSecret.note, spec.note ?? '');
    assert.equal(sdkSecret.projectId ?? undefined, spec.projects[0]);
    const ours = out.get(`r${i}`)!;
    assert.ok('ok' in ours, 'error' in ours ? ours.error.message : '');
    assert.equal(ours.ok.toString('utf8'), sdkSecret.value, `our client and the SDK agree on ${spec.key}`);
  });
});

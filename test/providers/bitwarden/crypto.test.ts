// Our Secrets Manager cryptography against Bitwarden's own published data (test/fixtures/bitwarden/
// sdk-vectors.json, from the SDK's tests): the access-token parser and key derivation, and a whole
// login answer plus a secret that decrypt to "TEST" — served over HTTP to our client, so the same
// code a run uses reads Bitwarden's bytes. TOTP against RFC 6238's test vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import vectors from '../../fixtures/bitwarden/sdk-vectors.json' with { type: 'json' };
import { parseAccessToken } from '../../../src/providers/bitwarden/access-token.js';
import { decryptEncString, deriveShareableKey, EncStringError, symmetricKey } from '../../../src/providers/bitwarden/crypto.js';
import { fetchSecretsManager } from '../../../src/providers/bitwarden/secrets-manager.js';
import { hotp, totpCode } from '../../../src/providers/bitwarden/totp.js';
import { silentLogger } from '../../../src/log.js';
import { ProviderError } from '../../../src/errors.js';
import { privateFile } from './helpers.js';
import { join } from 'node:path';
import { tempDir } from '../../helpers/temp.js';

const keyB64 = (k: { encKey: Buffer; macKey: Buffer }) => Buffer.concat([k.encKey, k.macKey]).toString('base64');

test('access tokens parse as Bitwarden parses them: id, client secret and the derived key of its published test', () => {
  const v = vectors.accessToken;
  const t = parseAccessToken(v.token);
  assert.equal(t.id, v.id);
  assert.equal(t.clientSecret, v.clientSecret);
  assert.equal(keyB64(t.key), v.derivedKey);
  assert.equal(keyB64(parseAccessToken(v.unpaddedToken).key), v.derivedKey, 'base64 padding is optional, as in the SDK');
  for (const bad of v.malformed) {
    assert.throws(() => parseAccessToken(bad), (e: Error) => {
      assert.ok(!e.message.includes('C2IgxjjLF7qSshsbwe8JGcbM075YXw') && !e.message.includes('X8vbvA0bduihIDe'), 'the message must not echo the token');
      return true;
    });
  }
});

test("Bitwarden's shareable-key derivation (HMAC, then HKDF-Expand) gives its published keys", () => {
  for (const v of vectors.shareableKey) {
    assert.equal(keyB64(deriveShareableKey(Buffer.from(v.seed, 'utf8'), v.name, v.info ?? undefined)), v.key);
  }
});

test("EncStrings: the published login answer opens to the organization key, which opens the secret's key, value and note", () => {
  const v = vectors.accessTokenLogin;
  const token = parseAccessToken(v.accessToken);
  const payload = JSON.parse(decryptEncString(v.accessTokenResponse.encrypted_payload, token.key).toString('utf8'));
  const orgKey = symmetricKey(Buffer.from(payload.encryptionKey, 'base64'));
  for (const field of ['key', 'value', 'note'] as const) assert.equal(decryptEncString(v.secret[field], orgKey).toString('utf8'), v.plaintext);
  // Every tampering is caught by the MAC before decryption: a flipped bit in IV, ciphertext or MAC.
  const [type, rest] = v.secret.value.split('.') as [string, string];
  const parts = rest.split('|');
  for (let i = 0; i < 3; i++) {
    const bytes = Buffer.from(parts[i]!, 'base64');
    bytes[0]! ^= 1;
    const damaged = `${type}.${parts.map((p, j) => (j === i ? bytes.toString('base64') : p)).join('|')}`;
    assert.throws(() => decryptEncString(damaged, orgKey), /MAC does not match/);
  }
  // The wrong key (the access token's own) fails the same way, never with garbage.
  assert.throws(() => decryptEncString(v.secret.value, token.key), /MAC does not match/);
  // A downgraded EncString (type 0, no MAC; the SDK's own downgrade test) is refused outright.
  assert.throws(() => decryptEncString('0.NQfjHLr6za7VQVAbrpL81w==|wfrjmyJ0bfwkQlySrhw8dA==', orgKey), (e: Error) => e instanceof EncStringError && /type 0 is not supported/.test(e.message));
});

test("our client logs in and reads a secret from Bitwarden's published answers, served over HTTP", async (t) => {
  const v = vectors.accessTokenLogin;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''} ${req.headers['device-type'] ?? ''} ${req.headers.authorization?.slice(0, 7) ?? ''}`);
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/identity/connect/token') {
        const form = new URLSearchParams(body);
        assert.deepEqual(Object.fromEntries(form), { scope: 'api.secrets', client_id: vectors.accessToken.id, client_secret: vectors.accessToken.clientSecret, grant_type: 'client_credentials' });
        return json(200, v.accessTokenResponse);
      }
      if (req.url === '/api/secrets/get-by-ids') {
        assert.deepEqual(JSON.parse(body), { ids: [v.secret.id] });
        return json(200, { data: [{ ...v.secret, creationDate: '2023-01-26T21:46:02.2182556Z', revisionDate: '2023-01-26T21:46:02.2182557Z', object: 'baseSecret' }], object: 'list' });
      }
      json(404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const dir = tempDir(t, 'bw-vector-');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const calls: string[] = [];
  const out = await fetchSecretsManager([{ id: 'r', secrets: ['s'], source: { secret: v.secret.id } }], {
    settings: { server: base, accessTokenFile: privateFile(dir, 'token', v.accessToken) },
    context: { signal: AbortSignal.timeout(30_000), countCall: (w) => calls.push(w), log: silentLogger() },
    timeoutMs: 10_000,
  });
  const outcome = out.get('r')!;
  assert.ok('ok' in outcome, 'error' in outcome ? outcome.error.message : '');
  assert.equal(outcome.ok.toString('utf8'), v.plaintext);
  assert.deepEqual(calls, ['login', 'get secrets']);
  assert.match(seen[0]!, /^POST \/identity\/connect\/token application\/x-www-form-urlencoded; charset=utf-8 21 $/);
  assert.match(seen[1]!, /^POST \/api\/secrets\/get-by-ids application\/json; charset=utf-8  Bearer $/);
});

test('a malformed access token is a configuration error that never shows the token', async (t) => {
  const dir = tempDir(t, 'bw-token-');
  const token = vectors.accessToken.malformed[1]!;
  const out = await fetchSecretsManager([{ id: 'r', secrets: ['s'], source: { secret: vectors.accessTokenLogin.secret.id } }], {
    settings: { server: 'https://127.0.0.1:9', accessTokenFile: privateFile(dir, 'token', token) },
    context: { signal: AbortSignal.timeout(30_000), countCall: () => assert.fail('no call may be made with a malformed token'), log: silentLogger() },
    timeoutMs: 1000,
  });
  const outcome = out.get('r')!;
  assert.ok('error' in outcome && outcome.error instanceof ProviderError);
  assert.equal(outcome.error.kind, 'config');
  assert.match(outcome.error.message, /does not hold a Secrets Manager access token: it has no encryption key/);
  assert.ok(!outcome.error.message.includes('C2IgxjjLF7qSshsbwe8JGcbM075YXw'));
});

// RFC 6238, appendix B: 8-digit codes for SHA1/SHA256/SHA512 at six instants.
const RFC6238 = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
] as const;

test("TOTP codes match RFC 6238's test vectors (SHA1, SHA256, SHA512), also through otpauth:// URIs", () => {
  const secrets = { sha1: Buffer.from('12345678901234567890'), sha256: Buffer.from('12345678901234567890123456789012'), sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234') };
  const base32 = (b: Buffer) => {
    let bits = '';
    for (const byte of b) bits += byte.toString(2).padStart(8, '0');
    return bits.match(/.{1,5}/g)!.map((c) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[parseInt(c.padEnd(5, '0'), 2)]).join('');
  };
  for (const [time, ...codes] of RFC6238) {
    (['sha1', 'sha256', 'sha512'] as const).forEach((algorithm, i) => {
      assert.equal(hotp({ secret: secrets[algorithm], algorithm, digits: 8, steam: false }, Math.floor(time / 30)), codes[i], `${algorithm} at ${time}`);
      const uri = `otpauth://totp/Example:alice?secret=${base32(secrets[algorithm])}&algorithm=${algorithm.toUpperCase()}&digits=8&period=30`;
      assert.equal(totpCode(uri, time * 1000), codes[i], `${algorithm} URI at ${time}`);
    });
  }
});

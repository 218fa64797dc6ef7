// The `{"age": {"file": …}}` provider: each request answered on its own (one bad file never hides
// the others), errors of the right kind naming the file, never a value; `check` without keys; and
// the CLI end to end: no usable key, damaged files, no partial plaintext published.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProviderError } from '../../src/errors.js';
import { loadKeyRing, type KeyRing } from '../../src/keys/index.js';
import { silentLogger } from '../../src/log.js';
import { ageProvider, type AgeSource } from '../../src/providers/age.js';
import type { FetchOutcome, ProviderContext, SecretRequest } from '../../src/providers/provider.js';
import { registerSecretValues, runCli } from '../helpers/cli.js';
import { writeAgeConfig } from '../age/helpers/config.js';
import { AGE_SKIP, SCRYPT_SKIP, ageEncrypt, ageKeygen, agePassphraseEncrypt, suiteDir, tempDir, type AgeKey } from '../age/helpers/tools.js';

/** A provider context around a key ring loaded from key files, as the engine builds it. */
async function context(ageKeyFiles: string[]): Promise<ProviderContext & { ring: KeyRing }> {
  const log = silentLogger();
  const keys = { ageKeyFiles, sshKeyPaths: [], gnupgHome: null };
  const ring = await loadKeyRing(keys, log);
  return { settings: undefined, keys, log, signal: new AbortController().signal, keyRing: async () => ring, countCall: () => {}, ring };
}

/** One request per file, ids = file names. */
const requests = (files: Record<string, string>): SecretRequest<AgeSource>[] => Object.entries(files).map(([id, file]) => ({ id, secrets: [id], source: { file } }));

/** The error of an outcome, failing the test when it is a value. */
function errorOf(outcome: FetchOutcome | undefined): ProviderError {
  assert.ok(outcome, 'no outcome');
  assert.ok('error' in outcome, 'expected an error, got a value');
  return outcome.error;
}

describe('the age provider', { skip: AGE_SKIP }, () => {
  const dir = suiteDir();
  const value = 'the provider test plaintext';
  let ours: AgeKey;
  let theirs: AgeKey;
  const file = (name: string, content: Buffer | string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  before(() => {
    ours = ageKeygen(dir, 'ours.txt');
    theirs = ageKeygen(dir, 'theirs.txt');
    registerSecretValues(value, ours.secret, theirs.secret);
  });

  test('answers every request on its own: value, not-found, unauthorized, corrupt', async () => {
    const good = ageEncrypt(value, { recipients: [ours.recipient] });
    const damaged = Buffer.from(good);
    damaged[damaged.length - 2]! ^= 0x10;
    const provider = await ageProvider.load();
    const out = await provider.fetch(
      requests({
        good: file('good.age', good),
        armored: file('armored.age', ageEncrypt(value, { recipients: [theirs.recipient, ours.recipient], armor: true })),
        missing: join(dir, 'missing.age'),
        theirs: file('theirs.age', ageEncrypt(value, { recipients: [theirs.recipient] })),
        damaged: file('damaged.age', damaged),
      }),
      await context([ours.file]),
    );
    assert.deepEqual([...out.keys()].sort(), ['armored', 'damaged', 'good', 'missing', 'theirs']);
    for (const id of ['good', 'armored']) {
      const o = out.get(id)!;
      assert.ok('ok' in o && o.ok.equals(Buffer.from(value)), id);
    }
    assert.equal(errorOf(out.get('missing')).kind, 'not-found');
    const unauthorized = errorOf(out.get('theirs'));
    assert.equal(unauthorized.kind, 'unauthorized');
    assert.equal(unauthorized.provider, 'age');
    assert.match(unauthorized.message, new RegExp(`^${join(dir, 'theirs.age')}: no key here opens it: the file is for 1 X25519`));
    const corrupt = errorOf(out.get('damaged'));
    assert.equal(corrupt.kind, 'corrupt');
    assert.match(corrupt.message, /damaged\.age: the payload failed authentication/);
    for (const id of ['missing', 'theirs', 'damaged']) assert.ok(!errorOf(out.get(id)).message.includes(value));
  });

  test('a passphrase file is a config error (the source itself is wrong)', { skip: SCRYPT_SKIP }, async () => {
    const provider = await ageProvider.load();
    const scrypt = file('scrypt.age', agePassphraseEncrypt(dir, value, 'some passphrase'));
    const out = await provider.fetch(requests({ scrypt }), await context([ours.file]));
    const error = errorOf(out.get('scrypt'));
    assert.equal(error.kind, 'config');
    assert.match(error.message, /scrypt\.age: the file is passphrase-encrypted \(scrypt\)/);
    const problems = await provider.check!(requests({ scrypt }), await context([]));
    assert.match(problems[0]!.message, /passphrase-encrypted/);
  });

  test('no usable key at all: every file fails, saying so and why', async (t) => {
    const own = tempDir(t);
    const provider = await ageProvider.load();
    const f = file('for-ours.age', ageEncrypt(value, { recipients: [ours.recipient] }));
    const none = await provider.fetch(requests({ f }), await context([]));
    assert.equal(errorOf(none.get('f')).kind, 'unauthorized');
    assert.equal(errorOf(none.get('f')).message, `${f}: no usable age or SSH key on this machine: keys.ageKeyFiles and keys.sshKeyPaths are empty`);
    const skipped = await provider.fetch(requests({ f }), await context([join(own, 'missing.txt')]));
    assert.equal(errorOf(skipped.get('f')).message, `${f}: no usable age or SSH key on this machine: every configured key was skipped (see the warning)`);
  });

  test('check: reads headers only, names files that are missing or not age files', async () => {
    const provider = await ageProvider.load();
    const problems = await provider.check!(
      requests({ good: file('check-good.age', ageEncrypt(value, { recipients: [theirs.recipient] })), text: file('text.age', 'just text'), missing: join(dir, 'nope.age') }),
      await context([]),
    );
    assert.deepEqual(
      problems.map((p) => [p.secrets[0], p.message]),
      [
        ['text', `${join(dir, 'text.age')} is not an age file (not an age v1 file (bad version line))`],
        ['missing', `${join(dir, 'nope.age')} does not exist`],
      ],
    );
  });
});

describe('age secrets through the CLI', { skip: AGE_SKIP }, () => {
  test('check without any usable key reports keys: no usable key …', async (t) => {
    const dir = tempDir(t);
    const key = ageKeygen(dir, 'key.txt');
    registerSecretValues(key.secret);
    writeFileSync(join(dir, 'broken.txt'), 'AGE-SECRET-KEY-1QQQQQQQQ\n', { mode: 0o600 });
    writeFileSync(join(dir, 's.age'), ageEncrypt('check value', { recipients: [key.recipient] }));
    const config = writeAgeConfig(dir, { ageKeyFiles: [join(dir, 'broken.txt'), join(dir, 'absent.txt')], secrets: { s: join(dir, 's.age') } });
    const r = await runCli(['check', '--config', config]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /keys: no usable key: age key file .*broken\.txt, line 1: not a valid AGE-SECRET-KEY-1 key/);
    assert.match(r.stderr, /absent\.txt does not exist/);

    const fixed = writeAgeConfig(dir, { ageKeyFiles: [key.file], secrets: { s: join(dir, 's.age') } });
    const ok = await runCli(['check', '--config', fixed]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`key age ${key.file}: ${key.recipient}`));
  });

  test('apply with no usable key fails the secret (exit 65) and publishes nothing', async (t) => {
    const dir = tempDir(t);
    const key = ageKeygen(dir, 'key.txt');
    registerSecretValues(key.secret, 'apply value without keys');
    writeFileSync(join(dir, 's.age'), ageEncrypt('apply value without keys', { recipients: [key.recipient] }));
    const r = await runCli(['apply', '--config', writeAgeConfig(dir, { secrets: { s: join(dir, 's.age') } }), '--json']);
    assert.equal(r.code, 65, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.entries[0].status, 'failed');
    assert.match(report.entries[0].reason, /no usable age or SSH key on this machine/);
    assert.equal(existsSync(join(dir, 'out/secrets')), false);
  });

  test('a damaged file never publishes a partial value; the intact one beside it is published', async (t) => {
    const dir = tempDir(t);
    const key = ageKeygen(dir, 'key.txt');
    const big = Buffer.alloc(200_000, 'partial plaintext must never appear ');
    registerSecretValues(key.secret, 'partial plaintext must never appear', 'the intact value');
    const file = ageEncrypt(big, { recipients: [key.recipient] });
    file[file.length - 100]! ^= 1; // in the last chunk: the first three chunks authenticate
    writeFileSync(join(dir, 'damaged.age'), file);
    writeFileSync(join(dir, 'intact.age'), ageEncrypt('the intact value', { recipients: [key.recipient] }));
    const config = writeAgeConfig(dir, { ageKeyFiles: [key.file], secrets: { damaged: join(dir, 'damaged.age'), intact: join(dir, 'intact.age') } });
    const json = JSON.parse(readFileSync(config, 'utf8'));
    json.failurePolicy = 'keep-previous';
    writeFileSync(config, JSON.stringify(json));
    const r = await runCli(['apply', '--config', config, '--json']);
    assert.equal(r.code, 65, r.stderr);
    const report = JSON.parse(r.stdout);
    const damaged = report.entries.find((e: { name: string }) => e.name === 'damaged');
    assert.equal(damaged.status, 'failed');
    assert.match(damaged.reason, /damaged\.age: the payload failed authentication at chunk 4/);
    assert.equal(existsSync(join(dir, 'out/secrets/damaged')), false);
    assert.equal(readFileSync(join(dir, 'out/secrets/intact'), 'utf8'), 'the intact value');
  });
});

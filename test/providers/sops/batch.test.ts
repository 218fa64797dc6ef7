// One decryption per file, however many secrets use it (sops-nix decrypts once per secret, #956):
// 1,000 secrets from one 1,000-key file cost one data-key unwrap (counted by an injected spy), and
// through the real CLI one gpg run (counted by a gpg wrapper on PATH). Timing belongs in bench/.
import { testNeeding, AGE_SKIP, GPG_SKIP } from '../../helpers/tools.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecretValues, runCli } from '../../helpers/cli.js';
import { writeConfigIn } from './helpers/config.js';
import { ageKey, copyGnupgHome, tempDir } from './helpers/keys.js';
import { fetchSops } from './helpers/run.js';
import { ageWrap, enc, map, newDataKey, pgpWrap, writeSops } from './helpers/writer.js';

// Every test here drives the age CLI and gpg: without it, each skips saying so.
const test = testNeeding(AGE_SKIP, GPG_SKIP);

const COUNT = 1000;
const valueOf = (i: number) => `batch-value-${i}-${(i * 7919).toString(36)}`;
/** key0: batch-value-0-…, key1: …: a thousand encrypted strings. */
const DOC = map(...Array.from({ length: COUNT }, (_, i) => [`key${i}`, enc(valueOf(i))] as const));
registerSecretValues(...Array.from({ length: COUNT }, (_, i) => valueOf(i)));

test('1,000 secrets from one file: one data-key unwrap, every value right', async (t) => {
  const dir = tempDir(t);
  const key = ageKey(dir, 'age.key');
  const dataKey = newDataKey();
  const file = join(dir, 'big.yaml');
  writeFileSync(file, writeSops('yaml', [DOC], { dataKey, groups: [{ age: [{ recipient: key.recipient, enc: ageWrap(dataKey, key.recipient) }] }] }));

  let unwraps = 0;
  const outcomes = await fetchSops(
    Array.from({ length: COUNT }, (_, i) => ({ file, key: `key${i}` })),
    { keys: { ageKeyFiles: [key.file] }, lib: { onUnwrap: () => unwraps++ } },
  );
  assert.equal(unwraps, 1);
  outcomes.forEach((o, i) => assert.deepEqual(o, { ok: Buffer.from(valueOf(i)) }, `key${i}`));

  // The spy is real: two files cost two unwraps.
  const copy = join(dir, 'copy.yaml');
  writeFileSync(copy, readFileSync(file));
  unwraps = 0;
  await fetchSops([{ file, key: 'key1' }, { file: copy, key: 'key2' }, { file, key: 'key3' }], { keys: { ageKeyFiles: [key.file] }, lib: { onUnwrap: () => unwraps++ } });
  assert.equal(unwraps, 2);
});

test('through the CLI: 1,000 secrets from a PGP file run gpg once, with the ciphertext on stdin and a minimal environment', async (t) => {
  const dir = tempDir(t);
  const home = copyGnupgHome(t, dir);
  const fp = '7FB89715AADA920D65D25E63F9BA9DEBD03F57C0';
  const dataKey = newDataKey();
  writeFileSync(join(dir, 'big.json'), writeSops('json', [DOC], { dataKey, groups: [{ pgp: [{ fp, enc: pgpWrap(dataKey, home, fp) }] }] }));

  // A gpg on PATH that records its arguments and environment, then runs the real one.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const realGpg = execFileSync('sh', ['-c', 'command -v gpg']).toString().trim();
  const log = join(dir, 'gpg.log');
  writeFileSync(join(bin, 'gpg'), `#!/bin/sh\nprintf 'args:%s\\n' "$*" >> '${log}'\nenv | cut -d= -f1 | sort | tr '\\n' ' ' >> '${log}'\necho >> '${log}'\nexec '${realGpg}' "$@"\n`);
  chmodSync(join(bin, 'gpg'), 0o755);

  const secrets = Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`s/${i}`, { sources: [{ sops: { file: 'big.json', key: `key${i}` } }] }]));
  const { config } = writeConfigIn(dir, { keys: { gnupgHome: home }, secrets });
  const run = await runCli(['apply', '--config', config], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, SECRET_LOOKING_VAR: 'x' } });
  assert.equal(run.code, 0, run.stderr);
  for (const i of [0, 1, 499, 999]) assert.equal(readFileSync(join(dir, 'run/secrets/s', String(i)), 'utf8'), valueOf(i));

  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.equal(lines[0], 'args:--batch --no-tty --quiet --decrypt');
  const env = lines[1]!.trim().split(' ').filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n));
  assert.deepEqual(env, ['GNUPGHOME', 'LC_ALL', 'PATH']);
});

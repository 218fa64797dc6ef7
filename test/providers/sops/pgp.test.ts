// gpg as a child process: bounded by the run's deadline, and its failures explained (not installed,
// no secret key) without anything from the message or its plaintext in the error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs, GPG_SKIP } from '../../helpers/tools.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SOPS_NIX, tempDir } from './helpers/keys.js';
import { fetchSops } from './helpers/run.js';

/** Runs `body` with PATH replaced (the provider gives gpg the PATH it finds at run time). */
async function withPath<T>(t: TestContext, path: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  t.after(() => {
    process.env.PATH = saved;
  });
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

const file = join(SOPS_NIX, 'secrets.json');

test('a gpg that hangs is stopped at the run deadline and reported as temporary', async (t) => {
  const dir = tempDir(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'gpg'), '#!/bin/sh\nexec sleep 30\n');
  chmodSync(join(bin, 'gpg'), 0o755);
  const started = Date.now();
  const [outcome] = await withPath(t, `${bin}:/usr/bin:/bin`, () => fetchSops([{ file, key: 'test_key' }], { keys: { gnupgHome: dir }, signal: AbortSignal.timeout(500) }));
  assert.ok(Date.now() - started < 10_000);
  assert.ok('error' in outcome!);
  assert.equal(outcome.error.kind, 'unavailable');
  assert.match(outcome.error.message, /pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0: gpg was interrupted \(run deadline\)/);
});

test('no gpg on PATH, and a gnupg home without the key: each said plainly', { skip: needs(GPG_SKIP) }, async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty-bin');
  mkdirSync(empty);
  const [missing] = await withPath(t, empty, () => fetchSops([{ file, key: 'test_key' }], { keys: { gnupgHome: dir } }));
  assert.ok('error' in missing!);
  assert.equal(missing.error.kind, 'unauthorized');
  assert.match(missing.error.message, /gpg is not installed \(not found on PATH\)/);

  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  t.after(() => {
    try {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    } catch {
      // no agent
    }
  });
  const [noKey] = await fetchSops([{ file, key: 'test_key' }], { keys: { gnupgHome: home } });
  assert.ok('error' in noKey!);
  assert.match(noKey.error.message, /gpg failed \(decryption failed: No secret key\)/);
});

// keys.gnupgSshKeyPaths: the RSA SSH key sops-nix ships as a test asset (`ssh-key`) must become the
// very PGP key sops-nix's tooling made of it (`ssh-key.asc`, PGP 2504…, a recipient of its
// secrets.yaml). The oracle is the real gpg reading both: same fingerprint, same creation time,
// algorithm and size, same capabilities, and a self-signature gpg verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSshPrivateKey } from '../../../src/age/ssh-key.js';
import { SSH_PGP_USER_ID, sshRsaToPgp } from '../../../src/providers/sops/ssh-pgp.js';
import { REPO } from '../../helpers/cli.js';
import { tempDir } from './helpers/keys.js';

const ASSETS = join(REPO, 'test/fixtures/sops-nix-assets');
const have = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
export const GPG_SKIP = have('gpg') && have('gpgconf') ? false : 'needs gpg and gpgconf (Debian: apt-get install gnupg)';

function gpg(home: string, args: string[], input?: Buffer): string {
  const r = spawnSync('gpg', ['--batch', '--no-tty', ...args], { input, env: { PATH: process.env.PATH, GNUPGHOME: home } });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString();
}

function home(t: Parameters<typeof tempDir>[0], dir: string, name: string): string {
  const h = join(dir, name);
  mkdirSync(h, { mode: 0o700 });
  t.after(() => {
    spawnSync('gpgconf', ['--homedir', h, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    spawnSync('gpgconf', ['--homedir', h, '--remove-socketdir'], { stdio: 'ignore' });
  });
  return h;
}

/** `sec`/`pub` fields gpg prints: validity aside, algorithm, bits, key id, creation, capabilities; and the fingerprint. */
function describe(colons: string): { algo: string; bits: string; keyId: string; created: string; caps: string; fpr: string } {
  const key = colons.split('\n').find((l) => l.startsWith('sec:') || l.startsWith('pub:'))!.split(':');
  const fpr = colons.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]!;
  return { bits: key[2]!, algo: key[3]!, keyId: key[4]!, created: key[5]!, caps: key[11]!, fpr };
}

test('an RSA SSH key becomes the same PGP key as sops-nix makes (fingerprint 2504…, created at 0), which gpg imports and verifies', { skip: GPG_SKIP }, (t) => {
  const dir = tempDir(t);
  const ssh = parseSshPrivateKey(readFileSync(join(ASSETS, 'ssh-key'), 'utf8'));
  assert.equal(ssh.type, 'ssh-rsa');
  const derived = sshRsaToPgp((ssh as Extract<typeof ssh, { type: 'ssh-rsa' }>).key);

  const theirs = home(t, dir, 'theirs');
  gpg(theirs, ['--quiet', '--import', join(ASSETS, 'ssh-key.asc')]);
  const ours = home(t, dir, 'ours');
  gpg(ours, ['--quiet', '--import'], derived.secretKey);

  const expected = describe(gpg(theirs, ['--with-colons', '--list-secret-keys']));
  const got = describe(gpg(ours, ['--with-colons', '--list-secret-keys']));
  assert.equal(expected.fpr, '2504791468B153B8A3963CC97BA53D1919C5DFD4', 'the vector is the recipient of secrets.yaml');
  assert.deepEqual(got, expected);
  assert.equal(derived.fingerprint, expected.fpr);
  assert.equal(got.created, '0');
  assert.match(readFileSync(join(ASSETS, 'secrets.yaml'), 'utf8'), new RegExp(`fp: ${derived.fingerprint}`));

  // The user ID sops-install-secrets gives it, certified by the key itself (gpg checks the signature: "!").
  const sigs = gpg(ours, ['--with-colons', '--check-signatures', derived.fingerprint]);
  assert.ok(sigs.split('\n').some((l) => l.startsWith('uid:') && l.split(':')[9] === SSH_PGP_USER_ID), sigs);
  assert.ok(sigs.split('\n').some((l) => l.startsWith('sig:!:')), `a verified self-signature:\n${sigs}`);
});

test('an ed25519 SSH key is no PGP key: check says so at keys.gnupgSshKeyPaths[i]', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'secrets.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    config,
    JSON.stringify({
      version: 1,
      keys: { gnupgSshKeyPaths: [join(ASSETS, 'ssh-ed25519-key'), join(dir, 'missing-key'), join(ASSETS, 'ssh-key')] },
      secrets: { s: { sources: [{ sops: { file: join(ASSETS, 'secrets.json'), key: 'test_key' } }] } },
    }),
  );
  const { runCli } = await import('../../helpers/cli.js');
  const r = await runCli(['check', '--json', '--config', config]);
  assert.equal(r.code, 78, r.stderr);
  const issues = JSON.parse(r.stdout).issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`);
  assert.deepEqual(issues, [
    `keys.gnupgSshKeyPaths[0]: ${join(ASSETS, 'ssh-ed25519-key')} is an ssh-ed25519 key; only RSA keys can be PGP keys (an ed25519 key belongs in keys.sshKeyPaths)`,
    `keys.gnupgSshKeyPaths[1]: ${join(dir, 'missing-key')} does not exist`,
  ]);
});

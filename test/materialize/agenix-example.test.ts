// End to end through the CLI with agenix's own example files and keys (test/fixtures/agenix-example,
// see its ORIGIN), configured as agenix's integration test (test/integration.nix at b027ee2)
// configures the system and user1's home-manager, asserting what it asserts — and each file byte
// for byte against the real `age -d` with the same key. Also what a user migrating from agenix has
// on the machine: agenix's own generation behind /run/agenix, and a `symlink = false` copy at a path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, ROOT_SKIP, registerSecretValues, runCli } from '../helpers/cli.js';
import { makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { entries, mountEntries } from '../helpers/tree.js';
import { createUser } from '../helpers/users.js';

const EXAMPLE = join(REPO, 'test/fixtures/agenix-example');
const AGE_SKIP = spawnSync('sh', ['-c', 'command -v age'], { stdio: 'ignore' }).status === 0 ? false : 'needs the age CLI (Debian: apt-get install age)';
const age = (file: string) => ({ sources: [{ age: { file: join(EXAMPLE, 'example', file) } }] });

/** The real age CLI's plaintext of an example file with an example key: the oracle. */
function plaintext(file: string, key: string): Buffer {
  const out = execFileSync('age', ['-d', '-i', join(EXAMPLE, 'example_keys', key), join(EXAMPLE, 'example', file)]);
  registerSecretValues(out);
  return out;
}

function privateKey(world: World, name: string, owner?: { uid: number; gid: number }): string {
  mkdirSync(join(world.dir, 'keys'), { recursive: true, mode: 0o755 });
  const to = join(world.dir, 'keys', name);
  copyFileSync(join(EXAMPLE, 'example_keys', name), to);
  chmodSync(to, 0o600);
  if (owner) chownSync(to, owner.uid, owner.gid);
  return to;
}

test("integration.nix, the system: passwordfile-user1 and leading-hyphen under /run/agenix, with identities that do not all exist; agenix's old generation and copy migrate", { skip: AGE_SKIP }, async (t) => {
  const world = makeWorld(t);
  const run = join(world.dir, 'run');
  const secretsDir = join(run, 'agenix');
  const mountPoint = join(run, 'agenix.d');
  // What agenix left: generation 1 behind /run/agenix (no manifest: not ours), with a secret this
  // configuration no longer has; and a `symlink = false` copy at a path that now becomes a link.
  mkdirSync(join(mountPoint, '1'), { recursive: true });
  writeFileSync(join(mountPoint, '1/secret1'), 'agenix-era value');
  symlinkSync(join(mountPoint, '1'), secretsDir);
  const etc = join(world.dir, 'etc');
  mkdirSync(etc);
  writeFileSync(join(etc, 'hashed-password'), 'agenix-era copy');
  chmodSync(join(etc, 'hashed-password'), 0o400);
  // agenix's identityPaths: the host's ed25519 key, an empty RSA key file (install_ssh_host_keys.nix
  // touches one), and "/etc/ssh/this_key_wont_exist".
  const empty = join(world.dir, 'keys-ssh_host_rsa_key');
  writeFileSync(empty, '', { mode: 0o600 });
  writeConfig(world, {
    secretsDir,
    mountPoint,
    keys: { ageKeyFiles: [privateKey(world, 'system1'), empty, join(world.dir, 'this_key_wont_exist')] },
    secrets: {
      'passwordfile-user1': { ...age('passwordfile-user1.age'), mode: '0400', path: join(etc, 'hashed-password') },
      'leading-hyphen': age('-leading-hyphen-filename.age'),
    },
  });
  const r = await runCli(['apply', '--json', '--config', world.configFile]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.match(r.stderr, /this_key_wont_exist/, 'the missing identity is a warning');
  assert.ok(readFileSync(join(secretsDir, 'leading-hyphen'), 'utf8').includes('filename started with hyphen'));
  assert.ok(readFileSync(join(secretsDir, 'leading-hyphen')).equals(plaintext('-leading-hyphen-filename.age', 'system1')));
  const password = readFileSync(join(secretsDir, 'passwordfile-user1'));
  assert.ok(password.equals(plaintext('passwordfile-user1.age', 'system1')));
  assert.match(password.toString('utf8'), /^\$[0-9a-z]+\$/, "a crypt(3) hash: what user1's hashedPasswordFile wants");
  const st = lstatSync(join(secretsDir, 'passwordfile-user1'));
  assert.deepEqual([st.mode & 0o777, st.uid], [0o400, process.getuid!()]);

  // Numbering continues after agenix's generation; its secret1 is reported gone; its copy moved aside.
  assert.deepEqual([report.previousGeneration, report.generation], [1, 2]);
  assert.deepEqual(report.entries.filter((e: { status: string }) => e.status === 'removed').map((e: { name: string; stray: boolean }) => [e.name, e.stray]), [['secret1', true]]);
  assert.equal(readlinkSync(join(etc, 'hashed-password')), join(secretsDir, 'passwordfile-user1'));
  assert.deepEqual(report.displaced.map((d: { path: string; what: string }) => [d.path, d.what]), [[join(etc, 'hashed-password'), 'file']]);
  assert.equal(readFileSync(report.displaced[0].to, 'utf8'), 'agenix-era copy');
  // agenix removes generation N-1 on a switch; so does keepGenerations 1.
  assert.deepEqual(mountEntries(mountPoint), ['2']);
  const again = await runCli(['apply', '--config', world.configFile]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(mountEntries(mountPoint), ['3']);
  assert.equal(readlinkSync(secretsDir), join(mountPoint, '3'));
});

test("integration.nix, user1's home-manager: secret2, secret2Path and armored-secret in the runtime directory, run as user1 — and symlink = false", { skip: ROOT_SKIP || AGE_SKIP }, async (t) => {
  const world = makeWorld(t);
  const user1 = createUser(t);
  chmodSync(world.dir, 0o755);
  const home = join(world.dir, 'home/user1');
  const runtime = join(world.dir, 'run/user/1000');
  for (const dir of [home, runtime]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, user1.uid, user1.gid);
  }
  chmodSync(join(world.dir, 'home'), 0o755);
  chmodSync(join(world.dir, 'run'), 0o755);
  chmodSync(join(world.dir, 'run/user'), 0o755);
  writeConfig(world, {
    secretsDir: join(runtime, 'agenix'),
    mountPoint: join(runtime, 'agenix.d'),
    keys: { ageKeyFiles: [privateKey(world, 'user1', user1), join(home, '.ssh/this_key_wont_exist')] },
    secrets: {
      secret2: age('secret2.age'),
      secret2Path: { ...age('secret2.age'), path: join(home, 'secret2') },
      'armored-secret': age('armored-secret.age'),
      secret2Copy: { ...age('secret2.age'), path: join(home, 'secret2-copy'), symlink: false },
    },
  });
  const r = await runCli(['apply', '--json', '--config', world.configFile], { uid: user1.uid, gid: user1.gid });
  assert.equal(r.code, 0, r.stderr);
  const secret2 = plaintext('secret2.age', 'user1');
  assert.ok(secret2.toString('utf8').includes('world!'));
  assert.ok(readFileSync(join(runtime, 'agenix/secret2')).equals(secret2));
  assert.ok(readFileSync(join(runtime, 'agenix/armored-secret'), 'utf8').includes('Hello World!'));
  assert.ok(readFileSync(join(runtime, 'agenix/armored-secret')).equals(plaintext('armored-secret.age', 'user1')));
  assert.equal(readlinkSync(join(home, 'secret2')), join(runtime, 'agenix/secret2Path'));
  assert.ok(readFileSync(join(home, 'secret2')).equals(secret2));
  const copy = lstatSync(join(home, 'secret2-copy'));
  assert.deepEqual([copy.isFile(), copy.uid, copy.gid, copy.mode & 0o777], [true, user1.uid, user1.gid, 0o400]);
  assert.ok(readFileSync(join(home, 'secret2-copy')).equals(secret2));
});

// End to end through the CLI with sops-nix's own test assets (test/fixtures/sops-nix-assets, see its
// ORIGIN), configured as sops-nix's own tests configure sops-install-secrets, asserting what those
// tests assert: pkgs/sops-install-secrets/main_test.go (testGPG, testSSHKey, TestAge, TestAgeWithSSH)
// and checks/nixos-test.nix (templates, pruning, age-keys ownership, restart-and-reload), at commit
// 56b24064. Where sops-nix deletes what is in the way (an existing target file, a directory at
// /run/secrets), materialize moves it aside; that is asserted too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO, ROOT_SKIP, registerSecretValues, runCli } from '../helpers/cli.js';
import { applyJson, makeWorld, writeConfig, type World } from '../helpers/fixtures.js';
import { fakeSystemctl } from '../helpers/systemctl.js';
import { entries } from '../helpers/tree.js';
import { createGroup, createUser, unusedId } from '../helpers/users.js';

const ASSETS = join(REPO, 'test/fixtures/sops-nix-assets');
const have = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
const GPG_SKIP = have('gpg') && have('gpgconf') ? false : 'needs gpg and gpgconf (Debian: apt-get install gnupg)';
const sops = (file: string, key: string, format?: string) => ({ sources: [{ sops: { file: join(ASSETS, file), key, ...(format ? { format } : {}) } }] });

registerSecretValues('test_value', 'another value', 'binary_value', 'Welcome to SOPS! Edit this file as you please!', 'example_value', 'give you up');

/** A private copy of a key (mode 600), as a host keeps it. */
function key(world: World, name: string): string {
  const to = join(world.dir, 'keys', name);
  mkdirSync(join(world.dir, 'keys'), { recursive: true, mode: 0o700 });
  cpSync(join(ASSETS, name), to, { recursive: true });
  execFileSync('chmod', ['-R', 'u+rwX,go-rwx', to]);
  return to;
}

function gnupgHome(t: TestContext, world: World): string {
  const home = key(world, 'gnupghome');
  t.after(() => {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    spawnSync('gpgconf', ['--homedir', home, '--remove-socketdir'], { stdio: 'ignore' });
  });
  return home;
}

// sops's own emitters give these (stores/dotenv EmitPlainFile: `KEY=value`, newlines as \n, comments
// as `#…`; stores/ini through go-ini 1.67 WriteTo: the section's comment as `; …`, `=` aligned on the
// longest key, no blank line after the last section); the values are the ones sops-nix's tests name.
const DOTENV = '# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\nexample_multiline=foo\\nbar\\nbaz\nnever_gonna=give you up\n';
const INI = '; This is an example file.\n[Welcome!]\nhello       = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\nnever_gonna = give you up\n';

test('main_test.go testGPG: yaml, json, binary, and dotenv/ini whole files (key ""), owners, modes, a symlinked path, generation 2', { skip: ROOT_SKIP || GPG_SKIP }, async (t) => {
  const world = makeWorld(t);
  const target = join(world.dir, 'test-target');
  writeConfig(world, {
    keys: { gnupgHome: gnupgHome(t, world) },
    secrets: {
      test: { ...sops('secrets.yaml', 'test_key'), owner: 'nobody', group: 'nogroup', path: target, mode: '0400', restartUnits: ['affected-service'], reloadUnits: ['affected-reload-service'] },
      test2: { ...sops('secrets.json', 'test_key', 'json'), owner: 'root', group: 'root', mode: '0700' },
      test3: sops('secrets.bin', '', 'binary'),
      // What the compatibility module passes for dotenv and ini: the whole file, as sops-install-secrets writes it.
      test4: { ...sops('secrets.env', '', 'dotenv'), owner: 'root', group: 'root' },
      test5: { ...sops('secrets.ini', '', 'ini'), owner: 'root', group: 'root' },
    },
  });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.ok(lstatSync(target).isSymbolicLink());
  const st = statSync(target);
  assert.ok(st.isFile());
  assert.equal(st.mode & 0o777, 0o400);
  assert.equal(readFileSync(target, 'utf8'), 'test_value');
  assert.deepEqual([st.uid, st.gid], [65534, 65534], 'nobody:nogroup');
  const json = statSync(join(world.secretsDir, 'test2'));
  assert.deepEqual([json.isFile(), json.mode & 0o777, json.uid, json.gid], [true, 0o700, 0, 0]);
  assert.equal(readFileSync(join(world.secretsDir, 'test3')).length, 13);
  assert.equal(readFileSync(join(world.secretsDir, 'test3'), 'utf8'), 'binary_value\n');
  assert.equal(readFileSync(join(world.secretsDir, 'test4'), 'utf8'), DOTENV);
  assert.equal(readFileSync(join(world.secretsDir, 'test5'), 'utf8'), INI);
  assert.deepEqual(report.entries.find((e) => e.name === 'test')?.path, target);

  const again = await applyJson(world);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(readlinkSync(world.secretsDir), join(world.mountPoint, '2'));
  assert.deepEqual(again.report.units, { restart: [], reload: [] });
});

test('main_test.go testSSHKey: keys.gnupgSshKeyPaths opens the PGP-only files; the existing target is moved aside; no GnuPG home or agent is left', { skip: ROOT_SKIP || GPG_SKIP }, async (t) => {
  const world = makeWorld(t);
  const target = join(world.dir, 'existing-target');
  writeFileSync(target, '');
  const runtime = join(world.dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  // What a run killed outright left (its pid is gone), and the home of a run still alive (this one's).
  let gone = 4_000_000;
  while (existsSync(`/proc/${gone}`)) gone++;
  mkdirSync(join(runtime, `materialize-gnupg-${gone}-killed`));
  writeFileSync(join(runtime, `materialize-gnupg-${gone}-killed/private-key`), 'x');
  mkdirSync(join(runtime, `materialize-gnupg-${process.pid}-alive`));
  writeConfig(world, {
    keys: { gnupgSshKeyPaths: [key(world, 'ssh-key')] },
    secrets: {
      test: { ...sops('secrets.yaml', 'test_key'), owner: 'nobody', group: 'nogroup', path: target, restartUnits: ['affected-service'] },
      // secrets.json is encrypted to 7FB89715… only: not this key's, said so by fingerprint.
      json: { ...sops('secrets.json', 'test_key'), optional: true },
      env: sops('secrets.env', ''),
      ini: sops('secrets.ini', 'Welcome!/never_gonna'),
    },
  });
  const { code, report, stderr } = await applyJson(world, [], { env: { RUNTIME_DIRECTORY: runtime } });
  assert.equal(code, 0, stderr);
  assert.equal(readFileSync(target, 'utf8'), 'test_value');
  const json = report.entries.find((e) => e.name === 'json')!;
  assert.equal(json.status, 'absent');
  assert.match(json.reason!, /pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0: keys\.gnupgHome is not set, and no key of keys\.gnupgSshKeyPaths has this fingerprint/);
  assert.equal(readFileSync(join(world.secretsDir, 'env'), 'utf8'), DOTENV);
  assert.equal(readFileSync(join(world.secretsDir, 'ini'), 'utf8'), 'give you up');
  assert.deepEqual(report.displaced.map((d) => [d.path, d.what]), [[target, 'file']]);
  assert.equal(readFileSync(report.displaced[0]!.to, 'utf8'), '', 'the old file, kept');
  assert.deepEqual(entries(runtime), [`materialize-gnupg-${process.pid}-alive`], "the temporary GnuPG home is gone, and so is a killed run's; a live run's is left");
  const agents = spawnSync('pgrep', ['-f', `gpg-agent --homedir ${runtime}`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(agents, '', 'its gpg-agent was stopped');
});

test('keys.gnupgSshKeyPaths when gpg cannot run: the secret fails saying its key could not be imported, not that no key has its fingerprint', { skip: GPG_SKIP }, async (t) => {
  const world = makeWorld(t);
  writeConfig(world, { keys: { gnupgSshKeyPaths: [key(world, 'ssh-key')] }, secrets: { test: sops('secrets.yaml', 'test_key') } });
  // No gpg on PATH (an activation script's PATH, a minimal container).
  const { code, report } = await applyJson(world, [], { env: { PATH: join(world.dir, 'no-tools') } });
  assert.equal(code, 65);
  assert.match(report.warnings.join('\n'), /keys\.gnupgSshKeyPaths: gpg could not import the converted keys \(not installed/);
  const reason = report.entries.find((e) => e.name === 'test')!.attempts!.map((a) => a.message).join('\n');
  assert.match(reason, /pgp 2504791468B153B8A3963CC97BA53D1919C5DFD4: its key \(keys\.gnupgSshKeyPaths\) could not be imported into gpg/);
  assert.doesNotMatch(reason, /pgp 2504\S+: keys\.gnupgHome is not set, and no key of keys\.gnupgSshKeyPaths has this fingerprint/);
  assert.match(reason, /pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0: keys\.gnupgHome is not set, and no key of keys\.gnupgSshKeyPaths has this fingerprint/, 'the other PGP recipient is still not one of its keys');
});

test('keys.gnupgSshKeyPaths: an RSA key every user can read still opens its files, and apply and check both warn about it', { skip: GPG_SKIP }, async (t) => {
  const world = makeWorld(t);
  const rsa = key(world, 'ssh-key');
  chmodSync(rsa, 0o644);
  writeConfig(world, { keys: { gnupgSshKeyPaths: [rsa] }, secrets: { test: sops('secrets.yaml', 'test_key') } });
  const warning = `keys.gnupgSshKeyPaths: ${rsa} is readable by every user (mode 0644); chmod 600 it`;
  const { code, report, stderr } = await applyJson(world, ['--units', 'no']);
  assert.equal(code, 0, stderr);
  assert.equal(readFileSync(join(world.secretsDir, 'test'), 'utf8'), 'test_value');
  assert.deepEqual(report.warnings.filter((w) => w.includes(rsa)), [warning]);
  const check = await runCli(['check', '--json', '--skip-owners', '--config', world.configFile]);
  assert.equal(check.code, 0, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout).warnings.filter((w: string) => w.includes(rsa)), [warning]);
  // Private again: no warning.
  chmodSync(rsa, 0o600);
  const quiet = await applyJson(world, ['--units', 'no']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.deepEqual(quiet.report.warnings.filter((w) => w.includes(rsa)), []);
});

for (const [name, keys] of [
  ['TestAge', (w: World) => ({ ageKeyFiles: [key(w, 'age-keys.txt')] })],
  ['TestAgeWithSSH', (w: World) => ({ sshKeyPaths: [key(w, 'ssh-ed25519-key')] })],
] as const) {
  test(`main_test.go ${name}: secrets.yaml through ${name === 'TestAge' ? 'the age key file' : 'the ed25519 SSH key'}, over an existing target`, { skip: ROOT_SKIP }, async (t) => {
    const world = makeWorld(t);
    const target = join(world.dir, 'existing-target');
    writeFileSync(target, '');
    writeConfig(world, { keys: keys(world), secrets: { test: { ...sops('secrets.yaml', 'test_key'), owner: 'nobody', group: 'nogroup', path: target, mode: '0400' } } });
    const { code, report, stderr } = await applyJson(world);
    assert.equal(code, 0, stderr);
    assert.equal(readFileSync(target, 'utf8'), 'test_value');
    assert.equal(report.displaced.length, 1);
  });
}

test('nixos-test.nix templates: exact text, owners, a linked path (/etc/externally/linked), and templates.file', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const someuser = createUser(t);
  const somegroup = createGroup(t);
  const linked = join(world.dir, 'etc/externally/linked');
  const id = unusedId();
  writeFileSync(join(world.dir, 'from-file.tpl'), 'Test value: {{test_key}}\n');
  writeConfig(world, {
    keys: { ageKeyFiles: [key(world, 'age-keys.txt')] },
    secrets: { test_key: sops('secrets.yaml', 'test_key') },
    templates: {
      'rendered/test_template': {
        content: 'This line is not modified.\nThe next value will be replaced by {{test_key}}\nThis line is also not modified.\n',
        mode: '0400',
        owner: someuser.name,
        group: somegroup.name,
      },
      'rendered/test_default': { content: 'Test value: {{test_key}}\n', path: linked },
      'rendered/test_uid_gid': { content: 'Test value: {{test_key}}\n', owner: id, group: id },
      'rendered/test_file': { file: 'from-file.tpl' },
    },
  });
  const { code, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  const stat = (name: string) => statSync(join(world.secretsDir, 'rendered', name));
  assert.deepEqual([stat('test_template').uid, stat('test_template').gid], [someuser.uid, somegroup.gid]);
  assert.deepEqual([stat('test_default').uid, stat('test_default').gid], [0, 0]);
  assert.deepEqual([stat('test_uid_gid').uid, stat('test_uid_gid').gid], [id, id]);
  assert.equal(readFileSync(join(world.secretsDir, 'rendered/test_template'), 'utf8'), 'This line is not modified.\nThe next value will be replaced by test_value\nThis line is also not modified.\n');
  assert.equal(readFileSync(join(world.secretsDir, 'rendered/test_default'), 'utf8'), 'Test value: test_value\n');
  assert.equal(readFileSync(join(world.secretsDir, 'rendered/test_file'), 'utf8'), 'Test value: test_value\n');
  assert.equal(execFileSync('realpath', [linked], { encoding: 'utf8' }).trim(), join(world.mountPoint, '1/rendered/test_default'));
});

test('nixos-test.nix pruning: from generation 99, keepGenerations 0 prunes nothing, 10 keeps 92–101; a non-numeric directory stays', async (t) => {
  const world = makeWorld(t);
  const config = (keepGenerations: number) => writeConfig(world, { keepGenerations, keys: { ageKeyFiles: [key(world, 'age-keys.txt')] }, secrets: { test_key: sops('secrets.yaml', 'test_key') } });
  config(0);
  assert.equal((await applyJson(world)).code, 0);
  for (let n = 2; n <= 99; n++) mkdirSync(join(world.mountPoint, String(n)));
  mkdirSync(join(world.mountPoint, 'non-numeric'));
  symlinkSync(join(world.mountPoint, '99'), `${world.secretsDir}.new`);
  execFileSync('mv', ['-T', `${world.secretsDir}.new`, world.secretsDir]);
  const first = await applyJson(world);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.report.generation, 100);
  for (const n of ['1', '90', 'non-numeric', '100']) assert.ok(statSync(join(world.mountPoint, n)).isDirectory(), n);

  config(10);
  const second = await applyJson(world);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.report.generation, 101);
  assert.throws(() => statSync(join(world.mountPoint, '91')));
  for (const n of ['92', '101', 'non-numeric']) assert.ok(statSync(join(world.mountPoint, n)).isDirectory(), n);
});

test('nixos-test.nix age-keys: owners by name and by number (unknown ids too), over a /run/secrets that is a real directory', { skip: ROOT_SKIP }, async (t) => {
  const world = makeWorld(t);
  const someuser = createUser(t);
  const somegroup = createGroup(t);
  const id = unusedId();
  mkdirSync(world.secretsDir, { recursive: true }); // "if the directory exists, sops-nix should replace it with a symlink"
  writeConfig(world, {
    keys: { ageKeyFiles: [key(world, 'age-keys.txt')] },
    secrets: {
      test_key: sops('secrets.yaml', 'test_key'),
      test_key_someuser_somegroup: { ...sops('secrets.yaml', 'test_key'), owner: someuser.uid, group: somegroup.gid },
      // sops-nix's gid defaults to 0: the compatibility module passes it.
      test_key_someuser_root: { ...sops('secrets.yaml', 'test_key'), owner: someuser.uid, group: 0 },
      test_key_root_root: sops('secrets.yaml', 'test_key'),
      test_key_unknown: { ...sops('secrets.yaml', 'test_key'), owner: id, group: id },
    },
  });
  const { code, report, stderr } = await applyJson(world);
  assert.equal(code, 0, stderr);
  assert.equal(readFileSync(join(world.secretsDir, 'test_key'), 'utf8'), 'test_value');
  const ids = (name: string) => [statSync(join(world.secretsDir, name)).uid, statSync(join(world.secretsDir, name)).gid];
  assert.deepEqual(ids('test_key_someuser_somegroup'), [someuser.uid, somegroup.gid]);
  assert.deepEqual(ids('test_key_someuser_root'), [someuser.uid, 0]);
  assert.deepEqual(ids('test_key_root_root'), [0, 0]);
  assert.deepEqual(ids('test_key_unknown'), [id, id]);
  assert.deepEqual(report.displaced.map((d) => [d.path, d.what]), [[world.secretsDir, 'directory']]);
});

test('nixos-test.nix restart-and-reload: nothing restarts when nothing changed; a secret or template emptied by hand restarts and reloads their units', async (t) => {
  const world = makeWorld(t);
  const systemctl = fakeSystemctl(world.dir);
  const units = { restartUnits: ['restart-unit.service', 'reload-unit.service'], reloadUnits: ['reload-trigger.service'] };
  writeConfig(world, {
    keys: { ageKeyFiles: [key(world, 'age-keys.txt')] },
    secrets: { test_key: { ...sops('secrets.yaml', 'test_key'), ...units } },
    templates: { 'rendered/test_template': { content: 'this is a template with\na secret: {{test_key}}\n', ...units } },
  });
  const run = async () => {
    const r = await applyJson(world, ['--units', 'yes'], { env: systemctl.env });
    assert.equal(r.code, 0, r.stderr);
    return systemctl.take();
  };
  assert.deepEqual(await run(), [], 'nothing after boot');
  assert.deepEqual(await run(), [], 'nothing when nothing changed');
  for (const name of ['test_key', 'rendered/test_template']) {
    const file = join(world.secretsDir, name);
    chmodSync(file, 0o600);
    writeFileSync(file, '');
    chmodSync(file, 0o400);
    assert.deepEqual(await run(), ['--no-block try-restart -- reload-unit.service restart-unit.service', '--no-block try-reload-or-restart -- reload-trigger.service'], name);
  }
});

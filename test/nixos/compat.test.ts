// The sops-nix and agenix compatibility modules (nixos-module/*-compat*.nix), evaluated with
// nixpkgs' lib and the stubs, on configurations written the way their users and their own tests
// write them (sops-nix checks/nixos-test.nix and checks/home-manager.nix, agenix
// test/integration.nix): the secrets.json they give is compared with what the same intent gives
// through `materialize.*` directly, the paths and owners with what the peers' tests expect, and the
// manifests they give are checked and applied by the real CLI with the peers' own test assets
// (test/fixtures/sops-nix-assets and test/fixtures/agenix-example, each with its ORIGIN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CLI, REPO, ROOT_SKIP, registerSecretValues, runCli } from '../helpers/cli.js';
import { fakeSystemctl } from '../helpers/systemctl.js';
import { entries } from '../helpers/tree.js';
import { createGroup, createUser } from '../helpers/users.js';
import { LIB_SKIP, buildCheck, evalExpr, evalModule, findOnPath, nixString, scratch, valid, type Kind } from './nix.js';

const s = nixString;
/** A Nix path value (copied into the store by the manifest, as users' `./secrets.yaml` are). */
const P = (file: string) => `(/. + ${nixString(file)})`;
const SN = join(REPO, 'test/fixtures/sops-nix-assets');
const AG = join(REPO, 'test/fixtures/agenix-example');
const SOPS_COMPAT = join(REPO, 'nixos-module/sops-nix-compat.nix');
const AGENIX_COMPAT = join(REPO, 'nixos-module/agenix-compat.nix');
const SOPS_HOME = join(REPO, 'nixos-module/sops-nix-compat-home.nix');
const AGENIX_HOME = join(REPO, 'nixos-module/agenix-compat-home.nix');
const GPG_SKIP = findOnPath('gpg') && findOnPath('gpgconf') ? false : 'gpg and gpgconf are not installed (Debian: apt-get install gnupg); the PGP-encrypted sops-nix assets cannot be opened';
const AGE_SKIP = findOnPath('age') ? false : 'the age CLI is not installed (Debian: apt-get install age); it is the oracle for the plaintexts of agenix\'s example files';
/** humphd/sops-age's vectors (test/fixtures/sops/sops-age/ORIGIN): sops files with age recipients only, no PGP. */
const SOPS_AGE = join(REPO, 'test/fixtures/sops/sops-age');

// The plaintexts of the peers' assets, as their own tests state them.
const TEST_VALUE = 'test_value';
const NESTED_VALUE = 'another value';
const PASSWORD_HASH = '$6$Y1Q.Ywluw5hwc.tk$mNsp2XEBrAe2cf20QdIHsJ0xuCBsQ7rnClrcqJ1Gjco09jsS3eMLTymw5vxSQXFuTso6RzNmdWP.FdlG7nR3p0';
registerSecretValues(TEST_VALUE, NESTED_VALUE, PASSWORD_HASH, 'filename started with hyphen', 'world!', 'Hello World!', 'example_value', 'give you up', 'this is a secret');

/** sops-nix's placeholder, computed here from its definition (sha256 of the secret's name). */
const placeholder = (name: string) => `<SOPS:${createHash('sha256').update(name).digest('hex')}:PLACEHOLDER>`;

/** A NixOS/home-manager module: imports, a `probe` of values to read back, and the settings. */
const module = (imports: string[], body: string, probe = '{ }') => `{ config, lib, options, ... }: {
  imports = [ ${imports.join(' ')} ];
  options.probe = lib.mkOption { type = lib.types.anything; };
  config = {
    probe = ${probe};
    ${body}
  };
}
`;

/** A NixOS module of the sops-nix compatibility module with sops-nix's test_key (its secrets.yaml read where it is, its age key at /run/age-keys.txt) and `more` sops settings. */
const withTestKey = (more: string) => module([s(SOPS_COMPAT)], `
    sops = {
      age.keyFile = "/run/age-keys.txt";
      validateSopsFiles = false;
      defaultSopsFile = ${s(join(SN, 'secrets.yaml'))};
      secrets.test_key = { };
      ${more}
    };
  `);

/** A key file copied to `to` (its directory made) with the mode the program accepts (0600). */
function installKey(from: string, to: string): string {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, 0o600);
  return to;
}

/** A key file copied into `dir` under its own name (mode 0600). */
const key = (dir: string, from: string) => installKey(from, join(dir, basename(from)));

/** sops-nix's test GnuPG home copied to `dir`/gnupghome, closed to others as gpg wants it. */
function gnupgHome(dir: string): string {
  const home = join(dir, 'gnupghome');
  cpSync(join(SN, 'gnupghome'), home, { recursive: true });
  execFileSync('chmod', ['-R', 'go-rwx', home]);
  return home;
}

/**
 * A manifest moved under `root` for a run here (its directories and links, not /run), with the keys
 * of the test assets: everything else is what the module generated.
 */
function relocate(manifest: any, root: string, keys: Record<string, unknown>): any {
  const under = (p: string) => join(root, p);
  const move = (entries: Record<string, any> = {}) =>
    Object.fromEntries(Object.entries(entries).map(([n, e]) => [n, e.path ? { ...e, path: under(e.path) } : e]));
  return {
    ...manifest,
    secretsDir: under(manifest.secretsDir),
    mountPoint: under(manifest.mountPoint),
    mount: 'none',
    keys: { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null, ...keys },
    secrets: move(manifest.secrets),
    ...(manifest.templates ? { templates: move(manifest.templates) } : {}),
  };
}

let applied = 0;

/** Applies a manifest with the real CLI (units restarted only when asked) and returns its report; the run must succeed. */
async function applyManifest(manifest: unknown, dir: string, options: { env?: Record<string, string>; units?: boolean } = {}): Promise<any> {
  const file = join(dir, `secrets-${++applied}.json`);
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  const r = await runCli(['apply', '--json', '--units', options.units ? 'yes' : 'no', '--config', file], { env: options.env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/**
 * The store as a build finds it: a path value (`./secrets.yaml`) is in the store as
 * `/nix/store/<hash>-<its name>` with its bytes, so each such path in `value` (a manifest or a build
 * script) is read from the source file of that name; `built` gives the outputs of derivations.
 */
function realize<T>(value: T, sources: readonly string[], built: Record<string, string> = {}): T {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const real = text.replace(/\/nix\/store\/[0-9a-z]{32}-[^"\s/]+/g, (p) => {
    const found = built[p] ?? sources.find((f) => p.endsWith(`-${basename(f)}`));
    assert.ok(found, `no source for ${p}`);
    return found;
  });
  return (typeof value === 'string' ? real : JSON.parse(real)) as T;
}

/** gpg, gpgconf and gpg-connect-agent first on PATH, each logging its arguments and running the real one. */
function gpgSpy(dir: string): { env: Record<string, string>; calls(): string[] } {
  const bin = join(dir, 'gpg-spy');
  const log = join(dir, 'gpg-calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  for (const tool of ['gpg', 'gpgconf', 'gpg-connect-agent']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\nexec '${findOnPath(tool)}' "$@"\n`, { mode: 0o755 });
  }
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
  };
}

const owner = (path: string) => {
  const st = statSync(path);
  return `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8).padStart(4, '0')}`;
};

// sops-nix checks/nixos-test.nix: `age-keys` (owners by uid/gid), `templates` (owners, link,
// uid/gid) and `restart-and-reload` (units), as one machine; plus main_test.go's suffix-less unit.
const sopsNixTests = (file = P(join(SN, 'secrets.yaml')), extra = '') => module([s(SOPS_COMPAT)], `
  sops = {
    age.keyFile = "/run/age-keys.txt";
    defaultSopsFile = ${file};
    secrets = {
      test_key = {
        restartUnits = [ "restart-unit.service" "reload-unit.service" "affected-service" ];
        reloadUnits = [ "reload-trigger.service" ];
      };
      test_key_someuser_somegroup = { uid = config.users.users."someuser".uid; gid = config.users.groups."somegroup".gid; key = "test_key"; };
      test_key_someuser_root = { uid = config.users.users."someuser".uid; key = "test_key"; };
      test_key_root_root = { key = "test_key"; };
      test_key_1001_1001 = { uid = 1001; gid = 1001; key = "test_key"; };
      "nested/test/file".owner = "someuser";
    };
    templates.test_template = {
      content = ''
        This line is not modified.
        The next value will be replaced by \${config.sops.placeholder.test_key}
        This line is also not modified.
      '';
      mode = "0400";
      owner = "someuser";
      group = "somegroup";
      restartUnits = [ "restart-unit.service" "reload-unit.service" ];
      reloadUnits = [ "reload-trigger.service" ];
    };
    templates.test_default = {
      content = ''
        Test value: \${config.sops.placeholder.test_key}
      '';
      path = "/etc/externally/linked";
    };
    templates.test_uid_gid = {
      uid = 420;
      gid = 420;
      content = ''
        Test value: \${config.sops.placeholder.test_key}
      '';
    };
  };
  users.users."someuser" = { uid = 1000; group = "somegroup"; isNormalUser = true; };
  users.groups."somegroup" = { gid = 1000; };
  systemd.services."restart-unit".serviceConfig.ExecStart = "/bin/sh -c 'echo ok > /restarted'";
  ${extra}
`, `{
  paths = lib.mapAttrs (_: x: x.path) config.sops.secrets;
  templatePaths = lib.mapAttrs (_: x: x.path) config.sops.templates;
  placeholder = config.sops.placeholder;
  hash = config.sops.secrets.test_key.sopsFileHash;
}`);

// The same intent written for `materialize.*` by hand, following the README's migration table.
const directEquivalent = module([s(join(REPO, 'nixos-module'))], `
  materialize = {
    age.keyFiles = [ "/run/age-keys.txt" ];
    defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
    defaultSopsFormat = "yaml";
    secrets = {
      test_key = {
        restartUnits = [ "restart-unit.service" "reload-unit.service" "affected-service" ];
        reloadUnits = [ "reload-trigger.service" ];
      };
      test_key_someuser_somegroup = { sops.key = "test_key"; owner = 1000; group = 1000; };
      test_key_someuser_root = { sops.key = "test_key"; owner = 1000; group = 0; };
      test_key_root_root.sops.key = "test_key";
      test_key_1001_1001 = { sops.key = "test_key"; owner = 1001; group = 1001; };
      "nested/test/file" = { owner = "someuser"; group = "somegroup"; };
    };
    templates."rendered/test_template" = {
      content = "This line is not modified.\\nThe next value will be replaced by {{test_key}}\\nThis line is also not modified.\\n";
      owner = "someuser";
      group = "somegroup";
      restartUnits = [ "restart-unit.service" "reload-unit.service" ];
      reloadUnits = [ "reload-trigger.service" ];
    };
    templates."rendered/test_default" = { content = "Test value: {{test_key}}\\n"; path = "/etc/externally/linked"; };
    templates."rendered/test_uid_gid" = { content = "Test value: {{test_key}}\\n"; owner = 420; group = 420; };
  };
  users.users."someuser" = { uid = 1000; group = "somegroup"; isNormalUser = true; };
`);

test("sops-nix's own NixOS test configurations: the manifest equals the direct materialize one; paths, owners and placeholders are sops-nix's", { skip: LIB_SKIP }, async () => {
  const [compat, direct] = await Promise.all([valid('nixos', sopsNixTests()), valid('nixos', directEquivalent)]);
  assert.deepEqual(compat.manifest, direct.manifest);
  assert.equal(compat.manifestForUsers, null);
  assert.deepEqual(compat.warnings, []);

  // What sops-nix's tests stat: owners by uid and gid, the root default, templates' owners.
  const secrets = compat.manifest.secrets;
  assert.deepEqual([secrets.test_key_someuser_somegroup.owner, secrets.test_key_someuser_somegroup.group], [1000, 1000]);
  assert.deepEqual([secrets.test_key_someuser_root.owner, secrets.test_key_someuser_root.group], [1000, 0]);
  assert.deepEqual([secrets.test_key_1001_1001.owner, secrets.test_key_1001_1001.group], [1001, 1001]);
  assert.deepEqual([secrets.test_key_root_root.owner, secrets.test_key_root_root.group], [undefined, undefined], 'root:root, the unit runs as root');
  assert.deepEqual([secrets['nested/test/file'].owner, secrets['nested/test/file'].group], ['someuser', 'somegroup'], "the owner's group from users.users, as sops-nix's default");
  const templates = compat.manifest.templates;
  assert.deepEqual([templates['rendered/test_template'].owner, templates['rendered/test_template'].group], ['someuser', 'somegroup']);
  assert.deepEqual([templates['rendered/test_uid_gid'].owner, templates['rendered/test_uid_gid'].group], [420, 420]);
  assert.equal(templates['rendered/test_default'].path, '/etc/externally/linked');

  // config.sops.secrets.<name>.path and templates' paths read as with sops-nix.
  assert.deepEqual(compat.probe.paths, {
    test_key: '/run/secrets/test_key',
    test_key_someuser_somegroup: '/run/secrets/test_key_someuser_somegroup',
    test_key_someuser_root: '/run/secrets/test_key_someuser_root',
    test_key_root_root: '/run/secrets/test_key_root_root',
    test_key_1001_1001: '/run/secrets/test_key_1001_1001',
    'nested/test/file': '/run/secrets/nested/test/file',
  });
  assert.deepEqual(compat.probe.templatePaths, {
    test_template: '/run/secrets/rendered/test_template',
    test_default: '/etc/externally/linked',
    test_uid_gid: '/run/secrets/rendered/test_uid_gid',
  });
  // The placeholders are sops-nix's own strings; sopsFileHash is the file's sha256.
  for (const name of Object.keys(compat.probe.paths)) assert.equal(compat.probe.placeholder[name], placeholder(name), name);
  assert.equal(compat.probe.hash, createHash('sha256').update(readFileSync(join(SN, 'secrets.yaml'))).digest('hex'));

  // Units: passed through as written (the program reads "affected-service" as a .service), and the
  // services are ordered after the secrets, as with sops-nix's restartUnits.
  assert.deepEqual(secrets.test_key.restartUnits, ['restart-unit.service', 'reload-unit.service', 'affected-service']);
  const dependents = Object.keys(compat.services).filter((n) => !n.startsWith('materialize-')).sort();
  assert.deepEqual(dependents, ['affected-service', 'reload-trigger', 'reload-unit', 'restart-unit']);
  for (const name of dependents) assert.deepEqual(compat.services[name].after, ['materialize-secrets.target'], name);
  assert.equal(compat.services['restart-unit'].serviceConfig.ExecStart, "/bin/sh -c 'echo ok > /restarted'");
});

test("sops-nix's test machine through the CLI: its assets give the files, owners, rendered text and unit restarts its tests expect", { skip: LIB_SKIP || ROOT_SKIP }, async () => {
  // The files where they are (a string, unchecked at build time), so that the program can read them.
  const r = await valid('nixos', sopsNixTests(s(join(SN, 'secrets.yaml')), 'sops.validateSopsFiles = false;'));
  // The build-time check takes the manifest as it is, sops-nix's suffix-less "affected-service" included.
  const checked = await buildCheck(r.manifest);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  const dir = scratch();
  const root = join(dir, 'root');
  // Named owners need accounts; the numeric ones are what sops-nix's `age-keys` test checks.
  const manifest = relocate(r.manifest, root, { ageKeyFiles: [key(dir, join(SN, 'age-keys.txt'))] });
  for (const e of [manifest.secrets['nested/test/file'], manifest.templates['rendered/test_template']]) {
    delete e.owner;
    delete e.group;
  }
  const systemctl = fakeSystemctl(dir);
  await applyManifest(manifest, dir, { units: true, env: systemctl.env });
  assert.deepEqual(systemctl.take(), [], 'nothing to restart at boot');
  const run = join(root, 'run/secrets');
  assert.equal(readFileSync(join(run, 'test_key'), 'utf8'), TEST_VALUE);
  assert.equal(readFileSync(join(run, 'nested/test/file'), 'utf8'), NESTED_VALUE);
  assert.equal(owner(join(run, 'test_key_someuser_somegroup')), '1000:1000 0400');
  assert.equal(owner(join(run, 'test_key_someuser_root')), '1000:0 0400');
  assert.equal(owner(join(run, 'test_key_root_root')), '0:0 0400');
  assert.equal(owner(join(run, 'test_key_1001_1001')), '1001:1001 0400');
  assert.equal(owner(join(run, 'rendered/test_uid_gid')), '420:420 0400');
  // The texts of sops-nix's `templates` test.
  assert.equal(readFileSync(join(run, 'rendered/test_template'), 'utf8'), 'This line is not modified.\nThe next value will be replaced by test_value\nThis line is also not modified.\n');
  assert.equal(readFileSync(join(run, 'rendered/test_default'), 'utf8'), 'Test value: test_value\n');
  assert.equal(realpathSync(join(root, 'etc/externally/linked')), join(root, 'run/secrets.d/1/rendered/test_default'));
  assert.equal(readlinkSync(run), join(root, 'run/secrets.d/1'));

  // sops-nix's `restart-and-reload` test: test_key changed (emptied by hand here) restarts its units,
  // "affected-service" as affected-service.service, the name systemctl gives it.
  chmodSync(join(run, 'test_key'), 0o600);
  writeFileSync(join(run, 'test_key'), '');
  chmodSync(join(run, 'test_key'), 0o400);
  const second = await applyManifest(manifest, dir, { units: true, env: systemctl.env });
  assert.deepEqual(second.units, { restart: ['affected-service.service', 'reload-unit.service', 'restart-unit.service'], reload: ['reload-trigger.service'] });
  assert.deepEqual(systemctl.take(), [
    '--no-block try-restart -- affected-service.service reload-unit.service restart-unit.service',
    '--no-block try-reload-or-restart -- reload-trigger.service',
  ]);
  assert.equal(readFileSync(join(run, 'test_key'), 'utf8'), TEST_VALUE);
});

test("sops-nix's user-passwords test: neededForUsers lands in /run/secrets-for-users before users are created", { skip: LIB_SKIP }, async () => {
  const body = `
    sops = {
      age.keyFile = "/run/age-keys.txt";
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      secrets.test_key.neededForUsers = true;
      secrets."nested/test/file".owner = "example-user";
    };
    users.users.example-user = { isNormalUser = true; group = "users"; hashedPasswordFile = config.sops.secrets.test_key.path; };
  `;
  const r = await valid('nixos', module([s(SOPS_COMPAT)], body, '{ password = config.users.users.example-user.hashedPasswordFile; }'));
  assert.equal(r.probe.password, '/run/secrets-for-users/test_key');
  assert.deepEqual(Object.keys(r.manifestForUsers.secrets), ['test_key']);
  assert.equal(r.manifestForUsers.secretsDir, '/run/secrets-for-users');
  assert.deepEqual(Object.keys(r.manifest.secrets), ['nested/test/file']);
  assert.deepEqual(r.activationScripts.users.deps, ['materializeSecretsForUsers']);
  // Placeholders exist for every secret, but templates can only render the regular ones (as in sops-nix).
  const direct = await valid('nixos', module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      age.keyFiles = [ "/run/age-keys.txt" ];
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      defaultSopsFormat = "yaml";
      secrets.test_key.neededForUsers = true;
      secrets."nested/test/file" = { owner = "example-user"; group = "users"; };
    };
    users.users.example-user = { isNormalUser = true; group = "users"; };
  `));
  assert.deepEqual(r.manifestForUsers, direct.manifestForUsers);
  assert.deepEqual(r.manifest, direct.manifest);

  // The sysusers variant of the same test: a unit ordered before systemd-sysusers.
  const sysusers = await valid('nixos', module([s(SOPS_COMPAT)], `${body} systemd.sysusers.enable = true;`));
  assert.deepEqual(sysusers.services['materialize-secrets-for-users'].before, ['systemd-sysusers.service', 'shutdown.target']);
});

test("sops-nix's user-passwords test, its password PGP-encrypted to the RSA host key: the activation snippet opens it with NixOS's activation PATH", { skip: LIB_SKIP || ROOT_SKIP || GPG_SKIP }, async () => {
  // Before age, sops-nix users encrypted to their RSA host key (ssh-to-pgp): gnupg.sshKeyPaths'
  // default. Scripted user creation runs the snippet inside the activation script, whose PATH is
  // NixOS's short list (coreutils, util-linux, getent, shadow…), without gpg.
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    services.openssh.enable = true;
    sops = {
      age.sshKeyPaths = [ ];
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      secrets.test_key.neededForUsers = true;
    };
    users.users.example-user = { isNormalUser = true; group = "users"; hashedPasswordFile = config.sops.secrets.test_key.path; };
  `));
  assert.deepEqual(r.manifestForUsers.keys.gnupgSshKeyPaths, ['/etc/ssh/ssh_host_rsa_key']);
  const snippet = r.activationScripts.materializeSecretsForUsers.text as string;

  // The machine: the RSA host key under the test's root, the store paths the snippet names made
  // real (the package runs this build of the CLI; gnupg is the machine's gpg), and a PATH without gpg.
  const dir = scratch();
  const root = join(dir, 'root');
  const rsa = installKey(join(SN, 'ssh-key'), join(root, 'etc/ssh/ssh_host_rsa_key'));
  const manifest = join(dir, 'for-users.json');
  writeFileSync(manifest, JSON.stringify(relocate(realize(r.manifestForUsers, [join(SN, 'secrets.yaml')]), root, { gnupgSshKeyPaths: [rsa] })));
  const store = (name: string, files: Record<string, string>) => {
    const pkg = join(dir, 'store', name);
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(pkg, 'bin', file), text, { mode: 0o755 });
    return pkg;
  };
  const exec = (program: string) => `#!/bin/sh\nexec '${program}' "$@"\n`;
  const paths: Record<string, string> = {};
  for (const path of new Set(snippet.match(/\/nix\/store\/[0-9a-z]{32}-[^"\s/]+/g))) {
    const name = path.slice(44);
    paths[path] =
      name === 'materialize' ? store(name, { materialize: `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n` })
      : name === 'gnupg' ? store(name, Object.fromEntries(['gpg', 'gpgconf', 'gpg-connect-agent'].map((t) => [t, exec(findOnPath(t)!)])))
      : name === 'materialize-secrets-for-users.json' ? manifest
      : store(name, {});
  }
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const run = spawnSync('/bin/sh', ['-ec', realize(snippet, [], paths)], { env: { PATH: '/empty', RUNTIME_DIRECTORY: runtime }, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(readFileSync(join(root, 'run/secrets-for-users/test_key'), 'utf8'), TEST_VALUE);
  assert.deepEqual(entries(runtime), [], 'the temporary GnuPG home is removed');
});

test('sops formats as sops-nix reads them: dotenv and ini whole (key ignored), binary whole, json by key, defaultSopsKey', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    sops = {
      gnupg.home = "/run/gpghome";
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      defaultSopsKey = "test_key";
      secrets.test4 = { format = "dotenv"; sopsFile = ${P(join(SN, 'secrets.env'))}; };
      secrets.test5 = { format = "ini"; sopsFile = ${P(join(SN, 'secrets.ini'))}; };
      secrets.test3 = { format = "binary"; sopsFile = ${P(join(SN, 'secrets.bin'))}; };
      secrets.test2 = { format = "json"; sopsFile = ${P(join(SN, 'secrets.json'))}; mode = "0700"; owner = "root"; group = "root"; };
      secrets.whole = { key = ""; };
      secrets.nested.key = "nested/test/file";
    };
  `));
  const sources = Object.fromEntries(Object.entries(r.manifest.secrets).map(([n, e]: [string, any]) => [n, e.sources[0].sops]));
  const store = (name: string) => new RegExp(`^/nix/store/[0-9a-z]{32}-${name.replace('.', '\\.')}$`);
  assert.match(sources.test4.file, store('secrets.env'));
  assert.deepEqual({ ...sources.test4, file: undefined }, { file: undefined, format: 'dotenv', key: '' });
  assert.deepEqual({ ...sources.test5, file: undefined }, { file: undefined, format: 'ini', key: '' });
  assert.deepEqual({ ...sources.test3, file: undefined }, { file: undefined, format: 'binary' });
  assert.deepEqual({ ...sources.test2, file: undefined }, { file: undefined, format: 'json', key: 'test_key' });
  assert.deepEqual({ ...sources.whole, file: undefined }, { file: undefined, format: 'yaml', key: '' });
  assert.deepEqual({ ...sources.nested, file: undefined }, { file: undefined, format: 'yaml', key: 'nested/test/file' });
  assert.deepEqual([r.manifest.secrets.test2.owner, r.manifest.secrets.test2.group, r.manifest.secrets.test2.mode], ['root', 'root', '0700']);
  assert.equal(r.keys.gnupgHome, '/run/gpghome');
});

test('sops-nix globals: keepGenerations, useTmpfs, validateSopsFiles, keys (host keys by default, renamed options), in the materialize settings', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    services.openssh.enable = true;
    services.openssh.hostKeys = [
      { type = "rsa"; bits = 4096; path = "/persist/ssh/ssh_host_rsa_key"; }
      { type = "ed25519"; path = "/persist/ssh/ssh_host_ed25519_key"; }
      { type = "ed25519"; path = "/run/secrets/deployed_host_key"; }
    ];
    sops = {
      defaultSopsFile = ${s(join(SN, 'secrets.yaml'))};
      validateSopsFiles = false;
      keepGenerations = 0;
      useTmpfs = true;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      gnupgHome = "/root/.gnupg";
      secrets.test_key = { };
    };
  `, '{ home = config.sops.gnupg.home; }'));
  // sops-nix's defaults: the host keys of each type, except one sops itself deploys.
  assert.deepEqual(r.manifest.keys, {
    ageKeyFiles: ['/var/lib/sops-nix/key.txt'],
    sshKeyPaths: ['/persist/ssh/ssh_host_ed25519_key'],
    gnupgHome: '/root/.gnupg',
    gnupgSshKeyPaths: ['/persist/ssh/ssh_host_rsa_key'],
  });
  assert.equal(r.probe.home, '/root/.gnupg', 'sops.gnupgHome is renamed to sops.gnupg.home, as in sops-nix');
  assert.match(r.warnings.join('\n'), /sops\.gnupgHome.*sops\.gnupg\.home/);
  assert.equal(r.manifest.keepGenerations, 0, '0: never prune, as in sops-nix');
  assert.equal(r.manifest.mount, 'tmpfs');
  assert.equal(r.manifestFile.buildCommand, undefined, 'validateSopsFiles = false: no build-time check');
  // The check still accepts the manifest (run by hand, or with validateSopsFiles), host keys that
  // are not on this machine and all: keys are the host's, not the build's.
  const checked = await buildCheck(r.manifest);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.deepEqual(checked.report.warnings, []);
  assert.deepEqual(r.services['materialize-secrets'].unitConfig.RequiresMountsFor, [
    '/var/lib/sops-nix/key.txt', '/persist/ssh/ssh_host_ed25519_key', '/root/.gnupg', '/persist/ssh/ssh_host_rsa_key', join(SN, 'secrets.yaml'),
  ]);
  // Set directly, materialize's own options win over the mapped defaults.
  const direct = await valid('nixos', module([s(SOPS_COMPAT)], `
    sops = { defaultSopsFile = ${s(join(SN, 'secrets.yaml'))}; validateSopsFiles = false; age.keyFile = "/k"; keepGenerations = 5; secrets.test_key = { }; };
    materialize.keepGenerations = 2;
  `));
  assert.equal(direct.manifest.keepGenerations, 2);
  assert.equal(direct.manifest.mount, 'ramfs');
});

test("sops formats through the CLI with sops-nix's PGP assets: dotenv and ini files are written whole", { skip: LIB_SKIP || GPG_SKIP }, async () => {
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    sops = {
      gnupg.home = "/run/gpghome";
      validateSopsFiles = false;
      secrets.test4 = { format = "dotenv"; sopsFile = ${s(join(SN, 'secrets.env'))}; };
      secrets.test5 = { format = "ini"; sopsFile = ${s(join(SN, 'secrets.ini'))}; };
      secrets.test2 = { format = "json"; sopsFile = ${s(join(SN, 'secrets.json'))}; key = "test_key"; };
    };
  `));
  const dir = scratch();
  const gnupg = gnupgHome(dir);
  const root = join(dir, 'root');
  await applyManifest(relocate(r.manifest, root, { gnupgHome: gnupg }), dir);
  const env = readFileSync(join(root, 'run/secrets/test4'), 'utf8');
  const ini = readFileSync(join(root, 'run/secrets/test5'), 'utf8');
  // The variables of sops' example files, all of them: the whole file, not one key.
  assert.match(env, /^example_key=example_value$/m);
  assert.match(env, /^never_gonna=give you up$/m);
  assert.match(ini, /^\[Welcome!\]$/m);
  assert.match(ini, /^example_key\s*=\s*example_value$/m);
  assert.equal(readFileSync(join(root, 'run/secrets/test2'), 'utf8'), TEST_VALUE);
});

test("sops.gnupg.sshKeyPaths through the CLI: sops-nix's RSA ssh-key opens its secrets.yaml as PGP key 2504…, in a GnuPG home that is gone after the run", { skip: LIB_SKIP || ROOT_SKIP || GPG_SKIP }, async () => {
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    sops = {
      gnupg.sshKeyPaths = [ "/etc/ssh/ssh_host_rsa_key" ];
      age.sshKeyPaths = [ ];
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      secrets.test_key = { };
      secrets."nested/test/file" = { };
    };
  `));
  assert.deepEqual(r.manifest.keys, { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null, gnupgSshKeyPaths: ['/etc/ssh/ssh_host_rsa_key'] });
  assert.ok(r.services['materialize-secrets'].path.some((p: string) => p.endsWith('-gnupg')), 'the unit has gpg');
  const manifest = realize(r.manifest, [join(SN, 'secrets.yaml')]);
  const checked = await buildCheck(manifest);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);

  // The host: the RSA key where the module says (here, under the test's root), no age key at all:
  // only the PGP recipient 2504… (the RSA key) can open the file.
  const dir = scratch();
  const root = join(dir, 'root');
  const rsa = installKey(join(SN, 'ssh-key'), join(root, 'etc/ssh/ssh_host_rsa_key'));
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const gpg = gpgSpy(dir);
  const report = await applyManifest(relocate(manifest, root, { gnupgSshKeyPaths: [rsa] }), dir, { env: { ...gpg.env, RUNTIME_DIRECTORY: runtime } });
  assert.equal(readFileSync(join(root, 'run/secrets/test_key'), 'utf8'), TEST_VALUE);
  assert.equal(readFileSync(join(root, 'run/secrets/nested/test/file'), 'utf8'), NESTED_VALUE);
  assert.deepEqual(report.warnings, []);
  // The real gpg imported the converted key and decrypted the data key (once: one file).
  const calls = gpg.calls();
  assert.equal(calls.filter((c) => /^gpg .*--import$/.test(c)).length, 1, calls.join('\n'));
  assert.equal(calls.filter((c) => /^gpg .*--decrypt$/.test(c)).length, 1, calls.join('\n'));
  assert.deepEqual(entries(runtime), [], 'the temporary GnuPG home is removed');
});

test("sops-nix's default gnupg.sshKeyPaths (the RSA host key): without that key, or without PGP recipients, neither the build-time check nor the boot fails, and gpg is never started for files without PGP recipients", { skip: LIB_SKIP || ROOT_SKIP || GPG_SKIP }, async () => {
  // openssh's default host keys (RSA and ed25519): sops-nix's defaults take both.
  const config = (file: string, body: string) => module([s(SOPS_COMPAT)], `
    services.openssh.enable = true;
    sops = {
      defaultSopsFile = ${P(file)};
      ${body}
    };
  `);
  const boot = async (manifest: any, sources: string[], keys: Record<string, unknown>, withRsaKey: boolean) => {
    const built = realize(manifest, sources);
    // At build time: the host keys are nowhere (not in the sandbox); the check does not look for them.
    const checked = await buildCheck(built);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.deepEqual(checked.report.warnings, []);
    const dir = scratch();
    const root = join(dir, 'root');
    const rsa = join(root, manifest.keys.gnupgSshKeyPaths[0]);
    if (withRsaKey) installKey(join(SN, 'ssh-key'), rsa);
    const gpg = gpgSpy(dir);
    const report = await applyManifest(relocate(built, root, { ...keys, sshKeyPaths: manifest.keys.sshKeyPaths.map((k: string) => join(root, k)), gnupgSshKeyPaths: [rsa] }), dir, { env: { ...gpg.env, RUNTIME_DIRECTORY: dir } });
    return { root, rsa, report, gpgCalls: gpg.calls() };
  };

  // Files with age recipients only (sops-age's vectors), the age key in sops.age.keyFile.
  const ageOnly = await valid('nixos', config(join(SOPS_AGE, 'secret.enc.yaml'), `
    age.keyFile = "/var/lib/sops-nix/key.txt";
    secrets.secret = { };
    secrets."complex/value" = { };
  `));
  assert.deepEqual(ageOnly.manifest.keys.gnupgSshKeyPaths, ['/etc/ssh/ssh_host_rsa_key']);
  assert.deepEqual(ageOnly.manifest.keys.sshKeyPaths, ['/etc/ssh/ssh_host_ed25519_key']);
  for (const withRsaKey of [false, true]) {
    const dir = scratch();
    const run = await boot(ageOnly.manifest, [join(SOPS_AGE, 'secret.enc.yaml')], { ageKeyFiles: [key(dir, join(SOPS_AGE, 'key.txt'))] }, withRsaKey);
    assert.equal(readFileSync(join(run.root, 'run/secrets/secret'), 'utf8'), 'this is a secret');
    assert.equal(readFileSync(join(run.root, 'run/secrets/complex/value'), 'utf8'), 'this is a secret');
    assert.deepEqual(run.gpgCalls, [], `gpg started (RSA key ${withRsaKey ? 'present' : 'missing'})`);
    // The ed25519 host key is missing here too: that is age's warning, as with sops-nix; none about the RSA key.
    assert.deepEqual(run.report.warnings.filter((w: string) => /gnupg|ssh_host_rsa_key/i.test(w)), [], run.report.warnings.join('\n'));
  }

  // sops-nix's secrets.yaml has PGP recipients too; the host has no RSA key but its age key opens
  // the file first (age before PGP, as sops does), so gpg is not needed either.
  const both = await valid('nixos', config(join(SN, 'secrets.yaml'), `
    age.keyFile = "/var/lib/sops-nix/key.txt";
    secrets.test_key = { };
  `));
  const dir = scratch();
  const mixed = await boot(both.manifest, [join(SN, 'secrets.yaml')], { ageKeyFiles: [key(dir, join(SN, 'age-keys.txt'))] }, false);
  assert.equal(readFileSync(join(mixed.root, 'run/secrets/test_key'), 'utf8'), TEST_VALUE);
  assert.deepEqual(mixed.gpgCalls, []);
  assert.deepEqual(mixed.report.warnings.filter((w: string) => /gnupg|ssh_host_rsa_key/i.test(w)), []);

  // A PGP-only file opened with sops.gnupg.home, the default RSA key missing: the worst is a warning
  // naming the key (sops-nix too only prints "Cannot read ssh key"), and the secret is there.
  const pgp = await valid('nixos', config(join(SN, 'secrets.json'), `
    gnupg.home = "/root/.gnupg";
    secrets.test_key.format = "json";
  `));
  const home = gnupgHome(scratch());
  const pgpOnly = await boot(pgp.manifest, [join(SN, 'secrets.json')], { gnupgHome: home }, false);
  assert.equal(readFileSync(join(pgpOnly.root, 'run/secrets/test_key'), 'utf8'), TEST_VALUE);
  assert.deepEqual(pgpOnly.report.warnings.filter((w: string) => /gnupg/i.test(w)), [`keys.gnupgSshKeyPaths: cannot read ${pgpOnly.rsa} (no such file)`]);
  assert.ok(pgpOnly.gpgCalls.some((c) => /^gpg .*--decrypt$/.test(c)), 'gpg opened it with the GnuPG home');
});

test('templates: text around placeholders is kept exactly as sops-nix keeps it ({{, \\{{, }}), rendered by the CLI', { skip: LIB_SKIP }, async () => {
  // Literal braces that mean something to materialize's own syntax, next to placeholders.
  const text = (p: string) => `a {{ b }} c \\{{ d }}} {{{{ e\n${p}}} }}${p}{{\n`;
  const r = await valid('nixos', withTestKey(`
      templates.braces.content = ${s(text('@P@')).replace(/@P@/g, '${config.sops.placeholder.test_key}')};
  `));
  const dir = scratch();
  const root = join(dir, 'root');
  await applyManifest(relocate(r.manifest, root, { ageKeyFiles: [key(dir, join(SN, 'age-keys.txt'))] }), dir);
  // sops-install-secrets: strings.ReplaceAll(content, placeholder, value), nothing else.
  const expected = text(placeholder('test_key')).replaceAll(placeholder('test_key'), TEST_VALUE);
  assert.equal(readFileSync(join(root, 'run/secrets/rendered/braces'), 'utf8'), expected);
});

test('templates: a `{` right before a placeholder cannot be written in materialize\'s syntax, and the check says so', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', withTestKey(`
      templates.json.content = "{\${config.sops.placeholder.test_key}}";
  `));
  const c = await buildCheck(r.manifest);
  assert.equal(c.code, 78, 'loud at build time (validateSecrets), never a half-rendered file');
  assert.match(c.report.issues.map((i: any) => `${i.path}: ${i.message}`).join('\n'), /templates\["rendered\/json"\]\.content: .*without a matching/);
});

test('templates.<name>.file: translated when the system is built, to the same text as `content` gives', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const tmpl = join(dir, 'app.conf.tmpl');
  // What a user writes with pkgs.writeText/formats: sops-nix's placeholder strings in a file.
  const text = `user = "app"\npassword = "${placeholder('test_key')}"\nnested = "${placeholder('nested')}" # {{ not ours }} & \\{{ | \n`;
  writeFileSync(tmpl, text);
  const r = await valid('nixos', withTestKey(`
      secrets.nested = { key = "nested/test/file"; name = "a&b|c"; };
      templates.from-file = { file = ${P(tmpl)}; owner = "root"; };
      templates.from-content.content = builtins.readFile ${s(tmpl)};
      templates.empty = { };
  `));
  const t = r.manifest.templates;
  assert.deepEqual(t['rendered/empty'], { content: '', mode: '0400' });
  assert.equal(t['rendered/from-file'].content, undefined);
  assert.match(t['rendered/from-file'].file, /^\/nix\/store\/[0-9a-z]{32}-sops-template-from-file$/);
  assert.equal(t['rendered/from-file'].owner, 'root');
  // The translation is a build step; run its script here with the real sed.
  const drv = await evalExpr(`
    let
      lib = import (builtins.getEnv "NIXPKGS_LIB");
      stubs = import ./nixos-module/tests/stubs.nix { inherit lib; };
      c = import ./nixos-module/compat.nix { inherit lib; };
    in (c.translateFile { inherit (stubs) pkgs; name = "from-file"; file = ${s(tmpl)}; secrets = { test_key = "test_key"; nested = "a&b|c"; }; }).buildCommand
  `) as string;
  const out = join(dir, 'out');
  execFileSync('bash', ['-euc', drv], { env: { ...process.env, out } });
  assert.equal(readFileSync(out, 'utf8'), t['rendered/from-content'].content);
  assert.equal(readFileSync(out, 'utf8'), 'user = "app"\npassword = "{{test_key}}"\nnested = "{{a&b|c}}" # \\{{ not ours }} & \\\\{{ | \n');
});

test("sops-nix's templates.<name>.file through the CLI: the build-time translation, checked and applied, renders what sops-install-secrets renders", { skip: LIB_SKIP || ROOT_SKIP }, async () => {
  const dir = scratch();
  const tmpl = join(dir, 'app.conf.tmpl');
  // sops-nix's placeholder strings in a file, among characters that mean something to sed's
  // replacement text (&, \\, |) and to materialize's template syntax ({{, \\{{, }}).
  const text = [
    'user = "app"',
    `password = "${placeholder('test_key')}"`,
    `nested = '${placeholder('a&b|c')}' # {{ not ours }} \\{{ & | \\1 \\\\ }}}`,
    `${placeholder('test_key')}${placeholder('a&b|c')}`,
    '{{{{',
    '',
  ].join('\n');
  writeFileSync(tmpl, text);
  const r = await valid('nixos', module([s(SOPS_COMPAT)], `
    sops = {
      age.keyFile = "/run/age-keys.txt";
      defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      secrets.test_key = { };
      secrets."a&b|c".key = "nested/test/file";
      templates."app.conf" = { file = ${P(tmpl)}; mode = "0440"; };
    };
  `, '{ build = config.materialize.templates."rendered/app.conf".file.buildCommand; }'));
  // The build: the translation (the real sed, reading the template from the store), then the check.
  const translated = join(dir, 'translated');
  const storeFile = r.manifest.templates['rendered/app.conf'].file as string;
  execFileSync('bash', ['-euc', realize(r.probe.build as string, [tmpl])], { env: { ...process.env, out: translated } });
  assert.match(r.manifestFile.buildCommand, /^\s*materialize check --skip-owners --skip-keys --config \/nix\/store\//m);
  const manifest = realize(r.manifest, [join(SN, 'secrets.yaml')], { [storeFile]: translated });
  const checked = await buildCheck(manifest);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);

  // The boot: the template rendered from the translated file.
  const root = join(dir, 'root');
  await applyManifest(relocate(manifest, root, { ageKeyFiles: [key(dir, join(SN, 'age-keys.txt'))] }), dir);
  // sops-install-secrets: strings.ReplaceAll(content, placeholder, value) for each secret, nothing else.
  const expected = text.replaceAll(placeholder('test_key'), TEST_VALUE).replaceAll(placeholder('a&b|c'), NESTED_VALUE);
  const rendered = join(root, 'run/secrets/rendered/app.conf');
  assert.equal(readFileSync(rendered, 'utf8'), expected);
  assert.equal(owner(rendered), '0:0 0440');
});

// agenix test/integration.nix, system part: two secrets, one a user's password file, identities
// from the SSH host keys plus one that does not exist.
const agenixIntegration = (extra = '', file = P) => module([s(AGENIX_COMPAT)], `
  services.openssh.enable = true;
  age.secrets = {
    passwordfile-user1.file = ${file(join(AG, 'example/passwordfile-user1.age'))};
    leading-hyphen.file = ${file(join(AG, 'example/-leading-hyphen-filename.age'))};
  };
  age.identityPaths = options.age.identityPaths.default ++ [ "/etc/ssh/this_key_wont_exist" ];
  users.mutableUsers = false;
  users.users.user1 = { isNormalUser = true; hashedPasswordFile = config.age.secrets.passwordfile-user1.path; uid = 1000; };
  ${extra}
`, '{ paths = lib.mapAttrs (_: x: x.path) config.age.secrets; password = config.users.users.user1.hashedPasswordFile or null; }');

test("agenix's integration test machine: /run/agenix/<name> in generations under /run/agenix.d, root-owned, the password file before users", { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', agenixIntegration());
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.probe.paths, { 'passwordfile-user1': '/run/agenix/passwordfile-user1', 'leading-hyphen': '/run/agenix/leading-hyphen' });
  assert.equal(r.probe.password, '/run/agenix/passwordfile-user1');
  assert.deepEqual(Object.keys(r.manifest.secrets), [], 'nothing in /run/secrets');
  const agenix = r.instanceManifests.agenix;
  // The same intent through materialize.* directly: a secrets directory of its own.
  const direct = await valid('nixos', module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      secretsDir = "/run/agenix";
      mountPoint = "/run/agenix.d";
      age.keyFiles = [ "/etc/ssh/ssh_host_rsa_key" "/etc/ssh/ssh_host_ed25519_key" "/etc/ssh/this_key_wont_exist" ];
      age.sshKeyPaths = [ ];
      secrets.passwordfile-user1.age.file = ${P(join(AG, 'example/passwordfile-user1.age'))};
      secrets.leading-hyphen.age.file = ${P(join(AG, 'example/-leading-hyphen-filename.age'))};
    };
  `));
  assert.deepEqual(agenix, direct.manifest);
  assert.equal(agenix.mount, 'ramfs');
  assert.equal(agenix.keepGenerations, 1);

  // Its own unit, part of materialize-secrets.target, and a run before `users` for the password file.
  const unit = r.services['materialize-secrets-agenix'];
  assert.match(unit.serviceConfig.ExecStart, /materialize apply --config \/nix\/store\/[0-9a-z]{32}-materialize-secrets-agenix\.json --boot --units yes /);
  assert.deepEqual(r.targets['materialize-secrets'].requisite, ['materialize-secrets-agenix.service']);
  assert.equal(r.services['materialize-secrets'], undefined);
  assert.equal(r.etc['materialize/secrets-agenix.json'].source, unit.restartTriggers[0]);
  assert.deepEqual(r.activationScripts.users.deps, ['materializeSecrets-agenix']);
  assert.match(r.activationScripts['materializeSecrets-agenix'].text, /apply --config \S+-materialize-secrets-agenix\.json --units no --quiet .*\|\| \{\n.*rc=\$\?\n.*"\$rc" -eq 78/s);

  // Without a password file, no early run; with userborn, a unit before it instead of the snippet.
  const plain = await valid('nixos', agenixIntegration().replace('hashedPasswordFile = config.age.secrets.passwordfile-user1.path; ', ''));
  assert.equal(plain.activationScripts['materializeSecrets-agenix'], undefined);
  const userborn = await valid('nixos', agenixIntegration('services.userborn.enable = true;'));
  assert.equal(userborn.activationScripts['materializeSecrets-agenix'], undefined);
  assert.deepEqual(userborn.services['materialize-secrets-agenix-before-users'].before, ['userborn.service', 'shutdown.target']);
  assert.deepEqual(userborn.services['materialize-secrets-agenix'].after, ['userborn.service']);
});

test("agenix's integration test machine through the CLI: its example files, decrypted with its example keys, where its test reads them", { skip: LIB_SKIP }, async () => {
  // The files where they are (strings: agenix reads them at run time, no build-time check).
  const r = await valid('nixos', agenixIntegration('', s));
  const dir = scratch();
  const root = join(dir, 'root');
  // The host keys of the test machine are agenix's example system key; the missing one stays missing.
  const manifest = relocate(r.instanceManifests.agenix, root, {
    ageKeyFiles: [key(dir, join(AG, 'example_keys/system1')), join(dir, 'this_key_wont_exist')],
  });
  const report = await applyManifest(manifest, dir);
  const run = join(root, 'run/agenix');
  assert.equal(readFileSync(join(run, 'leading-hyphen'), 'utf8').trim(), 'filename started with hyphen');
  assert.equal(readFileSync(join(run, 'passwordfile-user1'), 'utf8').trim(), PASSWORD_HASH);
  assert.equal(readlinkSync(run), join(root, 'run/agenix.d/1'));
  assert.equal((statSync(join(run, 'leading-hyphen')).mode & 0o777).toString(8), '400');
  assert.equal(report.generation, 1);
});

test('agenix options: owner/group defaults from users.users, numeric strings, mode, name, custom path, symlink = false', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', module([s(AGENIX_COMPAT)], `
    age.identityPaths = [ "/var/lib/agenix/key" ];
    age.secrets = {
      secret1 = { file = ${P(join(AG, 'example/secret1.age'))}; owner = "user1"; mode = "0440"; };
      grouped = { file = ${P(join(AG, 'example/secret1.age'))}; owner = "nobody-declared"; };
      numeric = { file = ${P(join(AG, 'example/secret1.age'))}; owner = "1000"; group = "100"; };
      linked = { file = ${P(join(AG, 'example/secret1.age'))}; path = "/etc/app/secret"; };
      copied = { file = ${P(join(AG, 'example/secret1.age'))}; path = "/var/lib/app/secret"; symlink = false; owner = "user1"; };
      renamed = { file = ${P(join(AG, 'example/secret1.age'))}; name = "app/token"; };
    };
    age.secretsDir = "/run/keys/agenix";
    age.secretsMountPoint = "/run/keys/agenix.d";
    users.users.user1 = { uid = 1000; group = "users"; };
  `, '{ paths = lib.mapAttrs (_: x: x.path) config.age.secrets; groups = lib.mapAttrs (_: x: x.group) config.age.secrets; }'));
  assert.deepEqual(r.probe.groups, { secret1: 'users', grouped: '0', numeric: '100', linked: '0', copied: 'users', renamed: '0' });
  assert.deepEqual(r.probe.paths, {
    secret1: '/run/keys/agenix/secret1', grouped: '/run/keys/agenix/grouped', numeric: '/run/keys/agenix/numeric',
    linked: '/etc/app/secret', copied: '/var/lib/app/secret', renamed: '/run/keys/agenix/app/token',
  });
  const direct = await valid('nixos', module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      secretsDir = "/run/keys/agenix";
      mountPoint = "/run/keys/agenix.d";
      age.keyFiles = [ "/var/lib/agenix/key" ];
      secrets = {
        secret1 = { age.file = ${P(join(AG, 'example/secret1.age'))}; owner = "user1"; group = "users"; mode = "0440"; };
        # agenix: users.\${owner}.group or "0" — root's group for an owner users.users does not know.
        grouped = { age.file = ${P(join(AG, 'example/secret1.age'))}; owner = "nobody-declared"; group = 0; };
        numeric = { age.file = ${P(join(AG, 'example/secret1.age'))}; owner = 1000; group = 100; };
        linked = { age.file = ${P(join(AG, 'example/secret1.age'))}; path = "/etc/app/secret"; };
        copied = { age.file = ${P(join(AG, 'example/secret1.age'))}; path = "/var/lib/app/secret"; symlink = false; owner = "user1"; group = "users"; };
        "app/token".age.file = ${P(join(AG, 'example/secret1.age'))};
      };
    };
  `));
  assert.deepEqual(r.instanceManifests.agenix, direct.manifest);
  assert.deepEqual(r.instanceManifests.agenix.secrets.copied, {
    sources: [{ age: { file: r.instanceManifests.agenix.secrets.copied.sources[0].age.file } }],
    owner: 'user1', group: 'users', mode: '0400', path: '/var/lib/app/secret', symlink: false,
  });
  assert.equal(r.instanceManifests.agenix.secrets.linked.symlink, undefined, 'a symlink is the default');
  // The copy's directory and the link's are mounts to wait for, like the keys.
  assert.deepEqual(r.services['materialize-secrets-agenix'].unitConfig.RequiresMountsFor, ['/var/lib/agenix/key', '/var/lib/app', '/etc/app']);
});

/** The real age CLI's plaintext of an agenix example file, opened with agenix's example key user1: the oracle. */
function agePlaintext(file: string): Buffer {
  const out = execFileSync('age', ['-d', '-i', join(AG, 'example_keys/user1'), join(AG, 'example', file)]);
  registerSecretValues(out);
  return out;
}

test("agenix's symlink = false through the CLI: a real file at its path with the secret's owner, group and mode, replaced by a rename, removed when the secret goes", { skip: LIB_SKIP || ROOT_SKIP || AGE_SKIP }, async (t) => {
  const user = createUser(t);
  const group = createGroup(t);
  const dir = scratch();
  const root = join(dir, 'root');
  const identity = key(dir, join(AG, 'example_keys/user1'));
  // agenix's options as its users write them; the owner is a real account, its group from users.users.
  const copied = (file: string) => `copied = { file = ${s(join(AG, 'example', file))}; path = "/var/lib/app/secret"; symlink = false; owner = "${user.name}"; mode = "0440"; };`;
  const other = `other.file = ${s(join(AG, 'example/secret1.age'))};`;
  const instance = async (secrets: string) => {
    const r = await valid('nixos', module([s(AGENIX_COMPAT)], `
      age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      age.secrets = { ${secrets} };
      users.users.${user.name} = { uid = ${user.uid}; group = "${group.name}"; };
    `));
    return relocate(r.instanceManifests.agenix, root, { ageKeyFiles: [identity] });
  };
  const path = join(root, 'var/lib/app/secret');
  const first = await applyManifest(await instance(copied('secret1.age') + other), dir);
  const st = lstatSync(path);
  assert.ok(st.isFile(), 'a real file, not a symlink');
  assert.deepEqual([st.uid, st.gid, (st.mode & 0o7777).toString(8)], [user.uid, group.gid, '440']);
  assert.deepEqual(readFileSync(path), agePlaintext('secret1.age'));
  assert.deepEqual(first.paths.copied, [path]);
  assert.deepEqual(readFileSync(join(root, 'run/agenix/copied')), agePlaintext('secret1.age'), 'also in /run/agenix, as agenix keeps it');

  // A new value: a new file renamed over the old one. A service that had the old file open still
  // reads the whole old value; nothing half-written, no temporary file, the same owner and mode.
  const reader = openSync(path, 'r');
  try {
    const second = await applyManifest(await instance(copied('secret2.age') + other), dir);
    assert.deepEqual(second.paths.copied, [path]);
    const now = lstatSync(path);
    assert.notEqual(now.ino, st.ino, 'replaced by a rename, not rewritten in place');
    assert.deepEqual([now.isFile(), now.uid, now.gid, (now.mode & 0o7777).toString(8)], [true, user.uid, group.gid, '440']);
    assert.deepEqual(readFileSync(path), agePlaintext('secret2.age'));
    assert.deepEqual(readFileSync(reader), agePlaintext('secret1.age'));
  } finally {
    closeSync(reader);
  }
  assert.deepEqual(entries(dirname(path)), ['secret']);

  // The secret goes: so does its copy (it is still the file materialize wrote); the other secret stays.
  const third = await applyManifest(await instance(other), dir);
  assert.deepEqual(third.paths.removed, [path]);
  assert.equal(existsSync(path), false);
  assert.deepEqual(entries(dirname(path)), []);
  assert.deepEqual(readFileSync(join(root, 'run/agenix/other')), agePlaintext('secret1.age'));
});

test('sops-nix, agenix and materialize.* in one machine: one module, separate directories, one target', { skip: LIB_SKIP }, async () => {
  const r = await valid('nixos', module([s(join(REPO, 'nixos-module')), s(SOPS_COMPAT), s(AGENIX_COMPAT), s(join(REPO, 'nixos-module/default.nix'))], `
    services.openssh.enable = true;
    sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
    sops.secrets.test_key.restartUnits = [ "nginx" ];
    sops.templates."app.env".content = "TOKEN=\${config.sops.placeholder.test_key}\\n";
    age.secrets.x.file = ${P(join(AG, 'example/secret1.age'))};
    materialize.secrets.direct = { age.file = ${P(join(AG, 'example/secret1.age'))}; restartUnits = [ "app.service" ]; };
    materialize.templates."direct.env".content = "X={{direct}} Y={{test_key}}";
  `, '{ sops = config.sops.secrets.test_key.path; age = config.age.secrets.x.path; direct = config.materialize.secrets.direct.path; }'));
  assert.deepEqual(r.probe, { sops: '/run/secrets/test_key', age: '/run/agenix/x', direct: '/run/secrets/direct' });
  assert.deepEqual(Object.keys(r.manifest.secrets).sort(), ['direct', 'test_key']);
  assert.deepEqual(Object.keys(r.manifest.templates).sort(), ['direct.env', 'rendered/app.env']);
  assert.deepEqual(Object.keys(r.instanceManifests.agenix.secrets), ['x']);
  // Keys: sops-nix's (the ed25519 host key) for /run/secrets, agenix's (rsa and ed25519) for /run/agenix.
  assert.deepEqual(r.manifest.keys, { ageKeyFiles: [], sshKeyPaths: ['/etc/ssh/ssh_host_ed25519_key'], gnupgHome: null, gnupgSshKeyPaths: ['/etc/ssh/ssh_host_rsa_key'] });
  assert.deepEqual(r.instanceManifests.agenix.keys.ageKeyFiles, ['/etc/ssh/ssh_host_rsa_key', '/etc/ssh/ssh_host_ed25519_key']);
  const target = r.targets['materialize-secrets'];
  assert.deepEqual(target.requisite, ['materialize-secrets.service', 'materialize-secrets-agenix.service']);
  assert.deepEqual(target.after, ['materialize-secrets.service', 'materialize-secrets-agenix.service']);
  assert.deepEqual(r.services.nginx.after, ['materialize-secrets.target'], 'a suffix-less unit is a service');
  assert.deepEqual(r.services.app.after, ['materialize-secrets.target']);
  // What the build checks (both manifests, on the store's copies): gnupgSshKeyPaths and "nginx" included.
  assert.match(r.manifestFile.buildCommand, /^\s*materialize check --skip-owners --skip-keys --config /m);
  for (const manifest of [r.manifest, r.instanceManifests.agenix]) {
    const checked = await buildCheck(realize(manifest, [join(SN, 'secrets.yaml'), join(AG, 'example/secret1.age')]));
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  }

  // Two directories cannot hold one manifest's generations.
  const clash = await evalModule('nixos', module([s(SOPS_COMPAT), s(AGENIX_COMPAT)], `
    services.openssh.enable = true;
    sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
    sops.secrets.test_key = { };
    age.secrets.x.file = ${P(join(AG, 'example/secret1.age'))};
    age.secretsDir = "/run/secrets";
  `));
  assert.deepEqual(clash.failedAssertions, ['materialize.secretsDir and materialize.instances.agenix.secretsDir are all /run/secrets; each needs its own directory.']);
});

test("home-manager: sops-nix's own home-manager check and agenix's user secrets, at the peers' paths", { skip: LIB_SKIP }, async () => {
  const r = await valid('home-manager', module([s(SOPS_HOME), s(AGENIX_HOME)], `
    home.username = "sops-user";
    home.homeDirectory = "/home/sops-user";
    sops.age.keyFile = "\${config.home.homeDirectory}/.age-key.txt";
    sops.secrets.test_key = { };
    sops.secrets.token = { key = "nested/test/file"; path = "%r/token"; };
    sops.templates."template.toml".content = ''
      password = "\${config.sops.placeholder.test_key}";
    '';
    sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
    age.identityPaths = options.age.identityPaths.default ++ [ "/home/sops-user/.ssh/this_key_wont_exist" ];
    age.secrets.secret2.file = ${P(join(AG, 'example/secret2.age'))};
    age.secrets.secret2Path = { file = ${P(join(AG, 'example/secret2.age'))}; path = "/home/sops-user/secret2"; };
    age.secrets.armored-secret.file = ${P(join(AG, 'example/armored-secret.age'))};
  `, '{ sops = lib.mapAttrs (_: x: x.path) config.sops.secrets; template = config.sops.templates."template.toml".path; age = lib.mapAttrs (_: x: x.path) config.age.secrets; }'));
  assert.deepEqual(r.probe, {
    sops: { test_key: '/home/sops-user/.config/sops-nix/secrets/test_key', token: '%r/token' },
    template: '/home/sops-user/.config/sops-nix/secrets/rendered/template.toml',
    age: { secret2: '${XDG_RUNTIME_DIR}/agenix/secret2', secret2Path: '/home/sops-user/secret2', 'armored-secret': '${XDG_RUNTIME_DIR}/agenix/armored-secret' },
  });
  const sops = r.instanceManifests['sops-nix'];
  assert.equal(sops.secretsDir, '/home/sops-user/.config/sops-nix/secrets');
  assert.equal(sops.mountPoint, '../secrets.d', 'sops-nix\'s %r/secrets.d: the runtime directory, relative to the copied manifest');
  assert.equal(sops.secrets.token.path, '../token');
  assert.deepEqual(sops.templates['rendered/template.toml'], { content: 'password = "{{test_key}}";\n', mode: '0400' });
  assert.deepEqual(sops.keys, { ageKeyFiles: ['/home/sops-user/.age-key.txt'], sshKeyPaths: [], gnupgHome: null });
  const age = r.instanceManifests.agenix;
  assert.deepEqual([age.secretsDir, age.mountPoint], ['../agenix', '../agenix.d']);
  assert.deepEqual(age.keys.ageKeyFiles, ['/home/sops-user/.ssh/id_ed25519', '/home/sops-user/.ssh/id_rsa', '/home/sops-user/.ssh/this_key_wont_exist']);
  assert.deepEqual(Object.keys(r.userServices).sort(), ['materialize-secrets-agenix', 'materialize-secrets-sops-nix']);
  assert.match(r.userServices['materialize-secrets-agenix'].Service.ExecStartPre, / %t\/materialize\/secrets-agenix\.json$/);
  assert.match(r.userServices['materialize-secrets-agenix'].Service.ExecStart, /apply --config %t\/materialize\/secrets-agenix\.json --boot --units yes --units-scope user /);
  assert.deepEqual(r.userTargets['materialize-secrets'].Unit.Requisite, ['materialize-secrets-agenix.service', 'materialize-secrets-sops-nix.service']);
  // The same intent through the main home-manager options gives the same agenix manifest.
  const direct = await valid('home-manager', module([s(join(REPO, 'nixos-module/home-manager.nix'))], `
    materialize = {
      secretsDir = "%t/agenix";
      mountPoint = "%t/agenix.d";
      age.keyFiles = [ "/home/alice/.ssh/id_ed25519" "/home/alice/.ssh/id_rsa" ];
      secrets.secret2.age.file = ${P(join(AG, 'example/secret2.age'))};
    };
  `));
  const plain = await valid('home-manager', module([s(AGENIX_HOME)], `age.secrets.secret2.file = ${P(join(AG, 'example/secret2.age'))};`));
  assert.deepEqual(plain.instanceManifests.agenix, direct.manifest);
});

test("home-manager agenix through the user unit's steps: agenix's test reads secret2 and armored-secret from the runtime directory", { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const runtime = join(dir, 'run-user-1000');
  const home = join(dir, 'home/user1');
  const r = await valid('home-manager', module([s(AGENIX_HOME)], `
    age.identityPaths = [ ${s(key(dir, join(AG, 'example_keys/user1')))} "${home}/.ssh/this_key_wont_exist" ];
    age.secrets.secret2.file = ${s(join(AG, 'example/secret2.age'))};
    age.secrets.secret2Path = { file = ${s(join(AG, 'example/secret2.age'))}; path = "${home}/secret2"; };
    age.secrets.armored-secret.file = ${s(join(AG, 'example/armored-secret.age'))};
  `));
  // ExecStartPre copies the manifest to %t/materialize/secrets-agenix.json; ExecStart applies it.
  mkdirSync(join(runtime, 'materialize'), { recursive: true });
  const copied = join(runtime, 'materialize/secrets-agenix.json');
  writeFileSync(copied, JSON.stringify(r.instanceManifests.agenix));
  const run = await runCli(['apply', '--json', '--units', 'no', '--config', copied]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readFileSync(join(runtime, 'agenix/secret2'), 'utf8').trim(), 'world!');
  assert.equal(readFileSync(join(runtime, 'agenix/armored-secret'), 'utf8').trim(), 'Hello World!');
  // As agenix links it: to the secret's own name in the secrets directory.
  assert.equal(readlinkSync(join(home, 'secret2')), join(runtime, 'agenix/secret2Path'));
  assert.equal(readFileSync(join(home, 'secret2'), 'utf8').trim(), 'world!');
  assert.equal(readlinkSync(join(runtime, 'agenix')), join(runtime, 'agenix.d/1'));
  assert.ok(lstatSync(join(runtime, 'agenix.d/1/secret2')).isFile());
});

test('what materialize cannot honour: an error or a warning that names the option', { skip: LIB_SKIP }, async () => {
  const sops = (body: string, kind: Kind = 'nixos') =>
    evalModule(kind, module([s(kind === 'nixos' ? SOPS_COMPAT : SOPS_HOME)], `
      sops.age.keyFile = "/var/lib/sops-nix/key.txt";
      sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
      sops.secrets.test_key = { };
      ${body}
    `));
  const fake = (name: string) => `{ type = "derivation"; name = "${name}"; outPath = "/nix/store/00000000000000000000000000000000-${name}"; }`;

  const plugins = await sops(`sops.age.plugins = [ ${fake('age-plugin-yubikey')} ];`);
  assert.deepEqual(plugins.failedAssertions, [
    'sops.age.plugins is not supported by materialize: it decrypts age natively and cannot run age plugins (age-plugin-yubikey), so secrets encrypted only to plugin recipients (YubiKey, TPM, …) could not be opened. Remove sops.age.plugins and add a key materialize can use (sops.age.keyFile, sops.age.sshKeyPaths, sops.gnupg.home).',
  ]);

  const warned = await sops(`
    sops.age.generateKey = true;
    sops.log = [ "secretChanges" ];
    sops.environment = { SOPS_GPG_EXEC = "/bin/gpg2"; HOME = "/root"; };
    sops.package = ${fake('sops-install-secrets')};
    sops.validationPackage = ${fake('sops-install-secrets')};
    sops.gnupg.package = ${fake('gnupg')};
  `);
  assert.deepEqual(warned.failedAssertions, []);
  assert.deepEqual(warned.warnings, [
    'sops.age.generateKey is not honoured by materialize: no key is generated, so /var/lib/sops-nix/key.txt must exist before the secrets are applied (create it with `age-keygen -o /var/lib/sops-nix/key.txt` when you install the machine and add its public key to .sops.yaml).',
    'sops.log is not honoured by materialize: every run logs its keys and changes (names, never values) to the journal (journalctl -u materialize-secrets).',
    'sops.environment is not honoured by materialize (HOME, SOPS_GPG_EXEC): it runs no sops or gpg process to pass them to; give keys with sops.age.keyFile, sops.age.sshKeyPaths or sops.gnupg.home.',
    'sops.package is not honoured by materialize: materialize.package applies and checks the secrets.',
    'sops.validationPackage is not honoured by materialize: materialize.package applies and checks the secrets.',
    'sops.gnupg.package is not honoured by materialize: gpg comes from the nixpkgs materialize is built with.',
  ]);
  // The defaults warn about nothing.
  assert.deepEqual((await sops('')).warnings, []);

  const qubes = await sops('sops.gnupg.qubes-split-gpg = { enable = true; domain = "vault-gpg"; };', 'home-manager');
  assert.deepEqual(qubes.failedAssertions, [
    'sops.gnupg.qubes-split-gpg is not supported by materialize: it runs gpg itself with sops.gnupg.home and cannot reach a key held in another Qube. Use sops.gnupg.home or an age key (sops.age.keyFile).',
  ]);
  assert.match((await sops('sops.age.generateKey = true;', 'home-manager')).warnings.join('\n'), /^sops\.age\.generateKey is not honoured by materialize/);

  // sops-nix's own assertions, with its words.
  const nokey = await evalModule('nixos', module([s(SOPS_COMPAT)], `sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))}; sops.secrets.test_key = { };`));
  assert.ok(nokey.failedAssertions.includes('No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home'));
  const both = await sops('sops.secrets.x = { owner = "alice"; uid = 1000; };');
  assert.deepEqual(both.failedAssertions, ['In x exactly one of sops.owner and sops.uid must be set']);
  const users = await sops('sops.secrets.pw = { neededForUsers = true; owner = "alice"; };');
  assert.ok(users.failedAssertions.includes('neededForUsers cannot be used for secrets that are not root-owned'));
  const names = await sops('sops.secrets.a = { name = "test_key"; };');
  assert.deepEqual(names.failedAssertions, ['sops.secrets: a and test_key are all named "test_key"; each needs its own name.']);
  // A sops-nix placeholder in a template of the materialize module would stay text: refused.
  const mixed = await sops('materialize.templates.direct.content = "X=\${config.sops.placeholder.test_key}";');
  assert.deepEqual(mixed.failedAssertions, [
    'materialize.templates.direct uses config.sops.placeholder, which only sops.templates translate: use config.materialize.placeholder.<name> there, or move the template to sops.templates.',
  ]);

  const age = (body: string, kind: Kind = 'nixos', identities = '[ "/etc/ssh/ssh_host_ed25519_key" ]') =>
    evalModule(kind, module([s(kind === 'nixos' ? AGENIX_COMPAT : AGENIX_HOME)], `
      age.identityPaths = ${identities};
      age.secrets.x.file = ${P(join(AG, 'example/secret1.age'))};
      ${body}
    `));
  assert.deepEqual((await age('age.ageBin = "/run/current-system/sw/bin/rage";')).warnings, [
    'age.ageBin is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins).',
  ]);
  assert.deepEqual((await age(`age.package = ${fake('rage')};`, 'home-manager')).warnings, [
    'age.package is not honoured by materialize: it decrypts age files itself (X25519, ssh-ed25519 and ssh-rsa identities; no age plugins).',
  ]);
  assert.deepEqual((await age('age.secrets.x.mode = "u=r,g=r";')).failedAssertions, [
    'age.secrets.x.mode is "u=r,g=r": materialize takes an octal mode ("0400", "0440"), not chmod\'s symbolic form.',
  ]);
  assert.deepEqual((await age('', 'nixos', '[ ]')).failedAssertions, ['age.identityPaths must be set, for example by enabling openssh.']);
  assert.deepEqual((await age(`age.secrets.y = { file = ${P(join(AG, 'example/secret2.age'))}; name = "x"; };`)).failedAssertions, [
    'age.secrets: x and y are all named "x"; each needs its own name.',
  ]);
  // A password file among user-owned secrets: the early run may fail on a fresh system — said once.
  const early = await age(`
    age.secrets.pw.file = ${P(join(AG, 'example/passwordfile-user1.age'))};
    age.secrets.x.owner = "alice";
    users.users.alice = { group = "users"; hashedPasswordFile = config.age.secrets.pw.path; };
  `);
  assert.deepEqual(early.warnings, [
    'age.secrets: pw is a password file, so /run/agenix is also applied before users are created. Where the users and groups that own its other secrets do not exist yet (the first boot of a fresh image), that early run fails (exit 78, logged) and the password is only set at the next activation. Numeric owners and groups avoid it.',
  ]);
});

test('the materialize options the compatibility modules map onto: symlink, template file, gnupg.sshKeyPaths, suffix-less units', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const tmpl = join(dir, 'app.tmpl');
  writeFileSync(tmpl, 'X={{x}}\n');
  const r = await valid('nixos', module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      validateSecrets = false;
      gnupg.sshKeyPaths = [ "/etc/ssh/ssh_host_rsa_key" ];
      secrets.x = { age.file = ${P(join(AG, 'example/secret1.age'))}; path = "/var/lib/app/x"; symlink = false; restartUnits = [ "app" "web@1" "db.socket" ]; };
      secrets.y = { age.file = ${P(join(AG, 'example/secret1.age'))}; symlink = false; };
      templates.t = { file = ${s(tmpl)}; path = "/etc/app.conf"; symlink = false; };
    };
  `));
  assert.deepEqual(r.manifest.keys, { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null, gnupgSshKeyPaths: ['/etc/ssh/ssh_host_rsa_key'] });
  assert.equal(r.manifest.secrets.x.symlink, false);
  assert.equal(r.manifest.secrets.y.symlink, undefined, 'no path, nothing to copy');
  assert.deepEqual(r.manifest.templates.t, { file: tmpl, mode: '0400', path: '/etc/app.conf', symlink: false });
  assert.deepEqual(Object.keys(r.services).filter((n) => !n.startsWith('materialize')), ['app'], 'app is app.service; a template instance and a socket are left alone');
  assert.ok(r.services['materialize-secrets'].path.some((p: string) => p.endsWith('-gnupg')), 'gpg imports the SSH key');

  const bad = await evalModule('nixos', module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      age.keyFile = "/k";
      templates.none = { };
      templates.both = { content = "a"; file = ${P(tmpl)}; };
      templates.outside.file = "/etc/app.tmpl";
    };
  `));
  assert.deepEqual(bad.failedAssertions, [
    'materialize.templates."both" needs exactly one of content and file.',
    'materialize.templates."none" needs exactly one of content and file.',
    'materialize.templates."outside": /etc/app.tmpl is not in the Nix store, so it cannot be checked at build time. Use a path (./app.conf.tmpl) instead of a string, or set materialize.validateSecrets = false.',
  ]);
});

test('the materialize options the compatibility modules map onto: the build-time check accepts the manifests they give, and refuses a mistake in them', { skip: LIB_SKIP }, async () => {
  const dir = scratch();
  const tmpl = join(dir, 'app.tmpl');
  writeFileSync(tmpl, 'X={{x}}\n');
  const config = (units: string) => module([s(join(REPO, 'nixos-module'))], `
    materialize = {
      gnupg.sshKeyPaths = [ "/etc/ssh/ssh_host_rsa_key" ];
      secrets.x = { age.file = ${P(join(AG, 'example/secret1.age'))}; path = "/var/lib/app/x"; symlink = false; restartUnits = ${units}; };
      templates.t = { file = ${P(tmpl)}; path = "/etc/app.conf"; symlink = false; reloadUnits = [ "app" ]; };
    };
  `);
  const r = await valid('nixos', config('[ "app" "web@1" "db.socket" ]'));
  // validateSecrets (the default): the manifest's derivation runs the check, on the store's copies.
  assert.match(r.manifestFile.buildCommand, /^\s*materialize check --skip-owners --skip-keys --config \/nix\/store\//m);
  const sources = [join(AG, 'example/secret1.age'), tmpl];
  const manifest = realize(r.manifest, sources);
  assert.deepEqual(manifest.keys.gnupgSshKeyPaths, ['/etc/ssh/ssh_host_rsa_key']);
  assert.deepEqual([manifest.secrets.x.symlink, manifest.templates.t.symlink, manifest.templates.t.file], [false, false, tmpl]);
  const ok = await buildCheck(manifest);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual([ok.report.secrets, ok.report.templates, ok.report.providers], [1, 1, ['age']]);

  // The same check is not a formality: a typo in a unit type, or a template file gone, fails the build.
  const typo = await buildCheck(realize((await valid('nixos', config('[ "app.servce" ]'))).manifest, sources));
  assert.equal(typo.code, 78);
  assert.deepEqual(typo.report.issues.map((i: any) => i.path), ['secrets.x.restartUnits[0]']);
  const gone = await buildCheck({ ...manifest, templates: { t: { ...manifest.templates.t, file: join(dir, 'missing.tmpl') } } });
  assert.equal(gone.code, 78, gone.stdout + gone.stderr);
  assert.match(JSON.stringify(gone.report.issues), /templates\.t\.file/);

  // home-manager: the same fields through the compatibility modules' user instances (manifests
  // whose directories are relative to where the unit copies them), translated template included.
  const hmTmpl = join(dir, 'hm.tmpl');
  writeFileSync(hmTmpl, `X=${placeholder('test_key')}\n`);
  const hm = await valid('home-manager', module([s(SOPS_HOME), s(AGENIX_HOME)], `
    home.username = "alice";
    home.homeDirectory = "/home/alice";
    sops.age.keyFile = "/home/alice/.age-key.txt";
    sops.gnupg.sshKeyPaths = [ "/home/alice/.ssh/id_rsa" ];
    sops.defaultSopsFile = ${P(join(SN, 'secrets.yaml'))};
    sops.secrets.test_key = { };
    sops.templates."app.conf".file = ${P(hmTmpl)};
    age.secrets.s = { file = ${P(join(AG, 'example/secret1.age'))}; path = "/home/alice/.config/app/s"; symlink = false; };
  `, '{ build = config.materialize.instances.sops-nix.templates."rendered/app.conf".file.buildCommand; }'));
  const sopsNix = hm.instanceManifests['sops-nix'];
  assert.deepEqual([sopsNix.keys.gnupgSshKeyPaths, hm.instanceManifests.agenix.secrets.s.symlink], [['/home/alice/.ssh/id_rsa'], false]);
  const translated = join(dir, 'hm-translated');
  execFileSync('bash', ['-euc', realize(hm.probe.build as string, [hmTmpl])], { env: { ...process.env, out: translated } });
  assert.equal(readFileSync(translated, 'utf8'), 'X={{test_key}}\n');
  for (const m of [realize(sopsNix, [join(SN, 'secrets.yaml')], { [sopsNix.templates['rendered/app.conf'].file]: translated }), realize(hm.instanceManifests.agenix, sources)]) {
    const checked = await buildCheck(m);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  }
});

test('the flakes expose the compatibility modules (also under the peers\' names, for a one-line input swap), each loading the materialize module once', { skip: LIB_SKIP }, async () => {
  const result = (await evalExpr(`
    let
      flake = import ./flake.nix;
      nixpkgs = { lib = import (builtins.getEnv "NIXPKGS_LIB"); legacyPackages = { }; };
      self = flake.outputs { inherit self nixpkgs; };
    in {
      nixos = builtins.mapAttrs (_: toString) self.nixosModules;
      home = builtins.mapAttrs (_: toString) self.homeManagerModules;
    }
  `)) as any;
  assert.deepEqual(result.nixos, {
    default: join(REPO, 'nixos-module'),
    materialize: join(REPO, 'nixos-module'),
    'sops-nix-compat': SOPS_COMPAT,
    'agenix-compat': AGENIX_COMPAT,
    'opnix-compat': join(REPO, 'nixos-module/opnix-compat.nix'),
  });
  assert.deepEqual(result.home, {
    default: join(REPO, 'nixos-module/home-manager.nix'),
    materialize: join(REPO, 'nixos-module/home-manager.nix'),
    'sops-nix-compat': SOPS_HOME,
    'agenix-compat': AGENIX_HOME,
  });
  // The flakes for a one-line input swap: the peers' own module names, the same module files.
  const swaps = (await evalExpr(`
    let outputs = dir: let flake = import (./nixos-module/compat + "/\${dir}/flake.nix"); self = flake.outputs { inherit self; }; in self;
    in {
      sops = let o = outputs "sops-nix"; in { nixos = builtins.mapAttrs (_: toString) o.nixosModules; home = builtins.mapAttrs (_: toString) o.homeManagerModules; legacy = toString o.homeManagerModule; homeModules = toString o.homeModules.sops; inputs = (import ./nixos-module/compat/sops-nix/flake.nix).inputs or { }; };
      agenix = let o = outputs "agenix"; in { nixos = builtins.mapAttrs (_: toString) o.nixosModules; home = builtins.mapAttrs (_: toString) o.homeManagerModules; inputs = (import ./nixos-module/compat/agenix/flake.nix).inputs or { }; };
    }
  `)) as any;
  assert.deepEqual(swaps.sops, {
    nixos: { sops: SOPS_COMPAT, default: SOPS_COMPAT },
    home: { sops: SOPS_HOME, default: SOPS_HOME },
    legacy: SOPS_HOME,
    homeModules: SOPS_HOME,
    inputs: {},
  });
  assert.deepEqual(swaps.agenix, { nixos: { age: AGENIX_COMPAT, default: AGENIX_COMPAT }, home: { age: AGENIX_HOME, default: AGENIX_HOME }, inputs: {} });

  // Imported beside the flake's default module (and twice over), the options are declared once.
  const r = await valid('home-manager', module([s(join(REPO, 'nixos-module/home-manager.nix')), s(SOPS_HOME), s(AGENIX_HOME)], ''));
  assert.deepEqual(r.instanceManifests, {});
});

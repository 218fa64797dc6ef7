// What the system test installs in the container: the built program and a Node binary where the
// README's "Other distributions" puts them, age files made with the real `age` CLI (the demo's key),
// a secrets.json, the materialize units — rendered from the NixOS module's evaluation where
// NIXPKGS_LIB is set, else the portable files of contrib/systemd — and consumer units.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { portableUnits, CONTRIB } from '../../scripts/units.mjs';
import { REPO } from '../helpers/cli.js';
import { seededHex, seededRandom } from '../helpers/random.js';
import { LIB_SKIP, evalModule, nixString } from '../nixos/nix.js';
import type { Container } from './container.js';
import { homeManagerUnit, nixosTimer, nixosUnit, parseUnit, renderSections, type Sections } from './units.js';

export const KEY = join(REPO, 'demo/keys/demo.agekey');
const RECIPIENT = /public key: (age1\w+)/.exec(readFileSync(KEY, 'utf8'))![1]!;
export const PROGRAM = '/usr/local/bin/materialize';
export const CONFIG = '/etc/materialize/secrets.json';
export const SOURCES = '/etc/materialize/secrets';
const HOST_KEY = '/var/lib/materialize/age.key';
export const NAMED = 'app';
export const NUMERIC = 61234; // no passwd entry: a DynamicUser= service, a container's uid
export const USER = 'alice';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every plaintext the test made: the journal is searched for each. */
export const values = new Set<string>();
const random = seededRandom(8);
/** A fresh, distinctive test value. */
export function newValue(label: string): string {
  const v = `${label}-${seededHex(random, 12)}`;
  values.add(v);
  return v;
}

/** An age file of `value` (the real age CLI, the demo key's recipient), written into the container. */
export function ageFile(root: string, path: string, value: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  execFileSync('age', ['-r', RECIPIENT, '-o', join(root, path)], { input: value });
}

export interface SecretSpec {
  /** age files, or (the network scenario) a Bitwarden Secrets Manager secret. */
  sources: ({ age: { file: string } } | { bitwarden: { secret: string } })[];
  owner?: string | number;
  group?: string | number;
  mode?: string;
  path?: string;
  restartUnits?: string[];
  reloadUnits?: string[];
}

export interface Manifest {
  secrets: Record<string, SecretSpec>;
  /** `providers` of secrets.json (the network scenario's Bitwarden server and token). */
  providers?: Record<string, Record<string, unknown>>;
  templates?: Record<string, { content: string; owner?: string; mode?: string; restartUnits?: string[] }>;
  keepGenerations?: number;
}

/** The units materialize-secrets.{service,target} come from: the NixOS module, or contrib/systemd. */
export type UnitSource = 'nixos' | 'portable';
export const UNIT_SOURCE: UnitSource = LIB_SKIP ? 'portable' : 'nixos';

/** JSON as a Nix expression. */
function toNix(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return nixString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[ ${v.map(toNix).join(' ')} ]`;
  return `{ ${Object.entries(v as object).map(([k, x]) => `${nixString(k)} = ${toNix(x)};`).join(' ')} }`;
}

const STORE_PATH = /\/nix\/store\/[0-9a-z]{32}-[^/\s:"]+/g;

export class World {
  execStart = '';
  private evaluated = 0;

  constructor(readonly c: Container) {}

  get root(): string {
    return this.c.root;
  }

  /** The program, Node, the key, users and the consumer units (once; they survive reboots). */
  installBase(node: string): void {
    const r = this.root;
    mkdirSync(join(r, 'usr/local/lib/materialize'), { recursive: true });
    cpSync(join(REPO, 'dist'), join(r, 'usr/local/lib/materialize/dist'), { recursive: true });
    rmSync(join(r, PROGRAM), { force: true });
    symlinkSync('../lib/materialize/dist/cli.js', join(r, PROGRAM));
    copyFileSync(node, join(r, 'usr/local/bin/node'));
    chmodSync(join(r, 'usr/local/bin/node'), 0o755);
    mkdirSync(dirname(join(r, HOST_KEY)), { recursive: true, mode: 0o700 });
    copyFileSync(KEY, join(r, HOST_KEY));
    chmodSync(join(r, HOST_KEY), 0o600);
    // Consumers write what they saw here (a hash, never a value), named by their invocation.
    writeFileSync(join(r, 'etc/tmpfiles.d/observed.conf'), 'd /run/observed 1777 root root -\n');
    // Users exist before the first boot, as on any installed system (the unit runs before sysinit.target).
    execFileSync('chroot', [r, 'sh', '-ec', `id ${NAMED} >/dev/null 2>&1 || useradd --system --user-group --no-create-home ${NAMED}; id ${USER} >/dev/null 2>&1 || useradd --create-home --user-group ${USER}`]);
    // The consumers, enabled as `systemctl enable` does.
    mkdirSync(join(r, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    for (const [name, text] of Object.entries(consumers())) {
      writeFileSync(join(r, 'etc/systemd/system', name), text);
      rmSync(join(r, 'etc/systemd/system/multi-user.target.wants', name), { force: true });
      symlinkSync(`../${name}`, join(r, 'etc/systemd/system/multi-user.target.wants', name));
    }
  }

  /** Writes the secrets.json and the units that apply it; daemon-reload when booted. */
  async configure(manifest: Manifest): Promise<void> {
    const full = { version: 1, keys: { ageKeyFiles: [HOST_KEY] }, ...manifest };
    const dir = join(this.root, 'etc/systemd/system');
    let service: string;
    let target: string;
    let refresh: { service: string; timer: string } | undefined;
    const usesNetwork = Object.values(manifest.secrets).some((x) => x.sources.some((source) => 'bitwarden' in source));
    if (UNIT_SOURCE === 'portable') {
      mkdirSync(dirname(join(this.root, CONFIG)), { recursive: true });
      writeFileSync(join(this.root, CONFIG), JSON.stringify(full, null, 2));
      const files = portableUnits();
      service = files[`${CONTRIB}/materialize-secrets.service`]!;
      target = files[`${CONTRIB}/materialize-secrets.target`]!;
      // The refresh units are installed by those who use network sources (README).
      if (usesNetwork) refresh = { service: files[`${CONTRIB}/materialize-secrets-refresh.service`]!, timer: files[`${CONTRIB}/materialize-secrets-refresh.timer`]! };
    } else {
      const r = await evalModule('nixos', `{ ... }: { materialize = {
        validateSecrets = false;
        age.keyFile = ${nixString(HOST_KEY)};
        keepGenerations = ${manifest.keepGenerations ?? 1};
        secrets = ${toNix(manifest.secrets)};
        templates = ${toNix(manifest.templates ?? {})};
        providers = ${toNix(manifest.providers ?? {})};
      }; }`);
      if (r.failedAssertions.length) throw new Error(`the module refused the configuration: ${r.failedAssertions.join('\n')}`);
      const u = r.services['materialize-secrets'];
      const path = [...u.path.map((p: string) => `${p}/bin`), ...u.path.map((p: string) => `${p}/sbin`)].join(':');
      service = renderSections(nixosUnit('service', u, path), [`Rendered from the NixOS module's evaluation (${++this.evaluated})`]);
      target = renderSections(nixosUnit('target', r.targets['materialize-secrets']), ["Rendered from the NixOS module's evaluation"]);
      // With a network source, the refresh service and its timer (test/nixos/network.test.ts).
      const refreshUnit = r.services['materialize-secrets-refresh'];
      if (refreshUnit) {
        refresh = {
          service: renderSections(nixosUnit('service', refreshUnit, path), ["Rendered from the NixOS module's evaluation"]),
          timer: renderSections(nixosTimer(r.timers['materialize-secrets-refresh']), ["Rendered from the NixOS module's evaluation"]),
        };
      }
      this.materializeStorePaths(`${service}\n${target}\n${refresh?.service ?? ''}`, { [r.manifestFile.path]: JSON.stringify(r.manifest, null, 2) });
    }
    writeFileSync(join(dir, 'materialize-secrets.service'), service);
    writeFileSync(join(dir, 'materialize-secrets.target'), target);
    this.execStart = parseUnit(service).Service!.ExecStart![0]!;
    const units: [string, string][] = [['materialize-secrets.service', service], ['materialize-secrets.target', target]];
    for (const name of ['materialize-secrets-refresh.service', 'materialize-secrets-refresh.timer']) {
      rmSync(join(dir, name), { force: true });
      rmSync(join(dir, 'timers.target.wants', name), { force: true });
    }
    if (refresh) {
      writeFileSync(join(dir, 'materialize-secrets-refresh.service'), refresh.service);
      writeFileSync(join(dir, 'materialize-secrets-refresh.timer'), refresh.timer);
      units.push(['materialize-secrets-refresh.timer', refresh.timer]);
    }
    const wants = (unit: Sections) => unit.Install?.WantedBy?.[0]?.split(' ') ?? [];
    // `systemctl enable` as users of the portable files do (NixOS makes the same .wants links), after
    // `disable`: a link left from an earlier configuration (the target wanted by sysinit.target,
    // early boot) would order the target before a unit that now runs after sysinit.target — a cycle.
    for (const entry of readdirSync(dir)) {
      if (!entry.endsWith('.wants')) continue;
      for (const name of ['materialize-secrets.service', 'materialize-secrets.target', 'materialize-secrets-refresh.timer']) rmSync(join(dir, entry, name), { force: true });
    }
    for (const [name, text] of units) {
      for (const t of wants(parseUnit(text))) {
        mkdirSync(join(dir, `${t}.wants`), { recursive: true });
        rmSync(join(dir, `${t}.wants`, name), { force: true });
        symlinkSync(`../${name}`, join(dir, `${t}.wants`, name));
      }
    }
    if (this.c.init) await this.c.sh('systemctl daemon-reload');
  }

  /**
   * Store paths named by rendered units, made real in the container: the manifests (given), the
   * package (a directory whose bin/materialize is the installed program), and tools (util-linux,
   * getent, systemd, coreutils: Debian's, in /usr).
   */
  materializeStorePaths(text: string, files: Record<string, string>): void {
    for (const path of new Set(text.match(STORE_PATH) ?? [])) {
      const at = join(this.root, path);
      if (existsSync(at)) continue;
      mkdirSync(dirname(at), { recursive: true });
      if (files[path] !== undefined) writeFileSync(at, files[path]!);
      else if (/-materialize(-default-package)?$/.test(path)) {
        // As buildNpmPackage's wrapper: Node named by its path (a unit's PATH has no /usr/local/bin).
        mkdirSync(join(at, 'bin'), { recursive: true });
        writeFileSync(join(at, 'bin/materialize'), `#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/materialize/dist/cli.js "$@"\n`, { mode: 0o755 });
      } else symlinkSync('/usr', at);
    }
  }

  /** The home-manager-style user units for `USER`, from the home-manager module or contrib/systemd/user. */
  async configureUser(manifest: Manifest, uid: number): Promise<string[]> {
    const home = join(this.root, 'home', USER);
    const unitDir = join(home, '.config/systemd/user');
    mkdirSync(unitDir, { recursive: true });
    const full = { version: 1, secretsDir: '../secrets', mountPoint: '../secrets.d', mount: 'none', keys: { ageKeyFiles: [`/home/${USER}/.config/materialize/age.key`] }, ...manifest };
    let service: string;
    let target: string;
    if (UNIT_SOURCE === 'portable') {
      mkdirSync(join(home, '.config/materialize'), { recursive: true });
      writeFileSync(join(home, '.config/materialize/secrets.json'), JSON.stringify(full, null, 2));
      const files = portableUnits();
      service = files[`${CONTRIB}/user/materialize-secrets.service`]!;
      target = files[`${CONTRIB}/user/materialize-secrets.target`]!;
    } else {
      const r = await evalModule('home-manager', `{ ... }: {
        home.username = ${nixString(USER)}; home.homeDirectory = ${nixString(`/home/${USER}`)};
        materialize = {
          validateSecrets = false;
          age.keyFile = ${nixString(full.keys.ageKeyFiles[0]!)};
          secrets = ${toNix(manifest.secrets)};
        };
      }`);
      if (r.failedAssertions.length) throw new Error(`the module refused the configuration: ${r.failedAssertions.join('\n')}`);
      service = renderSections(homeManagerUnit(r.userServices['materialize-secrets']), ["Rendered from the home-manager module's evaluation"]);
      target = renderSections(homeManagerUnit(r.userTargets['materialize-secrets']), ["Rendered from the home-manager module's evaluation"]);
      this.materializeStorePaths(`${service}\n${target}`, { [r.manifestFile.path]: JSON.stringify(r.manifest, null, 2) });
    }
    writeFileSync(join(unitDir, 'materialize-secrets.service'), service);
    writeFileSync(join(unitDir, 'materialize-secrets.target'), target);
    writeFileSync(join(unitDir, 'user-consumer.service'), USER_CONSUMER);
    mkdirSync(join(home, '.config/materialize'), { recursive: true });
    copyFileSync(KEY, join(home, '.config/materialize/age.key'));
    chmodSync(join(home, '.config/materialize/age.key'), 0o600);
    // As `systemctl --user enable` makes them.
    const wants = join(unitDir, 'default.target.wants');
    mkdirSync(wants, { recursive: true });
    for (const name of ['materialize-secrets.service', 'materialize-secrets.target', 'user-consumer.service']) {
      rmSync(join(wants, name), { force: true });
      symlinkSync(`../${name}`, join(wants, name));
    }
    const chownAll = (path: string) => execFileSync('chown', ['-R', `${uid}:${uid}`, path]);
    chownAll(join(home, '.config'));
    if (existsSync(join(home, 'secrets'))) chownAll(join(home, 'secrets'));
    return [service, target];
  }
}

const consumer = (description: string, service: Record<string, string>) =>
  renderSections(
    {
      Unit: { Description: [description], Wants: ['materialize-secrets.target'], After: ['materialize-secrets.target'] },
      Service: Object.fromEntries(Object.entries(service).map(([k, v]) => [k, [v]])),
      Install: { WantedBy: ['multi-user.target'] },
    },
    ['A consumer for the system test: it writes the hash of what it read to /run/observed/<unit>.<invocation>.'],
  );
// `$$` is a literal `$` for the shell (systemd expands $X in ExecStart itself), `%%` a literal `%`.
const observe = (unit: string, from: string) => `/bin/sh -c 'sha256sum < ${from} | cut -c1-64 > /run/observed/${unit}.$$INVOCATION_ID; exec sleep infinity'`;

/** The consumer units: each reads its secret one way, and is listed (or not) in restartUnits/reloadUnits. */
export function consumers(): Record<string, string> {
  return {
    // EnvironmentFile= of a rendered template.
    'consumer-env.service': consumer('reads DB_PASSWORD from the template app.env', {
      User: NAMED,
      EnvironmentFile: '/run/secrets/app.env',
      ExecStart: `/bin/sh -c 'printf %%s "$$DB_PASSWORD" | sha256sum | cut -c1-64 > /run/observed/consumer-env.$$INVOCATION_ID; exec sleep infinity'`,
    }),
    // A custom path (a symlink that follows every generation), read by the named owner.
    'consumer-path.service': consumer('reads /etc/app/api-key', { User: NAMED, ExecStart: observe('consumer-path', '/etc/app/api-key') }),
    // DynamicUser= through LoadCredential=: systemd copies the file, whatever its owner.
    'consumer-cred.service': consumer('reads worker/token through LoadCredential=', {
      DynamicUser: 'yes',
      LoadCredential: 'token:/run/secrets/worker/token',
      ReadWritePaths: '/run/observed',
      ExecStart: observe('consumer-cred', '"$${CREDENTIALS_DIRECTORY}/token"'),
    }),
    // Reloaded, not restarted: ExecReload records each reload.
    'consumer-reload.service': consumer('reads tls/cert and re-reads it on reload', {
      ExecStart: observe('consumer-reload', '/run/secrets/tls/cert'),
      ExecReload: `/bin/sh -c 'sha256sum < /run/secrets/tls/cert | cut -c1-64 > /run/observed/consumer-reload.$$INVOCATION_ID; echo reload >> /run/observed/consumer-reload.reloads'`,
    }),
    // Listed nowhere: must never be restarted.
    'consumer-bystander.service': consumer('reads static, listed in no restartUnits', { ExecStart: observe('consumer-bystander', '/run/secrets/static') }),
  };
}

/** The network scenario's consumer: reads the Bitwarden secret `bw/token`, restarted when it changes. */
export const NETWORK_CONSUMER = consumer('reads bw/token, a Bitwarden Secrets Manager secret', { ExecStart: observe('consumer-bw', '/run/secrets/bw/token') });

const USER_CONSUMER = renderSections(
  {
    Unit: { Description: ['a user service reading a user secret'], Wants: ['materialize-secrets.target'], After: ['materialize-secrets.target'] },
    Service: { ExecStart: [`/bin/sh -c 'sha256sum < %t/secrets/user/token | cut -c1-64 > %t/observed.$$INVOCATION_ID; exec sleep infinity'`] },
    Install: { WantedBy: ['default.target'] },
  },
  ['A user consumer for the system test.'],
);

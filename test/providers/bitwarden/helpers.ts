// Worlds for the Bitwarden tests: a local Bitwarden server (test/helpers/bitwarden/server.ts), token
// and password files with the modes the program demands, a secrets.json whose `providers.bitwarden`
// points at the server, and a watcher that reads /proc/*/cmdline of every process while a run goes
// on, to prove that no token or password ever reaches a child's argv.
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO, registerSecretValues, type CliOptions } from '../../helpers/cli.js';
import { applyJson, makeWorld, writeConfig, type ApplyJson, type World } from '../../helpers/fixtures.js';
import { BitwardenTestServer, type UserOptions } from '../../helpers/bitwarden/server.js';
import { testCert } from '../../helpers/bitwarden/cert.js';
import { seededHex, seededRandom } from '../../helpers/random.js';

/** The real `bw` CLI, pinned in devDependencies (@bitwarden/cli). */
export const BW = join(REPO, 'node_modules/.bin/bw');

export interface BitwardenWorld extends World {
  server: BitwardenTestServer;
  appDataDir: string;
  accessToken: string;
  accessTokenFile: string;
  clientSecretFile: string;
  passwordFile: string;
  /** `providers.bitwarden` for this world, with overrides. */
  settings(overrides?: Record<string, unknown>): Record<string, unknown>;
}

// Why registered: the test then searches every output of the run for each value it made.
/** A maker of distinctive values, `<label>-<20 seeded hex digits>` from `seed`, each registered as a secret. */
export function secretValues(seed: number): (label: string) => string {
  const random = seededRandom(seed);
  return (label) => {
    const v = `${label}-${seededHex(random, 10)}`;
    registerSecretValues(v);
    return v;
  };
}

/** Writes `content` to a new file with `mode` (0600 by default) and returns its path. */
export function privateFile(dir: string, name: string, content: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, content, { mode });
  chmodSync(file, mode);
  return file;
}

/** A server, its credentials in private files, and a world (temp dir, secrets dir) around them. */
export async function bitwardenWorld(t: TestContext, options: UserOptions & { seed?: number } = {}): Promise<BitwardenWorld> {
  const world = makeWorld(t, 'materialize-bw-');
  const server = await BitwardenTestServer.start(options);
  t.after(() => server.stop());
  const accessToken = server.accessToken();
  registerSecretValues(accessToken, server.password, server.clientSecret);
  const creds = join(world.dir, 'creds');
  mkdirSync(creds, { mode: 0o700 });
  const appDataDir = join(world.dir, 'bw-data');
  const files = {
    accessTokenFile: privateFile(creds, 'sm-token', `${accessToken}\n`),
    clientSecretFile: privateFile(creds, 'client-secret', `${server.clientSecret}\n`),
    passwordFile: privateFile(creds, 'master-password', `${server.password}\n`),
  };
  return {
    ...world,
    server,
    appDataDir,
    accessToken,
    ...files,
    settings: (overrides = {}) => ({
      server: server.url,
      caFile: testCert().certFile,
      accessTokenFile: files.accessTokenFile,
      clientId: server.clientId,
      clientSecretFile: files.clientSecretFile,
      passwordFile: files.passwordFile,
      appDataDir,
      bw: BW,
      timeout: 60,
      ...overrides,
    }),
  };
}

/** secrets.json with these secrets and `providers.bitwarden` (plus any other providers). */
export function configure(world: BitwardenWorld, secrets: Record<string, unknown>, settings: Record<string, unknown> = world.settings(), extra: Record<string, unknown> = {}): void {
  writeConfig(world, { providers: { bitwarden: settings }, secrets, ...extra });
}

export const bw = (source: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ sources: [{ bitwarden: source }], ...extra });

export interface ArgvWatch {
  /** Stops sampling; says how many samples were taken, which programs were seen, and any leak. */
  stop(): { samples: number; seen: Set<string>; leaks: string[] };
}

/** Samples /proc/*\/cmdline every few milliseconds; any of `values` in an argv is a leak. */
export function watchArgv(values: readonly string[]): ArgvWatch {
  const seen = new Set<string>();
  const leaks: string[] = [];
  let samples = 0;
  const sample = () => {
    samples++;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      let argv: string;
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      } catch {
        continue;
      }
      const words = argv.split('\0');
      for (const w of words.slice(0, 3)) seen.add(w.split('/').pop()!);
      const joined = words.join(' ');
      if (words[2] !== undefined && joined.includes('bw')) seen.add(`bw ${words.slice(2, 4).join(' ')}`.trim());
      for (const v of values) if (v.length >= 4 && argv.includes(v)) leaks.push(`pid ${pid}: argv holds a secret (${v.length} chars)`);
      // bw accepts the session key as `--session <key>` too; ours must only ever travel in BW_SESSION.
      if (words.includes('--session') || words.some((w) => w.startsWith('--session='))) leaks.push(`pid ${pid}: a session key in argv`);
    }
  };
  const timer = setInterval(sample, 15);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { samples, seen, leaks };
    },
  };
}

/** `apply --json` with the argv watch running; the watch's findings come back with the report. */
export async function applyWatched(world: BitwardenWorld, values: readonly string[], args: string[] = [], options: CliOptions = {}): Promise<{ code: number | null; report: ApplyJson; stderr: string; argv: ReturnType<ArgvWatch['stop']> }> {
  const watch = watchArgv(values);
  try {
    const r = await applyJson(world, args, { timeoutMs: 300_000, ...options });
    return { ...r, argv: watch.stop() };
  } catch (error) {
    watch.stop();
    throw error;
  }
}

/** The text of a published secret. */
export const published = (world: World, name: string) => readFileSync(join(world.secretsDir, name));

/** Failure messages of a report, by secret name. */
export function failures(report: ApplyJson): Record<string, { kind: string; message: string }[]> {
  const out: Record<string, { kind: string; message: string }[]> = {};
  for (const e of report.entries as any[]) {
    if (e.attempts?.length) out[e.name] = e.attempts.map((a: any) => ({ kind: a.kind, message: a.message }));
    // A secret that kept its previous value (keep-previous) reports why in `reason` only.
    else if (e.reason) out[e.name] = [{ kind: 'stale', message: e.reason }];
  }
  return out;
}

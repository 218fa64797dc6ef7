// The Bitwarden scenarios, against the test suite's local server (bench/bitwarden-server.ts, in
// its own process): Password Manager secrets cost a fixed number of `bw` starts however many there
// are (one listing), Secrets Manager secrets one login and one batched fetch. Calls come from the
// run's own `--json` report; time and peak RSS (GNU time: the largest process of the run, which for
// the vault is a `bw` start) are medians of several runs after a first, logging-in run.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_NETWORK, fmtMs, median, runOnce, type Table } from './lib.js';
import type { ScenarioContext } from './scenarios.js';

const REPO = new URL('..', import.meta.url).pathname;
const CLI = join(REPO, process.env.MATERIALIZE_DIST ?? 'dist', 'cli.js');
const BW = join(REPO, 'node_modules/.bin/bw');

interface Info {
  url: string;
  caFile: string;
  accessToken: string;
  clientId: string;
  clientSecret: string;
  password: string;
  items: string[];
  secrets: string[];
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Run {
  ms: number;
  rssKiB: number;
  calls: Record<string, number>;
}

function applyOnce(config: string): Run {
  const run = runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '--json'], { rss: true });
  const report = JSON.parse(run.stdout) as { calls: Record<string, Record<string, number>> };
  return { ms: run.ms, rssKiB: run.rssKiB!, calls: report.calls.bitwarden ?? {} };
}

const callText = (calls: Record<string, number>) => Object.entries(calls).map(([k, v]) => `${k} ×${v}`).join(', ');

export function bitwardenScenario(context: ScenarioContext): Table {
  if (!existsSync(BW)) return { title: 'Bitwarden', columns: ['skipped'], rows: [['node_modules/.bin/bw is missing: run npm ci']] };
  const dir = context.workDir();
  const infoFile = join(dir, 'server.json');
  const server = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/bitwarden-server.ts'), infoFile], { cwd: REPO, stdio: ['pipe', 'inherit', 'inherit'] });
  try {
    for (let i = 0; i < 600 && !existsSync(infoFile); i++) sleep(100);
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as Info;
    const creds = join(dir, 'creds');
    mkdirSync(creds, { mode: 0o700 });
    const file = (name: string, text: string) => {
      writeFileSync(join(creds, name), text, { mode: 0o600 });
      return join(creds, name);
    };
    const settings = {
      server: info.url,
      caFile: info.caFile,
      accessTokenFile: file('token', info.accessToken),
      clientId: info.clientId,
      clientSecretFile: file('client-secret', info.clientSecret),
      passwordFile: file('password', info.password),
      appDataDir: join(dir, 'bw-data'),
      bw: BW,
      timeout: 120,
    };
    const config = (name: string, secrets: Record<string, unknown>) => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({ version: 1, secretsDir: join(dir, name, 'secrets'), mountPoint: join(dir, name, 'secrets.d'), mount: 'none', network: BENCH_NETWORK(join(dir, name)), providers: { bitwarden: settings }, secrets }));
      return path;
    };
    const vault = (n: number) => config(`vault-${n}`, Object.fromEntries(info.items.slice(0, n).map((item, i) => [`pm/${i}`, { sources: [{ bitwarden: { item } }] }])));
    const sm = (n: number) => config(`sm-${n}`, Object.fromEntries(info.secrets.slice(0, n).map((secret, i) => [`sm/${i}`, { sources: [{ bitwarden: { secret } }] }])));
    const runs = context.quick ? 2 : 4;

    // The first vault run logs in (config server, login); it is not timed.
    const first = applyOnce(vault(1));
    const rows: (string | number)[][] = [['Password Manager (bw), first run: logs in', 1, callText(first.calls), fmtMs(first.ms), `${(first.rssKiB / 1024).toFixed(0)} MB`]];
    const measure = (label: string, configFile: string, n: number, times: number) => {
      const samples = Array.from({ length: times }, () => applyOnce(configFile));
      rows.push([label, n, callText(samples[0]!.calls), fmtMs(median(samples.map((s) => s.ms))), `${(median(samples.map((s) => s.rssKiB)) / 1024).toFixed(0)} MB`]);
    };
    measure('Password Manager (bw)', vault(1), 1, runs);
    measure('Password Manager (bw)', vault(50), 50, runs);
    measure('Secrets Manager (our client)', sm(1), 1, runs * 2);
    measure('Secrets Manager (our client)', sm(100), 100, runs * 2);
    return {
      title: 'Bitwarden against the local test server: calls, time and peak RSS per run',
      columns: ['backend', 'secrets', 'calls in the run (from --json)', 'median time', 'peak RSS'],
      rows,
      notes: [
        'Targets: 50 vault secrets cost the same bw starts as 1 (unlock, sync, one list); 100 Secrets Manager secrets one login and one batched fetch.',
        'Peak RSS is the largest process of the run: a bw start for the vault, materialize itself for Secrets Manager.',
      ],
    };
  } finally {
    server.stdin!.end();
    for (let i = 0; i < 50 && server.exitCode === null; i++) sleep(100);
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

// Benchmark plumbing: run a command several times, take medians, print tables with ratios
// against a baseline measured in the same run (the machine is noisy; only ratios carry over).
import { execSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Sample {
  ms: number;
  /** Peak resident set size in KiB, when measured. */
  rssKiB?: number;
  /** What the command printed (a --json report). */
  stdout: string;
}

/**
 * The environment a timed command gets: this one, without an inherited NODE_EXTRA_CA_CERTS. Node 20
 * reads and parses that whole file at start-up (~70 ms for Debian's bundle on this machine), before
 * any of our code runs; a run at boot never has it, and it would make every Node 20 ratio look
 * better than what users get. A value a scenario sets itself (a test server's certificate) is kept.
 */
export function timedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.NODE_EXTRA_CA_CERTS === undefined || env.NODE_EXTRA_CA_CERTS !== process.env.NODE_EXTRA_CA_CERTS) return env;
  const { NODE_EXTRA_CA_CERTS: _, ...rest } = env;
  return rest;
}

/** Runs argv once; throws with its stderr when it fails (a failing run must not be timed). */
export function runOnce(argv: readonly string[], options: SpawnSyncOptions & { rss?: boolean } = {}): Sample {
  const [cmd, ...args] = options.rss ? ['/usr/bin/time', '-f', '__RSS__%M', ...argv] : argv;
  const start = performance.now();
  const r = spawnSync(cmd!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options, env: timedEnv(options.env) });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  const rss = options.rss ? Number(/__RSS__(\d+)/.exec(String(r.stderr))?.[1]) : undefined;
  return { ms, ...(rss ? { rssKiB: rss } : {}), stdout: String(r.stdout) };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times several commands with their runs interleaved (A B A B …), so a slow phase of the machine
 * hits all of them alike; returns the median per command.
 */
export function timeInterleaved(commands: Record<string, () => Sample>, runs: number, warmup = 1): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < warmup + runs; i++) {
    for (const [name, fn] of Object.entries(commands)) {
      const s = fn();
      if (i >= warmup) samples[name]!.push(s.ms);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

export function formatTable(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map(String))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [`### ${t.title}`, '', line(t.columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line), ...(t.notes?.length ? ['', ...t.notes] : []), ''].join('\n');
}

export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
export const fmtRatio = (r: number) => `${r.toFixed(r >= 10 ? 0 : 1)}×`;

/** A cache directory for fixtures that are slow to make (1,000s of files through the real `age`). */
export function cacheDir(name: string): string {
  const dir = join(process.env.BENCH_CACHE ?? '/tmp/materialize-bench-cache', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function cached<T>(dir: string, make: () => T): T {
  const marker = join(dir, '.complete.json');
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as T;
  const value = make();
  writeFileSync(marker, JSON.stringify(value));
  return value;
}

/**
 * The `network` settings of a benchmark's configuration. Why: the defaults would keep the state in
 * the machine's own /var/lib/materialize (as root), and the call budget (60 calls an hour) would
 * refuse the repeated runs a benchmark times. Each configuration keeps its state in its own
 * directory, with no budget: every timed run makes its calls.
 */
export const BENCH_NETWORK = (dir: string) => ({ stateDir: join(dir, 'state'), callsPerHour: 0 });

/** A new age key made by the real `age-keygen` in `dir`: its file and its recipient. */
export function ageKey(dir: string): { key: string; recipient: string } {
  const key = join(dir, 'key.txt');
  execSync(`age-keygen -o ${key} 2>/dev/null`);
  return { key, recipient: /public key: (age1\w+)/.exec(readFileSync(key, 'utf8'))![1]! };
}

/** N distinct .age files made by the real `age` CLI, and the key that opens them (cached). */
export function ageFixtures(n: number): { key: string; files: string[] } {
  const dir = cacheDir(`age-${n}`);
  return cached(dir, () => {
    const { key, recipient } = ageKey(dir);
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const file = join(dir, `s${i}.age`);
      // Distinct files, but the same value shape: a 32-byte token, as most service secrets are.
      spawnSync('age', ['-r', recipient, '-o', file], { input: `token-${i}-${'x'.repeat(24)}` });
      files.push(file);
    }
    return { key, files };
  });
}

/** A secrets.json in `dir` publishing each file as `svc<i%10>/secret<i>`, with `key` to open them. */
export function writeAgeConfig(dir: string, key: string, files: readonly string[]): string {
  const secrets = Object.fromEntries(files.map((f, i) => [`svc${i % 10}/secret${i}`, { sources: [{ age: { file: f } }] }]));
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'secrets.json');
  writeFileSync(config, JSON.stringify({ version: 1, secretsDir: join(dir, 'm/secrets'), mountPoint: join(dir, 'm/secrets.d'), mount: 'none', keys: { ageKeyFiles: [key] }, secrets }));
  return config;
}


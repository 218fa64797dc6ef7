// `npm run bench`: materialize against the agenix way and against a bare `node -e 0`, measured in
// the same run, printed as tables of medians and ratios, on this Node and on Node 24 (start-up).
// `npm run bench -- --write` also records the tables (with date, machine and commit) in
// bench/RESULTS.md; `-- --system` adds the unit's boot cost in a Debian 12 container (root).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ageFixtures, fmtMs, fmtRatio, formatTable, runOnce, timeInterleaved, writeAgeConfig, type Table } from './lib.js';
import { fleetScenario } from './fleet.js';
import { extraScenarios } from './scenarios.js';
import { benchNodes, startupScenario, type StartupConfigs } from './startup.js';
import { systemScenario } from './system.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, process.env.MATERIALIZE_DIST ?? 'dist', 'cli.js');
const AGENIX = join(REPO, 'bench', 'agenix-way.sh');
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const system = process.argv.includes('--system');
// --only startup[,system,…]: just these tables (age, extra, startup, system, rss), e.g. to iterate on
// start-up cost without the slow scenarios; not with --write, which records every table.
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined);
const only = onlyArg === undefined ? undefined : new Set(onlyArg.split(','));
const wanted = (table: string) => !only || only.has(table);
if (only && write) {
  console.error('--write records every table: run it without --only');
  process.exit(2);
}

function need(cmd: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench needs \`${cmd}\` (Debian: apt-get install ${cmd === '/usr/bin/time' ? 'time' : cmd})`);
    process.exit(2);
  }
}

/** A work directory on a memory file system when there is one, like /run at boot. */
function workDir(): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(join(base, 'materialize-bench-'));
}

function ageScenario(sizes: number[], runs: number): Table {
  const rows: (string | number)[][] = [];
  const perSecret: number[] = [];
  for (const n of sizes) {
    const { key, files } = ageFixtures(n);
    const dir = workDir();
    try {
      const config = writeAgeConfig(dir, key, files);
      const list = join(dir, 'list.tsv');
      writeFileSync(list, files.map((f, i) => `svc${i % 10}/secret${i}\t${f}\n`).join(''));
      mkdirSync(join(dir, 'a'), { recursive: true });
      const t = timeInterleaved(
        {
          agenix: () => runOnce(['bash', AGENIX, key, join(dir, 'a/agenix.d'), join(dir, 'a/agenix'), list]),
          materialize: () => runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '-q']),
        },
        n >= 1000 ? Math.max(3, runs - 2) : runs,
      );
      rows.push([n, fmtMs(t.agenix!), fmtMs(t.materialize!), fmtRatio(t.agenix! / t.materialize!), `${((t.materialize! / n) * 1000).toFixed(0)} µs`]);
      perSecret.push(t.materialize! / n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    title: 'age files: materialize apply vs the agenix way (one `age --decrypt` per secret)',
    columns: ['secrets', 'agenix way', 'materialize', 'speed-up', 'materialize per secret'],
    rows,
    notes: ['Targets: ≥ 5× at 100 secrets, ≥ 20× at 1,000, time linear in N (per-secret cost flat as N grows).'],
  };
}

/** The start-up scenario's configurations: 100 age secrets to check, 10 to apply. */
function startupConfigs(): { configs: StartupConfigs; dir: string } {
  const hundred = ageFixtures(100);
  const dir = workDir();
  mkdirSync(join(dir, 'a10'));
  const apply10 = writeAgeConfig(join(dir, 'a10'), hundred.key, hundred.files.slice(0, 10));
  return { configs: { cli: CLI, check100: writeAgeConfig(dir, hundred.key, hundred.files), apply10 }, dir };
}

function rssScenario(): Table {
  const n = 10_000;
  const base = ageFixtures(1000);
  const dir = workDir();
  try {
    // 10,000 secrets: the 1,000 distinct files, each published under ten names.
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = join(dir, `c${i}.age`);
      copyFileSync(base.files[i % base.files.length]!, f);
      files.push(f);
    }
    const config = writeAgeConfig(dir, base.key, files);
    const first = runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '-q'], { rss: true });
    const second = runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '-q'], { rss: true });
    const mb = (k: number) => `${(k / 1024).toFixed(0)} MB`;
    return {
      title: `peak memory (RSS) for ${n.toLocaleString('en')} secrets`,
      columns: ['run', 'peak RSS', 'wall time'],
      rows: [
        ['first generation', mb(first.rssKiB!), fmtMs(first.ms)],
        ['second (compares with the first)', mb(second.rssKiB!), fmtMs(second.ms)],
      ],
      notes: ['Target: ≤ 200 MB.'],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function machine(): string {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO, encoding: 'utf8' }).stdout.trim() ? ' (with uncommitted changes)' : '';
  return `${new Date().toISOString().slice(0, 10)} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · age ${spawnSync('age', ['--version'], { encoding: 'utf8' }).stdout.trim()} · commit ${commit}${dirty}`;
}

// `-- --fleet`: the fleet simulation alone (seeded: the same table on any machine, in a second);
// with --write, its section of bench/RESULTS.md is replaced and the rest of the file kept.
if (process.argv.includes('--fleet')) {
  const table = formatTable(fleetScenario());
  console.log(table);
  if (write) {
    const file = join(REPO, 'bench', 'RESULTS.md');
    const heading = '## Fleet: 1,000 hosts on one 1Password account (issue 13)';
    const section = `${heading}\n\nRecorded with \`npm run bench -- --fleet --write\` (also part of \`npm run bench\`): a seeded simulation of the program's own \`CallBudget\`, the same table on any machine.\n\n${table}`;
    const current = readFileSync(file, 'utf8');
    const at = current.indexOf(heading);
    const end = at < 0 ? -1 : current.indexOf('\n## ', at + heading.length);
    const next = at < 0 ? `${current.trimEnd()}\n\n${section}` : `${current.slice(0, at)}${section}${end < 0 ? '' : current.slice(end)}`;
    writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
    console.log('wrote the fleet section of bench/RESULTS.md');
  }
  process.exit(0);
}

need('age');
need('/usr/bin/time');
if (!existsSync(CLI)) {
  console.error(`no build at ${CLI}: run npm run build first`);
  process.exit(2);
}
const runs = quick ? 3 : 7;
const tables: Table[] = [];
const emit = (t: Table) => {
  tables.push(t);
  console.log(formatTable(t));
};
console.log(`# materialize benchmarks\n\n${machine()}\n`);
if (wanted('age')) emit(ageScenario(quick ? [10, 100] : [10, 100, 1000], runs));
if (wanted('extra')) for (const scenario of extraScenarios) emit(scenario({ quick, runs, workDir }));
const nodes = wanted('startup') || (system && wanted('system')) ? benchNodes() : [];
if (wanted('startup')) {
  const { configs, dir } = startupConfigs();
  try {
    emit(startupScenario(configs, nodes, runs));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (system && wanted('system')) emit(await systemScenario(nodes, runs));
if (!quick && wanted('rss')) emit(rssScenario());

if (write) {
  const text = `# Benchmark results\n\nMeasured with \`npm run bench -- --write\` on ${machine()}.\nMedians over interleaved runs; ratios are between commands measured in the same run.\n\n${tables.map(formatTable).join('\n')}`;
  writeFileSync(join(REPO, 'bench', 'RESULTS.md'), text);
  console.log('wrote bench/RESULTS.md');
}

// Start-up cost against a bare `node -e 0`, measured in the same run, on each Node the bench has:
// the one running it, and the others of BENCH_NODES (colon-separated binaries) — by default Node 24
// from the npm registry (`npx -p node@24`), when it can be fetched. The compile cache (Node ≥ 22.1)
// is warm, as it is from the second run on a machine: its own directory, filled by the warm-up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs, runOnce, timeInterleaved, type Table } from './lib.js';

/** The least any Node program does for the same job (see the file): what a ratio is read against. */
const FLOOR = fileURLToPath(new URL('./floor.cjs', import.meta.url));

/** The Node binaries to compare: this one first. */
export function benchNodes(): string[] {
  const listed = process.env.BENCH_NODES;
  if (listed !== undefined) return [process.execPath, ...listed.split(':').filter(Boolean)];
  const r = spawnSync('npx', ['-y', '-p', 'node@24', 'node', '-p', 'process.execPath'], { encoding: 'utf8', timeout: 180_000 });
  const node24 = r.status === 0 ? r.stdout.trim() : '';
  if (!node24) console.error('note: Node 24 could not be fetched (npx -p node@24); measuring this Node only');
  return node24 ? [process.execPath, node24] : [process.execPath];
}

export interface StartupConfigs {
  cli: string;
  /** 100 age secrets: what `check` validates. */
  check100: string;
  /** 10 age secrets in a work directory: what `apply` publishes (a generation each run). */
  apply10: string;
}

export function startupScenario(configs: StartupConfigs, nodes: string[], runs: number): Table {
  const rows: (string | number)[][] = [];
  const cache = mkdtempSync(join(tmpdir(), 'materialize-bench-cc-'));
  try {
    for (const node of nodes) {
      const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
      const env = { ...process.env, MATERIALIZE_COMPILE_CACHE: join(cache, version) };
      const t = timeInterleaved(
        {
          node: () => runOnce([node, '-e', '0']),
          version: () => runOnce([node, configs.cli, '--version'], { env }),
          check: () => runOnce([node, configs.cli, 'check', '--config', configs.check100, '-q'], { env }),
          apply: () => runOnce([node, configs.cli, 'apply', '--config', configs.apply10, '--units', 'no', '-q'], { env }),
          floorCheck: () => runOnce([node, FLOOR, 'check', configs.check100]),
          floorApply: () => runOnce([node, FLOOR, 'apply', configs.apply10]),
        },
        runs * 3,
        3,
      );
      const ratio = (k: string, to = 'node') => `${(t[k]! / t[to]!).toFixed(2)}×`;
      rows.push(
        [version, 'node -e 0', fmtMs(t.node!), '1.00×', '', ''],
        [version, 'materialize --version', fmtMs(t.version!), ratio('version'), '', '≤ 1.5×'],
        [version, 'floor: check (100 age secrets)', fmtMs(t.floorCheck!), ratio('floorCheck'), '1.00×', ''],
        [version, 'materialize check (100 age secrets)', fmtMs(t.check!), ratio('check'), ratio('check', 'floorCheck'), '≤ 1.5× (Node 24)'],
        [version, 'floor: apply (10 age secrets)', fmtMs(t.floorApply!), ratio('floorApply'), '1.00×', ''],
        [version, 'materialize apply (10 age secrets)', fmtMs(t.apply!), ratio('apply'), ratio('apply', 'floorApply'), '≤ 1.5×'],
      );
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  return {
    title: 'start-up, against a bare `node -e 0` (compile cache warm where Node has one)',
    columns: ['Node', 'command', 'median', 'ratio to node -e 0', 'ratio to the floor', 'target'],
    rows,
    notes: [
      'Ratios are within one Node and one run; the compile cache exists from Node 22.1 on.',
      'floor: bench/floor.cjs, the least any Node program does for the same job (load node:crypto, read the files, decrypt each for real, write the values, one rename; no checks, lock, owners or report).',
    ],
  };
}

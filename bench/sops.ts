// The sops scenario: one YAML file with 1,000 keys, published as 1,000 secrets. The file is written
// with the test suite's independent sops writer (AES-GCM values, the MAC, the data key wrapped by
// the real `age` CLI), since no sops binary exists on these machines.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ageWrap, enc, map, newDataKey, writeSops } from '../test/providers/sops/helpers/writer.js';
import { ageKey, cacheDir, cached, fmtMs, runOnce, timeInterleaved, type Table } from './lib.js';
import type { ScenarioContext } from './scenarios.js';

const CLI = join(new URL('..', import.meta.url).pathname, process.env.MATERIALIZE_DIST ?? 'dist', 'cli.js');

function sopsFixture(n: number): { key: string; file: string } {
  const dir = cacheDir(`sops-${n}`);
  return cached(dir, () => {
    const { key, recipient } = ageKey(dir);
    const doc = map(...Array.from({ length: n }, (_, i) => [`key${i}`, enc(`token-${i}-${'y'.repeat(24)}`)] as const));
    const dataKey = newDataKey();
    const file = join(dir, 'secrets.yaml');
    writeFileSync(file, writeSops('yaml', [doc], { dataKey, groups: [{ age: [{ recipient, enc: ageWrap(dataKey, recipient) }] }] }));
    return { key, file };
  });
}

export function sopsScenario(context: ScenarioContext): Table {
  const n = 1000;
  const { key, file } = sopsFixture(n);
  const dir = context.workDir();
  const secrets = Object.fromEntries(Array.from({ length: n }, (_, i) => [`app${i % 10}/key${i}`, { sources: [{ sops: { file, key: `key${i}` } }] }]));
  const config = join(dir, 'secrets.json');
  writeFileSync(config, JSON.stringify({ version: 1, secretsDir: join(dir, 'm/secrets'), mountPoint: join(dir, 'm/secrets.d'), mount: 'none', keys: { ageKeyFiles: [key] }, secrets }));
  const t = timeInterleaved(
    {
      node: () => runOnce([process.execPath, '-e', '0']),
      apply: () => runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '-q']),
    },
    context.runs,
  );
  return {
    title: `one sops YAML file with ${n.toLocaleString('en')} keys → ${n.toLocaleString('en')} secrets`,
    columns: ['command', 'median', 'per secret', 'ratio to node -e 0'],
    rows: [
      ['node -e 0', fmtMs(t.node!), '', '1.0×'],
      ['materialize apply', fmtMs(t.apply!), `${((t.apply! / n) * 1000).toFixed(0)} µs`, `${(t.apply! / t.node!).toFixed(1)}×`],
    ],
    notes: ['Target: well under 1 s in all, the file decrypted once (the test suite proves once with a spy).'],
  };
}

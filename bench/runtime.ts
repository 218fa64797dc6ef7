// The runtime mode's cold start, what a person feels at every wrapped command: `materialize get`
// (from the live file, and from an age source when nothing is published) and `materialize run --
// true`, against `cat FILE` (what a hand-written wrapper pays) and a bare `node -e 0`.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ageKey, cacheDir, cached, fmtMs, runOnce, timeInterleaved, type Table } from './lib.js';
import type { ScenarioContext } from './scenarios.js';

const CLI = join(new URL('..', import.meta.url).pathname, process.env.MATERIALIZE_DIST ?? 'dist', 'cli.js');

/** One age key and one .age file made by the real `age` CLI (cached). */
function fixture(): { key: string; file: string } {
  const dir = cacheDir('runtime');
  return cached(dir, () => {
    const { key, recipient } = ageKey(dir);
    const file = join(dir, 'token.age');
    spawnSync('age', ['-r', recipient, '-o', file], { input: `sk-bench-${'z'.repeat(40)}` });
    return { key, file };
  });
}

export function runtimeScenario(context: ScenarioContext): Table {
  const { key, file } = fixture();
  const dir = context.workDir();
  const config = join(dir, 'secrets.json');
  const secretsDir = join(dir, 'm/secrets');
  // "token" is published by apply below; "unpublished" is added after, so get must fetch it.
  const write = (secrets: Record<string, unknown>) =>
    writeFileSync(config, JSON.stringify({ version: 1, secretsDir, mountPoint: join(dir, 'm/secrets.d'), mount: 'none', keys: { ageKeyFiles: [key] }, secrets }));
  write({ token: { sources: [{ age: { file } }] } });
  runOnce([process.execPath, CLI, 'apply', '--config', config, '--units', 'no', '-q']);
  write({ token: { sources: [{ age: { file } }] }, unpublished: { sources: [{ age: { file } }] } });
  const t = timeInterleaved(
    {
      cat: () => runOnce(['cat', join(secretsDir, 'token')]),
      node: () => runOnce([process.execPath, '-e', '0']),
      live: () => runOnce([process.execPath, CLI, 'get', 'token', '--config', config]),
      fetched: () => runOnce([process.execPath, CLI, 'get', 'unpublished', '--config', config]),
      run: () => runOnce([process.execPath, CLI, 'run', '--config', config, '--env', 'TOKEN=token', '--', 'true']),
    },
    context.runs * 3,
    3,
  );
  const row = (label: string, ms: number) => [label, fmtMs(ms), `${(ms / t.cat!).toFixed(1)}×`, `${(ms / t.node!).toFixed(2)}×`];
  return {
    title: 'runtime mode: cold start of get and run, against cat and a bare node',
    columns: ['command', 'median', 'ratio to cat FILE', 'ratio to node -e 0'],
    rows: [
      row('cat FILE', t.cat!),
      row('node -e 0', t.node!),
      row('materialize get NAME (live file)', t.live!),
      row('materialize get NAME (age source)', t.fetched!),
      row('materialize run --env T=NAME -- true', t.run!),
    ],
    notes: ['Target: within 1.5× a bare `node -e 0`: what Node costs is the floor; cat is what a hand-written wrapper pays.'],
  };
}

#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (TypeScript through tsx). Test files run in
// separate processes; `--test-concurrency=1` because root tests share mounts, users and /run.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const find = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'fixtures' ? [] : find(join(dir, e.name))) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );

/** Whether every directory from / down to `dir` lets other users pass (o+x). */
function reachableByOthers(dir) {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === dirname(d)) return true;
  }
}

const isRoot = process.getuid?.() === 0;
// Root's tests also run the program as ordinary users, who must reach the checkout (dist-test/, the
// fixtures). A checkout under a directory only root may enter (/root, a `mktemp -d`) is bound, in a
// private mount namespace, to a fresh directory every user can reach, and the suite runs from
// there: no permission of the user's own directories is changed, and the binding ends with the run.
if (isRoot && !process.env.MATERIALIZE_TEST_REBOUND && !reachableByOthers(process.cwd())) {
  const target = mkdtempSync(join(tmpdir(), 'materialize-checkout-'));
  chmodSync(target, 0o755);
  console.log(`note: ${process.cwd()} is not reachable by other users; the suite runs from a binding of it at ${target}`);
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" "$1" && cd "$1" && shift && exec "$@"', process.cwd(), target, process.execPath, 'scripts/test.mjs', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, MATERIALIZE_TEST_REBOUND: '1' },
  });
  rmdirSync(target);
  process.exit(r.status ?? 1);
}

const only = process.argv.slice(2);
const files = (only.length ? only : find('test')).sort();
if (!isRoot) console.log('note: not running as root — tests that need mounts, users or chown will be skipped (each says so).');
// --test-timeout: a test that hangs fails after 10 minutes (saying so) instead of hanging the suite;
// tests that need longer say so in their own options.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

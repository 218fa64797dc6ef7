#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (TypeScript through tsx). Test files run in
// separate processes; `--test-concurrency=1` because root tests share mounts, users and /run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const find = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'fixtures' ? [] : find(join(dir, e.name))) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
const only = process.argv.slice(2);
const files = (only.length ? only : find('test')).sort();
if (process.getuid?.() !== 0) console.log('note: not running as root — tests that need mounts, users or chown will be skipped (each says so).');
// --test-timeout: a test that hangs fails after 10 minutes (saying so) instead of hanging the suite;
// tests that need longer say so in their own options.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

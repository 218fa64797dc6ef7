#!/usr/bin/env node
// `npm run test:system`: test/system/*.system.ts with Node's test runner — the units booted under a
// real systemd in a Debian 12 container. Bounded: the run is ended after SYSTEM_TEST_TIMEOUT
// seconds (default 1500), and whatever container it left is ended then (and on the next start).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

const files = readdirSync('test/system').filter((f) => f.endsWith('.system.ts')).map((f) => `test/system/${f}`);
const limit = Number(process.env.SYSTEM_TEST_TIMEOUT ?? 1500) * 1000;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
const timer = setTimeout(() => {
  console.error(`test:system: still running after ${limit / 1000} s; ending it`);
  child.kill('SIGKILL');
}, limit);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill('SIGKILL'));
child.on('exit', async (code, signal) => {
  clearTimeout(timer);
  // A killed run cannot tear its container down: do it here.
  if (signal) {
    const { spawnSync } = await import('node:child_process');
    spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./test/system/container.ts').then((m) => m.cleanStray(console.error))"], { stdio: 'inherit' });
  }
  process.exit(code ?? 1);
});

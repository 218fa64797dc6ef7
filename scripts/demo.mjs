#!/usr/bin/env node
// `npm run demo`: materializes secrets.json.example (age files and a demo key, all in the repo)
// into demo/out/ with mount "none", twice (to show a generation switch), and prints the tree.
// Works as root and as an ordinary user; needs no account anywhere.
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
// git does not keep file modes: key files must not be readable by others.
for (const key of ['demo/keys/demo.agekey', 'demo/keys/ssh_host_ed25519_key']) chmodSync(key, 0o600);
rmSync('demo/out', { recursive: true, force: true });

const run = (...args) => {
  console.log(`\n$ materialize ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run('check', '--config', 'secrets.json.example');
run('apply', '--config', 'secrets.json.example');
run('apply', '--config', 'secrets.json.example');
run('status', '--config', 'secrets.json.example');

console.log('\nThe tree under demo/out (modes, sizes and link targets; values are not printed):');
const walk = (dir, depth) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = lstatSync(path);
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    const what = st.isSymbolicLink() ? ` -> ${readlinkSync(path)}` : st.isDirectory() ? '/' : `  (${st.size} bytes)`;
    console.log(`${'  '.repeat(depth)}${mode} ${name}${what}`);
    if (st.isDirectory()) walk(path, depth + 1);
  }
};
walk('demo/out', 1);
console.log('\nRead one yourself: cat demo/out/secrets/app.env');

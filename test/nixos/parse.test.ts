// Every .nix file of the modules and the flake parses (nix-instantiate --parse): a syntax error in a
// file no test evaluates (flake.nix, the VM test) would otherwise only show on a user's machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { NIX_SKIP, nixInstantiate, scratch } from './nix.js';

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? nixFiles(join(dir, e.name)) : e.name.endsWith('.nix') ? [join(dir, e.name)] : [],
  );
}

const files = [join(REPO, 'flake.nix'), ...nixFiles(join(REPO, 'nixos-module'))].map((f) => relative(REPO, f)).sort();

test('the module files are all there', () => {
  for (const expected of [
    'flake.nix',
    'nixos-module/default.nix',
    'nixos-module/home-manager.nix',
    'nixos-module/lib.nix',
    'nixos-module/package.nix',
    'nixos-module/tests/eval.nix',
    'nixos-module/tests/module-tests.nix',
    'nixos-module/tests/stubs.nix',
    'nixos-module/tests/vm.nix',
  ]) {
    assert.ok(files.includes(expected), `${expected} is missing`);
  }
});

test('nix-instantiate --parse rejects a syntax error (so the check below means something)', { skip: NIX_SKIP }, async () => {
  const bad = join(scratch(), 'bad.nix');
  writeFileSync(bad, '{ a = 1; b = ; }\n');
  const r = await nixInstantiate(['--parse', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /syntax error/);
});

for (const file of files) {
  test(`${file} parses`, { skip: NIX_SKIP }, async () => {
    const r = await nixInstantiate(['--parse', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
}

#!/usr/bin/env node
// Bundles the CLI with esbuild: a small entry (dist/cli.js) and the program as one CommonJS bundle
// (dist/materialize.cjs) that the entry runs with a V8 code cache of its own (src/cli/code-cache.ts).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { requireBuiltins } from './builtins.mjs';

// Only commander's import of child_process is made lazy (see the shim); everyone else gets the real one.
const commanderChildProcess = {
  name: 'commander-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: new URL('./shims/commander-child-process.cjs', import.meta.url).pathname } : undefined,
    );
  },
};

// signal-exit's only use of node:assert is one assert.equal (see the shim).
const signalExitAssert = {
  name: 'signal-exit-assert',
  setup(b) {
    b.onResolve({ filter: /^(node:)?assert$/ }, (args) =>
      /[\\/]node_modules[\\/]signal-exit[\\/]/.test(args.importer) ? { path: new URL('./shims/signal-exit-assert.cjs', import.meta.url).pathname } : undefined,
    );
  },
};

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// --test-hooks: the build the test suite runs (dist-test/), with fault injection and injectable
// fakes (src/test-hooks.ts); the production build (dist/) has none of them.
const testHooks = process.argv.includes('--test-hooks');
// MATERIALIZE_DIST lets several builds coexist in one checkout (e.g. a benchmark of two revisions).
const outdir = process.env.MATERIALIZE_DIST ?? (testHooks ? 'dist-test' : 'dist');
rmSync(outdir, { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  alias: { 'graceful-fs': './scripts/shims/graceful-fs.cjs' },
  plugins: [commanderChildProcess, signalExitAssert, requireBuiltins],
  logLevel: 'warning',
  write: false,
};
// The program: one CommonJS bundle, run as a script with its own code cache (src/cli/code-cache.ts).
// A lazily imported module is evaluated on first use only, as before; nothing is split into files.
const program = await build({
  ...common,
  entryPoints: { materialize: 'src/cli/program.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  sourcemap: 'linked',
  define: { __MATERIALIZE_VERSION__: JSON.stringify(pkg.version), __MATERIALIZE_TEST_HOOKS__: String(testHooks) },
  // Real packages, loaded by the runs that use them through the entry's import(): @1password/sdk
  // reads a 14 MB WASM file relative to itself; age-encryption (post-quantum keys) is ES modules only.
  external: ['@1password/sdk', 'age-encryption'],
});
const bundle = program.outputFiles.find((f) => f.path.endsWith('.cjs'));
// Names the bundle's code cache: V8 accepts a cache for any source of the same length.
const id = createHash('sha256').update(bundle.contents).digest('hex').slice(0, 16);
// The entry: small, compiled at every start.
const entry = await build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir, define: { __MATERIALIZE_BUNDLE_ID__: JSON.stringify(id) } });
for (const file of [...program.outputFiles, ...entry.outputFiles]) {
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, file.contents);
}
// The package is "type": "module"; the built files are CommonJS.
writeFileSync(`${outdir}/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);
chmodSync(`${outdir}/cli.js`, 0o755);

#!/usr/bin/env node
// Bundles the CLI with esbuild: one small entry chunk for a fast start, and a chunk per
// lazily imported command/provider/library so `--version` or `check` never parse what they don't use.
import { build } from 'esbuild';
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
// Bundled CommonJS (proper-lockfile, commander) and our sources (scripts/builtins.mjs) call
// require() for Node built-ins, and only for those: process.getBuiltinModule (Node ≥ 20.16) is
// that require; older Node gets module.createRequire. Imported as an ES module, node:module would
// cost every run a facade (and the source-map module it reads).
const BANNER = '/* materialize: require */';
const REQUIRE = "const require = globalThis.process.getBuiltinModule ?? (await import('node:module')).createRequire(import.meta.url);";
const result = await build({
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  define: { __MATERIALIZE_VERSION__: JSON.stringify(pkg.version), __MATERIALIZE_TEST_HOOKS__: String(testHooks) },
  // @1password/sdk loads a 14 MB WASM file relative to itself: it must stay a real package.
  external: ['@1password/sdk'],
  alias: { 'graceful-fs': './scripts/shims/graceful-fs.cjs' },
  banner: { js: BANNER },
  plugins: [commanderChildProcess, signalExitAssert, requireBuiltins],
  logLevel: 'warning',
  write: false,
});
// The banner stays (one line, so the source maps hold) only in the chunk whose code uses `require`:
// esbuild's runtime, whose __require every bundled require() goes through, for Node built-ins only.
for (const file of result.outputFiles) {
  let text = file.text;
  if (file.path.endsWith('.js')) text = text.replace(BANNER, /typeof require\b|[^\w$.]require\(/.test(text) ? REQUIRE : '');
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, text);
}
chmodSync(`${outdir}/cli.js`, 0o755);

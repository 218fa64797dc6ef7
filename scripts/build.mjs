#!/usr/bin/env node
// Bundles the CLI with esbuild: one small entry chunk for a fast start, and a chunk per
// lazily imported command/provider/library so `--version` or `check` never parse what they don't use.
import { build } from 'esbuild';
import { chmodSync, rmSync, readFileSync } from 'node:fs';
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

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// --test-hooks: the build the test suite runs (dist-test/), with fault injection and injectable
// fakes (src/test-hooks.ts); the production build (dist/) has none of them.
const testHooks = process.argv.includes('--test-hooks');
// MATERIALIZE_DIST lets several builds coexist in one checkout (e.g. a benchmark of two revisions).
const outdir = process.env.MATERIALIZE_DIST ?? (testHooks ? 'dist-test' : 'dist');
rmSync(outdir, { recursive: true, force: true });
await build({
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
  external: ['@1password/sdk', '@bitwarden/sdk-napi'],
  alias: { 'graceful-fs': './scripts/shims/graceful-fs.cjs' },
  // Bundled CommonJS (proper-lockfile, graceful-fs) calls require() for node builtins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [commanderChildProcess, requireBuiltins],
  logLevel: 'warning',
});
chmodSync(`${outdir}/cli.js`, 0o755);

#!/usr/bin/env node
// Entry point (dist/cli.js, CommonJS): finds the cache directory, then runs the program, which is
// one bundle (dist/materialize.cjs) run as a script with its own code cache (code-cache.ts). This
// file stays small: it is compiled at every start.
import { join } from 'node:path';
import { runBundle } from './code-cache.js';
import { cacheDirectory, enableCompileCache } from './compile-cache.js';

declare const __MATERIALIZE_BUNDLE_ID__: string;

const dir = cacheDirectory();
// Node makes its cache's directories now: private ones. The program narrows the umask for good
// itself (src/umask.ts), and must see the one it was started with.
const umask = process.umask(0o077);
enableCompileCache(dir);
process.umask(umask);
// import() here, in a real module: the bundle's only way to load the packages kept outside it.
void runBundle(join(__dirname, 'materialize.cjs'), __MATERIALIZE_BUNDLE_ID__, dir, (specifier) => import(specifier));

#!/usr/bin/env node
// Entry point: only what must happen before any other module loads. ES imports are evaluated before
// the body of the module that imports them, so the program itself (commander, the command table) is
// imported dynamically, once the compile cache is on.
import { enableCompileCache } from './compile-cache.js';
import { narrowUmask } from '../umask.js';

// Secrets are written by this process: nothing it creates may be readable by others by default.
narrowUmask();
enableCompileCache();
await import('./program.js');

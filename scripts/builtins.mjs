// esbuild plugin: our sources take Node's built-in modules with require(), not as ES imports.
// Why: an ES import of a builtin makes Node build a facade module that reads every export, and
// reading node:fs's lazy getters (ReadStream, promises) loads node:stream and fs/promises on every
// run (~15 ms of start-up, more than the rest of `--version`). `const { a } = require('node:fs')`
// reads only what is named. The bundle's banner defines `require`.
import { readFileSync } from 'node:fs';

const IMPORT = /^import\s+([^;'"]*?)\s+from\s+(['"])(node:[a-z_/]+)\2;?/gm;
const DYNAMIC = /\bimport\((['"])(node:[a-z_/]+)\1\)(?!\s*\.)/g; // not a type: import('node:fs').Stats

/**
 * `import X, { a, type T, b as c } from 'node:m'` → `const X = require('node:m'); const { a, b: c } = require('node:m');`
 * and `import('node:m')` → `Promise.resolve(require('node:m'))`.
 */
export function rewriteBuiltinImports(source) {
  return source.replace(DYNAMIC, (_, _q, spec) => `Promise.resolve(require(${JSON.stringify(spec)}))`).replace(IMPORT, (whole, clause, _q, spec) => {
    if (/^type\s/.test(clause)) return whole;
    const req = `require(${JSON.stringify(spec)})`;
    const out = [];
    const named = /\{([^}]*)\}/.exec(clause);
    const head = clause.replace(/\{[^}]*\}/, '').replace(/,\s*$/, '').trim();
    if (head.startsWith('* as ')) out.push(`const ${head.slice(5).trim()} = ${req};`);
    else if (head) out.push(`const ${head} = ${req};`);
    if (named) {
      const parts = named[1].split(',').map((p) => p.trim()).filter(Boolean);
      const values = parts.filter((p) => !p.startsWith('type ')).map((p) => p.replace(/^(\w+)\s+as\s+(\w+)$/, '$1: $2'));
      const types = parts.filter((p) => p.startsWith('type '));
      if (values.length) out.push(`const { ${values.join(', ')} } = ${req};`);
      if (types.length) out.push(`import { ${types.join(', ')} } from ${JSON.stringify(spec)};`);
    }
    // Keep the line count, so the source map still points at the right lines.
    return out.join(' ') + '\n'.repeat((whole.match(/\n/g) ?? []).length);
  });
}

export const requireBuiltins = {
  name: 'require-builtins',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => ({ contents: rewriteBuiltinImports(readFileSync(args.path, 'utf8')), loader: 'ts' }));
  },
};

// `{"sops": {"file": "secrets.yaml", "key": "db/password", "format": "yaml"}}`: a value (or the whole
// file) from a sops-encrypted YAML, JSON, dotenv, INI or binary file, decrypted natively. This module
// is the light definition loaded at start-up; the implementation loads when a run uses it.
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod/mini';
import { lazySchema } from '../../config/validate.js';
import type { ProviderDefinition } from '../provider.js';
import { formatOf, parseKey, SOPS_FORMATS, type SopsSource } from './source.js';

export type { SopsSource } from './source.js';

const source = lazySchema(() =>
  z
    .strictObject({
      file: z.string().check(z.minLength(1)),
      key: z.optional(z.string()),
      format: z.optional(z.enum(SOPS_FORMATS)),
    })
    .check(
      // A key that cannot name anything in this format is a configuration error, found before any run.
      z.superRefine((value, ctx) => {
        const spec = parseKey(formatOf(value), value.key);
        if ('error' in spec) ctx.issues.push({ code: 'custom', message: spec.error, path: ['key'], input: value.key });
      }),
    ),
);

export const sopsProvider: ProviderDefinition<SopsSource> = {
  name: 'sops',
  get source() {
    return source();
  },
  // The format is fixed here (explicit, or from the name as written), so later steps never guess.
  normalize: (s, baseDir) => ({ ...s, file: isAbsolute(s.file) ? s.file : resolve(baseDir, s.file), format: formatOf(s) }),
  // One file, one format: sops-install-secrets refuses a file read as two formats, and so do we,
  // in `check` and `apply` alike (a file cannot be both YAML and dotenv; one of them is a mistake).
  checkAll: (sources) => {
    const first = new Map<string, { format: string; at: string }>();
    const problems: { at: string; message: string }[] = [];
    for (const { source, at } of sources) {
      const format = formatOf(source);
      const seen = first.get(source.file);
      if (!seen) first.set(source.file, { format, at });
      else if (seen.format !== format) problems.push({ at, message: `${source.file} is read as ${format} here but as ${seen.format} by ${seen.at}; a sops file has one format (set "format" the same everywhere)` });
    }
    return problems;
  },
  usesKeys: true,
  describe: (s) => `sops ${s.file}${s.key ? `#${s.key}` : ''}`,
  load: async (options) => (await import('./provider.js')).createSopsProvider(options?.lib as never),
};

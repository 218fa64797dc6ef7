// `providers.onepassword` in secrets.json, and a source's shape. Light: no SDK here, so loading a
// configuration never loads the 14 MB WASM; the implementation does, and only when a run uses it.
import { isAbsolute } from 'node:path';
import * as z from 'zod/mini';
import { lazySchema, type Schema } from '../../config/validate.js';
import { VERSION } from '../../version.js';
import { parseReference } from './reference.js';

export type OnePasswordKind = 'field' | 'file';

export interface OnePasswordSource {
  reference: string;
  /** `field` (default): text, through one `resolveAll`; `file`: an attachment or Document item, exact bytes. */
  kind?: OnePasswordKind;
}

export interface OnePasswordSettings {
  /** The service account token's file (root-only); without it, OP_SERVICE_ACCOUNT_TOKEN. */
  tokenFile?: string;
  /** Accept a token file its group or others can read (the documented opt-out). */
  allowReadableTokenFile: boolean;
  /** Seconds each call to 1Password may take (the SDK has no timeout of its own). */
  callTimeout: number;
  /** Attempts per call, the first included, for network and server failures only. */
  attempts: number;
  integrationName: string;
  integrationVersion: string;
}

// The SDK refuses a name over 40 characters or with "/", a version over 20 or with "+".
const NAME_MAX = 40;
const VERSION_MAX = 20;

/** Our own version as the SDK accepts it: `+build` metadata becomes `-build`, cut to 20 characters. */
export const DEFAULT_INTEGRATION_VERSION = VERSION.replace(/\+/g, '-').slice(0, VERSION_MAX);

export const settingsSchema = lazySchema((): Schema<OnePasswordSettings> => z.strictObject({
  tokenFile: z.optional(
    z.string().check(
      z.refine((s) => isAbsolute(s), { message: 'must be an absolute path (the token file is read where the program runs)' }),
    ),
  ),
  allowReadableTokenFile: z._default(z.boolean(), false),
  callTimeout: z._default(z.number().check(z.positive(), z.maximum(600)), 30),
  attempts: z._default(z.int().check(z.minimum(1), z.maximum(5)), 3),
  integrationName: z._default(
    z.string().check(
      z.minLength(1),
      z.refine((s) => s.length <= NAME_MAX, { message: `must be at most ${NAME_MAX} characters (a limit of the 1Password SDK)` }),
      z.refine((s) => !s.includes('/'), { message: 'must not contain "/" (the 1Password SDK refuses it)' }),
    ),
    'materialize',
  ),
  integrationVersion: z._default(
    z.string().check(
      z.minLength(1),
      z.refine((s) => s.length <= VERSION_MAX, { message: `must be at most ${VERSION_MAX} characters (a limit of the 1Password SDK)` }),
      z.refine((s) => !s.includes('+'), { message: 'must not contain "+" (the 1Password SDK refuses it)' }),
    ),
    DEFAULT_INTEGRATION_VERSION,
  ),
}));

/** The settings with their defaults, whether secrets.json had a `providers.onepassword` block or not. */
export function effectiveSettings(settings: unknown): OnePasswordSettings {
  return (settings as OnePasswordSettings | undefined) ?? (z.parse(settingsSchema(), {}) as OnePasswordSettings);
}

type Issue = { code: 'custom'; message: string; path: PropertyKey[]; input: unknown } | { code: 'unrecognized_keys'; keys: string[]; path: PropertyKey[]; input: unknown };

/** What is wrong with a reference, for the schema; file references take no query. */
function referenceProblem(reference: string, kind: OnePasswordKind): string | undefined {
  const parsed = parseReference(reference);
  if ('error' in parsed) return parsed.error;
  if (kind === 'file' && parsed.query !== undefined) return 'a file reference takes no "?" query (attribute and ssh-format apply to fields)';
  return undefined;
}

// Why a hand-written check instead of a zod union: a union reports "does not match any accepted
// form" for a typo in either form; this names the key that is wrong.
/** Issues of one source: `"op://…"` (the shorthand) or `{"reference": "op://…", "kind": "file"}`. */
function sourceIssues(value: unknown): Issue[] {
  if (typeof value === 'string') {
    const problem = referenceProblem(value, 'field');
    return problem ? [{ code: 'custom', message: problem, path: [], input: value }] : [];
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [{ code: 'custom', message: 'expected a reference "op://<vault>/<item>/[<section>/]<field>" or {"reference": "op://…", "kind": "field" | "file"}', path: [], input: value }];
  }
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => k !== 'reference' && k !== 'kind');
  const issues: Issue[] = unknown.length ? [{ code: 'unrecognized_keys', keys: unknown, path: [], input: value }] : [];
  if (v.kind !== undefined && v.kind !== 'field' && v.kind !== 'file') issues.push({ code: 'custom', message: 'expected "field" or "file"', path: ['kind'], input: v.kind });
  if (typeof v.reference !== 'string') {
    issues.push({ code: 'custom', message: 'is required (expected a string "op://<vault>/<item>/[<section>/]<field>")', path: ['reference'], input: v.reference });
  } else {
    const problem = referenceProblem(v.reference, v.kind === 'file' ? 'file' : 'field');
    if (problem) issues.push({ code: 'custom', message: problem, path: ['reference'], input: v.reference });
  }
  return issues;
}

/** A source in secrets.json: the shorthand string or the object, always an object after parsing. */
export const sourceSchema = lazySchema(() => z.pipe(
  z.unknown().check(
    z.superRefine((value, ctx) => {
      for (const issue of sourceIssues(value)) ctx.issues.push(issue as never);
    }),
  ),
  z.transform((value): OnePasswordSource => {
    if (typeof value === 'string') return { reference: value };
    const v = value as OnePasswordSource;
    return { reference: v.reference, ...(v.kind === 'file' ? { kind: 'file' as const } : {}) };
  }),
) as unknown as Schema<OnePasswordSource>);

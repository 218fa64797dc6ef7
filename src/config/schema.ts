// The secrets.json v1 schema: the contract between the Nix modules and the program.
// Structure only; cross-field rules (names, paths, collisions, per-provider sources) live in load.ts.
import * as z from 'zod/mini';
import { DEFAULT_MOUNT_POINT, DEFAULT_SECRETS_DIR } from './defaults.js';

const nonEmpty = () => z.string().check(z.minLength(1));
const principal = z.union([nonEmpty(), z.int().check(z.minimum(0))]);
const units = z._default(z.array(nonEmpty()), []);

/** Options shared by secrets and templates: where and how the file is published. */
const fileOptions = {
  owner: z.optional(principal),
  group: z.optional(principal),
  mode: z._default(z.string(), '0400'),
  path: z.optional(nonEmpty()),
  // false: the file at `path` is a real copy, not a symlink (agenix's `symlink = false`).
  symlink: z._default(z.boolean(), true),
  restartUnits: units,
  reloadUnits: units,
};

export const secretSchema = z.strictObject({
  // Each source is a one-key object such as {"age": {...}}; its inner shape is checked by the provider's schema.
  sources: z.array(z.record(z.string(), z.unknown())).check(z.minLength(1)),
  ...fileOptions,
  optional: z._default(z.boolean(), false),
});

export const templateSchema = z.strictObject({
  // Exactly one of the two (checked in load.ts): the text itself, or a file holding it (sops-nix's templates.<n>.file).
  content: z.optional(z.string()),
  file: z.optional(nonEmpty()),
  ...fileOptions,
});

export const keysSchema = z.strictObject({
  ageKeyFiles: z._default(z.array(nonEmpty()), []),
  sshKeyPaths: z._default(z.array(nonEmpty()), []),
  gnupgHome: z._default(z.nullable(nonEmpty()), null),
  gnupgSshKeyPaths: z._default(z.array(nonEmpty()), []),
});

/** Network sources' persistent state: the sealed store of last-known-good values and the call budget. */
export const networkSchema = z.strictObject({
  stateDir: z.optional(nonEmpty()),
  seal: z._default(z.union([z.literal(false), z.strictObject({ maxAge: z._default(z.union([nonEmpty(), z.int().check(z.minimum(0))]), '30d') })]), { maxAge: '30d' }),
  callsPerHour: z._default(z.int().check(z.minimum(0), z.maximum(1_000_000)), 60),
});

export const configSchema = z.strictObject({
  $schema: z.optional(z.string()),
  version: z.literal(1),
  secretsDir: z._default(nonEmpty(), DEFAULT_SECRETS_DIR),
  mountPoint: z._default(nonEmpty(), DEFAULT_MOUNT_POINT),
  mount: z._default(z.enum(['ramfs', 'tmpfs', 'none']), 'ramfs'),
  keepGenerations: z._default(z.int().check(z.minimum(0), z.maximum(1000)), 1),
  failurePolicy: z._default(z.enum(['keep-previous', 'abort']), 'keep-previous'),
  keys: z._default(keysSchema, { ageKeyFiles: [], sshKeyPaths: [], gnupgHome: null, gnupgSshKeyPaths: [] }),
  providers: z._default(z.record(z.string(), z.unknown()), {}),
  network: z._default(networkSchema, { seal: { maxAge: '30d' }, callsPerHour: 60 }),
  secrets: z._default(z.record(z.string(), secretSchema), {}),
  templates: z._default(z.record(z.string(), templateSchema), {}),
});

export type RawConfig = z.infer<typeof configSchema>;

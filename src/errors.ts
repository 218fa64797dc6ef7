// Named error classes carrying context (never a secret value), and the exit codes they map to.
// Exit codes follow sysexits(3) so systemd units can tell "retry later" from "fix your config".

export const ExitCode = {
  ok: 0,
  /** Bad command line. */
  usage: 64,
  /** A secret could not be fetched: not found, corrupt or tampered, no key can open it. Retrying will not help. */
  fetch: 65,
  /** A provider refused for now (rate limit): do not retry within the window. */
  rateLimited: 69,
  /** A bug: an unexpected internal error. */
  internal: 70,
  /** Writing the generation or a custom path failed (disk full, read-only file system, path in the way). */
  io: 74,
  /** A temporary failure (network down, timeout, lock held): a retry makes sense. */
  temporary: 75,
  /** Not permitted: not root where root is needed, cannot mount or chown, key or token file refused. */
  permission: 77,
  /** The configuration is invalid: schema, names, owners, referenced files or keys. */
  config: 78,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: every error the program expects carries an exit code and a message safe to print. */
export class MaterializeError extends Error {
  override name = 'MaterializeError';
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

export class UsageError extends MaterializeError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** One problem in secrets.json, located by its JSON path (e.g. `secrets["db/pw"].mode`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends MaterializeError {
  override name = 'ConfigError';
  readonly issues: ConfigIssue[];
  readonly file: string | undefined;
  constructor(issues: ConfigIssue[], file?: string) {
    const where = file ? `${file}: ` : '';
    const lines = issues.map((i) => (i.path ? `  ${i.path}: ${i.message}` : `  ${i.message}`));
    super(`${where}invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, ExitCode.config);
    this.issues = issues;
    this.file = file;
  }
}

export class PermissionError extends MaterializeError {
  override name = 'PermissionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.permission, options);
  }
}

export class WriteError extends MaterializeError {
  override name = 'WriteError';
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, ExitCode.io, options);
    this.path = path;
  }
}

export class LockError extends MaterializeError {
  override name = 'LockError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.temporary, options);
  }
}

/** Why a provider could not deliver one request. `config` means the source itself is wrong (bad reference). */
export type ProviderErrorKind = 'not-found' | 'unauthorized' | 'rate-limited' | 'unavailable' | 'corrupt' | 'config';

/**
 * A provider's answer for one request. The message describes the source (file, reference, item id),
 * never the value; the pipeline adds the secret names when it reports it.
 */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  /** Set when the request never reached the service (no connection could be made): it cost no quota. */
  readonly notSent: boolean;
  constructor(provider: string, kind: ProviderErrorKind, message: string, options?: { cause?: unknown; notSent?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.provider = provider;
    this.kind = kind;
    this.notSent = options?.notSent ?? false;
  }
}

/** Exit code for a set of provider failures: the one that tells systemd the most useful thing. */
export function exitCodeForKinds(kinds: Iterable<ProviderErrorKind>): ExitCodeValue {
  let code: ExitCodeValue = ExitCode.ok;
  const rank = (c: ExitCodeValue) => [ExitCode.ok, ExitCode.fetch, ExitCode.temporary, ExitCode.rateLimited].indexOf(c as never);
  for (const kind of kinds) {
    const next = kind === 'rate-limited' ? ExitCode.rateLimited : kind === 'unavailable' ? ExitCode.temporary : ExitCode.fetch;
    if (rank(next) > rank(code)) code = next;
  }
  return code;
}

/** Turns a Node system error into a short reason (code + syscall), without echoing data. */
export function describeSystemError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string') return `${e.code}${e.syscall ? ` (${e.syscall})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

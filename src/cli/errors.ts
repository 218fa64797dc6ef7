// What a command prints when it fails, built in one place: the message on stderr (never a stack
// trace for an expected error; a "bug" line for an unexpected one) and, with --json, the one JSON
// shape every command answers with when it fails before it has a report.
import { CommanderError } from 'commander';
import { ConfigError, ExitCode, MaterializeError, type ConfigIssue, type ExitCodeValue } from '../errors.js';
import { stderr, stdout, type TextOut } from '../stdio.js';

/** A failure as every output shows it: exit code, error class, one safe message. */
export interface Failure {
  exitCode: ExitCodeValue;
  /** The error's class name (`ConfigError`, `LockError`, `CommanderError`…), or `InternalError`. */
  error: string;
  /** What stderr says after `error: ` (expected errors), or the whole "internal error" line. */
  message: string;
  expected: boolean;
}

/** The one error-message helper: what a thrown value means for the user, without its stack. */
export function describeFailure(error: unknown): Failure {
  if (error instanceof CommanderError) {
    const ok = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
    return { exitCode: ok ? ExitCode.ok : ExitCode.usage, error: 'UsageError', message: error.message.replace(/^error: /, ''), expected: true };
  }
  if (error instanceof MaterializeError) return { exitCode: error.exitCode, error: error.name, message: error.message, expected: true };
  const e = error as Error;
  const first = String(e?.message ?? error).split('\n')[0];
  return { exitCode: ExitCode.internal, error: 'InternalError', message: `internal error (a bug, please report it): ${e?.name ?? 'Error'}: ${first}`, expected: false };
}

/** The JSON of a command that failed before it had a report: the same fields for every command. */
export interface FailureJson {
  ok: false;
  exitCode: number;
  error: string;
  message: string;
  /** The configuration file, when the failure is about one. */
  config?: string | null;
  /** Every problem found in the configuration, each with its JSON path (ConfigError only). */
  issues?: ConfigIssue[];
  warnings: readonly string[];
}

export function failureJson(error: unknown, warnings: readonly string[] = []): FailureJson {
  const f = describeFailure(error);
  return {
    ok: false,
    exitCode: f.exitCode,
    error: f.error,
    message: f.message,
    ...(error instanceof ConfigError ? { config: error.file ?? null, issues: error.issues } : {}),
    warnings,
  };
}

/**
 * Reports a failure: its message on stderr (commander has printed its own usage errors already),
 * the failure JSON on stdout with --json; returns the exit code.
 */
export function handleError(error: unknown, options: { json?: boolean; warnings?: readonly string[]; stream?: TextOut } = {}): number {
  const f = describeFailure(error);
  if (f.exitCode === ExitCode.ok) return f.exitCode;
  const stream = options.stream ?? stderr;
  if (!(error instanceof CommanderError)) stream.write(f.expected ? `error: ${f.message}\n` : `${f.message}\n`);
  if (!f.expected && process.env.MATERIALIZE_DEBUG && (error as Error)?.stack) stream.write(`${(error as Error).stack}\n`);
  if (options.json) stdout.write(`${JSON.stringify(failureJson(error, options.warnings), null, 2)}\n`);
  return f.exitCode;
}

// Maps anything thrown to a message on stderr and an exit code. Expected errors print their
// message only (no stack trace); unexpected ones say they are a bug.
import { CommanderError } from 'commander';
import { ExitCode, MaterializeError } from '../errors.js';

export function handleError(error: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (error instanceof MaterializeError) {
    stream.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  const e = error as Error;
  stream.write(`internal error (a bug, please report it): ${e?.name ?? 'Error'}: ${String(e?.message ?? error).split('\n')[0]}\n`);
  if (process.env.MATERIALIZE_DEBUG && e?.stack) stream.write(`${e.stack}\n`);
  return ExitCode.internal;
}

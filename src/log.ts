// Human messages go to stderr (the journal at boot); stdout is kept for --json and command output.
// Nothing here ever receives a secret value: callers pass names, paths and reasons only.
import { stderr, type TextOut } from './stdio.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Warnings seen so far, for --json reports. */
  readonly warnings: string[];
}

export function createLogger(options: { level?: Level; stream?: TextOut } = {}): Logger {
  const threshold = order[options.level ?? 'info'];
  const stream = options.stream ?? stderr;
  const warnings: string[] = [];
  const emit = (level: Level, message: string) => {
    if (order[level] < threshold) return;
    const prefix = level === 'info' ? '' : `${level === 'warn' ? 'warning' : level}: `;
    stream.write(`${prefix}${message}\n`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => {
      warnings.push(m);
      emit('warn', m);
    },
    error: (m) => emit('error', m),
    warnings,
  };
}

/** A logger that records but prints nothing (library use, tests). */
export function silentLogger(): Logger {
  return createLogger({ level: 'error', stream: { write: () => true } });
}

/** The logger of a command run: its level from the command's -v/-q flags. */
export function loggerFor(flags: { verbose?: boolean; quiet?: boolean }): Logger {
  return createLogger({ level: flags.verbose ? 'debug' : flags.quiet ? 'warn' : 'info' });
}

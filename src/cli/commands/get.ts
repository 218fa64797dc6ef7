// `materialize get NAME`: one secret's bytes on stdout, exactly as stored (a newline only when
// asked), from the live file or, failing that, from its sources with the caller's own credentials.
import { writeSync } from 'node:fs';
import { resolveValues } from '../../materialize/get.js';
import type { Logger } from '../../log.js';
import type { OutputFlags } from '../output.js';

export interface GetFlags extends Omit<OutputFlags, 'json'> {
  config?: string;
  newline?: boolean;
  timeout: number;
}

/** Writes all of `data` to stdout; a reader that went away (`| head -c 10`) is not an error. */
function writeOut(data: Buffer): void {
  let offset = 0;
  try {
    while (offset < data.length) offset += writeSync(1, data, offset, data.length - offset);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') return writeOut(data.subarray(offset));
    if (code !== 'EPIPE') throw error;
  }
}

export async function runGet(name: string, flags: GetFlags, log: Logger): Promise<number> {
  const values = await resolveValues([name], { configFile: flags.config, log, timeoutMs: flags.timeout * 1000 });
  const value = values.get(name)!;
  const out = flags.newline && value.at(-1) !== 0x0a ? Buffer.concat([value, Buffer.from('\n')]) : value;
  writeOut(out);
  value.fill(0);
  out.fill(0);
  return 0;
}

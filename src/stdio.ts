// stdout and stderr for the program's own text (reports, messages), written with write(2).
// Why not process.stdout/process.stderr: creating either stream loads node:stream and, for a socket
// such as the journal's or a terminal, node:net or node:tty — ~6 ms of CPU each on a short run
// (perf stat, Node 20 and 24), for the few lines a run prints. The bytes and their order are the
// same. When a write cannot be made whole at once (a non-blocking pipe that is full: EAGAIN) or
// fails (EPIPE), the rest and everything after it go through the stream, which behaves as before.
import { writeSync } from 'node:fs';

/** What the logger, the error handler and the commands write text to. */
export interface TextOut {
  write(text: string): unknown;
}

/** Text to `fd` by write(2); from the first write that cannot be made whole, to `stream()` instead. */
export function textOut(fd: number, stream: () => { write(chunk: string | Uint8Array): unknown }): TextOut {
  let fallen = false;
  return {
    write(text: string) {
      if (fallen) return stream().write(text);
      const bytes = Buffer.from(text, 'utf8');
      let offset = 0;
      try {
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        return true;
      } catch {
        fallen = true;
        return stream().write(offset === 0 ? text : bytes.subarray(offset));
      }
    },
  };
}

export const stdout: TextOut = textOut(1, () => process.stdout);
export const stderr: TextOut = textOut(2, () => process.stderr);

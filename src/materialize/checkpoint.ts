// Fault injection for the crash-safety tests. MATERIALIZE_CRASH_AT=K makes the process SIGKILL
// itself at its K-th checkpoint, so a test can stop a run at every step and inspect what is left;
// MATERIALIZE_STOP_AT=K makes it SIGSTOP itself there, so a test can act while it is frozen (take
// its lock away) and then let it continue. Unset (always, outside tests), a checkpoint is one
// integer comparison. Only the test build has them (src/test-hooks.ts).
import { testHook } from '../test-hooks.js';

const crashAt = Number(testHook('MATERIALIZE_CRASH_AT') ?? 0);
const stopAt = Number(testHook('MATERIALIZE_STOP_AT') ?? 0);
let count = 0;

// Why: a test sweeping crash points must learn how many a run has; it sets K past the end and reads
// this line (stderr, value-free) from a run that completes.
if (crashAt !== 0) process.on('exit', () => process.stderr.write(`materialize: ${count} checkpoints passed\n`));

export function checkpoint(): void {
  if (crashAt === 0 && stopAt === 0) return;
  count += 1;
  if (count === crashAt) process.kill(process.pid, 'SIGKILL');
  if (count === stopAt) process.kill(process.pid, 'SIGSTOP');
}

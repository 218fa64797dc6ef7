// Fault injection for the crash-safety tests: MATERIALIZE_CRASH_AT=K makes the process SIGKILL
// itself at its K-th checkpoint, so a test can stop a run at every step and inspect what is left.
// Unset (always, outside tests), a checkpoint is one integer comparison.
const target = Number(process.env.MATERIALIZE_CRASH_AT ?? 0);
let count = 0;

// Why: a test sweeping crash points must learn how many a run has; it sets K past the end and reads
// this line (stderr, value-free) from a run that completes.
if (target !== 0) process.on('exit', () => process.stderr.write(`materialize: ${count} checkpoints passed\n`));

export function checkpoint(): void {
  if (target === 0) return;
  count += 1;
  if (count === target) process.kill(process.pid, 'SIGKILL');
}

/** How many checkpoints this run passed (the tests use it to know the range to sweep). */
export function checkpointsPassed(): number {
  return count;
}

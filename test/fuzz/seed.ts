// Why a fixed seed: `npm test` gates every commit, so its fuzzers replay the same cases and a red
// run means a change broke something, not that the dice found an old flaw. `npm run fuzz`
// (FUZZ_SEED=random, FUZZ_SCALE=10) explores new cases; a failure prints its seed and path, and
// FUZZ_SEED=<seed> replays it.
import fc from 'fast-check';

const raw = process.env.FUZZ_SEED ?? '20261122';
export const seed = raw === 'random' ? Math.floor(Math.random() * 0x7fffffff) : Number(raw);
if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or "random", not ${JSON.stringify(raw)}`);
const scale = Number(process.env.FUZZ_SCALE ?? 1);

/** The number of cases a property runs: its own count, times FUZZ_SCALE. */
export const runs = (n: number): number => Math.max(1, Math.round(n * scale));

fc.configureGlobal({ seed });

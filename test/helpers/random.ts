// Why seeded: a red `npm test` must mean a change broke something. Tests that pick kill instants or
// values at random draw them from this generator; TEST_SEED=<n> replays a run, and each test prints
// the seed it used.
const raw = process.env.TEST_SEED ?? '20261129';

/** The seed of this run (TEST_SEED, or a fixed default). */
export const testSeed = Number(raw);
if (!Number.isInteger(testSeed)) throw new Error(`TEST_SEED must be an integer, not ${JSON.stringify(raw)}`);

/** A seeded generator of floats in [0, 1) (mulberry32); `salt` gives each test its own sequence. */
export function seededRandom(salt = 0): () => number {
  let a = (testSeed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes of seeded hex, for distinctive test values. */
export function seededHex(random: () => number, bytes: number): string {
  return Array.from({ length: bytes }, () => Math.floor(random() * 256).toString(16).padStart(2, '0')).join('');
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `n` seeded bytes: plaintexts whose every byte matters, the same in every run of a seed. */
export function seededBytes(random: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) {
    const word = Math.floor(random() * 4294967296);
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

/** fast-check options outside test/fuzz: this run's seed, so a property fails the same way again. */
export const fcSeeded = (numRuns: number) => ({ numRuns, seed: testSeed });

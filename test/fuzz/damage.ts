// Damage for fuzzing files: flip a bit, cut, insert bytes, or copy a region over another place.
// Shared by the age and sops fuzzers; each chooses what gets inserted.
import fc from 'fast-check';

export type Damage =
  | { how: 'flip'; at: number; bit: number }
  | { how: 'cut'; at: number }
  | { how: 'insert'; at: number; bytes: Uint8Array }
  | { how: 'splice'; at: number; from: number; length: number };

/** `bits`: 8 for binary files, 7 to stay in ASCII for text formats; `insert`: what may be inserted. */
export function damageArbitrary(options: { bits: 7 | 8; insert: fc.Arbitrary<Uint8Array>; maxSplice: number }): fc.Arbitrary<Damage> {
  return fc.oneof(
    fc.record({ how: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: options.bits - 1 }) }),
    fc.record({ how: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ how: fc.constant('insert' as const), at: fc.nat(), bytes: options.insert }),
    fc.record({ how: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), length: fc.integer({ min: 1, max: options.maxSplice }) }),
  );
}

/** A damaged copy of `file` (positions are taken modulo its length, so any nat applies). */
export function applyDamage(file: Buffer, d: Damage): Buffer {
  const at = d.at % file.length;
  switch (d.how) {
    case 'flip': {
      const copy = Buffer.from(file);
      copy[at] = copy[at]! ^ (1 << d.bit);
      return copy;
    }
    case 'cut':
      return file.subarray(0, at);
    case 'insert':
      return Buffer.concat([file.subarray(0, at), Buffer.from(d.bytes), file.subarray(at)]);
    default: {
      const from = d.from % file.length;
      const region = file.subarray(from, from + d.length);
      return Buffer.concat([file.subarray(0, at), region, file.subarray(at + region.length)]);
    }
  }
}

// A scalar in Go string form: the one conversion behind the MAC, the secret files and the metadata.
// Strings are their bytes; numbers and times are written as sops writes them when it encrypts them
// (sops-nix refuses non-strings, #848); booleans differ by use, so the caller names which form.
import { formatRfc3339Nano, goFormatFloat } from '../gotypes.js';
import type { Scalar } from '../tree.js';

/**
 * How a boolean is written: `sops`: `True`/`False`, sops's own form (`sops.ToBytes`, what the MAC
 * hashes and what an encrypted bool holds); `go`: `true`/`false` (`strconv.FormatBool`, what a
 * secret file gets and what mapstructure reads in the metadata).
 */
export type BoolForm = 'sops' | 'go';

/**
 * The bytes of a scalar. Strings and bytes are returned as they are, not copied (the MAC must not
 * leave copies of plaintexts behind); a caller that keeps them copies them (the tree is wiped).
 */
export function scalarBytes(value: Scalar, bools: BoolForm): Buffer {
  switch (value.kind) {
    case 'str':
    case 'bytes':
      return value.value;
    case 'int':
      return Buffer.from(value.value.toString());
    case 'float':
      return Buffer.from(goFormatFloat(value.value));
    case 'bool':
      return Buffer.from(bools === 'sops' ? (value.value ? 'True' : 'False') : value.value ? 'true' : 'false');
    case 'time':
      return Buffer.from(formatRfc3339Nano(value.value));
    case 'null':
      return Buffer.alloc(0);
  }
}

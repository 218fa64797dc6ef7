// A scalar's natural text, as a secret file holds it: strings as their bytes; numbers, booleans and
// times in the form sops stores them when it encrypts them (sops-nix refuses non-strings, #848).
import { formatRfc3339Nano, goFormatFloat } from '../gotypes.js';
import type { Scalar } from '../tree.js';

/** The bytes a secret file gets for a scalar (a copy: the tree is wiped afterwards). */
export function scalarText(value: Scalar): Buffer {
  switch (value.kind) {
    case 'str':
    case 'bytes':
      return Buffer.from(value.value);
    case 'int':
      return Buffer.from(value.value.toString());
    case 'float':
      return Buffer.from(goFormatFloat(value.value));
    case 'bool':
      return Buffer.from(value.value ? 'true' : 'false');
    case 'time':
      return Buffer.from(formatRfc3339Nano(value.value));
    case 'null':
      return Buffer.alloc(0);
  }
}

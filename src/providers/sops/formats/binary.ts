// Binary sops files (`stores/json/store.go` BinaryStore): a JSON envelope `{"data": "ENC[…]", "sops": …}`
// whose single `data` value (additional data `data:`) is the whole plaintext, written out byte for byte.
import { SopsFormatError } from '../errors.js';
import type { Branch } from '../tree.js';

/** The plaintext of a decrypted binary file. */
export function emitBinaryFile(branches: readonly Branch[]): Buffer {
  if (branches.length !== 1) throw new SopsFormatError('a binary sops file has exactly one document');
  for (const item of branches[0]!.items) {
    if (item.kind !== 'entry' || item.key !== 'data') continue;
    // sops itself accepts only a string here; the legacy `bytes` type is the same bytes, so it is taken too.
    if (item.value.kind !== 'str' && item.value.kind !== 'bytes') throw new SopsFormatError('the "data" value of a binary sops file is not a string');
    return Buffer.from(item.value.value);
  }
  throw new SopsFormatError('the binary sops file has no "data" value');
}

// dotenv sops files (`stores/dotenv/store.go`): one `KEY=value` per line, split at the first `=`,
// nothing trimmed or unquoted; `#` lines are comments; `\n` (two characters) in a value is a newline.
// The metadata lives in the same file as `sops_`-prefixed flattened lines.
import { SopsFormatError } from '../errors.js';
import type { Branch, MapNode } from '../tree.js';
import { scalarBytes } from './text.js';

/** Parses a dotenv sops file into its single branch. */
export function parseDotenvBranches(data: Buffer): Branch[] {
  const map: MapNode = { kind: 'map', items: [] };
  let lineNumber = 0;
  for (const line of data.toString('utf8').split('\n')) {
    lineNumber++;
    if (line === '') continue;
    if (line.startsWith('#')) {
      map.items.push({ kind: 'comment', text: line.slice(1) });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new SopsFormatError(`dotenv line ${lineNumber} has no "="`);
    map.items.push({ kind: 'entry', key: line.slice(0, eq), value: { kind: 'str', value: Buffer.from(line.slice(eq + 1).replaceAll('\\n', '\n'), 'utf8') } });
  }
  return [map];
}

/** The decrypted file as dotenv (`sops -d`): comments kept, newlines written as `\n`. */
export function emitDotenvFile(branches: readonly Branch[]): Buffer {
  const parts: Buffer[] = [];
  for (const item of branches[0]?.items ?? []) {
    if (item.kind === 'comment') {
      parts.push(Buffer.from(`#${item.text}\n`, 'utf8'));
      continue;
    }
    if (item.value.kind === 'map' || item.value.kind === 'list') throw new SopsFormatError(`the dotenv key ${item.key} holds a structure, which dotenv cannot express`);
    const value = Buffer.from(scalarBytes(item.value, 'go').toString('utf8').replaceAll('\n', '\\n'), 'utf8');
    parts.push(Buffer.from(`${item.key}=`, 'utf8'), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

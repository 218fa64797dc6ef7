// yaml.v3's scalar typing (`resolve.go`), which decides what sops hashes for an unencrypted value:
// `0777` is the int 511, `yes` a string, `2001-12-14` a timestamp. The `yaml` package types plain
// scalars by YAML 1.2 rules instead, so the provider reads raw scalar text and types it here.
import { goParseFloat, goParseIntBase0, goParseUintBase0, parseYamlTimestamp } from '../gotypes.js';
import { SopsFormatError } from '../errors.js';
import type { Scalar } from '../tree.js';

const TAG = 'tag:yaml.org,2002:';
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

// A Map, not an object: a scalar such as `toString` must not find Object.prototype's members.
const MAP = new Map<string, Scalar>();
for (const s of ['true', 'True', 'TRUE']) MAP.set(s, { kind: 'bool', value: true });
for (const s of ['false', 'False', 'FALSE']) MAP.set(s, { kind: 'bool', value: false });
for (const s of ['', '~', 'null', 'Null', 'NULL']) MAP.set(s, { kind: 'null' });
for (const s of ['.nan', '.NaN', '.NAN']) MAP.set(s, { kind: 'float', value: NaN });
for (const s of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) MAP.set(s, { kind: 'float', value: Infinity });
for (const s of ['-.inf', '-.Inf', '-.INF']) MAP.set(s, { kind: 'float', value: -Infinity });

/** Where a scalar is, for messages; computed only when one is needed (it costs a scan of the file). */
export type Where = string | (() => string);
const at = (where: Where) => (typeof where === 'string' ? where : where());

/** Thrown for integers yaml.v3 decodes as uint64, which sops's tree walk refuses. */
function tooLarge(where: Where): never {
  throw new SopsFormatError(`${at(where)}: an integer does not fit in int64 (sops refuses it)`);
}

type Hint = 'map' | 'dot' | 'number' | undefined;

/** yaml.v3's resolveTable: the first character decides which resolutions are tried. */
function hintOf(text: string): Hint {
  if (text === '') return 'map';
  const c = text[0]!;
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) return 'number';
  if ('yYnNtTfFoO~'.includes(c)) return 'map';
  if (c === '.') return 'dot';
  return undefined;
}

/** yaml.v3 `resolve("", text)` for a plain scalar (or one tagged int, float, bool, null, timestamp). */
function resolvePlain(text: string, where: Where, allowTimestamp: boolean): Scalar {
  const hint = hintOf(text);
  if (hint === undefined) return { kind: 'str', value: Buffer.from(text, 'utf8') };
  const known = MAP.get(text);
  if (known) return known;
  if (hint === 'dot') {
    const f = goParseFloat(text);
    if (f !== undefined) return { kind: 'float', value: f };
  } else if (hint === 'number') {
    if (allowTimestamp) {
      const t = parseYamlTimestamp(text);
      if (t) return { kind: 'time', value: t };
    }
    const plain = text.replace(/_/g, '');
    const int = goParseIntBase0(plain);
    if (int !== undefined) return { kind: 'int', value: int };
    if (goParseUintBase0(plain) !== undefined) tooLarge(where);
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return { kind: 'float', value: f };
    }
  }
  return { kind: 'str', value: Buffer.from(text, 'utf8') };
}

export interface RawScalar {
  /** The scalar's text after YAML unescaping and folding. */
  text: string;
  /** Plain (unquoted, not a block scalar). */
  plain: boolean;
  /** The explicit tag, long form (`tag:yaml.org,2002:int`), `!`, or a custom tag; undefined when none. */
  tag: string | undefined;
}

/**
 * The Go value yaml.v3 decodes a scalar node to (`decoder.scalar` into interface{}): quoted and
 * block scalars are strings unless explicitly tagged; `!!binary` is base64-decoded.
 */
export function resolveScalar(raw: RawScalar, where: Where): Scalar {
  const tag = raw.tag;
  if (tag === `${TAG}str` || ((tag === undefined || tag === '!') && !raw.plain)) return { kind: 'str', value: Buffer.from(raw.text, 'utf8') };
  if (tag === `${TAG}binary`) {
    const b64 = raw.text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new SopsFormatError(`${at(where)}: !!binary value contains invalid base64 data`);
    return { kind: 'str', value: Buffer.from(b64, 'base64') };
  }
  if (tag === undefined) return resolvePlain(raw.text, where, true);
  const expected = tag.startsWith(TAG) ? tag.slice(TAG.length) : undefined;
  if (expected === undefined || !['int', 'float', 'bool', 'null', 'timestamp'].includes(expected)) {
    // Custom or non-specific tags: yaml.v3 keeps the text as a string.
    return { kind: 'str', value: Buffer.from(raw.text, 'utf8') };
  }
  const resolved = resolvePlain(raw.text, where, expected === 'timestamp');
  const kind = resolved.kind === 'time' ? 'timestamp' : resolved.kind;
  if (kind === expected) return resolved;
  if (expected === 'float' && resolved.kind === 'int') return { kind: 'float', value: Number(resolved.value) };
  throw new SopsFormatError(`${at(where)}: cannot decode a ${kind === 'str' ? 'string' : kind} as !!${expected}`);
}

const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'on', 'On', 'ON', 'off', 'Off', 'OFF']);

/** Whether a string must be quoted so yaml.v3 (and YAML 1.1 readers) read it back as a string. */
export function needsQuotes(text: string): boolean {
  if (OLD_BOOLS.has(text) || /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(text)) return true;
  try {
    return resolvePlain(text, '', true).kind !== 'str';
  } catch {
    return true;
  }
}

// JSON sops files (`stores/json/store.go`): a small tokenizer instead of JSON.parse, because the MAC
// follows document order and JSON.parse moves integer-like keys first and drops duplicates. Numbers
// follow Go: integers that fit int64 are ints, everything else float64. Emitting follows Go's
// json.Marshal + json.Indent with a tab, as `sops -d` prints.
import { SopsFormatError } from '../errors.js';
import { formatRfc3339Nano, goAtoi, goFormatFloat, goParseFloat } from '../gotypes.js';
import type { Branch, ListNode, MapNode, Scalar, TreeNode } from '../tree.js';
import { position } from '../../../position.js';

const MAX_DEPTH = 1000;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class JsonReader {
  #pos = 0;
  constructor(private readonly text: string) {}

  /** A syntax error at a line and column (never the text there). */
  private fail(what: string): never {
    throw new SopsFormatError(`JSON syntax error at ${position(this.text, this.#pos)}: ${what}`);
  }

  /** JSON whitespace. */
  private skip(): void {
    while (this.#pos < this.text.length && ' \t\n\r'.includes(this.text[this.#pos]!)) this.#pos++;
  }

  /** One structural character, or a syntax error. */
  private expect(c: string): void {
    this.skip();
    if (this.text[this.#pos] !== c) this.fail(`expected ${JSON.stringify(c)}`);
    this.#pos++;
  }

  /** A string, decoded as Go does (invalid surrogates become U+FFFD). */
  private string(): string {
    if (this.text[this.#pos] !== '"') this.fail('expected a string');
    this.#pos++;
    let out = '';
    for (;;) {
      const start = this.#pos;
      while (this.#pos < this.text.length && this.text[this.#pos] !== '"' && this.text[this.#pos] !== '\\') {
        if (this.text.charCodeAt(this.#pos) < 0x20) this.fail('control character in a string');
        this.#pos++;
      }
      out += this.text.slice(start, this.#pos);
      if (this.#pos >= this.text.length) this.fail('unterminated string');
      if (this.text[this.#pos] === '"') {
        this.#pos++;
        return out.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      }
      const e = this.text[this.#pos + 1];
      this.#pos += 2;
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === 'u') {
        const hex = this.text.slice(this.#pos, this.#pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.#pos += 4;
      } else this.fail('invalid escape');
    }
  }

  /** true, false, null or a number (int when it fits int64, as sops's json.Number handling). */
  private scalarOrNumber(): Scalar {
    for (const [word, value] of [['true', { kind: 'bool', value: true }], ['false', { kind: 'bool', value: false }], ['null', { kind: 'null' }]] as const) {
      if (this.text.startsWith(word, this.#pos)) {
        this.#pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.#pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('expected a value');
    this.#pos += m[0].length;
    const int = goAtoi(m[0]);
    if (int !== undefined) return { kind: 'int', value: int };
    const float = goParseFloat(m[0]);
    if (float === undefined) this.fail('a number out of range');
    return { kind: 'float', value: float };
  }

  /** Any value, nesting bounded. */
  value(depth: number): TreeNode {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    this.skip();
    const c = this.text[this.#pos];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return { kind: 'str', value: Buffer.from(this.string(), 'utf8') };
    return this.scalarOrNumber();
  }

  /** An object: entries in document order, duplicates kept. */
  object(depth: number): MapNode {
    this.expect('{');
    const map: MapNode = { kind: 'map', items: [] };
    this.skip();
    if (this.text[this.#pos] === '}') {
      this.#pos++;
      return map;
    }
    for (;;) {
      this.skip();
      const key = this.string();
      this.expect(':');
      map.items.push({ kind: 'entry', key, value: this.value(depth) });
      this.skip();
      if (this.text[this.#pos] === ',') this.#pos++;
      else if (this.text[this.#pos] === '}') {
        this.#pos++;
        return map;
      } else this.fail('expected "," or "}"');
    }
  }

  /** An array. */
  array(depth: number): ListNode {
    this.expect('[');
    const list: ListNode = { kind: 'list', items: [] };
    this.skip();
    if (this.text[this.#pos] === ']') {
      this.#pos++;
      return list;
    }
    for (;;) {
      list.items.push(this.value(depth));
      this.skip();
      if (this.text[this.#pos] === ',') this.#pos++;
      else if (this.text[this.#pos] === ']') {
        this.#pos++;
        return list;
      } else this.fail('expected "," or "]"');
    }
  }

  /** The file: exactly one top-level object. */
  document(): Branch {
    this.skip();
    if (this.text[this.#pos] !== '{') this.fail('sops supports only JSON files whose top level is an object');
    const map = this.object(1);
    this.skip();
    if (this.#pos !== this.text.length) this.fail('content after the top-level object');
    return map;
  }
}

/** Parses a JSON sops file (or a binary one, which is JSON) into its single branch. */
export function parseJsonBranches(data: Buffer): Branch[] {
  let text = data.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  return [new JsonReader(text).document()];
}

// ---- emitting -------------------------------------------------------------------------------

/** A JSON string as Go's json.Marshal writes it (HTML characters and U+2028/9 escaped). */
function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A float as Go's encoding/json writes it: positional between 1e-6 and 1e21, else exponent. */
function jsonFloat(value: number): string {
  if (!Number.isFinite(value)) throw new SopsFormatError('a decrypted float (NaN or infinity) cannot be written as JSON');
  const abs = Math.abs(value);
  // Go prints 'e' with at least two exponent digits, then trims "e-07" to "e-7": what toExponential gives.
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) return value.toExponential();
  return goFormatFloat(value);
}

/** A scalar as Go's json.Marshal writes it. */
function scalarJson(value: Scalar): string {
  switch (value.kind) {
    case 'str':
      return quote(value.value.toString('utf8'));
    case 'bytes':
      return quote(value.value.toString('base64'));
    case 'int':
      return value.value.toString();
    case 'float':
      return jsonFloat(value.value);
    case 'bool':
      return value.value ? 'true' : 'false';
    case 'time':
      return quote(formatRfc3339Nano(value.value));
    case 'null':
      return 'null';
  }
}

/** json.Indent's layout with a tab: one item per line, `"key": value`. */
function emit(node: TreeNode, indent: string): string {
  const inner = `${indent}\t`;
  if (node.kind === 'map') {
    const items = node.items.flatMap((i) => (i.kind === 'entry' ? [`${inner}${quote(i.key)}: ${emit(i.value, inner)}`] : []));
    return items.length ? `{\n${items.join(',\n')}\n${indent}}` : '{}';
  }
  if (node.kind === 'list') {
    const items = node.items.flatMap((i) => (i.kind === 'comment' ? [] : [`${inner}${emit(i, inner)}`]));
    return items.length ? `[\n${items.join(',\n')}\n${indent}]` : '[]';
  }
  return scalarJson(node);
}

/** The decrypted file as JSON (`sops -d`): tab-indented, document order, trailing newline. */
export function emitJsonFile(branches: readonly Branch[]): Buffer {
  return Buffer.from(`${emit(branches[0] ?? { kind: 'map', items: [] }, '')}\n`, 'utf8');
}

/** One subtree as JSON (`sops -d --extract`): no trailing newline. */
export function emitJsonValue(node: TreeNode): Buffer {
  return Buffer.from(emit(node, ''), 'utf8');
}

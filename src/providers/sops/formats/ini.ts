// INI sops files (`stores/ini/store.go` over go-ini v1 with AllowNonUniqueSections): sections in
// order (the implicit DEFAULT first), values as strings, a section's comment as its first item and a
// key's comment after the key. Multi-line values may be `"""`-quoted (how sops 3.13.0–3.13.1 wrote
// metadata) or `\n`-escaped (every other version): both read the same.
import { SopsFormatError } from '../errors.js';
import type { Branch, Comment, Entry, MapNode } from '../tree.js';
import { scalarBytes } from './text.js';

const DEFAULT_SECTION = 'DEFAULT';
const DELIMITERS = /[=:]/;

interface IniKey {
  name: string;
  value: string;
  comment: string;
}

interface IniSection {
  name: string;
  comment: string;
  keys: IniKey[];
}

/** A line reader that, like bufio.ReadBytes('\n'), keeps the newline and flags the last line. */
class Lines {
  #pos = 0;
  eof = false;
  number = 0;
  constructor(private readonly text: string) {}
  /** The next line with its newline; the last line (no newline) sets `eof`. */
  next(): string {
    const end = this.text.indexOf('\n', this.#pos);
    this.number++;
    if (end < 0) {
      this.eof = true;
      const rest = this.text.slice(this.#pos);
      this.#pos = this.text.length;
      return rest;
    }
    const line = this.text.slice(this.#pos, end + 1);
    this.#pos = end + 1;
    return line;
  }
}

/** Go's TrimLeftFunc(unicode.IsSpace). */
const trimLeft = (s: string) => s.replace(/^\s+/, '');

/** From the first `#` or `;` on (go-ini's cleanComment). */
function commentPart(s: string): string | undefined {
  const i = s.search(/[#;]/);
  return i < 0 ? undefined : s.slice(i);
}

/** go-ini's hasSurroundedQuote: quoted at both ends and nowhere else. */
function surrounded(s: string, q: string): boolean {
  return s.length >= 2 && s[0] === q && s[s.length - 1] === q && s.indexOf(q, 1) === s.length - 1;
}

class IniParser {
  readonly sections: IniSection[] = [{ name: DEFAULT_SECTION, comment: '', keys: [] }];
  #comment = '';
  #count = 1;
  constructor(private readonly lines: Lines) {}

  /** A syntax error with its line number (never the line's text: it may hold a value). */
  private fail(what: string): never {
    throw new SopsFormatError(`INI syntax error at line ${this.lines.number}: ${what}`);
  }

  /** go-ini's readKeyName: the key (optionally quoted) and where its value starts. */
  private keyName(line: string): [string, number] {
    let quote = '';
    if (line[0] === '"') quote = line.length > 6 && line.startsWith('"""') ? '"""' : '"';
    else if (line[0] === '`') quote = '`';
    if (quote) {
      const close = line.indexOf(quote, quote.length);
      if (close < 0) this.fail('missing closing key quote');
      const i = line.slice(close + quote.length).search(DELIMITERS);
      if (i < 0) this.fail('no "=" or ":" after the key');
      return [line.slice(quote.length, close).trim(), close + i + quote.length + 1];
    }
    const end = line.search(DELIMITERS);
    if (end < 0) this.fail('a line that is neither a section, a comment nor key = value');
    if (end === 0) this.fail('an empty key name');
    return [line.slice(0, end).trim(), end + 1];
  }

  /** A `"""` or backquoted value spanning lines, up to the closing quote. */
  private multiline(first: string, quote: string): string {
    let value = first;
    for (;;) {
      const next = this.lines.next();
      const pos = next.lastIndexOf(quote);
      if (pos > -1) {
        const comment = commentPart(next.slice(pos));
        if (comment) this.#comment += comment.trim();
        return value + next.slice(0, pos);
      }
      value += next;
      if (this.lines.eof) this.fail(`missing closing ${quote}`);
    }
  }

  /** Lines joined by a trailing backslash. */
  private continuation(first: string): string {
    let value = first;
    for (;;) {
      const next = this.lines.next().trim();
      if (next === '') return value;
      value += next;
      if (!value.endsWith('\\')) return value;
      value = value.slice(0, -1);
    }
  }

  /** go-ini's readValue: quotes, continuation, inline comments (which become the key's comment). */
  private value(input: string): string {
    let line = trimLeft(input);
    if (line === '') return '';
    const quote = line.length > 3 && line.startsWith('"""') ? '"""' : line[0] === '`' ? '`' : '';
    if (quote) {
      const pos = line.slice(quote.length).lastIndexOf(quote);
      if (pos < 0) return this.multiline(line.slice(quote.length), quote);
      return line.slice(quote.length, quote.length + pos);
    }
    line = line.trim();
    if (line.endsWith('\\')) return this.continuation(line.slice(0, -1));
    const i = line.search(/[#;]/);
    if (i > -1) {
      this.#comment += line.slice(i);
      line = line.slice(0, i).trim();
    }
    if (surrounded(line, "'") || surrounded(line, '"')) line = line.slice(1, -1);
    return line;
  }

  /** The whole file: sections in order, DEFAULT first, comments attached as go-ini attaches them. */
  parse(): IniSection[] {
    let section = this.sections[0]!;
    while (!this.lines.eof) {
      const line = trimLeft(this.lines.next());
      if (line === '') continue;
      if (line[0] === '#' || line[0] === ';') {
        this.#comment += line;
        continue;
      }
      if (line[0] === '[') {
        const close = line.lastIndexOf(']');
        if (close < 0) this.fail('an unclosed section header');
        const name = line.slice(1, close);
        if (name === '') this.fail('an empty section name');
        const trailing = commentPart(line.slice(close + 1));
        if (trailing) this.#comment += trailing;
        section = { name, comment: this.#comment.trim(), keys: [] };
        this.sections.push(section);
        this.#comment = '';
        this.#count = 1;
        continue;
      }
      let [name, offset] = this.keyName(line);
      if (name === '-') name = `#${this.#count++}`;
      const value = this.value(line.slice(offset));
      if (name === '') this.fail('an empty key name');
      // A repeated key keeps its first position and takes the last value (go-ini without shadows).
      let key = section.keys.find((k) => k.name === name);
      if (key) key.value = value;
      else section.keys.push((key = { name, value, comment: '' }));
      key.comment = this.#comment.trim();
      this.#comment = '';
    }
    return this.sections;
  }
}

/** go-ini keeps the comment character; sops strips it (`stripCommentChar`). */
function stripCommentChar(comment: string): string {
  if (comment.startsWith(';')) return comment.replace(/^[; ]+/, '');
  if (comment.startsWith('#')) return comment.replace(/^[# ]+/, '');
  return comment;
}

/** Parses an INI sops file into its single branch: one entry per section. */
export function parseIniBranches(data: Buffer): Branch[] {
  let text = data.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const sections = new IniParser(new Lines(text)).parse();
  const branch: MapNode = { kind: 'map', items: [] };
  for (const section of sections) {
    const items: MapNode['items'] = [];
    if (section.comment) items.push({ kind: 'comment', text: stripCommentChar(section.comment) });
    for (const key of section.keys) {
      items.push({ kind: 'entry', key: key.name, value: { kind: 'str', value: Buffer.from(key.value, 'utf8') } });
      if (key.comment) items.push({ kind: 'comment', text: stripCommentChar(key.comment) });
    }
    branch.items.push({ kind: 'entry', key: section.name, value: { kind: 'map', items } });
  }
  return [branch];
}

// ---- emitting -------------------------------------------------------------------------------

/** go-ini's comment lines: `; text`, or the original `#`/`;` with one space. */
function commentLines(comment: string): string {
  return comment
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (l[0] === '#' || l[0] === ';' ? `${l[0]} ${l.slice(1).trim()}` : `; ${l.trim()}`))
    .map((l) => `${l}\n`)
    .join('');
}

/** go-ini's key quoting (backquotes for `"`, `=` or `:`; triple quotes for a backquote). */
function keyText(name: string): string {
  if (name.includes('"') || /[=:]/.test(name)) return `\`${name}\``;
  if (name.includes('`')) return `"""${name}"""`;
  return name;
}

/** go-ini's value quoting, so the written file reads back the same. */
function valueText(value: string): string {
  if (/[\n`]/.test(value)) return `"""${value}"""`;
  if (/[#;]/.test(value)) return `\`${value}\``;
  if (value.trim().length !== value.length) return `"${value}"`;
  return value;
}

/** The decrypted file as INI (go-ini's writer: aligned `=`, a blank line between sections). */
export function emitIniFile(branches: readonly Branch[]): Buffer {
  const sections = (branches[0]?.items ?? []).filter((i): i is Entry => i.kind === 'entry');
  let out = '';
  sections.forEach((section, index) => {
    if (section.value.kind !== 'map') throw new SopsFormatError(`the INI section ${section.key} is not a section`);
    const items = section.value.items;
    let first = 0;
    if (items[0]?.kind === 'comment') {
      out += commentLines(items[0].text);
      first = 1;
    }
    const keys: { name: string; value: string; comment?: string }[] = [];
    for (const item of items.slice(first)) {
      if (item.kind === 'comment') {
        const last = keys.at(-1);
        if (last) last.comment = (item as Comment).text;
        continue;
      }
      if (item.value.kind === 'map' || item.value.kind === 'list') throw new SopsFormatError(`the INI key ${section.key}/${item.key} holds a structure`);
      keys.push({ name: item.key, value: scalarBytes(item.value, 'go').toString('utf8') });
    }
    if (index > 0 || section.key.toUpperCase() !== DEFAULT_SECTION) out += `[${section.key}]\n`;
    else if (keys.length === 0) return;
    const width = Math.max(0, ...keys.map((k) => keyText(k.name).length));
    for (const key of keys) {
      if (key.comment) out += commentLines(key.comment);
      const name = keyText(key.name);
      out += `${name}${' '.repeat(width - name.length)} = ${valueText(key.value)}\n`;
    }
    if (index < sections.length - 1) out += '\n';
  });
  return Buffer.from(out, 'utf8');
}

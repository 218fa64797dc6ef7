// 1Password secret references, `op://vault/item/[section/]field[?query]`, read without the SDK: the
// cases its own validator lets through (an empty vault, item, section or field: `op://v//f`,
// `op:///i/f`, a trailing slash) are refused here, at load time, before anything else runs.

export interface ParsedReference {
  vault: string;
  item: string;
  section?: string;
  /** The field, or the file's name for `kind: "file"`. */
  field: string;
  /** The text after `?` (`attribute=otp`, `ssh-format=openssh`), when there is one. */
  query?: string;
}

const SEGMENTS = ['vault', 'item', 'field'] as const;
const SEGMENTS_WITH_SECTION = ['vault', 'item', 'section', 'field'] as const;

/** The syntax every reference must have: `op://` and three or four non-empty segments. */
export const REFERENCE_FORM = 'op://<vault>/<item>/[<section>/]<field>';

// Why our own parser beside the SDK's validator: it is local and light (no 14 MB WASM at load
// time), and it names the segment that is wrong; the SDK's validator still runs before any call.
/** Splits a reference into its segments, or says (without quoting it) what is wrong with it. */
export function parseReference(reference: string): ParsedReference | { error: string } {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(reference)) return { error: `contains a control character (a newline?); expected ${REFERENCE_FORM}` };
  if (!reference.startsWith('op://')) return { error: `does not start with "op://"; expected ${REFERENCE_FORM}` };
  const rest = reference.slice('op://'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? undefined : rest.slice(q + 1);
  const parts = path.split('/');
  if (parts.length < 3 || parts.length > 4) {
    return { error: `has ${parts.length} segment${parts.length === 1 ? '' : 's'}; expected ${REFERENCE_FORM}` };
  }
  const names = parts.length === 3 ? SEGMENTS : SEGMENTS_WITH_SECTION;
  const empty = parts.findIndex((p) => p.trim() === '');
  if (empty >= 0) return { error: `has an empty ${names[empty]} segment; expected ${REFERENCE_FORM}` };
  if (query !== undefined && query === '') return { error: 'ends with "?" but has no query (expected e.g. ?attribute=otp)' };
  const [vault, item] = parts as [string, string];
  return parts.length === 3
    ? { vault, item, field: parts[2]!, ...(query !== undefined ? { query } : {}) }
    : { vault, item, section: parts[2]!, field: parts[3]!, ...(query !== undefined ? { query } : {}) };
}

// Template syntax: `{{ name }}` inserts the secret `name`; `\{{` is a literal `{{`.
// Parsed once at load time so unknown names fail `check`, not the boot.

export type TemplatePart = { text: string } | { secret: string };

const TOKEN = /\\\{\{|\{\{\s*([^\s{}]+)\s*\}\}/g;

export function parseTemplate(content: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  let text = '';
  for (const match of content.matchAll(TOKEN)) {
    text += content.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[1] === undefined) {
      text += '{{';
      continue;
    }
    if (text) parts.push({ text });
    text = '';
    parts.push({ secret: match[1] });
  }
  text += content.slice(last);
  if (text) parts.push({ text });
  return parts;
}

export function templateSecrets(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ('secret' in p ? [p.secret] : [])))];
}

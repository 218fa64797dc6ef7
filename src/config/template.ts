// Template syntax: `{{ name }}` inserts the secret `name` (everything between the braces, trimmed:
// names may contain spaces); `\{{` is a literal `{{`. Any other `{{` is an error, not text, so a
// typo never ships a half-rendered file. Parsed once at load time so problems fail `check`, not the boot.

export type TemplatePart = { text: string } | { secret: string };

const TOKEN = /\\\{\{|\{\{([^{}]*)\}\}|\{\{/g;

export function parseTemplate(content: string): { parts: TemplatePart[]; problems: string[] } {
  const parts: TemplatePart[] = [];
  const problems: string[] = [];
  let last = 0;
  let text = '';
  for (const match of content.matchAll(TOKEN)) {
    text += content.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[0] === '\\{{') {
      text += '{{';
      continue;
    }
    const name = match[1]?.trim();
    if (!name) {
      problems.push(match[1] === undefined ? `has "{{" without a matching "}}" at character ${match.index + 1} (write \\{{ for a literal "{{")` : `has an empty placeholder at character ${match.index + 1}`);
      continue;
    }
    if (text) parts.push({ text });
    text = '';
    parts.push({ secret: name });
  }
  text += content.slice(last);
  if (text) parts.push({ text });
  return { parts, problems };
}

export function templateSecrets(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ('secret' in p ? [p.secret] : [])))];
}

// Renders a template's parts with the fetched values, as bytes (a value is never turned into a string).
import type { TemplatePart } from '../config/template.js';

export function renderTemplate(parts: readonly TemplatePart[], values: ReadonlyMap<string, Buffer>): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if ('text' in part) chunks.push(Buffer.from(part.text));
    else {
      const value = values.get(part.secret);
      if (!value) throw new Error(`template uses ${part.secret}, which has no value`);
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}

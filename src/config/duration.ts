// Durations in secrets.json, as systemd writes them: "30d", "12h", "90min", "1d 12h", or a number of
// seconds. One parser, so a typo is an error at its JSON path, never a silent zero.
const UNITS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600, d: 86400, w: 604800 };

/** Milliseconds of a duration, or undefined when it is not one. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value * 1000 : undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const m = /^(\d+)\s*(w|d|hr|h|min|m|sec|s)\s*/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total * 1000;
}

/** The inverse, for messages: 2592000000 → "30d", 5400000 → "1h 30min", 2000 → "2s"; `units` keeps the largest few. */
export function formatDuration(ms: number, units = 4): string {
  let rest = Math.round(ms / 1000);
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, units).join(' ');
}

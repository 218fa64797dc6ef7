// Go's strconv and time conversions, as sops uses them. The MAC hashes each value in its Go string
// form (`strconv.Itoa`, `FormatFloat(v,'f',-1,64)`, `True`/`False`, RFC 3339 with nanoseconds), so
// parsing and printing must match Go byte for byte, not JavaScript's defaults.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** `strconv.Atoi` (64-bit): base 10, optional sign, no underscores; undefined when invalid or out of range. */
export function goAtoi(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** Digits of `s` in `base`, as Go's ParseUint accepts them (no sign, no underscores). */
function parseDigits(s: string, base: number): bigint | undefined {
  if (s === '') return undefined;
  const valid = base === 2 ? /^[01]+$/ : base === 8 ? /^[0-7]+$/ : base === 10 ? /^[0-9]+$/ : /^[0-9a-fA-F]+$/;
  if (!valid.test(s)) return undefined;
  const prefix = base === 2 ? '0b' : base === 8 ? '0o' : base === 16 ? '0x' : '';
  return BigInt(prefix + s);
}

/** `strconv.ParseUint(s, 0, 64)`: prefixes 0x, 0o, 0b and a leading 0 for octal. */
export function goParseUintBase0(s: string): bigint | undefined {
  if (s === '') return undefined;
  let base = 10;
  let digits = s;
  if (s[0] === '0') {
    const p = s[1]?.toLowerCase();
    if (s.length >= 3 && p === 'b') [base, digits] = [2, s.slice(2)];
    else if (s.length >= 3 && p === 'o') [base, digits] = [8, s.slice(2)];
    else if (s.length >= 3 && p === 'x') [base, digits] = [16, s.slice(2)];
    else [base, digits] = [8, s.slice(1)];
    if (digits === '') return 0n; // "0" alone
  }
  const value = parseDigits(digits, base);
  return value === undefined || value > UINT64_MAX ? undefined : value;
}

/** `strconv.ParseInt(s, 0, 64)`: a sign, then ParseUint's syntax; undefined outside int64. */
export function goParseIntBase0(s: string): bigint | undefined {
  const negative = s.startsWith('-');
  const body = s.startsWith('-') || s.startsWith('+') ? s.slice(1) : s;
  const magnitude = goParseUintBase0(body);
  if (magnitude === undefined) return undefined;
  const value = negative ? -magnitude : magnitude;
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

const DECIMAL_FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]((?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*)|(?:\.[0-9a-fA-F_]+))[pP]([+-]?[0-9]+)$/;

/** `strconv.ParseFloat(s, 64)`: decimal, hexadecimal (`0x1p-2`), inf/infinity/nan; undefined on error or overflow. */
export function goParseFloat(s: string): number | undefined {
  const special = /^([+-]?)(inf|infinity)$/i.exec(s);
  if (special) return special[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  let value: number;
  if (DECIMAL_FLOAT.test(s)) value = Number(s);
  else {
    const hex = HEX_FLOAT.exec(s);
    if (!hex) return undefined;
    // Underscores only between digits (the base prefix counts as one), as Go's underscoreOK.
    if (/__|_\.|\._|_$/.test(hex[2]!)) return undefined;
    const [whole = '', fraction = ''] = hex[2]!.replace(/_/g, '').split('.');
    const mantissa = BigInt(`0x${whole + fraction || '0'}`);
    const exponent = Number(hex[3]) - 4 * fraction.length;
    value = Number(mantissa) * 2 ** exponent;
    if (!Number.isFinite(value) && mantissa !== 0n) return undefined;
    if (hex[1] === '-') value = -value;
  }
  return Number.isFinite(value) ? value : undefined;
}

/** `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that round-trip, never an exponent. */
export function goFormatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  // toExponential() without digits gives the shortest round-trip digits, like Go's shortest mode.
  const [mantissa, exp] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (digits === '0') return `${sign}0`;
  if (e >= 0) {
    const whole = digits.length > e + 1 ? digits.slice(0, e + 1) : digits.padEnd(e + 1, '0');
    const fraction = digits.slice(e + 1);
    return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
  }
  return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
}

/** `strconv.ParseBool`. */
export function goParseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** A wall-clock time with its UTC offset, as Go's time.Time keeps it (nanosecond precision). */
export interface GoTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** Offset from UTC in seconds; 0 formats as `Z`. */
  offset: number;
}

/** Days in a month, leap years included (Go refuses February 30 as "day out of range"). */
function daysIn(month: number, year: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The range checks Go's time.Parse applies; undefined when a field is out of range. */
function validTime(t: GoTime): GoTime | undefined {
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > daysIn(t.month, t.year)) return undefined;
  if (t.hour > 23 || t.minute > 59 || t.second > 59) return undefined;
  return t;
}

/** Nanoseconds from the digits after the decimal point (Go keeps at most nine, truncating). */
function nanos(fraction: string | undefined): number {
  return fraction ? Number(fraction.slice(0, 9).padEnd(9, '0')) : 0;
}

/** `Z` or `±hh:mm` as seconds east of UTC. */
function zoneOffset(zone: string | undefined): number {
  if (!zone || zone === 'Z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
}

/** Go's `time.Parse(time.RFC3339, s)` for well-formed input (fractional seconds accepted). */
export function parseRfc3339(s: string): GoTime | undefined {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})$/.exec(s);
  if (!m) return undefined;
  const offsetHours = m[8] === 'Z' ? 0 : Number(m[8]!.slice(1, 3));
  const offsetMinutes = m[8] === 'Z' ? 0 : Number(m[8]!.slice(4, 6));
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  return fromFields(m, m[8]);
}

/** A time from the groups year, month, day, hour, minute, second, fraction of the RFC 3339-like patterns. */
function fromFields(m: RegExpExecArray, zone: string | undefined): GoTime | undefined {
  return validTime({
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
    nanosecond: nanos(m[7]),
    offset: zoneOffset(zone),
  });
}

/**
 * yaml.v3's timestamp forms (`resolve.go` allowedTimestampFormats): RFC 3339 with one- or two-digit
 * fields and `T` or `t`, `2006-1-2 15:4:5.999999999` (UTC) and a bare date (UTC midnight).
 */
export function parseYamlTimestamp(s: string): GoTime | undefined {
  const withZone = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})$/.exec(s);
  const spaced = withZone ? null : /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?()$/.exec(s);
  const m = withZone ?? spaced;
  if (m) return fromFields(m, m[8] || undefined);
  const date = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$/.exec(s);
  if (!date) return undefined;
  return validTime({ year: Number(date[1]), month: Number(date[2]), day: Number(date[3]), hour: 0, minute: 0, second: 0, nanosecond: 0, offset: 0 });
}

/** Zero-padded decimal, as Go's layouts print fields. */
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Go's `Z07:00`: `Z` for a zero offset, else `±hh:mm`. */
function formatZone(offset: number): string {
  if (offset === 0) return 'Z';
  const abs = Math.abs(offset);
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600))}:${pad(Math.floor((abs % 3600) / 60))}`;
}

/** `t.Format(time.RFC3339)`: whole seconds, `Z` for a zero offset (the MAC's additional data). */
export function formatRfc3339(t: GoTime): string {
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}${formatZone(t.offset)}`;
}

/** `t.MarshalText()` (RFC 3339 with nanoseconds, trailing zeros dropped): how sops hashes a time. */
export function formatRfc3339Nano(t: GoTime): string {
  const fraction = t.nanosecond ? `.${String(t.nanosecond).padStart(9, '0').replace(/0+$/, '')}` : '';
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}${fraction}${formatZone(t.offset)}`;
}

// node:crypto calls with a Buffer, string or JWK key, made without capturing stack traces.

// Whether stack traces can be turned off around a call (not when intrinsics are frozen).
const TRIMMABLE = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * Runs a node:crypto call without capturing stack traces. Why: from Node 22 on, node:crypto tells a
 * Buffer or JWK key from a KeyObject or CryptoKey by letting internal checks throw, and every throw
 * captures a stack trace. That made an HMAC, a cipher or a public key from bytes cost 20–50 µs
 * instead of 2–8 µs (Node 24.21): four fifths of age's per-file work, and a cost per value for the
 * digests, sops values and Bitwarden items. What the call itself throws has no stack then; every
 * caller maps it to its own error.
 */
export function untraced<T>(call: () => T): T {
  if (!TRIMMABLE) return call();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return call();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

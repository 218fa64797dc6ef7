// Shamir secret sharing over GF(2^8) as sops uses it (`shamir/shamir.go`, from HashiCorp Vault):
// the AES field (polynomial x^8+x^4+x^3+x+1, 0x11B); a share is one polynomial value per secret byte
// followed by its x coordinate. Combining is Lagrange interpolation at x = 0.

/** Multiplication in GF(2^8) mod 0x11B, without data-dependent branches (the shares are secret). */
export function gfMul(a: number, b: number): number {
  let acc = 0;
  for (let i = 7; i >= 0; i--) {
    const bit = (b >> i) & 1;
    const reduce = -(acc >> 7) & 0x1b;
    acc = ((-bit & a) ^ reduce ^ (acc << 1)) & 0xff;
  }
  return acc;
}

/** The multiplicative inverse: a^254 (a^255 = 1 for a ≠ 0). */
export function gfInverse(a: number): number {
  if (a === 0) throw new ShamirError('zero has no inverse');
  let result = 1;
  let base = a;
  for (let e = 254; e > 0; e >>= 1) {
    if (e & 1) result = gfMul(result, base);
    base = gfMul(base, base);
  }
  return result;
}

export class ShamirError extends Error {
  override name = 'ShamirError';
}

/** Recovers the secret from at least two shares of one split (`shamir.Combine`). */
export function combine(shares: readonly Uint8Array[]): Buffer {
  if (shares.length < 2) throw new ShamirError('at least two shares are needed');
  const length = shares[0]!.length;
  if (length < 2) throw new ShamirError('a share must be at least two bytes');
  if (shares.some((s) => s.length !== length)) throw new ShamirError('the shares have different lengths');
  const xs = shares.map((s) => s[length - 1]!);
  if (new Set(xs).size !== xs.length) throw new ShamirError('two shares have the same x coordinate');
  if (xs.includes(0)) throw new ShamirError('a share has x = 0');
  // Lagrange basis at 0: Π_{j≠i} x_j / (x_i ⊕ x_j); it depends only on the xs.
  const basis = xs.map((xi, i) => xs.reduce((acc, xj, j) => (i === j ? acc : gfMul(acc, gfMul(xj, gfInverse(xi ^ xj)))), 1));
  const secret = Buffer.alloc(length - 1);
  for (let byte = 0; byte < secret.length; byte++) {
    let value = 0;
    shares.forEach((share, i) => (value ^= gfMul(share[byte]!, basis[i]!)));
    secret[byte] = value;
  }
  return secret;
}

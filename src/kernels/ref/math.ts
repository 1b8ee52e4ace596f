/**
 * Scalar math the JS Math object lacks, accurate to float64 so that float32
 * kernels built on it round correctly.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/**
 * The error function.
 *
 * |x| < 2.5: the Maclaurin series 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1)). Its
 * largest term is below 90 there, so cancellation costs under two of the 16
 * digits; terms fall under 1e-17 of the sum well before 60 of them.
 *
 * |x| ≥ 2.5: 1 - erfc(x) with Laplace's continued fraction
 * erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated
 * bottom-up from a fixed depth; at x = 2.5 the error after 80 levels is far
 * below float64 resolution of 1 - erfc, and it only gets better as x grows.
 * Beyond |x| = 6 erfc < 3e-17, so erf is ±1 in float64.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return x > 0 ? 1 : -1;
  if (ax < 2.5) {
    const x2 = x * x;
    let term = x; // (-1)^n x^(2n+1) / n!
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  let frac = 0;
  for (let n = 80; n >= 1; n--) frac = (n / 2) / (ax + frac);
  const erfc = (Math.exp(-ax * ax) * ONE_OVER_SQRT_PI) / (ax + frac);
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** Rounds to the nearest integer, ties to even (IEEE roundTiesToEven, numpy.round), keeping the sign of zero. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  const diff = x - floor;
  let r: number;
  if (diff > 0.5) r = floor + 1;
  else if (diff < 0.5) r = floor;
  else r = floor % 2 === 0 ? floor : floor + 1;
  return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
}

/** Logistic sigmoid, without overflow of exp for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + e^x) without overflow for large x or loss for very negative x. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * base^exp for int32 wrapping (two's complement, like C on int32_t) by
 * square-and-multiply with Math.imul. A negative exponent gives the truncated
 * real result: 1 for base 1, ±1 for base -1, 0 otherwise (and 0 for base 0,
 * where C would divide by zero).
 */
export function powInt32(base: number, exp: number): number {
  if (exp < 0) {
    if (base === 1) return 1;
    if (base === -1) return exp % 2 === 0 ? 1 : -1;
    return 0;
  }
  let result = 1;
  let b = base | 0;
  let e = exp;
  while (e > 0) {
    if (e % 2 === 1) result = Math.imul(result, b);
    b = Math.imul(b, b);
    e = Math.floor(e / 2);
  }
  return result;
}

/** base^exp wrapped to int64, as powInt32 but on BigInt. */
export function powInt64(base: bigint, exp: bigint): bigint {
  if (exp < 0n) {
    if (base === 1n) return 1n;
    if (base === -1n) return exp % 2n === 0n ? 1n : -1n;
    return 0n;
  }
  let result = 1n;
  let b = base;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = BigInt.asIntN(64, result * b);
    b = BigInt.asIntN(64, b * b);
    e >>= 1n;
  }
  return result;
}

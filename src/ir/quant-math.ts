/**
 * The two pieces of TFLite's integer arithmetic that the reference kernels
 * (kernels/ref/int8/requantize.ts) and the C emitter (codegen/) both compute
 * at prepare time, kept here so that each side imports the one definition:
 * C's rounding half away from zero, and QuantizeMultiplier.
 */
import { CloudlessError } from './errors.js';

const TWO_31 = 2147483648;

/** Round to nearest integer, ties away from zero (C's std::round / TfLiteRound). */
export function roundHalfAway(v: number): number {
  const a = Math.abs(v);
  let r = Math.floor(a);
  if (a - r >= 0.5) r += 1;
  return v < 0 ? -r : r;
}

/** A real multiplier as m · 2^(shift − 31), with m in [2^30, 2^31) (or 0). */
export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/**
 * TFLite's QuantizeMultiplier: frexp splits `real` into q · 2^shift with |q| in
 * [0.5, 1); q · 2^31 is rounded half away from zero. A q that rounds up to 2^31
 * is halved with the shift raised (a negative one may reach −2^31, which int32
 * holds), and factors below ~2^-32 flush to zero. Negative factors occur in
 * LEAKY_RELU with a negative alpha.
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (real === 0) return { multiplier: 0, shift: 0 };
  if (!Number.isFinite(real)) {
    throw new CloudlessError('E_INTERNAL', `cannot quantize the multiplier ${real}: it must be finite`);
  }
  const magnitude = Math.abs(real);
  let shift = Math.floor(Math.log2(magnitude)) + 1;
  let q = magnitude / 2 ** shift;
  // log2 of a double can be off by one ulp near powers of two; fix the exponent exactly.
  while (q >= 1) { q /= 2; shift++; }
  while (q < 0.5) { q *= 2; shift--; }
  let fixed = roundHalfAway(q * TWO_31);
  if (fixed === TWO_31 && real > 0) { fixed /= 2; shift++; }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: real > 0 ? fixed : -fixed, shift };
}

/**
 * XNNPACK's qs8 → qs8 convert multiplier, lrintf(256 · fl(s_in / s_out)), where
 * XNNPACK takes the ratio ([2^-8, 2^7]); undefined outside (TFLite's own
 * Requantize runs there).
 */
export function xnnpackConvertMultiplier(inputScale: number, outputScale: number): number | undefined {
  const ratio = Math.fround(inputScale / outputScale);
  if (!(ratio >= 2 ** -8 && ratio <= 2 ** 7)) return undefined;
  const v = 256 * ratio;
  const f = Math.floor(v);
  return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v);
}

/**
 * The int8 requantization arithmetic of cloudless, in one place.
 *
 * Every int8 kernel ends the same way: an exact integer accumulator is scaled
 * by a real factor (input scales over output scale), rounded, offset by the
 * output zero point and clamped. Runtimes that all follow "the TFLite int8
 * spec" differ in how they do this by up to 1 LSB, so cloudless implements two
 * named arithmetics (docs/int8.md) and every kernel calls the functions here:
 *
 * - `tflite-reference`: TFLite's reference integer kernels (and TFLite Micro).
 *   The real factor, computed in double, becomes a 31-bit fixed-point
 *   multiplier and a power-of-two shift (quantizeMultiplier). Requantizing is a
 *   rounding doubling high multiply followed by a rounding right shift
 *   (multiplyByQuantizedMultiplier): two roundings, both ties away from zero.
 * - `tflite-xnnpack`: what TFLite's default XNNPACK delegate computes. The
 *   factor is a float32 product/quotient of float32 scales; the accumulator is
 *   converted to float32, multiplied once and rounded half to even
 *   (requantizeFloat).
 *
 * JavaScript numbers are doubles, so C's float32 arithmetic is reproduced by
 * rounding after every single operation with `fl` (Math.fround), and the
 * 64-bit products of the fixed-point path are formed from 16-bit halves so
 * that nothing exceeds 2^53 (no BigInt on the hot path).
 */
import { CloudlessError, type Node, type QuantParams, type ValueInfo } from '../../../ir/index.js';
import { attrString } from '../../../ir/attrs.js';
import { quantizeMultiplier, roundHalfAway } from '../../../ir/quant-math.js';

export { type QuantizedMultiplier, quantizeMultiplier, roundHalfAway } from '../../../ir/quant-math.js';

export const INT8_MIN = -128;
export const INT8_MAX = 127;
export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const TWO_31 = 2147483648;

/** Rounds to float32 (nearest even): what a C `float` holds after each operation. */
export const fl = Math.fround;

/** Round to nearest integer, ties to even (XNNPACK, ONNX). */
export function rne(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}


export function clampInt(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------
// tflite-reference: fixed-point multipliers
// ---------------------------------------------------------------------------

// QuantizeMultiplier and C's rounding live in ir/quant-math.ts (the C emitter computes them too).

/**
 * gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2·a·b,
 * rounded to nearest with ties away from zero (the nudge, then C's truncating
 * division). a·b can reach 2^62, so it is formed as a·bh·2^16 + a·bl and the
 * division by 2^31 is carried out on the two parts.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const bl = b & 0xffff;
  const bh = (b - bl) / 65536;
  const p1 = a * bh; // |p1| <= 2^46: exact
  const p2 = a * bl; // |p2| <  2^47: exact
  const negative = (a < 0) !== (b < 0) && a !== 0 && b !== 0;
  const nudge = negative ? 1 - 2 ** 30 : 2 ** 30;
  // p1·2^16 = q1·2^31 + r1·2^16 with r1 in [0, 2^15).
  const q1 = Math.floor(p1 / 32768);
  const r1 = p1 - q1 * 32768;
  const rest = r1 * 65536 + p2 + nudge; // exact: < 2^48
  const qr = Math.floor(rest / TWO_31);
  const floorQ = q1 + qr;
  const rem = rest - qr * TWO_31;
  // Truncation toward zero: a negative quotient with a remainder rounds up.
  return floorQ < 0 && rem !== 0 ? floorQ + 1 : floorQ;
}

/** gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const mask = exponent >= 31 ? 0x7fffffff : (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLite's (double-rounding) MultiplyByQuantizedMultiplier: x · m · 2^(shift − 31).
 * A positive shift is applied before the high multiply as an int32 left shift
 * (wrapping like the C code), a negative one after it as a rounding shift.
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(left > 0 ? Math.imul(x, 1 << left) : x, multiplier), right);
}

/**
 * TFLite's MultiplyByQuantizedMultiplier for an int64 accumulator (the 16x8
 * kernels' epilogue): the 31-bit multiplier is first rounded to 15 bits,
 * m' = (m + 2^15) >> 16 (0x7FFF when m ≥ 0x7FFF0000), and then
 * (x · m' + 2^(t−1)) >> t with t = 15 − shift: one rounding, ties toward +∞
 * (an arithmetic shift floors). |x| < 2^47, so x · m' reaches 2^62: it is
 * formed as xh · m' · 2^16 + xl · m' and shifted in two steps, exactly.
 */
export function multiplyByQuantizedMultiplierWide(x: number, multiplier: number, shift: number): number {
  const m = multiplier < 0x7fff0000 ? Math.floor((multiplier + 32768) / 65536) : 0x7fff;
  const t = 15 - shift;
  const xl = ((x % 65536) + 65536) % 65536;
  const xh = (x - xl) / 65536; // exact: |xh| < 2^31
  const high = xh * m; // exact: < 2^46
  const low = xl * m + 2 ** (t - 1); // exact: < 2^31 + 2^45
  // x·m' + round = (high + q)·2^16 + r with 0 ≤ r < 2^16.
  const q = Math.floor(low / 65536);
  const r = low - q * 65536;
  const n = high + q;
  if (t >= 16) return Math.floor(n / 2 ** (t - 16));
  return n * 2 ** (16 - t) + Math.floor(r / 2 ** t);
}

/**
 * x · m · 2^(shift − 31) rounded once, ties away from zero, with the full
 * 31-bit multiplier: the epilogue LiteRT.js applies to 16x8 FULLY_CONNECTED
 * (measured: it rounds ties away from zero and keeps bits the 15-bit
 * multiplier of multiplyByQuantizedMultiplierWide would lose). BigInt: the
 * product reaches 2^78.
 */
export function multiplyByQuantizedMultiplierAway(x: number, multiplier: number, shift: number): number {
  const t = BigInt(31 - shift);
  const half = 1n << (t - 1n);
  const p = BigInt(x) * BigInt(multiplier);
  return Number(p >= 0n ? (p + half) >> t : -((-p + half) >> t));
}

// ---------------------------------------------------------------------------
// tflite-xnnpack: float epilogue
// ---------------------------------------------------------------------------

/** XNNPACK's requantization: round_half_even(fl(fl(acc) · scale)) + zeroPoint, clamped. */
export function requantizeFloat(acc: number, scale: number, zeroPoint: number, lo: number, hi: number): number {
  return clampInt(rne(fl(fl(acc) * scale)) + zeroPoint, lo, hi);
}

// ---------------------------------------------------------------------------
// Quantization parameters and fused activations
// ---------------------------------------------------------------------------

/** Scale and zero point of a per-tensor quantized value, or an error naming the node and what is missing. */
export function tensorQuant(node: Node, info: ValueInfo | undefined, what: string): { scale: number; zeroPoint: number } {
  const q = info?.quant;
  if (!q || q.scale.length === 0) {
    throw new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${what} is int8 without quantization parameters`, {
      node: node.name, hint: 'int8 kernels need the scale and zero point of every int8 input and output',
    });
  }
  if (q.scale.length !== 1) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): ${what} has ${q.scale.length} scales; this op takes per-tensor quantization only`, { node: node.name });
  }
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 };
}

/** Whether an int8 value has one scale and zero point (what most int8 kernels need). */
export function hasTensorQuant(info: ValueInfo | undefined): boolean {
  return !!info && info.dtype === 'int8' && !!info.quant && info.quant.scale.length === 1;
}

/** A `check()` reason unless `info` is int16 with one scale and zero point 0 (TFLite's 16x8 activations), else undefined. */
export function int16QuantRefusal(info: ValueInfo | undefined, what: string): string | undefined {
  if (!info || info.dtype !== 'int16') return `16x8 kernel needs ${what} to be int16`;
  const q = info.quant;
  if (!q || q.scale.length === 0) return `16x8 kernel needs ${what} to carry quantization parameters`;
  if (q.scale.length !== 1) return `16x8 kernel needs ${what} to have one scale (per-tensor quantization)`;
  if ((q.zeroPoint[0] ?? 0) !== 0) return `16x8 kernel needs ${what} to have zero point 0 (TFLite's 16x8 activations are symmetric), got ${q.zeroPoint[0]}`;
  return undefined;
}

/** A `check()` reason when the listed int8 values lack per-tensor quantization, else undefined. */
export function missingQuant(infos: readonly (ValueInfo | undefined)[], names: readonly string[]): string | undefined {
  for (let i = 0; i < infos.length; i++) {
    if (!hasTensorQuant(infos[i])) return `int8 kernel needs ${names[i]} to be int8 with one scale and zero point`;
  }
  return undefined;
}

/** The same for 16x8: the first listed value that is not int16 with one scale and zero point 0, and why. */
export function missingInt16Quant(infos: readonly (ValueInfo | undefined)[], names: readonly string[]): string | undefined {
  for (let i = 0; i < infos.length; i++) {
    const refused = int16QuantRefusal(infos[i], names[i]!);
    if (refused) return refused;
  }
  return undefined;
}

/** The scales of a weight, one per output channel (a per-tensor scale repeated). */
export function channelScales(q: QuantParams, channels: number): Float32Array {
  if (q.scale.length === channels) return q.scale;
  const out = new Float32Array(channels);
  out.fill(q.scale[0]!);
  return out;
}

/**
 * TFLite's CalculateActivationRangeQuantized: the fused activation's real
 * bounds quantized with the output's scale (float division, rounded half away
 * from zero), intersected with the int8 range.
 */
export function activationRangeQuantized(
  node: Node, scale: number, zeroPoint: number, [min, max]: readonly [number, number] = [INT8_MIN, INT8_MAX],
): [number, number] {
  const q = (v: number) => zeroPoint + roundHalfAway(fl(v / scale));
  const a = attrString(node, 'activation', 'none');
  switch (a) {
    case 'none': return [min, max];
    case 'relu': return [Math.max(min, q(0)), max];
    case 'relu6': return [Math.max(min, q(0)), Math.min(max, q(6))];
    case 'relu_n1_to_1': return [Math.max(min, q(-1)), Math.min(max, q(1))];
    default:
      throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): activation "${a}" is not one of none, relu, relu6, relu_n1_to_1`, { node: node.name });
  }
}

/**
 * The per-channel epilogue of Conv, DepthwiseConv and FullyConnected, built
 * once in prepare(): reference mode keeps (multiplier, shift) pairs, xnnpack
 * mode one float32 factor per channel.
 */
export interface ChannelRequant {
  reference: boolean;
  /**
   * A 16x8 epilogue (int64 accumulator) in either arithmetic: 'reduced', the
   * 15-bit multiplier of multiplyByQuantizedMultiplierWide (CONV_2D,
   * DEPTHWISE_CONV_2D), or 'away', multiplyByQuantizedMultiplierAway
   * (FULLY_CONNECTED); false for int8.
   */
  wide: false | 'reduced' | 'away';
  multipliers: Int32Array;
  shifts: Int32Array;
  scales: Float32Array;
  zeroPoint: number;
  lo: number;
  hi: number;
}

/**
 * `realScale(c)` gives the reference mode's double factor of channel c;
 * xnnpack's is always fl(fl(s_x · s_w[c]) / s_y) (INT8.md formula 1).
 */
export function channelRequant(
  reference: boolean, inputScale: number, weightScales: Float32Array, outputScale: number, zeroPoint: number,
  lo: number, hi: number, realScale: (c: number) => number, wide: ChannelRequant['wide'] = false,
): ChannelRequant {
  const n = weightScales.length;
  const multipliers = new Int32Array(n), shifts = new Int32Array(n), scales = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    if (reference || wide) {
      const qm = quantizeMultiplier(realScale(c));
      multipliers[c] = qm.multiplier;
      shifts[c] = qm.shift;
    } else {
      scales[c] = fl(fl(inputScale * weightScales[c]!) / outputScale);
    }
  }
  return { reference, wide, multipliers, shifts, scales, zeroPoint, lo, hi };
}

/** Requantizes channel c's int32 accumulator with a prepared epilogue. */
export function requantizeChannel(r: ChannelRequant, c: number, acc: number): number {
  if (r.wide) {
    const m = r.multipliers[c]!, s = r.shifts[c]!;
    return clampInt((r.wide === 'away' ? multiplyByQuantizedMultiplierAway(acc, m, s) : multiplyByQuantizedMultiplierWide(acc, m, s)) + r.zeroPoint, r.lo, r.hi);
  }
  if (r.reference) {
    return clampInt(multiplyByQuantizedMultiplier(acc, r.multipliers[c]!, r.shifts[c]!) + r.zeroPoint, r.lo, r.hi);
  }
  return requantizeFloat(acc, r.scales[c]!, r.zeroPoint, r.lo, r.hi);
}

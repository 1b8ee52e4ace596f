/**
 * 16x8 elementwise kernels, bit-exact with the reference ones:
 * - binary_i16: Add, Sub (src/kernels/ref/int16/elementwise.ts: both inputs
 *   shifted left by 15, scaled to a common scale, summed, requantized; three
 *   MultiplyByQuantizedMultiplier) and Mul (one). Scalar per element: the
 *   fixed-point multiplies are 64-bit, and TFLite's loops are scalar too.
 * - quantize_f32_i16: float → int16, x / s in double (tflite-xnnpack, TFLite's
 *   optimized AffineQuantize) or in float32 (tflite-reference, TFLite Micro),
 *   rounded half away from zero (src/kernels/ref/quant.ts).
 * - dequantize_i16_f32: fl(s · x), one float32 rounding of an exact product.
 */

/** gemmlowp's SaturatingRoundingDoublingHighMul with the division by 2^31 as shifts (C truncation toward zero). */
@inline function srdhm16(a: i32, b: i32): i32 {
  if (a == i32.MIN_VALUE && b == i32.MIN_VALUE) return i32.MAX_VALUE;
  const ab = <i64>a * <i64>b;
  const v = ab >= 0 ? ab + (1 << 30) : ab + (1 - (1 << 30));
  return <i32>(v >= 0 ? v >> 31 : -((-v) >> 31));
}

/** gemmlowp's RoundingDivideByPOT: x / 2^e, ties away from zero. */
@inline function rdbp(x: i32, e: i32): i32 {
  if (e == 0) return x;
  const mask = e >= 31 ? 0x7fffffff : (1 << e) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/** TFLite's MultiplyByQuantizedMultiplier (a positive shift wraps as an int32 left shift). */
@inline function mbqm(acc: i32, m: i32, shift: i32): i32 {
  return shift > 0 ? rdbp(srdhm16(acc << shift, m), 0) : rdbp(srdhm16(acc, m), -shift);
}

const KIND_ADD: i32 = 0;

/**
 * y[i] = op(A[i], B[i mod period]) over n int16 values, B being the short
 * operand (`swap`: B is the op's first input). kind 0: Add/Sub with sign,
 * (ma, sa), (mb, sb) the inputs' multipliers and (my, sy) the output's;
 * kind 1: Mul with (ma, sa). Clamped to [lo, hi].
 */
export function binary_i16(kind: i32, a: usize, b: usize, y: usize, n: i32, period: i32, swap: i32,
  sign: i32, ma: i32, sa: i32, mb: i32, sb: i32, my: i32, sy: i32, lo: i32, hi: i32): void {
  let j = 0;
  for (let i = 0; i < n; i++) {
    const big = <i32>load<i16>(a + (<usize>i << 1));
    const small = <i32>load<i16>(b + (<usize>j << 1));
    const u = swap ? small : big, v = swap ? big : small;
    let r: i32;
    if (kind == KIND_ADD) {
      const va = mbqm(u << 15, ma, sa), vb = mbqm(v << 15, mb, sb);
      r = mbqm(va + sign * vb, my, sy);
    } else {
      r = mbqm(u * v, ma, sa);
    }
    store<i16>(y + (<usize>i << 1), <i16>(r < lo ? lo : r > hi ? hi : r));
    if (++j == period) j = 0;
  }
}

/** round(q) ties away from zero, exactly (q − trunc(q) is exact for |q| < 2^52). */
@inline function roundAway(q: f64): f64 {
  const t = trunc(q);
  const f = q - t;
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

/** float32 → int16 with scale s (zero point 0): x / s in double (mode 0) or float32 (mode 1), ties away, clamped; NaN gives 0. */
export function quantize_f32_i16(x: usize, y: usize, n: i32, mode: i32, s: f32): void {
  const sd = <f64>s;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    const q = mode == 0 ? <f64>v / sd : <f64>(v / s);
    let r = roundAway(q);
    if (r != r) r = 0;
    if (r < -32768) r = -32768;
    if (r > 32767) r = 32767;
    store<i16>(y + (<usize>i << 1), <i16><i32>r);
  }
}

/** int16 → float32: fl(s · x) (zero point 0), eight at a time. */
export function dequantize_i16_f32(x: usize, y: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const v = v128.load(x + (<usize>i << 1));
    v128.store(y + (<usize>i << 2), f32x4.mul(vs, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(v))));
    v128.store(y + (<usize>i << 2), f32x4.mul(vs, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(v))), 16);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), s * <f32>load<i16>(x + (<usize>i << 1)));
}

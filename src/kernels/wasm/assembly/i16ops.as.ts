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

import { endTap, firstTap } from './window';

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
 * srdhm16 on four int32 lanes for a multiplier 0 ≤ m < 2^31 (`mv` splatted):
 * C's truncating (ab + nudge) / 2^31 with nudge = 2^30 for ab ≥ 0 and
 * 1 − 2^30 below equals ⌊(ab + 2^30) / 2^31⌋ for every ab (for ab < 0,
 * ⌈(ab + 1 − 2^30) / 2^31⌉ = ⌊(ab + 2^30) / 2^31⌋), one i64 add and an
 * arithmetic shift. With m ≥ 0 the saturating case (both operands −2^31)
 * cannot occur and |result| < 2^31, so the low halves are the values.
 */
@inline function srdhm4(a: v128, mv: v128, nudge: v128): v128 {
  const lo = i64x2.shr_s(i64x2.add(i64x2.extmul_low_i32x4_s(a, mv), nudge), 31);
  const hi = i64x2.shr_s(i64x2.add(i64x2.extmul_high_i32x4_s(a, mv), nudge), 31);
  return i32x4.shuffle(lo, hi, 0, 2, 4, 6);
}

/**
 * rdbp on four lanes, e ≥ 1 (`mask` = rdbp's mask splatted, `half` = mask >> 1
 * splatted): (x >> e) + (remainder > threshold), the comparison's −1 subtracted;
 * the shift takes e mod 32 as the scalar code's does.
 */
@inline function rdbp4(x: v128, e: i32, mask: v128, half: v128): v128 {
  const threshold = i32x4.sub(half, i32x4.shr_s(x, 31));
  return i32x4.sub(i32x4.shr_s(x, e), i32x4.gt_s(v128.and(x, mask), threshold));
}

/** mbqm on four lanes: multiplier `mv` (splatted), left shift, right exponent with rdbp's `mask` and `half` splatted. */
@inline function mbqm4(x: v128, mv: v128, left: i32, right: i32, mask: v128, half: v128, nudge: v128): v128 {
  const p = srdhm4(left > 0 ? i32x4.shl(x, left) : x, mv, nudge);
  return right == 0 ? p : rdbp4(p, right, mask, half);
}

/** rdbp's mask for a right exponent e (as the scalar code: 0x7fffffff from 31 up). */
@inline function maskOf(shift: i32): i32 {
  const right = shift > 0 ? 0 : -shift;
  return right >= 31 ? 0x7fffffff : (1 << right) - 1;
}

/**
 * Eight outputs of the op from eight first-operand values u and eight
 * second-operand values v (int16 lanes): Add/Sub's three mbqm (inputs
 * shifted left by 15) or Mul's one, clamped, narrowed. The constants are
 * computed from the scalar ones in each call; inlined in loops, they are
 * loop-invariant.
 */
@inline function binary8(kind: i32, u: v128, v: v128, sign: i32, ma: i32, sa: i32, mb: i32, sb: i32, my: i32, sy: i32, lo: v128, hi: v128): v128 {
  const nudge = i64x2.splat(1 << 30);
  const la = sa > 0 ? sa : 0, ra = sa > 0 ? 0 : -sa, ka = maskOf(sa);
  const mav = i32x4.splat(ma), kav = i32x4.splat(ka), hav = i32x4.splat(ka >> 1);
  let r0: v128, r1: v128;
  if (kind == KIND_ADD) {
    const lb = sb > 0 ? sb : 0, rb = sb > 0 ? 0 : -sb, kb = maskOf(sb);
    const ly = sy > 0 ? sy : 0, ry = sy > 0 ? 0 : -sy, ky = maskOf(sy);
    const mbv = i32x4.splat(mb), kbv = i32x4.splat(kb), hbv = i32x4.splat(kb >> 1);
    const myv = i32x4.splat(my), kyv = i32x4.splat(ky), hyv = i32x4.splat(ky >> 1);
    const u0 = mbqm4(i32x4.shl(i32x4.extend_low_i16x8_s(u), 15), mav, la, ra, kav, hav, nudge);
    const u1 = mbqm4(i32x4.shl(i32x4.extend_high_i16x8_s(u), 15), mav, la, ra, kav, hav, nudge);
    const v0 = mbqm4(i32x4.shl(i32x4.extend_low_i16x8_s(v), 15), mbv, lb, rb, kbv, hbv, nudge);
    const v1 = mbqm4(i32x4.shl(i32x4.extend_high_i16x8_s(v), 15), mbv, lb, rb, kbv, hbv, nudge);
    r0 = mbqm4(sign > 0 ? i32x4.add(u0, v0) : i32x4.sub(u0, v0), myv, ly, ry, kyv, hyv, nudge);
    r1 = mbqm4(sign > 0 ? i32x4.add(u1, v1) : i32x4.sub(u1, v1), myv, ly, ry, kyv, hyv, nudge);
  } else {
    r0 = mbqm4(i32x4.extmul_low_i16x8_s(u, v), mav, la, ra, kav, hav, nudge);
    r1 = mbqm4(i32x4.extmul_high_i16x8_s(u, v), mav, la, ra, kav, hav, nudge);
  }
  r0 = i32x4.min_s(i32x4.max_s(r0, lo), hi);
  r1 = i32x4.min_s(i32x4.max_s(r1, lo), hi);
  return i16x8.narrow_i32x4_s(r0, r1);
}

/** One output of the op, scalar (the reference's arithmetic, as binary8 per lane). */
@inline function binary1(kind: i32, u: i32, v: i32, sign: i32, ma: i32, sa: i32, mb: i32, sb: i32, my: i32, sy: i32, lo: i32, hi: i32): i32 {
  let r: i32;
  if (kind == KIND_ADD) {
    const va = mbqm(u << 15, ma, sa), vb = mbqm(v << 15, mb, sb);
    r = mbqm(va + sign * vb, my, sy);
  } else {
    r = mbqm(u * v, ma, sa);
  }
  return r < lo ? lo : r > hi ? hi : r;
}

/**
 * y[i] = op(A[i], B[i mod period]) over n int16 values, B being the short
 * operand (`swap`: B is the op's first input). kind 0: Add/Sub with sign,
 * (ma, sa), (mb, sb) the inputs' multipliers and (my, sy) the output's;
 * kind 1: Mul with (ma, sa). Clamped to [lo, hi]. Eight lanes at a time
 * (binary8: the same integer operations on lanes) along each run of
 * `period` values when the multipliers are non-negative (quantizeMultiplier's
 * always are) and the period is 1 or at least 8; scalar otherwise and for
 * the tails.
 */
export function binary_i16(kind: i32, a: usize, b: usize, y: usize, n: i32, period: i32, swap: i32,
  sign: i32, ma: i32, sa: i32, mb: i32, sb: i32, my: i32, sy: i32, lo: i32, hi: i32): void {
  const vector = ma >= 0 && mb >= 0 && my >= 0 && (period == 1 || period >= 8);
  if (!vector) {
    let j = 0;
    for (let i = 0; i < n; i++) {
      const big = <i32>load<i16>(a + (<usize>i << 1));
      const small = <i32>load<i16>(b + (<usize>j << 1));
      const r = swap ? binary1(kind, small, big, sign, ma, sa, mb, sb, my, sy, lo, hi) : binary1(kind, big, small, sign, ma, sa, mb, sb, my, sy, lo, hi);
      store<i16>(y + (<usize>i << 1), <i16>r);
      if (++j == period) j = 0;
    }
    return;
  }
  const lov = i32x4.splat(lo), hiv = i32x4.splat(hi);
  if (period == 1) {
    const s = <i32>load<i16>(b);
    const sv = i16x8.splat(<i16>s);
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      const av = v128.load(a + (<usize>i << 1));
      v128.store(y + (<usize>i << 1), swap ? binary8(kind, sv, av, sign, ma, sa, mb, sb, my, sy, lov, hiv) : binary8(kind, av, sv, sign, ma, sa, mb, sb, my, sy, lov, hiv));
    }
    for (; i < n; i++) {
      const big = <i32>load<i16>(a + (<usize>i << 1));
      store<i16>(y + (<usize>i << 1), <i16>(swap ? binary1(kind, s, big, sign, ma, sa, mb, sb, my, sy, lo, hi) : binary1(kind, big, s, sign, ma, sa, mb, sb, my, sy, lo, hi)));
    }
    return;
  }
  for (let r = 0; r < n; r += period) {
    const ar = a + (<usize>r << 1), yr = y + (<usize>r << 1);
    let j = 0;
    for (; j + 8 <= period; j += 8) {
      const av = v128.load(ar + (<usize>j << 1)), bv = v128.load(b + (<usize>j << 1));
      v128.store(yr + (<usize>j << 1), swap ? binary8(kind, bv, av, sign, ma, sa, mb, sb, my, sy, lov, hiv) : binary8(kind, av, bv, sign, ma, sa, mb, sb, my, sy, lov, hiv));
    }
    for (; j < period; j++) {
      const big = <i32>load<i16>(ar + (<usize>j << 1)), small = <i32>load<i16>(b + (<usize>j << 1));
      store<i16>(yr + (<usize>j << 1), <i16>(swap ? binary1(kind, small, big, sign, ma, sa, mb, sb, my, sy, lo, hi) : binary1(kind, big, small, sign, ma, sa, mb, sb, my, sy, lo, hi)));
    }
  }
}

/** round(q) ties away from zero, exactly (q − trunc(q) is exact for |q| < 2^52). */
@inline function roundAway(q: f64): f64 {
  const t = trunc(q);
  const f = q - t;
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

/**
 * float32 → int16 with scale s (zero point 0): x / s in double (mode 0) or
 * float32 (mode 1), rounded half away from zero, clamped; NaN gives 0. Four at
 * a time: f64x2 division of the promoted lanes (or f32x4 division, then
 * promoted: exact), q − trunc(q) is exact, and the saturating conversion to
 * int32 then the saturating narrowing to int16 clamp (NaN converts to 0).
 */
export function quantize_f32_i16(x: usize, y: usize, n: i32, mode: i32, s: f32): void {
  const sd = f64x2.splat(<f64>s), sf = f32x4.splat(s);
  const half = f64x2.splat(0.5), mhalf = f64x2.splat(-0.5), one = f64x2.splat(1);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const r0 = quantize4(v128.load(x + (<usize>i << 2)), mode, sd, sf, half, mhalf, one);
    const r1 = quantize4(v128.load(x + (<usize>i << 2), 16), mode, sd, sf, half, mhalf, one);
    v128.store(y + (<usize>i << 1), i16x8.narrow_i32x4_s(r0, r1));
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    const q = mode == 0 ? <f64>v / <f64>s : <f64>(v / s);
    let r = roundAway(q);
    if (r != r) r = 0;
    if (r < -32768) r = -32768;
    if (r > 32767) r = 32767;
    store<i16>(y + (<usize>i << 1), <i16><i32>r);
  }
}

/** Two f64 lanes rounded half away from zero. */
@inline function roundAway2(q: v128, half: v128, mhalf: v128, one: v128): v128 {
  const t = f64x2.trunc(q);
  const f = f64x2.sub(q, t);
  const up = v128.and(f64x2.ge(f, half), one), down = v128.and(f64x2.le(f, mhalf), one);
  return f64x2.sub(f64x2.add(t, up), down);
}

/** Four float32 lanes quantized to int32 lanes (saturated). */
@inline function quantize4(v: v128, mode: i32, sd: v128, sf: v128, half: v128, mhalf: v128, one: v128): v128 {
  let lo: v128, hi: v128;
  if (mode == 0) {
    lo = f64x2.div(f64x2.promote_low_f32x4(v), sd);
    hi = f64x2.div(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), sd);
  } else {
    const d = f32x4.div(v, sf);
    lo = f64x2.promote_low_f32x4(d);
    hi = f64x2.promote_low_f32x4(i32x4.shuffle(d, d, 2, 3, 0, 1));
  }
  const a = i32x4.trunc_sat_f64x2_s_zero(roundAway2(lo, half, mhalf, one));
  const b = i32x4.trunc_sat_f64x2_s_zero(roundAway2(hi, half, mhalf, one));
  return i32x4.shuffle(a, b, 0, 1, 4, 5);
}

/**
 * int16 bilinear or nearest Resize of NHWC maps, the tables as resize_i8's
 * (binding: int16ops.ts): mode 0 copies the nearest pixel; mode 2 is TFLite's
 * ResizeBilinearInteger, S = Σ x·w with Q10·Q10 weights in int64 (|S| < 2^36),
 * (|S| + 2^19) >> 20 with S's sign (ties away from zero).
 */
export function resize_i16(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32, outH: i32, outW: i32,
  hLo: usize, hHi: usize, hW: usize, wLo: usize, wHi: usize, wW: usize, y: usize, mode: i32,
): void {
  const pix = <usize>c << 1;
  const rowBytes = <usize>inW * pix;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const img = x + <usize>(n * inH) * rowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const at = <usize>oh << 2;
      const r0 = img + <usize>load<i32>(hLo + at) * rowBytes, r1 = img + <usize>load<i32>(hHi + at) * rowBytes;
      const wy = <i64>load<i32>(hW + at);
      for (let ow = 0; ow < outW; ow++) {
        const ac = <usize>ow << 2;
        const c0 = <usize>load<i32>(wLo + ac) * pix, c1 = <usize>load<i32>(wHi + ac) * pix;
        if (mode == 0) {
          memory.copy(yo, r0 + c0, pix);
        } else {
          const wx = <i64>load<i32>(wW + ac);
          const a00 = (1024 - wy) * (1024 - wx), a01 = (1024 - wy) * wx, a10 = wy * (1024 - wx), a11 = wy * wx;
          const tl = r0 + c0, tr = r0 + c1, bl = r1 + c0, br = r1 + c1;
          for (let ch: usize = 0; ch < pix; ch += 2) {
            const s = <i64>load<i16>(tl + ch) * a00 + <i64>load<i16>(tr + ch) * a01 + <i64>load<i16>(bl + ch) * a10 + <i64>load<i16>(br + ch) * a11;
            const m = ((s < 0 ? -s : s) + (1 << 19)) >> 20;
            store<i16>(yo + ch, <i16>(s < 0 ? -m : m));
          }
        }
        yo += pix;
      }
    }
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

/**
 * y[i] = table[x[i] + 32768] over n int16 values: the reference kernel's
 * 65,536-entry table of a unary op (Relu, Clip, LeakyRelu, Sigmoid, Tanh:
 * src/kernels/ref/int16/activation.ts), so the bytes are the reference's by
 * construction. Four lookups per step.
 */
export function table_i16(x: usize, y: usize, n: i32, table: usize): void {
  const t = table + 65536;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 1), q = y + (<usize>i << 1);
    const v = load<u64>(p);
    const r0 = load<u16>(t + (<usize><i16>v << 1));
    const r1 = load<u16>(t + (<usize><i16>(v >> 16) << 1));
    const r2 = load<u16>(t + (<usize><i16>(v >> 32) << 1));
    const r3 = load<u16>(t + (<usize><i16>(v >> 48) << 1));
    store<u64>(q, <u64>r0 | (<u64>r1 << 16) | (<u64>r2 << 32) | (<u64>r3 << 48));
  }
  for (; i < n; i++) store<i16>(y + (<usize>i << 1), load<i16>(t + (<usize>load<i16>(x + (<usize>i << 1)) << 1)));
}

/**
 * int16 mean of X viewed as [outer, red, inner] over its middle axis, into
 * int16 [outer, inner], as src/kernels/ref/int16/data.ts's int16Mean: int32
 * sums (they wrap as the reference's Int32Array sums do), then mode 1,
 * clamp(MBQM(sum, m, shift)), or mode 2 (tflite-reference with equal
 * scales), sum / red truncated toward zero. `sums`: inner int32, slack after.
 */
export function mean_i16(x: usize, outer: i32, red: i32, inner: i32, sums: usize, y: usize, mode: i32, m: i32, shift: i32): void {
  const rowBytes = <usize>inner << 1;
  for (let o = 0; o < outer; o++) {
    memory.fill(sums, 0, <usize>inner << 2);
    let xr = x + <usize>o * <usize>red * rowBytes;
    for (let r = 0; r < red; r++) {
      let c = 0;
      for (; c + 8 <= inner; c += 8) {
        const v = v128.load(xr + (<usize>c << 1));
        const s = sums + (<usize>c << 2);
        v128.store(s, i32x4.add(v128.load(s), i32x4.extend_low_i16x8_s(v)));
        v128.store(s, i32x4.add(v128.load(s, 16), i32x4.extend_high_i16x8_s(v)), 16);
      }
      for (; c < inner; c++) {
        const s = sums + (<usize>c << 2);
        store<i32>(s, load<i32>(s) + <i32>load<i16>(xr + (<usize>c << 1)));
      }
      xr += rowBytes;
    }
    const yo = y + <usize>o * rowBytes;
    for (let c = 0; c < inner; c++) {
      const sum = load<i32>(sums + (<usize>c << 2));
      let q = mode == 2 ? sum / red : mbqm(sum, m, shift);
      q = q < -32768 ? -32768 : q > 32767 ? 32767 : q;
      store<i16>(yo + (<usize>c << 1), <i16>q);
    }
  }
}

/**
 * 2-D int16 MaxPool (isMax) or AveragePool over NHWC, input and output sharing
 * one quantization (TFLite's int16 pools, src/kernels/ref/int8/pool.ts on
 * int16 values): only taps inside the input count, the fused activation
 * clamps to [lo, hi]. MaxPool: eight channels per step in int16 lanes.
 * AveragePool: int32 sums, then (sum ± taps/2) / taps truncated, i.e. rounded
 * half away from zero; the binding takes windows of at most 512 taps, so
 * |sum ± taps/2| ≤ 512·32768 = 2^24 is exact in float32 and the quotient
 * truncates right (a quotient just below an integer stays below it: the gap
 * is at least 1/taps, far above float32's relative error). The channel tail
 * is scalar.
 */
export function pool_i16(
  isMax: bool, x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  y: usize, lo: i32, hi: i32,
): void {
  const pix = <usize>c << 1;
  const vlo16 = i16x8.splat(<i16>lo), vhi16 = i16x8.splat(<i16>hi), vmin = i16x8.splat(-32768);
  const zero = i32x4.splat(0), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xImg = x + <usize>(n * inH) * <usize>inW * pix;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        const taps = (kh1 - kh0) * (kw1 - kw0);
        const half = i32x4.splat(taps >> 1);
        const div = f32x4.splat(<f32>max(taps, 1));
        let cb = 0;
        for (; cb + 8 <= c; cb += 8) {
          if (isMax) {
            let acc = vmin;
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + (<usize>cb << 1);
              for (let kw = kw0; kw < kw1; kw++) acc = i16x8.max_s(acc, v128.load(xRow + <usize>(w0 + kw * dW) * pix));
            }
            v128.store(yo + (<usize>cb << 1), i16x8.min_s(i16x8.max_s(acc, vlo16), vhi16));
          } else {
            let acc0 = zero, acc1 = zero;
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + (<usize>cb << 1);
              for (let kw = kw0; kw < kw1; kw++) {
                const v = v128.load(xRow + <usize>(w0 + kw * dW) * pix);
                acc0 = i32x4.add(acc0, i32x4.extend_low_i16x8_s(v));
                acc1 = i32x4.add(acc1, i32x4.extend_high_i16x8_s(v));
              }
            }
            const n0 = v128.bitselect(i32x4.add(acc0, half), i32x4.sub(acc0, half), i32x4.gt_s(acc0, zero));
            const n1 = v128.bitselect(i32x4.add(acc1, half), i32x4.sub(acc1, half), i32x4.gt_s(acc1, zero));
            acc0 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.trunc(f32x4.div(f32x4.convert_i32x4_s(n0), div))), vlo), vhi);
            acc1 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.trunc(f32x4.div(f32x4.convert_i32x4_s(n1), div))), vlo), vhi);
            v128.store(yo + (<usize>cb << 1), i16x8.narrow_i32x4_s(acc0, acc1));
          }
        }
        for (; cb < c; cb++) {
          let acc: i32 = isMax ? -32768 : 0;
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + (<usize>cb << 1);
            for (let kw = kw0; kw < kw1; kw++) {
              const v = <i32>load<i16>(xRow + <usize>(w0 + kw * dW) * pix);
              acc = isMax ? max(acc, v) : acc + v;
            }
          }
          if (!isMax) {
            const h = taps >> 1;
            acc = acc > 0 ? (acc + h) / max(taps, 1) : (acc - h) / max(taps, 1);
          }
          store<i16>(yo + (<usize>cb << 1), <i16>min(max(acc, lo), hi));
        }
        yo += pix;
      }
    }
  }
}

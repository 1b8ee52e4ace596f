/**
 * int8 kernels for the memory-bound ops: Quantize (float32 → int8), binary
 * Add/Sub/Mul with requantization, 256-entry table lookups (the unary ops),
 * pooling and the mean over a block of axes. Each follows the arithmetic of
 * its reference kernel in src/kernels/ref (the binding passes the constants
 * the reference prepares), so results are bit-exact in both int8
 * arithmetics. Pointers are byte offsets into memory the binding owns; every
 * loop reads and writes exactly n elements (vector loops stop at the last
 * whole vector and a scalar loop finishes).
 */
import { endTap, firstTap } from './window';
import { requantRef } from './fixed';
import { MAGIC_BITS, roundClamp4 } from './magic';
import { storeLow8 } from './tails';

@inline function clampI32(v: i32, lo: i32, hi: i32): i32 {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Four int32x4 vectors (already in int8 range) narrowed to sixteen bytes. */
@inline function narrow16(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v0, v1), i16x8.narrow_i32x4_s(v2, v3));
}

/**
 * y = clamp(round(x · s) + zy, lo, hi), float32 → int8, one float32 rounding
 * before the integer rounding as in the reference kernel:
 * - xnnpack (reference = 0): s is fl(1 / scale), round half to even, by
 *   roundClamp4 (MAGIC_BITS-biased bounds in blo, bhi, bz).
 * - reference: s is the scale and x is divided by it, round half away from
 *   zero: t = trunc(v), plus sign(v) when |v − t| ≥ 1/2 (v − t is exact);
 *   flo, fhi are lo − zy and hi − zy as floats. Clamping in float before the
 *   conversion equals clamping after adding zy (integer bounds, monotonic
 *   rounding).
 * A NaN input gives hi in xnnpack mode and zy in reference mode (the
 * reference kernel stores 0); none is meaningful.
 */
@inline function quantize4(v: v128, reference: bool, s: v128, flo: v128, fhi: v128, z: v128, blo: v128, bhi: v128, bz: v128): v128 {
  if (!reference) return roundClamp4(f32x4.mul(v, s), blo, bhi, bz);
  const q = f32x4.div(v, s);
  const t = f32x4.trunc(q);
  const away = f32x4.ge(f32x4.abs(f32x4.sub(q, t)), f32x4.splat(0.5));
  const one = v128.bitselect(f32x4.splat(-1), f32x4.splat(1), i32x4.lt_s(q, i32x4.splat(0)));
  const r = f32x4.min(f32x4.max(f32x4.add(t, v128.and(one, away)), flo), fhi);
  return i32x4.add(i32x4.trunc_sat_f32x4_s(r), z);
}

/** y = fl(scale · (x − z)), int8 → float32; the product of a float32 and a small integer rounds once, as in the reference. */
export function dequantize_i8_f32(x: usize, y: usize, n: i32, zx: i32, scale: f32): void {
  const vs = f32x4.splat(scale), z = i16x8.splat(<i16>zx);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const v = v128.load(x + <usize>i);
    const lo = i16x8.sub(i16x8.extend_low_i8x16_s(v), z), hi = i16x8.sub(i16x8.extend_high_i8x16_s(v), z);
    const o = y + (<usize>i << 2);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), vs));
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), vs), 16);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), vs), 32);
    v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), vs), 48);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), <f32>(<i32>load<i8>(x + <usize>i) - zx) * scale);
}

export function quantize_f32_i8(x: usize, y: usize, n: i32, reference: bool, s: f32, zy: i32, lo: i32, hi: i32): void {
  const vs = f32x4.splat(s), z = i32x4.splat(zy);
  const flo = f32x4.splat(<f32>(lo - zy)), fhi = f32x4.splat(<f32>(hi - zy));
  const blo = i32x4.splat(MAGIC_BITS + lo - zy), bhi = i32x4.splat(MAGIC_BITS + hi - zy), bz = i32x4.splat(MAGIC_BITS - zy);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const q0 = quantize4(v128.load(p), reference, vs, flo, fhi, z, blo, bhi, bz);
    const q1 = quantize4(v128.load(p, 16), reference, vs, flo, fhi, z, blo, bhi, bz);
    const q2 = quantize4(v128.load(p, 32), reference, vs, flo, fhi, z, blo, bhi, bz);
    const q3 = quantize4(v128.load(p, 48), reference, vs, flo, fhi, z, blo, bhi, bz);
    v128.store(y + <usize>i, narrow16(q0, q1, q2, q3));
  }
  for (; i < n; i++) {
    const q = quantize4(f32x4.splat(load<f32>(x + (<usize>i << 2))), reference, vs, flo, fhi, z, blo, bhi, bz);
    store<i8>(y + <usize>i, <i8>i32x4.extract_lane(q, 0));
  }
}

/**
 * Binary int8 modes (constants from src/kernels/ref/int8/elementwise.ts).
 * ta and tb are 256-entry int32 tables indexed by the raw value + 128, which
 * hold the part of the arithmetic that depends on one operand only:
 * - XADD: ta[a] = K + Ma·a, tb[b] = Mb·b; y = ⌊(ta + tb) / 2^shift⌋ + zy
 *   (XNNPACK's add; the binding checks the sum fits in int32, an arithmetic
 *   shift is the floor).
 * - RADD: ta[a], tb[b] the operands rescaled to the common 20-bit scale (tb
 *   negated for Sub); y = MultiplyByQuantizedMultiplier(ta + tb, m, shift) + zy.
 * - RMUL: ta[a] = a − za, tb[b] = b − zb; y = MBQM(ta · tb, m, shift) + zy.
 * - XMUL: same tables; y = rne(fl(fl(ta · tb) · fm)) + zy (|ta · tb| ≤ 2^16,
 *   exact in float32).
 * The result is clamped to [lo, hi]. b repeats with period `period` (n is a
 * multiple of it): period n is the same shape, 1 a scalar, C a channel vector.
 */
const XADD = 0, RADD = 1, RMUL = 2, XMUL = 3;

@inline function binaryOne(mode: i32, va: i32, vb: i32, m: i32, shift: i32, fm: f32, zy: i32, lo: i32, hi: i32): i32 {
  let r: i32;
  if (mode == XADD) r = <i32>((<i64>va + <i64>vb) >> shift);
  else if (mode == RADD) r = requantRef(va + vb, m, shift);
  else if (mode == RMUL) r = requantRef(va * vb, m, shift);
  else r = <i32>nearest<f32>(<f32>(va * vb) * fm);
  return clampI32(r + zy, lo, hi);
}

@inline function binaryRows(mode: i32, a: usize, b: usize, y: usize, n: i32, period: i32, ta: usize, tb: usize, m: i32, shift: i32, fm: f32, zy: i32, lo: i32, hi: i32): void {
  let j = 0;
  for (let i = 0; i < n; i++) {
    const va = load<i32>(ta + (<usize>(load<i8>(a + <usize>i) + 128) << 2));
    const vb = load<i32>(tb + (<usize>(load<i8>(b + <usize>j) + 128) << 2));
    store<i8>(y + <usize>i, <i8>binaryOne(mode, va, vb, m, shift, fm, zy, lo, hi));
    if (++j == period) j = 0;
  }
}

/**
 * Sixteen lanes of XADD or XMUL at a time, from the tables' own constants: for
 * XADD the tables are affine in the raw value (K sits in one of them, which
 * one depends on the binding's swap), so ta[a] + tb[b] = ta[0] + tb[0] +
 * (ta[1] − ta[0])·a + (tb[1] − tb[0])·b; the int32 sum stays below 2^31
 * (see the binding), so lanes need no 64-bit step. For XMUL ta[a] = a − za,
 * tb[b] = b − zb; products of the widened operands are exact int32 and exact
 * in float32 (|·| ≤ 2^16), so one float multiply and a round to nearest even
 * give the scalar result. `bStep` is 16 when b advances with a, 0 when it is a
 * scalar (splat), and b wraps every `period` bytes (n itself, or a multiple of
 * 16). Returns how many lanes it wrote (a multiple of 16).
 */
@inline function binarySimd(mode: i32, a: usize, b: usize, y: usize, n: i32, period: i32, scalarB: bool, ta: usize, tb: usize,
  shift: i32, fm: f32, zy: i32, lo: i32, hi: i32): i32 {
  const t0 = load<i32>(ta + 512), t1 = load<i32>(ta + 516), u0 = load<i32>(tb + 512), u1 = load<i32>(tb + 516);
  const vz = i32x4.splat(zy), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
  const vfm = f32x4.splat(fm);
  const blo = i32x4.splat(MAGIC_BITS + lo - zy), bhi = i32x4.splat(MAGIC_BITS + hi - zy), bz = i32x4.splat(MAGIC_BITS - zy);
  const k = i32x4.splat(t0 + u0), ma = i32x4.splat(t1 - t0), mb = i32x4.splat(u1 - u0);
  const za = i16x8.splat(<i16>(-t0)), zb = i16x8.splat(<i16>(-u0));
  let i = 0, j = 0;
  const bs = scalarB ? i8x16.splat(load<i8>(b)) : i8x16.splat(0);
  for (; i + 16 <= n; i += 16) {
    const va = v128.load(a + <usize>i);
    const vb = scalarB ? bs : v128.load(b + <usize>j);
    const a0 = i16x8.extend_low_i8x16_s(va), a1 = i16x8.extend_high_i8x16_s(va);
    const b0 = i16x8.extend_low_i8x16_s(vb), b1 = i16x8.extend_high_i8x16_s(vb);
    let r0: v128, r1: v128, r2: v128, r3: v128;
    if (mode == XADD) {
      r0 = i32x4.shr_s(i32x4.add(i32x4.add(k, i32x4.mul(i32x4.extend_low_i16x8_s(a0), ma)), i32x4.mul(i32x4.extend_low_i16x8_s(b0), mb)), shift);
      r1 = i32x4.shr_s(i32x4.add(i32x4.add(k, i32x4.mul(i32x4.extend_high_i16x8_s(a0), ma)), i32x4.mul(i32x4.extend_high_i16x8_s(b0), mb)), shift);
      r2 = i32x4.shr_s(i32x4.add(i32x4.add(k, i32x4.mul(i32x4.extend_low_i16x8_s(a1), ma)), i32x4.mul(i32x4.extend_low_i16x8_s(b1), mb)), shift);
      r3 = i32x4.shr_s(i32x4.add(i32x4.add(k, i32x4.mul(i32x4.extend_high_i16x8_s(a1), ma)), i32x4.mul(i32x4.extend_high_i16x8_s(b1), mb)), shift);
      r0 = i32x4.min_s(i32x4.max_s(i32x4.add(r0, vz), vlo), vhi);
      r1 = i32x4.min_s(i32x4.max_s(i32x4.add(r1, vz), vlo), vhi);
      r2 = i32x4.min_s(i32x4.max_s(i32x4.add(r2, vz), vlo), vhi);
      r3 = i32x4.min_s(i32x4.max_s(i32x4.add(r3, vz), vlo), vhi);
    } else {
      const x0 = i16x8.sub(a0, za), x1 = i16x8.sub(a1, za), y0 = i16x8.sub(b0, zb), y1 = i16x8.sub(b1, zb);
      r0 = roundClamp4(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extmul_low_i16x8_s(x0, y0)), vfm), blo, bhi, bz);
      r1 = roundClamp4(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extmul_high_i16x8_s(x0, y0)), vfm), blo, bhi, bz);
      r2 = roundClamp4(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extmul_low_i16x8_s(x1, y1)), vfm), blo, bhi, bz);
      r3 = roundClamp4(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extmul_high_i16x8_s(x1, y1)), vfm), blo, bhi, bz);
    }
    v128.store(y + <usize>i, narrow16(r0, r1, r2, r3));
    if (!scalarB) { j += 16; if (j == period) j = 0; }
  }
  return i;
}

export function binary_i8(mode: i32, a: usize, b: usize, y: usize, n: i32, period: i32, ta: usize, tb: usize,
  m: i32, shift: i32, fm: f32, zy: i32, lo: i32, hi: i32): void {
  // XNNPACK's add and mul vectorize (same shape, scalar, a period of whole vectors, or row by row for other
  // periods of at least 16); the rest is scalar. The binding's vectorPath() states the same conditions.
  if ((mode == XADD || mode == XMUL) && (period == 1 || period == n || period % 16 == 0)) {
    const done = mode == XADD
      ? binarySimd(XADD, a, b, y, n, period, period == 1, ta, tb, shift, fm, zy, lo, hi)
      : binarySimd(XMUL, a, b, y, n, period, period == 1, ta, tb, shift, fm, zy, lo, hi);
    if (done == n) return;
    // The tail (fewer than 16, only when b is a scalar or has a's shape): b's position continues from `done`.
    const bt = period == 1 ? b : b + <usize>(done % period);
    if (mode == XADD) binaryRows(XADD, a + <usize>done, bt, y + <usize>done, n - done, period == 1 ? 1 : period - done % period, ta, tb, m, shift, fm, zy, lo, hi);
    else binaryRows(XMUL, a + <usize>done, bt, y + <usize>done, n - done, period == 1 ? 1 : period - done % period, ta, tb, m, shift, fm, zy, lo, hi);
    return;
  }
  if ((mode == XADD || mode == XMUL) && period >= 16 && n % period == 0) {
    // b repeats every `period` bytes, not a multiple of 16 (a per-channel vector of 72, say): row by row,
    // each row's whole vectors with b advancing alongside, then its tail.
    const whole = period & ~15;
    for (let r = 0; r < n; r += period) {
      const ar = a + <usize>r, yr = y + <usize>r;
      if (mode == XADD) binarySimd(XADD, ar, b, yr, whole, whole, false, ta, tb, shift, fm, zy, lo, hi);
      else binarySimd(XMUL, ar, b, yr, whole, whole, false, ta, tb, shift, fm, zy, lo, hi);
      const wt = <usize>whole;
      if (mode == XADD) binaryRows(XADD, ar + wt, b + wt, yr + wt, period - whole, period - whole, ta, tb, m, shift, fm, zy, lo, hi);
      else binaryRows(XMUL, ar + wt, b + wt, yr + wt, period - whole, period - whole, ta, tb, m, shift, fm, zy, lo, hi);
    }
    return;
  }
  // One loop per mode, so the branch on the mode leaves the inner loop.
  if (mode == XADD) binaryRows(XADD, a, b, y, n, period, ta, tb, m, shift, fm, zy, lo, hi);
  else if (mode == RADD) binaryRows(RADD, a, b, y, n, period, ta, tb, m, shift, fm, zy, lo, hi);
  else if (mode == RMUL) binaryRows(RMUL, a, b, y, n, period, ta, tb, m, shift, fm, zy, lo, hi);
  else binaryRows(XMUL, a, b, y, n, period, ta, tb, m, shift, fm, zy, lo, hi);
}

/** y[i] = table[x[i] + 128]: the unary int8 ops, whose tables the reference kernels build. */
export function table_i8(x: usize, y: usize, n: i32, table: usize): void {
  let i = 0;
  if (n >= 64) {
    // Thirty-two bytes a pass: the index x + 128 (x with its top bit flipped)
    // picks from the table's sixteen 16-byte slices; swizzle yields zero for
    // an index ≥ 16, so after subtracting 16·j only slice j answers, and
    // OR-ing the sixteen answers gives the entry.
    const flip = i8x16.splat(-128), step = i8x16.splat(16);
    const t0 = v128.load(table, 0), t1 = v128.load(table, 16), t2 = v128.load(table, 32), t3 = v128.load(table, 48);
    const t4 = v128.load(table, 64), t5 = v128.load(table, 80), t6 = v128.load(table, 96), t7 = v128.load(table, 112);
    const t8 = v128.load(table, 128), t9 = v128.load(table, 144), t10 = v128.load(table, 160), t11 = v128.load(table, 176);
    const t12 = v128.load(table, 192), t13 = v128.load(table, 208), t14 = v128.load(table, 224), t15 = v128.load(table, 240);
    for (; i + 32 <= n; i += 32) {
      let v = v128.xor(v128.load(x + <usize>i), flip), w = v128.xor(v128.load(x + <usize>i, 16), flip);
      let r = i8x16.swizzle(t0, v), q = i8x16.swizzle(t0, w);
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t1, v)); q = v128.or(q, i8x16.swizzle(t1, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t2, v)); q = v128.or(q, i8x16.swizzle(t2, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t3, v)); q = v128.or(q, i8x16.swizzle(t3, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t4, v)); q = v128.or(q, i8x16.swizzle(t4, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t5, v)); q = v128.or(q, i8x16.swizzle(t5, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t6, v)); q = v128.or(q, i8x16.swizzle(t6, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t7, v)); q = v128.or(q, i8x16.swizzle(t7, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t8, v)); q = v128.or(q, i8x16.swizzle(t8, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t9, v)); q = v128.or(q, i8x16.swizzle(t9, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t10, v)); q = v128.or(q, i8x16.swizzle(t10, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t11, v)); q = v128.or(q, i8x16.swizzle(t11, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t12, v)); q = v128.or(q, i8x16.swizzle(t12, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t13, v)); q = v128.or(q, i8x16.swizzle(t13, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t14, v)); q = v128.or(q, i8x16.swizzle(t14, w));
      v = i8x16.sub(v, step); w = i8x16.sub(w, step); r = v128.or(r, i8x16.swizzle(t15, v)); q = v128.or(q, i8x16.swizzle(t15, w));
      v128.store(y + <usize>i, r);
      v128.store(y + <usize>i, q, 16);
    }
  }
  for (; i < n; i++) {
    store<i8>(y + <usize>i, load<i8>(table + <usize>(load<i8>(x + <usize>i) + 128)));
  }
}

/**
 * One output pixel of pool_i8's MaxPool over taps [kh0, kh1) × [kw0, kw1):
 * the maximum needs no widening, so sixteen channels per step in int8 lanes,
 * then eight (a 64-bit load that may read up to 7 bytes past the pixel's last
 * channel; slack after X).
 */
@inline function maxPixel_i8(
  xImg: usize, pix: usize, inW: i32, c: i32, h0: i32, w0: i32, kh0: i32, kh1: i32, kw0: i32, kw1: i32, dH: i32, dW: i32,
  yo: usize, vlo: v128, vhi: v128,
): void {
  let cb = 0;
  for (; cb + 16 <= c; cb += 16) {
    let acc = vlo;
    for (let kh = kh0; kh < kh1; kh++) {
      const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
      for (let kw = kw0; kw < kw1; kw++) acc = i8x16.max_s(acc, v128.load(xRow + <usize>(w0 + kw * dW) * pix));
    }
    v128.store(yo + <usize>cb, i8x16.min_s(acc, vhi));
  }
  for (; cb < c; cb += 8) {
    let acc = vlo;
    for (let kh = kh0; kh < kh1; kh++) {
      const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
      for (let kw = kw0; kw < kw1; kw++) acc = i8x16.max_s(acc, v128.load64_zero(xRow + <usize>(w0 + kw * dW) * pix));
    }
    storeLow8(yo + <usize>cb, i8x16.min_s(acc, vhi), c - cb);
  }
}

/**
 * One output pixel of pool_i8's AveragePool: TFLite's (sum ± count/2) / count
 * truncated, i.e. rounded half away from zero; |sum| < 2^24, so the float32
 * division is exact enough to truncate right (a quotient just below an
 * integer k stays below it: the gap is at least 1/count, relatively
 * ≥ 1/|sum| ≫ 2^-24). Eight channels per step, widened to int32 (the load
 * may read up to 7 bytes past the pixel's last channel; those lanes are never
 * stored).
 */
@inline function averagePixel_i8(
  xImg: usize, pix: usize, inW: i32, c: i32, h0: i32, w0: i32, kh0: i32, kh1: i32, kw0: i32, kw1: i32, dH: i32, dW: i32,
  yo: usize, vlo: v128, vhi: v128,
): void {
  const count = (kh1 - kh0) * (kw1 - kw0);
  const half = i32x4.splat(count >> 1);
  const div = f32x4.splat(<f32>max(count, 1));
  const zero = i32x4.splat(0);
  for (let cb = 0; cb < c; cb += 8) {
    let acc0 = zero, acc1 = zero;
    for (let kh = kh0; kh < kh1; kh++) {
      const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
      for (let kw = kw0; kw < kw1; kw++) {
        const v = v128.load8x8_s(xRow + <usize>(w0 + kw * dW) * pix);
        acc0 = i32x4.add(acc0, i32x4.extend_low_i16x8_s(v));
        acc1 = i32x4.add(acc1, i32x4.extend_high_i16x8_s(v));
      }
    }
    const n0 = v128.bitselect(i32x4.add(acc0, half), i32x4.sub(acc0, half), i32x4.gt_s(acc0, zero));
    const n1 = v128.bitselect(i32x4.add(acc1, half), i32x4.sub(acc1, half), i32x4.gt_s(acc1, zero));
    acc0 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.trunc(f32x4.div(f32x4.convert_i32x4_s(n0), div))), vlo), vhi);
    acc1 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.trunc(f32x4.div(f32x4.convert_i32x4_s(n1), div))), vlo), vhi);
    storeLow8(yo + <usize>cb, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(acc0, acc1), i16x8.splat(0)), c - cb);
  }
}

/**
 * 2-D int8 MaxPool (isMax) or AveragePool over NHWC, input and output sharing
 * one quantization (TFLite's). Only taps inside the input count; the fused
 * activation clamps to [lo, hi].
 */
export function pool_i8(
  isMax: bool, x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  y: usize, lo: i32, hi: i32,
): void {
  const pix = <usize>c;
  const vlo = isMax ? i8x16.splat(<i8>lo) : i32x4.splat(lo), vhi = isMax ? i8x16.splat(<i8>hi) : i32x4.splat(hi);
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xImg = x + <usize>(n * inH) * <usize>inW * pix;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        if (isMax) maxPixel_i8(xImg, pix, inW, c, h0, w0, kh0, kh1, kw0, kw1, dH, dW, yo, vlo, vhi);
        else averagePixel_i8(xImg, pix, inW, c, h0, w0, kh0, kh1, kw0, kw1, dH, dW, yo, vlo, vhi);
        yo += pix;
      }
    }
  }
}

/**
 * Mean of X viewed as [outer, red, inner] over its middle axis (ReduceMean
 * over a contiguous block of axes, e.g. H and W of NHWC), into int8
 * [outer, inner]. Sums are exact int32 (red · 128 < 2^31 is checked by the
 * binding) kept in `sums` (inner int32, slack after). Then, per the
 * reference kernel (src/kernels/ref/int8/pool.ts):
 * - mode 0, xnnpack: clamp(rne(fl(fl(fl(sum) · fm) + bias))), fm and bias folded.
 * - mode 1, reference: clamp(MBQM(sum − zx·red, m, shift) + zy).
 * - mode 2, reference with one quantization on both sides: clamp(sum / red),
 *   truncated toward zero (i32 division).
 */
export function mean_i8(x: usize, outer: i32, red: i32, inner: i32, sums: usize, y: usize,
  mode: i32, m: i32, shift: i32, fm: f32, bias: f32, zx: i32, zy: i32): void {
  const rowBytes = <usize>inner;
  const zsum = zx * red;
  for (let o = 0; o < outer; o++) {
    memory.fill(sums, 0, <usize>inner << 2);
    let xr = x + <usize>o * <usize>red * rowBytes;
    for (let r = 0; r < red; r++) {
      let c = 0;
      for (; c + 8 <= inner; c += 8) {
        const v = v128.load8x8_s(xr + <usize>c);
        const s = sums + (<usize>c << 2);
        v128.store(s, i32x4.add(v128.load(s), i32x4.extend_low_i16x8_s(v)));
        v128.store(s, i32x4.add(v128.load(s, 16), i32x4.extend_high_i16x8_s(v)), 16);
      }
      for (; c < inner; c++) {
        const s = sums + (<usize>c << 2);
        store<i32>(s, load<i32>(s) + <i32>load<i8>(xr + <usize>c));
      }
      xr += rowBytes;
    }
    const yo = y + <usize>o * rowBytes;
    for (let c = 0; c < inner; c++) {
      const sum = load<i32>(sums + (<usize>c << 2));
      const q = mode == 1 ? requantRef(sum - zsum, m, shift) + zy : mode == 2 ? sum / red : <i32>nearest<f32>(<f32>sum * fm + bias);
      store<i8>(yo + <usize>c, <i8>clampI32(q, -128, 127));
    }
  }
}

/**
 * int8 Resize over H and W of NHWC, from per-axis tap tables (int32: lower
 * index, upper index, weight of the upper, for every output row and column;
 * an axis that is not resized has lo = hi = the index and weight 0):
 * - mode 0, nearest: the lower tap is copied.
 * - mode 1, XNNPACK's blend with Q11 weights: top = 2048·tl + (tr − tl)·wx,
 *   bottom likewise, y = ⌊(2048·top + (bottom − top)·wy + 2^21) / 2^22⌋.
 * - mode 2, TFLite's reference blend with Q10 weights: s = Σ tap·weight in
 *   Q20, rounded half away from zero.
 * Every intermediate fits int32 (|tap| ≤ 128, weights ≤ 2^11), so lanes are
 * exact. Eight channels per step, the rest one at a time.
 */
export function resize_i8(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32, outH: i32, outW: i32,
  hLo: usize, hHi: usize, hW: usize, wLo: usize, wHi: usize, wW: usize, y: usize, mode: i32,
): void {
  const pix = <usize>c;
  const rowBytes = <usize>inW * pix;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const img = x + <usize>(n * inH) * rowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const at = <usize>oh << 2;
      const r0 = img + <usize>load<i32>(hLo + at) * rowBytes, r1 = img + <usize>load<i32>(hHi + at) * rowBytes;
      const wy = load<i32>(hW + at);
      for (let ow = 0; ow < outW; ow++) {
        const ac = <usize>ow << 2;
        const c0 = <usize>load<i32>(wLo + ac) * pix, c1 = <usize>load<i32>(wHi + ac) * pix;
        const wx = load<i32>(wW + ac);
        if (mode == 0) {
          memory.copy(yo, r0 + c0, pix);
        } else if (mode == 1) {
          resizeXnnpackPixel(r0 + c0, r0 + c1, r1 + c0, r1 + c1, yo, c, wx, wy);
        } else {
          resizeReferencePixel(r0 + c0, r0 + c1, r1 + c0, r1 + c1, yo, c, wx, wy);
        }
        yo += pix;
      }
    }
  }
}

@inline function widen8(p: usize, half: i32): v128 {
  const v = v128.load8x8_s(p);
  return half == 0 ? i32x4.extend_low_i16x8_s(v) : i32x4.extend_high_i16x8_s(v);
}

/** Stores the low 8 bytes of two int32x4 vectors (values already in int8 range). */
@inline function store8(p: usize, v0: v128, v1: v128): void {
  v128.store64_lane(p, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v0, v1), i16x8.splat(0)), 0);
}

@inline function xnnBlend(tl: v128, tr: v128, bl: v128, br: v128, wx: v128, wy: v128, k: v128, half: v128): v128 {
  const top = i32x4.add(i32x4.mul(tl, k), i32x4.mul(i32x4.sub(tr, tl), wx));
  const bottom = i32x4.add(i32x4.mul(bl, k), i32x4.mul(i32x4.sub(br, bl), wx));
  return i32x4.shr_s(i32x4.add(i32x4.add(i32x4.mul(top, k), i32x4.mul(i32x4.sub(bottom, top), wy)), half), 22);
}

@inline function resizeXnnpackPixel(tl: usize, tr: usize, bl: usize, br: usize, y: usize, c: i32, wx: i32, wy: i32): void {
  const vx = i32x4.splat(wx), vy = i32x4.splat(wy), k = i32x4.splat(2048), half = i32x4.splat(1 << 21);
  let ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    const o = <usize>ch;
    const lo = xnnBlend(widen8(tl + o, 0), widen8(tr + o, 0), widen8(bl + o, 0), widen8(br + o, 0), vx, vy, k, half);
    const hi = xnnBlend(widen8(tl + o, 1), widen8(tr + o, 1), widen8(bl + o, 1), widen8(br + o, 1), vx, vy, k, half);
    store8(y + o, lo, hi);
  }
  for (; ch < c; ch++) {
    const o = <usize>ch;
    const a = <i32>load<i8>(tl + o), b = <i32>load<i8>(tr + o), d = <i32>load<i8>(bl + o), e = <i32>load<i8>(br + o);
    const top = a * 2048 + (b - a) * wx, bottom = d * 2048 + (e - d) * wx;
    store<i8>(y + o, <i8>((top * 2048 + (bottom - top) * wy + (1 << 21)) >> 22));
  }
}

@inline function refBlend(tl: v128, tr: v128, bl: v128, br: v128, w00: v128, w01: v128, w10: v128, w11: v128): v128 {
  const s = i32x4.add(i32x4.add(i32x4.mul(tl, w00), i32x4.mul(tr, w01)), i32x4.add(i32x4.mul(bl, w10), i32x4.mul(br, w11)));
  const m = i32x4.shr_u(i32x4.add(i32x4.abs(s), i32x4.splat(1 << 19)), 20);
  return v128.bitselect(i32x4.neg(m), m, i32x4.lt_s(s, i32x4.splat(0)));
}

@inline function resizeReferencePixel(tl: usize, tr: usize, bl: usize, br: usize, y: usize, c: i32, wx: i32, wy: i32): void {
  const a00 = (1024 - wy) * (1024 - wx), a01 = (1024 - wy) * wx, a10 = wy * (1024 - wx), a11 = wy * wx;
  const w00 = i32x4.splat(a00), w01 = i32x4.splat(a01), w10 = i32x4.splat(a10), w11 = i32x4.splat(a11);
  let ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    const o = <usize>ch;
    const lo = refBlend(widen8(tl + o, 0), widen8(tr + o, 0), widen8(bl + o, 0), widen8(br + o, 0), w00, w01, w10, w11);
    const hi = refBlend(widen8(tl + o, 1), widen8(tr + o, 1), widen8(bl + o, 1), widen8(br + o, 1), w00, w01, w10, w11);
    store8(y + o, lo, hi);
  }
  for (; ch < c; ch++) {
    const o = <usize>ch;
    const s = <i32>load<i8>(tl + o) * a00 + <i32>load<i8>(tr + o) * a01 + <i32>load<i8>(bl + o) * a10 + <i32>load<i8>(br + o) * a11;
    const m = (abs<i32>(s) + (1 << 19)) >>> 20;
    store<i8>(y + <usize>o, <i8>(s < 0 ? -m : m));
  }
}

/** `rows` rows of `bytes` int8 through a table: dst[r·dstStride + i] = table[src[r·srcStride + i] + 128] (int8 Concat's requantization). */
export function table_rows_i8(dst: usize, src: usize, rows: i32, bytes: i32, dstStride: i32, srcStride: i32, table: usize): void {
  for (let r = 0; r < rows; r++) table_i8(src + <usize>r * <usize>srcStride, dst + <usize>r * <usize>dstStride, bytes, table);
}

/**
 * y[i] = tables[(i mod period)·256 + x[i] + 128]: an int8 Add/Sub/Mul whose
 * other operand is a constant repeating every `period` elements, one table
 * per position of the period (built by the reference kernel).
 */
export function lut_rows_i8(x: usize, y: usize, n: i32, period: i32, tables: usize): void {
  let j = 0;
  let t = tables;
  for (let i = 0; i < n; i++) {
    store<i8>(y + <usize>i, load<i8>(t + <usize>(load<i8>(x + <usize>i) + 128)));
    if (++j == period) { j = 0; t = tables; } else t += 256;
  }
}

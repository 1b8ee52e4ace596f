/**
 * 16x8 SIMD kernels (TFLite's int16 activation scheme: symmetric int16
 * activations, zero point 0; symmetric int8 weights per output channel; an
 * int64 bias), bit-exact with src/kernels/ref/int16/conv.ts in both int8
 * arithmetics (TFLite runs 16x8 on its builtin kernels either way).
 *
 * Products: |x·w| ≤ 32768·128 = 2^22, so `i32x4.dot_i16x8_s` of int16
 * activations and int8 weights widened to int16 adds two of them into an
 * int32 lane exactly. The sums: TFLite's accumulator is int64. Every partial
 * sum of output channel c over a run of k is bounded by 32768·Σ|w| over that
 * run, so int32 lanes are exact while Σ|w| ≤ 65535 (32768·65535 < 2^31). The
 * binding proves it per layer from the weights at prepare time and passes
 * the longest block of k (`kb8`, a multiple of 8) over which it holds for
 * every channel: the whole K when it can, else blocks whose int32 partial
 * sums are added into int64 accumulators (504 always works: 504·128 ≤ 65535).
 * Padded taps are 0 (zero point 0), so they add nothing and skipping them is
 * the same as reading them.
 *
 * GEMM weights are packBlocksI8's int8 layout (the int8 GEMM's: blocks of 8
 * channels, k-pairs pre-rotated), so tile4 here is i8.as.ts's tile with
 * activations loaded as they are (eight int16) instead of sign-extended.
 *
 * The epilogue is scalar per output, in int64, on per-channel arrays the
 * binding computes (padded to 8 channels):
 * - mode 0, CONV_2D / DEPTHWISE_CONV_2D (TFLite's reduced multiplier):
 *   y = (biasM[c] + Σ·m'[c]) >> t[c], with m' the 31-bit multiplier rounded
 *   to 15 bits, t = 15 − shift and biasM = bias·m' + 2^(t−1) (exact:
 *   |bias·m'| < 2^61, |Σ·m'| < 2^62 under TFLite's 2^47 accumulator bound);
 *   the arithmetic shift floors, so ties go up, as in
 *   multiplyByQuantizedMultiplierWide.
 * - mode 1, FULLY_CONNECTED: x = bias[c] + Σ; y = round(x·m·2^−t) ties away
 *   from zero with the full multiplier and t = 31 − shift, the 2^78 product
 *   formed in 128 bits (multiplyByQuantizedMultiplierAway).
 * - mode 2, the convolutions' arithmetic of mode 0 with one shift T for all
 *   channels, four lanes at a time: the binding scales channel c's m' and
 *   biasM by 2^(T − t[c]), which leaves ⌊X / 2^t⌋ = ⌊X·2^(T−t) / 2^T⌋
 *   unchanged, and takes this mode only where it has proven that the scaled
 *   multipliers fit int32 lanes and |biasM| + 32768·Σ|w|·m' stays below 2^63
 *   after scaling (and K is one block); i64x2 products, an arithmetic shift
 *   by T, an int64 clamp.
 * - mode 3, mode 2 where the binding has also proven |biasM| + 32768·Σ|w|·m'
 *   < 2^(31+T) per channel (and z_y = 0): every ⌊X / 2^T⌋ then lies in
 *   [−2^31, 2^31), so the shifted int64 lanes are taken as int32 and clamped
 *   in i32x4 lanes (the int16 narrowing saturates inside [lo, hi] already).
 * then y + z_y clamped to [lo, hi], stored as int16.
 */
import { endTap, firstTap } from './window';

/** Accumulators of one tile: 4 rows × 8 channels, int32 (one block of k) or int64 (several). */
let ACC: usize = memory.data(4 * 8 * 8, 16);

/** Points this instance's ACC at `p` (scratch_bytes_i16 bytes, 16-byte aligned): each pool worker has its own (see set_scratch_i8). */
export function set_scratch_i16(p: usize): void {
  ACC = p;
}

/** Bytes set_scratch_i16 needs. */
export function scratch_bytes_i16(): usize {
  return 4 * 8 * 8;
}

/** round(x · m / 2^t), ties away from zero; 0 ≤ m < 2^31, |x| < 2^48, 1 ≤ t ≤ 94. */
@inline function roundAwayShift(x: i64, m: i64, t: i32): i64 {
  const neg = x < 0;
  const ax = <u64>(neg ? -x : x);
  const lo = (ax & 0xffffffff) * <u64>m; // < 2^63
  const hi = (ax >> 32) * <u64>m; // < 2^47
  // p = hi·2^32 + lo as (H, L).
  let L = lo + (hi << 32);
  let H = (hi >> 32) + (L < lo ? 1 : 0);
  if (t <= 64) {
    const L2 = L + (<u64>1 << <u64>(t - 1));
    H += L2 < L ? 1 : 0;
    L = L2;
  } else {
    H += <u64>1 << <u64>(t - 65);
  }
  const r = t < 64 ? (L >> <u64>t) | (H << <u64>(64 - t)) : H >> <u64>(t - 64);
  return neg ? -<i64>r : <i64>r;
}

/** The 16x8 epilogue of channel c for the sum `acc` (bias not included). */
@inline function wide(acc: i64, c: usize, mode: i32, bias: usize, biasM: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32): i32 {
  const m = <i64>load<i32>(mults + (c << 2));
  const t = load<i32>(shifts + (c << 2));
  let v: i64;
  if (mode == 0) v = (load<i64>(biasM + (c << 3)) + acc * m) >> <i64>t;
  else v = roundAwayShift(load<i64>(bias + (c << 3)) + acc, m, t);
  v += <i64>zy;
  if (v < <i64>lo) v = <i64>lo;
  if (v > <i64>hi) v = <i64>hi;
  return <i32>v;
}

/** Mode 2: four int32 sums of channels c..c+3 to int32 lanes in [lo, hi] (zy64, lo64, hi64 splatted int64). */
@inline function wide4(acc: v128, c: usize, biasM: usize, mults: usize, t: i32, zy64: v128, lo64: v128, hi64: v128): v128 {
  const m = v128.load(mults + (c << 2));
  let p0 = i64x2.add(i64x2.extmul_low_i32x4_s(acc, m), v128.load(biasM + (c << 3)));
  let p1 = i64x2.add(i64x2.extmul_high_i32x4_s(acc, m), v128.load(biasM + (c << 3), 16));
  p0 = i64x2.add(i64x2.shr_s(p0, t), zy64);
  p1 = i64x2.add(i64x2.shr_s(p1, t), zy64);
  p0 = v128.bitselect(lo64, p0, i64x2.lt_s(p0, lo64));
  p1 = v128.bitselect(lo64, p1, i64x2.lt_s(p1, lo64));
  p0 = v128.bitselect(hi64, p0, i64x2.gt_s(p0, hi64));
  p1 = v128.bitselect(hi64, p1, i64x2.gt_s(p1, hi64));
  return i32x4.shuffle(p0, p1, 0, 2, 4, 6);
}

/** Mode 3: four int32 sums of channels c..c+3 to ⌊(acc·m + biasM) / 2^t⌋ as int32 lanes (the binding proved they fit). */
@inline function narrow4(acc: v128, c: usize, biasM: usize, mults: usize, t: i32): v128 {
  const m = v128.load(mults + (c << 2));
  const p0 = i64x2.shr_s(i64x2.add(i64x2.extmul_low_i32x4_s(acc, m), v128.load(biasM + (c << 3))), t);
  const p1 = i64x2.shr_s(i64x2.add(i64x2.extmul_high_i32x4_s(acc, m), v128.load(biasM + (c << 3), 16)), t);
  return i32x4.shuffle(p0, p1, 0, 2, 4, 6);
}

/** Stores the first min(n, 8) int16 lanes of r at p. */
@inline function store16(p: usize, r: v128, n: i32): void {
  if (n >= 8) {
    v128.store(p, r);
    return;
  }
  v128.store(ACC, r, 240);
  for (let l = 0; l < n; l++) store<i16>(p + (<usize>l << 1), load<i16>(ACC + 240 + (<usize>l << 1)));
}

/** Mode 2 for 8 channels c0..c0+7 from two int32x4 sums, stored (n valid). */
@inline function storeWide8(p: usize, a: v128, b: v128, c0: usize, n: i32, biasM: usize, mults: usize, t: i32, zy64: v128, lo64: v128, hi64: v128): void {
  store16(p, i16x8.narrow_i32x4_s(wide4(a, c0, biasM, mults, t, zy64, lo64, hi64), wide4(b, c0 + 4, biasM, mults, t, zy64, lo64, hi64)), n);
}

/** Mode 3 for 8 channels c0..c0+7 from two int32x4 sums, clamped to [lo, hi] (lo32, hi32 splatted), stored (n valid). */
@inline function storeNarrow8(p: usize, a: v128, b: v128, c0: usize, n: i32, biasM: usize, mults: usize, t: i32, lo32: v128, hi32: v128): void {
  const r0 = i32x4.min_s(i32x4.max_s(narrow4(a, c0, biasM, mults, t), lo32), hi32);
  const r1 = i32x4.min_s(i32x4.max_s(narrow4(b, c0 + 4, biasM, mults, t), lo32), hi32);
  store16(p, i16x8.narrow_i32x4_s(r0, r1), n);
}

/** Rotates the four 32-bit lanes (k-pairs) of x by one: lane l takes lane l + 1. */
@inline function rot(x: v128): v128 {
  return i32x4.shuffle(x, x, 1, 2, 3, 0);
}

@inline function addWide(at: usize, v: v128): void {
  v128.store(at, i64x2.add(v128.load(at), i64x2.extend_low_i32x4_s(v)));
  v128.store(at, i64x2.add(v128.load(at, 16), i64x2.extend_high_i32x4_s(v)), 16);
}

/**
 * Up to 4 rows (rows a0 + t·lda bytes, int16) × 8 channels of one packed
 * block `wb`: sums over k in blocks of kb8, the epilogue for channels
 * c0 .. c0 + n − 1, outputs at yo + t·ldy (bytes).
 */
@inline function tile4(
  a0: usize, lda: usize, rows: i32, k8: usize, kb8: usize, wb: usize, c0: usize, yo: usize, ldy: usize, n: i32,
  mode: i32, bias: usize, biasM: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const a1 = rows > 1 ? a0 + lda : a0, a2 = rows > 2 ? a1 + lda : a1, a3 = rows > 3 ? a2 + lda : a2;
  const single = kb8 >= k8;
  if (!single) memory.fill(ACC, 0, 256);
  let w = wb;
  for (let k0: usize = 0; k0 < k8; k0 += kb8) {
    const kEnd = min(k0 + kb8, k8);
    const z = i32x4.splat(0);
    let c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    for (let i = k0; i < kEnd; i += 8) {
      let x0 = v128.load(a0 + (i << 1)), x1 = v128.load(a1 + (i << 1)), x2 = v128.load(a2 + (i << 1)), x3 = v128.load(a3 + (i << 1));
      for (let s: usize = 0; s < 64; s += 16) {
        const w0 = v128.load8x8_s(w + s), w1 = v128.load8x8_s(w + s + 8);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
        c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
        c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
        x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
      }
      w += 64;
    }
    if (single && mode == 3) {
      const t = load<i32>(shifts);
      const lo32 = i32x4.splat(lo), hi32 = i32x4.splat(hi);
      storeNarrow8(yo, c00, c01, c0, n, biasM, mults, t, lo32, hi32);
      if (rows > 1) storeNarrow8(yo + ldy, c10, c11, c0, n, biasM, mults, t, lo32, hi32);
      if (rows > 2) storeNarrow8(yo + 2 * ldy, c20, c21, c0, n, biasM, mults, t, lo32, hi32);
      if (rows > 3) storeNarrow8(yo + 3 * ldy, c30, c31, c0, n, biasM, mults, t, lo32, hi32);
      return;
    }
    if (single && mode == 2) {
      const t = load<i32>(shifts);
      const zy64 = i64x2.splat(<i64>zy), lo64 = i64x2.splat(<i64>lo), hi64 = i64x2.splat(<i64>hi);
      storeWide8(yo, c00, c01, c0, n, biasM, mults, t, zy64, lo64, hi64);
      if (rows > 1) storeWide8(yo + ldy, c10, c11, c0, n, biasM, mults, t, zy64, lo64, hi64);
      if (rows > 2) storeWide8(yo + 2 * ldy, c20, c21, c0, n, biasM, mults, t, zy64, lo64, hi64);
      if (rows > 3) storeWide8(yo + 3 * ldy, c30, c31, c0, n, biasM, mults, t, zy64, lo64, hi64);
      return;
    }
    if (single) {
      v128.store(ACC, c00); v128.store(ACC, c01, 16);
      v128.store(ACC, c10, 32); v128.store(ACC, c11, 48);
      v128.store(ACC, c20, 64); v128.store(ACC, c21, 80);
      v128.store(ACC, c30, 96); v128.store(ACC, c31, 112);
    } else {
      addWide(ACC, c00); addWide(ACC + 32, c01);
      addWide(ACC + 64, c10); addWide(ACC + 96, c11);
      addWide(ACC + 128, c20); addWide(ACC + 160, c21);
      addWide(ACC + 192, c30); addWide(ACC + 224, c31);
    }
  }
  const lanes = min(n, 8);
  for (let t = 0; t < rows; t++) {
    const yr = yo + <usize>t * ldy;
    for (let l = 0; l < lanes; l++) {
      const at = <usize>(t * 8 + l);
      const acc = single ? <i64>load<i32>(ACC + (at << 2)) : load<i64>(ACC + (at << 3));
      store<i16>(yr + (<usize>l << 1), <i16>wide(acc, c0 + <usize>l, mode, bias, biasM, mults, shifts, zy, lo, hi));
    }
  }
}

/** Bytes of activation and output rows a panel keeps in cache while it cycles through the weight blocks. */
const PANEL_BYTES = 96 * 1024;

/**
 * Y[r, o] = epilogue(Σ_k A[r, k] · W[o, k]) with A int16 rows lda bytes
 * apart (k8 elements readable in each; those past K meet zero weights) and Y
 * int16 rows ldy bytes apart. Panels of rows, each block of channels over a
 * panel's rows, so a block's weights stay in L1.
 */
export function gemm_i16(
  a: usize, lda: i32, rows: i32, k: i32, kb8: i32, wp: usize, cout: i32, y: usize, ldy: i32,
  mode: i32, bias: usize, biasM: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const k8 = <usize>((k + 7) & ~7);
  const blocks = (cout + 7) >> 3;
  const blockBytes = k8 << 3;
  const panel = max(4, (PANEL_BYTES / (<i32>k8 * 2 + cout * 2)) & ~3);
  for (let p = 0; p < rows; p += panel) {
    const end = min(rows, p + panel);
    for (let j = 0; j < blocks; j++) {
      const w = wp + <usize>j * blockBytes;
      for (let r = p; r < end; r += 4) {
        tile4(a + <usize>r * <usize>lda, <usize>lda, min(4, end - r), k8, <usize>kb8, w, <usize>j << 3,
          y + <usize>r * <usize>ldy + (<usize>j << 4), <usize>ldy, cout - (j << 3), mode, bias, biasM, mults, shifts, zy, lo, hi);
      }
    }
  }
}

/** Copies n bytes sixteen at a time (reads and writes up to 15 bytes past; callers go up in address order and leave slack). */
@inline function copyBytes(dst: usize, src: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 16) v128.store(dst + i, v128.load(src + i));
}

/**
 * Gathers the receptive fields of output row (n, oh) as int16 rows of k8
 * elements: kH·kW·Cin taps in (kh, kw, ci) order, 0 for padded taps.
 */
export function im2col_row_i16(
  x: usize, inH: i32, inW: i32, cin: i32, n: i32, oh: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, col: usize, k8: i32,
): void {
  const tap = <usize>cin << 1;
  const span = <usize>kW * tap;
  let row = col;
  for (let ow = 0; ow < outW; ow++) {
    let dst = row;
    const w0 = ow * sW - pW;
    const contiguous = dW == 1 && w0 >= 0 && w0 + kW <= inW;
    for (let kh = 0; kh < kH; kh++) {
      const ih = oh * sH - pH + kh * dH;
      if (ih < 0 || ih >= inH) {
        memory.fill(dst, 0, span);
        dst += span;
        continue;
      }
      const xRow = x + <usize>(n * inH + ih) * <usize>inW * tap;
      if (contiguous) {
        copyBytes(dst, xRow + <usize>w0 * tap, span);
        dst += span;
        continue;
      }
      for (let kw = 0; kw < kW; kw++) {
        const iw = w0 + kw * dW;
        if (iw < 0 || iw >= inW) memory.fill(dst, 0, tap);
        else copyBytes(dst, xRow + <usize>iw * tap, tap);
        dst += tap;
      }
    }
    row += <usize>k8 << 1;
  }
}

/**
 * 16x8 2-D convolution, one group: a 1×1 window with stride 1 and no padding
 * is one GEMM straight over X; otherwise im2col one output row at a time into
 * `col` (outW · k8 int16), then gemm_i16.
 */
export function conv_i16(
  x: usize, batch: i32, inH: i32, inW: i32, cin: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  wp: usize, kb8: i32, cout: i32, y: usize, col: usize,
  mode: i32, bias: usize, biasM: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const k = kH * kW * cin;
  const k8 = (k + 7) & ~7;
  if (kH == 1 && kW == 1 && sH == 1 && sW == 1 && pH == 0 && pW == 0 && outH == inH && outW == inW) {
    gemm_i16(x, cin << 1, batch * inH * inW, k, kb8, wp, cout, y, cout << 1, mode, bias, biasM, mults, shifts, zy, lo, hi);
    return;
  }
  const yRow = <usize>outW * <usize>cout << 1;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      im2col_row_i16(x, inH, inW, cin, n, oh, outW, kH, kW, sH, sW, dH, dW, pH, pW, col, k8);
      gemm_i16(col, k8 << 1, outW, k, kb8, wp, cout, yo, cout << 1, mode, bias, biasM, mults, shifts, zy, lo, hi);
      yo += yRow;
    }
  }
}

/**
 * 16x8 depthwise convolution, depth multiplier 1 (the binding repeats input
 * channels for larger ones with repeat_i16). Weights int8 [taps][Cpad8].
 * Per output pixel, 8 channels at a time, only the taps inside the input,
 * products widened to int32 with extmul (the binding proved Σ_taps |w| ≤
 * 65535 per channel). Vectors may read up to 7 int16 past channel C.
 */
export function depthwise_i16(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  wp: usize, y: usize,
  mode: i32, bias: usize, biasM: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const cpad = <usize>((c + 7) & ~7);
  const pix = <usize>c << 1;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xImg = x + <usize>(n * inH) * <usize>inW * pix;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        for (let cb = 0; cb < c; cb += 8) {
          let a0 = i32x4.splat(0), a1 = a0;
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pix + (<usize>cb << 1);
            const wRow = wp + <usize>(kh * kW) * cpad + <usize>cb;
            for (let kw = kw0; kw < kw1; kw++) {
              const xv = v128.load(xRow + <usize>(w0 + kw * dW) * pix);
              const wv = v128.load8x8_s(wRow + <usize>kw * cpad);
              a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xv, wv));
              a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xv, wv));
            }
          }
          if (mode == 3) {
            storeNarrow8(yo + (<usize>cb << 1), a0, a1, <usize>cb, c - cb, biasM, mults, load<i32>(shifts), i32x4.splat(lo), i32x4.splat(hi));
            continue;
          }
          if (mode == 2) {
            storeWide8(yo + (<usize>cb << 1), a0, a1, <usize>cb, c - cb, biasM, mults, load<i32>(shifts),
              i64x2.splat(<i64>zy), i64x2.splat(<i64>lo), i64x2.splat(<i64>hi));
            continue;
          }
          v128.store(ACC, a0);
          v128.store(ACC, a1, 16);
          const lanes = min(c - cb, 8);
          for (let l = 0; l < lanes; l++) {
            const ch = <usize>(cb + l);
            store<i16>(yo + (ch << 1), <i16>wide(<i64>load<i32>(ACC + (<usize>l << 2)), ch, mode, bias, biasM, mults, shifts, zy, lo, hi));
          }
        }
        yo += pix;
      }
    }
  }
}

/** y[i·m + j] = x[i] (int16) for i < n, j < m: a depthwise input with multiplier m spread for multiplier 1. */
export function repeat_i16(x: usize, y: usize, n: i32, m: i32): void {
  let dst = y;
  for (let i = 0; i < n; i++) {
    const v = load<i16>(x + (<usize>i << 1));
    for (let j = 0; j < m; j++) {
      store<i16>(dst, v);
      dst += 2;
    }
  }
}

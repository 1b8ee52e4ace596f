/**
 * int8 SIMD kernels (TFLite int8 scheme) with exact int32 accumulation.
 *
 * Activations are widened once to int16 with their zero point removed
 * (x − z_x in [−255, 255]); weights are packed once to int16 (w − z_w, in
 * [−255, 255]). Products are then below 2^16 and `i32x4.dot_i16x8_s` adds two
 * of them into an int32 lane exactly, so a GEMM tile needs no overflow
 * handling beyond the int32 accumulator TFLite itself relies on.
 *
 * Packed GEMM weights: blocks of 8 output channels; per pair of k, 8 channels
 * × (w[k], w[k+1]) as int16 = 32 bytes. K is rounded up to even (K2) and the
 * padding is 0 in both operands. Biases are int32, padded to a multiple of 8.
 *
 * Requantization (the only place the two arithmetics differ) follows
 * src/kernels/ref/int8/requantize.ts exactly:
 * - xnnpack (mode 0): clamp(rne(fl(fl(acc) · scale[c])) + z_y). f32x4.convert
 *   rounds like fl, f32x4.mul is one float32 rounding, f32x4.nearest is ties
 *   to even; clamping in float before the conversion is the same as clamping
 *   after because the bounds are integers and rounding is monotonic.
 * - reference (mode 1): TFLite's MultiplyByQuantizedMultiplier with 64-bit
 *   products, per lane.
 * Per-channel epilogue arrays (scale f32, multiplier i32, shift i32) are
 * padded like the bias.
 */
import { endTap, firstTap } from './window';
import { requantRef } from './fixed';

/**
 * Requantizes four int32 accumulators of channels c..c+3 (epilogue arrays at
 * byte offset `off`) to int32 lanes already clamped to [lo, hi].
 */
@inline function requant4(acc: v128, mode: i32, scales: usize, mults: usize, shifts: usize, off: usize, zy: i32, lo: i32, hi: i32): v128 {
  if (mode == 0) {
    let f = f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load(scales + off));
    f = f32x4.nearest(f);
    f = f32x4.min(f32x4.max(f, f32x4.splat(<f32>(lo - zy))), f32x4.splat(<f32>(hi - zy)));
    return i32x4.add(i32x4.trunc_sat_f32x4_s(f), i32x4.splat(zy));
  }
  const m = mults + off, s = shifts + off;
  let r = i32x4.splat(0);
  r = i32x4.replace_lane(r, 0, requantRef(i32x4.extract_lane(acc, 0), load<i32>(m), load<i32>(s)));
  r = i32x4.replace_lane(r, 1, requantRef(i32x4.extract_lane(acc, 1), load<i32>(m, 4), load<i32>(s, 4)));
  r = i32x4.replace_lane(r, 2, requantRef(i32x4.extract_lane(acc, 2), load<i32>(m, 8), load<i32>(s, 8)));
  r = i32x4.replace_lane(r, 3, requantRef(i32x4.extract_lane(acc, 3), load<i32>(m, 12), load<i32>(s, 12)));
  r = i32x4.add(r, i32x4.splat(zy));
  return i32x4.min_s(i32x4.max_s(r, i32x4.splat(lo)), i32x4.splat(hi));
}

/** Stores min(n, 8) int8 values made of two clamped int32x4 vectors. */
@inline function storeBytes8(p: usize, v0: v128, v1: v128, n: i32): void {
  const b = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v0, v1), i16x8.splat(0));
  if (n >= 8) {
    v128.store64_lane(p, b, 0);
    return;
  }
  let bits = i64x2.extract_lane(b, 0);
  for (let t = 0; t < n; t++) {
    store<u8>(p + <usize>t, <u8>bits);
    bits >>= 8;
  }
}

/**
 * Y[r, o] = requant(bias[o] + Σ_k A[r, k] · W[o, k]) with A the int16 rows
 * (stride lda elements, K2 of them used) and Y int8 rows of stride ldy.
 * Tile: 4 rows × 8 channels in eight i32x4 accumulators; per pair of k one
 * 32-bit broadcast of (a[k], a[k+1]) per row and two weight vectors feed
 * eight dot products (64 multiply-adds).
 */
export function gemm_i8(
  a: usize, lda: i32, rows: i32, k2: i32, wp: usize, bias: usize, cout: i32, y: usize, ldy: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const blocks = (cout + 7) >> 3;
  const aStride = <usize>lda << 1;
  const blockBytes = <usize>k2 << 4;
  const kBytes = <usize>k2 << 1;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a0 = a + <usize>r * aStride, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
    const y0 = y + <usize>r * <usize>ldy;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * blockBytes;
      const off = <usize>j << 5;
      let c00 = v128.load(bias + off), c01 = v128.load(bias + off, 16);
      let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
      for (let i: usize = 0; i < kBytes; i += 4) {
        const w0 = v128.load(w), w1 = v128.load(w, 16);
        const x0 = v128.load32_splat(a0 + i);
        const x1 = v128.load32_splat(a1 + i);
        const x2 = v128.load32_splat(a2 + i);
        const x3 = v128.load32_splat(a3 + i);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
        c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
        c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
        w += 32;
      }
      const n = cout - (j << 3);
      const yo = y0 + (<usize>j << 3);
      const ldyB = <usize>ldy;
      storeBytes8(yo, requant4(c00, mode, scales, mults, shifts, off, zy, lo, hi), requant4(c01, mode, scales, mults, shifts, off + 16, zy, lo, hi), n);
      storeBytes8(yo + ldyB, requant4(c10, mode, scales, mults, shifts, off, zy, lo, hi), requant4(c11, mode, scales, mults, shifts, off + 16, zy, lo, hi), n);
      storeBytes8(yo + 2 * ldyB, requant4(c20, mode, scales, mults, shifts, off, zy, lo, hi), requant4(c21, mode, scales, mults, shifts, off + 16, zy, lo, hi), n);
      storeBytes8(yo + 3 * ldyB, requant4(c30, mode, scales, mults, shifts, off, zy, lo, hi), requant4(c31, mode, scales, mults, shifts, off + 16, zy, lo, hi), n);
    }
  }
  for (; r < rows; r++) {
    const a0 = a + <usize>r * aStride;
    const y0 = y + <usize>r * <usize>ldy;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * blockBytes;
      const off = <usize>j << 5;
      let c00 = v128.load(bias + off), c01 = v128.load(bias + off, 16);
      for (let i: usize = 0; i < kBytes; i += 4) {
        const x0 = v128.load32_splat(a0 + i);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, v128.load(w)));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, v128.load(w, 16)));
        w += 32;
      }
      storeBytes8(y0 + (<usize>j << 3), requant4(c00, mode, scales, mults, shifts, off, zy, lo, hi),
        requant4(c01, mode, scales, mults, shifts, off + 16, zy, lo, hi), cout - (j << 3));
    }
  }
}

/**
 * dst[i] = src[i] − zx as int16 for i < n. Eight at a time; the last vector
 * may read up to 7 bytes past src and write up to 7 int16 past dst: callers
 * write in increasing address order (so the spill is overwritten) and leave
 * 16 bytes of slack after both buffers.
 */
@inline function widen(dst: usize, src: usize, n: i32, zx: v128): void {
  for (let i = 0; i < n; i += 8) {
    v128.store(dst + (<usize>i << 1), i16x8.sub(v128.load8x8_s(src + <usize>i), zx));
  }
}

/**
 * Gathers the receptive fields of output row (n, oh) as int16 (x − z_x) rows
 * of K2 elements: kH·kW·Cin taps in (kh, kw, ci) order, 0 for padded taps
 * (a padded tap is x = z_x, which contributes nothing, as in TFLite) and 0
 * in the odd element when K is odd.
 */
export function im2col_row_i8(
  x: usize, inH: i32, inW: i32, cin: i32, n: i32, oh: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32, col: usize, k2: i32,
): void {
  const z = i16x8.splat(<i16>zx);
  const tapBytes = <usize>cin << 1;
  const k = kH * kW * cin;
  let row = col;
  for (let ow = 0; ow < outW; ow++) {
    let dst = row;
    for (let kh = 0; kh < kH; kh++) {
      const ih = oh * sH - pH + kh * dH;
      if (ih < 0 || ih >= inH) {
        memory.fill(dst, 0, <usize>kW * tapBytes);
        dst += <usize>kW * tapBytes;
        continue;
      }
      const xRow = x + <usize>(n * inH + ih) * <usize>inW * <usize>cin;
      for (let kw = 0; kw < kW; kw++) {
        const iw = ow * sW - pW + kw * dW;
        if (iw < 0 || iw >= inW) memory.fill(dst, 0, tapBytes);
        else widen(dst, xRow + <usize>iw * <usize>cin, cin, z);
        dst += tapBytes;
      }
    }
    if (k2 > k) store<i16>(dst, 0);
    row += <usize>k2 << 1;
  }
}

/**
 * int8 2-D convolution, one group: im2col (int16, zero point removed) one
 * output row at a time, then gemm_i8. The column buffer holds outW · K2 int16.
 */
export function conv_i8(
  x: usize, batch: i32, inH: i32, inW: i32, cin: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32,
  wp: usize, bias: usize, cout: i32, y: usize, col: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const k2 = (kH * kW * cin + 1) & ~1;
  const yRow = <usize>outW * <usize>cout;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      im2col_row_i8(x, inH, inW, cin, n, oh, outW, kH, kW, sH, sW, dH, dW, pH, pW, zx, col, k2);
      gemm_i8(col, k2, outW, k2, wp, bias, cout, yo, cout, mode, scales, mults, shifts, zy, lo, hi);
      yo += yRow;
    }
  }
}

/** FullyConnected: each of `rows` rows of K int8 is widened (K2 int16) into col, then one GEMM. */
export function fully_connected_i8(
  x: usize, rows: i32, k: i32, zx: i32, wp: usize, bias: usize, cout: i32, y: usize, col: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const k2 = (k + 1) & ~1;
  const z = i16x8.splat(<i16>zx);
  for (let r = 0; r < rows; r++) {
    const dst = col + (<usize>(r * k2) << 1);
    widen(dst, x + <usize>(r * k), k, z);
    if (k2 > k) store<i16>(dst + (<usize>k << 1), 0);
  }
  gemm_i8(col, k2, rows, k2, wp, bias, cout, y, cout, mode, scales, mults, shifts, zy, lo, hi);
}

/**
 * int8 depthwise convolution, depth multiplier 1 (the binding repeats input
 * channels for larger multipliers). Sixteen, then eight
 * channels per step:
 * x − z_x widened to int16, weights pre-widened (packed [taps][Cpad8] int16),
 * products widened to int32 with extmul. Only taps inside the input are
 * summed (padding contributes nothing). The last vector of a pixel may read
 * up to 7 bytes past channel C (the binding leaves slack after X).
 */
export function depthwise_i8(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32,
  wp: usize, bias: usize, y: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const z = i16x8.splat(<i16>zx);
  const cpad = (c + 7) & ~7;
  const pix = <usize>c;
  const wTapBytes = <usize>cpad << 1;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        const xPix = x + <usize>(n * inH) * <usize>inW * pix;
        // Sixteen channels per pass: one 16-byte load widened into two int16 halves.
        let cb = 0;
        for (; cb + 16 <= c; cb += 16) {
          const off = <usize>cb << 2;
          let a0 = v128.load(bias + off), a1 = v128.load(bias + off, 16), a2 = v128.load(bias + off, 32), a3 = v128.load(bias + off, 48);
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
            const wRow = wp + <usize>(kh * kW) * wTapBytes + (<usize>cb << 1);
            for (let kw = kw0; kw < kw1; kw++) {
              const xb = v128.load(xRow + <usize>(w0 + kw * dW) * pix);
              const xl = i16x8.sub(i16x8.extend_low_i8x16_s(xb), z);
              const xh = i16x8.sub(i16x8.extend_high_i8x16_s(xb), z);
              const wq = wRow + <usize>kw * wTapBytes;
              const wl = v128.load(wq), wh = v128.load(wq, 16);
              a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xl, wl));
              a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xl, wl));
              a2 = i32x4.add(a2, i32x4.extmul_low_i16x8_s(xh, wh));
              a3 = i32x4.add(a3, i32x4.extmul_high_i16x8_s(xh, wh));
            }
          }
          storeBytes8(yo + <usize>cb, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi),
            requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi), 8);
          storeBytes8(yo + <usize>cb + 8, requant4(a2, mode, scales, mults, shifts, off + 32, zy, lo, hi),
            requant4(a3, mode, scales, mults, shifts, off + 48, zy, lo, hi), 8);
        }
        for (; cb < c; cb += 8) {
          const off = <usize>cb << 2;
          let acc0 = v128.load(bias + off), acc1 = v128.load(bias + off, 16);
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
            const wRow = wp + <usize>(kh * kW) * wTapBytes + (<usize>cb << 1);
            for (let kw = kw0; kw < kw1; kw++) {
              const xv = i16x8.sub(v128.load8x8_s(xRow + <usize>(w0 + kw * dW) * pix), z);
              const wv = v128.load(wRow + <usize>kw * wTapBytes);
              acc0 = i32x4.add(acc0, i32x4.extmul_low_i16x8_s(xv, wv));
              acc1 = i32x4.add(acc1, i32x4.extmul_high_i16x8_s(xv, wv));
            }
          }
          storeBytes8(yo + <usize>cb, requant4(acc0, mode, scales, mults, shifts, off, zy, lo, hi),
            requant4(acc1, mode, scales, mults, shifts, off + 16, zy, lo, hi), c - cb);
        }
        yo += pix;
      }
    }
  }
}

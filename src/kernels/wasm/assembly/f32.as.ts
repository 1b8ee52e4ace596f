/**
 * float32 SIMD kernels (AssemblyScript, compiled with `--enable simd`).
 *
 * Every pointer is a byte offset into the module's linear memory, which the
 * TypeScript binding manages (no allocator here: the module is built with the
 * stub runtime and never allocates). Layouts, shared with ../f32.ts:
 *
 * - Activations are NHWC float32, weights of Conv/FullyConnected are packed
 *   once per session into blocks of 8 output channels: block j holds K rows of
 *   8 floats (w[8j .. 8j+7][k] for k = 0..K-1), channels past Cout are 0.
 *   Biases are padded to a multiple of 8 with zeros.
 * - Depthwise weights are [taps][Cpad] with Cpad = C rounded up to 4.
 *
 * Sums are float32 in a fixed order (tap-major, then input channel), so they
 * differ from the float64 reference by float32 rounding only (see the tests'
 * tolerance). Every multiply-add goes through fma.ts's madd: two roundings
 * in kernels.wasm, a relaxed (possibly fused) multiply-add in
 * kernels-relaxed.wasm, in the same order.
 */
import { endTap, firstTap } from './window';
import { storeLanesF32 } from './tails';
import { madd } from './fma';

/** Clamps (NaN passes through, as in the reference) and stores min(n, 8) channels of (v0, v1) at p. */
@inline function store8(p: usize, v0: v128, v1: v128, n: i32, lo: v128, hi: v128): void {
  v0 = f32x4.pmin(f32x4.pmax(v0, lo), hi);
  v1 = f32x4.pmin(f32x4.pmax(v1, lo), hi);
  if (n >= 8) {
    v128.store(p, v0);
    v128.store(p, v1, 16);
  } else if (n >= 4) {
    v128.store(p, v0);
    if (n > 4) storeLanesF32(p + 16, v1, n - 4);
  } else {
    storeLanesF32(p, v0, n);
  }
}

/**
 * Y[r, o] = clamp(bias[o] + Σ_k A[r, k] · W[o, k]) for r < rows, o < cout.
 * A has row stride lda floats, Y row stride ldy floats. The micro-kernel
 * keeps a 4-row × 8-channel tile in eight f32x4 accumulators: per k it loads
 * two weight vectors and four broadcast activations for 32 multiply-adds.
 * Row tiles are the outer loop so the tile's 4·K activations stay in L1 while
 * the packed weights stream from L2.
 */
export function gemm_f32(a: usize, lda: i32, rows: i32, k: i32, wp: usize, bias: usize, cout: i32, y: usize, ldy: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const blocks = (cout + 7) >> 3;
  const aStride = <usize>lda << 2;
  const yStride = <usize>ldy << 2;
  const blockBytes = <usize>k << 5;
  const kBytes = <usize>k << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a0 = a + <usize>r * aStride, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
    const y0 = y + <usize>r * yStride;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * blockBytes;
      const b = bias + (<usize>j << 5);
      let c00 = v128.load(b), c01 = v128.load(b, 16);
      let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
      for (let i: usize = 0; i < kBytes; i += 4) {
        const w0 = v128.load(w), w1 = v128.load(w, 16);
        const x0 = v128.load32_splat(a0 + i);
        const x1 = v128.load32_splat(a1 + i);
        const x2 = v128.load32_splat(a2 + i);
        const x3 = v128.load32_splat(a3 + i);
        c00 = madd(x0, w0, c00); c01 = madd(x0, w1, c01);
        c10 = madd(x1, w0, c10); c11 = madd(x1, w1, c11);
        c20 = madd(x2, w0, c20); c21 = madd(x2, w1, c21);
        c30 = madd(x3, w0, c30); c31 = madd(x3, w1, c31);
        w += 32;
      }
      const n = cout - (j << 3);
      const yo = y0 + (<usize>j << 5);
      store8(yo, c00, c01, n, vlo, vhi);
      store8(yo + yStride, c10, c11, n, vlo, vhi);
      store8(yo + 2 * yStride, c20, c21, n, vlo, vhi);
      store8(yo + 3 * yStride, c30, c31, n, vlo, vhi);
    }
  }
  for (; r < rows; r++) {
    const a0 = a + <usize>r * aStride;
    const y0 = y + <usize>r * yStride;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * blockBytes;
      const b = bias + (<usize>j << 5);
      let c00 = v128.load(b), c01 = v128.load(b, 16);
      for (let i: usize = 0; i < kBytes; i += 4) {
        const x0 = v128.load32_splat(a0 + i);
        c00 = madd(x0, v128.load(w), c00);
        c01 = madd(x0, v128.load(w, 16), c01);
        w += 32;
      }
      store8(y0 + (<usize>j << 5), c00, c01, cout - (j << 3), vlo, vhi);
    }
  }
}

/**
 * Gathers the receptive fields of output row (n, oh) into `col`: one row of
 * K = kH·kW·Cin floats per output column, in the OHWI weight's (kh, kw, ci)
 * order, with zeros where the window leaves the input (the padding).
 */
export function im2col_row_f32(
  x: usize, inH: i32, inW: i32, cin: i32, n: i32, oh: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, col: usize,
): void {
  const tapBytes = <usize>cin << 2;
  const rowBytes = <usize>kW * tapBytes;
  let dst = col;
  for (let ow = 0; ow < outW; ow++) {
    for (let kh = 0; kh < kH; kh++) {
      const ih = oh * sH - pH + kh * dH;
      if (ih < 0 || ih >= inH) {
        memory.fill(dst, 0, rowBytes);
        dst += rowBytes;
        continue;
      }
      const xRow = x + (<usize>(n * inH + ih) * <usize>inW) * tapBytes;
      for (let kw = 0; kw < kW; kw++) {
        const iw = ow * sW - pW + kw * dW;
        if (iw < 0 || iw >= inW) memory.fill(dst, 0, tapBytes);
        else memory.copy(dst, xRow + <usize>iw * tapBytes, tapBytes);
        dst += tapBytes;
      }
    }
  }
}

/**
 * 2-D convolution, one group, through im2col + GEMM one output row at a time
 * (the column buffer holds outW · K floats). A 1x1, stride-1, unpadded
 * convolution needs no gathering: X itself is the [pixels, Cin] matrix.
 */
export function conv_f32(
  x: usize, batch: i32, inH: i32, inW: i32, cin: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  wp: usize, bias: usize, cout: i32, y: usize, col: usize, lo: f32, hi: f32,
): void {
  const k = kH * kW * cin;
  if (kH == 1 && kW == 1 && sH == 1 && sW == 1 && pH == 0 && pW == 0 && outH == inH && outW == inW) {
    gemm_f32(x, cin, batch * outH * outW, k, wp, bias, cout, y, cout, lo, hi);
    return;
  }
  const yRow = <usize>outW * <usize>cout << 2;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      im2col_row_f32(x, inH, inW, cin, n, oh, outW, kH, kW, sH, sW, dH, dW, pH, pW, col);
      gemm_f32(col, k, outW, k, wp, bias, cout, yo, cout, lo, hi);
      yo += yRow;
    }
  }
}

/**
 * Depthwise convolution with depth multiplier 1 (the binding repeats input
 * channels for larger multipliers): channel c of the output reads channel c
 * of the input. Sixteen, then four channels per step; the window is
 * clipped to the input once per output pixel so no tap is tested. The last
 * vector of a row may read up to three floats past channel C (the binding
 * leaves 16 bytes of slack after X) and stores only the valid lanes.
 */
export function depthwise_f32(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  wp: usize, bias: usize, y: usize, lo: f32, hi: f32,
): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const cpad = (c + 3) & ~3;
  const pixBytes = <usize>c << 2;
  const wTapBytes = <usize>cpad << 2;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        const xPix = x + <usize>(n * inH) * <usize>inW * pixBytes;
        // Sixteen channels per pass keep four accumulators busy per tap address.
        let cb = 0;
        for (; cb + 16 <= c; cb += 16) {
          const cOff = <usize>cb << 2;
          let a0 = v128.load(bias + cOff), a1 = v128.load(bias + cOff, 16), a2 = v128.load(bias + cOff, 32), a3 = v128.load(bias + cOff, 48);
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
            const wRow = wp + <usize>(kh * kW) * wTapBytes + cOff;
            for (let kw = kw0; kw < kw1; kw++) {
              const xp = xRow + <usize>(w0 + kw * dW) * pixBytes;
              const wq = wRow + <usize>kw * wTapBytes;
              a0 = madd(v128.load(xp), v128.load(wq), a0);
              a1 = madd(v128.load(xp, 16), v128.load(wq, 16), a1);
              a2 = madd(v128.load(xp, 32), v128.load(wq, 32), a2);
              a3 = madd(v128.load(xp, 48), v128.load(wq, 48), a3);
            }
          }
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a0, vlo), vhi));
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a1, vlo), vhi), 16);
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a2, vlo), vhi), 32);
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a3, vlo), vhi), 48);
        }
        for (; cb < c; cb += 4) {
          const cOff = <usize>cb << 2;
          let acc = v128.load(bias + cOff);
          for (let kh = kh0; kh < kh1; kh++) {
            const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
            const wRow = wp + <usize>(kh * kW) * wTapBytes + cOff;
            for (let kw = kw0; kw < kw1; kw++) {
              acc = madd(v128.load(xRow + <usize>(w0 + kw * dW) * pixBytes), v128.load(wRow + <usize>kw * wTapBytes), acc);
            }
          }
          acc = f32x4.pmin(f32x4.pmax(acc, vlo), vhi);
          const left = c - cb;
          if (left >= 4) v128.store(yo + cOff, acc);
          else storeLanesF32(yo + cOff, acc, left);
        }
        yo += pixBytes;
      }
    }
  }
}

/**
 * float32 SIMD kernels for the memory-bound ops: elementwise binary and
 * unary ops, mean over a middle axis, NHWC pooling and resize, transposed convolution. Pointers are byte
 * offsets into linear memory owned by the TypeScript binding (../ops.ts),
 * which leaves 16 bytes of slack after every buffer: the last vector of a
 * row may read (never write) up to three floats past its end.
 */
import { endTap, firstTap } from './window';
import { storeLanesF32 } from './tails';
import { gemm_f32 } from './f32.as';

/** Binary op codes shared with the binding. */
const ADD = 0, MUL = 1, SUB = 2, RSUB = 3, DIV = 4, RDIV = 5;

@inline function apply(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f32x4.add(a, b);
  if (op == MUL) return f32x4.mul(a, b);
  if (op == SUB) return f32x4.sub(a, b);
  if (op == DIV) return f32x4.div(a, b);
  if (op == RDIV) return f32x4.div(b, a);
  return f32x4.sub(b, a);
}

/**
 * One row: y[i] = a[i] op b[i] for i < n, or op with the scalar b[0] when
 * `scalar` is set. Vectors first, then the tail lane by lane (whole-vector
 * stores past n would overwrite the next row's result).
 */
@inline function binaryRow(op: i32, a: usize, b: usize, y: usize, n: i32, scalar: bool): void {
  const bs = f32x4.splat(load<f32>(b));
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, apply(op, v128.load(a + o), scalar ? bs : v128.load(b + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storeLanesF32(y + o, apply(op, v128.load(a + o), scalar ? bs : v128.load(b + o)), n - i);
  }
}

/**
 * y = a op b where a has n elements and b repeats with period `period`
 * (n is a multiple of it): period n is the same-shape case, period 1 a
 * scalar, period C a per-channel vector of a channels-last tensor. `op`
 * RSUB computes b − a and RDIV b / a, so the binding can swap operands of
 * Sub and Div when it is A that broadcasts.
 */
export function binary_f32(op: i32, a: usize, b: usize, y: usize, n: i32, period: i32): void {
  if (period == 1) {
    if (op == ADD) binaryRow(ADD, a, b, y, n, true);
    else if (op == MUL) binaryRow(MUL, a, b, y, n, true);
    else if (op == SUB) binaryRow(SUB, a, b, y, n, true);
    else if (op == DIV) binaryRow(DIV, a, b, y, n, true);
    else if (op == RDIV) binaryRow(RDIV, a, b, y, n, true);
    else binaryRow(RSUB, a, b, y, n, true);
    return;
  }
  const rowBytes = <usize>period << 2;
  for (let r = 0; r < n; r += period) {
    if (op == ADD) binaryRow(ADD, a, b, y, period, false);
    else if (op == MUL) binaryRow(MUL, a, b, y, period, false);
    else if (op == SUB) binaryRow(SUB, a, b, y, period, false);
    else if (op == DIV) binaryRow(DIV, a, b, y, period, false);
    else if (op == RDIV) binaryRow(RDIV, a, b, y, period, false);
    else binaryRow(RSUB, a, b, y, period, false);
    a += rowBytes;
    y += rowBytes;
  }
}

/**
 * y = min(max(x, lo), hi) with NaN passing through (pmax/pmin return their
 * first operand when a comparison is false, as the reference's Math.min/max
 * chain and `x < 0 ? 0 : x` do); lo > hi gives hi, as ONNX Clip specifies.
 */
export function clamp_f32(x: usize, y: usize, n: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const end = <usize>n << 2;
  for (let o: usize = 0; o < end; o += 16) v128.store(y + o, f32x4.pmin(f32x4.pmax(v128.load(x + o), vlo), vhi));
}

/** HardSwish: x · min(max(x/6 + 1/2, 0), 1), in float32. */
export function hardswish_f32(x: usize, y: usize, n: i32): void {
  const sixth = f32x4.splat(<f32>(1.0 / 6.0)), half = f32x4.splat(0.5), zero = f32x4.splat(0), one = f32x4.splat(1);
  const end = <usize>n << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const v = v128.load(x + o);
    const g = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(v, sixth), half), zero), one);
    v128.store(y + o, f32x4.mul(v, g));
  }
}

/** Taps of a window inside the padded extent, given the distance `room` from its start to the extent's last element. */
@inline function padTaps(room: i32, d: i32, k: i32): i32 {
  return room < 0 ? 0 : min(k, room / d + 1);
}

/**
 * 2-D MaxPool (isMax) or AveragePool over NHWC, the window clipped to the
 * input once per output pixel (padding never contributes a value). The
 * average divides by `count` taps: the clipped window's taps, or with
 * countPad the taps inside the padded extents padH × padW. Channels go
 * sixteen, then four at a time; max keeps NaN, as the reference does.
 */
export function pool_f32(
  isMax: bool, x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  countPad: bool, padH: i32, padW: i32, y: usize, lo: f32, hi: f32,
): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const pixBytes = <usize>c << 2;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xImg = x + <usize>(n * inH) * <usize>inW * pixBytes;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      const hPad = padTaps(padH - 1 - oh * sH, dH, kH);
      for (let ow = 0; ow < outW; ow++) {
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        let count = (kh1 - kh0) * (kw1 - kw0);
        if (countPad) count = hPad * padTaps(padW - 1 - ow * sW, dW, kW);
        const scale = f32x4.splat(count > 0 ? <f32>1 / <f32>count : 0);
        let cb = 0;
        // Sixteen channels a step: four independent chains of max or add hide their latency.
        for (; cb + 16 <= c; cb += 16) {
          const cOff = <usize>cb << 2;
          let a0: v128, a1: v128, a2: v128, a3: v128;
          if (isMax) {
            a0 = f32x4.splat(-Infinity); a1 = a0; a2 = a0; a3 = a0;
            let n0 = i32x4.splat(0), n1 = n0, n2 = n0, n3 = n0;
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
              for (let kw = kw0; kw < kw1; kw++) {
                const p = xRow + <usize>(w0 + kw * dW) * pixBytes;
                const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
                a0 = f32x4.pmax(a0, v0); a1 = f32x4.pmax(a1, v1); a2 = f32x4.pmax(a2, v2); a3 = f32x4.pmax(a3, v3);
                n0 = v128.or(n0, f32x4.ne(v0, v0)); n1 = v128.or(n1, f32x4.ne(v1, v1));
                n2 = v128.or(n2, f32x4.ne(v2, v2)); n3 = v128.or(n3, f32x4.ne(v3, v3));
              }
            }
            // As in the four-channel loop below: a NaN tap wins, as the reference keeps it.
            const q = f32x4.splat(NaN);
            a0 = v128.bitselect(q, a0, n0); a1 = v128.bitselect(q, a1, n1); a2 = v128.bitselect(q, a2, n2); a3 = v128.bitselect(q, a3, n3);
          } else {
            a0 = f32x4.splat(0); a1 = a0; a2 = a0; a3 = a0;
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
              for (let kw = kw0; kw < kw1; kw++) {
                const p = xRow + <usize>(w0 + kw * dW) * pixBytes;
                a0 = f32x4.add(a0, v128.load(p)); a1 = f32x4.add(a1, v128.load(p, 16));
                a2 = f32x4.add(a2, v128.load(p, 32)); a3 = f32x4.add(a3, v128.load(p, 48));
              }
            }
            a0 = f32x4.mul(a0, scale); a1 = f32x4.mul(a1, scale); a2 = f32x4.mul(a2, scale); a3 = f32x4.mul(a3, scale);
          }
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a0, vlo), vhi));
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a1, vlo), vhi), 16);
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a2, vlo), vhi), 32);
          v128.store(yo + cOff, f32x4.pmin(f32x4.pmax(a3, vlo), vhi), 48);
        }
        for (; cb < c; cb += 4) {
          const cOff = <usize>cb << 2;
          let acc: v128;
          if (isMax) {
            // pmax(acc, v) = acc < v ? v : acc is one instruction and the reference's comparison; a NaN tap is
            // tracked in its own mask and wins at the end, as the reference keeps it.
            acc = f32x4.splat(-Infinity);
            let nan = i32x4.splat(0);
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
              for (let kw = kw0; kw < kw1; kw++) {
                const v = v128.load(xRow + <usize>(w0 + kw * dW) * pixBytes);
                acc = f32x4.pmax(acc, v);
                nan = v128.or(nan, f32x4.ne(v, v));
              }
            }
            acc = v128.bitselect(f32x4.splat(NaN), acc, nan);
          } else {
            acc = f32x4.splat(0);
            for (let kh = kh0; kh < kh1; kh++) {
              const xRow = xImg + <usize>((h0 + kh * dH) * inW) * pixBytes + cOff;
              for (let kw = kw0; kw < kw1; kw++) acc = f32x4.add(acc, v128.load(xRow + <usize>(w0 + kw * dW) * pixBytes));
            }
            acc = f32x4.mul(acc, scale);
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

/**
 * NHWC resize along H and W from per-axis tap tables: for output row oh the
 * input rows hIdx[2oh], hIdx[2oh+1] with weights hW[2oh], hW[2oh+1] (int32 and
 * float32 pairs), likewise for columns; a table with one tap per coordinate
 * (hTaps or wTaps = 1: nearest, or an axis not resized) reads only the first.
 * With one tap on both axes a pixel is copied.
 */
export function resize_f32(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32, outH: i32, outW: i32,
  hIdx: usize, hW: usize, hTaps: i32, wIdx: usize, wW: usize, wTaps: i32, y: usize,
): void {
  const pixBytes = <usize>c << 2;
  const rowBytes = <usize>inW * pixBytes;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xImg = x + <usize>(n * inH) * rowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const ht = <usize>oh << 3;
      const r0 = xImg + <usize>load<i32>(hIdx + ht) * rowBytes;
      const r1 = xImg + <usize>load<i32>(hIdx + ht, 4) * rowBytes;
      const a0 = f32x4.splat(load<f32>(hW + ht)), a1 = f32x4.splat(load<f32>(hW + ht, 4));
      for (let ow = 0; ow < outW; ow++) {
        const wt = <usize>ow << 3;
        const c0 = <usize>load<i32>(wIdx + wt) * pixBytes;
        const c1 = <usize>load<i32>(wIdx + wt, 4) * pixBytes;
        if (hTaps == 1 && wTaps == 1) {
          memory.copy(yo, r0 + c0, pixBytes);
          yo += pixBytes;
          continue;
        }
        const b0 = f32x4.splat(load<f32>(wW + wt)), b1 = f32x4.splat(load<f32>(wW + wt, 4));
        for (let cb = 0; cb < c; cb += 4) {
          const o = <usize>cb << 2;
          let top = f32x4.mul(v128.load(r0 + c0 + o), b0);
          if (wTaps == 2) top = f32x4.add(top, f32x4.mul(v128.load(r0 + c1 + o), b1));
          let v = f32x4.mul(top, a0);
          if (hTaps == 2) {
            let bottom = f32x4.mul(v128.load(r1 + c0 + o), b0);
            if (wTaps == 2) bottom = f32x4.add(bottom, f32x4.mul(v128.load(r1 + c1 + o), b1));
            v = f32x4.add(v, f32x4.mul(bottom, a1));
          }
          const left = c - cb;
          if (left >= 4) v128.store(yo + o, v);
          else storeLanesF32(yo + o, v, left);
        }
        yo += pixBytes;
      }
    }
  }
}

/**
 * Transposed 2-D convolution, one group, as GEMM then scatter (col2im): per
 * input row, col[iw][tap][oc] = Σ_ic X[n, ih, iw, ic] · W[ic][tap][oc] through
 * gemm_f32 (weights packed with taps·Cout "output channels", zero bias), then
 * each (iw, tap) block is added into the output pixel it lands on. Y starts
 * as the bias and is clamped at the end. The column buffer holds
 * inW · kH·kW · Cout floats.
 */
export function conv_transpose_f32(
  x: usize, batch: i32, inH: i32, inW: i32, cin: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32,
  wp: usize, zeroBias: usize, cout: i32, bias: usize, y: usize, col: usize, lo: f32, hi: f32,
): void {
  const taps = kH * kW;
  const n2 = taps * cout;
  const pixBytes = <usize>cout << 2;
  const outPixels = batch * outH * outW;
  for (let p = 0; p < outPixels; p++) memory.copy(y + <usize>p * pixBytes, bias, pixBytes);
  const xRowBytes = <usize>inW * (<usize>cin << 2);
  for (let n = 0; n < batch; n++) {
    const yImg = y + <usize>(n * outH) * <usize>outW * pixBytes;
    for (let ih = 0; ih < inH; ih++) {
      gemm_f32(x + <usize>(n * inH + ih) * xRowBytes, cin, inW, cin, wp, zeroBias, n2, col, n2, -Infinity, Infinity);
      for (let kh = 0; kh < kH; kh++) {
        const oh = ih * sH - pH + kh * dH;
        if (oh < 0 || oh >= outH) continue;
        const yRow = yImg + <usize>(oh * outW) * pixBytes;
        for (let iw = 0; iw < inW; iw++) {
          for (let kw = 0; kw < kW; kw++) {
            const ow = iw * sW - pW + kw * dW;
            if (ow < 0 || ow >= outW) continue;
            const src = col + (<usize>(iw * taps + kh * kW + kw) * pixBytes);
            const dst = yRow + <usize>ow * pixBytes;
            let c = 0;
            for (; c + 4 <= cout; c += 4) {
              const o = <usize>c << 2;
              v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
            }
            for (; c < cout; c++) {
              const o = <usize>c << 2;
              store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
            }
          }
        }
      }
    }
  }
  if (lo > -Infinity || hi < Infinity) clamp_f32(y, y, outPixels * cout, lo, hi);
}

/**
 * expNonPositive's constants, each splatted to four lanes, read from memory:
 * V8 rebuilds every v128 constant inside a loop (three instructions each),
 * where a load folds into the arithmetic instruction that uses it.
 */
const EXP_K = memory.data<f32>([
  -87.33654, -87.33654, -87.33654, -87.33654,
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  1.44269504, 1.44269504, 1.44269504, 1.44269504,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
], 16);

@inline function expK(i: i32): v128 {
  return v128.load(EXP_K + (<usize>i << 4));
}

/**
 * exp(x) for x ≤ 0, four lanes: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in
 * two so n·ln2 is exact), exp(r) by a degree-7 polynomial whose coefficients
 * are Cephes' expf minimax fit (about 1 ulp), times 2^n built in the exponent
 * bits. Inputs below −87.33 give 0 (exp would be subnormal there: at most
 * 2^−126 off), which keeps n within the normal exponents.
 */
@inline function expNonPositive(x: v128): v128 {
  const low = expK(0);
  const under = f32x4.lt(x, low);
  // pmax, not max (NaN-propagating max is several x86 instructions); a NaN input is put back by the caller.
  x = f32x4.pmax(x, low);
  // n = round(x·log2 e), ties to even, by adding 1.5·2^23 (|x·log2 e| < 2^22): t's low mantissa bits hold n,
  // which saves f32x4.nearest and a saturating conversion.
  const magic = expK(1);
  const t = f32x4.add(f32x4.mul(x, expK(2)), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, expK(3)));
  r = f32x4.sub(r, f32x4.mul(n, expK(4)));
  let p = expK(5);
  p = f32x4.add(f32x4.mul(p, r), expK(6));
  p = f32x4.add(f32x4.mul(p, r), expK(7));
  p = f32x4.add(f32x4.mul(p, r), expK(8));
  p = f32x4.add(f32x4.mul(p, r), expK(9));
  p = f32x4.add(f32x4.mul(p, r), expK(10));
  const e = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), expK(11));
  // 2^n: n + 127 into the exponent field (t's bits are those of 1.5·2^23 plus n).
  const scale = i32x4.shl(i32x4.sub(t, i32x4.splat(0x4b400000 - 127)), 23);
  return v128.andnot(f32x4.mul(e, scale), under);
}

/**
 * Sigmoid from e = exp(−|x|) ∈ (0, 1]: 1/(1 + e) for x ≥ 0 and e/(1 + e)
 * for x < 0, so neither side overflows or cancels. NaN stays NaN.
 */
export function sigmoid_f32(x: usize, y: usize, n: i32): void {
  const end = <usize>n << 2;
  // Two vectors a turn: the polynomial is one long dependency chain, and two give the CPU independent work.
  let o: usize = 0;
  for (; o + 32 <= end; o += 32) {
    v128.store(y + o, sigmoid4(v128.load(x + o)));
    v128.store(y + o, sigmoid4(v128.load(x + o, 16)), 16);
  }
  for (; o < end; o += 16) v128.store(y + o, sigmoid4(v128.load(x + o)));
}

@inline function sigmoid4(v: v128): v128 {
  const one = f32x4.splat(1);
  const e = expNonPositive(f32x4.neg(f32x4.abs(v)));
  const q = f32x4.div(one, f32x4.add(one, e));
  const s = v128.bitselect(f32x4.mul(e, q), q, f32x4.lt(v, f32x4.splat(0)));
  // The clamp inside expNonPositive turned NaN into a number: put it back.
  return v128.bitselect(v, s, f32x4.ne(v, v));
}

/**
 * HardSigmoid max(0, min(1, alpha·x + beta)) in float64 lanes, as the
 * reference computes it, so the float32 result is the same number.
 */
export function hardsigmoid_f32(x: usize, y: usize, n: i32, alpha: f64, beta: f64): void {
  const a = f64x2.splat(alpha), b = f64x2.splat(beta), zero = f64x2.splat(0), one = f64x2.splat(1);
  const end = <usize>n << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const v = v128.load(x + o);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1));
    const rl = f64x2.pmax(f64x2.pmin(f64x2.add(f64x2.mul(lo, a), b), one), zero);
    const rh = f64x2.pmax(f64x2.pmin(f64x2.add(f64x2.mul(hi, a), b), one), zero);
    v128.store(y + o, v128.shuffle<i32>(f32x4.demote_f64x2_zero(rl), f32x4.demote_f64x2_zero(rh), 0, 1, 4, 5));
  }
}

/**
 * Mean (or sum) of X viewed as [outer, red, inner] over the middle axis: for
 * each outer block the rows of `inner` floats are added in memory order into
 * float64 accumulators `acc` (inner doubles), then divided by red. This is
 * the reference's order and precision, so the float32 result is the same
 * number. NHWC global average pooling is red = H·W, inner = C.
 */
export function mean_f32(x: usize, outer: i32, red: i32, inner: i32, acc: usize, y: usize, mean: bool): void {
  const rowBytes = <usize>inner << 2;
  const accBytes = <usize>inner << 3;
  const vec = inner & ~3;
  const div = f64x2.splat(mean ? <f64>red : 1);
  for (let a = 0; a < outer; a++) {
    memory.fill(acc, 0, accBytes);
    for (let r = 0; r < red; r++) {
      let c = 0;
      for (; c < vec; c += 4) {
        const v = v128.load(x + (<usize>c << 2));
        const at = acc + (<usize>c << 3);
        v128.store(at, f64x2.add(v128.load(at), f64x2.promote_low_f32x4(v)));
        v128.store(at, f64x2.add(v128.load(at, 16), f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1))), 16);
      }
      for (; c < inner; c++) {
        const at = acc + (<usize>c << 3);
        store<f64>(at, load<f64>(at) + <f64>load<f32>(x + (<usize>c << 2)));
      }
      x += rowBytes;
    }
    let c = 0;
    for (; c < vec; c += 4) {
      const at = acc + (<usize>c << 3);
      const lo = f32x4.demote_f64x2_zero(f64x2.div(v128.load(at), div));
      const hi = f32x4.demote_f64x2_zero(f64x2.div(v128.load(at, 16), div));
      v128.store(y + (<usize>c << 2), v128.shuffle<i32>(lo, hi, 0, 1, 4, 5));
    }
    for (; c < inner; c++) store<f32>(y + (<usize>c << 2), <f32>(load<f64>(acc + (<usize>c << 3)) / (mean ? <f64>red : 1)));
    y += rowBytes;
  }
}

/**
 * Softmax over the last axis of `rows` rows of n floats: the row maximum
 * (f32x4.max: a NaN makes the row NaN, as in the reference), e = exp(x − max)
 * into y while summing e in four float32 lanes, then y · (1 / sum).
 */
export function softmax_f32(x: usize, rows: i32, n: i32, y: usize): void {
  const vec = n & ~3;
  const rowBytes = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    let m = f32x4.splat(-Infinity);
    let i = 0;
    for (; i < vec; i += 4) m = f32x4.max(m, v128.load(x + (<usize>i << 2)));
    let max = f32x4.extract_lane(m, 0);
    for (let l = 1; l < 4; l++) {
      const v = l == 1 ? f32x4.extract_lane(m, 1) : l == 2 ? f32x4.extract_lane(m, 2) : f32x4.extract_lane(m, 3);
      max = v != v || max != max ? NaN : Mathf.max(max, v);
    }
    for (; i < n; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      max = v != v || max != max ? NaN : Mathf.max(max, v);
    }
    const vmax = f32x4.splat(max);
    let s = f32x4.splat(0);
    i = 0;
    for (; i < vec; i += 4) {
      const o = <usize>i << 2;
      const e = expNonPositive(f32x4.sub(v128.load(x + o), vmax));
      v128.store(y + o, e);
      s = f32x4.add(s, e);
    }
    let sum = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const e = f32x4.extract_lane(expNonPositive(f32x4.splat(load<f32>(x + o) - max)), 0);
      store<f32>(y + o, e);
      sum += e;
    }
    const inv = f32x4.splat(<f32>1 / sum);
    i = 0;
    for (; i < vec; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), inv));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, load<f32>(y + o) * f32x4.extract_lane(inv, 0));
    }
    x += rowBytes;
    y += rowBytes;
  }
}

/** y[i] = 1 where a[i] == b[i] (NaN equals nothing), else 0, as bytes; sixteen per step. */
export function equal_f32(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const m0 = f32x4.eq(v128.load(a + o), v128.load(b + o));
    const m1 = f32x4.eq(v128.load(a + o, 16), v128.load(b + o, 16));
    const m2 = f32x4.eq(v128.load(a + o, 32), v128.load(b + o, 32));
    const m3 = f32x4.eq(v128.load(a + o, 48), v128.load(b + o, 48));
    const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3));
    v128.store(y + <usize>i, v128.and(bytes, i8x16.splat(1)));
  }
  for (; i < n; i++) store<u8>(y + <usize>i, load<f32>(a + (<usize>i << 2)) == load<f32>(b + (<usize>i << 2)) ? 1 : 0);
}

/**
 * TopK's scan past losing elements: the first j in [j0, n) with x[j] > w
 * (largest) or x[j] < w (smallest), else n. NaN beats nothing, as in the
 * reference's loop. Sixteen elements per test, then the block's first winner.
 */
export function first_beating_f32(x: usize, j0: i32, n: i32, w: f32, largest: bool): i32 {
  const vw = f32x4.splat(w);
  let j = j0;
  if (largest) {
    for (; j + 16 <= n; j += 16) {
      const p = x + (<usize>j << 2);
      const m = v128.or(v128.or(f32x4.gt(v128.load(p), vw), f32x4.gt(v128.load(p, 16), vw)),
        v128.or(f32x4.gt(v128.load(p, 32), vw), f32x4.gt(v128.load(p, 48), vw)));
      if (v128.any_true(m)) break;
    }
    for (; j < n; j++) if (load<f32>(x + (<usize>j << 2)) > w) return j;
  } else {
    for (; j + 16 <= n; j += 16) {
      const p = x + (<usize>j << 2);
      const m = v128.or(v128.or(f32x4.lt(v128.load(p), vw), f32x4.lt(v128.load(p, 16), vw)),
        v128.or(f32x4.lt(v128.load(p, 32), vw), f32x4.lt(v128.load(p, 48), vw)));
      if (v128.any_true(m)) break;
    }
    for (; j < n; j++) if (load<f32>(x + (<usize>j << 2)) < w) return j;
  }
  return n;
}

/** y[i] = x[i] (unsigned bytes, e.g. bools) as float32; sixteen per step. */
export function cast_u8_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const v = v128.load(x + <usize>i);
    const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
    const o = y + (<usize>i << 2);
    v128.store(o, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)));
    v128.store(o, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), 16);
    v128.store(o, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), 32);
    v128.store(o, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), 48);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), <f32>load<u8>(x + <usize>i));
}

/** Copies `rows` blocks of `bytes` from src (one every srcStride bytes) to dst (one every dstStride bytes). */
export function copy_rows(dst: usize, src: usize, rows: i32, bytes: i32, dstStride: i32, srcStride: i32): void {
  for (let r = 0; r < rows; r++) {
    memory.copy(dst + <usize>r * <usize>dstStride, src + <usize>r * <usize>srcStride, <usize>bytes);
  }
}

/**
 * y = x · mul[ch] + add[ch] over rows of c channels (an inference
 * BatchNormalization with its statistics folded into one multiply-add per
 * channel); four channels per step, the rest of a row one at a time.
 */
export function affine_f32(x: usize, y: usize, rows: i32, c: i32, mul: usize, add: usize): void {
  const rowBytes = <usize>c << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, yr = y + <usize>r * rowBytes;
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const o = <usize>ch << 2;
      v128.store(yr + o, f32x4.add(f32x4.mul(v128.load(xr + o), v128.load(mul + o)), v128.load(add + o)));
    }
    for (; ch < c; ch++) {
      const o = <usize>ch << 2;
      store<f32>(yr + o, load<f32>(xr + o) * load<f32>(mul + o) + load<f32>(add + o));
    }
  }
}

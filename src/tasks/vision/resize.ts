/**
 * Image resizing the way the models were trained and published, on decoded RGB
 * (row-major HWC bytes). A model sees the numbers its training pipeline produced;
 * a different kernel (sharp's default lanczos3, say) moves scores by a few
 * hundredths, and detections near the threshold come and go.
 *
 * Methods (dst pixel d, src size S, dst size D, scale s = S / D unless noted):
 *
 * - 'tf-bilinear': tf.image.resizeBilinear (TF's ResizeBilinear op, no antialias).
 *   alignCorners: s = (S - 1) / (D - 1) when D > 1. The source coordinate is
 *   x = (d + 0.5) * s - 0.5 with halfPixelCenters, else x = d * s (TF1's legacy
 *   mapping, which tf.image.resizeBilinear uses by default and @vladmandic/human
 *   uses for CenterNet and NanoDet). lo = max(0, floor(x)), hi = min(S - 1, ceil(x)),
 *   f = x - lo; rows are blended first along x, then along y (in float64 like TF.js's
 *   cpu kernel, stored as float32).
 *   The output is float (not rounded back to bytes): TF feeds the model floats.
 * - 'opencv-linear': cv::resize INTER_LINEAR on CV_8U. x = (d + 0.5) * s - 0.5,
 *   i = floor(x), f = x - i; at the borders (i < 0, or i >= S - 1) the weight
 *   collapses onto the edge pixel. Weights are fixed point with 11 fractional bits
 *   (INTER_RESIZE_COEF_BITS): w0 = round((1 - f) * 2048), w1 = 2048 - w0. The
 *   horizontal pass keeps the 22-bit product sums as ints; the vertical pass
 *   combines two rows as OpenCV's vectorised 8-bit path does
 *   ((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2 >> 2, saturated to 0..255.
 *   OpenCV turns an exact 2x downscale into INTER_AREA, and so do we.
 * - 'area': box filter over the source area each destination pixel covers
 *   (cv::resize INTER_AREA for downscaling; tf.image.resize 'area'), exact
 *   fractional coverage, in float64, output float.
 * - 'nearest': src = min(S - 1, floor(d * s)) (cv INTER_NEAREST, and TF's
 *   nearest neighbour without alignCorners or halfPixelCenters).
 */
import { CloudlessError } from '../../ir/index.js';

import type { ResizeMethod, TfBilinearFlags } from '../../zoo/preprocess-spec.js';

export type { ResizeMethod, TfBilinearFlags };

export const RESIZE_METHODS: readonly ResizeMethod[] = ['tf-bilinear', 'opencv-linear', 'area', 'nearest'];

/** tf.image.resizeBilinear's defaults, which @vladmandic/human passes for CenterNet and NanoDet. */
export const TF_BILINEAR_DEFAULTS: TfBilinearFlags = { alignCorners: false, halfPixelCenters: false };

/** Interleaved pixels, row-major: data[(y * width + x) * channels + c]. */
export interface PixelBuffer {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
}

export interface ResizeOptions {
  method: ResizeMethod;
  /** Only for 'tf-bilinear' (default TF_BILINEAR_DEFAULTS). */
  tf?: TfBilinearFlags;
}

/** Parses a --resize value, naming the accepted ones when it is not one. */
export function parseResizeMethod(v: string, where = '--resize'): ResizeMethod {
  if ((RESIZE_METHODS as readonly string[]).includes(v)) return v as ResizeMethod;
  throw new CloudlessError('E_CONFIG', `${where}: unknown resize method '${v}'`, { hint: `use one of ${RESIZE_METHODS.join(', ')}` });
}

function checkSizes(src: PixelBuffer, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new CloudlessError('E_CONFIG', `resize: target size must be positive integers, got ${width}x${height}`);
  }
  const { width: w, height: h, channels: c } = src;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || !Number.isInteger(c) || c < 1) {
    throw new CloudlessError('E_IMAGE', `resize: source must have positive integer size and channels, got ${w}x${h}x${c}`);
  }
  if (src.data.length !== w * h * c) {
    throw new CloudlessError('E_IMAGE', `resize: source ${w}x${h}x${c} needs ${w * h * c} values, has ${src.data.length}`);
  }
}

/** Resizes `src` to width x height. tf-bilinear and area give floats; opencv-linear and nearest give bytes (as the libraries do for uint8 input). */
export function resizePixels(src: PixelBuffer, width: number, height: number, opts: ResizeOptions): PixelBuffer {
  checkSizes(src, width, height);
  switch (opts.method) {
    case 'tf-bilinear': return tfBilinear(src, width, height, opts.tf ?? TF_BILINEAR_DEFAULTS);
    case 'opencv-linear': return opencvLinear(src, width, height);
    case 'area': return area(src, width, height);
    case 'nearest': return nearest(src, width, height);
    default: {
      const never: never = opts.method;
      throw new CloudlessError('E_CONFIG', `resize: unknown method ${String(never)}`);
    }
  }
}

interface Taps { lo: Int32Array; hi: Int32Array; frac: Float64Array }

function tfTaps(S: number, D: number, flags: TfBilinearFlags): Taps {
  const align = flags.alignCorners && D > 1;
  const ratio = (align ? S - 1 : S) / (align ? D - 1 : D);
  const lo = new Int32Array(D), hi = new Int32Array(D), frac = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const x = flags.halfPixelCenters ? ratio * (d + 0.5) - 0.5 : ratio * d;
    const l = Math.max(0, Math.floor(x));
    lo[d] = l;
    hi[d] = Math.min(S - 1, Math.ceil(x));
    frac[d] = x - l;
  }
  return { lo, hi, frac };
}

function tfBilinear(src: PixelBuffer, W: number, H: number, flags: TfBilinearFlags): PixelBuffer {
  const { data, width: sw, height: sh, channels: C } = src;
  const xs = tfTaps(sw, W, flags), ys = tfTaps(sh, H, flags);
  const out = new Float32Array(W * H * C);
  let o = 0;
  for (let y = 0; y < H; y++) {
    const top = ys.lo[y]! * sw * C, bot = ys.hi[y]! * sw * C, fy = ys.frac[y]!;
    for (let x = 0; x < W; x++) {
      const l = xs.lo[x]! * C, r = xs.hi[x]! * C, fx = xs.frac[x]!;
      for (let c = 0; c < C; c++) {
        const tl = data[top + l + c]!, tr = data[top + r + c]!;
        const bl = data[bot + l + c]!, br = data[bot + r + c]!;
        const t = tl + (tr - tl) * fx;
        const b = bl + (br - bl) * fx;
        out[o++] = t + (b - t) * fy;
      }
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

const COEF_BITS = 11;
const COEF_ONE = 1 << COEF_BITS;

/** OpenCV's saturate_cast<short>(v): round half to even (cvRound), then clamp. */
function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function cvTaps(S: number, D: number): { i0: Int32Array; i1: Int32Array; w0: Int32Array; w1: Int32Array } {
  const scale = S / D;
  const i0 = new Int32Array(D), i1 = new Int32Array(D), w0 = new Int32Array(D), w1 = new Int32Array(D);
  for (let d = 0; d < D; d++) {
    // OpenCV computes the coordinate in double and keeps it as a float.
    let fx = Math.fround((d + 0.5) * scale - 0.5);
    let sx = Math.floor(fx);
    fx = Math.fround(fx - sx);
    if (sx < 0) { fx = 0; sx = 0; }
    if (sx >= S - 1) { fx = 0; sx = S - 1; }
    const a0 = cvRound((1 - fx) * COEF_ONE);
    i0[d] = sx;
    i1[d] = Math.min(sx + 1, S - 1);
    w0[d] = a0;
    w1[d] = COEF_ONE - a0;
  }
  return { i0, i1, w0, w1 };
}

function opencvLinear(src: PixelBuffer, W: number, H: number): PixelBuffer {
  const { width: sw, height: sh, channels: C } = src;
  if (!(src.data instanceof Uint8Array)) {
    throw new CloudlessError('E_CONFIG', 'resize opencv-linear: implemented for 8-bit pixels (CV_8U), got floats');
  }
  if (sw === 2 * W && sh === 2 * H) return area(src, W, H, true);
  const data = src.data;
  const xs = cvTaps(sw, W), ys = cvTaps(sh, H);
  // Horizontal pass on each source row the vertical pass needs (cached by row index).
  const rows = new Map<number, Int32Array>();
  const hRow = (sy: number): Int32Array => {
    let row = rows.get(sy);
    if (row) return row;
    row = new Int32Array(W * C);
    const base = sy * sw * C;
    for (let x = 0; x < W; x++) {
      const a = base + xs.i0[x]! * C, b = base + xs.i1[x]! * C, wa = xs.w0[x]!, wb = xs.w1[x]!;
      for (let c = 0; c < C; c++) row[x * C + c] = data[a + c]! * wa + data[b + c]! * wb;
    }
    rows.set(sy, row);
    return row;
  };
  const out = new Uint8Array(W * H * C);
  for (let y = 0; y < H; y++) {
    const r0 = hRow(ys.i0[y]!), r1 = hRow(ys.i1[y]!), b0 = ys.w0[y]!, b1 = ys.w1[y]!;
    for (let i = 0; i < W * C; i++) {
      // 22-bit horizontal sums shifted to 18 bits, times 11-bit weights, back to 13 bits
      // each: (sum + 2) >> 2 leaves the 8-bit value, rounded.
      const v = (((b0 * (r0[i]! >> 4)) >> 16) + ((b1 * (r1[i]! >> 4)) >> 16) + 2) >> 2;
      out[y * W * C + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    // Rows above y's taps are not needed again.
    for (const k of rows.keys()) if (k < ys.i0[y]!) rows.delete(k);
  }
  return { data: out, width: W, height: H, channels: C };
}

/** Per destination index, the source cells it covers and how much of each (weights sum to 1). */
function areaTaps(S: number, D: number): { start: Int32Array; weights: Float64Array[] } {
  const scale = S / D;
  const start = new Int32Array(D);
  const weights: Float64Array[] = [];
  for (let d = 0; d < D; d++) {
    const a = d * scale, b = Math.min(S, (d + 1) * scale);
    const i0 = Math.floor(a), i1 = Math.min(S, Math.ceil(b));
    const w = new Float64Array(Math.max(1, i1 - i0));
    for (let i = i0; i < i1; i++) w[i - i0] = (Math.min(b, i + 1) - Math.max(a, i)) / (b - a);
    start[d] = Math.min(i0, S - 1);
    weights.push(w);
  }
  return { start, weights };
}

function area(src: PixelBuffer, W: number, H: number, toBytes = false): PixelBuffer {
  const { data, width: sw, height: sh, channels: C } = src;
  const xs = areaTaps(sw, W), ys = areaTaps(sh, H);
  const acc = new Float64Array(C);
  const out = toBytes ? new Uint8Array(W * H * C) : new Float32Array(W * H * C);
  for (let y = 0; y < H; y++) {
    const wy = ys.weights[y]!, y0 = ys.start[y]!;
    for (let x = 0; x < W; x++) {
      const wx = xs.weights[x]!, x0 = xs.start[x]!;
      acc.fill(0);
      for (let j = 0; j < wy.length; j++) {
        const row = (y0 + j) * sw;
        for (let i = 0; i < wx.length; i++) {
          const w = wy[j]! * wx[i]!;
          const p = (row + x0 + i) * C;
          for (let c = 0; c < C; c++) acc[c]! += data[p + c]! * w;
        }
      }
      const o = (y * W + x) * C;
      // OpenCV's fast 2x area path rounds (sum + 2) >> 2: half up.
      for (let c = 0; c < C; c++) out[o + c] = toBytes ? Math.min(255, Math.max(0, Math.floor(acc[c]! + 0.5))) : acc[c]!;
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

function nearest(src: PixelBuffer, W: number, H: number): PixelBuffer {
  const { data, width: sw, height: sh, channels: C } = src;
  const out = data instanceof Uint8Array ? new Uint8Array(W * H * C) : new Float32Array(W * H * C);
  const sx = sw / W, sy = sh / H;
  for (let y = 0; y < H; y++) {
    const yy = Math.min(sh - 1, Math.floor(y * sy));
    for (let x = 0; x < W; x++) {
      const xx = Math.min(sw - 1, Math.floor(x * sx));
      const s = (yy * sw + xx) * C, o = (y * W + x) * C;
      for (let c = 0; c < C; c++) out[o + c] = data[s + c]!;
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

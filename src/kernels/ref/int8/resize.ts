/**
 * int8 Resize (nearest and linear over at most two axes), the arithmetic of
 * TFLite's RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR.
 *
 * Both move raw int8 values without requantizing, so input and output must
 * share one quantization (TFLite's int8 spec requires it; its kernels ignore
 * the output parameters). Nearest is the same in both arithmetics. Bilinear
 * differs (docs/int8.md, "Resize"):
 * - `tflite-xnnpack`: XNNPACK's resize-bilinear for int8. Source coordinates
 *   are computed in float32 per axis, the fractional part becomes an 11-bit
 *   weight (round half to even), and the four taps are blended in exact
 *   integers, horizontally then vertically, ending with a floor shift by 22
 *   after adding 2^21 (ties toward +∞).
 * - `tflite-reference`: TFLite's reference ResizeBilinearInteger
 *   (tensorflow/lite/kernels/internal/reference/resize_bilinear.h, the integer
 *   path TFLite Micro runs): the coordinate scale is a 10-bit fixed-point
 *   integer, the four taps are weighted in Q20 and rounded half away from zero.
 *
 * The coordinate rules are TFLite's: align_corners, half-pixel centres, or
 * neither (ONNX asymmetric). A Resize from ONNX uses the same rules, with the
 * ratio taken from its scales when they are not out/in.
 */
import {
  attrInts, attrString, defineKernel, hasAttr, stridesOf,
  type KernelDef, type Node, type PrepareArgs, type Tensor, type ValueInfo,
} from '../../../ir/index.js';
import { plannedResize } from '../resize.js';
import { fl, hasTensorQuant, rne, roundHalfAway } from './requantize.js';

type Transform = 'align_corners' | 'half_pixel' | 'asymmetric';

/** Per output coordinate of one resized axis: the two input indices and the weight of the second. */
interface AxisTaps {
  lo: Int32Array;
  hi: Int32Array;
  /** Q11 (xnnpack) or Q10 (reference) weight of `hi`; for reference, `lo` gets ONE − weight. */
  weight: Int32Array;
}

export interface ResizeState {
  linear: boolean;
  reference: boolean;
  /** The (at most two) resized axes, outer first; an unresized axis maps each index to itself. */
  axes: number[];
  taps: AxisTaps[];
  inStrides: number[];
  outShape: number[];
  counter: Int32Array;
}

/** The resized axes: those whose size changes, or the `axes` attribute when it names exactly two. */
function resizedAxes(node: Node, inShape: readonly number[], outShape: readonly number[]): number[] {
  if (hasAttr(node, 'axes')) {
    const a = attrInts(node, 'axes').map((v) => (v < 0 ? v + inShape.length : v));
    if (a.length <= 2) return [...a].sort((p, q) => p - q);
  }
  return inShape.flatMap((d, i) => (d !== outShape[i] ? [i] : []));
}

function transformOf(node: Node, outShape: readonly number[], axes: readonly number[]): Transform | string {
  const ctm = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (ctm === 'align_corners' || ctm === 'half_pixel' || ctm === 'asymmetric') return ctm;
  // pytorch_half_pixel is half_pixel except for a length-1 output.
  if (ctm === 'pytorch_half_pixel' && axes.every((a) => outShape[a]! > 1)) return 'half_pixel';
  return `coordinate_transformation_mode ${ctm} has no TFLite equivalent`;
}

function checkResize(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  const x = inputs[0], y = outputs[0];
  if (!hasTensorQuant(x) || !hasTensorQuant(y)) return 'int8 Resize needs X and the output to be int8 with one scale and zero point';
  if (x!.quant!.scale[0] !== y!.quant!.scale[0] || (x!.quant!.zeroPoint[0] ?? 0) !== (y!.quant!.zeroPoint[0] ?? 0)) {
    return 'int8 Resize moves raw values: X and the output must share one scale and zero point (TFLite requires it)';
  }
  return checkResizeGeometry(node, inputs, outputs);
}

/** What TFLite's RESIZE_* can express (modes, axes, coordinate rules), whatever the element type: a reason, or undefined. */
export function checkResizeGeometry(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  const x = inputs[0], y = outputs[0];
  for (const i of [1, 2]) {
    const v = inputs[i];
    if (v && v.shape.some((d) => d > 0) && v.dtype !== 'float32') return `quantized Resize needs ${i === 1 ? 'roi' : 'scales'} as float32, got ${v.dtype}`;
  }
  if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') return 'keep_aspect_ratio_policy other than stretch is not supported by the quantized kernels';
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') return `mode ${mode}: the quantized kernels resize nearest or linear`;
  const axes = resizedAxes(node, x!.shape, y!.shape);
  if (axes.length > 2) return `the quantized kernels resize at most two axes, this node resizes ${axes.length}`;
  const t = transformOf(node, y!.shape, axes);
  if (t !== 'align_corners' && t !== 'half_pixel' && t !== 'asymmetric') return t;
  if (mode === 'nearest') {
    const rounding = attrString(node, 'nearest_mode', 'round_prefer_floor');
    // TFLite floors without centres and rounds half up with align_corners or half-pixel centres.
    const want = t === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
    if (rounding !== want) return `nearest_mode ${rounding} with ${t} has no TFLite equivalent (it uses ${want})`;
  }
  return undefined;
}

/**
 * The input/output length ratio TFLite uses (in/out, or (in−1)/(out−1) with
 * align_corners), as the numerator and denominator, or the reciprocal of an
 * ONNX scale that is not out/in.
 */
function ratio(t: Transform, inSize: number, outSize: number, scale: number): { num: number; den: number } {
  const adjust = t === 'align_corners' && outSize > 1 ? 1 : 0;
  if (adjust === 0 && scale * inSize !== outSize) return { num: 1, den: scale };
  return { num: inSize - adjust, den: outSize - adjust };
}

/**
 * XNNPACK's float32 coordinates (its q11 indirection setup): scale = fl(num / den);
 * half-pixel: x·scale + fl(0.5·scale − 0.5) clamped to [0, in−1]; otherwise x·scale.
 * The lower index is the truncated coordinate, the upper one the next, clamped;
 * the fraction times 2^11 is rounded half to even.
 */
function xnnpackAxis(taps: AxisTaps, t: Transform, inSize: number, r: { num: number; den: number }): void {
  const scale = fl(r.num / r.den);
  const offset = fl(fl(0.5 * scale) - 0.5);
  for (let o = 0; o < taps.lo.length; o++) {
    let c = fl(o * scale);
    if (t === 'half_pixel') c = Math.min(Math.max(fl(c + offset), 0), inSize - 1);
    const lo = Math.trunc(c);
    taps.lo[o] = lo;
    taps.hi[o] = Math.min(lo + 1, inSize - 1);
    taps.weight[o] = rne((c - lo) * 2048);
  }
}

/**
 * TFLite's ComputeInterpolationValuesInteger: scale_10 = round(2^10 · num/den)
 * by integer division; the Q10 coordinate is x·scale_10 (half-pixel: plus
 * ⌊scale_10/2⌋ − 2^9); lower = max(trunc(c / 2^10), 0), upper =
 * min(trunc((c + 2^10 − 1) / 2^10), in − 1); the upper tap weighs c − 2^10·lower.
 */
function referenceAxis(taps: AxisTaps, t: Transform, inSize: number, r: { num: number; den: number }): void {
  const scale10 = Number.isInteger(r.den)
    ? Math.trunc((1024 * r.num + Math.trunc(r.den / 2)) / r.den)
    : roundHalfAway(1024 / r.den);
  for (let o = 0; o < taps.lo.length; o++) {
    const c = t === 'half_pixel' ? o * scale10 + Math.trunc(scale10 / 2) - 512 : o * scale10;
    const lo = Math.max(Math.trunc(c / 1024), 0);
    taps.lo[o] = lo;
    taps.hi[o] = Math.min(Math.trunc((c + 1023) / 1024), inSize - 1);
    taps.weight[o] = c - 1024 * lo;
  }
}

/**
 * TFLite's nearest index (reference GetNearestNeighbor, float32):
 * (x + offset)·scale with offset 0.5 for half-pixel centres, rounded half away
 * from zero with align_corners and floored otherwise, clamped to the input.
 */
function nearestAxis(taps: AxisTaps, t: Transform, inSize: number, r: { num: number; den: number }): void {
  const scale = fl(r.num / r.den);
  const offset = t === 'half_pixel' ? 0.5 : 0;
  for (let o = 0; o < taps.lo.length; o++) {
    const c = fl(fl(o + offset) * scale);
    const i = t === 'align_corners' ? roundHalfAway(c) : Math.floor(c);
    taps.lo[o] = Math.max(Math.min(i, inSize - 1), 0);
  }
}

/**
 * `integerBilinear` forces TFLite's ResizeBilinearInteger whatever the
 * arithmetic (the 16x8 kernels: XNNPACK takes no int16, so TFLite runs it too).
 */
export function prepareResize(
  { node, inputs, outputs, ctx }: PrepareArgs, integerBilinear = false,
): { state: ResizeState; scratchBytes: number } {
  const x = inputs[0]!;
  const outShape = [...outputs[0]!.shape];
  const plan = plannedResize(node, inputs);
  const linear = attrString(node, 'mode', 'nearest') === 'linear';
  const reference = integerBilinear || ctx.int8Arithmetic === 'tflite-reference';
  const axes = resizedAxes(node, x.shape, outShape);
  const t = transformOf(node, outShape, axes) as Transform;
  let bytes = 0;
  const taps = axes.map((a) => {
    const n = outShape[a]!;
    const at: AxisTaps = { lo: new Int32Array(n), hi: new Int32Array(n), weight: new Int32Array(n) };
    bytes += 3 * at.lo.byteLength;
    const r = ratio(t, x.shape[a]!, n, plan.scales[a]!);
    if (!linear) nearestAxis(at, t, x.shape[a]!, r);
    else if (reference) referenceAxis(at, t, x.shape[a]!, r);
    else xnnpackAxis(at, t, x.shape[a]!, r);
    return at;
  });
  const counter = new Int32Array(outShape.length);
  return {
    state: { linear, reference, axes, taps, inStrides: stridesOf(x.shape), outShape, counter },
    scratchBytes: bytes + counter.byteLength,
  };
}

/** XNNPACK's blend: top and bottom rows in Q11, then the rows in Q22, floor after adding 2^21. */
function blendXnnpack(tl: number, tr: number, bl: number, br: number, wx: number, wy: number): number {
  const top = tl * 2048 + (tr - tl) * wx;
  const bottom = bl * 2048 + (br - bl) * wx;
  return Math.floor((top * 2048 + (bottom - top) * wy + 2097152) / 4194304);
}

/** TFLite's ResizeBilinearInteger blend: Q20 sum of the four weighted taps, rounded half away from zero. */
function blendReference(tl: number, tr: number, bl: number, br: number, wx: number, wy: number): number {
  const s = tl * (1024 - wy) * (1024 - wx) + bl * wy * (1024 - wx) + tr * (1024 - wy) * wx + br * wy * wx;
  return Math.trunc((s + (s > 0 ? 524288 : -524288)) / 1048576);
}

export function runResize(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ResizeState): void {
  const x = inputs[0]!.data as Int8Array | Int16Array, y = outputs[0]!.data as Int8Array | Int16Array;
  const { axes, taps, inStrides, outShape, counter, linear } = st;
  const rank = outShape.length;
  // A single resized axis blends with a dummy axis of weight 0 in the other direction.
  const ay = axes.length === 2 ? axes[0]! : -1;
  const ax = axes.length === 2 ? axes[1]! : axes.length === 1 ? axes[0]! : -1;
  const ty = ay >= 0 ? taps[0]! : undefined;
  const tx = ax >= 0 ? taps[axes.length - 1]! : undefined;
  const blend = st.reference ? blendReference : blendXnnpack;
  counter.fill(0);
  for (let i = 0; i < y.length; i++) {
    let base = 0;
    for (let d = 0; d < rank; d++) if (d !== ay && d !== ax) base += counter[d]! * inStrides[d]!;
    const oy = ay >= 0 ? counter[ay]! : 0, ox = ax >= 0 ? counter[ax]! : 0;
    const sy = ay >= 0 ? inStrides[ay]! : 0, sx = ax >= 0 ? inStrides[ax]! : 0;
    const y0 = ty ? ty.lo[oy]! * sy : 0, x0 = tx ? tx.lo[ox]! * sx : 0;
    if (!linear) {
      y[i] = x[base + y0 + x0]!;
    } else {
      const y1 = ty ? ty.hi[oy]! * sy : 0, x1 = tx ? tx.hi[ox]! * sx : 0;
      y[i] = blend(x[base + y0 + x0]!, x[base + y0 + x1]!, x[base + y1 + x0]!, x[base + y1 + x1]!, tx ? tx.weight[ox]! : 0, ty ? ty.weight[oy]! : 0);
    }
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d]! < outShape[d]!) break;
      counter[d] = 0;
    }
  }
}

export const int8ResizeKernels: readonly KernelDef[] = [
  defineKernel<ResizeState>({ op: 'Resize', backend: 'ref', dtypes: ['int8'], check: checkResize, prepare: prepareResize, run: runResize }),
];

/**
 * Reference float kernel for Resize (latest ONNX form), layout-free.
 *
 * Resize is separable: along each axis an output coordinate reads a few input
 * coordinates with fixed weights (1 tap for nearest, 2 for linear, 4 for
 * cubic). Those taps are computed once per axis into tables; an output element
 * is then the sum, over the product of its axes' taps, of weight × input.
 * Axes whose every output coordinate has a single tap of weight 1 (unresized
 * axes, nearest mode) cost only an index lookup. The tables are built in
 * prepare: scales, sizes and roi are plan-time values (shape inference reads
 * them, so the planner hands them to prepare as constants).
 */
import {
  CloudlessError, attrFloat, attrInt, attrString, defineKernel, stridesOf,
  type KernelDef, type Node, type PlannedValue, type PrepareArgs, type Tensor,
} from '../../ir/index.js';
import { resizePlan, type ResizePlan } from '../../ir/ops/nn.js';
import { FLOATS, type FloatArray } from './nn-common.js';


type Mode = 'nearest' | 'linear' | 'cubic';
const TAPS: Record<Mode, number> = { nearest: 2, linear: 2, cubic: 4 };

interface AxisTaps {
  inSize: number;
  outSize: number;
  /** Taps per output coordinate after simplification (1 when the axis is a pure index map). */
  count: number;
  index: Int32Array;
  weight: Float64Array;
  /** 1 where the coordinate maps outside the input (tf_crop_and_resize extrapolates there). */
  outside: Uint8Array;
}

interface ResizeState {
  rank: number;
  axes: AxisTaps[];
  inStrides: number[];
  /** Axes with more than one tap, in order; the others contribute one index each. */
  multi: number[];
  counter: Int32Array;
  extrapolation: number;
}

/**
 * Maps an output coordinate to a (fractional) input coordinate. Like the ONNX
 * reference, the modes that divide by the resized length use the unrounded
 * length scale × in (it differs from the output size when scales were given);
 * half_pixel_symmetric compares the two to re-centre.
 */
function sourceCoordinate(mode: string, x: number, scale: number, inSize: number, outSize: number, roi: readonly [number, number]): number {
  const resized = scale * inSize;
  switch (mode) {
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outSize / resized;
      const offset = (inSize / 2) * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel': return resized > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return resized === 1 ? 0 : (x * (inSize - 1)) / (resized - 1);
    case 'asymmetric': return x / scale;
    // Opset 11-12 only (later opsets dropped it); kept so such files import unchanged.
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
    case 'tf_crop_and_resize':
      return resized > 1
        ? roi[0] * (inSize - 1) + (x * (roi[1] - roi[0]) * (inSize - 1)) / (resized - 1)
        : 0.5 * (roi[0] + roi[1]) * (inSize - 1);
    default: throw new CloudlessError('E_ATTR', `Resize: coordinate_transformation_mode "${mode}" is not supported`);
  }
}

function cubicWeights(t: number, a: number, out: number[]): void {
  const s = t + 1, u = 1 - t, v = 2 - t;
  out[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  out[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  out[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
  out[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

interface ResizeAttrs {
  mode: Mode;
  transform: string;
  nearestMode: string;
  cubicA: number;
  excludeOutside: boolean;
}

function readAttrs(node: Node): ResizeAttrs {
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') {
    throw new CloudlessError('E_ATTR', `node ${node.name} (Resize): mode "${mode}" is not one of nearest, linear, cubic`, { node: node.name });
  }
  const nearestMode = attrString(node, 'nearest_mode', 'round_prefer_floor');
  if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].includes(nearestMode)) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (Resize): nearest_mode "${nearestMode}" is not one of round_prefer_floor, round_prefer_ceil, floor, ceil`, { node: node.name });
  }
  const transform = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'].includes(transform)) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (Resize): coordinate_transformation_mode "${transform}" is not supported`, { node: node.name });
  }
  return { mode, transform, nearestMode, cubicA: attrFloat(node, 'cubic_coeff_a', -0.75), excludeOutside: attrInt(node, 'exclude_outside', 0) !== 0 };
}

/** Fills one axis's tap table and sets its (simplified) tap count. */
function fillAxis(t: AxisTaps, at: ResizeAttrs, scale: number, roi: readonly [number, number]): void {
  const full = TAPS[at.mode];
  const w: number[] = [0, 0, 0, 0];
  const last = t.inSize - 1;
  let single = true;
  for (let o = 0; o < t.outSize; o++) {
    const x = sourceCoordinate(at.transform, o, scale, t.inSize, t.outSize, roi);
    t.outside[o] = at.transform === 'tf_crop_and_resize' && (x < 0 || x > last) ? 1 : 0;
    const x0 = Math.floor(x);
    const r = x - x0;
    let first: number;
    if (at.mode === 'nearest') {
      let up: boolean;
      switch (at.nearestMode) {
        case 'round_prefer_floor': up = r > 0.5; break;
        case 'round_prefer_ceil': up = r >= 0.5; break;
        case 'floor': up = false; break;
        default: up = r > 0; break;
      }
      w[0] = up ? 0 : 1; w[1] = up ? 1 : 0;
      first = x0;
    } else if (at.mode === 'linear') {
      w[0] = 1 - r; w[1] = r;
      first = x0;
    } else {
      cubicWeights(r, at.cubicA, w);
      first = x0 - 1;
    }
    if (at.mode === 'cubic' && at.excludeOutside) {
      // Taps outside the input drop out and the rest are renormalized.
      let sum = 0;
      for (let j = 0; j < full; j++) {
        const i = first + j;
        if (i < 0 || i > last) w[j] = 0;
        sum += w[j]!;
      }
      for (let j = 0; j < full; j++) w[j] = sum !== 0 ? w[j]! / sum : 0;
    }
    let nonzero = 0;
    for (let j = 0; j < full; j++) {
      // Outside the input the edge value repeats (ONNX pads with edge values).
      t.index[o * full + j] = Math.min(Math.max(first + j, 0), last);
      t.weight[o * full + j] = w[j]!;
      if (w[j] !== 0) nonzero++;
    }
    if (nonzero !== 1) single = false;
  }
  if (single && full > 1) {
    // Every coordinate reads exactly one input with weight 1: keep just that tap.
    for (let o = 0; o < t.outSize; o++) {
      let j = 0;
      while (t.weight[o * full + j] === 0) j++;
      t.index[o] = t.index[o * full + j]!;
      t.weight[o] = 1;
    }
    t.count = 1;
  } else {
    t.count = full;
  }
}

/** The output sizes and scales of a Resize node at prepare time (its roi, scales and sizes are constants by then). */
export function plannedResize(node: Node, inputs: readonly (PlannedValue | undefined)[]): ResizePlan {
  return resizePlan({
    node,
    inputs: [...inputs],
    value(i) {
      const v = inputs[i]?.constant;
      if (!v) throw new CloudlessError('E_INTERNAL', `node ${node.name} (Resize): input ${i} was not resolved at plan time`, { node: node.name });
      return v;
    },
    hasValue: (i) => inputs[i]?.constant !== undefined,
  });
}

function fillTables(st: ResizeState, at: ResizeAttrs, plan: ResizePlan): void {
  st.axes.forEach((t, a) => {
    fillAxis(t, at, plan.scales[a]!, plan.roi[a]!);
    if (t.count > 1) st.multi.push(a);
  });
}

function prepareResize({ node, inputs, outputs }: PrepareArgs): { state: ResizeState; scratchBytes: number } {
  const at = readAttrs(node);
  const x = inputs[0]!;
  const out = outputs[0]!.shape;
  const full = TAPS[at.mode];
  let bytes = 0;
  const axes = x.shape.map((inSize, a): AxisTaps => {
    const n = out[a]!;
    const t: AxisTaps = {
      inSize, outSize: n, count: full,
      index: new Int32Array(n * full), weight: new Float64Array(n * full), outside: new Uint8Array(n),
    };
    bytes += t.index.byteLength + t.weight.byteLength + t.outside.byteLength;
    return t;
  });
  const plan = plannedResize(node, inputs);
  const st: ResizeState = {
    rank: x.shape.length, axes, inStrides: stridesOf(x.shape), multi: [],
    counter: new Int32Array(x.shape.length), extrapolation: attrFloat(node, 'extrapolation_value', 0),
  };
  fillTables(st, at, plan);
  return { state: st, scratchBytes: bytes + st.counter.byteLength };
}

function runResize(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ResizeState): void {
  const x = inputs[0]!.data as FloatArray;
  const y = outputs[0]!.data as FloatArray;
  const { rank, axes, inStrides, multi, counter, extrapolation } = st;
  counter.fill(0);
  const total = y.length;

  // Sum over the taps of the multi-tap axes from position m of `multi` on.
  const gather = (m: number, offset: number): number => {
    if (m === multi.length) return x[offset]!;
    const a = multi[m]!;
    const t = axes[a]!;
    const o = counter[a]!;
    let s = 0;
    for (let j = 0; j < t.count; j++) {
      const wgt = t.weight[o * t.count + j]!;
      if (wgt !== 0) s += wgt * gather(m + 1, offset + t.index[o * t.count + j]! * inStrides[a]!);
    }
    return s;
  };

  for (let i = 0; i < total; i++) {
    let offset = 0;
    let outside = false;
    for (let a = 0; a < rank; a++) {
      const t = axes[a]!;
      const o = counter[a]!;
      if (t.outside[o]) outside = true;
      if (t.count === 1) offset += t.index[o]! * inStrides[a]!;
    }
    y[i] = outside ? extrapolation : gather(0, offset);
    for (let a = rank - 1; a >= 0; a--) {
      if (++counter[a]! < axes[a]!.outSize) break;
      counter[a] = 0;
    }
  }
}

export const resizeKernels: readonly KernelDef[] = [
  defineKernel<ResizeState>({
    op: 'Resize',
    backend: 'ref',
    dtypes: FLOATS,
    check(node) {
      if (attrInt(node, 'antialias', 0) !== 0) return 'antialias=1 is not supported';
      return undefined;
    },
    prepare: prepareResize,
    run: runResize,
  }),
];

/**
 * Bindings of the float32 memory-bound wasm kernels (assembly/f32ops.as.ts):
 * Add/Sub/Mul/Div, Relu/Clip/HardSwish/Sigmoid/HardSigmoid, ReduceMean and
 * ReduceSum over one block of axes, Softmax over the last axis,
 * MaxPool/AveragePool (1-D/2-D) and Resize (nearest/linear over H and W of
 * NHWC); Concat, same-shape Equal and bool → float32 Cast as plain loops
 * (SIMD in the module when the tensors live in its memory); and TopK over the
 * last axis, the reference's heap with its scan in the module.
 *
 * These ops do a few flops per element, so the copy in and out of the
 * module's memory is a real part of their cost; they still run several times
 * faster than the reference loops because the copies are memcpy and the
 * arithmetic is four lanes wide. Shapes the kernels do not take fall back to
 * 'ref' through check().
 *
 * Tolerances against the reference: Add/Sub/Mul/Div, Relu and Clip are
 * bit-identical (a float32 operation rounds once; the reference's float64
 * result of float32 operands rounded to float32 is the same number), and so
 * are HardSigmoid and ReduceMean/ReduceSum, which compute in float64 in the
 * reference's order; Sigmoid and Softmax use a polynomial exp (a few ulp;
 * Softmax also sums in float32); HardSwish, AveragePool and Resize sum in float32 instead of float64
 * (relative error a few ulp).
 */
import {
  CloudlessError, attrFloat, attrInt, attrInts, attrString, defineKernel, sizeOf,
  type KernelDef, type Node, type PrepareArgs, type Tensor, type ValueInfo,
} from '../../ir/index.js';
import { activationRange, epsilonOf, windowGeometry } from '../../ir/ops/nn.js';
import { geometry3, type Geometry3 } from '../../ir/window.js';
import { batchNormAffine } from '../ref/norm.js';
import { runTopK, topKKernel as refTopK, type TopKState } from '../ref/reduce.js';
import { resizeKernels } from '../ref/resize.js';
import { SLACK, regionBytes, spatialRankReason } from './common.js';
import { inHeap, inputAt, outputAt, outputDone } from './place.js';
import { wasmHeap } from './heap.js';

const float32Only = ['float32'] as const;

function float32Reason(node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[], count: number): string | undefined {
  for (let i = 0; i < count; i++) {
    if (inputs[i] && inputs[i]!.dtype !== 'float32') return `wasm ${node.op} takes float32 inputs, input ${i} is ${inputs[i]!.dtype}`;
  }
  return outputs[0]!.dtype === 'float32' ? undefined : `wasm ${node.op} writes float32 only`;
}

// ---------------------------------------------------------------------------
// Add, Sub, Mul, Div
// ---------------------------------------------------------------------------

const BINARY_CODES = { Add: 0, Mul: 1, Sub: 2, Div: 4 } as const;
const RSUB = 3, RDIV = 5;

/**
 * How `small` broadcasts against the output: its shape without leading 1s
 * must be a suffix of the output's (the per-channel vector of NHWC, a
 * trailing block, or the same shape); the period is its size.
 */
function suffixPeriod(small: readonly number[], out: readonly number[]): number | undefined {
  let start = 0;
  while (start < small.length && small[start] === 1) start++;
  const rest = small.slice(start);
  if (rest.length > out.length) return undefined;
  const tail = out.slice(out.length - rest.length);
  return rest.every((d, i) => d === tail[i]) ? sizeOf(rest) : undefined;
}

/** Which operand is full-size and the other's period, or undefined when the broadcast is another pattern. */
export function binaryLayout(a: readonly number[], b: readonly number[], out: readonly number[]): { swap: boolean; period: number } | undefined {
  const n = sizeOf(out);
  if (sizeOf(a) === n) {
    const period = suffixPeriod(b, out);
    if (period !== undefined && period > 0) return { swap: false, period };
  }
  if (sizeOf(b) === n) {
    const period = suffixPeriod(a, out);
    if (period !== undefined && period > 0) return { swap: true, period };
  }
  return undefined;
}

interface BinaryState { code: number; swap: boolean; period: number; n: number; bAt: number; yAt: number }

function binaryKernel(op: 'Add' | 'Sub' | 'Mul' | 'Div'): KernelDef {
  return defineKernel<BinaryState>({
    op, backend: 'wasm', dtypes: float32Only,
    check(node, inputs, outputs) {
      const reason = float32Reason(node, inputs, outputs, 2);
      if (reason) return reason;
      return binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)
        ? undefined : `wasm ${op} takes same-shape, scalar or trailing-vector broadcasting, not ${JSON.stringify(inputs[0]!.shape)} with ${JSON.stringify(inputs[1]!.shape)}`;
    },
    prepare({ inputs, outputs }: PrepareArgs) {
      const n = sizeOf(outputs[0]!.shape);
      const { swap, period } = binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)!;
      const code = swap && op === 'Sub' ? RSUB : swap && op === 'Div' ? RDIV : BINARY_CODES[op];
      const bAt = regionBytes(n, 4);
      const yAt = bAt + regionBytes(period, 4);
      wasmHeap().reserveTransient(yAt + regionBytes(n, 4));
      return { state: { code, swap, period, n, bAt, yAt } };
    },
    run(inputs, outputs, _node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const [full, small] = st.swap ? [inputs[1]!, inputs[0]!] : [inputs[0]!, inputs[1]!];
      const a = inputAt(heap, t, full), b = inputAt(heap, t + st.bAt, small), y = outputAt(heap, t + st.yAt, outputs[0]!);
      heap.exports.binary_f32(st.code, a, b, y, st.n, st.period);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// Relu, Clip, HardSwish, Sigmoid, HardSigmoid
// ---------------------------------------------------------------------------

interface UnaryState { n: number; yAt: number }

function prepareUnary({ outputs }: PrepareArgs): { state: UnaryState } {
  const n = sizeOf(outputs[0]!.shape);
  const yAt = regionBytes(n, 4);
  wasmHeap().reserveTransient(2 * yAt);
  return { state: { n, yAt } };
}

/** Clip's bounds are inputs the graph may compute, so they are read on every run. */
function boundOf(t: Tensor | undefined, absent: number): number {
  return t && t.size > 0 ? (t.data as Float32Array)[0]! : absent;
}

function unaryKernel(op: 'Relu' | 'Clip' | 'HardSwish' | 'Sigmoid' | 'HardSigmoid'): KernelDef {
  return defineKernel<UnaryState>({
    op, backend: 'wasm', dtypes: float32Only,
    check: (node, inputs, outputs) => float32Reason(node, inputs, outputs, op === 'Clip' ? 3 : 1),
    prepare: prepareUnary,
    run(inputs, outputs, node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
      if (op === 'HardSwish') heap.exports.hardswish_f32(x, y, st.n);
      else if (op === 'Sigmoid') heap.exports.sigmoid_f32(x, y, st.n);
      else if (op === 'HardSigmoid') heap.exports.hardsigmoid_f32(x, y, st.n, attrFloat(node, 'alpha', 0.2), attrFloat(node, 'beta', 0.5));
      else if (op === 'Relu') heap.exports.clamp_f32(x, y, st.n, 0, Infinity);
      else heap.exports.clamp_f32(x, y, st.n, boundOf(inputs[1], -Infinity), boundOf(inputs[2], Infinity));
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// ReduceMean, ReduceSum
// ---------------------------------------------------------------------------

interface MeanView { outer: number; red: number; inner: number }

/**
 * X as [outer, red, inner] with the reduced axes in the middle, read from the
 * shapes alone (check() does not see the axes input): with keepdims the
 * reduced axes are those whose output size differs from the input's, and
 * axes of size 1 may sit anywhere. Undefined when the reduced axes are not
 * one contiguous block (or without keepdims, where the shapes do not say
 * which axes went).
 */
function meanView(node: Node, x: readonly number[], y: readonly number[]): MeanView | undefined {
  if (attrInt(node, 'keepdims', 1) === 0 || x.length !== y.length) return undefined;
  const reduced = x.map((d, i) => d !== y[i]);
  const first = reduced.indexOf(true);
  if (first < 0) return { outer: sizeOf(x), red: 1, inner: 1 };
  const last = reduced.lastIndexOf(true);
  for (let i = first; i <= last; i++) if (!reduced[i] && x[i] !== 1) return undefined;
  return { outer: sizeOf(x.slice(0, first)), red: sizeOf(x.slice(first, last + 1)), inner: sizeOf(x.slice(last + 1)) };
}

interface MeanState extends MeanView { accAt: number; yAt: number }

function meanKernel(op: 'ReduceMean' | 'ReduceSum'): KernelDef {
  return defineKernel<MeanState>({
    op, backend: 'wasm', dtypes: float32Only,
    check(node, inputs, outputs) {
      const reason = float32Reason(node, inputs, outputs, 1);
      if (reason) return reason;
      return meanView(node, inputs[0]!.shape, outputs[0]!.shape)
        ? undefined : `wasm ${op} takes keepdims = 1 over one contiguous block of axes`;
    },
    prepare({ node, inputs, outputs }: PrepareArgs) {
      const view = meanView(node, inputs[0]!.shape, outputs[0]!.shape)!;
      const accAt = regionBytes(sizeOf(inputs[0]!.shape), 4);
      const yAt = accAt + regionBytes(view.inner, 8);
      wasmHeap().reserveTransient(yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
      return { state: { ...view, accAt, yAt } };
    },
    run(inputs, outputs, _node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
      heap.exports.mean_f32(x, st.outer, st.red, st.inner, t + st.accAt, y, op === 'ReduceMean' ? 1 : 0);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// Softmax
// ---------------------------------------------------------------------------

interface SoftmaxState { rows: number; n: number; yAt: number }

const softmaxKernel = defineKernel<SoftmaxState>({
  op: 'Softmax', backend: 'wasm', dtypes: float32Only,
  check(node, inputs, outputs) {
    const reason = float32Reason(node, inputs, outputs, 1);
    if (reason) return reason;
    const rank = inputs[0]!.shape.length;
    const axis = attrInt(node, 'axis', -1);
    return rank > 0 && (axis === -1 || axis === rank - 1) ? undefined : `wasm Softmax takes the last axis, not axis ${axis} of rank ${rank}`;
  },
  prepare({ inputs }: PrepareArgs) {
    const shape = inputs[0]!.shape;
    const n = shape[shape.length - 1]!;
    const yAt = regionBytes(sizeOf(shape), 4);
    wasmHeap().reserveTransient(2 * yAt);
    return { state: { rows: n === 0 ? 0 : sizeOf(shape) / n, n, yAt } };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.softmax_f32(x, st.rows, st.n, y);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Concat
// ---------------------------------------------------------------------------

interface ConcatState { outer: number; outChunk: number; chunks: number[] }

/**
 * float32 Concat. When the tensors live in the module's memory (a session's
 * arena) it is one memory.copy per row of each input; otherwise (constants, an
 * arena in JavaScript memory) a plain copy loop over the Float32Arrays, since
 * copying into the module and back would cost more than the concatenation.
 * The channels-last Concats of detection heads copy many short rows.
 */
const concatKernel = defineKernel<ConcatState>({
  op: 'Concat', backend: 'wasm', dtypes: float32Only,
  check(node, inputs, outputs) {
    if (inputs.some((v) => v?.quant) || outputs[0]!.quant) return 'wasm Concat takes unquantized float32';
    return float32Reason(node, inputs, outputs, inputs.length);
  },
  prepare({ node, inputs, outputs }: PrepareArgs) {
    const shape = outputs[0]!.shape;
    const axis = attrInt(node, 'axis');
    const a = axis < 0 ? axis + shape.length : axis;
    return { state: { outer: sizeOf(shape.slice(0, a)), outChunk: sizeOf(shape.slice(a)), chunks: inputs.map((v) => sizeOf(v!.shape.slice(a))) } };
  },
  run(inputs, outputs, _node, { outer, outChunk, chunks }) {
    const heap = wasmHeap();
    if (inHeap(heap, outputs[0]!) && inputs.every((x) => inHeap(heap, x!))) {
      // Tensors in the module's memory (the arena): one memory.copy per row and input.
      const y = outputs[0]!.data.byteOffset;
      let offset = 0;
      for (let k = 0; k < chunks.length; k++) {
        heap.exports.copy_rows(y + offset * 4, inputs[k]!.data.byteOffset, outer, chunks[k]! * 4, outChunk * 4, chunks[k]! * 4);
        offset += chunks[k]!;
      }
      return;
    }
    const y = outputs[0]!.data as Float32Array;
    let offset = 0;
    for (let k = 0; k < chunks.length; k++) {
      const x = inputs[k]!.data as Float32Array;
      const chunk = chunks[k]!;
      for (let o = 0; o < outer; o++) {
        const d = o * outChunk + offset, s = o * chunk;
        for (let i = 0; i < chunk; i++) y[d + i] = x[s + i]!;
      }
      offset += chunk;
    }
  },
});

// ---------------------------------------------------------------------------
// Equal, Cast bool → float32
// ---------------------------------------------------------------------------

/**
 * Same-shape float32 Equal and bool → float32 Cast: SIMD loops in the module
 * when the tensors live in its memory (a session's arena), else plain loops
 * over the typed arrays (like Concat, copying in and out would cost more than
 * one comparison per element). They exist for detection heads' peak masks
 * (MaxPool(x) == x, then Cast and Mul), where the reference's any-dtype loops
 * cost several times more.
 */
const equalKernel = defineKernel({
  op: 'Equal', backend: 'wasm', dtypes: float32Only,
  check(_node, inputs) {
    const [a, b] = [inputs[0]!, inputs[1]!];
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return `wasm Equal takes float32 inputs, not ${a.dtype} and ${b.dtype}`;
    return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])
      ? undefined : `wasm Equal takes same-shape inputs, not ${JSON.stringify(a.shape)} with ${JSON.stringify(b.shape)}`;
  },
  run(inputs, outputs) {
    const heap = wasmHeap();
    if (inHeap(heap, inputs[0]!) && inHeap(heap, inputs[1]!) && inHeap(heap, outputs[0]!)) {
      heap.exports.equal_f32(inputs[0]!.data.byteOffset, inputs[1]!.data.byteOffset, outputs[0]!.data.byteOffset, outputs[0]!.size);
      return;
    }
    const a = inputs[0]!.data as Float32Array, b = inputs[1]!.data as Float32Array;
    const y = outputs[0]!.data as Uint8Array;
    for (let i = 0; i < y.length; i++) y[i] = a[i] === b[i] ? 1 : 0;
  },
});

const castBoolKernel = defineKernel({
  op: 'Cast', backend: 'wasm', dtypes: ['bool'],
  check: (_node, inputs, outputs) => (inputs[0]!.dtype === 'bool' && outputs[0]!.dtype === 'float32' ? undefined : 'wasm Cast takes bool to float32 only'),
  run(inputs, outputs) {
    const heap = wasmHeap();
    if (inHeap(heap, inputs[0]!) && inHeap(heap, outputs[0]!)) {
      heap.exports.cast_u8_f32(inputs[0]!.data.byteOffset, outputs[0]!.data.byteOffset, outputs[0]!.size);
      return;
    }
    const x = inputs[0]!.data as Uint8Array;
    const y = outputs[0]!.data as Float32Array;
    for (let i = 0; i < y.length; i++) y[i] = x[i]!;
  },
});

// ---------------------------------------------------------------------------
// TopK over the last axis of float32
// ---------------------------------------------------------------------------

/**
 * The reference TopK (its heap, ties and NaN order) with the scan past
 * elements that lose to the heap's root done sixteen at a time in the module,
 * when the input lives in its memory and the axis is the last one. Nearly all
 * of CenterNet's 1.3 million scores end in that scan.
 */
const topKKernel = defineKernel<TopKState>({
  op: 'TopK', backend: 'wasm', dtypes: float32Only,
  check: (_node, inputs) => (inputs[0]!.dtype === 'float32' ? undefined : `wasm TopK takes float32, not ${inputs[0]!.dtype}`),
  prepare: (args) => refTopK.prepare!(args) as { state: TopKState; scratchBytes: number },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const x = inputs[0]!;
    if (st.inner !== 1 || !inHeap(heap, x)) {
      runTopK(inputs, outputs, st);
      return;
    }
    const at = x.data.byteOffset;
    runTopK(inputs, outputs, st, (base, j, n, worst, largest) => heap.exports.first_beating_f32(at + base * 4, j, n, worst, largest ? 1 : 0));
  },
});

// ---------------------------------------------------------------------------
// BatchNormalization (inference, channels last) with constant statistics
// ---------------------------------------------------------------------------

interface AffineState { rows: number; c: number; mul: number; yAt: number; eps: number; dynamic: boolean }

/** The reference kernel's per-channel mul and add (batchNormAffine, in float64), stored as float32. */
function writeAffine(st: AffineState, stats: readonly (Tensor | undefined)[]): void {
  const f32 = wasmHeap().f32;
  const d = (i: number) => stats[i]!.data as Float32Array;
  const at = st.mul >> 2;
  batchNormAffine(d(1), d(2), d(3), d(4), st.eps, f32.subarray(at, at + st.c), f32.subarray(at + st.c, at + 2 * st.c));
}

/**
 * A pixel is one float32 multiply-add per channel with the statistics folded
 * (the reference rounds once, from float64: within a few ulp of it). Constant
 * statistics are folded at prepare, others at every run.
 */
const batchNormKernel = defineKernel<AffineState>({
  op: 'BatchNormalization', backend: 'wasm', dtypes: float32Only,
  check: (node, inputs, outputs) => float32Reason(node, inputs, outputs, inputs.length),
  prepare({ node, inputs, outputs }: PrepareArgs) {
    const c = inputs[0]!.shape[inputs[0]!.shape.length - 1]!;
    const heap = wasmHeap();
    const mul = heap.alloc(8 * c + SLACK);
    const n = sizeOf(outputs[0]!.shape);
    const yAt = regionBytes(n, 4);
    heap.reserveTransient(yAt + regionBytes(n, 4));
    const dynamic = !inputs.slice(1, 5).every((v) => v?.constant);
    const state: AffineState = { rows: c > 0 ? n / c : 0, c, mul, yAt, eps: epsilonOf(node), dynamic };
    heap.freeWith(state, [mul]);
    if (!dynamic) writeAffine(state, inputs.map((v) => v?.constant));
    return { state, scratchBytes: 8 * c };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    if (st.dynamic) writeAffine(st, inputs);
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.affine_f32(x, y, st.rows, st.c, st.mul, st.mul + 4 * st.c);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// MaxPool, AveragePool
// ---------------------------------------------------------------------------

interface PoolState { g: Geometry3; c: number; countPad: boolean; padH: number; padW: number; lo: number; hi: number; yAt: number }

function preparePool({ node, inputs, outputs }: PrepareArgs): { state: PoolState } {
  const x = inputs[0]!;
  const r = x.shape.length - 2;
  const inSpatial = x.shape.slice(1, r + 1);
  const geo = windowGeometry(node, inSpatial, attrInts(node, 'kernel_shape'), attrInt(node, 'ceil_mode', 0) !== 0);
  const g = geometry3(x.shape[0]!, inSpatial, geo);
  // Extents of input plus both pads: the region whose taps count_include_pad counts (1-D pools have H = 1, no pads).
  const padded = inSpatial.map((s, i) => s + geo.padsBegin[i]! + geo.padsEnd[i]!);
  if (padded.length === 1) padded.unshift(1);
  const [lo, hi] = activationRange(node);
  const yAt = regionBytes(sizeOf(x.shape), 4);
  wasmHeap().reserveTransient(yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
  return {
    state: {
      g, c: x.shape[r + 1]!, countPad: node.op === 'AveragePool' && attrInt(node, 'count_include_pad', 0) !== 0,
      padH: padded[0]!, padW: padded[1]!, lo, hi, yAt,
    },
  };
}

function poolKernel(op: 'MaxPool' | 'AveragePool'): KernelDef {
  return defineKernel<PoolState>({
    op, backend: 'wasm', dtypes: float32Only,
    check: (node, inputs, outputs) => float32Reason(node, inputs, outputs, 1) ?? spatialRankReason(inputs[0]),
    prepare: preparePool,
    run(inputs, outputs, node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
      const { g } = st;
      heap.exports.pool_f32(node.op === 'MaxPool' ? 1 : 0, x, g.batch, g.inH, g.inW, st.c, g.outH, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH, g.pW,
        st.countPad ? 1 : 0, st.padH, st.padW, y, st.lo, st.hi);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// Resize
// ---------------------------------------------------------------------------

/**
 * The per-axis tap tables of the reference Resize kernel's prepared state
 * (src/kernels/ref/resize.ts): reusing them keeps one implementation of the
 * coordinate transforms and nearest rounding modes. `count` is 1 when the
 * axis reads one input per output (then index/weight hold one entry per
 * coordinate), else 2 for nearest/linear.
 */
interface RefAxisTaps { inSize: number; outSize: number; count: number; index: Int32Array; weight: Float64Array }

interface ResizeState { n: number; inH: number; inW: number; c: number; outH: number; outW: number; hTaps: number; wTaps: number; tables: number; yAt: number }

function resizeReason(node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined {
  const x = inputs[0]!, y = outputs[0]!;
  if (x.dtype !== 'float32') return `wasm Resize takes float32, not ${x.dtype}`;
  if (x.shape.length !== 4) return `wasm Resize takes rank-4 NHWC, not rank ${x.shape.length}`;
  if (x.shape[0] !== y.shape[0] || x.shape[3] !== y.shape[3]) return 'wasm Resize resizes H and W only';
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') return `wasm Resize takes nearest and linear, not ${mode}`;
  if (attrString(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize') return 'wasm Resize does not take tf_crop_and_resize';
  if (attrInt(node, 'antialias', 0) !== 0) return 'wasm Resize does not take antialias';
  return undefined;
}

/** Writes an axis's taps as (index, index) int32 pairs and (weight, weight) float32 pairs at byte offsets. */
function writeTaps(t: RefAxisTaps, idxAt: number, wAt: number): void {
  const heap = wasmHeap();
  const i32 = heap.i32, f32 = heap.f32;
  for (let o = 0; o < t.outSize; o++) {
    for (let j = 0; j < 2; j++) {
      const k = t.count === 1 ? o : o * 2 + j;
      i32[(idxAt >> 2) + 2 * o + j] = t.index[k]!;
      f32[(wAt >> 2) + 2 * o + j] = t.count === 1 && j === 1 ? 0 : t.weight[k]!;
    }
  }
}

function prepareResize(args: PrepareArgs): { state: ResizeState; scratchBytes: number } {
  const { node, inputs, outputs } = args;
  const ref = resizeKernels[0]!.prepare!(args).state as { axes: RefAxisTaps[] };
  const [n, inH, inW, c] = inputs[0]!.shape as [number, number, number, number];
  const [, outH, outW] = outputs[0]!.shape as [number, number, number, number];
  for (const a of [0, 3]) {
    const t = ref.axes[a]!;
    if (t.count !== 1 || t.index.subarray(0, t.outSize).some((v, i) => v !== i)) {
      throw new CloudlessError('E_INTERNAL', `node ${node.name} (Resize): axis ${a} keeps its size but does not map onto itself`, { node: node.name });
    }
  }
  const heap = wasmHeap();
  const hBytes = outH * 8, wBytes = outW * 8;
  const tables = heap.alloc(2 * (hBytes + wBytes));
  const state: ResizeState = {
    n, inH, inW, c, outH, outW, hTaps: ref.axes[1]!.count, wTaps: ref.axes[2]!.count, tables, yAt: regionBytes(sizeOf(inputs[0]!.shape), 4),
  };
  heap.freeWith(state, [tables]);
  writeTaps(ref.axes[1]!, tables, tables + hBytes);
  writeTaps(ref.axes[2]!, tables + 2 * hBytes, tables + 2 * hBytes + wBytes);
  heap.reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
  return { state, scratchBytes: 2 * (hBytes + wBytes) };
}

function runResize(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ResizeState): void {
  const heap = wasmHeap();
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const hBytes = st.outH * 8, wBytes = st.outW * 8;
  heap.exports.resize_f32(x, st.n, st.inH, st.inW, st.c, st.outH, st.outW,
    st.tables, st.tables + hBytes, st.hTaps, st.tables + 2 * hBytes, st.tables + 2 * hBytes + wBytes, st.wTaps, y);
  outputDone(heap, y, outputs[0]!);
}

export const wasmFloatOpKernels: readonly KernelDef[] = [
  binaryKernel('Add'), binaryKernel('Sub'), binaryKernel('Mul'), binaryKernel('Div'),
  unaryKernel('Relu'), unaryKernel('Clip'), unaryKernel('HardSwish'), unaryKernel('Sigmoid'), unaryKernel('HardSigmoid'),
  meanKernel('ReduceMean'), meanKernel('ReduceSum'), softmaxKernel, concatKernel, equalKernel, castBoolKernel, topKKernel,
  poolKernel('MaxPool'), poolKernel('AveragePool'), batchNormKernel,
  defineKernel<ResizeState>({ op: 'Resize', backend: 'wasm', dtypes: float32Only, check: resizeReason, prepare: prepareResize, run: runResize }),
];

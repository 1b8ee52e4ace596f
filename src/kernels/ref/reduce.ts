/**
 * Reference kernels of the reductions and scans: ReduceX, ArgMax/ArgMin,
 * Softmax/LogSoftmax/Hardmax, CumSum and TopK.
 *
 * ReduceX walks the input once in memory order with a row plan whose "input"
 * is the accumulator (stride 0 along reduced axes, see broadcast.ts), so
 * GlobalAveragePool-style reductions over NHWC spatial axes stream through
 * contiguous rows. Float and small-int sums accumulate in float64: exact for
 * integers below 2^53, and far less rounding than float32 for float inputs.
 * int64 accumulates in BigInt with int64 wrap-around.
 */
import { attrInt, defineKernel, integerRange, isFloat, sizeOf, type DType, type KernelDef, type Node, type NumberArray, type Tensor } from '../../ir/index.js';
import { REDUCE_OPS, reducedShape, resolveAxis, resolveReduceAxes } from '../../ir/ops/reduce.js';
import { forEachRow, planReduction, type RowPlan } from './broadcast.js';

type ReduceOp = (typeof REDUCE_OPS)[number];

/** What each element contributes to its accumulator. */
type Accumulate = 'sum' | 'sumSquare' | 'sumAbs' | 'prod' | 'max' | 'min' | 'sumExp';

interface ReduceSpec {
  accumulate: Accumulate;
  /** Turns the accumulator of `count` elements into the result (float and small-int path). */
  finish?: (acc: number, count: number) => number;
  /** Same for int64. */
  finishBig?: (acc: bigint, count: number) => bigint;
  dtypes: readonly DType[];
}

const FLOAT: readonly DType[] = ['float32', 'float64'];
const WITH_INTS: readonly DType[] = [...FLOAT, 'int8', 'uint8', 'int32', 'int64'];

const REDUCE: Record<ReduceOp, ReduceSpec> = {
  ReduceSum: { accumulate: 'sum', dtypes: WITH_INTS },
  ReduceMean: {
    accumulate: 'sum',
    // An empty mean is 0/0 = NaN, as numpy.
    finish: (acc, count) => acc / count,
    finishBig: (acc, count) => (count === 0 ? 0n : acc / BigInt(count)),
    dtypes: WITH_INTS,
  },
  ReduceSumSquare: { accumulate: 'sumSquare', dtypes: WITH_INTS },
  ReduceL1: { accumulate: 'sumAbs', dtypes: WITH_INTS },
  ReduceL2: { accumulate: 'sumSquare', finish: Math.sqrt, dtypes: FLOAT },
  ReduceLogSum: { accumulate: 'sum', finish: Math.log, dtypes: FLOAT },
  ReduceLogSumExp: { accumulate: 'sumExp', dtypes: FLOAT },
  ReduceProd: { accumulate: 'prod', dtypes: WITH_INTS },
  ReduceMax: { accumulate: 'max', dtypes: [...WITH_INTS, 'bool'] },
  ReduceMin: { accumulate: 'min', dtypes: [...WITH_INTS, 'bool'] },
};

interface ReducePlan {
  plan: RowPlan;
  /** Input elements per output element. */
  count: number;
  /** Float64 accumulators, one per output element (unused for int64). */
  acc: Float64Array;
  /** ReduceLogSumExp: the running maximum, subtracted before exp so it cannot overflow. */
  shift: Float64Array;
}

function planReduce(node: Node, inShape: readonly number[], axes: Tensor | undefined, accumulate: Accumulate): ReducePlan {
  const reduced = resolveReduceAxes(node, inShape.length, axes);
  const kept = reducedShape(inShape, reduced, true);
  const outSize = sizeOf(kept);
  return {
    plan: planReduction(inShape, kept),
    count: outSize === 0 ? 0 : sizeOf(inShape) / outSize,
    acc: new Float64Array(outSize),
    shift: new Float64Array(accumulate === 'sumExp' ? outSize : 0),
  };
}

function initial(accumulate: Accumulate): number {
  switch (accumulate) {
    case 'prod': return 1;
    case 'max': return -Infinity;
    case 'min': return Infinity;
    default: return 0;
  }
}

/** Folds every input element into its accumulator; one loop per accumulation so each stays tight. */
function accumulateNumbers(x: NumberArray, p: ReducePlan, accumulate: Accumulate, integer: boolean): void {
  const { plan, acc, shift } = p;
  const as = plan.rowStrides[0]!, n = plan.rowLength;
  forEachRow(plan, (off, xi) => {
    let ai = off[0]!;
    const end = xi + n;
    switch (accumulate) {
      case 'sum': for (; xi < end; xi++, ai += as) acc[ai]! += x[xi]!; break;
      case 'sumSquare': for (; xi < end; xi++, ai += as) acc[ai]! += x[xi]! * x[xi]!; break;
      case 'sumAbs': for (; xi < end; xi++, ai += as) acc[ai]! += Math.abs(x[xi]!); break;
      case 'prod':
        // An integer product wraps like the dtype: Math.imul keeps the low 32 bits exactly.
        if (integer) for (; xi < end; xi++, ai += as) acc[ai] = Math.imul(acc[ai]!, x[xi]!);
        else for (; xi < end; xi++, ai += as) acc[ai]! *= x[xi]!;
        break;
      case 'max': for (; xi < end; xi++, ai += as) acc[ai] = Math.max(acc[ai]!, x[xi]!); break;
      case 'min': for (; xi < end; xi++, ai += as) acc[ai] = Math.min(acc[ai]!, x[xi]!); break;
      case 'sumExp': for (; xi < end; xi++, ai += as) acc[ai]! += Math.exp(x[xi]! - shift[ai]!); break;
    }
  });
}

function reduceNumbers(spec: ReduceSpec, x: Tensor, out: Tensor, p: ReducePlan): void {
  const data = x.data as NumberArray, o = out.data as NumberArray, acc = p.acc;
  const integer = !isFloat(x.dtype);
  if (spec.accumulate === 'sumExp') {
    // Two passes: the maximum first, then Σ exp(x - max); an all -Inf (or empty) slice keeps shift 0.
    acc.fill(-Infinity);
    accumulateNumbers(data, p, 'max', false);
    for (let i = 0; i < acc.length; i++) p.shift[i] = Number.isFinite(acc[i]!) ? acc[i]! : 0;
  }
  acc.fill(initial(spec.accumulate));
  accumulateNumbers(data, p, spec.accumulate, integer);
  if (spec.accumulate === 'sumExp') {
    for (let i = 0; i < o.length; i++) o[i] = p.shift[i]! + Math.log(acc[i]!);
  } else if (integer && p.count === 0 && (spec.accumulate === 'max' || spec.accumulate === 'min')) {
    // ±Infinity would store as 0 in an integer array: an empty max is the lowest value, an empty min the highest.
    const [lo, hi] = integerRange(x.dtype);
    o.fill(spec.accumulate === 'max' ? lo : hi);
  } else if (spec.finish) {
    for (let i = 0; i < o.length; i++) o[i] = spec.finish(acc[i]!, p.count);
  } else {
    o.set(acc);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** int64 reduction: accumulates straight into the output, whose stores wrap like int64. */
function reduceBigInts(spec: ReduceSpec, x: Tensor, out: Tensor, p: ReducePlan): void {
  const data = x.data as BigInt64Array, o = out.data as BigInt64Array;
  const { plan } = p;
  const as = plan.rowStrides[0]!, n = plan.rowLength;
  const accumulate = spec.accumulate;
  o.fill(accumulate === 'prod' ? 1n : accumulate === 'max' ? INT64_MIN : accumulate === 'min' ? INT64_MAX : 0n);
  forEachRow(plan, (off, xi) => {
    let ai = off[0]!;
    for (const end = xi + n; xi < end; xi++, ai += as) {
      const v = data[xi]!, a = o[ai]!;
      switch (accumulate) {
        case 'sum': o[ai] = a + v; break;
        case 'sumSquare': o[ai] = a + v * v; break;
        case 'sumAbs': o[ai] = a + (v < 0n ? -v : v); break;
        case 'prod': o[ai] = a * v; break;
        case 'max': if (v > a) o[ai] = v; break;
        case 'min': if (v < a) o[ai] = v; break;
      }
    }
  });
  if (spec.finishBig) for (let i = 0; i < o.length; i++) o[i] = spec.finishBig(o[i]!, p.count);
}

function reduceKernel(op: ReduceOp): KernelDef {
  const spec = REDUCE[op];
  // undefined state: the axes are computed by the graph, so the plan is made at each run.
  return defineKernel<ReducePlan | undefined>({
    op,
    backend: 'ref',
    dtypes: spec.dtypes,
    check: (node, inputs) => (inputs[0]?.quant ? `${node.op} on quantized tensors needs a quantized kernel` : undefined),
    prepare({ node, inputs }) {
      const axes = inputs[1];
      if (axes && !axes.constant) return { state: undefined };
      const p = planReduce(node, inputs[0]!.shape, axes?.constant, spec.accumulate);
      return { state: p, scratchBytes: p.acc.byteLength + p.shift.byteLength };
    },
    run(inputs, outputs, node, state) {
      const x = inputs[0]!;
      const p = state ?? planReduce(node, x.shape, inputs[1], spec.accumulate);
      if (x.dtype === 'int64') reduceBigInts(spec, x, outputs[0]!, p);
      else reduceNumbers(spec, x, outputs[0]!, p);
    },
  });
}

/** A tensor seen as [outer, n, inner] around one axis. */
interface AxisView { outer: number; n: number; inner: number }

function axisView(shape: readonly number[], axis: number): AxisView {
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
}

function argKernel(op: 'ArgMax' | 'ArgMin'): KernelDef {
  const wantMax = op === 'ArgMax';
  return defineKernel<AxisView & { last: boolean }>({
    op,
    backend: 'ref',
    dtypes: [...WITH_INTS, 'int16', 'bool'],
    prepare({ node, inputs }) {
      const shape = inputs[0]!.shape;
      const axis = resolveAxis(node, attrInt(node, 'axis', 0), shape.length);
      return { state: { ...axisView(shape, axis), last: attrInt(node, 'select_last_index', 0) !== 0 } };
    },
    run(inputs, outputs, _node, { outer, n, inner, last }) {
      // Numbers and BigInts compare alike; only the order matters here.
      const x = inputs[0]!.data as { [i: number]: number | bigint };
      const o = outputs[0]!.data as BigInt64Array;
      for (let a = 0; a < outer; a++) {
        for (let i = 0; i < inner; i++) {
          const base = a * n * inner + i;
          let best = 0;
          let bestValue = x[base]!;
          for (let k = 1; k < n; k++) {
            const v = x[base + k * inner]!;
            const better = wantMax ? (last ? v >= bestValue : v > bestValue) : (last ? v <= bestValue : v < bestValue);
            if (better) { best = k; bestValue = v; }
          }
          o[a * inner + i] = BigInt(best);
        }
      }
    },
  });
}

interface SoftmaxState extends AxisView {
  /** exp(x - max) of one slice, kept in float64 until the division. */
  exps: Float64Array;
}

/** Softmax, LogSoftmax and Hardmax along one axis, each slice shifted by its maximum so exp cannot overflow. */
function softmaxKernel(op: 'Softmax' | 'LogSoftmax' | 'Hardmax'): KernelDef {
  return defineKernel<SoftmaxState>({
    op,
    backend: 'ref',
    dtypes: FLOAT,
    prepare({ node, inputs }) {
      const shape = inputs[0]!.shape;
      const view = axisView(shape, resolveAxis(node, attrInt(node, 'axis', -1), shape.length));
      const exps = new Float64Array(op === 'Hardmax' ? 0 : view.n);
      return { state: { ...view, exps }, scratchBytes: exps.byteLength };
    },
    run(inputs, outputs, _node, { outer, n, inner, exps }) {
      const x = inputs[0]!.data as NumberArray, o = outputs[0]!.data as NumberArray;
      for (let a = 0; a < outer; a++) {
        for (let i = 0; i < inner; i++) {
          const base = a * n * inner + i;
          let max = -Infinity, argmax = 0;
          for (let k = 0; k < n; k++) {
            const v = x[base + k * inner]!;
            if (v > max) { max = v; argmax = k; }
          }
          if (op === 'Hardmax') {
            for (let k = 0; k < n; k++) o[base + k * inner] = k === argmax ? 1 : 0;
            continue;
          }
          let sum = 0;
          for (let k = 0; k < n; k++) { const e = Math.exp(x[base + k * inner]! - max); exps[k] = e; sum += e; }
          if (op === 'Softmax') {
            for (let k = 0; k < n; k++) o[base + k * inner] = exps[k]! / sum;
          } else {
            const logSum = Math.log(sum);
            for (let k = 0; k < n; k++) o[base + k * inner] = x[base + k * inner]! - max - logSum;
          }
        }
      }
    },
  });
}

/** CumSum(x, axis): the axis is an input read at run time; exclusive shifts by one, reverse scans from the end. */
const cumSumKernel = defineKernel<{ exclusive: boolean; reverse: boolean }>({
  op: 'CumSum',
  backend: 'ref',
  dtypes: [...FLOAT, 'int32', 'int64'],
  prepare({ node }) {
    return { state: { exclusive: attrInt(node, 'exclusive', 0) !== 0, reverse: attrInt(node, 'reverse', 0) !== 0 } };
  },
  run(inputs, outputs, node, { exclusive, reverse }) {
    const x = inputs[0]!;
    const axis = resolveAxis(node, Number(inputs[1]!.data[0]!), x.rank);
    const { outer, n, inner } = axisView(x.shape, axis);
    const big = x.dtype === 'int64';
    const d = x.data, o = outputs[0]!.data;
    for (let a = 0; a < outer; a++) {
      for (let i = 0; i < inner; i++) {
        const base = a * n * inner + i;
        let sum = 0, sumBig = 0n;
        for (let j = 0; j < n; j++) {
          const at = base + (reverse ? n - 1 - j : j) * inner;
          if (big) {
            const v = (d as BigInt64Array)[at]!;
            if (exclusive) { (o as BigInt64Array)[at] = sumBig; sumBig = BigInt.asIntN(64, sumBig + v); }
            else { sumBig = BigInt.asIntN(64, sumBig + v); (o as BigInt64Array)[at] = sumBig; }
          } else {
            const v = (d as NumberArray)[at]!;
            if (exclusive) { (o as NumberArray)[at] = sum; sum += v; }
            else { sum += v; (o as NumberArray)[at] = sum; }
          }
        }
      }
    }
  },
});

/**
 * TopK's scan past the elements that lose to the heap's root `worst` (a
 * number) in the slice starting at `base`: the first position j' ≥ j whose
 * element beats it strictly, or n. The wasm backend passes a SIMD one.
 */
export type LoserScan = (base: number, j: number, n: number, worst: number, largest: boolean) => number;

export interface TopKState extends AxisView {
  k: number;
  largest: boolean;
  /** Positions along the axis of the best k seen so far: a binary heap with the worst of them at the root. */
  heap: Int32Array;
  /** The k winners, sorted by rank for the output. */
  order: number[];
}

/**
 * TopK: one pass over each slice keeps the best k positions in a heap whose
 * root is the worst kept one, so most elements cost one comparison with the
 * root (n log k instead of sorting all n: CenterNet's TopK picks 100 of
 * 1.3 million). Rank is by value (descending for largest), equal values by
 * lower index first as ONNX requires; NaN ranks after every number in both
 * directions. Results are always sorted, which also satisfies sorted=0.
 */
export const topKKernel = defineKernel<TopKState>({
  op: 'TopK',
  backend: 'ref',
  dtypes: [...WITH_INTS, 'int16'],
  prepare({ node, inputs, outputs }) {
    const shape = inputs[0]!.shape;
    const axis = resolveAxis(node, attrInt(node, 'axis', -1), shape.length);
    const view = axisView(shape, axis);
    const k = outputs[0]!.shape[axis]!;
    return {
      state: { ...view, k, largest: attrInt(node, 'largest', 1) !== 0, heap: new Int32Array(k), order: new Array<number>(k) },
      scratchBytes: k * 4,
    };
  },
  run(inputs, outputs, _node, st) {
    runTopK(inputs, outputs, st);
  },
});

/** The reference TopK's run, with the scan past losing elements replaceable (see LoserScan). */
export function runTopK(inputs: (Tensor | undefined)[], outputs: Tensor[], st: TopKState, scan?: LoserScan): void {
  const { outer, n, inner, k, largest, heap, order } = st;
  if (k === 0) return;
  const x = inputs[0]!.data as { [i: number]: number | bigint };
  const values = outputs[0]!.data as { [i: number]: number | bigint };
  const indices = outputs[1]!.data as BigInt64Array;
  const big = inputs[0]!.dtype === 'int64';
  let base = 0;
  /** Whether position p ranks before position q. */
  const before = (p: number, q: number): boolean => {
    const a = x[base + p * inner]!, b = x[base + q * inner]!;
    if (a !== b) {
      if (a !== a) return b !== b && p < q;
      if (b !== b) return true;
      return largest ? a > b : a < b;
    }
    return p < q;
  };
  /** Restores the heap below slot `at` (its entry may rank better than a child's: the worse goes up). */
  const siftDown = (at: number, size: number): void => {
    const item = heap[at]!;
    for (;;) {
      let c = 2 * at + 1;
      if (c >= size) break;
      if (c + 1 < size && before(heap[c]!, heap[c + 1]!)) c++;
      if (!before(item, heap[c]!)) break;
      heap[at] = heap[c]!;
      at = c;
    }
    heap[at] = item;
  };
  const byRank = (p: number, q: number): number => (before(p, q) ? -1 : 1);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      base = a * n * inner + i;
      for (let j = 0; j < k; j++) heap[j] = j;
      for (let j = (k >> 1) - 1; j >= 0; j--) siftDown(j, k);
      let worst = x[base + heap[0]! * inner]!;
      for (let j = k; j < n; j++) {
        // Most elements lose to the root: skip them in a tight loop while the root is a number.
        if (typeof worst === 'number' && worst === worst && !big) {
          if (scan) j = scan(base, j, n, worst, largest);
          else {
            const xs = x as NumberArray;
            let at = base + j * inner;
            if (largest) while (j < n && !(xs[at]! > worst)) { j++; at += inner; }
            else while (j < n && !(xs[at]! < worst)) { j++; at += inner; }
          }
          if (j === n) break;
        }
        const v = x[base + j * inner]!;
        // A later position with an equal value ranks after the root, so only a strictly better value enters.
        if (worst === worst ? !(largest ? v > worst : v < worst) : v !== v) continue;
        heap[0] = j;
        siftDown(0, k);
        worst = x[base + heap[0]! * inner]!;
      }
      for (let j = 0; j < k; j++) order[j] = heap[j]!;
      order.sort(byRank);
      const outBase = a * k * inner + i;
      for (let j = 0; j < k; j++) {
        values[outBase + j * inner] = x[base + order[j]! * inner]!;
        indices[outBase + j * inner] = BigInt(order[j]!);
      }
    }
  }
}

export const reduceKernels: readonly KernelDef[] = [
  ...REDUCE_OPS.map(reduceKernel),
  argKernel('ArgMax'),
  argKernel('ArgMin'),
  softmaxKernel('Softmax'),
  softmaxKernel('LogSoftmax'),
  softmaxKernel('Hardmax'),
  cumSumKernel,
  topKKernel,
];

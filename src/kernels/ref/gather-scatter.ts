/**
 * Indexed data movement: Gather, GatherElements, GatherND, ScatterElements,
 * ScatterND, Compress and NonZero. Index tensors may be int32 or int64;
 * negative indices count from the end of their axis, and an index outside
 * [-dim, dim) is an error naming the node (never a silent out-of-bounds read).
 */
import {
  CloudlessError, DTYPES, attrInt, defineKernel, hasAttr, sizeOf, stridesOf,
  type DType, type Node, type Tensor, type TypedArray,
} from '../../ir/index.js';
import { resolveAxis, scatterReduction, type ScatterReduction } from '../../ir/ops/shape-ops.js';
import { copyElements, elements } from './strided-copy.js';

/** Index `i` of an int32/int64 tensor, wrapped into [0, dim) or rejected. */
function indexAt(node: Node, data: TypedArray, i: number, dim: number, axis: number): number {
  const raw = Number(data[i]!);
  const v = raw < 0 ? raw + dim : raw;
  if (!(v >= 0 && v < dim)) {
    throw new CloudlessError('E_INPUT', `node ${node.name} (${node.op}): index ${raw} is out of range [${-dim}, ${dim}) on axis ${axis}`, { node: node.name });
  }
  return v;
}

const gather = defineKernel({
  op: 'Gather',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const data = inputs[0]!, idx = inputs[1]!;
    const axis = resolveAxis(node, attrInt(node, 'axis', 0), data.rank);
    const outer = sizeOf(data.shape.slice(0, axis));
    const dim = data.shape[axis]!;
    const inner = sizeOf(data.shape.slice(axis + 1));
    const n = idx.size;
    const src = elements(data), dst = elements(outputs[0]!);
    for (let j = 0; j < n; j++) {
      const v = indexAt(node, idx.data, j, dim, axis);
      for (let o = 0; o < outer; o++) copyElements(dst, (o * n + j) * inner, src, (o * dim + v) * inner, inner);
    }
  },
});

/**
 * Walks every position of `shape` in row-major order, calling `visit` with the
 * flat position and the offset of the same coordinates in a tensor with
 * `strides` — except along `axis`, whose coordinate the visitor supplies.
 */
function walkExceptAxis(shape: readonly number[], strides: readonly number[], axis: number, visit: (flat: number, base: number) => void): void {
  const total = sizeOf(shape);
  const rank = shape.length;
  const counter = new Array<number>(rank).fill(0);
  let base = 0;
  for (let flat = 0; flat < total; flat++) {
    visit(flat, base);
    for (let k = rank - 1; k >= 0; k--) {
      const s = k === axis ? 0 : strides[k]!;
      base += s;
      if (++counter[k]! < shape[k]!) break;
      base -= s * shape[k]!;
      counter[k] = 0;
    }
  }
}

const gatherElements = defineKernel({
  op: 'GatherElements',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const data = inputs[0]!, idx = inputs[1]!;
    const axis = resolveAxis(node, attrInt(node, 'axis', 0), data.rank);
    const strides = stridesOf(data.shape);
    const dim = data.shape[axis]!;
    const src = elements(data), dst = elements(outputs[0]!);
    walkExceptAxis(idx.shape, strides, axis, (flat, base) => {
      dst[flat] = src[base + indexAt(node, idx.data, flat, dim, axis) * strides[axis]!]!;
    });
  },
});

/** Flat offset into data (of `shape` and `strides`) of index tuple `tuple` of `idx`, whose entries address axes from `firstAxis` on. */
function tupleOffset(node: Node, shape: readonly number[], strides: readonly number[], idx: Tensor, tuple: number, firstAxis: number): number {
  const m = idx.shape[idx.rank - 1]!;
  let off = 0;
  for (let k = 0; k < m; k++) {
    const axis = firstAxis + k;
    off += indexAt(node, idx.data, tuple * m + k, shape[axis]!, axis) * strides[axis]!;
  }
  return off;
}

const gatherND = defineKernel({
  op: 'GatherND',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const data = inputs[0]!, idx = inputs[1]!;
    const b = attrInt(node, 'batch_dims', 0);
    const m = idx.shape[idx.rank - 1]!;
    const batches = sizeOf(data.shape.slice(0, b));
    const tuplesPerBatch = sizeOf(idx.shape.slice(b, idx.rank - 1));
    const sliceSize = sizeOf(data.shape.slice(b + m));
    const batchStride = sizeOf(data.shape.slice(b));
    const strides = stridesOf(data.shape);
    const src = elements(data), dst = elements(outputs[0]!);
    for (let bi = 0; bi < batches; bi++) {
      for (let t = 0; t < tuplesPerBatch; t++) {
        const tuple = bi * tuplesPerBatch + t;
        const off = bi * batchStride + tupleOffset(node, data.shape, strides, idx, tuple, b);
        copyElements(dst, tuple * sliceSize, src, off, sliceSize);
      }
    }
  },
});

type Combine<T> = (current: T, update: T) => T;

const numberCombine: Record<ScatterReduction, Combine<number>> = {
  none: (_, u) => u,
  add: (a, u) => a + u,
  mul: (a, u) => a * u,
  max: (a, u) => (u > a ? u : a),
  min: (a, u) => (u < a ? u : a),
};

const bigintCombine: Record<ScatterReduction, Combine<bigint>> = {
  none: (_, u) => u,
  add: (a, u) => a + u,
  mul: (a, u) => a * u,
  max: (a, u) => (u > a ? u : a),
  min: (a, u) => (u < a ? u : a),
};

/**
 * Scatter writes go through the output typed array, so integer results wrap
 * like the C kernels of other runtimes and float results round per update.
 * The BigInt64Array also wraps (a store reduces modulo 2^64).
 */
function combiner(dtype: DType, reduction: ScatterReduction): Combine<number> {
  return (dtype === 'int64' ? bigintCombine[reduction] : numberCombine[reduction]) as unknown as Combine<number>;
}

/** Bool has no add or mul that stays in {0, 1} under ONNX's definition. */
function checkScatter(node: Node, inputs: ({ dtype: DType } | undefined)[]): string | undefined {
  const r = scatterReduction(node);
  if (inputs[0]?.dtype === 'bool' && (r === 'add' || r === 'mul')) return `reduction ${r} is not defined for bool data`;
  return undefined;
}

const scatterElements = defineKernel({
  op: 'ScatterElements',
  backend: 'ref',
  dtypes: DTYPES,
  check: (node, inputs) => checkScatter(node, inputs),
  run(inputs, outputs, node) {
    const data = inputs[0]!, idx = inputs[1]!, upd = elements(inputs[2]!);
    const out = outputs[0]!;
    const dst = elements(out);
    copyElements(dst, 0, elements(data), 0, data.size);
    const axis = resolveAxis(node, attrInt(node, 'axis', 0), data.rank);
    const combine = combiner(out.dtype, scatterReduction(node));
    const strides = stridesOf(data.shape);
    const dim = data.shape[axis]!;
    walkExceptAxis(idx.shape, strides, axis, (flat, base) => {
      const at = base + indexAt(node, idx.data, flat, dim, axis) * strides[axis]!;
      dst[at] = combine(dst[at]!, upd[flat]!);
    });
  },
});

const scatterND = defineKernel({
  op: 'ScatterND',
  backend: 'ref',
  dtypes: DTYPES,
  check: (node, inputs) => checkScatter(node, inputs),
  run(inputs, outputs, node) {
    const data = inputs[0]!, idx = inputs[1]!, upd = elements(inputs[2]!);
    const out = outputs[0]!;
    const dst = elements(out);
    copyElements(dst, 0, elements(data), 0, data.size);
    const combine = combiner(out.dtype, scatterReduction(node));
    const m = idx.shape[idx.rank - 1]!;
    const tuples = m === 0 ? sizeOf(idx.shape.slice(0, -1)) : idx.size / m;
    const sliceSize = sizeOf(data.shape.slice(m));
    const strides = stridesOf(data.shape);
    for (let t = 0; t < tuples; t++) {
      const off = tupleOffset(node, data.shape, strides, idx, t, 0);
      for (let s = 0; s < sliceSize; s++) dst[off + s] = combine(dst[off + s]!, upd[t * sliceSize + s]!);
    }
  },
});

const compress = defineKernel({
  op: 'Compress',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const x = inputs[0]!, cond = inputs[1]!.data;
    const src = elements(x), dst = elements(outputs[0]!);
    let d = 0;
    if (!hasAttr(node, 'axis')) {
      for (let i = 0; i < cond.length; i++) if (cond[i]) dst[d++] = src[i]!;
      return;
    }
    const axis = resolveAxis(node, attrInt(node, 'axis'), x.rank);
    const outer = sizeOf(x.shape.slice(0, axis));
    const dim = x.shape[axis]!;
    const inner = sizeOf(x.shape.slice(axis + 1));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < cond.length; j++) {
        if (!cond[j]) continue;
        copyElements(dst, d, src, (o * dim + j) * inner, inner);
        d += inner;
      }
    }
  },
});

const nonZero = defineKernel({
  op: 'NonZero',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const dst = out.data as BigInt64Array;
    const count = out.shape[1]!;
    const strides = stridesOf(x.shape);
    const src = x.data;
    let n = 0;
    for (let i = 0; i < src.length; i++) {
      if (src[i] === 0 || src[i] === 0n) continue;
      let rest = i;
      strides.forEach((s, k) => {
        dst[k * count + n] = BigInt(Math.floor(rest / s));
        rest %= s;
      });
      if (x.rank === 0) dst[n] = 0n;
      n++;
    }
  },
});

export const gatherScatterKernels = [gather, gatherElements, gatherND, scatterElements, scatterND, compress, nonZero];

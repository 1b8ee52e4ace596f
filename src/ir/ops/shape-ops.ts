/**
 * Schemas of the tensor-manipulation ops: data movement (Concat, Split, Slice,
 * Gather*, Scatter*, Reshape family, Transpose, Tile, Expand, Compress,
 * ReverseSequence), shape queries (Shape, Size, NonZero) and generators (Range,
 * ConstantOfShape, EyeLike, OneHot, Trilu, Constant). They follow the newest ONNX
 * form: parameters such as Reshape's shape or Slice's starts are inputs, and an
 * op whose output shape depends on such an input asks for its value with
 * ctx.value(i) (the planner folds or keys the plan on it).
 */
import { CloudlessError } from '../errors.js';
import { DTYPES, type DType } from '../dtype.js';
import { attrInt, attrInts, attrString, attrTensor, hasAttr } from '../attrs.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { broadcastShapes } from '../shape-utils.js';
import { shapeToString, sizeOf, type Tensor } from '../tensor.js';

const MANY = Number.POSITIVE_INFINITY;

function attrError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

function dtypeError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

/**
 * Maps a possibly negative axis into [0, rank). `fromInput` says whether the
 * axis came from an input tensor (E_SHAPE) or an attribute (E_ATTR).
 */
export function resolveAxis(node: Node, axis: number, rank: number, what = 'axis', fromInput = false): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    const msg = `${what} ${axis} is out of range for rank ${rank}`;
    throw fromInput ? shapeError(node, msg) : attrError(node, msg);
  }
  return a;
}

function isIndexDtype(d: DType): boolean {
  return d === 'int32' || d === 'int64';
}

function requireIndexDtype(node: Node, info: ValueInfo, what: string): void {
  if (!isIndexDtype(info.dtype)) throw dtypeError(node, `${what} must be int32 or int64, got ${info.dtype}`);
}

/** The content of integer input i as numbers; int64 values beyond 2^53 keep their sign and magnitude for clamping. */
function indexValues(ctx: InferContext, i: number, what: string): number[] {
  requireIndexDtype(ctx.node, requireInput(ctx, i), what);
  return ctx.value(i).toNumbers();
}

function optionalIndexValues(ctx: InferContext, i: number, what: string): number[] | undefined {
  return ctx.inputs[i] ? indexValues(ctx, i, what) : undefined;
}

/** One number from a scalar or one-element input. */
function scalarValue(ctx: InferContext, i: number, what: string): number {
  const t = ctx.value(i);
  if (t.size !== 1) throw shapeError(ctx.node, `${what} must hold one value, got shape ${shapeToString(t.shape)}`);
  return Number(t.data[0]!);
}

function same(info: ValueInfo, shape: number[] = [...info.shape]): ValueInfo {
  return info.quant ? { dtype: info.dtype, shape, quant: info.quant } : { dtype: info.dtype, shape };
}

function noDuplicates(node: Node, axes: readonly number[], what: string): void {
  if (new Set(axes).size !== axes.length) throw shapeError(node, `${what} ${shapeToString(axes)} repeat an axis`);
}

// ---- Concat / Split -------------------------------------------------------

const concat: OpSchema = {
  op: 'Concat',
  inputs: [1, MANY],
  outputs: [1, 1],
  infer(ctx) {
    const first = requireInput(ctx, 0);
    const rank = first.shape.length;
    if (rank === 0) throw shapeError(ctx.node, 'cannot concatenate scalars');
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis'), rank);
    const out = [...first.shape];
    out[axis] = 0;
    ctx.inputs.forEach((v, i) => {
      if (!v) throw shapeError(ctx.node, `input ${i} is missing`);
      if (v.dtype !== first.dtype) throw dtypeError(ctx.node, `input ${i} is ${v.dtype}, input 0 is ${first.dtype}`);
      const fits = v.shape.length === rank && v.shape.every((d, k) => k === axis || d === first.shape[k]);
      if (!fits) {
        throw shapeError(ctx.node, `input ${i} of shape ${shapeToString(v.shape)} does not fit input 0 of shape ${shapeToString(first.shape)} along axis ${axis}`);
      }
      out[axis]! += v.shape[axis]!;
    });
    return [same(first, out)];
  },
};

/** Sizes of Split's outputs along the axis, from the split input or else equal chunks (the last one smaller). */
export function splitSizes(node: Node, dim: number, count: number, split: number[] | undefined): number[] {
  if (split && split.length > 0) {
    if (split.length !== count) throw shapeError(node, `split has ${split.length} entries for ${count} outputs`);
    if (split.some((s) => s < 0)) throw shapeError(node, `split ${shapeToString(split)} has a negative size`);
    const total = split.reduce((a, b) => a + b, 0);
    if (total !== dim) throw shapeError(node, `split ${shapeToString(split)} sums to ${total}, the axis has ${dim}`);
    return split;
  }
  if (hasAttr(node, 'num_outputs') && attrInt(node, 'num_outputs') !== count) {
    throw attrError(node, `num_outputs is ${attrInt(node, 'num_outputs')} but the node has ${count} outputs`);
  }
  const chunk = Math.ceil(dim / count);
  const last = dim - chunk * (count - 1);
  if (last < 0) throw shapeError(node, `an axis of ${dim} cannot be split into ${count} parts of ${chunk}`);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? last : chunk));
}

const split: OpSchema = {
  op: 'Split',
  inputs: [1, 2],
  outputs: [1, MANY],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.shape.length);
    const sizes = splitSizes(ctx.node, x.shape[axis]!, ctx.node.outputs.length, optionalIndexValues(ctx, 1, 'split'));
    return sizes.map((s) => {
      const shape = [...x.shape];
      shape[axis] = s;
      return same(x, shape);
    });
  },
};

// ---- Slice ----------------------------------------------------------------

export interface SliceParams {
  /** First input index per axis (full rank). */
  starts: number[];
  /** Step per axis (full rank; 1 where not sliced). */
  steps: number[];
  shape: number[];
}

/** ONNX Slice clamping: negative starts/ends count from the end, then clamp to [0, dim] (or [-1, dim-1] for negative steps). */
export function resolveSlice(
  node: Node, shape: readonly number[], starts: number[], ends: number[], axes?: number[], steps?: number[],
): SliceParams {
  const rank = shape.length;
  const n = starts.length;
  if (ends.length !== n) throw shapeError(node, `starts has ${n} entries, ends ${ends.length}`);
  const ax = axes ?? Array.from({ length: n }, (_, i) => i);
  const st = steps ?? new Array<number>(n).fill(1);
  if (ax.length !== n) throw shapeError(node, `axes has ${ax.length} entries, starts ${n}`);
  if (st.length !== n) throw shapeError(node, `steps has ${st.length} entries, starts ${n}`);
  const normAxes = ax.map((a) => resolveAxis(node, a, rank, 'slice axis', true));
  noDuplicates(node, normAxes, 'axes');
  const out: SliceParams = { starts: new Array<number>(rank).fill(0), steps: new Array<number>(rank).fill(1), shape: [...shape] };
  normAxes.forEach((axis, i) => {
    const dim = shape[axis]!;
    const step = st[i]!;
    if (step === 0) throw shapeError(node, `step for axis ${axis} is 0`);
    let start = starts[i]!;
    let end = ends[i]!;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    out.starts[axis] = start;
    out.steps[axis] = step;
    out.shape[axis] = Math.max(0, Math.ceil((end - start) / step));
  });
  return out;
}

const slice: OpSchema = {
  op: 'Slice',
  inputs: [3, 5],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const p = resolveSlice(
      ctx.node, x.shape,
      indexValues(ctx, 1, 'starts'), indexValues(ctx, 2, 'ends'),
      optionalIndexValues(ctx, 3, 'axes'), optionalIndexValues(ctx, 4, 'steps'),
    );
    return [same(x, p.shape)];
  },
};

// ---- Gather / Scatter -------------------------------------------------------

const gather: OpSchema = {
  op: 'Gather',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const data = requireInput(ctx, 0);
    const idx = requireInput(ctx, 1);
    requireIndexDtype(ctx.node, idx, 'indices');
    if (data.shape.length === 0) throw shapeError(ctx.node, 'cannot gather from a scalar');
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', 0), data.shape.length);
    return [same(data, [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)])];
  },
};

const gatherElements: OpSchema = {
  op: 'GatherElements',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const data = requireInput(ctx, 0);
    const idx = requireInput(ctx, 1);
    requireIndexDtype(ctx.node, idx, 'indices');
    const rank = data.shape.length;
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', 0), rank);
    const fits = idx.shape.length === rank && idx.shape.every((d, k) => k === axis || d <= data.shape[k]!);
    if (!fits) throw shapeError(ctx.node, `indices of shape ${shapeToString(idx.shape)} do not fit data of shape ${shapeToString(data.shape)}`);
    return [same(data, [...idx.shape])];
  },
};

const gatherND: OpSchema = {
  op: 'GatherND',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const data = requireInput(ctx, 0);
    const idx = requireInput(ctx, 1);
    requireIndexDtype(ctx.node, idx, 'indices');
    const b = attrInt(ctx.node, 'batch_dims', 0);
    const r = data.shape.length, q = idx.shape.length;
    if (b < 0 || b >= Math.min(r, q)) throw attrError(ctx.node, `batch_dims ${b} must be in [0, ${Math.min(r, q)})`);
    const m = idx.shape[q - 1]!;
    if (m > r - b) throw shapeError(ctx.node, `index tuples of ${m} exceed the ${r - b} non-batch axes of data`);
    for (let k = 0; k < b; k++) {
      if (data.shape[k] !== idx.shape[k]) {
        throw shapeError(ctx.node, `batch axis ${k} differs: data ${shapeToString(data.shape)}, indices ${shapeToString(idx.shape)}`);
      }
    }
    return [same(data, [...idx.shape.slice(0, q - 1), ...data.shape.slice(b + m)])];
  },
};

export const SCATTER_REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'] as const;
export type ScatterReduction = (typeof SCATTER_REDUCTIONS)[number];

export function scatterReduction(node: Node): ScatterReduction {
  const r = attrString(node, 'reduction', 'none');
  if (!(SCATTER_REDUCTIONS as readonly string[]).includes(r)) {
    throw attrError(node, `reduction "${r}" is not one of ${SCATTER_REDUCTIONS.join(', ')}`);
  }
  return r as ScatterReduction;
}

const scatterElements: OpSchema = {
  op: 'ScatterElements',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const data = requireInput(ctx, 0);
    const idx = requireInput(ctx, 1);
    const upd = requireInput(ctx, 2);
    requireIndexDtype(ctx.node, idx, 'indices');
    scatterReduction(ctx.node);
    const rank = data.shape.length;
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', 0), rank);
    if (upd.dtype !== data.dtype) throw dtypeError(ctx.node, `updates are ${upd.dtype}, data is ${data.dtype}`);
    const fits = idx.shape.length === rank && idx.shape.every((d, k) => d === upd.shape[k] && (k === axis || d <= data.shape[k]!))
      && upd.shape.length === rank;
    if (!fits) {
      throw shapeError(ctx.node, `indices ${shapeToString(idx.shape)} and updates ${shapeToString(upd.shape)} do not fit data ${shapeToString(data.shape)}`);
    }
    return [same(data)];
  },
};

const scatterND: OpSchema = {
  op: 'ScatterND',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const data = requireInput(ctx, 0);
    const idx = requireInput(ctx, 1);
    const upd = requireInput(ctx, 2);
    requireIndexDtype(ctx.node, idx, 'indices');
    scatterReduction(ctx.node);
    if (upd.dtype !== data.dtype) throw dtypeError(ctx.node, `updates are ${upd.dtype}, data is ${data.dtype}`);
    const q = idx.shape.length;
    if (q === 0) throw shapeError(ctx.node, 'indices must have rank 1 or more');
    const k = idx.shape[q - 1]!;
    if (k > data.shape.length) throw shapeError(ctx.node, `index tuples of ${k} exceed the rank ${data.shape.length} of data`);
    const want = [...idx.shape.slice(0, q - 1), ...data.shape.slice(k)];
    if (shapeToString(want) !== shapeToString(upd.shape)) {
      throw shapeError(ctx.node, `updates must have shape ${shapeToString(want)}, got ${shapeToString(upd.shape)}`);
    }
    return [same(data)];
  },
};

// ---- Reshape family -----------------------------------------------------------

/** Reshape's target: 0 copies the input dimension (unless allowzero), one -1 takes what is left. */
export function resolveReshape(node: Node, inShape: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  const total = sizeOf(inShape);
  let inferred = -1;
  const out = target.map((d, i) => {
    if (d === -1) {
      if (inferred >= 0) throw shapeError(node, `shape ${shapeToString(target)} has more than one -1`);
      inferred = i;
      return 1;
    }
    if (d < -1 || !Number.isInteger(d)) throw shapeError(node, `shape ${shapeToString(target)} has an invalid dimension ${d}`);
    if (d === 0 && !allowZero) {
      if (i >= inShape.length) throw shapeError(node, `shape ${shapeToString(target)} copies dimension ${i}, but the input ${shapeToString(inShape)} has rank ${inShape.length}`);
      return inShape[i]!;
    }
    return d;
  });
  if (allowZero && inferred >= 0 && target.includes(0)) {
    throw shapeError(node, `shape ${shapeToString(target)} has both 0 and -1 while allowzero is set`);
  }
  const known = sizeOf(out);
  if (inferred >= 0) {
    if (known === 0 || total % known !== 0) {
      throw shapeError(node, `cannot reshape ${shapeToString(inShape)} (${total} elements) to ${shapeToString(target)}`);
    }
    out[inferred] = total / known;
  } else if (known !== total) {
    throw shapeError(node, `cannot reshape ${shapeToString(inShape)} (${total} elements) to ${shapeToString(out)} (${known} elements)`);
  }
  return out;
}

const reshape: OpSchema = {
  op: 'Reshape',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const target = indexValues(ctx, 1, 'shape');
    return [same(x, resolveReshape(ctx.node, x.shape, target, attrInt(ctx.node, 'allowzero', 0) !== 0))];
  },
};

const flatten: OpSchema = {
  op: 'Flatten',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const rank = x.shape.length;
    // Unlike other axes, Flatten's may equal the rank (everything goes into the first dimension).
    const given = attrInt(ctx.node, 'axis', 1);
    const axis = given < 0 ? given + rank : given;
    if (axis < 0 || axis > rank) throw attrError(ctx.node, `axis ${given} is out of range [${-rank}, ${rank}]`);
    return [same(x, [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))])];
  },
};

const squeeze: OpSchema = {
  op: 'Squeeze',
  inputs: [1, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const rank = x.shape.length;
    const given = optionalIndexValues(ctx, 1, 'axes');
    // An empty axes tensor means "every size-1 axis", as for an absent one (onnxruntime agrees).
    if (!given || given.length === 0) return [same(x, x.shape.filter((d) => d !== 1))];
    const axes = given.map((a) => resolveAxis(ctx.node, a, rank, 'squeeze axis', true));
    noDuplicates(ctx.node, axes, 'axes');
    for (const a of axes) {
      if (x.shape[a] !== 1) throw shapeError(ctx.node, `axis ${a} of shape ${shapeToString(x.shape)} is not 1 and cannot be squeezed`);
    }
    return [same(x, x.shape.filter((_, k) => !axes.includes(k)))];
  },
};

const unsqueeze: OpSchema = {
  op: 'Unsqueeze',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const given = indexValues(ctx, 1, 'axes');
    const rank = x.shape.length + given.length;
    const axes = given.map((a) => resolveAxis(ctx.node, a, rank, 'unsqueeze axis', true));
    noDuplicates(ctx.node, axes, 'axes');
    const out: number[] = [];
    let next = 0;
    for (let k = 0; k < rank; k++) out.push(axes.includes(k) ? 1 : x.shape[next++]!);
    return [same(x, out)];
  },
};

/** Transpose's permutation: the attribute, or reversed axes when absent; validated as a permutation of the rank. */
export function transposePerm(node: Node, rank: number): number[] {
  const perm = hasAttr(node, 'perm') ? attrInts(node, 'perm') : Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const seen = new Set<number>();
  const valid = perm.length === rank && perm.every((p) => {
    const ok = p >= 0 && p < rank && !seen.has(p);
    seen.add(p);
    return ok;
  });
  if (!valid) throw attrError(node, `perm ${shapeToString(perm)} is not a permutation of ${rank} axes`);
  return perm;
}

const transpose: OpSchema = {
  op: 'Transpose',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const perm = transposePerm(ctx.node, x.shape.length);
    return [same(x, perm.map((p) => x.shape[p]!))];
  },
};

const tile: OpSchema = {
  op: 'Tile',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const repeats = indexValues(ctx, 1, 'repeats');
    if (repeats.length !== x.shape.length || repeats.some((r) => r < 0)) {
      throw shapeError(ctx.node, `repeats ${shapeToString(repeats)} must be ${x.shape.length} non-negative counts for input ${shapeToString(x.shape)}`);
    }
    return [same(x, x.shape.map((d, k) => d * repeats[k]!))];
  },
};

const expand: OpSchema = {
  op: 'Expand',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const shape = indexValues(ctx, 1, 'shape');
    if (shape.some((d) => d < 0)) throw shapeError(ctx.node, `shape ${shapeToString(shape)} has a negative dimension`);
    try {
      return [same(x, broadcastShapes(x.shape, shape))];
    } catch {
      throw shapeError(ctx.node, `input ${shapeToString(x.shape)} cannot be expanded to ${shapeToString(shape)}`);
    }
  },
};

const identity: OpSchema = {
  op: 'Identity',
  inputs: [1, 1],
  outputs: [1, 1],
  infer: (ctx) => [same(requireInput(ctx, 0))],
};

const dropout: OpSchema = {
  op: 'Dropout',
  inputs: [1, 3],
  outputs: [1, 2],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    // training_mode fed at run time must be known to plan: a true value would need random masks.
    if (ctx.inputs[2] && scalarValue(ctx, 2, 'training_mode') !== 0) {
      throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (Dropout): training_mode is true; cloudless only runs inference`, {
        node: ctx.node.name, hint: 'export the model in inference mode (model.eval()) or set training_mode to false',
      });
    }
    const out = [same(x)];
    if (ctx.node.outputs.length > 1) out.push({ dtype: 'bool', shape: [...x.shape] });
    return out;
  },
};

const compress: OpSchema = {
  op: 'Compress',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const cond = requireInput(ctx, 1);
    if (cond.dtype !== 'bool') throw dtypeError(ctx.node, `condition must be bool, got ${cond.dtype}`);
    if (cond.shape.length !== 1) throw shapeError(ctx.node, `condition must be 1-D, got ${shapeToString(cond.shape)}`);
    const axis = hasAttr(ctx.node, 'axis') ? resolveAxis(ctx.node, attrInt(ctx.node, 'axis'), x.shape.length) : undefined;
    const limit = axis === undefined ? sizeOf(x.shape) : x.shape[axis]!;
    if (cond.shape[0]! > limit) throw shapeError(ctx.node, `condition has ${cond.shape[0]} entries, more than the ${limit} it selects from`);
    const kept = ctx.value(1).toNumbers().filter((c) => c !== 0).length;
    if (axis === undefined) return [same(x, [kept])];
    const shape = [...x.shape];
    shape[axis] = kept;
    return [same(x, shape)];
  },
};

const reverseSequence: OpSchema = {
  op: 'ReverseSequence',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const lens = requireInput(ctx, 1);
    requireIndexDtype(ctx.node, lens, 'sequence_lens');
    const batchAxis = attrInt(ctx.node, 'batch_axis', 1);
    const timeAxis = attrInt(ctx.node, 'time_axis', 0);
    if (x.shape.length < 2) throw shapeError(ctx.node, `input must have rank 2 or more, got ${shapeToString(x.shape)}`);
    if (![0, 1].includes(batchAxis) || ![0, 1].includes(timeAxis) || batchAxis === timeAxis) {
      throw attrError(ctx.node, `batch_axis ${batchAxis} and time_axis ${timeAxis} must be 0 and 1 in some order`);
    }
    if (lens.shape.length !== 1 || lens.shape[0] !== x.shape[batchAxis]) {
      throw shapeError(ctx.node, `sequence_lens must have shape [${x.shape[batchAxis]}], got ${shapeToString(lens.shape)}`);
    }
    return [same(x)];
  },
};

// ---- Shape queries -------------------------------------------------------------

/** The [start, end) range of dimensions Shape reports, after ONNX's clamping. */
export function shapeRange(node: Node, rank: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(attrInt(node, 'start', 0));
  const end = hasAttr(node, 'end') ? clamp(attrInt(node, 'end')) : rank;
  return [start, Math.max(start, end)];
}

const shape: OpSchema = {
  op: 'Shape',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const [start, end] = shapeRange(ctx.node, x.shape.length);
    return [{ dtype: 'int64', shape: [end - start] }];
  },
};

const size: OpSchema = {
  op: 'Size',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    requireInput(ctx, 0);
    return [{ dtype: 'int64', shape: [] }];
  },
};

const nonZero: OpSchema = {
  op: 'NonZero',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const data = ctx.value(0).data;
    let count = 0;
    for (let i = 0; i < data.length; i++) if (data[i] !== 0 && data[i] !== 0n) count++;
    // numpy treats a scalar as a 1-D array of one element here.
    return [{ dtype: 'int64', shape: [Math.max(x.shape.length, 1), count] }];
  },
};

// ---- Generators ------------------------------------------------------------------

const range: OpSchema = {
  op: 'Range',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const dtype = requireInput(ctx, 0).dtype;
    for (const i of [1, 2]) {
      if (requireInput(ctx, i).dtype !== dtype) throw dtypeError(ctx.node, `input ${i} is ${ctx.inputs[i]!.dtype}, start is ${dtype}`);
    }
    if (dtype === 'bool') throw dtypeError(ctx.node, 'Range needs a numeric type, got bool');
    const start = scalarValue(ctx, 0, 'start');
    const limit = scalarValue(ctx, 1, 'limit');
    const delta = scalarValue(ctx, 2, 'delta');
    if (delta === 0) throw shapeError(ctx.node, 'delta is 0');
    return [{ dtype, shape: [Math.max(0, Math.ceil((limit - start) / delta))] }];
  },
};

/** The tensor ConstantOfShape fills with: attribute `value` (one element) or float32 0. */
export function constantOfShapeValue(node: Node): { dtype: DType; value: number | bigint } {
  if (!hasAttr(node, 'value')) return { dtype: 'float32', value: 0 };
  const t: Tensor = attrTensor(node, 'value');
  if (t.size !== 1) throw attrError(node, `value must hold one element, got shape ${shapeToString(t.shape)}`);
  return { dtype: t.dtype, value: t.data[0]! };
}

const constantOfShape: OpSchema = {
  op: 'ConstantOfShape',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const dims = indexValues(ctx, 0, 'shape');
    if (dims.some((d) => d < 0)) throw shapeError(ctx.node, `shape ${shapeToString(dims)} has a negative dimension`);
    return [{ dtype: constantOfShapeValue(ctx.node).dtype, shape: dims }];
  },
};

function parseDType(node: Node, name: string): DType {
  const s = attrString(node, name);
  if (!(DTYPES as readonly string[]).includes(s)) throw attrError(node, `${name} "${s}" is not one of ${DTYPES.join(', ')}`);
  return s as DType;
}

const eyeLike: OpSchema = {
  op: 'EyeLike',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    if (x.shape.length !== 2) throw shapeError(ctx.node, `input must be 2-D, got ${shapeToString(x.shape)}`);
    const dtype = hasAttr(ctx.node, 'dtype') ? parseDType(ctx.node, 'dtype') : x.dtype;
    return [{ dtype, shape: [...x.shape] }];
  },
};

const oneHot: OpSchema = {
  op: 'OneHot',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const idx = requireInput(ctx, 0);
    const values = requireInput(ctx, 2);
    requireInput(ctx, 1);
    if (idx.dtype === 'bool') throw dtypeError(ctx.node, 'indices must be numeric, got bool');
    if (sizeOf(values.shape) !== 2) throw shapeError(ctx.node, `values must hold [off, on], got shape ${shapeToString(values.shape)}`);
    const depth = Math.trunc(scalarValue(ctx, 1, 'depth'));
    if (depth < 1) throw shapeError(ctx.node, `depth must be positive, got ${depth}`);
    const rank = idx.shape.length + 1;
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', -1), rank);
    const shape = [...idx.shape];
    shape.splice(axis, 0, depth);
    return [{ dtype: values.dtype, shape }];
  },
};

const trilu: OpSchema = {
  op: 'Trilu',
  inputs: [1, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    if (x.shape.length < 2) throw shapeError(ctx.node, `input must have rank 2 or more, got ${shapeToString(x.shape)}`);
    const k = ctx.inputs[1];
    if (k) {
      if (!isIndexDtype(k.dtype)) throw dtypeError(ctx.node, `k must be int64, got ${k.dtype}`);
      if (sizeOf(k.shape) !== 1) throw shapeError(ctx.node, `k must be a scalar, got ${shapeToString(k.shape)}`);
    }
    return [same(x)];
  },
};

const constant: OpSchema = {
  op: 'Constant',
  inputs: [0, 0],
  outputs: [1, 1],
  infer(ctx) {
    const t = attrTensor(ctx.node, 'value');
    return [t.quant ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant } : { dtype: t.dtype, shape: [...t.shape] }];
  },
};

export const shapeOpSchemas: readonly OpSchema[] = [
  concat, split, slice,
  gather, gatherElements, gatherND, scatterElements, scatterND,
  reshape, flatten, squeeze, unsqueeze, transpose, tile, expand, identity, dropout, compress, reverseSequence,
  shape, size, nonZero,
  range, constantOfShape, eyeLike, oneHot, trilu, constant,
];

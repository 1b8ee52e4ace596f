/**
 * Schemas of the ops that reduce or scan along axes: ReduceX(data, axes?),
 * ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax (opset-13 form: one axis),
 * CumSum(x, axis) and TopK(X, K). Latest ONNX semantics (docs/ops.md rule 1).
 */
import { attrInt } from '../attrs.js';
import type { DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { shapeToString, sizeOf, type Tensor } from '../tensor.js';

export const REDUCE_OPS = [
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd',
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare',
] as const;

function attrError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

function dtypeError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

const INDEX_DTYPES: readonly DType[] = ['int32', 'int64'];

function requireIndexInput(ctx: InferContext, i: number, what: string): ValueInfo {
  const v = requireInput(ctx, i);
  if (!INDEX_DTYPES.includes(v.dtype)) throw dtypeError(ctx.node, `input ${i} (${what}) must be int64 or int32, got ${v.dtype}`);
  return v;
}

/** An axis attribute or value mapped into [0, rank), or E_ATTR naming the node. */
export function resolveAxis(node: Node, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw attrError(node, `${what} ${axis} is out of range for an input of rank ${rank}`);
  }
  return a;
}

/**
 * The sorted axes a ReduceX node reduces, from its optional axes tensor.
 * Absent or empty axes mean every axis, unless noop_with_empty_axes is set:
 * then none, and each element is "reduced" alone (ReduceSumSquare squares it,
 * ReduceL1 takes its absolute value, ReduceMean returns it).
 */
export function resolveReduceAxes(node: Node, rank: number, axes: Tensor | undefined): number[] {
  const given = axes ? axes.toNumbers() : [];
  if (given.length === 0) {
    return attrInt(node, 'noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  const out = given.map((a) => resolveAxis(node, a, rank, 'axes entry'));
  if (new Set(out).size !== out.length) throw attrError(node, `axes ${JSON.stringify(given)} name an axis twice`);
  return out.sort((a, b) => a - b);
}

/** The input shape with reduced axes set to 1 (keepdims) or removed. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function reduce(op: string): OpSchema {
  return {
    op,
    inputs: [1, 2],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      let axesTensor: Tensor | undefined;
      if (ctx.inputs[1]) {
        const axes = requireIndexInput(ctx, 1, 'axes');
        if (axes.shape.length > 1) throw shapeError(ctx.node, `axes must be 1-D, got shape ${shapeToString(axes.shape)}`);
        axesTensor = ctx.value(1);
      }
      const axes = resolveReduceAxes(ctx.node, x.shape.length, axesTensor);
      const keepdims = attrInt(ctx.node, 'keepdims', 1) !== 0;
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, keepdims) }];
    },
  };
}

function argReduce(op: string): OpSchema {
  return {
    op,
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.shape.length);
      if (x.shape[axis] === 0) throw shapeError(ctx.node, `axis ${axis} of shape ${shapeToString(x.shape)} is empty: there is no ${op === 'ArgMax' ? 'maximum' : 'minimum'}`);
      attrInt(ctx.node, 'select_last_index', 0);
      const keepdims = attrInt(ctx.node, 'keepdims', 1) !== 0;
      return [{ dtype: 'int64', shape: reducedShape(x.shape, [axis], keepdims) }];
    },
  };
}

function softmaxLike(op: string): OpSchema {
  return {
    op,
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      const quantized = (x.dtype === 'int8' || x.dtype === 'int16') && x.quant !== undefined;
      if (x.dtype !== 'float32' && x.dtype !== 'float64' && !quantized) {
        throw dtypeError(ctx.node, `input 0 must be float32, float64 or quantized int8 or int16, got ${x.dtype}`);
      }
      resolveAxis(ctx.node, attrInt(ctx.node, 'axis', -1), x.shape.length);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
  };
}

/** A single integer read from a tensor input of one element. */
function scalarInput(ctx: InferContext, i: number, what: string): number | undefined {
  const info = requireIndexInput(ctx, i, what);
  if (sizeOf(info.shape) !== 1) throw shapeError(ctx.node, `input ${i} (${what}) must hold one value, got shape ${shapeToString(info.shape)}`);
  return ctx.hasValue(i) ? ctx.value(i).toNumbers()[0]! : undefined;
}

const cumSum: OpSchema = {
  op: 'CumSum',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    // The axis only matters at run time; check it now when it is already known.
    const axis = scalarInput(ctx, 1, 'axis');
    if (axis !== undefined) resolveAxis(ctx.node, axis, x.shape.length);
    attrInt(ctx.node, 'exclusive', 0);
    attrInt(ctx.node, 'reverse', 0);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

const topK: OpSchema = {
  op: 'TopK',
  inputs: [2, 2],
  outputs: [2, 2],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const axis = resolveAxis(ctx.node, attrInt(ctx.node, 'axis', -1), x.shape.length);
    requireIndexInput(ctx, 1, 'K');
    const k = ctx.value(1).toNumbers();
    if (k.length !== 1) throw shapeError(ctx.node, `K must hold one value, got ${k.length}`);
    const kv = k[0]!;
    if (kv < 0 || kv > x.shape[axis]!) {
      throw shapeError(ctx.node, `K = ${kv} is outside [0, ${x.shape[axis]}] for axis ${axis} of shape ${shapeToString(x.shape)}`);
    }
    attrInt(ctx.node, 'largest', 1);
    attrInt(ctx.node, 'sorted', 1);
    const shape = [...x.shape];
    shape[axis] = kv;
    return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape: [...shape] }];
  },
};

export const reduceSchemas: readonly OpSchema[] = [
  ...REDUCE_OPS.map(reduce),
  argReduce('ArgMax'),
  argReduce('ArgMin'),
  softmaxLike('Softmax'),
  softmaxLike('LogSoftmax'),
  softmaxLike('Hardmax'),
  cumSum,
  topK,
];

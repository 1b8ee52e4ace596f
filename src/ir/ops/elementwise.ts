/**
 * Schemas of the elementwise ops: unary activations and math, numpy-broadcast
 * binary arithmetic and comparisons, Where, the variadic Min/Max/Sum/Mean,
 * Clip, and Cast/CastLike. Semantics are those of the latest ONNX opset.
 */
import { attrFloat, attrInt, attrString } from '../attrs.js';
import { DTYPES, type DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { broadcastAll } from '../shape-utils.js';
import { shapeToString, sizeOf } from '../tensor.js';

function dtypeError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

function attrError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
}

/** The numpy broadcast of the given inputs' shapes, or E_SHAPE naming the node. */
function broadcastInputs(ctx: InferContext, infos: readonly ValueInfo[]): number[] {
  try {
    return broadcastAll(infos.map((v) => v.shape), 'inputs');
  } catch (err) {
    throw shapeError(ctx.node, err instanceof Error ? err.message : String(err));
  }
}

/** Inputs `indices` (all required) must share one dtype; returns their infos. */
function sameDtype(ctx: InferContext, indices: readonly number[]): ValueInfo[] {
  const infos = indices.map((i) => requireInput(ctx, i));
  const first = infos[0]!;
  infos.forEach((v, k) => {
    if (v.dtype !== first.dtype) {
      throw dtypeError(ctx.node, `input ${indices[k]} is ${v.dtype} but input ${indices[0]} is ${first.dtype}; they must match`);
    }
  });
  return infos;
}

function requireDtype(ctx: InferContext, i: number, allowed: readonly DType[]): ValueInfo {
  const v = requireInput(ctx, i);
  if (!allowed.includes(v.dtype)) throw dtypeError(ctx.node, `input ${i} must be ${allowed.join(' or ')}, got ${v.dtype}`);
  return v;
}

const FLOATS: readonly DType[] = ['float32', 'float64'];

function unary(op: string, check?: (node: Node) => void): OpSchema {
  return {
    op,
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      check?.(ctx.node);
      const x = requireInput(ctx, 0);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
  };
}

function unaryToBool(op: string, check?: (node: Node) => void): OpSchema {
  return {
    op,
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      check?.(ctx.node);
      const x = requireDtype(ctx, 0, FLOATS);
      return [{ dtype: 'bool', shape: [...x.shape] }];
    },
  };
}

/** Binary op whose inputs share a dtype; the output has `outDtype` (default: the inputs'). */
function binary(op: string, outDtype?: DType, check?: (node: Node) => void): OpSchema {
  return {
    op,
    inputs: [2, 2],
    outputs: [1, 1],
    infer(ctx) {
      check?.(ctx.node);
      const infos = sameDtype(ctx, [0, 1]);
      return [{ dtype: outDtype ?? infos[0]!.dtype, shape: broadcastInputs(ctx, infos) }];
    },
  };
}

function variadic(op: string): OpSchema {
  return {
    op,
    inputs: [1, Number.POSITIVE_INFINITY],
    outputs: [1, 1],
    infer(ctx) {
      const indices = ctx.node.inputs.map((_, i) => i);
      const infos = sameDtype(ctx, indices);
      return [{ dtype: infos[0]!.dtype, shape: broadcastInputs(ctx, infos) }];
    },
  };
}

const UNARY_OPS = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu',
  'Softplus', 'Softsign', 'Mish', 'Exp', 'Log', 'Sqrt', 'Abs', 'Neg', 'Reciprocal', 'Floor', 'Ceil', 'Round',
  'Sign', 'Erf', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh',
] as const;

const clip: OpSchema = {
  op: 'Clip',
  inputs: [1, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    for (const i of [1, 2]) {
      const bound = ctx.inputs[i];
      if (!bound) continue;
      // A quantized Clip (TFLite's RELU6 on int8) carries its bounds as real float32 values.
      const realBounds = bound.dtype === 'float32' && (x.dtype === 'int8' || x.dtype === 'uint8' || (x.dtype === 'int16' && x.quant !== undefined));
      if (bound.dtype !== x.dtype && !realBounds) throw dtypeError(ctx.node, `input ${i} (${i === 1 ? 'min' : 'max'}) is ${bound.dtype} but the input is ${x.dtype}`);
      if (sizeOf(bound.shape) !== 1) {
        throw shapeError(ctx.node, `input ${i} (${i === 1 ? 'min' : 'max'}) must be a scalar, got shape ${shapeToString(bound.shape)}`);
      }
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

const pow: OpSchema = {
  op: 'Pow',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    // The exponent may have another type than the base (ONNX T1); the result has the base's.
    const base = requireInput(ctx, 0);
    const exponent = requireInput(ctx, 1);
    if (base.dtype === 'bool' || exponent.dtype === 'bool') throw dtypeError(ctx.node, 'Pow does not take bool inputs');
    return [{ dtype: base.dtype, shape: broadcastInputs(ctx, [base, exponent]) }];
  },
};

const prelu: OpSchema = {
  op: 'PRelu',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const [x, slope] = sameDtype(ctx, [0, 1]) as [ValueInfo, ValueInfo];
    const out = broadcastInputs(ctx, [x, slope]);
    // The slope broadcasts to X, never the other way round (ONNX unidirectional broadcasting).
    if (out.length !== x.shape.length || out.some((d, i) => d !== x.shape[i])) {
      throw shapeError(ctx.node, `slope of shape ${shapeToString(slope.shape)} does not broadcast to X of shape ${shapeToString(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

const where: OpSchema = {
  op: 'Where',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const cond = requireDtype(ctx, 0, ['bool']);
    const [x, y] = sameDtype(ctx, [1, 2]) as [ValueInfo, ValueInfo];
    return [{ dtype: x.dtype, shape: broadcastInputs(ctx, [cond, x, y]) }];
  },
};

function checkCastTarget(node: Node, to: string): DType {
  const found = DTYPES.find((d) => d === to);
  if (!found) throw attrError(node, `attribute "to" must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(to)}`);
  return found;
}

const cast: OpSchema = {
  op: 'Cast',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const to = checkCastTarget(ctx.node, attrString(ctx.node, 'to'));
    return [{ dtype: to, shape: [...x.shape] }];
  },
};

const castLike: OpSchema = {
  op: 'CastLike',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const target = requireInput(ctx, 1);
    return [{ dtype: target.dtype, shape: [...x.shape] }];
  },
};

function checkGelu(node: Node): void {
  const approximate = attrString(node, 'approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw attrError(node, `attribute "approximate" must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  }
}

function checkMod(node: Node): void {
  const fmod = attrInt(node, 'fmod', 0);
  if (fmod !== 0 && fmod !== 1) throw attrError(node, `attribute "fmod" must be 0 or 1, got ${fmod}`);
}

function checkBitShift(node: Node): void {
  const direction = attrString(node, 'direction');
  if (direction !== 'LEFT' && direction !== 'RIGHT') {
    throw attrError(node, `attribute "direction" must be "LEFT" or "RIGHT", got ${JSON.stringify(direction)}`);
  }
}

function checkIsInf(node: Node): void {
  attrInt(node, 'detect_negative', 1);
  attrInt(node, 'detect_positive', 1);
}

/** Float attributes are read here once so that a bad value fails at load, not at run. */
function checkFloatAttrs(...names: string[]): (node: Node) => void {
  return (node) => {
    for (const name of names) if (node.attrs[name] !== undefined) attrFloat(node, name);
  };
}

export const elementwiseSchemas: readonly OpSchema[] = [
  ...UNARY_OPS.map((op) => {
    switch (op) {
      case 'LeakyRelu': case 'Elu': case 'Celu': case 'ThresholdedRelu': return unary(op, checkFloatAttrs('alpha'));
      case 'HardSigmoid': return unary(op, checkFloatAttrs('alpha', 'beta'));
      case 'Selu': return unary(op, checkFloatAttrs('alpha', 'gamma'));
      default: return unary(op);
    }
  }),
  unary('Gelu', checkGelu),
  {
    op: 'Not',
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireDtype(ctx, 0, ['bool']);
      return [{ dtype: 'bool', shape: [...x.shape] }];
    },
  },
  unaryToBool('IsNaN'),
  unaryToBool('IsInf', checkIsInf),
  clip,
  binary('Add'),
  binary('Sub'),
  binary('Mul'),
  binary('Div'),
  binary('Mod', undefined, checkMod),
  binary('BitShift', undefined, checkBitShift),
  pow,
  prelu,
  binary('Equal', 'bool'),
  binary('Greater', 'bool'),
  binary('GreaterOrEqual', 'bool'),
  binary('Less', 'bool'),
  binary('LessOrEqual', 'bool'),
  binary('And', 'bool'),
  binary('Or', 'bool'),
  binary('Xor', 'bool'),
  where,
  variadic('Min'),
  variadic('Max'),
  variadic('Sum'),
  variadic('Mean'),
  cast,
  castLike,
];

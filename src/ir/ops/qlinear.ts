/**
 * Schemas of ONNX's quantization ops with their parameters as inputs:
 * QuantizeLinear, DequantizeLinear (per tensor or per axis, opset 10–19 forms),
 * DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, and the channels-last
 * ConvInteger and QLinearConv (X [N, ...spatial, C], W OHWI like Conv; the ONNX
 * importer wraps and pre-transposes them as it does Conv). A weight's per-axis
 * scales and zero points are per output channel, axis 0 in OIHW and in OHWI alike.
 */
import { attrInt, hasAttr } from '../attrs.js';
import type { DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';
import { shapeToString, sizeOf } from '../tensor.js';
import { matmulShape, windowGeometry } from './nn.js';

export const QLINEAR_DTYPES: readonly DType[] = ['uint8', 'int8'];

/** An optional input that is present (named and non-empty). */
function present(ctx: InferContext, i: number): ValueInfo | undefined {
  const v = ctx.inputs[i];
  return v && sizeOf(v.shape) > 0 ? v : undefined;
}

/**
 * The axis a scale applies along: undefined for one scale (a scalar or [1]),
 * else the normalized `axis` attribute, whose length must match the scale's.
 */
export function quantAxis(node: Node, x: readonly number[], scale: readonly number[]): number | undefined {
  if (hasAttr(node, 'block_size') && attrInt(node, 'block_size') !== 0) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): blocked quantization (block_size) is not supported`, { node: node.name });
  }
  if (scale.length === 0 || sizeOf(scale) === 1) return undefined;
  if (scale.length !== 1) throw shapeError(node, `scale must be a scalar or 1-D, got ${shapeToString(scale)}`);
  const axis = normalizeAxis(attrInt(node, 'axis', 1), x.length, `node ${node.name} (${node.op})`);
  if (x[axis] !== scale[0]) throw shapeError(node, `${scale[0]} scales do not match axis ${axis} of ${shapeToString(x)}`);
  return axis;
}

function checkZeroPoint(ctx: InferContext, zpIndex: number, scale: ValueInfo, what: string): ValueInfo | undefined {
  const zp = present(ctx, zpIndex);
  if (zp && sizeOf(zp.shape) !== sizeOf(scale.shape)) {
    throw shapeError(ctx.node, `${what} zero point ${shapeToString(zp.shape)} does not match its scale ${shapeToString(scale.shape)}`);
  }
  return zp;
}

function requireFloatScale(ctx: InferContext, i: number, what: string): ValueInfo {
  const s = requireInput(ctx, i);
  if (s.dtype !== 'float32') throw shapeError(ctx.node, `${what} must be float32, got ${s.dtype}`);
  return s;
}

function requireQuantized(ctx: InferContext, i: number, what: string, types: readonly DType[] = QLINEAR_DTYPES): ValueInfo {
  const v = requireInput(ctx, i);
  if (!types.includes(v.dtype)) {
    throw new CloudlessError('E_DTYPE', `node ${ctx.node.name} (${ctx.node.op}): ${what} must be ${types.join(' or ')}, got ${v.dtype}`, { node: ctx.node.name });
  }
  return v;
}

/** Output spatial geometry of a channels-last integer conv; W is OHWI with `wIndex`. */
function convOutputShape(ctx: InferContext, xIndex: number, wIndex: number): { shape: number[]; cout: number } {
  const x = requireInput(ctx, xIndex);
  const w = requireInput(ctx, wIndex);
  const r = x.shape.length - 2;
  if (r < 1 || r > 3) throw shapeError(ctx.node, `X must be [N, ...spatial, C] with 1 to 3 spatial axes, got ${shapeToString(x.shape)}`);
  if (w.shape.length !== r + 2) throw shapeError(ctx.node, `weight must be OHWI [Cout, ...kernel, Cin/group], got ${shapeToString(w.shape)}`);
  const group = attrInt(ctx.node, 'group', 1);
  const cin = x.shape[r + 1]!, cout = w.shape[0]!;
  if (group < 1 || cin % group !== 0 || cout % group !== 0 || w.shape[r + 1]! * group !== cin) {
    throw shapeError(ctx.node, `group ${group} does not fit X ${shapeToString(x.shape)} and weight ${shapeToString(w.shape)}`);
  }
  const g = windowGeometry(ctx.node, x.shape.slice(1, r + 1), w.shape.slice(1, r + 1));
  return { shape: [x.shape[0]!, ...g.out, cout], cout };
}

/** Per-output-channel parameters of a conv weight: one value, or one per output channel. */
function checkPerChannel(ctx: InferContext, i: number, cout: number, what: string): void {
  const v = present(ctx, i);
  if (v && sizeOf(v.shape) !== 1 && (v.shape.length !== 1 || v.shape[0] !== cout)) {
    throw shapeError(ctx.node, `${what} must have one value or ${cout} (one per output channel), got ${shapeToString(v.shape)}`);
  }
}

export const qlinearSchemas: readonly OpSchema[] = [
  {
    op: 'QuantizeLinear',
    inputs: [2, 3],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      if (x.dtype !== 'float32' && x.dtype !== 'int32') throw shapeError(ctx.node, `x must be float32 or int32, got ${x.dtype}`);
      if (hasAttr(ctx.node, 'output_dtype')) {
        throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (QuantizeLinear): attribute "output_dtype" (opset 21) is not supported`, { node: ctx.node.name });
      }
      const s = requireFloatScale(ctx, 1, 'y_scale');
      quantAxis(ctx.node, x.shape, s.shape);
      const zp = checkZeroPoint(ctx, 2, s, 'y');
      const to = zp?.dtype ?? ctx.inputs[2]?.dtype ?? 'uint8';
      if (!QLINEAR_DTYPES.includes(to)) throw new CloudlessError('E_DTYPE', `node ${ctx.node.name} (QuantizeLinear): cannot quantize to ${to}`, { node: ctx.node.name });
      return [{ dtype: to, shape: [...x.shape] }];
    },
  },
  {
    op: 'DequantizeLinear',
    inputs: [2, 3],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireQuantized(ctx, 0, 'x', ['uint8', 'int8', 'int32']);
      const s = requireFloatScale(ctx, 1, 'x_scale');
      quantAxis(ctx.node, x.shape, s.shape);
      const zp = checkZeroPoint(ctx, 2, s, 'x');
      if (zp && zp.dtype !== x.dtype) throw shapeError(ctx.node, `x_zero_point is ${zp.dtype}, x is ${x.dtype}`);
      return [{ dtype: 'float32', shape: [...x.shape] }];
    },
  },
  {
    op: 'DynamicQuantizeLinear',
    inputs: [1, 1],
    outputs: [3, 3],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      if (x.dtype !== 'float32') throw shapeError(ctx.node, `x must be float32, got ${x.dtype}`);
      return [{ dtype: 'uint8', shape: [...x.shape] }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }];
    },
  },
  {
    op: 'MatMulInteger',
    inputs: [2, 4],
    outputs: [1, 1],
    infer(ctx) {
      const a = requireQuantized(ctx, 0, 'A'), b = requireQuantized(ctx, 1, 'B');
      const shape = matmulShape(ctx.node, a.shape, b.shape);
      const az = present(ctx, 2), bz = present(ctx, 3);
      if (az && sizeOf(az.shape) !== 1) throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (MatMulInteger): per-row a_zero_point is not supported`, { node: ctx.node.name });
      if (bz && sizeOf(bz.shape) !== 1 && sizeOf(bz.shape) !== b.shape[b.shape.length - 1]) throw shapeError(ctx.node, `b_zero_point ${shapeToString(bz.shape)} must have one value or one per column of B`);
      return [{ dtype: 'int32', shape }];
    },
  },
  {
    op: 'QLinearMatMul',
    inputs: [8, 8],
    outputs: [1, 1],
    infer(ctx) {
      const a = requireQuantized(ctx, 0, 'a'), b = requireQuantized(ctx, 3, 'b');
      const shape = matmulShape(ctx.node, a.shape, b.shape);
      const as = requireFloatScale(ctx, 1, 'a_scale'), bs = requireFloatScale(ctx, 4, 'b_scale'), ys = requireFloatScale(ctx, 6, 'y_scale');
      if (sizeOf(as.shape) !== 1 || sizeOf(ys.shape) !== 1) throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (QLinearMatMul): a and y must be quantized per tensor`, { node: ctx.node.name });
      if (sizeOf(bs.shape) !== 1 && sizeOf(bs.shape) !== b.shape[b.shape.length - 1]) throw shapeError(ctx.node, `b_scale ${shapeToString(bs.shape)} must have one value or one per column of b`);
      const y = requireQuantized(ctx, 7, 'y_zero_point');
      return [{ dtype: y.dtype, shape }];
    },
  },
  {
    op: 'ConvInteger',
    inputs: [2, 4],
    outputs: [1, 1],
    infer(ctx) {
      requireQuantized(ctx, 0, 'x');
      requireQuantized(ctx, 1, 'w');
      const { shape, cout } = convOutputShape(ctx, 0, 1);
      const xz = present(ctx, 2);
      if (xz && sizeOf(xz.shape) !== 1) throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (ConvInteger): x_zero_point must be one value`, { node: ctx.node.name });
      checkPerChannel(ctx, 3, cout, 'w_zero_point');
      return [{ dtype: 'int32', shape }];
    },
  },
  {
    op: 'QLinearConv',
    inputs: [8, 9],
    outputs: [1, 1],
    infer(ctx) {
      requireQuantized(ctx, 0, 'x');
      requireQuantized(ctx, 3, 'w');
      const { shape, cout } = convOutputShape(ctx, 0, 3);
      for (const [i, what] of [[1, 'x_scale'], [2, 'x_zero_point'], [6, 'y_scale'], [7, 'y_zero_point']] as const) {
        if (sizeOf(requireInput(ctx, i).shape) !== 1) throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (QLinearConv): ${what} must be one value`, { node: ctx.node.name });
      }
      checkPerChannel(ctx, 4, cout, 'w_scale');
      checkPerChannel(ctx, 5, cout, 'w_zero_point');
      const b = present(ctx, 8);
      if (b && (b.dtype !== 'int32' || b.shape.length !== 1 || b.shape[0] !== cout)) throw shapeError(ctx.node, `bias must be int32 [${cout}], got ${b.dtype} ${shapeToString(b.shape)}`);
      const y = requireQuantized(ctx, 7, 'y_zero_point');
      return [{ dtype: y.dtype, shape }];
    },
  },
];

/**
 * Schemas of the neural-network ops: convolutions, pools, normalizations,
 * matrix products, Resize, Pad and the depth/space shuffles.
 *
 * Layout-sensitive ops are channels-last (docs/ops.md, rule 2): X is
 * [N, ...spatial, C], conv weights are OHWI, depthwise 1HWO, transposed conv IHWO.
 * The window geometry (output size and the resolved begin/end pads) is computed
 * here once and shared with the kernels, so shape inference and the loops can
 * never disagree about where a window starts.
 */
import { attrFloat, attrInt, attrInts, attrString, hasAttr } from '../attrs.js';
import { isFloat, type DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { broadcastShapes, normalizeAxis } from '../shape-utils.js';
import { shapeToString, sizeOf, type Tensor } from '../tensor.js';

// ---------------------------------------------------------------------------
// Shared helpers (exported for the kernels)
// ---------------------------------------------------------------------------

export type FusedActivation = 'none' | 'relu' | 'relu6' | 'relu_n1_to_1';

/** The clamp bounds of the fused `activation` attribute. */
export function activationRange(node: Node): [number, number] {
  const a = attrString(node, 'activation', 'none');
  switch (a) {
    case 'none': return [-Infinity, Infinity];
    case 'relu': return [0, Infinity];
    case 'relu6': return [0, 6];
    case 'relu_n1_to_1': return [-1, 1];
    default:
      throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): activation "${a}" is not one of none, relu, relu6, relu_n1_to_1`, { node: node.name });
  }
}

/** Where the windows of a conv or pool sit along each spatial axis. */
export interface WindowGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  /** Output spatial sizes. */
  out: number[];
}

function spatialAttr(node: Node, name: string, rank: number, fallback: number): number[] {
  const v = hasAttr(node, name) ? attrInts(node, name) : new Array<number>(rank).fill(fallback);
  if (v.length !== rank) throw shapeError(node, `attribute ${name} has ${v.length} values, the op has ${rank} spatial axes`);
  return v;
}

function explicitPads(node: Node, rank: number): [number[], number[]] {
  const pads = hasAttr(node, 'pads') ? attrInts(node, 'pads') : new Array<number>(2 * rank).fill(0);
  if (pads.length !== 2 * rank) throw shapeError(node, `attribute pads has ${pads.length} values, expected ${2 * rank} ([begin..., end...])`);
  if (pads.some((p) => p < 0)) throw shapeError(node, `negative pads ${shapeToString(pads)} are not supported`);
  return [pads.slice(0, rank), pads.slice(rank)];
}

/**
 * ONNX's output-size rules for Conv and the pools. With `ceilMode` a last
 * window that would start inside the end padding is dropped (ONNX / PyTorch rule).
 */
export function windowGeometry(node: Node, inSpatial: readonly number[], kernel: readonly number[], ceilMode = false): WindowGeometry {
  const r = inSpatial.length;
  const strides = spatialAttr(node, 'strides', r, 1);
  const dilations = spatialAttr(node, 'dilations', r, 1);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1)) throw shapeError(node, 'strides and dilations must be >= 1');
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let padsBegin: number[], padsEnd: number[];
  const out = new Array<number>(r);
  const extent = kernel.map((k, i) => (k - 1) * dilations[i]! + 1);
  if (autoPad === 'NOTSET') {
    [padsBegin, padsEnd] = explicitPads(node, r);
    for (let i = 0; i < r; i++) {
      const span = inSpatial[i]! + padsBegin[i]! + padsEnd[i]! - extent[i]!;
      if (span < 0) throw shapeError(node, `the window (${extent[i]}) is larger than the padded input (${inSpatial[i]! + padsBegin[i]! + padsEnd[i]!}) on spatial axis ${i}`);
      let o = (ceilMode ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1;
      if (ceilMode && (o - 1) * strides[i]! >= inSpatial[i]! + padsBegin[i]!) o--;
      out[i] = o;
    }
  } else if (autoPad === 'VALID') {
    padsBegin = new Array<number>(r).fill(0);
    padsEnd = new Array<number>(r).fill(0);
    for (let i = 0; i < r; i++) {
      const span = inSpatial[i]! - extent[i]!;
      if (span < 0) throw shapeError(node, `the window (${extent[i]}) is larger than the input (${inSpatial[i]}) on spatial axis ${i}`);
      out[i] = (ceilMode ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1;
    }
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    padsBegin = new Array<number>(r);
    padsEnd = new Array<number>(r);
    for (let i = 0; i < r; i++) {
      const o = Math.ceil(inSpatial[i]! / strides[i]!);
      const total = Math.max(0, (o - 1) * strides[i]! + extent[i]! - inSpatial[i]!);
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i]!;
      out[i] = o;
    }
  } else {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): auto_pad "${autoPad}" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`, { node: node.name });
  }
  return { kernel: [...kernel], strides, dilations, padsBegin, padsEnd, out };
}

/** ConvTranspose geometry: ONNX's output size and padding equations, including output_shape and auto_pad. */
export function convTransposeGeometry(node: Node, inSpatial: readonly number[], kernel: readonly number[]): WindowGeometry & { outputPadding: number[] } {
  const r = inSpatial.length;
  const strides = spatialAttr(node, 'strides', r, 1);
  const dilations = spatialAttr(node, 'dilations', r, 1);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1)) throw shapeError(node, 'strides and dilations must be >= 1');
  const outputPadding = spatialAttr(node, 'output_padding', r, 0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): auto_pad "${autoPad}" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`, { node: node.name });
  }
  // The size the output would have with no padding at all.
  const full = inSpatial.map((n, i) => strides[i]! * (n - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1);
  let target: number[] | undefined;
  if (hasAttr(node, 'output_shape')) {
    const os = attrInts(node, 'output_shape');
    // ONNX allows output_shape to carry N and C too; the spatial part is its tail.
    target = os.slice(os.length - r);
    if (target.length !== r) throw shapeError(node, `output_shape ${shapeToString(os)} does not give ${r} spatial sizes`);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    target = inSpatial.map((n, i) => n * strides[i]!);
  }
  let padsBegin: number[], padsEnd: number[];
  if (target) {
    padsBegin = new Array<number>(r);
    padsEnd = new Array<number>(r);
    for (let i = 0; i < r; i++) {
      // A negative total (output_shape past the unpadded size) gives a negative
      // pad: the extra output cells receive no taps, only the bias (ONNX reference).
      const total = full[i]! - target[i]!;
      const half = Math.floor(total / 2);
      if (autoPad === 'SAME_UPPER') { padsBegin[i] = half; padsEnd[i] = total - half; }
      else { padsBegin[i] = total - half; padsEnd[i] = half; }
    }
  } else if (autoPad === 'VALID') {
    padsBegin = new Array<number>(r).fill(0);
    padsEnd = new Array<number>(r).fill(0);
  } else {
    [padsBegin, padsEnd] = explicitPads(node, r);
  }
  const out = full.map((f, i) => f - padsBegin[i]! - padsEnd[i]!);
  if (out.some((o) => o < 1)) throw shapeError(node, `the pads leave an empty output ${shapeToString(out)}`);
  return { kernel: [...kernel], strides, dilations, padsBegin, padsEnd, out, outputPadding };
}

function requireFloat(ctx: InferContext, info: ValueInfo, what: string): DType {
  if (!isFloat(info.dtype) && info.dtype !== 'int8' && info.dtype !== 'uint8' && !(info.dtype === 'int16' && info.quant)) {
    throw new CloudlessError('E_DTYPE', `node ${ctx.node.name} (${ctx.node.op}): ${what} has dtype ${info.dtype}, expected a float (or quantized int8 or int16) tensor`, { node: ctx.node.name });
  }
  return info.dtype;
}

function spatialInput(ctx: InferContext, what = 'X'): ValueInfo {
  const x = requireInput(ctx, 0);
  if (x.shape.length < 3 || x.shape.length > 5) {
    throw shapeError(ctx.node, `${what} must be [N, ...spatial, C] with 1 to 3 spatial axes, got ${shapeToString(x.shape)}`);
  }
  requireFloat(ctx, x, what);
  return x;
}

function checkBias(ctx: InferContext, index: number, channels: number): void {
  const b = ctx.inputs[index];
  if (b && (b.shape.length !== 1 || b.shape[0] !== channels)) {
    throw shapeError(ctx.node, `bias (input ${index}) must be [${channels}], got ${shapeToString(b.shape)}`);
  }
}

function checkKernelShapeAttr(node: Node, kernel: readonly number[]): void {
  if (!hasAttr(node, 'kernel_shape')) return;
  const ks = attrInts(node, 'kernel_shape');
  if (ks.length !== kernel.length || ks.some((k, i) => k !== kernel[i])) {
    throw shapeError(node, `kernel_shape ${shapeToString(ks)} does not match the weight's spatial shape ${shapeToString(kernel)}`);
  }
}

/** An optional input that is present and not empty (ONNX marks "absent" both ways). */
export function presentInput(inputs: readonly (ValueInfo | undefined)[], i: number): ValueInfo | undefined {
  const v = inputs[i];
  return v && sizeOf(v.shape) > 0 ? v : undefined;
}

/** Integer values of a shape-like tensor (int32 or int64). */
export function integerValues(node: Node, t: Tensor, what: string): number[] {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') {
    throw new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${what} must be int64 or int32, got ${t.dtype}`, { node: node.name });
  }
  return t.toNumbers();
}

// ---------------------------------------------------------------------------
// Convolutions
// ---------------------------------------------------------------------------

/**
 * The output of Conv, DepthwiseConv or ConvTranspose once their weight layouts
 * are checked: all take the kernel size from W's spatial axes and an optional
 * bias of `channels`; `geometry` gives the output's spatial sizes.
 */
function convOutput(
  ctx: InferContext, x: ValueInfo, w: ValueInfo, channels: number,
  geometry: (node: Node, inSpatial: readonly number[], kernel: readonly number[]) => { out: number[] } = windowGeometry,
): ValueInfo[] {
  const r = x.shape.length - 2;
  checkBias(ctx, 2, channels);
  const kernel = w.shape.slice(1, r + 1);
  checkKernelShapeAttr(ctx.node, kernel);
  activationRange(ctx.node);
  const g = geometry(ctx.node, x.shape.slice(1, r + 1), kernel);
  return [{ dtype: x.dtype, shape: [x.shape[0]!, ...g.out, channels] }];
}

const conv: OpSchema = {
  op: 'Conv',
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = spatialInput(ctx);
    const w = requireInput(ctx, 1);
    const r = x.shape.length - 2;
    if (w.shape.length !== r + 2) throw shapeError(ctx.node, `weight must be OHWI [Cout, ...kernel, Cin/group] with ${r} spatial axes, got ${shapeToString(w.shape)}`);
    const group = attrInt(ctx.node, 'group', 1);
    const cin = x.shape[r + 1]!;
    const cout = w.shape[0]!;
    if (group < 1 || cin % group !== 0 || cout % group !== 0) {
      throw shapeError(ctx.node, `group ${group} must divide the input channels (${cin}) and the output channels (${cout})`);
    }
    if (w.shape[r + 1]! * group !== cin) {
      throw shapeError(ctx.node, `input X has ${cin} channels but weight ${shapeToString(w.shape)} expects ${w.shape[r + 1]! * group} (Cin/group = ${w.shape[r + 1]}, group = ${group})`);
    }
    return convOutput(ctx, x, w, cout);
  },
};

const depthwiseConv: OpSchema = {
  op: 'DepthwiseConv',
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = spatialInput(ctx);
    const w = requireInput(ctx, 1);
    const r = x.shape.length - 2;
    if (w.shape.length !== r + 2 || w.shape[0] !== 1) throw shapeError(ctx.node, `weight must be 1HWO [1, ...kernel, C*M] with ${r} spatial axes, got ${shapeToString(w.shape)}`);
    const c = x.shape[r + 1]!;
    const cm = w.shape[r + 1]!;
    if (c === 0 || cm % c !== 0) {
      throw shapeError(ctx.node, `weight's ${cm} output channels are not a multiple of the input X's ${c} channels (depth multiplier must be whole)`);
    }
    return convOutput(ctx, x, w, cm);
  },
};

const convTranspose: OpSchema = {
  op: 'ConvTranspose',
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = spatialInput(ctx);
    const w = requireInput(ctx, 1);
    const r = x.shape.length - 2;
    if (w.shape.length !== r + 2) throw shapeError(ctx.node, `weight must be IHWO [Cin, ...kernel, Cout/group] with ${r} spatial axes, got ${shapeToString(w.shape)}`);
    const group = attrInt(ctx.node, 'group', 1);
    const cin = x.shape[r + 1]!;
    if (group < 1 || cin % group !== 0) throw shapeError(ctx.node, `group ${group} must divide the input channels (${cin})`);
    if (w.shape[0] !== cin) throw shapeError(ctx.node, `input X has ${cin} channels but weight ${shapeToString(w.shape)} expects ${w.shape[0]}`);
    return convOutput(ctx, x, w, w.shape[r + 1]! * group, convTransposeGeometry);
  },
};

const fullyConnected: OpSchema = {
  op: 'FullyConnected',
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const w = requireInput(ctx, 1);
    requireFloat(ctx, x, 'X');
    if (w.shape.length !== 2) throw shapeError(ctx.node, `weight must be [O, K], got ${shapeToString(w.shape)}`);
    const [o, k] = w.shape as [number, number];
    const n = sizeOf(x.shape);
    if (k === 0 || x.shape.length === 0 || n % k !== 0) throw shapeError(ctx.node, `input X ${shapeToString(x.shape)} cannot be read as rows of K = ${k} (weight ${shapeToString(w.shape)})`);
    checkBias(ctx, 2, o);
    activationRange(ctx.node);
    const keep = attrInt(ctx.node, 'keep_num_dims', 0) !== 0;
    if (keep && x.shape[x.shape.length - 1] !== k) {
      throw shapeError(ctx.node, `keep_num_dims needs X's last axis (${x.shape[x.shape.length - 1]}) to equal K = ${k}`);
    }
    return [{ dtype: x.dtype, shape: keep ? [...x.shape.slice(0, -1), o] : [n / k, o] }];
  },
};

// ---------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------

const gemm: OpSchema = {
  op: 'Gemm',
  inputs: [2, 3],
  outputs: [1, 1],
  infer(ctx) {
    const a = requireInput(ctx, 0);
    const b = requireInput(ctx, 1);
    requireFloat(ctx, a, 'A');
    if (a.shape.length !== 2 || b.shape.length !== 2) throw shapeError(ctx.node, `A and B must be matrices, got ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`);
    const ta = attrInt(ctx.node, 'transA', 0) !== 0;
    const tb = attrInt(ctx.node, 'transB', 0) !== 0;
    const m = ta ? a.shape[1]! : a.shape[0]!;
    const k = ta ? a.shape[0]! : a.shape[1]!;
    const kb = tb ? b.shape[1]! : b.shape[0]!;
    const n = tb ? b.shape[0]! : b.shape[1]!;
    if (k !== kb) throw shapeError(ctx.node, `inner dimensions differ: A gives K = ${k}, B gives K = ${kb} (transA=${+ta}, transB=${+tb})`);
    const c = presentInput(ctx.inputs, 2);
    if (c) {
      const bc = broadcastShapes(c.shape, [m, n], `node ${ctx.node.name} (Gemm) bias C`);
      if (bc.length !== 2 || bc[0] !== m || bc[1] !== n) throw shapeError(ctx.node, `C ${shapeToString(c.shape)} does not broadcast to [${m}, ${n}]`);
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
};

/** numpy matmul's output shape (1-D operands promoted, batch axes broadcast). */
export function matmulShape(node: Node, a: readonly number[], b: readonly number[]): number[] {
  if (a.length === 0 || b.length === 0) throw shapeError(node, 'MatMul operands must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k = a2[a2.length - 1]!;
  if (b2[b2.length - 2] !== k) throw shapeError(node, `inner dimensions differ: A ${shapeToString(a)} and B ${shapeToString(b)}`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2), `node ${node.name} (MatMul) batch axes`);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

const matmul: OpSchema = {
  op: 'MatMul',
  inputs: [2, 2],
  outputs: [1, 1],
  infer(ctx) {
    const a = requireInput(ctx, 0);
    const b = requireInput(ctx, 1);
    if (a.dtype !== b.dtype) throw new CloudlessError('E_DTYPE', `node ${ctx.node.name} (MatMul): A is ${a.dtype} but B is ${b.dtype}`, { node: ctx.node.name });
    return [{ dtype: a.dtype, shape: matmulShape(ctx.node, a.shape, b.shape) }];
  },
};

// ---------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------

function poolSchema(op: 'MaxPool' | 'AveragePool'): OpSchema {
  return {
    op,
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = spatialInput(ctx);
      const r = x.shape.length - 2;
      if (!hasAttr(ctx.node, 'kernel_shape')) throw new CloudlessError('E_ATTR', `node ${ctx.node.name} (${op}): attribute kernel_shape is required`, { node: ctx.node.name });
      const kernel = attrInts(ctx.node, 'kernel_shape');
      if (kernel.length !== r) throw shapeError(ctx.node, `kernel_shape ${shapeToString(kernel)} does not have one size per spatial axis of X ${shapeToString(x.shape)}`);
      if (kernel.some((k) => k < 1)) throw shapeError(ctx.node, `kernel_shape ${shapeToString(kernel)} must be positive`);
      activationRange(ctx.node);
      const g = windowGeometry(ctx.node, x.shape.slice(1, r + 1), kernel, attrInt(ctx.node, 'ceil_mode', 0) !== 0);
      return [{ dtype: x.dtype, shape: [x.shape[0]!, ...g.out, x.shape[r + 1]!] }];
    },
  };
}

// ---------------------------------------------------------------------------
// Normalizations
// ---------------------------------------------------------------------------

function checkChannelVectors(ctx: InferContext, first: number, last: number, channels: number): void {
  for (let i = first; i <= last; i++) {
    const v = requireInput(ctx, i);
    if (sizeOf(v.shape) !== channels || v.shape.length !== 1) {
      throw shapeError(ctx.node, `input ${i} must be [${channels}] (one value per channel of X), got ${shapeToString(v.shape)}`);
    }
  }
}

const batchNormalization: OpSchema = {
  op: 'BatchNormalization',
  inputs: [5, 5],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    requireFloat(ctx, x, 'X');
    if (x.shape.length < 1) throw shapeError(ctx.node, 'X must have a channel axis');
    checkChannelVectors(ctx, 1, 4, x.shape[x.shape.length - 1]!);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

const instanceNormalization: OpSchema = {
  op: 'InstanceNormalization',
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    requireFloat(ctx, x, 'X');
    if (x.shape.length < 3) throw shapeError(ctx.node, `X must be [N, ...spatial, C], got ${shapeToString(x.shape)}`);
    checkChannelVectors(ctx, 1, 2, x.shape[x.shape.length - 1]!);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

const layerNormalization: OpSchema = {
  op: 'LayerNormalization',
  inputs: [2, 3],
  outputs: [1, 3],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    requireFloat(ctx, x, 'X');
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', -1), x.shape.length, `node ${ctx.node.name} (LayerNormalization) axis`);
    const normShape = x.shape.slice(axis);
    for (const i of [1, 2]) {
      const v = i === 1 ? requireInput(ctx, 1) : presentInput(ctx.inputs, 2);
      if (!v) continue;
      const bad = v.shape.length > normShape.length ||
        v.shape.some((d, j) => d !== 1 && d !== normShape[normShape.length - v.shape.length + j]);
      if (bad) throw shapeError(ctx.node, `${i === 1 ? 'Scale' : 'B'} ${shapeToString(v.shape)} does not broadcast to the normalized shape ${shapeToString(normShape)}`);
    }
    // Mean and InvStdDev keep the leading axes and have 1 on the normalized ones.
    const statShape = [...x.shape.slice(0, axis), ...normShape.map(() => 1)];
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: x.dtype, shape: statShape },
      { dtype: x.dtype, shape: statShape },
    ].slice(0, Math.max(1, ctx.node.outputs.length));
  },
};

// ---------------------------------------------------------------------------
// Resize
// ---------------------------------------------------------------------------

/** Resize's sizes and scales resolved to every axis of X. */
export interface ResizePlan {
  outShape: number[];
  /** The scale each axis's coordinate transform uses (out / in unless given). */
  scales: number[];
  /** Per axis [start, end] of the region of interest, in normalized coordinates. */
  roi: [number, number][];
}

/** Resolves Resize's output shape and per-axis scales from scales/sizes/roi and axes. */
export function resizePlan(ctx: InferContext): ResizePlan {
  const node = ctx.node;
  const x = requireInput(ctx, 0);
  const rank = x.shape.length;
  const axes = hasAttr(node, 'axes')
    ? attrInts(node, 'axes').map((a) => normalizeAxis(a, rank, `node ${node.name} (Resize) axes`))
    : x.shape.map((_, i) => i);
  if (new Set(axes).size !== axes.length) throw shapeError(node, `axes ${shapeToString(axes)} repeat an axis`);
  const mode = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  const roi: [number, number][] = x.shape.map(() => [0, 1]);
  if (mode === 'tf_crop_and_resize') {
    if (!presentInput(ctx.inputs, 1)) throw shapeError(node, 'coordinate_transformation_mode tf_crop_and_resize needs the roi input');
    const r = ctx.value(1).toNumbers();
    if (r.length !== 2 * axes.length) throw shapeError(node, `roi has ${r.length} values, expected ${2 * axes.length} (starts then ends of the resized axes)`);
    axes.forEach((a, i) => { roi[a] = [r[i]!, r[i + axes.length]!]; });
  }
  const hasScales = presentInput(ctx.inputs, 2) !== undefined;
  const hasSizes = presentInput(ctx.inputs, 3) !== undefined;
  if (hasScales === hasSizes) throw shapeError(node, 'exactly one of scales (input 2) and sizes (input 3) must be given');
  const outShape = [...x.shape];
  const scales = x.shape.map(() => 1);
  if (hasScales) {
    const s = ctx.value(2).toNumbers();
    if (s.length !== axes.length) throw shapeError(node, `scales has ${s.length} values, expected ${axes.length}`);
    axes.forEach((a, i) => {
      const sc = s[i]!;
      if (!(sc > 0)) throw shapeError(node, `scale ${sc} on axis ${a} must be positive`);
      scales[a] = sc;
      outShape[a] = Math.floor(x.shape[a]! * (roi[a]![1] - roi[a]![0]) * sc);
    });
  } else {
    const sz = integerValues(node, ctx.value(3), 'sizes');
    if (sz.length !== axes.length) throw shapeError(node, `sizes has ${sz.length} values, expected ${axes.length}`);
    if (sz.some((v) => v < 1)) throw shapeError(node, `sizes ${shapeToString(sz)} must be positive`);
    const policy = attrString(node, 'keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((a, i) => { outShape[a] = sz[i]!; scales[a] = sz[i]! / x.shape[a]!; });
    } else if (policy === 'not_larger' || policy === 'not_smaller') {
      const ratios = axes.map((a, i) => sz[i]! / x.shape[a]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => { scales[a] = s; outShape[a] = Math.round(s * x.shape[a]!); });
    } else {
      throw new CloudlessError('E_ATTR', `node ${node.name} (Resize): keep_aspect_ratio_policy "${policy}" is not one of stretch, not_larger, not_smaller`, { node: node.name });
    }
  }
  return { outShape, scales, roi };
}

const resize: OpSchema = {
  op: 'Resize',
  inputs: [1, 4],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    return [{ dtype: x.dtype, shape: resizePlan(ctx).outShape }];
  },
};

// ---------------------------------------------------------------------------
// Pad
// ---------------------------------------------------------------------------

/** Pad's begin/end amounts for every axis of data (negative amounts crop). */
export function padAmounts(node: Node, rank: number, pads: readonly number[], axesIn: readonly number[] | undefined): [number[], number[]] {
  const axes = axesIn ? axesIn.map((a) => normalizeAxis(a, rank, `node ${node.name} (Pad) axes`)) : Array.from({ length: rank }, (_, i) => i);
  if (pads.length !== 2 * axes.length) throw shapeError(node, `pads has ${pads.length} values, expected ${2 * axes.length} (begins then ends)`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  axes.forEach((a, i) => { begin[a] = pads[i]!; end[a] = pads[i + axes.length]!; });
  return [begin, end];
}

const pad: OpSchema = {
  op: 'Pad',
  inputs: [2, 4],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const mode = attrString(ctx.node, 'mode', 'constant');
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) {
      throw new CloudlessError('E_ATTR', `node ${ctx.node.name} (Pad): mode "${mode}" is not one of constant, reflect, edge, wrap`, { node: ctx.node.name });
    }
    const pads = integerValues(ctx.node, ctx.value(1), 'pads');
    const axes = presentInput(ctx.inputs, 3) ? integerValues(ctx.node, ctx.value(3), 'axes') : undefined;
    const [begin, end] = padAmounts(ctx.node, x.shape.length, pads, axes);
    const out = x.shape.map((d, i) => d + begin[i]! + end[i]!);
    if (out.some((d) => d < 0)) throw shapeError(ctx.node, `pads ${shapeToString(pads)} crop more than X ${shapeToString(x.shape)} holds`);
    if (mode !== 'constant') {
      x.shape.forEach((d, i) => {
        if (d === 0 && out[i]! > 0) throw shapeError(ctx.node, `mode ${mode} cannot pad the empty axis ${i}`);
      });
    }
    return [{ dtype: x.dtype, shape: out }];
  },
};

// ---------------------------------------------------------------------------
// Depth / space shuffles
// ---------------------------------------------------------------------------

function blocksize(ctx: InferContext): number {
  const b = attrInt(ctx.node, 'blocksize');
  if (b < 1) throw new CloudlessError('E_ATTR', `node ${ctx.node.name} (${ctx.node.op}): blocksize must be >= 1, got ${b}`, { node: ctx.node.name });
  return b;
}

const depthToSpace: OpSchema = {
  op: 'DepthToSpace',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    if (x.shape.length !== 4) throw shapeError(ctx.node, `X must be [N, H, W, C], got ${shapeToString(x.shape)}`);
    const b = blocksize(ctx);
    const mode = attrString(ctx.node, 'mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw new CloudlessError('E_ATTR', `node ${ctx.node.name} (DepthToSpace): mode "${mode}" is not DCR or CRD`, { node: ctx.node.name });
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (c % (b * b) !== 0) throw shapeError(ctx.node, `X's ${c} channels are not a multiple of blocksize² = ${b * b}`);
    return [{ dtype: x.dtype, shape: [n, h * b, w * b, c / (b * b)] }];
  },
};

const spaceToDepth: OpSchema = {
  op: 'SpaceToDepth',
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    if (x.shape.length !== 4) throw shapeError(ctx.node, `X must be [N, H, W, C], got ${shapeToString(x.shape)}`);
    const b = blocksize(ctx);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (h % b !== 0 || w % b !== 0) throw shapeError(ctx.node, `X's height ${h} and width ${w} must be multiples of blocksize ${b}`);
    return [{ dtype: x.dtype, shape: [n, h / b, w / b, c * b * b] }];
  },
};

export const nnSchemas: readonly OpSchema[] = [
  conv, depthwiseConv, convTranspose, fullyConnected,
  gemm, matmul,
  poolSchema('MaxPool'), poolSchema('AveragePool'),
  batchNormalization, instanceNormalization, layerNormalization,
  resize, pad, depthToSpace, spaceToDepth,
];

/** Epsilon attribute with ONNX's default. */
export function epsilonOf(node: Node): number {
  return attrFloat(node, 'epsilon', 1e-5);
}

/**
 * ONNX ops onto the canonical op set (docs/ops.md).
 *
 * Rule 1: layout-free ops take their latest ONNX form: attributes that older
 * opsets had (Reshape's shape, Slice's starts/ends, Clip's min/max, ...) become
 * constant inputs, enums become DType strings.
 *
 * Rule 2: layout-sensitive ops (Conv, pools, normalizations, DepthToSpace, ...)
 * run channels-last: each is wrapped in Transpose(NC* → N*C) ... Transpose(N*C →
 * NC*) and its constant weights are pre-transposed (OHWI, 1HWO, IHWO). The
 * wrappers of neighbouring ops cancel in passes/layout.ts.
 *
 * Ops we do not know pass through unchanged (named `domain.op_type` outside the
 * default domain) so that `cloudless info` lists them and a Session refuses them
 * by name.
 */
import {
  CloudlessError, Tensor, channelsFirstPerm, channelsLastPerm,
  type DType, type Dim, type Graph, type Node, type Value,
} from '../../ir/index.js';
import { captureOuterValues } from '../../ir/ops/control.js';
import { transposeTensor } from '../../ir/tensor-ops.js';

export interface MapContext {
  graph: Graph;
  file: string;
  /** Opset of the default ONNX domain. */
  opset: number;
  /** Whether a value is read by some node or is a graph output. */
  isUsed(name: string): boolean;
  /** Every value name of the model, so that new names do not clash with unnamed intermediates. */
  names: Set<string>;
  /** Ranks of values whose type the model does not declare, inferred as nodes are mapped. */
  ranks: Map<string, number>;
  /** Pre-transposed weights by `${name}|${perm}`, so a weight shared by two convs is transposed once. */
  transposed: Map<string, string>;
}

export function createMapContext(graph: Graph, file: string, opset: number, names: Set<string>, used: Set<string>): MapContext {
  return { graph, file, opset, names, isUsed: (n) => n !== '' && used.has(n), ranks: new Map(), transposed: new Map() };
}

function fail(ctx: MapContext, node: Node, code: 'E_UNSUPPORTED' | 'E_ATTR', message: string, hint?: string): never {
  throw new CloudlessError(code, `${ctx.file}: node ${node.name} (${node.op}): ${message}`, { file: ctx.file, node: node.name, hint });
}

function freshName(ctx: MapContext, base: string): string {
  let name = base;
  for (let i = 1; ctx.names.has(name) || ctx.graph.values.has(name); i++) name = `${base}_${i}`;
  ctx.names.add(name);
  return name;
}

function addConstant(ctx: MapContext, base: string, t: Tensor): string {
  const name = freshName(ctx, base);
  ctx.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  return name;
}

/** An int64 constant from JS numbers, saturating at the int64 range (INT64_MAX arrives as 2^63 in a double). */
export function int64Const(values: readonly number[], shape: readonly number[] = [values.length]): Tensor {
  const t = new Tensor('int64', shape);
  const d = t.data as BigInt64Array;
  values.forEach((v, i) => {
    d[i] = v >= 2 ** 63 ? 0x7fffffffffffffffn : v <= -(2 ** 63) ? -0x8000000000000000n : BigInt(Math.trunc(v));
  });
  return t;
}

function rankOf(ctx: MapContext, name: string): number | undefined {
  const v = ctx.graph.values.get(name);
  if (v?.constant) return v.constant.rank;
  if (v?.shape) return v.shape.length;
  return ctx.ranks.get(name);
}

function valueNamed(ctx: MapContext, name: string): Value | undefined {
  return name ? ctx.graph.values.get(name) : undefined;
}

/** The dtype of a float parameter that older opsets gave as an attribute: that of the data it applies to. */
function floatTypeOf(ctx: MapContext, name: string): DType {
  return valueNamed(ctx, name)?.dtype === 'float64' ? 'float64' : 'float32';
}

/** Moves attribute `attr` into input `index` as a constant; returns whether the attribute was there. */
function attrToInput(ctx: MapContext, node: Node, attr: string, index: number, make: (v: unknown) => Tensor): boolean {
  const v = node.attrs[attr];
  if (v === undefined) return false;
  delete node.attrs[attr];
  while (node.inputs.length < index) node.inputs.push('');
  node.inputs[index] = addConstant(ctx, `${node.name}_${attr}`, make(v));
  return true;
}

function intsAttr(ctx: MapContext, node: Node, attr: string) {
  return (v: unknown): Tensor => {
    const list = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'number')) fail(ctx, node, 'E_ATTR', `attribute "${attr}" must be a list of integers`);
    return int64Const(list as number[]);
  };
}

function floatScalar(ctx: MapContext, node: Node, attr: string, dtype: DType) {
  return (v: unknown): Tensor => {
    if (typeof v !== 'number') fail(ctx, node, 'E_ATTR', `attribute "${attr}" must be a number`);
    return Tensor.scalar(dtype, v);
  };
}

function emit(ctx: MapContext, node: Node): void {
  ctx.graph.addNode(node);
}

/** A new intermediate value shaped like `like` seen through `perm` (so its dtype is known downstream). */
function permutedValue(ctx: MapContext, base: string, like: string, perm: readonly number[] | undefined): string {
  const name = freshName(ctx, base);
  const src = valueNamed(ctx, like);
  if (src) {
    const v: Value = { name, dtype: src.dtype };
    if (src.shape && perm && src.shape.length === perm.length) v.shape = perm.map((p) => src.shape![p]!);
    ctx.graph.setValue(v);
  }
  if (perm) ctx.ranks.set(name, perm.length);
  return name;
}

function emitTranspose(ctx: MapContext, name: string, input: string, output: string, perm: number[]): void {
  emit(ctx, { name, op: 'Transpose', inputs: [input], outputs: [output], attrs: { perm } });
}

/** Input `index` seen through `perm`: a pre-transposed constant, or a Transpose node for a runtime weight. */
function permuteInput(ctx: MapContext, node: Node, index: number, perm: number[], suffix: string): void {
  const name = node.inputs[index]!;
  const v = valueNamed(ctx, name);
  if (v?.constant) {
    if (v.constant.rank !== perm.length) {
      fail(ctx, node, 'E_UNSUPPORTED', `weight "${name}" has rank ${v.constant.rank}, expected ${perm.length}`);
    }
    const key = `${name}|${perm.join(',')}`;
    let out = ctx.transposed.get(key);
    if (!out) {
      out = addConstant(ctx, `${name}_${suffix}`, transposeTensor(v.constant, perm));
      ctx.transposed.set(key, out);
    }
    node.inputs[index] = out;
    return;
  }
  const out = permutedValue(ctx, `${name}_${suffix}`, name, perm);
  emitTranspose(ctx, `${node.name}_${suffix}`, name, out, perm);
  node.inputs[index] = out;
}

/**
 * The rank of a layout-sensitive node's data input: declared, inferred, or
 * told by its weight or kernel_shape. Without it the transposes cannot be built.
 */
function layoutRank(ctx: MapContext, node: Node): number {
  const r = rankOf(ctx, node.inputs[0]!);
  if (r !== undefined) return r;
  if (node.op === 'Conv' || node.op === 'ConvTranspose') {
    const w = rankOf(ctx, node.inputs[1] ?? '');
    if (w !== undefined) return w;
  }
  const k = node.attrs['kernel_shape'];
  if (Array.isArray(k)) return k.length + 2;
  if (node.op === 'DepthToSpace' || node.op === 'SpaceToDepth') return 4;
  return fail(ctx, node, 'E_UNSUPPORTED', `cannot tell the rank of input "${node.inputs[0]}", needed to move its channels last`,
    'declare the input shape in the model (graph input or value_info)');
}

/** Emits `node` in channels-last form between a Transpose to N*C and one back to NC*. */
function wrapChannelsLast(ctx: MapContext, node: Node, rank: number): void {
  if (rank < 3) fail(ctx, node, 'E_UNSUPPORTED', `input of rank ${rank} has no spatial axes; rank 3 to 5 is supported`);
  const toLast = channelsLastPerm(rank);
  const toFirst = channelsFirstPerm(rank);
  const x = node.inputs[0]!;
  // Nodes that read one input (the real and imaginary STFT convolutions of a
  // spectrogram) share one transpose of it.
  const key = `runtime:${x}|${toLast.join(',')}`;
  let xT = ctx.transposed.get(key);
  if (!xT) {
    xT = permutedValue(ctx, `${x}_nhwc`, x, toLast);
    emitTranspose(ctx, `${node.name}_to_nhwc`, x, xT, toLast);
    ctx.transposed.set(key, xT);
  }
  node.inputs[0] = xT;
  const y = node.outputs[0]!;
  const yT = freshName(ctx, `${y}_nhwc`);
  ctx.ranks.set(yT, rank);
  const yv = valueNamed(ctx, y);
  if (yv) ctx.graph.setValue({ name: yT, dtype: yv.dtype, ...(yv.shape && yv.shape.length === rank ? { shape: toLast.map((p) => yv.shape![p]!) } : {}) });
  else if (valueNamed(ctx, x)) ctx.graph.setValue({ name: yT, dtype: valueNamed(ctx, x)!.dtype });
  node.outputs[0] = yT;
  emit(ctx, node);
  emitTranspose(ctx, `${node.name}_to_nchw`, yT, y, toFirst);
}

/** Drops optional outputs nobody reads; refuses the node when one that is read has no canonical form. */
function dropUnusedOutputs(ctx: MapContext, node: Node, keep: number, what: string): void {
  for (let i = keep; i < node.outputs.length; i++) {
    if (ctx.isUsed(node.outputs[i]!)) fail(ctx, node, 'E_UNSUPPORTED', `output ${i} ("${node.outputs[i]}") is used, but cloudless computes only ${what}`);
  }
  node.outputs.length = Math.min(node.outputs.length, keep);
}

/**
 * The shape of a weight: its constant's or declared one, or, for a QDQ model's
 * DequantizeLinear of an int8 initializer (whose output the model seldom
 * declares), that initializer's.
 */
function weightShape(ctx: MapContext, name: string): readonly Dim[] | undefined {
  const w = valueNamed(ctx, name);
  const shape = w?.constant?.shape ?? w?.shape;
  if (shape) return shape;
  const dq = ctx.graph.nodes.find((n) => n.op === 'DequantizeLinear' && n.outputs[0] === name);
  return dq ? valueNamed(ctx, dq.inputs[0] ?? '')?.constant?.shape : undefined;
}

function mapConv(ctx: MapContext, node: Node): void {
  const rank = layoutRank(ctx, node);
  delete node.attrs['kernel_shape'];
  const group = typeof node.attrs['group'] === 'number' ? node.attrs['group'] : 1;
  const wShape = weightShape(ctx, node.inputs[1] ?? '');
  // ONNX W is [Cout, Cin/group, *K]. With one input channel per group and group > 1
  // the conv is depthwise: TFLite's 1HWO layout keeps output channel c*M+m on input channel c, as ONNX does.
  if (node.op === 'Conv' && group > 1 && wShape?.[1] === 1) {
    node.op = 'DepthwiseConv';
    delete node.attrs['group'];
    permuteInput(ctx, node, 1, [1, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 0], '1hwo');
  } else {
    permuteInput(ctx, node, 1, channelsLastPerm(rank), node.op === 'Conv' ? 'ohwi' : 'ihwo');
  }
  wrapChannelsLast(ctx, node, rank);
}

function mapPool(ctx: MapContext, node: Node): void {
  if (node.op === 'MaxPool' && node.outputs.length > 1 && ctx.isUsed(node.outputs[1]!)) {
    // The indices of a max pool are NCHW flat offsets: no canonical op computes them.
    emit(ctx, { ...node, op: 'MaxPoolWithIndices' });
    return;
  }
  node.outputs.length = 1;
  delete node.attrs['storage_order'];
  wrapChannelsLast(ctx, node, layoutRank(ctx, node));
}

function mapBatchNorm(ctx: MapContext, node: Node): void {
  const a = node.attrs;
  if (a['spatial'] === 0) fail(ctx, node, 'E_UNSUPPORTED', 'spatial=0 (per-activation statistics) is not supported');
  if (a['training_mode'] === 1 || (a['is_test'] === 0 && ctx.opset < 7 && node.outputs.length > 1)) {
    fail(ctx, node, 'E_UNSUPPORTED', 'training mode is not supported', 'export the model in inference mode (model.eval())');
  }
  for (const k of ['spatial', 'is_test', 'consumed_inputs', 'momentum', 'training_mode']) delete a[k];
  dropUnusedOutputs(ctx, node, 1, 'the normalized output');
  wrapChannelsLast(ctx, node, layoutRank(ctx, node));
}

function mapGlobalPool(ctx: MapContext, node: Node): void {
  const rank = layoutRank(ctx, node);
  node.op = node.op === 'GlobalAveragePool' ? 'ReduceMean' : 'ReduceMax';
  node.attrs = { keepdims: 1 };
  node.inputs = [node.inputs[0]!, addConstant(ctx, `${node.name}_axes`, int64Const(Array.from({ length: rank - 2 }, (_, i) => i + 1)))];
  wrapChannelsLast(ctx, node, rank);
}

/** Softmax-like ops before opset 13 flatten to 2-D at `axis`; the canonical op works on one axis. */
function mapSoftmaxFamily(ctx: MapContext, node: Node): void {
  if (ctx.opset >= 13) { emit(ctx, node); return; }
  const axis = typeof node.attrs['axis'] === 'number' ? node.attrs['axis'] : 1;
  const rank = rankOf(ctx, node.inputs[0]!);
  if (axis === -1 || (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1)) {
    emit(ctx, { ...node, attrs: { ...node.attrs, axis: -1 } });
    return;
  }
  const x = node.inputs[0]!, y = node.outputs[0]!;
  const shape = freshName(ctx, `${node.name}_shape`);
  ctx.graph.setValue({ name: shape, dtype: 'int64' });
  const flat = permutedValue(ctx, `${node.name}_2d`, x, undefined);
  const out2d = permutedValue(ctx, `${node.name}_out2d`, x, undefined);
  emit(ctx, { name: `${node.name}_shape`, op: 'Shape', inputs: [x], outputs: [shape], attrs: {} });
  emit(ctx, { name: `${node.name}_flatten`, op: 'Flatten', inputs: [x], outputs: [flat], attrs: { axis } });
  emit(ctx, { name: node.name, op: node.op, inputs: [flat], outputs: [out2d], attrs: { axis: -1 } });
  emit(ctx, { name: `${node.name}_reshape`, op: 'Reshape', inputs: [out2d, shape], outputs: [y], attrs: {} });
}

/** TensorProto.DataType → DType for Cast-like `to`/`dtype` attributes. */
function dtypeAttr(ctx: MapContext, node: Node, attr: string): void {
  const v = node.attrs[attr];
  if (typeof v !== 'number') return;
  const map: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };
  const dt = map[v];
  if (!dt) {
    fail(ctx, node, 'E_UNSUPPORTED', `attribute "${attr}" asks for ONNX data type ${v}, which cloudless has no dtype for`,
      'cloudless computes in float32, float64, int8, uint8, int16, int32, int64 and bool');
  }
  node.attrs[attr] = dt;
}

/** Before opset 7, binary ops broadcast B onto A from `axis` on; numpy broadcasting aligns trailing axes. */
function legacyBroadcast(ctx: MapContext, node: Node): void {
  const axis = node.attrs['axis'];
  const broadcast = node.attrs['broadcast'];
  delete node.attrs['axis'];
  delete node.attrs['broadcast'];
  if (broadcast !== 1 || typeof axis !== 'number') return;
  const ra = rankOf(ctx, node.inputs[0]!);
  const rb = rankOf(ctx, node.inputs[1]!);
  if (ra === undefined || rb === undefined) {
    fail(ctx, node, 'E_UNSUPPORTED', 'legacy broadcasting with "axis" needs the ranks of both inputs', 'declare the input shapes or convert the model to opset 7 or later');
  }
  const trailing = ra - (axis < 0 ? axis + ra : axis) - rb;
  if (trailing <= 0) return;
  const b = node.inputs[1]!;
  const bv = valueNamed(ctx, b);
  if (bv?.constant) {
    node.inputs[1] = addConstant(ctx, `${b}_aligned`, bv.constant.reshape([...bv.constant.shape, ...new Array<number>(trailing).fill(1)]));
    return;
  }
  const out = permutedValue(ctx, `${b}_aligned`, b, undefined);
  const axes = addConstant(ctx, `${node.name}_axes`, int64Const(Array.from({ length: trailing }, (_, i) => rb + i)));
  emit(ctx, { name: `${node.name}_align`, op: 'Unsqueeze', inputs: [b, axes], outputs: [out], attrs: {} });
  node.inputs[1] = out;
}

const LEGACY_BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less', 'PRelu']);
const REDUCE_OPS = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** Rewrites of layout-free ops from older opsets into their latest form (rule 1), in place. */
function mapRule1(ctx: MapContext, node: Node): void {
  const opset = ctx.opset;
  const op = node.op;
  delete node.attrs['consumed_inputs'];
  if (LEGACY_BROADCAST_OPS.has(op) && opset < 7) legacyBroadcast(ctx, node);
  if (op === 'Gemm' && opset < 7) delete node.attrs['broadcast'];
  if (op === 'Reshape' && opset < 5) attrToInput(ctx, node, 'shape', 1, intsAttr(ctx, node, 'shape'));
  if ((op === 'Squeeze' || op === 'Unsqueeze') && opset < 13) attrToInput(ctx, node, 'axes', 1, intsAttr(ctx, node, 'axes'));
  if (op === 'Split') {
    if (opset < 13) attrToInput(ctx, node, 'split', 1, intsAttr(ctx, node, 'split'));
    const hasSplit = (node.inputs[1] ?? '') !== '';
    if (opset < 18 && !hasSplit) node.attrs['num_outputs'] = node.outputs.length;
  }
  if (op === 'Slice' && opset < 10) {
    attrToInput(ctx, node, 'starts', 1, intsAttr(ctx, node, 'starts'));
    attrToInput(ctx, node, 'ends', 2, intsAttr(ctx, node, 'ends'));
    attrToInput(ctx, node, 'axes', 3, intsAttr(ctx, node, 'axes'));
  }
  if (op === 'Pad' && opset < 11) {
    if (node.attrs['paddings'] !== undefined) { node.attrs['pads'] = node.attrs['paddings']; delete node.attrs['paddings']; }
    if (!attrToInput(ctx, node, 'pads', 1, intsAttr(ctx, node, 'pads'))) fail(ctx, node, 'E_ATTR', 'attribute "pads" is required');
    attrToInput(ctx, node, 'value', 2, floatScalar(ctx, node, 'value', floatTypeOf(ctx, node.inputs[0]!)));
  }
  if ((op === 'ReduceSum' && opset < 13) || (REDUCE_OPS.has(op) && opset < 18)) attrToInput(ctx, node, 'axes', 1, intsAttr(ctx, node, 'axes'));
  if (op === 'Clip' && opset < 11) {
    const dt = floatTypeOf(ctx, node.inputs[0]!);
    attrToInput(ctx, node, 'min', 1, floatScalar(ctx, node, 'min', dt));
    attrToInput(ctx, node, 'max', 2, floatScalar(ctx, node, 'max', dt));
  }
  if (op === 'TopK' && opset < 10) {
    if (!attrToInput(ctx, node, 'k', 1, (v) => int64Const([v as number]))) fail(ctx, node, 'E_ATTR', 'attribute "k" is required');
  }
  if (op === 'Dropout') {
    delete node.attrs['is_test'];
    if (opset < 12) attrToInput(ctx, node, 'ratio', 1, floatScalar(ctx, node, 'ratio', 'float32'));
  }
  if (op === 'Cast') dtypeAttr(ctx, node, 'to');
  if (op === 'EyeLike' || op === 'RandomNormal' || op === 'RandomUniform' || op === 'RandomNormalLike' || op === 'RandomUniformLike' || op === 'Multinomial') {
    dtypeAttr(ctx, node, 'dtype');
  }
}

function mapUpsample(ctx: MapContext, node: Node): void {
  const attrs = node.attrs;
  const mode = typeof attrs['mode'] === 'string' ? attrs['mode'] : 'nearest';
  let scales = node.inputs[1] ?? '';
  if (!scales) {
    let list = attrs['scales'];
    if (list === undefined && typeof attrs['height_scale'] === 'number' && typeof attrs['width_scale'] === 'number') {
      list = [1, 1, attrs['height_scale'], attrs['width_scale']];
    }
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'number')) fail(ctx, node, 'E_ATTR', 'needs "scales"');
    scales = addConstant(ctx, `${node.name}_scales`, Tensor.fromNumbers('float32', [list.length], list as number[]));
  }
  resizeFromOpset10(ctx, node, scales, mode === 'bilinear' ? 'linear' : mode);
}

/** Resize-10 and Upsample scale from the corner: Resize-11's asymmetric coordinates with floor rounding. */
function resizeFromOpset10(ctx: MapContext, node: Node, scales: string, mode: string): void {
  emit(ctx, {
    name: node.name, op: 'Resize', inputs: [node.inputs[0]!, '', scales], outputs: [node.outputs[0]!],
    attrs: { mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
  });
}

const UNARY_ELEMENTWISE = [
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Gelu', 'Mish', 'Softplus', 'Softsign',
  'ThresholdedRelu', 'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Erf', 'Sign', 'Sin', 'Cos', 'Tan',
  'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Not', 'IsNaN', 'IsInf', 'Identity', 'Cast', 'CastLike', 'Clip',
  'Dropout', 'Shrink', 'QuantizeLinear', 'DequantizeLinear',
];
const RANK_PRESERVING = new Set([
  ...UNARY_ELEMENTWISE, 'Conv', 'ConvTranspose', 'QLinearConv', 'ConvInteger', 'MaxPool', 'AveragePool', 'LpPool', 'BatchNormalization', 'InstanceNormalization',
  'LayerNormalization', 'LRN', 'DepthToSpace', 'SpaceToDepth', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'Softmax',
  'LogSoftmax', 'Hardmax', 'Transpose', 'Resize', 'Upsample', 'Pad', 'Concat', 'Split', 'Slice', 'Tile', 'CumSum', 'TopK', 'Expand',
]);
const BROADCASTING = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'And', 'Or', 'Xor', 'Where', 'BitShift',
]);

function constInts(ctx: MapContext, name: string | undefined): number[] | undefined {
  const t = name ? valueNamed(ctx, name)?.constant : undefined;
  return t ? t.toNumbers() : undefined;
}

/** Output ranks of an ONNX node from its input ranks, for the ops common in conv nets; nothing when unknown. */
function inferRanks(ctx: MapContext, node: Node): void {
  const perm = node.attrs['perm'];
  const kernel = node.attrs['kernel_shape'];
  const r0 = rankOf(ctx, node.inputs[0] ?? '')
    ?? (node.op === 'Conv' || node.op === 'ConvTranspose' ? rankOf(ctx, node.inputs[1] ?? '') : undefined)
    ?? (Array.isArray(kernel) ? kernel.length + 2 : undefined)
    ?? (node.op === 'Transpose' && Array.isArray(perm) ? perm.length : undefined);
  const set = (i: number, r: number | undefined) => {
    const name = node.outputs[i];
    if (name && r !== undefined && !valueNamed(ctx, name)?.shape) ctx.ranks.set(name, r);
  };
  const op = node.op;
  if (RANK_PRESERVING.has(op)) {
    const outs = op === 'Split' || op === 'TopK' || op === 'MaxPool' ? node.outputs.length : 1;
    for (let i = 0; i < outs; i++) set(i, r0);
  } else if (BROADCASTING.has(op)) {
    const ranks = node.inputs.map((n) => rankOf(ctx, n));
    if (ranks.every((r) => r !== undefined)) set(0, Math.max(...(ranks as number[])));
  } else if (op === 'Flatten' || op === 'Gemm') {
    set(0, 2);
  } else if (op === 'Shape') {
    set(0, 1);
  } else if (op === 'MatMul') {
    const r1 = rankOf(ctx, node.inputs[1] ?? '');
    if (r0 !== undefined && r1 !== undefined && r0 >= 2 && r1 >= 2) set(0, Math.max(r0, r1));
  } else if (op === 'Reshape') {
    const shape = ctx.opset < 5 ? node.attrs['shape'] : constInts(ctx, node.inputs[1]);
    if (Array.isArray(shape)) set(0, shape.length);
  } else if (op === 'Unsqueeze' || op === 'Squeeze' || op.startsWith('Reduce') || op === 'ArgMax' || op === 'ArgMin') {
    const axesAttr = node.attrs['axes'];
    const axes = Array.isArray(axesAttr) ? axesAttr : constInts(ctx, node.inputs[1]);
    if (r0 === undefined) return;
    if (op === 'Unsqueeze') { if (axes) set(0, r0 + axes.length); return; }
    if (op === 'Squeeze') { if (axes) set(0, r0 - axes.length); return; }
    const keep = node.attrs['keepdims'] !== 0;
    if (keep) set(0, r0);
    else if (op === 'ArgMax' || op === 'ArgMin') set(0, r0 - 1);
    else if (axes) set(0, r0 - axes.length);
  }
}

/**
 * QLinearConv and ConvInteger are NCHW convs like Conv: wrapped channels-last with
 * the weight pre-transposed to OHWI. Per-channel weight scales and zero points
 * index the output channel, axis 0 in both layouts, so they stay as they are.
 */
function mapIntegerConv(ctx: MapContext, node: Node): void {
  const wIndex = node.op === 'QLinearConv' ? 3 : 1;
  const rank = rankOf(ctx, node.inputs[0]!) ?? rankOf(ctx, node.inputs[wIndex] ?? '') ?? layoutRank(ctx, node);
  delete node.attrs['kernel_shape'];
  permuteInput(ctx, node, wIndex, channelsLastPerm(rank), 'ohwi');
  wrapChannelsLast(ctx, node, rank);
}

/**
 * Bodies read outer values by name: those reads become trailing inputs (attr
 * `captures`), so ordering, lifetimes and folding see them. Scan before opset 9
 * had a batch axis and sequence lengths, a form the canonical Scan does not
 * take: it keeps a name of its own, which a Session refuses as an unknown op.
 */
function mapControlFlow(ctx: MapContext, node: Node): void {
  captureOuterValues(node);
  if (node.op === 'Scan' && ctx.opset < 9) node.op = 'ScanBatchedOpset8';
  emit(ctx, node);
}

/** Maps one ONNX node (op = op_type, or `domain.op_type`) onto canonical nodes appended to ctx.graph. */
export function mapOnnxNode(ctx: MapContext, node: Node): void {
  inferRanks(ctx, node);
  mapRule1(ctx, node);
  switch (node.op) {
    case 'Conv': case 'ConvTranspose': mapConv(ctx, node); return;
    case 'MaxPool': case 'AveragePool': mapPool(ctx, node); return;
    case 'BatchNormalization': mapBatchNorm(ctx, node); return;
    case 'InstanceNormalization': case 'DepthToSpace': case 'SpaceToDepth':
      wrapChannelsLast(ctx, node, layoutRank(ctx, node));
      return;
    case 'GlobalAveragePool': case 'GlobalMaxPool': mapGlobalPool(ctx, node); return;
    case 'Softmax': case 'LogSoftmax': case 'Hardmax': mapSoftmaxFamily(ctx, node); return;
    case 'Upsample': mapUpsample(ctx, node); return;
    case 'If': case 'Loop': case 'Scan': mapControlFlow(ctx, node); return;
    case 'QLinearConv': case 'ConvInteger': mapIntegerConv(ctx, node); return;
    case 'Resize':
      if (ctx.opset < 11) { resizeFromOpset10(ctx, node, node.inputs[1] ?? '', typeof node.attrs['mode'] === 'string' ? node.attrs['mode'] : 'nearest'); return; }
      emit(ctx, node);
      return;
    case 'ai.onnx.ml.ZipMap': mapZipMap(ctx, node); return;
    default: emit(ctx, node);
  }
}

/**
 * ZipMap turns a [N, C] probability tensor into a sequence of N maps class → probability. cloudless
 * has no map type: the output stays the plain tensor (columns in class order), so ZipMap is an Identity.
 */
function mapZipMap(ctx: MapContext, node: Node): void {
  if (node.inputs.length !== 1 || node.outputs.length !== 1) fail(ctx, node, 'E_UNSUPPORTED', 'ZipMap takes one input and gives one output');
  emit(ctx, { name: node.name, op: 'Identity', inputs: [node.inputs[0]!], outputs: [node.outputs[0]!], attrs: {} });
}

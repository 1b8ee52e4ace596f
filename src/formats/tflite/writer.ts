import {
  CloudlessError, Tensor, attrFloat, staticInfos, staticShapeError, attrInt, attrInts, attrString, hasAttr,
  shapeToString, withContext,
  type DType, type Graph, type Node, type QuantParams, type ValueInfo,
} from '../../ir/index.js';
import { convTransposeGeometry, windowGeometry, epsilonOf, padAmounts, type WindowGeometry } from '../../ir/ops/nn.js';
import { transposeTensor } from '../../ir/tensor-ops.js';
import { resolveReduceAxes } from '../../ir/ops/reduce.js';
import { resolveSlice, transposePerm } from '../../ir/ops/shape-ops.js';
import { ActivationFunctionType, BUILTIN_CUSTOM, BUILTIN_OPERATOR_NAMES, BuiltinOptions, Padding, TensorType } from './schema.js';
import { serializeModel, type OperatorSpec, type OptionField, type TensorSpec } from './model-writer.js';
import { BINARY_BUILTINS, BUILTIN_OF_OP, FUSED_ACTIVATIONS, MoreOptions, REDUCE_BUILTINS, TENSOR_TYPES, clampBuiltin } from './ops.js';

/**
 * Canonical graph → .tflite, the inverse of import.ts. The graph must have
 * static shapes; they are inferred here with the op schemas (no kernels needed,
 * so int8 graphs can be written before their kernels exist). Each canonical op
 * becomes one TFLite builtin, or a short chain where TFLite lacks the form:
 * explicit pads that are neither SAME nor VALID become a PAD before the conv or
 * pool, BatchNormalization becomes MUL + ADD, Gemm with an untransposed constant
 * B gets its weights transposed here. Index-like operands (shapes, axes,
 * permutations, paddings) are written as int32 constants built from the
 * resolved static values, which is the form every TFLite kernel accepts.
 * The flatbuffer itself is laid out by model-writer.ts.
 */

export interface WriteTfliteOptions {
  /** Concrete shapes for graph inputs whose declared shape is symbolic or unknown. */
  inputShapes?: Record<string, number[]>;
  /** Model.description (default "cloudless"). */
  description?: string;
}

const BINARY_OF_OP = Object.fromEntries(BINARY_BUILTINS.map((b) => [b.op, b]));
const REDUCE_OF_OP = Object.fromEntries(REDUCE_BUILTINS.map((r) => [r.op, r.builtin]));
const ACTIVATION_CODES: Readonly<Record<string, number>> = FUSED_ACTIVATIONS;

/** Builtins TFLite runs on no int16 tensor (LiteRT.js 2.5.3 fails at invoke: "Only float32, uint8 and int8 are supported currently, got INT16"). */
const NO_INT16_KERNEL = new Set(['HARD_SWISH', 'RELU_N1_TO_1', 'RELU_0_TO_1']);

/**
 * Why TFLite could not run `op` with 16x8 (int16) activations, or undefined:
 * the builtin this writer writes it as has no int16 kernel. A Clip's builtin
 * depends on its bounds. The writer refuses such nodes in int16, and the
 * quantizer keeps them float.
 */
export function noTfliteInt16Kernel(op: string, lo = -Infinity, hi = Infinity): string | undefined {
  const builtin = op === 'Clip' ? clampBuiltin(lo, hi) : BUILTIN_OF_OP[op]?.builtin;
  return builtin && NO_INT16_KERNEL.has(builtin) ? `TFLite has no int16 ${builtin} kernel` : undefined;
}

/**
 * Operator versions for int8 kernels (TFLite's op_version.cc): a runtime picks
 * a registration by (builtin, version), and these are the first versions whose
 * kernels take int8 (per-channel for the convolutions).
 */
const INT8_VERSIONS: Record<string, number> = {
  CONV_2D: 3, DEPTHWISE_CONV_2D: 3, FULLY_CONNECTED: 4, ADD: 2, SUB: 2, MUL: 2, AVERAGE_POOL_2D: 2, MAX_POOL_2D: 2,
  SOFTMAX: 2, LOGISTIC: 2, TANH: 2, CONCATENATION: 2, PAD: 2, PADV2: 2, MEAN: 2, STRIDED_SLICE: 2, TRANSPOSE: 2,
  DEQUANTIZE: 2, RESIZE_BILINEAR: 2, RESIZE_NEAREST_NEIGHBOR: 2, RELU: 2, RELU6: 2, LEAKY_RELU: 2,
  MAXIMUM: 2, MINIMUM: 2, GATHER: 2, SPACE_TO_DEPTH: 2, DEPTH_TO_SPACE: 2, SPLIT_V: 2, BATCH_MATMUL: 2,
};

/**
 * Operator versions for 16x8 kernels (int16 activations, int8 weights; TFLite's
 * op_version.cc), used when the first input or the first output is int16 and
 * carries quantization parameters.
 */
const INT16_VERSIONS: Record<string, number> = {
  CONV_2D: 4, DEPTHWISE_CONV_2D: 5, FULLY_CONNECTED: 7, ADD: 3, SUB: 5, MUL: 4, AVERAGE_POOL_2D: 3, MAX_POOL_2D: 3,
  SOFTMAX: 3, LOGISTIC: 3, TANH: 3, CONCATENATION: 3, PAD: 3, PADV2: 3, MEAN: 3, TRANSPOSE: 5, QUANTIZE: 2,
  DEQUANTIZE: 3, RESIZE_BILINEAR: 4, RESIZE_NEAREST_NEIGHBOR: 4, RELU: 3, RELU6: 3, LEAKY_RELU: 2,
  MAXIMUM: 4, MINIMUM: 4, BATCH_MATMUL: 3,
};

/** Little-endian bytes of a tensor's data (the .tflite byte order). */
function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

class TfliteWriter {
  private readonly infos = new Map<string, ValueInfo>();
  private readonly tensors: TensorSpec[] = [];
  private readonly tensorIndex = new Map<string, number>();
  private readonly buffers: Uint8Array[] = [new Uint8Array(0)];
  private readonly opcodes: { builtin: number; custom?: string; version: number }[] = [];
  private readonly opcodeIndex = new Map<string, number>();
  private readonly operators: OperatorSpec[] = [];
  private readonly usedNames = new Set<string>();
  private readonly variables = new Set<string>();
  /** Nodes already written as part of another node's chain (e.g. the Cast that narrows TopK's indices). */
  private readonly absorbed = new Set<Node>();
  private node!: Node;

  constructor(private readonly graph: Graph, private readonly options: WriteTfliteOptions) {}

  write(): Uint8Array {
    this.inferShapes();
    for (const name of this.graph.inputs) this.tensorOf(name);
    for (const node of this.graph.nodes) {
      if (this.absorbed.has(node)) continue;
      this.node = node;
      try {
        this.convert(node);
      } catch (err) {
        if (err instanceof CloudlessError && err.node === node.name) throw err;
        throw withContext(err, `writing graph ${this.graph.name} as .tflite: node ${node.name} (${node.op})`, { node: node.name });
      }
    }
    for (const name of this.graph.outputs) this.tensorOf(name);
    return serializeModel({
      name: this.graph.name, description: this.options.description ?? 'cloudless',
      tensors: this.tensors, buffers: this.buffers, opcodes: this.opcodes, operators: this.operators,
      inputs: this.graph.inputs.map((n) => this.tensorIndex.get(n)!), outputs: this.graph.outputs.map((n) => this.tensorIndex.get(n)!),
    });
  }

  // ---- shapes -----------------------------------------------------------------------------------

  private inferShapes(): void {
    const g = this.graph;
    const needs = 'a .tflite file';
    const infos = staticInfos(g, {
      inputShapes: this.options.inputShapes,
      require: { needs, hint: 'pass inputShapes to writeTflite, e.g. { inputShapes: { input: [1, 224, 224, 3] } }' },
      declared: (name) => this.declaredInfo(name),
      onUnknown: (node, why) => {
        // Pass-through ops (tflite.*, custom.*) have no schema and keep their declared shapes (info() reads them).
        if (why.kind === 'no-schema') return undefined;
        if (why.kind === 'missing-input') throw staticShapeError(g, node, why, needs);
        // A schema may not know every dtype a TFLite kernel takes (e.g. int8 before its kernels
        // exist); the shapes a TFLite import declared are then the truth.
        const declared = node.outputs.map((o) => (o ? this.declaredInfo(o) : undefined));
        if (declared.every((d) => d !== undefined) && node.outputs.every((o) => o)) return declared as ValueInfo[];
        throw staticShapeError(g, node, why, needs);
      },
    });
    for (const [name, info] of infos) this.infos.set(name, info);
  }

  /** A value's declared info when its shape is static. */
  private declaredInfo(name: string): ValueInfo | undefined {
    const v = this.graph.values.get(name);
    if (!v?.shape || !v.shape.every((d) => typeof d === 'number')) return undefined;
    return { dtype: v.dtype, shape: v.shape as number[], quant: v.quant };
  }

  private info(name: string): ValueInfo {
    const known = this.infos.get(name);
    if (known) return known;
    const declared = this.declaredInfo(name);
    if (declared) {
      this.infos.set(name, declared);
      return declared;
    }
    throw new CloudlessError('E_SHAPE', `graph ${this.graph.name}: the shape of "${name}" is unknown; a .tflite file needs static shapes`, { node: this.node?.name });
  }

  private constantOf(name: string): Tensor | undefined {
    return name ? this.graph.values.get(name)?.constant : undefined;
  }

  // ---- tensors ----------------------------------------------------------------------------------

  private uniqueTensorName(base: string): string {
    let name = base;
    for (let k = 1; this.usedNames.has(name) || (name !== base && this.graph.values.has(name)); k++) name = `${base}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  /** The tensor index of a graph value, created on first use (with its data when constant). */
  private tensorOf(name: string): number {
    const known = this.tensorIndex.get(name);
    if (known !== undefined) return known;
    const info = this.info(name);
    const c = this.constantOf(name);
    const index = this.addTensor(name, info.dtype, info.shape, c, info.quant ?? c?.quant);
    if (this.variables.has(name)) this.tensors[index]!.isVariable = true;
    this.tensorIndex.set(name, index);
    return index;
  }

  private addTensor(base: string, dtype: DType, shape: readonly number[], data?: Tensor, quant?: QuantParams): number {
    const type = TENSOR_TYPES[dtype];
    let buffer = 0;
    if (data && data.size > 0) {
      buffer = this.buffers.length;
      this.buffers.push(tensorBytes(data));
    }
    this.tensors.push({ name: this.uniqueTensorName(base), type, shape: [...shape], buffer, quant, isVariable: false });
    return this.tensors.length - 1;
  }

  /** A new intermediate tensor (e.g. the output of an inserted PAD). */
  private temp(base: string, dtype: DType, shape: readonly number[], quant?: QuantParams): number {
    return this.addTensor(base, dtype, shape, undefined, quant);
  }

  private constTensor(base: string, t: Tensor): number {
    return this.addTensor(base, t.dtype, t.shape, t, t.quant);
  }

  private int32Const(base: string, values: readonly number[], shape: number[] = [values.length]): number {
    return this.constTensor(base, Tensor.fromNumbers('int32', shape, values));
  }

  // ---- operators --------------------------------------------------------------------------------

  private opcode(builtin: string, version: number, custom?: string): number {
    const code = custom !== undefined ? BUILTIN_CUSTOM : BUILTIN_OPERATOR_NAMES.indexOf(builtin);
    if (code < 0) throw new CloudlessError('E_INTERNAL', `no TFLite builtin named ${builtin}`);
    const key = `${code}:${custom ?? ''}:${version}`;
    let index = this.opcodeIndex.get(key);
    if (index === undefined) {
      index = this.opcodes.length;
      this.opcodes.push({ builtin: code, custom, version });
      this.opcodeIndex.set(key, index);
    }
    return index;
  }

  private emit(builtin: string, inputs: number[], outputs: number[], optionsType = 0, options: OptionField[] = [], minVersion = 1): void {
    const quantized = inputs.some((i) => i >= 0 && this.tensors[i]!.type === TensorType.INT8)
      || outputs.some((i) => this.tensors[i]!.type === TensorType.INT8);
    const int16 = [inputs[0], outputs[0]].some((i) => i !== undefined && i >= 0 && this.tensors[i]!.type === TensorType.INT16 && !!this.tensors[i]!.quant);
    const version = Math.max(minVersion, int16 ? INT16_VERSIONS[builtin] ?? 1 : quantized ? INT8_VERSIONS[builtin] ?? 1 : 1);
    this.operators.push({ opcode: this.opcode(builtin, version), inputs, outputs, optionsType, options });
  }

  private unsupported(message: string, hint?: string): never {
    const n = this.node;
    throw new CloudlessError('E_UNSUPPORTED_OP', `writing graph ${this.graph.name} as .tflite: node ${n.name} (${n.op}): ${message}`, { node: n.name, hint });
  }

  private in(k: number): number {
    const name = this.node.inputs[k];
    return name ? this.tensorOf(name) : -1;
  }

  private out(k = 0): number {
    const name = this.node.outputs[k];
    if (!name) this.unsupported(`output ${k} has no name`);
    return this.tensorOf(name);
  }

  private inInfo(k: number): ValueInfo {
    const name = this.node.inputs[k];
    if (!name) this.unsupported(`input ${k} is required`);
    return this.info(name);
  }

  private outInfo(k = 0): ValueInfo {
    return this.info(this.node.outputs[k]!);
  }

  /** The content of input k, which TFLite needs at conversion time. */
  private constIn(k: number, role: string): Tensor {
    const name = this.node.inputs[k] ?? '';
    const c = this.constantOf(name);
    if (!c) this.unsupported(`its ${role} (input ${k}${name ? `, "${name}"` : ''}) must be a constant`);
    return c;
  }

  private activation(): number {
    const a = attrString(this.node, 'activation', 'none');
    const code = ACTIVATION_CODES[a];
    if (code === undefined) this.unsupported(`fused activation "${a}" has no TFLite equivalent`);
    return code;
  }

  private convert(node: Node): void {
    const direct = BUILTIN_OF_OP[node.op];
    if (direct) {
      const gap = this.inInfo(0).dtype === 'int16' && this.inInfo(0).quant ? noTfliteInt16Kernel(node.op) : undefined;
      if (gap) this.unsupported(`a quantized int16 ${node.op} (${gap})`);
      this.emit(direct.builtin, node.inputs.map((_, k) => this.in(k)), node.outputs.map((_, k) => this.out(k)), direct.options ?? 0, []);
      return;
    }
    const binary = BINARY_OF_OP[node.op];
    if (binary) {
      const options: OptionField[] = [{ slot: 0, i8: this.activation() }];
      // 16x8 ADD/SUB: pot_scale_int16 (slot 1, default true) = false selects TFLite's general int16 path, which cloudless implements.
      const y = this.outInfo();
      if ((node.op === 'Add' || node.op === 'Sub') && y.dtype === 'int16' && y.quant) options.push({ slot: 1, bool: false });
      this.emit(binary.builtin, [this.in(0), this.in(1)], [this.out()], binary.options, options);
      return;
    }
    const reducer = REDUCE_OF_OP[node.op];
    if (reducer) return this.convertReduce(reducer);
    if (node.op.startsWith('tflite.custom.')) return this.convertCustom(node.op.slice('tflite.custom.'.length));
    switch (node.op) {
      case 'Conv': return this.convertConv();
      case 'DepthwiseConv': return this.convertDepthwise();
      case 'ConvTranspose': return this.convertConvTranspose();
      case 'FullyConnected': return this.convertFullyConnected();
      case 'Gemm': return this.convertGemm();
      case 'MatMul':
        this.emit('BATCH_MATMUL', [this.in(0), this.in(1)], [this.out()], BuiltinOptions.BatchMatMulOptions, [{ slot: 0, bool: false }, { slot: 1, bool: false }]);
        return;
      case 'AveragePool': case 'MaxPool': return this.convertPool();
      case 'BatchNormalization': return this.convertBatchNorm();
      case 'Clip': return this.convertClip();
      case 'Mod': {
        // fmod 0 is the floored remainder (the divisor's sign), which is FLOOR_MOD; TFLite has no truncated one.
        if (attrInt(node, 'fmod', 0) !== 0) this.unsupported('fmod 1 (TFLite\'s FLOOR_MOD takes the divisor\'s sign)');
        this.emit('FLOOR_MOD', [this.in(0), this.in(1)], [this.out()]);
        return;
      }
      case 'HardSigmoid': return this.convertHardSigmoid();
      case 'LeakyRelu':
        this.emit('LEAKY_RELU', [this.in(0)], [this.out()], BuiltinOptions.LeakyReluOptions, [{ slot: 0, f32: attrFloat(node, 'alpha', 0.01) }]);
        return;
      case 'Elu':
        if (attrFloat(node, 'alpha', 1) !== 1) this.unsupported(`alpha ${attrFloat(node, 'alpha', 1)} (TFLite's ELU has alpha 1)`);
        this.emit('ELU', [this.in(0)], [this.out()]);
        return;
      case 'Gelu':
        this.emit('GELU', [this.in(0)], [this.out()], BuiltinOptions.GeluOptions, [{ slot: 0, bool: attrString(node, 'approximate', 'none') === 'tanh' }]);
        return;
      case 'Max': case 'Min': {
        if (node.inputs.length !== 2) this.unsupported(`${node.inputs.length} inputs (TFLite's MAXIMUM/MINIMUM take 2)`);
        this.emit(node.op === 'Max' ? 'MAXIMUM' : 'MINIMUM', [this.in(0), this.in(1)], [this.out()], MoreOptions.MaximumMinimumOptions);
        return;
      }
      case 'Softmax': case 'LogSoftmax': return this.convertSoftmax();
      case 'Reshape': case 'Flatten': case 'Unsqueeze': case 'Identity': case 'Dropout': return this.convertReshape();
      case 'Squeeze': return this.convertSqueeze();
      case 'Concat': {
        const rank = this.outInfo().shape.length;
        const axis = attrInt(node, 'axis');
        this.emit('CONCATENATION', node.inputs.map((_, k) => this.in(k)), [this.out()], BuiltinOptions.ConcatenationOptions, [
          { slot: 0, i32: axis < 0 ? axis + rank : axis }, { slot: 1, i8: this.activation() },
        ]);
        return;
      }
      case 'Pad': return this.convertPad();
      case 'Slice': return this.convertSlice();
      case 'Transpose': {
        const perm = transposePerm(node, this.inInfo(0).shape.length);
        this.emit('TRANSPOSE', [this.in(0), this.int32Const(`${node.name}/perm`, perm)], [this.out()], MoreOptions.TransposeOptions);
        return;
      }
      case 'Gather': return this.convertGather();
      case 'Resize': return this.convertResize();
      case 'SpaceToDepth': case 'DepthToSpace': {
        if (node.op === 'DepthToSpace' && attrString(node, 'mode', 'DCR') !== 'DCR') this.unsupported('mode CRD (TFLite\'s DEPTH_TO_SPACE is DCR)');
        const space = node.op === 'SpaceToDepth';
        this.emit(space ? 'SPACE_TO_DEPTH' : 'DEPTH_TO_SPACE', [this.in(0)], [this.out()],
          space ? BuiltinOptions.SpaceToDepthOptions : BuiltinOptions.DepthToSpaceOptions, [{ slot: 0, i32: attrInt(node, 'blocksize') }]);
        return;
      }
      case 'Cast': {
        const from = TENSOR_TYPES[this.inInfo(0).dtype], to = TENSOR_TYPES[this.outInfo().dtype];
        this.emit('CAST', [this.in(0)], [this.out()], BuiltinOptions.CastOptions, [{ slot: 0, i8: from }, { slot: 1, i8: to }]);
        return;
      }
      case 'Tile': {
        const reps = this.constIn(1, 'repeats').toNumbers();
        this.emit('TILE', [this.in(0), this.int32Const(`${node.name}/multiples`, reps)], [this.out()], MoreOptions.TileOptions);
        return;
      }
      case 'Expand': {
        const shape = this.outInfo().shape;
        this.emit('BROADCAST_TO', [this.in(0), this.int32Const(`${node.name}/shape`, shape)], [this.out()]);
        return;
      }
      case 'Split': return this.convertSplit();
      case 'TopK': return this.convertTopK();
      case 'tflite.SVDF': return this.convertSvdf();
      case 'tflite.UNIDIRECTIONAL_SEQUENCE_LSTM': return this.convertLstm();
      default:
        return this.unsupported('no TFLite builtin is mapped for this op', 'see src/formats/tflite/writer.ts for the ops the writer covers');
    }
  }

  // ---- convolutions and pools -------------------------------------------------------------------

  /** Input 0 of a 2-D conv or pool, padded explicitly when its pads are neither TFLite's SAME nor VALID. */
  private windowInput(g: WindowGeometry, inShape: readonly number[], padValue: 'zero' | 'lowest'): { input: number; padding: number } {
    const sameOk = g.out.every((o, i) => {
      const ext = (g.kernel[i]! - 1) * g.dilations[i]! + 1;
      const total = Math.max(0, (o - 1) * g.strides[i]! + ext - inShape[1 + i]!);
      return o === Math.ceil(inShape[1 + i]! / g.strides[i]!) && g.padsBegin[i] === Math.floor(total / 2);
    });
    if (sameOk) return { input: this.in(0), padding: Padding.SAME };
    const validOk = g.out.every((o, i) => {
      const ext = (g.kernel[i]! - 1) * g.dilations[i]! + 1;
      return g.padsBegin[i] === 0 && o === Math.floor((inShape[1 + i]! - ext) / g.strides[i]!) + 1;
    });
    if (validOk) return { input: this.in(0), padding: Padding.VALID };
    // Pad just enough at the end for the last window; more would add an output under VALID.
    const begin = g.padsBegin;
    const end = g.out.map((o, i) => Math.max(0, (o - 1) * g.strides[i]! + (g.kernel[i]! - 1) * g.dilations[i]! + 1 - inShape[1 + i]! - begin[i]!));
    return { input: this.padBefore(begin, end, inShape, padValue), padding: Padding.VALID };
  }

  private padBefore(begin: number[], end: number[], inShape: readonly number[], padValue: 'zero' | 'lowest'): number {
    const x = this.inInfo(0);
    const name = this.node.name;
    const paddings = this.int32Const(`${name}/paddings`, [0, 0, begin[0]!, end[0]!, begin[1]!, end[1]!, 0, 0], [4, 2]);
    const padded = this.temp(`${name}/padded`, x.dtype, [inShape[0]!, inShape[1]! + begin[0]! + end[0]!, inShape[2]! + begin[1]! + end[1]!, inShape[3]!], x.quant);
    if (padValue === 'zero') {
      // A quantized PAD fills with the zero point, i.e. real 0.
      this.emit('PAD', [this.in(0), paddings], [padded], MoreOptions.PadOptions);
    } else {
      // MaxPool's padding must never win: the lowest finite value of the type.
      const lowest = x.dtype === 'float32' ? Tensor.fromNumbers('float32', [], [-3.4028234663852886e38])
        : x.dtype === 'int8' ? new Tensor('int8', [], Int8Array.of(-128), x.quant && { scale: x.quant.scale.slice(0, 1), zeroPoint: x.quant.zeroPoint.slice(0, 1) })
          : this.unsupported(`padding a ${x.dtype} max pool explicitly is not supported`);
      this.emit('PADV2', [this.in(0), paddings, this.constTensor(`${name}/pad_value`, lowest)], [padded], MoreOptions.PadV2Options);
    }
    return padded;
  }

  private spatial2d(what: string): readonly number[] {
    const x = this.inInfo(0);
    if (x.shape.length !== 4) this.unsupported(`${what} with ${x.shape.length - 2} spatial axes (TFLite's is 2-D only)`);
    return x.shape;
  }

  /** A zero bias when the graph has none (TFLite's kernels are happiest with one); int32 with scale s_x·s_w for int8, int64 for 16x8. */
  private biasOrZero(k: number, channels: number, weightQuant?: QuantParams): number {
    if (this.node.inputs[k]) return this.in(k);
    const x = this.inInfo(0);
    const name = `${this.node.name}/zero_bias`;
    if (!x.quant) return this.constTensor(name, new Tensor(x.dtype, [channels]));
    const sx = x.quant.scale[0]!;
    const sw = weightQuant?.scale ?? Float32Array.of(1);
    const scale = Float32Array.from({ length: sw.length }, (_, i) => sx * sw[i]!);
    const quant: QuantParams = { scale, zeroPoint: new Int32Array(sw.length) };
    if (sw.length > 1) quant.axis = 0;
    return this.constTensor(name, new Tensor(x.dtype === 'int16' ? 'int64' : 'int32', [channels], undefined, quant));
  }

  private convertConv(): void {
    const node = this.node;
    const inShape = this.spatial2d('a convolution');
    const w = this.inInfo(1);
    const g = windowGeometry(node, inShape.slice(1, 3), w.shape.slice(1, 3));
    const { input, padding } = this.windowInput(g, inShape, 'zero');
    const bias = this.biasOrZero(2, w.shape[0]!, w.quant);
    this.emit('CONV_2D', [input, this.in(1), bias], [this.out()], BuiltinOptions.Conv2DOptions, [
      { slot: 0, i8: padding }, { slot: 1, i32: g.strides[1]! }, { slot: 2, i32: g.strides[0]! }, { slot: 3, i8: this.activation() },
      { slot: 4, i32: g.dilations[1]! }, { slot: 5, i32: g.dilations[0]! },
    ]);
  }

  private convertDepthwise(): void {
    const node = this.node;
    const inShape = this.spatial2d('a depthwise convolution');
    const w = this.inInfo(1);
    const g = windowGeometry(node, inShape.slice(1, 3), w.shape.slice(1, 3));
    const { input, padding } = this.windowInput(g, inShape, 'zero');
    const bias = this.biasOrZero(2, w.shape[3]!, w.quant && { ...w.quant, axis: 0 });
    this.emit('DEPTHWISE_CONV_2D', [input, this.in(1), bias], [this.out()], BuiltinOptions.DepthwiseConv2DOptions, [
      { slot: 0, i8: padding }, { slot: 1, i32: g.strides[1]! }, { slot: 2, i32: g.strides[0]! },
      { slot: 3, i32: w.shape[3]! / inShape[3]! }, { slot: 4, i8: this.activation() },
      { slot: 5, i32: g.dilations[1]! }, { slot: 6, i32: g.dilations[0]! },
    ]);
  }

  /**
   * TRANSPOSE_CONV takes the output shape, OHWI weights, the input and a bias,
   * and crops the full transposed convolution as SAME (floor(total/2) first) or
   * VALID (all at the end); outputs past the full size get the bias only, which
   * is the canonical output_padding. Other crops inside the full output (e.g.
   * kernel 3, stride 2, pads 1 with output_padding 1) run VALID at full size
   * and are cut out by a STRIDED_SLICE.
   */
  private convertConvTranspose(): void {
    const node = this.node;
    const inShape = this.spatial2d('a transposed convolution');
    const w = this.inInfo(1);
    if (attrInt(node, 'group', 1) !== 1) this.unsupported(`group ${attrInt(node, 'group', 1)} (TFLite's TRANSPOSE_CONV is not grouped)`);
    const g = convTransposeGeometry(node, inShape.slice(1, 3), w.shape.slice(1, 3));
    if (g.dilations.some((d) => d !== 1)) this.unsupported('dilations (TFLite\'s TRANSPOSE_CONV has none)');
    // SAME and VALID are written only where every runtime reads them alike; elsewhere VALID at full
    // size and a crop. TFLite's builtin kernel takes the output size as written and pads SAME as
    // if the input had ceil(out / stride) pixels. LiteRT.js's XNNPACK delegate computes the output
    // size itself (VALID: full size plus less than one stride; SAME: an even total padding), and
    // leaves SAME with a kernel smaller than the stride to the builtin kernel, whose int8
    // arithmetic differs.
    const fits = (padding: number) => g.out.every((o, i) => {
      const k = w.shape[1 + i]!, s = g.strides[i]!;
      const total = s * (inShape[1 + i]! - 1) + k - o;
      if (padding === Padding.VALID) return g.padsBegin[i] === 0 && total <= 0 && -total < s;
      return Math.ceil(o / s) === inShape[1 + i]! && k >= s && total >= 0 && total % 2 === 0 && g.padsBegin[i] === total / 2;
    });
    const out = this.outInfo();
    const full = g.out.map((_, i) => g.strides[i]! * (inShape[1 + i]! - 1) + w.shape[1 + i]!);
    const padding = fits(Padding.VALID) ? Padding.VALID : fits(Padding.SAME) ? Padding.SAME : undefined;
    if (padding === undefined && g.out.some((o, i) => g.padsBegin[i]! < 0 || g.padsBegin[i]! + o > full[i]!)) {
      this.unsupported(`pads ${shapeToString([...g.padsBegin, ...g.padsEnd])} with output_padding ${shapeToString(g.outputPadding)} reach past the full output, which neither SAME nor VALID nor a crop gives`);
    }
    // IHWO [Cin, kh, kw, Cout] ↔ OHWI [Cout, kh, kw, Cin]: the permutation is its own inverse.
    const perm = [3, 1, 2, 0];
    const wc = this.constantOf(node.inputs[1]!);
    let weights: number;
    if (wc) {
      weights = this.constTensor(`${node.inputs[1]}/ohwi`, transposeTensor(wc, perm));
    } else {
      weights = this.temp(`${node.inputs[1]}/ohwi`, w.dtype, perm.map((p) => w.shape[p]!), w.quant);
      this.emit('TRANSPOSE', [this.in(1), this.int32Const(`${node.name}/weight_perm`, perm)], [weights], MoreOptions.TransposeOptions);
    }
    const hasBias = Boolean(node.inputs[2]);
    const activation = this.activation();
    // Versions from op_version.cc: 2 takes int8, 3 reads the bias input, 4 the fused activation.
    const version = activation !== ActivationFunctionType.NONE ? 4 : hasBias ? 3 : w.dtype === 'int8' ? 2 : 1;
    const convShape = padding === undefined ? [out.shape[0]!, full[0]!, full[1]!, out.shape[3]!] : out.shape;
    const conv = padding === undefined ? this.temp(`${node.name}/full`, out.dtype, convShape, out.quant) : this.out();
    this.emit('TRANSPOSE_CONV', [this.int32Const(`${node.name}/output_shape`, convShape), weights, this.in(0), hasBias ? this.in(2) : -1],
      [conv], BuiltinOptions.TransposeConvOptions, [
        { slot: 0, i8: padding ?? Padding.VALID }, { slot: 1, i32: g.strides[1]! }, { slot: 2, i32: g.strides[0]! }, { slot: 3, i8: activation },
      ], version);
    if (padding !== undefined) return;
    const begin = [0, g.padsBegin[0]!, g.padsBegin[1]!, 0];
    this.emit('STRIDED_SLICE', [
      conv, this.int32Const(`${node.name}/crop_begin`, begin), this.int32Const(`${node.name}/crop_end`, begin.map((b, i) => b + out.shape[i]!)),
      this.int32Const(`${node.name}/crop_strides`, [1, 1, 1, 1]),
    ], [this.out()], BuiltinOptions.StridedSliceOptions, [
      { slot: 0, i32: 0 }, { slot: 1, i32: 0 }, { slot: 2, i32: 0 }, { slot: 3, i32: 0 }, { slot: 4, i32: 0 }, { slot: 5, bool: false },
    ]);
  }

  private convertPool(): void {
    const node = this.node;
    const inShape = this.spatial2d('a pool');
    const kernel = attrInts(node, 'kernel_shape');
    if (hasAttr(node, 'dilations') && attrInts(node, 'dilations').some((d) => d !== 1)) this.unsupported('dilated pooling');
    const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
    const g = windowGeometry(node, inShape.slice(1, 3), kernel, ceil);
    const avg = node.op === 'AveragePool';
    let input: number, padding: number;
    const padded = g.padsBegin.some((p) => p > 0) || g.padsEnd.some((p) => p > 0);
    if (avg && padded && attrInt(node, 'count_include_pad', 0) !== 0) {
      // TFLite averages over the in-bounds taps only; counting the pads means padding with zeros first.
      if (ceil && windowGeometry(node, inShape.slice(1, 3), kernel, false).out.some((o, i) => o !== g.out[i])) {
        this.unsupported('ceil_mode with count_include_pad (windows past the pads count differently in TFLite)');
      }
      const end = g.out.map((o, i) => Math.max(0, (o - 1) * g.strides[i]! + kernel[i]! - inShape[1 + i]! - g.padsBegin[i]!));
      input = this.padBefore(g.padsBegin, end, inShape, 'zero');
      padding = Padding.VALID;
    } else {
      ({ input, padding } = this.windowInput(g, inShape, avg ? 'zero' : 'lowest'));
      if (avg && input !== this.in(0)) this.unsupported(`pads ${shapeToString([...g.padsBegin, ...g.padsEnd])} without count_include_pad: only SAME-like pads keep TFLite's in-bounds averaging`);
    }
    this.emit(avg ? 'AVERAGE_POOL_2D' : 'MAX_POOL_2D', [input], [this.out()], BuiltinOptions.Pool2DOptions, [
      { slot: 0, i8: padding }, { slot: 1, i32: g.strides[1]! }, { slot: 2, i32: g.strides[0]! },
      { slot: 3, i32: kernel[1]! }, { slot: 4, i32: kernel[0]! }, { slot: 5, i8: this.activation() },
    ]);
  }

  private fullyConnectedOptions(keepNumDims: boolean): OptionField[] {
    return [{ slot: 0, i8: this.activation() }, { slot: 1, i8: 0 }, { slot: 2, bool: keepNumDims }];
  }

  private convertFullyConnected(): void {
    this.emit('FULLY_CONNECTED', [this.in(0), this.in(1), this.in(2)], [this.out()], BuiltinOptions.FullyConnectedOptions,
      this.fullyConnectedOptions(attrInt(this.node, 'keep_num_dims', 0) !== 0));
  }

  private convertGemm(): void {
    const node = this.node;
    if (attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1) this.unsupported('alpha or beta other than 1');
    if (attrInt(node, 'transA', 0) !== 0) this.unsupported('transA');
    const a = this.inInfo(0);
    const b = this.inInfo(1);
    if (a.shape.length !== 2 || b.shape.length !== 2) this.unsupported('operands that are not matrices');
    const n = this.outInfo().shape[1]!;
    let weights: number;
    if (attrInt(node, 'transB', 0) !== 0) {
      weights = this.in(1);
    } else {
      const bc = this.constIn(1, 'B (FULLY_CONNECTED wants [N, K] weights)');
      weights = this.constTensor(`${this.node.inputs[1]}/transposed`, transposeTensor(bc, [1, 0]));
    }
    let bias = -1;
    if (this.node.inputs[2]) {
      const c = this.inInfo(2);
      if (c.shape.length !== 1 || c.shape[0] !== n) this.unsupported(`C of shape ${shapeToString(c.shape)} (only a bias [${n}] maps onto FULLY_CONNECTED)`);
      bias = this.in(2);
    }
    this.emit('FULLY_CONNECTED', [this.in(0), weights, bias], [this.out()], BuiltinOptions.FullyConnectedOptions, this.fullyConnectedOptions(false));
  }

  private convertBatchNorm(): void {
    const node = this.node;
    const x = this.inInfo(0);
    if (x.dtype !== 'float32') this.unsupported(`a ${x.dtype} BatchNormalization (fold it first)`);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) => this.constIn(k, ['scale', 'B', 'mean', 'var'][k - 1]!).toFloat32()) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = epsilonOf(node);
    const c = scale.length;
    const mul = new Float32Array(c), add = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      mul[i] = scale[i]! / Math.sqrt(variance[i]! + eps);
      add[i] = bias[i]! - mean[i]! * mul[i]!;
    }
    const scaled = this.temp(`${node.name}/scaled`, x.dtype, x.shape);
    this.emit('MUL', [this.in(0), this.constTensor(`${node.name}/multiplier`, new Tensor('float32', [c], mul))], [scaled], BuiltinOptions.MulOptions, [{ slot: 0, i8: 0 }]);
    this.emit('ADD', [scaled, this.constTensor(`${node.name}/offset`, new Tensor('float32', [c], add))], [this.out()], BuiltinOptions.AddOptions, [{ slot: 0, i8: 0 }]);
  }

  // ---- elementwise ------------------------------------------------------------------------------

  private convertClip(): void {
    const bound = (k: number, fallback: number): number => {
      if (!this.node.inputs[k]) return fallback;
      const v = this.constIn(k, k === 1 ? 'min' : 'max').toNumbers();
      if (v.length !== 1) this.unsupported(`bound ${k} has ${v.length} values`);
      return v[0]!;
    };
    const lo = bound(1, -Infinity), hi = bound(2, Infinity);
    const builtin = clampBuiltin(lo, hi);
    const gap = this.inInfo(0).dtype === 'int16' && this.inInfo(0).quant ? noTfliteInt16Kernel('Clip', lo, hi) : undefined;
    if (gap) this.unsupported(`a quantized int16 Clip to [${lo}, ${hi}] (${gap})`);
    if (builtin) { this.emit(builtin, [this.in(0)], [this.out()]); return; }
    const x = this.inInfo(0);
    if (x.quant) this.unsupported(`a quantized Clip to [${lo}, ${hi}]`);
    let current = this.in(0);
    if (lo !== -Infinity) {
      const next = hi === Infinity ? this.out() : this.temp(`${this.node.name}/lower`, x.dtype, x.shape);
      this.emit('MAXIMUM', [current, this.constTensor(`${this.node.name}/min`, Tensor.fromNumbers(x.dtype, [], [lo]))], [next], MoreOptions.MaximumMinimumOptions);
      current = next;
    }
    if (hi !== Infinity) {
      this.emit('MINIMUM', [current, this.constTensor(`${this.node.name}/max`, Tensor.fromNumbers(x.dtype, [], [hi]))], [this.out()], MoreOptions.MaximumMinimumOptions);
    }
    if (lo === -Infinity && hi === Infinity) this.convertReshape();
  }

  /** max(0, min(1, alpha·x + beta)): TFLite has no builtin, so MUL and ADD by scalars, then RELU_0_TO_1. */
  private convertHardSigmoid(): void {
    const node = this.node;
    const x = this.inInfo(0);
    if (x.dtype !== 'float32' || x.quant) this.unsupported(`a ${x.quant ? 'quantized' : x.dtype} HardSigmoid (written for float32 only)`);
    const scalar = (role: string, v: number) => this.constTensor(`${node.name}/${role}`, Tensor.fromNumbers('float32', [], [v]));
    const scaled = this.temp(`${node.name}/scaled`, x.dtype, x.shape);
    const shifted = this.temp(`${node.name}/shifted`, x.dtype, x.shape);
    this.emit('MUL', [this.in(0), scalar('alpha', attrFloat(node, 'alpha', 0.2))], [scaled], BuiltinOptions.MulOptions, [{ slot: 0, i8: 0 }]);
    this.emit('ADD', [scaled, scalar('beta', attrFloat(node, 'beta', 0.5))], [shifted], BuiltinOptions.AddOptions, [{ slot: 0, i8: 0 }]);
    this.emit('RELU_0_TO_1', [shifted], [this.out()]);
  }

  private lastAxis(what: string): void {
    const rank = this.inInfo(0).shape.length;
    const axis = attrInt(this.node, 'axis', -1);
    if (axis !== -1 && axis !== rank - 1) this.unsupported(`${what} over axis ${axis} (TFLite's is over the last axis)`);
  }

  private convertSoftmax(): void {
    this.lastAxis(this.node.op);
    if (this.node.op === 'Softmax') {
      this.emit('SOFTMAX', [this.in(0)], [this.out()], BuiltinOptions.SoftmaxOptions, [{ slot: 0, f32: 1 }]);
    } else {
      this.emit('LOG_SOFTMAX', [this.in(0)], [this.out()], MoreOptions.LogSoftmaxOptions);
    }
  }

  // ---- shapes and data movement -----------------------------------------------------------------

  private convertReshape(): void {
    if (this.node.outputs.length > 1 && this.node.outputs.slice(1).some((o) => o)) this.unsupported('a second output (mask)');
    const shape = this.outInfo().shape;
    this.emit('RESHAPE', [this.in(0), this.int32Const(`${this.node.name}/shape`, shape)], [this.out()], BuiltinOptions.ReshapeOptions, [{ slot: 0, ints: shape }]);
  }

  private convertSqueeze(): void {
    const inShape = this.inInfo(0).shape;
    const axes = this.node.inputs[1]
      ? this.constIn(1, 'axes').toNumbers().map((a) => (a < 0 ? a + inShape.length : a))
      : inShape.flatMap((d, i) => (d === 1 ? [i] : []));
    this.emit('SQUEEZE', [this.in(0)], [this.out()], BuiltinOptions.SqueezeOptions, [{ slot: 0, ints: axes }]);
  }

  private convertPad(): void {
    const node = this.node;
    const x = this.inInfo(0);
    const rank = x.shape.length;
    const pads = this.constIn(1, 'pads').toNumbers();
    const axes = node.inputs[3] ? this.constIn(3, 'axes').toNumbers() : undefined;
    const [begin, end] = padAmounts(node, rank, pads, axes);
    if ([...begin, ...end].some((p) => p < 0)) this.unsupported('negative pads (cropping)');
    const paddings = this.int32Const(`${node.name}/paddings`, begin.flatMap((b, i) => [b, end[i]!]), [rank, 2]);
    const mode = attrString(node, 'mode', 'constant');
    if (mode === 'reflect') {
      this.emit('MIRROR_PAD', [this.in(0), paddings], [this.out()], MoreOptions.MirrorPadOptions, [{ slot: 0, i8: 0 }]);
      return;
    }
    if (mode !== 'constant') this.unsupported(`mode ${mode} (TFLite pads with a constant or by reflection)`);
    const value = node.inputs[2] ? this.constIn(2, 'constant_value') : undefined;
    // PAD fills with 0, or with the zero point for a quantized tensor: that is real 0 either way.
    const zero = x.quant ? x.quant.zeroPoint[0]! : 0;
    if (!value || Number(value.data[0] ?? 0) === zero) {
      this.emit('PAD', [this.in(0), paddings], [this.out()], MoreOptions.PadOptions);
    } else {
      this.emit('PADV2', [this.in(0), paddings, this.in(2)], [this.out()], MoreOptions.PadV2Options);
    }
  }

  private convertSlice(): void {
    const node = this.node;
    const x = this.inInfo(0);
    const nums = (k: number, role: string) => (node.inputs[k] ? this.constIn(k, role).toNumbers() : undefined);
    const starts = this.constIn(1, 'starts').toNumbers(), ends = this.constIn(2, 'ends').toNumbers();
    const axes = nums(3, 'axes'), steps = nums(4, 'steps');
    const p = resolveSlice(node, x.shape, starts, ends, axes, steps);
    // Ends are written from the resolved start, step and output length; a negative-step slice
    // that runs past element 0 needs end_mask, since TFLite reads an end of -1 as the last element.
    let endMask = 0;
    const end = p.starts.map((s, i) => {
      const e = s + p.shape[i]! * p.steps[i]!;
      if (e < 0) { endMask |= 1 << i; return 0; }
      return e;
    });
    this.emit('STRIDED_SLICE', [
      this.in(0), this.int32Const(`${node.name}/begin`, p.starts), this.int32Const(`${node.name}/end`, end),
      this.int32Const(`${node.name}/strides`, p.steps),
    ], [this.out()], BuiltinOptions.StridedSliceOptions, [
      { slot: 0, i32: 0 }, { slot: 1, i32: endMask }, { slot: 2, i32: 0 }, { slot: 3, i32: 0 }, { slot: 4, i32: 0 }, { slot: 5, bool: false },
    ]);
  }

  private convertGather(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const axisAttr = attrInt(node, 'axis', 0);
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
    let indices = this.in(1);
    const c = this.constantOf(node.inputs[1]!);
    if (c && c.toNumbers().some((i) => i < 0)) {
      // TFLite reads negative indices as errors; ONNX counts them from the end.
      const dim = this.inInfo(0).shape[axis]!;
      indices = this.int32Const(`${node.inputs[1]}/wrapped`, c.toNumbers().map((i) => (i < 0 ? i + dim : i)), [...c.shape]);
    }
    this.emit('GATHER', [this.in(0), indices], [this.out()], BuiltinOptions.GatherOptions, [{ slot: 0, i32: axis }, { slot: 1, i32: 0 }]);
  }

  private convertResize(): void {
    const node = this.node;
    const x = this.inInfo(0);
    const out = this.outInfo();
    if (x.shape.length !== 4 || out.shape[0] !== x.shape[0] || out.shape[3] !== x.shape[3]) {
      this.unsupported(`resizing ${shapeToString(x.shape)} to ${shapeToString(out.shape)} (TFLite resizes H and W of NHWC only)`);
    }
    const mode = attrString(node, 'mode', 'nearest');
    const ctm = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
    if (attrInt(node, 'antialias', 0) !== 0) this.unsupported('antialias');
    const size = this.int32Const(`${node.name}/size`, out.shape.slice(1, 3));
    if (mode === 'linear') {
      const halfPixel = ctm === 'half_pixel' || (ctm === 'pytorch_half_pixel' && out.shape[1]! > 1 && out.shape[2]! > 1);
      if (!halfPixel && ctm !== 'align_corners' && ctm !== 'asymmetric') this.unsupported(`bilinear coordinate_transformation_mode ${ctm}`);
      this.emit('RESIZE_BILINEAR', [this.in(0), size], [this.out()], BuiltinOptions.ResizeBilinearOptions, [
        { slot: 2, bool: ctm === 'align_corners' }, { slot: 3, bool: halfPixel },
      ]);
      return;
    }
    if (mode !== 'nearest') this.unsupported(`mode ${mode} (TFLite resizes bilinear or nearest)`);
    const rounding = attrString(node, 'nearest_mode', 'round_prefer_floor');
    // TFLite's nearest: floor for asymmetric, round-half-up for align_corners and half-pixel (see import.ts).
    const ok = (ctm === 'asymmetric' && rounding === 'floor') || ((ctm === 'align_corners' || ctm === 'half_pixel') && rounding === 'round_prefer_ceil');
    if (!ok) this.unsupported(`nearest resize with ${ctm} and ${rounding} rounding has no TFLite equivalent`);
    this.emit('RESIZE_NEAREST_NEIGHBOR', [this.in(0), size], [this.out()], BuiltinOptions.ResizeNearestNeighborOptions, [
      { slot: 0, bool: ctm === 'align_corners' }, { slot: 1, bool: ctm === 'half_pixel' },
    ]);
  }

  private convertReduce(builtin: string): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const axes = resolveReduceAxes(node, rank, node.inputs[1] ? this.constIn(1, 'axes') : undefined);
    if (axes.length === 0) { this.convertReshape(); return; }
    this.emit(builtin, [this.in(0), this.int32Const(`${node.name}/axes`, axes)], [this.out()], BuiltinOptions.ReducerOptions, [
      { slot: 0, bool: attrInt(node, 'keepdims', 1) !== 0 },
    ]);
  }

  /**
   * TOPK_V2 selects the k largest along the last axis, sorted, and gives int32
   * indices (the importer widens them to int64 and casts back). When the only
   * reader of the indices is a Cast to int32, as in an imported .tflite, that
   * Cast's output is written as TOPK_V2's own, so the file round-trips op for op;
   * otherwise a CAST widens them to the canonical int64.
   */
  private convertTopK(): void {
    const node = this.node;
    const x = this.inInfo(0);
    this.lastAxis('TopK');
    const k = this.constIn(1, 'K').toNumbers();
    // An unsorted TopK allows any order of the k results, sorted among them.
    const largest = attrInt(node, 'largest', 1) !== 0;
    if (!largest && (x.dtype !== 'float32' || x.quant)) this.unsupported(`smallest-k of a ${x.quant ? 'quantized' : x.dtype} tensor (written by negation, float32 only)`);
    const valuesName = node.outputs[0], indicesName = node.outputs[1];
    const outInfo = this.outInfo(0);
    let input = this.in(0);
    let values = valuesName ? this.out(0) : this.temp(`${node.name}/values`, x.dtype, outInfo.shape, x.quant);
    if (!largest) {
      // The k largest of −x are the k smallest of x, in ascending order, with the same tie order.
      const negated = this.temp(`${node.name}/negated`, x.dtype, x.shape);
      this.emit('NEG', [input], [negated], MoreOptions.NegOptions);
      input = negated;
      values = this.temp(`${node.name}/negated_values`, x.dtype, outInfo.shape);
    }
    let indices: number;
    let widen: number | undefined;
    const narrowing = indicesName ? this.soleInt32Cast(indicesName) : undefined;
    if (narrowing) {
      this.absorbed.add(narrowing);
      indices = this.tensorOf(narrowing.outputs[0]!);
    } else {
      indices = this.temp(`${indicesName || node.name}/int32`, 'int32', outInfo.shape);
      if (indicesName) widen = this.out(1);
    }
    this.emit('TOPK_V2', [input, this.int32Const(`${node.name}/k`, k.slice(0, 1), [])], [values, indices], MoreOptions.TopKV2Options);
    if (!largest && valuesName) this.emit('NEG', [values], [this.out(0)], MoreOptions.NegOptions);
    if (widen !== undefined) {
      this.emit('CAST', [indices], [widen], BuiltinOptions.CastOptions, [{ slot: 0, i8: TensorType.INT32 }, { slot: 1, i8: TensorType.INT64 }]);
    }
  }

  /** The one node reading `name` when it is a Cast to int32 and `name` is not a graph output. */
  private soleInt32Cast(name: string): Node | undefined {
    if (this.graph.outputs.includes(name)) return undefined;
    const readers = this.graph.nodes.filter((n) => n.inputs.includes(name));
    const only = readers.length === 1 ? readers[0]! : undefined;
    return only?.op === 'Cast' && only.outputs[0] && this.info(only.outputs[0]).dtype === 'int32' ? only : undefined;
  }

  private convertSplit(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const a = attrInt(node, 'axis', 0);
    const axis = a < 0 ? a + rank : a;
    const sizes = node.outputs.map((o) => this.info(o).shape[axis]!);
    this.emit('SPLIT_V', [this.in(0), this.int32Const(`${node.name}/sizes`, sizes), this.int32Const(`${node.name}/axis`, [axis], [])],
      node.outputs.map((_, k) => this.out(k)), BuiltinOptions.SplitVOptions, [{ slot: 0, i32: sizes.length }]);
  }

  // ---- ops the importer passes through ----------------------------------------------------------

  /** Marks the inputs TFLite keeps state in (imported as constants holding their initial value) as variables again. */
  private markVariables(): void {
    const v = this.node.attrs.variable_inputs;
    if (Array.isArray(v)) for (const k of v) { const name = this.node.inputs[k as number]; if (name) this.variables.add(name); }
  }

  private activationByName(name: string): number {
    const codes: Record<string, number> = { ...ACTIVATION_CODES, tanh: ActivationFunctionType.TANH, sign_bit: ActivationFunctionType.SIGN_BIT };
    const code = codes[name];
    if (code === undefined) this.unsupported(`activation "${name}"`);
    return code;
  }

  private convertSvdf(): void {
    this.markVariables();
    const node = this.node;
    this.emit('SVDF', node.inputs.map((_, k) => this.in(k)), node.outputs.map((_, k) => this.out(k)), BuiltinOptions.SVDFOptions, [
      { slot: 0, i32: attrInt(node, 'rank') }, { slot: 1, i8: this.activationByName(attrString(node, 'activation', 'none')) },
    ]);
  }

  private convertLstm(): void {
    this.markVariables();
    const node = this.node;
    this.emit('UNIDIRECTIONAL_SEQUENCE_LSTM', node.inputs.map((_, k) => this.in(k)), node.outputs.map((_, k) => this.out(k)),
      BuiltinOptions.UnidirectionalSequenceLSTMOptions, [
        { slot: 0, i8: this.activationByName(attrString(node, 'activation', 'tanh')) }, { slot: 1, f32: attrFloat(node, 'cell_clip', 0) },
        { slot: 2, f32: attrFloat(node, 'proj_clip', 0) }, { slot: 3, bool: attrInt(node, 'time_major', 0) !== 0 },
      ]);
  }

  private convertCustom(code: string): void {
    this.markVariables();
    const node = this.node;
    const raw = node.attrs.custom_options;
    const customOptions = raw instanceof Tensor ? new Uint8Array(raw.data as Uint8Array) : undefined;
    this.operators.push({
      opcode: this.opcode('CUSTOM', 1, code),
      inputs: node.inputs.map((_, k) => this.in(k)),
      outputs: node.outputs.map((_, k) => this.out(k)),
      optionsType: 0, options: [], customOptions,
    });
  }

  // ---- serialization ----------------------------------------------------------------------------

}

/**
 * Writes a canonical graph as a .tflite flatbuffer. Throws E_UNSUPPORTED_OP
 * naming the node for an op TFLite cannot express, and E_SHAPE when a shape is
 * not static.
 */
export function writeTflite(graph: Graph, options: WriteTfliteOptions = {}): Uint8Array {
  return new TfliteWriter(graph, options).write();
}

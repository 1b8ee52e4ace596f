import {
  CloudlessError, Graph, Tensor, bytesPerElement, float16ToNumber, sizeOf, viewTyped,
  type AttrValue, type DType, type QuantParams, type TypedArray, type Value, checkGraphInputDims } from '../../ir/index.js';
import { transposeTensor } from '../../ir/tensor-ops.js';
import { opsWith } from '../../ir/ops/traits.js';
import { BINARY_BUILTINS, CLAMP_BUILTINS, FUSED_ACTIVATIONS, OP_OF_BUILTIN, REDUCE_BUILTINS, dtypeOfTensorType, type Activation } from './ops.js';
import { OptionsReader, readFlexbufferMap, readTfliteModel, type TfliteModel, type TfliteOperator, type TfliteSubGraph, type TfliteTensor } from './reader.js';
import {
  ActivationFunctionType, BUILTIN_CUSTOM, BUILTIN_OPERATOR_NAMES, BuiltinOptions, Padding, TENSOR_TYPE_NAMES, TensorType,
} from './schema.js';

/**
 * TFLite → canonical graph. TFLite is already channels-last with OHWI / 1HWO
 * weights, so most builtins map one to one; the work is in turning options into
 * attributes, TFLite's attribute-like inputs into the ONNX-style inputs the
 * canonical ops take (int64), and a few ops into short chains (STRIDED_SLICE with
 * shrink_axis → Slice + Squeeze, PACK → Unsqueeze + Concat, …).
 *
 * Fused activations: Conv, DepthwiseConv, ConvTranspose, FullyConnected and the
 * pools take the `activation` attribute. On ADD/SUB/MUL/DIV and CONCATENATION a
 * float graph gets a separate Relu/Clip node (every float kernel can run that),
 * while a quantized binary op keeps `activation` as an attribute because the
 * clamp belongs to its requantization.
 */

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Ops whose canonical schema takes the fused `activation` attribute. */
const ACTIVATION_ATTR_OPS = opsWith((t) => t.fusedActivation);

const REDUCER_OF = Object.fromEntries(REDUCE_BUILTINS.map((r) => [r.builtin, r.op]));
const BINARY_OF = Object.fromEntries(BINARY_BUILTINS.map((b) => [b.builtin, b]));
const CLAMP_OF = Object.fromEntries(CLAMP_BUILTINS.filter((c) => c.read !== false).map((c) => [c.builtin, c]));
const ACTIVATION_OF_CODE = new Map<number, Activation>(Object.entries(FUSED_ACTIVATIONS).map(([a, code]) => [code, a as Activation]));

class TfliteImporter {
  readonly graph: Graph;
  private readonly sg: TfliteSubGraph;
  /** Value name of each TFLite tensor (index-aligned with sg.tensors). */
  private readonly names: string[] = [];
  /** DEQUANTIZE ops whose float16 constant input is widened at import: their output is that constant. */
  private readonly foldedOps = new Set<TfliteOperator>();
  private readonly constCache = new Map<string, TypedArray>();
  private readonly scalarConsts = new Map<string, string>();
  private readonly quantDimWarnings: string[] = [];
  private readonly widenedUnsigned: string[] = [];
  private readonly variables: string[] = [];
  private opIndex = 0;

  constructor(private readonly model: TfliteModel, private readonly file: string) {
    if (model.subgraphs.length === 0) this.formatError('the model has no subgraph');
    if (model.subgraphs.length > 1) {
      throw new CloudlessError('E_UNSUPPORTED', `${file}: the model has ${model.subgraphs.length} subgraphs (control flow such as WHILE/IF or CALL_ONCE); cloudless imports single-subgraph models only`, {
        file, hint: 'convert the model without control flow (e.g. unroll loops) or use a model with a single subgraph',
      });
    }
    this.sg = model.subgraphs[0]!;
    this.graph = new Graph(this.sg.name || 'main', {
      format: 'tflite', source: file, producer: model.description || undefined, warnings: [],
    });
  }

  formatError(what: string): never {
    throw new CloudlessError('E_FORMAT', `${this.file}: ${what}`, { file: this.file });
  }

  run(): Graph {
    const sg = this.sg;
    const checkIndex = (i: number, where: string, optional: boolean): void => {
      if ((optional && i === -1) || (Number.isInteger(i) && i >= 0 && i < sg.tensors.length)) return;
      this.formatError(`${where} refers to tensor ${i}, but the subgraph has ${sg.tensors.length} tensors`);
    };
    sg.inputs.forEach((i) => checkIndex(i, 'a subgraph input', false));
    sg.outputs.forEach((i) => checkIndex(i, 'a subgraph output', false));
    sg.operators.forEach((op, k) => {
      if (op.opcodeIndex >= this.model.operatorCodes.length) {
        this.formatError(`operator ${k} uses operator code ${op.opcodeIndex}, but the model has ${this.model.operatorCodes.length}`);
      }
      op.inputs.forEach((i) => checkIndex(i, `operator ${k}'s input`, true));
      op.outputs.forEach((i) => checkIndex(i, `operator ${k}'s output`, false));
      op.intermediates.forEach((i) => checkIndex(i, `operator ${k}'s intermediate`, true));
      if (this.opName(op) === 'DEQUANTIZE' && op.inputs.length === 1 && op.outputs.length === 1) {
        const t = sg.tensors[op.inputs[0]!]!;
        if (t.type === TensorType.FLOAT16 && this.bufferData(t).length > 0) this.foldedOps.add(op);
      }
    });

    const used = new Set<string>();
    sg.tensors.forEach((t, i) => {
      let name = t.name || `tensor_${i}`;
      if (used.has(name)) {
        for (let k = 1; ; k++) if (!used.has(`${name}_${k}`)) { name = `${name}_${k}`; break; }
      }
      used.add(name);
      this.names.push(name);
    });
    for (const op of this.foldedOps) {
      const src = sg.tensors[op.inputs[0]!]!;
      const out = op.outputs[0]!;
      this.graph.setValue({ name: this.names[out]!, dtype: 'float32', shape: [...src.shape], constant: this.constantOf(src, op.inputs[0]!) });
    }
    sg.tensors.forEach((t, i) => {
      if (!this.graph.values.has(this.names[i]!)) this.graph.setValue(this.valueOf(t, i));
    });
    if (this.widenedUnsigned.length > 0) {
      this.warn(`${this.widenedUnsigned.length} UINT32/UINT64 tensor(s) are held as int64, cloudless having no unsigned 32/64-bit type (${listNames(this.widenedUnsigned)})`);
    }
    if (this.variables.length > 0) {
      this.warn(`${this.variables.length} variable tensor(s) (state that TFLite keeps across invocations) are imported as constants holding their initial value (${listNames(this.variables)})`);
    }
    if (this.quantDimWarnings.length > 0) {
      this.warn(`${this.quantDimWarnings.length} tensor(s) have a quantized_dimension outside their shape (${listNames(this.quantDimWarnings)}); read as per-channel along axis 0, as TFLite Micro does`);
    }
    this.graph.inputs = sg.inputs.map((i) => this.names[i]!);
    this.graph.outputs = sg.outputs.map((i) => this.names[i]!);

    sg.operators.forEach((op, k) => {
      this.opIndex = k;
      if (this.foldedOps.has(op)) return;
      this.convert(op);
    });
    return this.graph;
  }

  warn(message: string): void {
    this.graph.meta.warnings!.push(message);
  }

  // ---- tensors → values -------------------------------------------------------------------------

  private bufferData(t: TfliteTensor): Uint8Array {
    if (t.buffer >= this.model.buffers.length) {
      this.formatError(`tensor "${t.name}" refers to buffer ${t.buffer}, but the model has ${this.model.buffers.length}`);
    }
    return this.model.buffers[t.buffer]!.data;
  }

  private dtypeOf(t: TfliteTensor): DType {
    const dtype = dtypeOfTensorType(t.type);
    if (dtype) return dtype;
    const typeName = TENSOR_TYPE_NAMES[t.type] ?? `type ${t.type}`;
    throw new CloudlessError('E_UNSUPPORTED', `${this.file}: tensor "${t.name}" has element type ${typeName}, which cloudless does not support`, {
      file: this.file, hint: 'supported TFLite types: FLOAT32, FLOAT16 (constants), FLOAT64, INT8, UINT8, INT16, INT32, INT64, UINT32, UINT64, BOOL',
    });
  }

  private valueOf(t: TfliteTensor, index: number): Value {
    const name = this.names[index]!;
    if (t.hasSparsity) {
      throw new CloudlessError('E_UNSUPPORTED', `${this.file}: tensor "${name}" is stored sparse, which cloudless does not read`, { file: this.file });
    }
    const dtype = this.dtypeOf(t);
    if (t.type === TensorType.UINT32 || t.type === TensorType.UINT64) this.widenedUnsigned.push(name);
    if (t.isVariable) this.variables.push(name);
    for (const d of t.shape) if (d < 0) this.formatError(`tensor "${name}" has a negative dimension in shape [${t.shape.join(', ')}]`);
    const value: Value = { name, dtype, shape: [...t.shape] };
    const hasData = this.bufferData(t).length > 0;
    if (hasData || t.isVariable) value.constant = this.constantOf(t, index);
    else if (t.type === TensorType.FLOAT16) {
      throw new CloudlessError('E_UNSUPPORTED', `${this.file}: tensor "${name}" is a float16 activation; cloudless widens float16 weights only`, { file: this.file });
    }
    const quant = this.quantOf(t, dtype, name);
    if (quant) {
      value.quant = quant;
      if (value.constant) value.constant.quant = quant;
    }
    return value;
  }

  /** The tensor's buffer as an owned, aligned typed array (zeros for a variable without initial data). */
  private constantOf(t: TfliteTensor, index: number): Tensor {
    const name = this.names[index]!;
    const data = this.bufferData(t);
    const count = sizeOf(t.shape);
    const dtype = this.dtypeOf(t);
    if (data.length === 0) {
      // A variable without initial data starts at zero; refuse sizes no real model state has.
      if (count > 2 ** 28) this.formatError(`variable tensor "${name}" of shape [${t.shape.join(', ')}] is implausibly large`);
      return new Tensor(dtype, t.shape);
    }
    const elemBytes = ({ [TensorType.FLOAT16]: 2, [TensorType.UINT32]: 4, [TensorType.UINT64]: 8 } as Record<number, number>)[t.type]
      ?? bytesPerElement(dtype);
    if (data.length !== count * elemBytes) {
      this.formatError(`tensor "${name}" of shape [${t.shape.join(', ')}] needs ${count * elemBytes} bytes of ${TENSOR_TYPE_NAMES[t.type]}, but its buffer ${t.buffer} holds ${data.length}`);
    }
    const key = `${t.buffer}:${t.type}`;
    let typed = this.constCache.get(key);
    if (!typed) {
      // The copy has a fresh ArrayBuffer, so the view is aligned whatever the file offset was;
      // the file is little-endian, like every host Node runs on in practice.
      const copy = new Uint8Array(data);
      if (t.type === TensorType.FLOAT16) {
        const halves = new Uint16Array(copy.buffer, 0, count);
        typed = new Float32Array(count);
        for (let i = 0; i < count; i++) typed[i] = float16ToNumber(halves[i]!);
      } else if (t.type === TensorType.UINT32) {
        const words = new Uint32Array(copy.buffer, 0, count);
        typed = new BigInt64Array(count);
        for (let i = 0; i < count; i++) typed[i] = BigInt(words[i]!);
      } else if (t.type === TensorType.UINT64) {
        const words = new BigUint64Array(copy.buffer, 0, count);
        typed = new BigInt64Array(count);
        for (let i = 0; i < count; i++) {
          if (words[i]! > INT64_MAX) {
            throw new CloudlessError('E_UNSUPPORTED', `${this.file}: constant "${name}" holds a UINT64 value above 2^63 - 1`, { file: this.file });
          }
          typed[i] = words[i]!;
        }
      } else {
        typed = viewTyped(dtype, copy.buffer, 0, count);
      }
      this.constCache.set(key, typed);
    }
    return new Tensor(dtype, t.shape, typed);
  }

  private quantOf(t: TfliteTensor, dtype: DType, name: string): QuantParams | undefined {
    const q = t.quantization;
    if (!q?.scale || q.scale.length === 0 || dtype === 'float32' || dtype === 'float64' || dtype === 'bool') return undefined;
    if (q.detailsType !== 0) {
      throw new CloudlessError('E_UNSUPPORTED', `${this.file}: tensor "${name}" uses custom quantization details (type ${q.detailsType})`, { file: this.file });
    }
    const n = q.scale.length;
    const zp = q.zeroPoint ?? new BigInt64Array(0);
    if (zp.length !== n && zp.length !== 0) {
      this.formatError(`tensor "${name}" has ${n} quantization scales but ${zp.length} zero points`);
    }
    const zeroPoint = new Int32Array(n);
    // The int64 words as int32 pairs (little-endian: low, high): a value fits int32 when its high
    // word is its low word's sign. This avoids a BigInt per channel, which a cold start notices.
    const words = new Int32Array(zp.buffer, zp.byteOffset, 2 * zp.length);
    for (let i = 0; i < zp.length; i++) {
      const lo = words[2 * i]!;
      if (words[2 * i + 1] !== lo >> 31) this.formatError(`tensor "${name}" has zero point ${zp[i]}, outside int32`);
      zeroPoint[i] = lo;
    }
    for (const s of q.scale) {
      if (!Number.isFinite(s)) this.formatError(`tensor "${name}" has a non-finite quantization scale ${s}`);
    }
    const scale = q.scale.slice();
    const rank = t.shape.length;
    const dim = q.quantizedDimension;
    const dimInRange = dim >= 0 && dim < Math.max(rank, 1);
    if (!dimInRange) this.quantDimWarnings.push(`"${name}" (dimension ${dim}, rank ${rank})`);
    if (n === 1) return { scale, zeroPoint };
    if (dimInRange && t.shape[dim] === n) return { scale, zeroPoint, axis: dim };
    if (!dimInRange && t.shape[0] === n) return { scale, zeroPoint, axis: 0 };
    return this.formatError(`tensor "${name}" of shape [${t.shape.join(', ')}] has ${n} quantization scales, which match no dimension (quantized_dimension ${dim})`);
  }

  // ---- helpers for building nodes ---------------------------------------------------------------

  private opName(op: TfliteOperator): string {
    const code = this.model.operatorCodes[op.opcodeIndex]!;
    if (code.builtinCode === BUILTIN_CUSTOM) return 'CUSTOM';
    return BUILTIN_OPERATOR_NAMES[code.builtinCode] ?? `BUILTIN_${code.builtinCode}`;
  }

  private where(op: TfliteOperator): string {
    return `${this.file}: operator ${this.opIndex} (${this.opName(op)}${op.outputs.length ? ` → "${this.names[op.outputs[0]!]}"` : ''})`;
  }

  private unsupported(op: TfliteOperator, what: string, hint?: string): never {
    throw new CloudlessError('E_UNSUPPORTED', `${this.where(op)}: ${what}`, { file: this.file, node: this.nodeName(op), hint });
  }

  private nodeName(op: TfliteOperator): string {
    return op.outputs.length ? this.names[op.outputs[0]!]! : `${this.opName(op)}_${this.opIndex}`;
  }

  /** Value name of input k, or '' when absent. */
  private in(op: TfliteOperator, k: number): string {
    const i = op.inputs[k];
    return i === undefined || i < 0 ? '' : this.names[i]!;
  }

  private out(op: TfliteOperator, k: number): string {
    const i = op.outputs[k];
    if (i === undefined) this.formatError(`${this.where(op)} has no output ${k}`);
    return this.names[i]!;
  }

  private val(name: string): Value {
    return this.graph.value(name);
  }

  private requireInputs(op: TfliteOperator, min: number, outs = 1): void {
    if (op.inputs.length < min || op.outputs.length < outs) {
      this.formatError(`${this.where(op)} has ${op.inputs.length} inputs and ${op.outputs.length} outputs; it needs at least ${min} and ${outs}`);
    }
    for (let k = 0; k < min; k++) if (!this.in(op, k)) this.formatError(`${this.where(op)}: required input ${k} is absent`);
  }

  /** The content of input k, which must be a constant. */
  private constIn(op: TfliteOperator, k: number, role: string): Tensor {
    const name = this.in(op, k);
    const c = name ? this.val(name).constant : undefined;
    if (!c) this.unsupported(op, `its ${role} (input ${k}${name ? `, "${name}"` : ''}) must be a constant`);
    return c;
  }

  private options(op: TfliteOperator, expected: number): OptionsReader {
    if (op.builtinOptionsType !== 0 && op.builtinOptionsType !== expected) {
      this.formatError(`${this.where(op)} carries builtin options of union type ${op.builtinOptionsType}, expected ${expected}`);
    }
    return new OptionsReader(this.model.tables, op.builtinOptionsType === expected ? op.builtinOptions : 0, `${this.where(op)} options`);
  }

  private emit(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): void {
    while (inputs.length > 0 && inputs[inputs.length - 1] === '') inputs.pop();
    this.graph.addNode({ name: this.uniqueNodeName(name ?? outputs[0] ?? op), op, inputs, outputs, attrs });
  }

  private readonly nodeNames = new Set<string>();
  private uniqueNodeName(base: string): string {
    let n = base;
    for (let k = 1; this.nodeNames.has(n); k++) n = `${base}_${k}`;
    this.nodeNames.add(n);
    return n;
  }

  /** A new intermediate value shaped like `like` (dtype and quant kept unless given). */
  private temp(base: string, like: Value, overrides: Partial<Value> = {}): string {
    const name = this.graph.uniqueName(base);
    this.graph.setValue({ name, dtype: like.dtype, shape: like.shape ? [...like.shape] : undefined, quant: like.quant, ...overrides });
    return name;
  }

  private constValue(base: string, t: Tensor): string {
    const name = this.graph.uniqueName(base);
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
    return name;
  }

  private int64Const(base: string, values: readonly (number | bigint)[], shape: number[] = [values.length]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.constValue(base, new Tensor('int64', shape, data));
  }

  /** One shared scalar constant per (dtype, value). */
  private scalarConst(dtype: DType, v: number): string {
    const key = `${dtype}:${v}`;
    let name = this.scalarConsts.get(key);
    if (!name) {
      name = this.constValue(`tflite_const_${dtype}_${v}`, Tensor.scalar(dtype, v));
      this.scalarConsts.set(key, name);
    }
    return name;
  }

  private activation(op: TfliteOperator, code: number): Activation {
    const act = ACTIVATION_OF_CODE.get(code);
    if (act) return act;
    if (code === ActivationFunctionType.TANH || code === ActivationFunctionType.SIGN_BIT) {
      return this.unsupported(op, `fused activation ${code === ActivationFunctionType.TANH ? 'TANH' : 'SIGN_BIT'} is not supported`);
    }
    return this.formatError(`${this.where(op)} has unknown fused activation ${code}`);
  }

  /** Emits a clamp for an activation as a standalone float node. */
  private emitActivationNode(act: Exclude<Activation, 'none'>, input: string, output: string, dtype: DType): void {
    if (act === 'relu') { this.emit('Relu', [input], [output]); return; }
    const [lo, hi] = act === 'relu6' ? [0, 6] : [-1, 1];
    this.emit('Clip', [input, this.scalarConst(dtype, lo), this.scalarConst(dtype, hi)], [output]);
  }

  /**
   * Emits `canonical` computing op's output 0 followed by its fused activation:
   * as an attribute where the canonical op takes one or the output is quantized,
   * else as a separate Relu/Clip node.
   */
  private emitFused(op: TfliteOperator, canonical: string, inputs: string[], attrs: Record<string, AttrValue>, act: Activation): void {
    const output = this.out(op, 0);
    const outVal = this.val(output);
    const float = outVal.dtype === 'float32' || outVal.dtype === 'float64';
    if (act === 'none') { this.emit(canonical, inputs, [output], attrs); return; }
    if (ACTIVATION_ATTR_OPS.has(canonical) || (!float && canonical !== 'Concat')) {
      this.emit(canonical, inputs, [output], { ...attrs, activation: act });
      return;
    }
    if (!float) this.unsupported(op, `a fused ${act} on a quantized ${canonical} is not supported`);
    const pre = this.temp(`${output}/pre_${act}`, outVal);
    this.emit(canonical, inputs, [pre], attrs);
    this.emitActivationNode(act, pre, output, outVal.dtype);
  }

  private isQuantized(name: string): boolean {
    return this.val(name).quant !== undefined;
  }

  /** A tensor's known rank (TFLite shapes are static, but a scalar shape [] from an old converter can mean unknown). */
  private rankOf(name: string): number | undefined {
    return this.val(name).shape?.length;
  }

  // ---- the op mapping ---------------------------------------------------------------------------

  private convert(op: TfliteOperator): void {
    const name = this.opName(op);
    if (op.builtinOptions2Type !== 0) {
      this.unsupported(op, 'StableHLO options (builtin_options_2) are not supported');
    }
    const direct = OP_OF_BUILTIN[name];
    if (direct) {
      this.requireInputs(op, 1);
      this.emit(direct, op.inputs.map((_, k) => this.in(op, k)), op.outputs.map((_, k) => this.out(op, k)));
      return;
    }
    const reducer = REDUCER_OF[name];
    if (reducer) { this.convertReduce(op, reducer); return; }
    const binary = BINARY_OF[name];
    if (binary) { this.convertBinary(op, binary.op, binary.options); return; }
    const clamp = CLAMP_OF[name];
    if (clamp) { this.convertClamp(op, clamp.lo, clamp.hi); return; }
    switch (name) {
      case 'CONV_2D': return this.convertConv(op);
      case 'DEPTHWISE_CONV_2D': return this.convertDepthwise(op);
      case 'FULLY_CONNECTED': return this.convertFullyConnected(op);
      case 'TRANSPOSE_CONV': return this.convertTransposeConv(op);
      case 'AVERAGE_POOL_2D': return this.convertPool(op, 'AveragePool');
      case 'MAX_POOL_2D': return this.convertPool(op, 'MaxPool');
      case 'SQUARED_DIFFERENCE': return this.convertSquaredDifference(op);
      case 'QUANTIZE': {
        this.requireInputs(op, 1);
        const out = this.out(op, 0);
        this.emit('Quantize', [this.in(op, 0)], [out], { to: this.val(out).dtype });
        return;
      }
      case 'SQUARE': {
        this.requireInputs(op, 1);
        this.emit('Mul', [this.in(op, 0), this.in(op, 0)], [this.out(op, 0)]);
        return;
      }
      case 'RSQRT': return this.convertRsqrt(op);
      case 'LEAKY_RELU': {
        this.requireInputs(op, 1);
        const alpha = this.options(op, BuiltinOptions.LeakyReluOptions).float(0);
        this.emit('LeakyRelu', [this.in(op, 0)], [this.out(op, 0)], { alpha });
        return;
      }
      case 'GELU': {
        this.requireInputs(op, 1);
        const approx = this.options(op, BuiltinOptions.GeluOptions).bool(0);
        this.emit('Gelu', [this.in(op, 0)], [this.out(op, 0)], { approximate: approx ? 'tanh' : 'none' });
        return;
      }
      case 'SOFTMAX': return this.convertSoftmax(op);
      case 'LOG_SOFTMAX': {
        this.requireInputs(op, 1);
        this.emit('LogSoftmax', [this.in(op, 0)], [this.out(op, 0)], { axis: -1 });
        return;
      }
      case 'RESHAPE': return this.convertReshape(op);
      case 'SQUEEZE': return this.convertSqueeze(op);
      case 'EXPAND_DIMS': {
        this.requireInputs(op, 2);
        const axis = this.constIn(op, 1, 'axis').toNumbers();
        this.emit('Unsqueeze', [this.in(op, 0), this.int64Const(`${this.out(op, 0)}/axes`, axis)], [this.out(op, 0)]);
        return;
      }
      case 'CONCATENATION': return this.convertConcat(op);
      case 'PAD': case 'PADV2': case 'MIRROR_PAD': return this.convertPad(op, name);
      case 'STRIDED_SLICE': return this.convertStridedSlice(op);
      case 'SLICE': return this.convertSlice(op);
      case 'TRANSPOSE': {
        this.requireInputs(op, 2);
        this.emit('Transpose', [this.in(op, 0)], [this.out(op, 0)], { perm: this.constIn(op, 1, 'permutation').toNumbers() });
        return;
      }
      case 'GATHER': {
        this.requireInputs(op, 2);
        const o = this.options(op, BuiltinOptions.GatherOptions);
        if (o.int(1) !== 0) this.unsupported(op, `batch_dims ${o.int(1)} is not supported (only 0)`);
        this.emit('Gather', [this.in(op, 0), this.in(op, 1)], [this.out(op, 0)], { axis: o.int(0) });
        return;
      }
      case 'RESIZE_BILINEAR': case 'RESIZE_NEAREST_NEIGHBOR': return this.convertResize(op, name);
      case 'SPACE_TO_DEPTH': case 'DEPTH_TO_SPACE': {
        this.requireInputs(op, 1);
        const opt = this.options(op, name === 'SPACE_TO_DEPTH' ? BuiltinOptions.SpaceToDepthOptions : BuiltinOptions.DepthToSpaceOptions);
        const attrs: Record<string, AttrValue> = { blocksize: opt.int(0) };
        if (name === 'DEPTH_TO_SPACE') attrs.mode = 'DCR';
        this.emit(name === 'SPACE_TO_DEPTH' ? 'SpaceToDepth' : 'DepthToSpace', [this.in(op, 0)], [this.out(op, 0)], attrs);
        return;
      }
      case 'SHAPE': return this.convertWithInt64Output(op, 'Shape', {});
      case 'ARG_MAX': case 'ARG_MIN': {
        this.requireInputs(op, 2);
        const axis = this.constIn(op, 1, 'axis').toNumbers()[0];
        if (axis === undefined) this.unsupported(op, 'its axis input is empty');
        return this.convertWithInt64Output(op, name === 'ARG_MAX' ? 'ArgMax' : 'ArgMin', { axis, keepdims: 0 });
      }
      case 'PACK': return this.convertPack(op);
      case 'UNPACK': return this.convertUnpack(op);
      case 'SPLIT': return this.convertSplit(op);
      case 'SPLIT_V': return this.convertSplitV(op);
      case 'CAST': {
        this.requireInputs(op, 1);
        this.emit('Cast', [this.in(op, 0)], [this.out(op, 0)], { to: this.val(this.out(op, 0)).dtype });
        return;
      }
      case 'BATCH_MATMUL': return this.convertBatchMatMul(op);
      case 'TOPK_V2': return this.convertTopK(op);
      case 'CUMSUM': {
        this.requireInputs(op, 2);
        const o = this.options(op, BuiltinOptions.CumsumOptions);
        this.emit('CumSum', [this.in(op, 0), this.in(op, 1)], [this.out(op, 0)], { exclusive: o.bool(0) ? 1 : 0, reverse: o.bool(1) ? 1 : 0 });
        return;
      }
      case 'UNIDIRECTIONAL_SEQUENCE_LSTM': return this.convertLstm(op);
      case 'SVDF': return this.passThrough(op, name, this.svdfAttrs(op));
      case 'CUSTOM': return this.convertCustom(op);
      default: return this.passThrough(op, name, {});
    }
  }

  /** Unknown builtins stay in the graph under `tflite.<NAME>` so tools can list them and a Session refuses them by name. */
  private passThrough(op: TfliteOperator, name: string, attrs: Record<string, AttrValue>): void {
    const variables = op.inputs.flatMap((i, k) => (i >= 0 && this.sg.tensors[i]!.isVariable ? [k] : []));
    if (variables.length > 0) attrs.variable_inputs = variables;
    this.emit(`tflite.${name}`, op.inputs.map((_, k) => this.in(op, k)), op.outputs.map((_, k) => this.out(op, k)), attrs);
  }

  private convStrides(o: OptionsReader, wSlot: number, hSlot: number): number[] {
    return [o.int(hSlot, 1), o.int(wSlot, 1)];
  }

  private autoPad(op: TfliteOperator, code: number): string {
    if (code === Padding.SAME) return 'SAME_UPPER';
    if (code === Padding.VALID) return 'VALID';
    return this.formatError(`${this.where(op)} has unknown padding ${code}`);
  }

  private convertConv(op: TfliteOperator): void {
    this.requireInputs(op, 2);
    const o = this.options(op, BuiltinOptions.Conv2DOptions);
    const attrs: Record<string, AttrValue> = {
      strides: this.convStrides(o, 1, 2),
      dilations: [o.int(5, 1), o.int(4, 1)],
      auto_pad: this.autoPad(op, o.byte(0)),
    };
    // TFLite runs a grouped convolution when the input has a multiple of the filter's channels.
    const cin = this.val(this.in(op, 0)).shape?.[3];
    const wc = this.val(this.in(op, 1)).shape?.[3];
    if (typeof cin === 'number' && typeof wc === 'number' && wc > 0 && cin !== wc) {
      if (cin % wc !== 0) this.formatError(`${this.where(op)}: input has ${cin} channels, not a multiple of the filter's ${wc}`);
      attrs.group = cin / wc;
    }
    this.emitFused(op, 'Conv', [this.in(op, 0), this.in(op, 1), this.in(op, 2)], attrs, this.activation(op, o.byte(3)));
  }

  private convertDepthwise(op: TfliteOperator): void {
    this.requireInputs(op, 2);
    const o = this.options(op, BuiltinOptions.DepthwiseConv2DOptions);
    const attrs: Record<string, AttrValue> = {
      strides: this.convStrides(o, 1, 2),
      dilations: [o.int(6, 1), o.int(5, 1)],
      auto_pad: this.autoPad(op, o.byte(0)),
    };
    this.emitFused(op, 'DepthwiseConv', [this.in(op, 0), this.in(op, 1), this.in(op, 2)], attrs, this.activation(op, o.byte(4)));
  }

  private convertFullyConnected(op: TfliteOperator): void {
    this.requireInputs(op, 2);
    const o = this.options(op, BuiltinOptions.FullyConnectedOptions);
    if (o.byte(1) !== 0) this.unsupported(op, 'shuffled weights (weights_format SHUFFLED4x16INT8) are not supported');
    const keepNumDims = o.bool(2);
    let x = this.in(op, 0);
    // TFLite flattens any input to [-1, K]; the canonical op wants K as the last dimension.
    const xShape = this.val(x).shape;
    const k = this.val(this.in(op, 1)).shape?.[1];
    if (!keepNumDims && xShape && typeof k === 'number' && xShape[xShape.length - 1] !== k) {
      const flat = this.temp(`${x}/flat`, this.val(x), { shape: undefined });
      this.emit('Reshape', [x, this.int64Const(`${flat}/shape`, [-1, k])], [flat]);
      x = flat;
    }
    this.emitFused(op, 'FullyConnected', [x, this.in(op, 1), this.in(op, 2)], { keep_num_dims: keepNumDims ? 1 : 0 }, this.activation(op, o.byte(0)));
  }

  private convertTransposeConv(op: TfliteOperator): void {
    // TFLite's input order is (output_shape, weights [Cout, kh, kw, Cin], input, bias?).
    this.requireInputs(op, 3);
    const o = this.options(op, BuiltinOptions.TransposeConvOptions);
    const outShape = this.constIn(op, 0, 'output shape').toNumbers();
    const w = this.in(op, 1);
    const x = this.in(op, 2);
    const wVal = this.val(w);
    const xShape = this.val(x).shape;
    const wShape = wVal.shape;
    if (!xShape || xShape.length !== 4 || !wShape || wShape.length !== 4 || outShape.length !== 4 || xShape.some((d) => typeof d !== 'number')) {
      this.unsupported(op, 'needs a static 4-D input, 4-D weights and a 4-D output shape');
    }
    const strides = this.convStrides(o, 1, 2);
    const padding = o.byte(0);
    const pads = [0, 0, 0, 0];
    const outputPadding = [0, 0];
    for (let a = 0; a < 2; a++) {
      const total = strides[a]! * ((xShape[1 + a] as number) - 1) + (wShape[1 + a] as number) - outShape[1 + a]!;
      if (total < 0) { outputPadding[a] = -total; continue; }
      // SAME puts the odd pixel at the end, like the forward convolution; VALID crops at the end only.
      const begin = padding === Padding.SAME ? Math.floor(total / 2) : 0;
      pads[a] = begin;
      pads[2 + a] = total - begin;
    }
    // OHWI [Cout, kh, kw, Cin] → the canonical IHWO [Cin, kh, kw, Cout].
    let wCanon: string;
    const perm = [3, 1, 2, 0];
    if (wVal.constant) {
      wCanon = this.constValue(`${w}/ihwo`, transposeTensor(wVal.constant, perm));
      this.val(wCanon).quant = wVal.quant && transposeQuant(wVal.quant, perm);
      if (this.val(wCanon).quant) this.val(wCanon).constant!.quant = this.val(wCanon).quant;
    } else {
      wCanon = this.temp(`${w}/ihwo`, wVal, { shape: perm.map((p) => wShape[p]!), quant: wVal.quant && transposeQuant(wVal.quant, perm) });
      this.emit('Transpose', [w], [wCanon], { perm });
    }
    const attrs: Record<string, AttrValue> = { strides, pads, output_padding: outputPadding };
    this.emitFused(op, 'ConvTranspose', [x, wCanon, this.in(op, 3)], attrs, this.activation(op, o.byte(3)));
  }

  private convertPool(op: TfliteOperator, canonical: 'AveragePool' | 'MaxPool'): void {
    this.requireInputs(op, 1);
    const o = this.options(op, BuiltinOptions.Pool2DOptions);
    const attrs: Record<string, AttrValue> = {
      kernel_shape: [o.int(4), o.int(3)],
      strides: this.convStrides(o, 1, 2),
      auto_pad: this.autoPad(op, o.byte(0)),
    };
    if (canonical === 'AveragePool') attrs.count_include_pad = 0;
    this.emitFused(op, canonical, [this.in(op, 0)], attrs, this.activation(op, o.byte(5)));
  }

  private convertBinary(op: TfliteOperator, canonical: string, optionsType: number): void {
    this.requireInputs(op, 2);
    const options = this.options(op, optionsType);
    // 16x8 ADD/SUB: pot_scale_int16 (slot 1, true when absent) selects TFLite's power-of-two path; cloudless has the general one.
    const int16 = this.val(this.in(op, 0)).dtype === 'int16' && this.isQuantized(this.in(op, 0));
    if (int16 && (canonical === 'Add' || canonical === 'Sub') && options.bool(1, true)) {
      this.unsupported(op, `an int16 ${canonical === 'Add' ? 'ADD' : 'SUB'} with pot_scale_int16 = true (TFLite's power-of-two int16 path) is not implemented; cloudless runs the general int16 path`,
        'write the model with pot_scale_int16 = false (what cloudless quantize --activations int16 writes)');
    }
    const act = this.activation(op, options.byte(0));
    this.emitFused(op, canonical, [this.in(op, 0), this.in(op, 1)], {}, act);
  }

  private requireFloat(op: TfliteOperator, names: string[]): void {
    for (const n of names) {
      if (this.isQuantized(n)) this.unsupported(op, `is decomposed into several canonical ops, which cloudless does not do for quantized tensors ("${n}")`);
    }
  }

  private convertSquaredDifference(op: TfliteOperator): void {
    this.requireInputs(op, 2);
    const out = this.out(op, 0);
    this.requireFloat(op, [this.in(op, 0), this.in(op, 1), out]);
    const diff = this.temp(`${out}/diff`, this.val(out));
    this.emit('Sub', [this.in(op, 0), this.in(op, 1)], [diff]);
    this.emit('Mul', [diff, diff], [out]);
  }

  private convertRsqrt(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const out = this.out(op, 0);
    this.requireFloat(op, [this.in(op, 0), out]);
    const root = this.temp(`${out}/sqrt`, this.val(out));
    this.emit('Sqrt', [this.in(op, 0)], [root]);
    this.emit('Reciprocal', [root], [out]);
  }

  /** RELU6 & co. as Clip; for a quantized input the bounds are real values that the Clip kernel quantizes with its input's parameters. */
  private convertClamp(op: TfliteOperator, lo: number, hi: number): void {
    this.requireInputs(op, 1);
    const x = this.in(op, 0);
    const boundType: DType = this.isQuantized(x) ? 'float32' : this.val(x).dtype;
    this.emit('Clip', [x, this.scalarConst(boundType, lo), this.scalarConst(boundType, hi)], [this.out(op, 0)]);
  }

  private convertSoftmax(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const beta = this.options(op, BuiltinOptions.SoftmaxOptions).float(0, 1);
    const out = this.out(op, 0);
    let x = this.in(op, 0);
    if (beta !== 1) {
      // softmax(beta·x): a float graph scales first; a quantized one would fold beta into the kernel's multiplier.
      if (this.isQuantized(x)) this.unsupported(op, `beta ${beta} on a quantized softmax is not supported (only 1)`);
      const scaled = this.temp(`${x}/beta`, this.val(x));
      this.emit('Mul', [x, this.scalarConst(this.val(x).dtype, beta)], [scaled]);
      x = scaled;
    }
    this.emit('Softmax', [x], [out], { axis: -1 });
  }

  private convertReduce(op: TfliteOperator, canonical: string): void {
    this.requireInputs(op, 2);
    const keep = this.options(op, BuiltinOptions.ReducerOptions).bool(0);
    // TFLite reduces nothing for an empty axis list; ONNX would reduce everything unless told otherwise.
    this.emit(canonical, [this.in(op, 0), this.in(op, 1)], [this.out(op, 0)], { keepdims: keep ? 1 : 0, noop_with_empty_axes: 1 });
  }

  private convertReshape(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const out = this.out(op, 0);
    let shape = this.in(op, 1);
    if (!shape) {
      const fromOptions = this.options(op, BuiltinOptions.ReshapeOptions).ints(0);
      const target = fromOptions ?? this.val(out).shape;
      if (!target || target.some((d) => typeof d !== 'number')) this.unsupported(op, 'has neither a shape input nor a new_shape option');
      shape = this.int64Const(`${out}/shape`, target as number[]);
    }
    // TensorFlow's 0 in a shape is a real zero-sized dimension, not ONNX's "copy this dimension".
    this.emit('Reshape', [this.in(op, 0), shape], [out], { allowzero: 1 });
  }

  private convertSqueeze(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const dims = this.options(op, BuiltinOptions.SqueezeOptions).ints(0) ?? [];
    const out = this.out(op, 0);
    this.emit('Squeeze', dims.length ? [this.in(op, 0), this.int64Const(`${out}/axes`, dims)] : [this.in(op, 0)], [out]);
  }

  private convertConcat(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const o = this.options(op, BuiltinOptions.ConcatenationOptions);
    this.emitFused(op, 'Concat', op.inputs.map((_, k) => this.in(op, k)), { axis: o.int(0) }, this.activation(op, o.byte(1)));
  }

  private convertPad(op: TfliteOperator, name: string): void {
    this.requireInputs(op, 2);
    const x = this.in(op, 0);
    const out = this.out(op, 0);
    const padsT = this.constIn(op, 1, 'paddings');
    const rank = padsT.shape[0] ?? 0;
    if (padsT.shape.length !== 2 || padsT.shape[1] !== 2) this.unsupported(op, `paddings of shape [${padsT.shape.join(', ')}] are not [rank, 2]`);
    const p = padsT.toNumbers();
    // TFLite's [[b0, e0], [b1, e1], …] → ONNX's [b0, b1, …, e0, e1, …].
    const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)];
    const inputs = [x, this.int64Const(`${out}/pads`, pads)];
    const attrs: Record<string, AttrValue> = { mode: 'constant' };
    if (name === 'MIRROR_PAD') {
      const mode = this.options(op, BuiltinOptions.MirrorPadOptions).byte(0);
      if (mode !== 0) this.unsupported(op, 'SYMMETRIC mirror padding is not supported (only REFLECT)');
      attrs.mode = 'reflect';
    } else if (name === 'PADV2' && this.in(op, 2)) {
      inputs.push(this.in(op, 2));
    } else if (this.val(x).quant) {
      // A quantized PAD fills with the zero point (real 0), so say so with an explicit pad value.
      const xv = this.val(x);
      const zp = new Tensor(xv.dtype, [], undefined, { scale: xv.quant!.scale.slice(0, 1), zeroPoint: xv.quant!.zeroPoint.slice(0, 1) });
      (zp.data as Exclude<TypedArray, BigInt64Array>)[0] = xv.quant!.zeroPoint[0]!;
      const name = this.constValue(`${out}/pad_value`, zp);
      this.val(name).quant = zp.quant;
      inputs.push(name);
    }
    this.emit('Pad', inputs, [out], attrs);
  }

  private convertStridedSlice(op: TfliteOperator): void {
    this.requireInputs(op, 4);
    const o = this.options(op, BuiltinOptions.StridedSliceOptions);
    const [beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask] = [o.int(0), o.int(1), o.int(2), o.int(3), o.int(4)];
    const offset = o.bool(5);
    if (ellipsisMask !== 0) this.unsupported(op, 'ellipsis_mask is not supported');
    if (newAxisMask !== 0) this.unsupported(op, 'new_axis_mask is not supported');
    const begin = this.constIn(op, 1, 'begin').toNumbers();
    const end = this.constIn(op, 2, 'end').toNumbers();
    const strides = this.constIn(op, 3, 'strides').toNumbers();
    if (end.length !== begin.length || strides.length !== begin.length) {
      this.formatError(`${this.where(op)}: begin, end and strides have ${begin.length}, ${end.length} and ${strides.length} elements`);
    }
    const starts: bigint[] = [], ends: bigint[] = [], axes: number[] = [], steps: number[] = [], squeeze: number[] = [];
    for (let i = 0; i < begin.length; i++) {
      const step = strides[i]!;
      if (step === 0) this.formatError(`${this.where(op)}: stride ${i} is 0`);
      const bit = 1 << i;
      if (shrinkMask & bit) {
        // One element at begin; -1 must read "to the end", since ONNX's end 0 would select nothing.
        const b = beginMask & bit ? 0 : begin[i]!;
        starts.push(BigInt(b));
        ends.push(b === -1 ? INT64_MAX : BigInt(b + 1));
        steps.push(1);
        axes.push(i);
        squeeze.push(i);
        continue;
      }
      const start = beginMask & bit ? (step > 0 ? 0n : INT64_MAX) : BigInt(begin[i]!);
      let stop = endMask & bit ? (step > 0 ? INT64_MAX : INT64_MIN) : BigInt(end[i]!);
      if (offset && !(endMask & bit)) stop += start;
      if (beginMask & bit && endMask & bit && step === 1) continue;
      starts.push(start); ends.push(stop); axes.push(i); steps.push(step);
    }
    const out = this.out(op, 0);
    const sliced = squeeze.length ? this.temp(`${out}/slice`, this.val(out), { shape: undefined }) : out;
    if (axes.length === 0) {
      this.emit('Identity', [this.in(op, 0)], [sliced]);
    } else {
      this.emit('Slice', [
        this.in(op, 0), this.int64Const(`${out}/starts`, starts), this.int64Const(`${out}/ends`, ends),
        this.int64Const(`${out}/axes`, axes), this.int64Const(`${out}/steps`, steps),
      ], [sliced]);
    }
    if (squeeze.length) this.emit('Squeeze', [sliced, this.int64Const(`${out}/squeeze_axes`, squeeze)], [out]);
  }

  private convertSlice(op: TfliteOperator): void {
    this.requireInputs(op, 3);
    const begin = this.constIn(op, 1, 'begin').toNumbers();
    const size = this.constIn(op, 2, 'size').toNumbers();
    if (size.length !== begin.length) this.formatError(`${this.where(op)}: begin has ${begin.length} elements and size ${size.length}`);
    const out = this.out(op, 0);
    const ends = size.map((s, i) => (s === -1 ? INT64_MAX : BigInt(begin[i]! + s)));
    this.emit('Slice', [
      this.in(op, 0), this.int64Const(`${out}/starts`, begin), this.int64Const(`${out}/ends`, ends),
      this.int64Const(`${out}/axes`, begin.map((_, i) => i)),
    ], [out]);
  }

  private convertResize(op: TfliteOperator, name: string): void {
    this.requireInputs(op, 2);
    const bilinear = name === 'RESIZE_BILINEAR';
    const o = this.options(op, bilinear ? BuiltinOptions.ResizeBilinearOptions : BuiltinOptions.ResizeNearestNeighborOptions);
    const alignCorners = o.bool(bilinear ? 2 : 0);
    const halfPixel = o.bool(bilinear ? 3 : 1);
    const attrs: Record<string, AttrValue> = {
      mode: bilinear ? 'linear' : 'nearest',
      coordinate_transformation_mode: alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric',
      axes: [1, 2],
    };
    // TFLite's nearest picks floor(x·scale) (asymmetric), round(x·scale) with align_corners
    // (std::round: halves go up for these non-negative coordinates) and floor((x+0.5)·scale)
    // with half-pixel centres, which is ONNX's half_pixel rounded half up.
    if (!bilinear) attrs.nearest_mode = alignCorners || halfPixel ? 'round_prefer_ceil' : 'floor';
    this.emit('Resize', [this.in(op, 0), '', '', this.in(op, 1)], [this.out(op, 0)], attrs);
  }

  /** Canonical Shape/ArgMax/ArgMin produce int64; a Cast follows when the TFLite tensor is int32. */
  private convertWithInt64Output(op: TfliteOperator, canonical: string, attrs: Record<string, AttrValue>): void {
    this.requireInputs(op, 1);
    const out = this.out(op, 0);
    const outVal = this.val(out);
    if (outVal.dtype === 'int64') { this.emit(canonical, [this.in(op, 0)], [out], attrs); return; }
    const wide = this.temp(`${out}/int64`, outVal, { dtype: 'int64' });
    this.emit(canonical, [this.in(op, 0)], [wide], attrs);
    this.emit('Cast', [wide], [out], { to: outVal.dtype });
  }

  private convertPack(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const axis = this.options(op, BuiltinOptions.PackOptions).int(1);
    const out = this.out(op, 0);
    const axes = this.int64Const(`${out}/axes`, [axis]);
    const parts = op.inputs.map((_, k) => {
      const x = this.in(op, k);
      const part = this.temp(`${out}/part${k}`, this.val(x), { shape: undefined });
      this.emit('Unsqueeze', [x, axes], [part]);
      return part;
    });
    this.emit('Concat', parts, [out], { axis });
  }

  private convertUnpack(op: TfliteOperator): void {
    this.requireInputs(op, 1);
    const axis = this.options(op, BuiltinOptions.UnpackOptions).int(1);
    const first = this.out(op, 0);
    const axes = this.int64Const(`${first}/axes`, [axis]);
    const parts = op.outputs.map((_, k) => this.temp(`${this.out(op, k)}/slice`, this.val(this.out(op, k)), { shape: undefined }));
    this.emit('Split', [this.in(op, 0)], parts, { axis, num_outputs: op.outputs.length });
    parts.forEach((p, k) => this.emit('Squeeze', [p, axes], [this.out(op, k)]));
  }

  private convertSplit(op: TfliteOperator): void {
    // TFLite's SPLIT takes (axis, input).
    this.requireInputs(op, 2);
    const axis = this.constIn(op, 0, 'axis').toNumbers()[0];
    if (axis === undefined) this.unsupported(op, 'its axis input is empty');
    const outs = op.outputs.map((_, k) => this.out(op, k));
    this.emit('Split', [this.in(op, 1)], outs, { axis, num_outputs: outs.length });
  }

  private convertSplitV(op: TfliteOperator): void {
    this.requireInputs(op, 3);
    const sizes = this.constIn(op, 1, 'size_splits').toNumbers();
    const axis = this.constIn(op, 2, 'axis').toNumbers()[0];
    if (axis === undefined) this.unsupported(op, 'its axis input is empty');
    const outs = op.outputs.map((_, k) => this.out(op, k));
    if (sizes.includes(-1)) {
      // TensorFlow lets one size be -1 (the rest); ONNX needs it spelled out.
      const shape = this.val(this.in(op, 0)).shape;
      const rank = shape?.length ?? 0;
      const dim = shape?.[axis < 0 ? axis + rank : axis];
      if (typeof dim !== 'number') this.unsupported(op, 'a -1 split size needs a static input shape');
      const rest = dim - sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
      sizes[sizes.indexOf(-1)] = rest;
    }
    this.emit('Split', [this.in(op, 0), this.int64Const(`${outs[0]}/split`, sizes)], outs, { axis });
  }

  private convertBatchMatMul(op: TfliteOperator): void {
    this.requireInputs(op, 2);
    const o = this.options(op, BuiltinOptions.BatchMatMulOptions);
    const out = this.out(op, 0);
    const operand = (k: number, adjoint: boolean): string => {
      const x = this.in(op, k);
      if (!adjoint) return x;
      const rank = this.rankOf(x);
      if (!rank || rank < 2) this.unsupported(op, `adj_${k ? 'y' : 'x'} needs an input of known rank ≥ 2`);
      const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
      const t = this.temp(`${x}/adjoint`, this.val(x), { shape: undefined });
      this.emit('Transpose', [x], [t], { perm });
      return t;
    };
    this.emit('MatMul', [operand(0, o.bool(0)), operand(1, o.bool(1))], [out]);
  }

  private convertTopK(op: TfliteOperator): void {
    this.requireInputs(op, 2, 2);
    const k = this.constIn(op, 1, 'k').toNumbers();
    const values = this.out(op, 0);
    const indices = this.out(op, 1);
    const idxVal = this.val(indices);
    const wide = idxVal.dtype === 'int64' ? indices : this.temp(`${indices}/int64`, idxVal, { dtype: 'int64' });
    this.emit('TopK', [this.in(op, 0), this.int64Const(`${values}/k`, k.slice(0, 1))], [values, wide], { axis: -1, largest: 1, sorted: 1 });
    if (wide !== indices) this.emit('Cast', [wide], [indices], { to: idxVal.dtype });
  }

  private convertLstm(op: TfliteOperator): void {
    const o = this.options(op, BuiltinOptions.UnidirectionalSequenceLSTMOptions);
    const attrs: Record<string, AttrValue> = {
      activation: this.activationName(o.byte(0)),
      cell_clip: o.float(1),
      proj_clip: o.float(2),
      time_major: o.bool(3) ? 1 : 0,
    };
    this.passThrough(op, 'UNIDIRECTIONAL_SEQUENCE_LSTM', attrs);
  }

  private svdfAttrs(op: TfliteOperator): Record<string, AttrValue> {
    const o = this.options(op, BuiltinOptions.SVDFOptions);
    return { rank: o.int(0), activation: this.activationName(o.byte(1)) };
  }

  /** For pass-through ops: the activation's name, including the ones canonical ops refuse. */
  private activationName(code: number): string {
    const names = ['none', 'relu', 'relu_n1_to_1', 'relu6', 'tanh', 'sign_bit'];
    return names[code] ?? `unknown_${code}`;
  }

  private convertCustom(op: TfliteOperator): void {
    const code = this.model.operatorCodes[op.opcodeIndex]!.customCode ?? '';
    if (!code) this.formatError(`${this.where(op)}: a CUSTOM operator code has no custom_code`);
    const attrs: Record<string, AttrValue> = {};
    const raw = op.customOptions ?? new Uint8Array(0);
    attrs.custom_options = new Tensor('uint8', [raw.length], new Uint8Array(raw));
    const decoded = raw.length ? readFlexbufferMap(raw) : undefined;
    if (decoded) {
      for (const [k, v] of Object.entries(decoded)) if (k !== 'custom_options') attrs[k] = v;
    }
    this.passThrough(op, `custom.${code}`, attrs);
  }
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 3).map((n) => (n.startsWith('"') ? n : `"${n}"`));
  return names.length > 3 ? `${shown.join(', ')}, …` : shown.join(', ');
}

function transposeQuant(q: QuantParams, perm: number[]): QuantParams {
  return q.axis === undefined ? q : { ...q, axis: perm.indexOf(q.axis) };
}

/** Imports a .tflite model (bytes) into a canonical graph. `source` names the file in errors. */
export function importTflite(bytes: Uint8Array, source = '<tflite bytes>'): Graph {
  const model = readTfliteModel(bytes, source);
  const graph = new TfliteImporter(model, source).run();
  checkGraphInputDims(graph, source);
  return graph;
}

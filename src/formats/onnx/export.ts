/**
 * Canonical graph → ONNX (opset 13), so that onnxruntime can run any graph
 * cloudless holds, int8 ones included. The graph must have static shapes; they
 * are inferred here with the op schemas, as the .tflite writer does.
 *
 * Layout. ONNX's Conv, pools, BatchNormalization and DepthToSpace/SpaceToDepth
 * are NCHW while ours are NHWC. Instead of wrapping each such op in a pair of
 * Transposes and cancelling pairs afterwards, every canonical value is kept in
 * one or more stored layouts ("reps": stored = transpose(value, perm)). A
 * layout op asks for its input in NCHW and writes its output in NCHW;
 * elementwise ops, Q/DQ, Softmax, keepdims reductions and Concat work in
 * whatever layout their input already has (axes remapped); a canonical
 * Transpose writes nothing and only re-labels its input's reps. A Transpose node
 * is emitted only where a value is needed in a layout nobody produced, so a
 * MobileNet written from NCHW ONNX comes out with no Transpose at all, and one
 * from NHWC .tflite with one at the input and one before the final Reshape.
 *
 * int8. Quantized values are written in onnxruntime's QDQ form: an int8 value
 * is an int8 tensor, each consumer that computes reads it through
 * DequantizeLinear, and each op producing one ends in QuantizeLinear; weights
 * are int8 initializers with a (per-axis) DequantizeLinear; biases are int32
 * with scale s_x·s_w[c] and zero point 0. onnxruntime fuses DQ → op → Q into
 * QLinearConv, QLinearMatMul/QGemm, QLinearAdd... Data movement with the same
 * quantization on both sides (Reshape, Concat, Transpose) stays on the int8
 * tensors, which is exact. Graph inputs and outputs keep the canonical dtypes.
 *
 * Opset 13 is the first with per-axis DequantizeLinear and is what
 * onnxruntime's own quantizer writes; reductions therefore take `axes` as an
 * attribute (ReduceSum as an input), and ops newer than 13 are decomposed
 * (HardSwish = x · HardSigmoid(x)).
 */
import {
  CloudlessError, Tensor, attrFloat, staticInfos, staticShapeError, attrInt, attrInts, attrString, hasAttr,
  shapeToString, withContext,
  type DType, type Graph, type Node, type QuantParams, type ValueInfo,
} from '../../ir/index.js';
import { convTransposeGeometry, padAmounts, windowGeometry } from '../../ir/ops/nn.js';
import { resolveReduceAxes } from '../../ir/ops/reduce.js';
import { resolveSlice, transposePerm } from '../../ir/ops/shape-ops.js';
import { transposeTensor } from '../../ir/tensor-ops.js';
import { opsWith } from '../../ir/ops/traits.js';
import { ONNX_TYPE_OF } from './dtypes.js';
import { writeOnnx, type OnnxAttrSpec, type OnnxNodeSpec, type OnnxValueSpec } from './writer.js';

export const EXPORT_OPSET = 13;

export interface ExportOnnxOptions {
  /** Concrete shapes for graph inputs whose declared shape is symbolic or unknown. */
  inputShapes?: Record<string, number[]>;
  /** ModelProto.producer_name (default "cloudless"). */
  producer?: string;
  /**
   * Element type of the int8 activations between Q and DQ (default int8, the
   * canonical one). uint8 (zero point + 128: the same real numbers) is what
   * onnxruntime's quantizer writes on x86, whose QLinear kernels are u8s8:
   * onnxruntime converts int8 Q/DQ pairs to uint8 itself, but not a Q read by
   * two nodes (a residual), which then stays unfused. Graph inputs and outputs
   * keep the canonical dtype either way.
   */
  activations?: 'int8' | 'uint8';
  /**
   * Element type of int8 conv/gemm weights (default int8). uint8 (zero point
   * + 128, the same real numbers) is what onnxruntime itself turns int8
   * weights into on x86 CPUs without VNNI, whose u8s8 kernels saturate 16-bit
   * pair sums with full-range int8 weights; it does so only for the Q/DQ pairs
   * it converts, so a graph written with uint8 activations needs uint8 weights
   * too to stay exact there.
   */
  weights?: 'int8' | 'uint8';
}

/** A stored form of a canonical value: the ONNX tensor `name` holds transpose(value, perm). */
interface Rep {
  name: string;
  perm: number[];
  /** Stored as uint8 with the zero point moved by 128 (see ExportOnnxOptions.activations). */
  u8?: boolean;
}

/** Ops whose ONNX form (opset 13) has the same name, inputs and attributes as the canonical op. */
const SAME_UNARY = new Set([
  'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Abs', 'Neg', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Erf',
  'Sign', 'Reciprocal', 'Softplus', 'Softsign', 'Not', 'Identity',
]);
const FLOAT_ATTR_UNARY: Record<string, string[]> = {
  LeakyRelu: ['alpha'], Elu: ['alpha'], Selu: ['alpha', 'gamma'], HardSigmoid: ['alpha', 'beta'], Celu: ['alpha'],
};
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'PRelu', 'Max', 'Min', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd']);
/** Layout ops: channels-last canonically, channels-first in ONNX. */
const LAYOUT = new Set(['Conv', 'DepthwiseConv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'BatchNormalization', 'InstanceNormalization', 'DepthToSpace', 'SpaceToDepth']);
/** Views other than Identity (Reshape, Flatten, Squeeze, Unsqueeze, Dropout): each is a Reshape to its static shape. */
const SHAPE_ONLY = new Set([...opsWith((t) => t.movement === 'view')].filter((op) => !SAME_UNARY.has(op)));
const OTHER = new Set(['Cast', 'Transpose', 'Concat', 'Split', 'Pad', 'Slice', 'Softmax', 'LogSoftmax', 'FullyConnected', 'Gemm', 'MatMul', 'Quantize', 'Dequantize', 'Clip', 'HardSwish', 'Resize', 'TopK', 'Gather']);

function supported(op: string): boolean {
  return SAME_UNARY.has(op) || op in FLOAT_ATTR_UNARY || BINARY.has(op) || REDUCE.has(op) || LAYOUT.has(op) || SHAPE_ONLY.has(op) || OTHER.has(op);
}

const QUANTIZED: readonly DType[] = ['int8', 'uint8'];

function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

/** Channels-last → channels-first: [0, r-1, 1, ..., r-2]. */
function toChannelsFirst(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}

function samePerm(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isIdentity(p: readonly number[]): boolean {
  return p.every((x, i) => x === i);
}

class OnnxExporter {
  private readonly infos = new Map<string, ValueInfo>();
  private readonly nodes: OnnxNodeSpec[] = [];
  private readonly initializers: Record<string, Tensor> = {};
  private readonly reserved = new Set<string>();
  private readonly reps = new Map<string, Rep[]>();
  private readonly dequantized = new Map<string, string>();
  private readonly paramCache = new Map<string, string>();
  /** Canonical names already given to an ONNX tensor. */
  private readonly claimed = new Set<string>();
  private readonly u8Weights = new Map<string, Rep>();
  private node!: Node;

  constructor(private readonly graph: Graph, private readonly options: ExportOnnxOptions) {}

  export(): Uint8Array {
    const g = this.graph;
    const refused = g.nodes.filter((n) => !supported(n.op));
    if (refused.length > 0) {
      throw new CloudlessError('E_UNSUPPORTED', `exporting graph ${g.name} as ONNX: ${refused.length} node(s) have no ONNX form here: ${refused.map((n) => `${n.name} (${n.op})`).join(', ')}`, {
        node: refused[0]!.name, hint: `supported ops: ${[...SAME_UNARY, ...Object.keys(FLOAT_ATTR_UNARY), ...BINARY, ...REDUCE, ...LAYOUT, ...SHAPE_ONLY, ...OTHER].sort().join(', ')}`,
      });
    }
    this.inferShapes();
    for (const name of g.values.keys()) this.reserved.add(name);
    for (const n of g.nodes) for (const o of n.outputs) if (o) this.reserved.add(o);
    for (const name of g.inputs) {
      this.claimed.add(name);
      const rep: Rep = { name, perm: identity(this.info(name).shape.length) };
      this.reps.set(name, [rep]);
      const q = this.quantOf(name);
      if (q && this.storeU8(name)) {
        // Requantized to uint8 once at the edge (same scale: exact), so that the first op fuses like the rest.
        this.node = { name, op: 'input', inputs: [], outputs: [], attrs: {} };
        const u8: Rep = { ...rep, name: this.fresh(`${name}/u8`), u8: true };
        const [s, z] = this.qparams(name, q, 'int8', undefined, true);
        this.emit('QuantizeLinear', [this.floatOf(name, rep), s, z], [u8.name]);
        this.reps.set(name, [u8, rep]);
      }
    }
    for (const node of g.nodes) {
      this.node = node;
      try {
        this.convert(node);
      } catch (err) {
        if (err instanceof CloudlessError && err.node === node.name) throw err;
        throw withContext(err, `exporting graph ${g.name} as ONNX: node ${node.name} (${node.op})`, { node: node.name });
      }
    }
    const outputs: OnnxValueSpec[] = [];
    for (const name of g.outputs) {
      outputs.push(this.valueSpec(name));
      // A graph input that is also an output is already there under its name.
      if (g.inputs.includes(name)) continue;
      const have = this.repIn(name, identity(this.info(name).shape.length));
      if (have.u8) {
        // Back to the canonical int8: the same scale, so DQ → Q is exact.
        const [s, z] = this.qparams(name, this.quantOf(name)!, 'int8');
        this.emit('QuantizeLinear', [this.floatOf(name, have), s, z], [name]);
      } else if (have.name !== name) {
        this.emit('Identity', [have.name], [name]);
      }
    }
    return writeOnnx({
      irVersion: 7,
      opset: EXPORT_OPSET,
      producer: this.options.producer ?? 'cloudless',
      graph: {
        name: g.name,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: g.inputs.map((n) => this.valueSpec(n)),
        outputs,
      },
    });
  }

  private valueSpec(name: string): OnnxValueSpec {
    const i = this.info(name);
    return { name, dtype: i.dtype, shape: i.shape };
  }

  // ---- shapes -----------------------------------------------------------------------------------

  private inferShapes(): void {
    const g = this.graph;
    const needs = 'the ONNX export';
    const infos = staticInfos(g, {
      inputShapes: this.options.inputShapes,
      require: { needs, hint: 'pass inputShapes to exportOnnx, e.g. { inputShapes: { input: [1, 224, 224, 3] } }' },
      onUnknown: (node, why) => { throw staticShapeError(g, node, why, needs); },
    });
    for (const [name, info] of infos) this.infos.set(name, info);
  }

  private info(name: string): ValueInfo {
    const known = this.infos.get(name);
    if (!known) throw new CloudlessError('E_SHAPE', `graph ${this.graph.name}: the shape of "${name}" is unknown; the ONNX export needs static shapes`, { node: this.node?.name });
    return known;
  }

  private constantOf(name: string): Tensor | undefined {
    return name ? this.graph.values.get(name)?.constant : undefined;
  }

  private quantOf(name: string): QuantParams | undefined {
    const i = this.info(name);
    return QUANTIZED.includes(i.dtype) ? i.quant : undefined;
  }

  // ---- names, nodes, initializers ---------------------------------------------------------------

  private fresh(base: string): string {
    let name = base;
    for (let k = 1; this.reserved.has(name); k++) name = `${base}_${k}`;
    this.reserved.add(name);
    return name;
  }

  private emit(op: string, inputs: string[], outputs: string[], attrs?: Record<string, OnnxAttrSpec>): void {
    this.nodes.push({ op, inputs, outputs, name: this.fresh(`${this.node?.name ?? 'output'}/${op}`), ...(attrs ? { attrs } : {}) });
  }

  private initializer(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.initializers[name] = t;
    return name;
  }

  /** A small constant (scale, zero point, shape...), shared by every node that needs the same one. */
  private param(key: string, make: () => Tensor): string {
    let name = this.paramCache.get(key);
    if (!name) {
      name = this.initializer(`const/${key.slice(0, 40).replace(/[^\w.-]/g, '_')}`, make());
      this.paramCache.set(key, name);
    }
    return name;
  }

  private int64s(values: readonly number[]): string {
    return this.param(`i64:${values.join(',')}`, () => Tensor.fromNumbers('int64', [values.length], values));
  }

  private floats(values: readonly number[]): string {
    return this.param(`f32s:${values.join(',')}`, () => Tensor.fromNumbers('float32', [values.length], values));
  }

  private floatScalar(v: number): string {
    return this.param(`f32:${v}`, () => Tensor.fromNumbers('float32', [], [v]));
  }

  /**
   * Scale and zero point tensors of `owner`'s DequantizeLinear/QuantizeLinear
   * (1-D along the axis when per-axis). Each quantized value gets its own pair,
   * shared only by its own Q and DQ nodes, as onnxruntime's quantizer writes
   * them: onnxruntime's int8→uint8 rewrite of Q/DQ pairs edits these
   * initializers in place and skips pairs whose initializers other nodes share.
   */
  private qparams(owner: string, q: QuantParams, zpType: DType, count?: number, u8 = false): [string, string] {
    const per = q.scale.length > 1;
    const n = count ?? q.scale.length;
    const shape = per ? [n] : [];
    const scales = Array.from(q.scale.slice(0, per ? n : 1));
    const zps = per ? Array.from(q.zeroPoint.length === 1 ? new Array<number>(n).fill(q.zeroPoint[0]!) : q.zeroPoint) : [q.zeroPoint[0] ?? 0];
    if (u8) {
      zpType = 'uint8';
      for (let i = 0; i < zps.length; i++) zps[i]! += 128;
    }
    const key = (what: string) => `${owner}\n${what}${u8 ? '/u8' : ''}`;
    const name = (what: string, make: () => Tensor) => {
      let found = this.paramCache.get(key(what));
      if (!found) {
        found = this.initializer(`${owner}/${what}${u8 ? '_u8' : ''}`, make());
        this.paramCache.set(key(what), found);
      }
      return found;
    };
    return [
      name('scale', () => Tensor.fromNumbers('float32', shape, scales)),
      name('zero_point', () => Tensor.fromNumbers(zpType, shape, zps)),
    ];
  }

  // ---- values in their stored layouts -----------------------------------------------------------

  private addRep(value: string, rep: Rep): void {
    const list = this.reps.get(value);
    if (list) list.push(rep);
    else this.reps.set(value, [rep]);
  }

  /** The name for `value` stored in `perm`: its own name in the canonical layout, a derived one otherwise. */
  private repName(value: string, perm: readonly number[], u8 = false): string {
    // A graph output's own name is kept for its canonical dtype, written at the end from a uint8 form.
    if (u8 && this.graph.outputs.includes(value)) return this.fresh(`${value}/u8`);
    if (isIdentity(perm) && !this.claimed.has(value)) {
      this.claimed.add(value);
      return value;
    }
    return this.fresh(isIdentity(perm) ? `${value}/out` : `${value}/nchw`);
  }

  /** Any stored form of `value` (the first written), for ops that work in every layout. */
  private anyRep(value: string): Rep {
    const list = this.reps.get(value);
    if (list) return list[0]!;
    const c = this.constantOf(value);
    if (!c) throw new CloudlessError('E_INTERNAL', `ONNX export: "${value}" is read before it is written`, { node: this.node.name });
    const rep = { name: this.repName(value, identity(c.rank)), perm: identity(c.rank) };
    this.initializers[rep.name] = c;
    this.addRep(value, rep);
    return rep;
  }

  /** The ONNX name of `value` stored in `perm`, transposing it (constants: their data) when no such form exists yet. */
  private repIn(value: string, perm: readonly number[]): Rep {
    const hit = this.reps.get(value)?.find((r) => samePerm(r.perm, perm));
    if (hit) return hit;
    const c = this.constantOf(value);
    const name = this.repName(value, perm);
    let u8 = false;
    if (c) {
      this.initializers[name] = transposeTensor(c, perm);
    } else {
      const src = this.anyRep(value);
      // transpose(transpose(v, Q), K) = transpose(v, T) when Q[K[j]] = T[j].
      const k = perm.map((t) => src.perm.indexOf(t));
      this.emit('Transpose', [src.name], [name], { perm: k });
      u8 = src.u8 ?? false;
    }
    const rep: Rep = { name, perm: [...perm], ...(u8 ? { u8 } : {}) };
    this.addRep(value, rep);
    return rep;
  }

  /** Float ONNX name of `value` in layout `rep`: int8 values go through a DequantizeLinear (per-axis follows its axis). */
  private floatOf(value: string, rep: Rep): string {
    const q = this.quantOf(value);
    if (!q) {
      if (QUANTIZED.includes(this.info(value).dtype)) {
        throw new CloudlessError('E_UNSUPPORTED', `node ${this.node.name} (${this.node.op}): "${value}" is ${this.info(value).dtype} without quantization parameters`, { node: this.node.name });
      }
      return rep.name;
    }
    // One DequantizeLinear per stored tensor, shared by its consumers, as onnxruntime's quantizer writes them:
    // onnxruntime duplicates a shared DQ per consumer itself, but converts int8 Q/DQ pairs to uint8 (which its
    // x86 QLinear kernels need) only when a QuantizeLinear feeds a single DequantizeLinear.
    const key = rep.name;
    let name = this.dequantized.get(key);
    if (!name) {
      name = this.fresh(`${value}/dq`);
      const [s, z] = this.qparams(value, q, this.info(value).dtype, undefined, rep.u8);
      const per = q.scale.length > 1;
      this.emit('DequantizeLinear', [rep.name, s, z], [name], per ? { axis: rep.perm.indexOf(q.axis ?? 0) } : undefined);
      this.dequantized.set(key, name);
    }
    return name;
  }

  /** Input k as float, in layout `perm` (any layout when null). */
  private floatIn(k: number, perm: readonly number[] | null = null): { name: string; perm: number[] } {
    const value = this.node.inputs[k];
    if (!value) throw new CloudlessError('E_UNSUPPORTED', `node ${this.node.name} (${this.node.op}): input ${k} is required`, { node: this.node.name });
    const rep = perm ? this.repIn(value, perm) : this.anyRep(value);
    return { name: this.floatOf(value, rep), perm: rep.perm };
  }

  private inInfo(k: number): ValueInfo {
    return this.info(this.node.inputs[k]!);
  }

  private outInfo(k = 0): ValueInfo {
    return this.info(this.node.outputs[k]!);
  }

  /**
   * Output k computed in float by `make(name)` and stored in `perm`: then the
   * fused `activation` (Relu / Clip) and, for an int8 output, its QuantizeLinear.
   */
  private produce(perm: readonly number[], make: (out: string) => void, k = 0): void {
    const value = this.node.outputs[k]!;
    const q = this.quantOf(value);
    const act = attrString(this.node, 'activation', 'none');
    const u8 = q !== undefined && this.storeU8(value);
    const final = this.repName(value, perm, u8);
    let cur = act !== 'none' || q ? this.fresh(`${value}/f`) : final;
    make(cur);
    if (act !== 'none') {
      const next = q ? this.fresh(`${value}/act`) : final;
      if (act === 'relu') this.emit('Relu', [cur], [next]);
      else if (act === 'relu6') this.emit('Clip', [cur, this.floatScalar(0), this.floatScalar(6)], [next]);
      else if (act === 'relu_n1_to_1') this.emit('Clip', [cur, this.floatScalar(-1), this.floatScalar(1)], [next]);
      else throw new CloudlessError('E_UNSUPPORTED', `node ${this.node.name} (${this.node.op}): fused activation "${act}" has no ONNX form here`, { node: this.node.name });
      cur = next;
    }
    if (q) {
      if (q.scale.length > 1) throw new CloudlessError('E_UNSUPPORTED', `node ${this.node.name} (${this.node.op}): output "${value}" is quantized per axis; activations must be per-tensor`, { node: this.node.name });
      const [s, z] = this.qparams(value, q, this.info(value).dtype, undefined, u8);
      this.emit('QuantizeLinear', [cur, s, z], [final]);
    }
    this.addRep(value, { name: final, perm: [...perm], ...(u8 ? { u8 } : {}) });
  }

  /** Whether a quantized activation the export computes is stored as uint8. */
  private storeU8(value: string): boolean {
    return this.options.activations === 'uint8' && this.info(value).dtype === 'int8';
  }

  /** Output k written directly by one op on the stored (possibly int8) tensors, in layout `perm`. */
  private produceRaw(perm: readonly number[], op: string, inputs: string[], attrs?: Record<string, OnnxAttrSpec>, u8 = false): void {
    const value = this.node.outputs[0]!;
    const name = this.repName(value, perm, u8);
    this.emit(op, inputs, [name], attrs);
    this.addRep(value, { name, perm: [...perm], ...(u8 ? { u8 } : {}) });
  }

  /**
   * Whether every present input and output share one quantization (or none)
   * and no activation is fused (TFLite's CONCATENATION may carry one), so the
   * stored data can move unchanged.
   */
  private sameQuant(): boolean {
    if (attrString(this.node, 'activation', 'none') !== 'none') return false;
    const names = [...this.node.inputs.filter((n) => n && !this.isIndexInput(n)), ...this.node.outputs.filter(Boolean)];
    const key = (n: string) => {
      const i = this.info(n);
      const q = this.quantOf(n);
      return `${i.dtype}:${q ? `${Array.from(q.scale).join(',')}/${Array.from(q.zeroPoint).join(',')}` : '-'}`;
    };
    return names.every((n) => key(n) === key(names[0]!));
  }

  private isIndexInput(name: string): boolean {
    const d = this.info(name).dtype;
    return (d === 'int64' || d === 'int32') && this.constantOf(name) !== undefined && this.node.op !== 'Concat';
  }

  private constIn(k: number, role: string): Tensor {
    const name = this.node.inputs[k] ?? '';
    const c = this.constantOf(name);
    if (!c) throw new CloudlessError('E_UNSUPPORTED', `node ${this.node.name} (${this.node.op}): its ${role} (input ${k}${name ? `, "${name}"` : ''}) must be a constant`, { node: this.node.name });
    return c;
  }

  private unsupported(message: string): never {
    throw new CloudlessError('E_UNSUPPORTED', `exporting graph ${this.graph.name} as ONNX: node ${this.node.name} (${this.node.op}): ${message}`, { node: this.node.name });
  }

  // ---- ops --------------------------------------------------------------------------------------

  private convert(node: Node): void {
    const op = node.op;
    if (SAME_UNARY.has(op) || op in FLOAT_ATTR_UNARY) {
      const x = this.floatIn(0);
      const attrs: Record<string, OnnxAttrSpec> = {};
      for (const a of FLOAT_ATTR_UNARY[op] ?? []) if (hasAttr(node, a)) attrs[a] = { f: attrFloat(node, a) };
      return this.produce(x.perm, (out) => this.emit(op, [x.name], [out], attrs));
    }
    if (BINARY.has(op)) return this.convertBinary();
    if (REDUCE.has(op)) return this.convertReduce();
    if (SHAPE_ONLY.has(op)) return this.convertReshape();
    switch (op) {
      case 'Conv': case 'DepthwiseConv': return this.convertConv();
      case 'ConvTranspose': return this.convertConvTranspose();
      case 'MaxPool': case 'AveragePool': return this.convertPool();
      case 'BatchNormalization': case 'InstanceNormalization': return this.convertNorm();
      case 'DepthToSpace': case 'SpaceToDepth': return this.convertDepthSpace();
      case 'Transpose': return this.convertTranspose();
      case 'Concat': return this.convertConcat();
      case 'Split': return this.convertSplit();
      case 'Pad': return this.convertPad();
      case 'Slice': return this.convertSlice();
      case 'Softmax': case 'LogSoftmax': {
        const x = this.floatIn(0);
        const rank = this.inInfo(0).shape.length;
        const a = attrInt(node, 'axis', -1);
        return this.produce(x.perm, (out) => this.emit(op, [x.name], [out], { axis: x.perm.indexOf(a < 0 ? a + rank : a) }));
      }
      case 'FullyConnected': return this.convertFullyConnected();
      case 'Resize': return this.convertResize();
      case 'Gather': {
        // In the canonical layout: the output's axes are the data's with `axis` replaced by the indices' axes.
        const rank = this.inInfo(0).shape.length;
        const a = attrInt(node, 'axis', 0);
        const data = this.floatIn(0, identity(rank));
        const indices = this.floatIn(1, identity(this.inInfo(1).shape.length));
        return this.produce(identity(this.outInfo().shape.length), (out) => this.emit('Gather', [data.name, indices.name], [out], { axis: a < 0 ? a + rank : a }));
      }
      case 'TopK': return this.convertTopK();
      case 'Gemm': {
        const [a, b] = [this.floatIn(0, [0, 1]), this.floatIn(1, [0, 1])];
        const c = node.inputs[2] ? [this.floatIn(2).name] : [];
        const attrs: Record<string, OnnxAttrSpec> = {
          alpha: { f: attrFloat(node, 'alpha', 1) }, beta: { f: attrFloat(node, 'beta', 1) },
          transA: attrInt(node, 'transA', 0), transB: attrInt(node, 'transB', 0),
        };
        return this.produce([0, 1], (out) => this.emit('Gemm', [a.name, b.name, ...c], [out], attrs));
      }
      case 'MatMul': {
        const [a, b] = [this.floatIn(0, identity(this.inInfo(0).shape.length)), this.floatIn(1, identity(this.inInfo(1).shape.length))];
        return this.produce(identity(this.outInfo().shape.length), (out) => this.emit('MatMul', [a.name, b.name], [out]));
      }
      case 'Clip': {
        const x = this.floatIn(0);
        const bound = (k: number) => (node.inputs[k] ? this.floatIn(k).name : '');
        const [lo, hi] = [bound(1), bound(2)];
        return this.produce(x.perm, (out) => this.emit('Clip', hi ? [x.name, lo, hi] : lo ? [x.name, lo] : [x.name], [out]));
      }
      case 'HardSwish': {
        const x = this.floatIn(0);
        return this.produce(x.perm, (out) => {
          const gate = this.fresh(`${node.outputs[0]}/gate`);
          this.emit('HardSigmoid', [x.name], [gate], { alpha: { f: 1 / 6 }, beta: { f: 0.5 } });
          this.emit('Mul', [x.name, gate], [out]);
        });
      }
      case 'Quantize': {
        const x = this.floatIn(0);
        const value = node.outputs[0]!;
        const q = this.quantOf(value);
        if (!q || q.scale.length > 1) this.unsupported(`output "${value}" needs per-tensor int8/uint8 quantization parameters`);
        const u8 = this.storeU8(value);
        const [s, z] = this.qparams(value, q, this.info(value).dtype, undefined, u8);
        return this.produceRaw(x.perm, 'QuantizeLinear', [x.name, s, z], undefined, u8);
      }
      case 'Cast': {
        // A Cast converts the stored numbers, not what they mean (TFLite's CAST of an int8 tensor ignores its
        // quantization): it reads the input as the canonical dtype holds it.
        const x = this.reps.get(node.inputs[0]!)?.find((r) => !r.u8) ?? this.anyRep(node.inputs[0]!);
        if (x.u8) this.unsupported('its input is stored as uint8 (exportOnnx option activations: "uint8")');
        return this.produceRaw(x.perm, 'Cast', [x.name], { to: ONNX_TYPE_OF[this.outInfo().dtype] });
      }
      case 'Dequantize': {
        // floatIn already wrote the DequantizeLinear; name its result as this node's output.
        const x = this.floatIn(0);
        return this.produceRaw(x.perm, 'Identity', [x.name]);
      }
    }
    this.unsupported('no ONNX form here');
  }

  /** Layout for an elementwise op: its first input's, when every other input has that rank (constants are transposed) or is a single element. */
  private elementwisePerm(): number[] {
    const node = this.node;
    const rank = this.outInfo().shape.length;
    const first = node.inputs.find((n) => n && !this.constantOf(n) && this.info(n).shape.length === rank);
    if (!first) return identity(rank);
    const perm = this.anyRep(first).perm;
    const fits = node.inputs.every((n) => {
      if (!n) return true;
      const i = this.info(n);
      return i.shape.length === rank || i.shape.reduce((a, b) => a * b, 1) === 1;
    });
    return fits ? perm : identity(rank);
  }

  private convertBinary(): void {
    const perm = this.elementwisePerm();
    const rank = perm.length;
    const ins = this.node.inputs.map((n, k) => {
      const i = this.info(n);
      if (i.shape.length === rank) return this.floatIn(k, perm).name;
      return this.floatIn(k, identity(i.shape.length)).name;
    });
    const attrs: Record<string, OnnxAttrSpec> = this.node.op === 'Mod' ? { fmod: attrInt(this.node, 'fmod', 0) } : {};
    this.produce(perm, (out) => this.emit(this.node.op, ins, [out], attrs));
  }

  private convertReduce(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const axesName = node.inputs[1];
    const axes = resolveReduceAxes(node, rank, axesName ? this.constIn(1, 'axes') : undefined);
    const keep = attrInt(node, 'keepdims', 1) !== 0;
    const x = keep ? this.floatIn(0) : this.floatIn(0, identity(rank));
    const stored = axes.map((a) => x.perm.indexOf(a)).sort((a, b) => a - b);
    const outPerm = keep ? x.perm : identity(this.outInfo().shape.length);
    if (stored.length === 0) return this.produce(outPerm, (out) => this.emit('Identity', [x.name], [out]));
    const attrs: Record<string, OnnxAttrSpec> = { keepdims: keep ? 1 : 0 };
    if (node.op === 'ReduceSum') return this.produce(outPerm, (out) => this.emit('ReduceSum', [x.name, this.int64s(stored)], [out], attrs));
    this.produce(outPerm, (out) => this.emit(node.op, [x.name], [out], { ...attrs, axes: stored }));
  }

  /** Reshape, Flatten, Squeeze, Unsqueeze (and Dropout in inference) are all a Reshape to the inferred static shape. */
  private convertReshape(): void {
    const value = this.node.inputs[0]!;
    const inRank = this.inInfo(0).shape.length;
    const shape = this.int64s(this.outInfo().shape);
    const outPerm = identity(this.outInfo().shape.length);
    if (this.sameQuant()) {
      const x = this.repIn(value, identity(inRank));
      return this.produceRaw(outPerm, 'Reshape', [x.name, shape], undefined, x.u8);
    }
    const x = this.floatIn(0, identity(inRank));
    this.produce(outPerm, (out) => this.emit('Reshape', [x.name, shape], [out]));
  }

  /** A Transpose writes nothing: its output is its input's stored tensors, re-labelled. */
  private convertTranspose(): void {
    const value = this.node.inputs[0]!;
    const out = this.node.outputs[0]!;
    const p = transposePerm(this.node, this.inInfo(0).shape.length);
    if (!this.sameQuant()) {
      const x = this.floatIn(0, identity(p.length));
      return this.produce(identity(p.length), (o) => this.emit('Transpose', [x.name], [o], { perm: p }));
    }
    const src = this.anyRep(value);
    // transpose(out, R) = transpose(in, P∘R) = stored transpose(in, Q) when P[R[j]] = Q[j].
    this.addRep(out, { ...src, perm: src.perm.map((q) => p.indexOf(q)) });
  }

  private convertConcat(): void {
    const node = this.node;
    const rank = this.outInfo().shape.length;
    const perm = this.elementwisePerm();
    const a = attrInt(node, 'axis');
    const axis = perm.indexOf(a < 0 ? a + rank : a);
    const raw = node.inputs.map((n) => this.repIn(n, perm));
    if (this.sameQuant() && raw.every((r) => r.u8 === raw[0]!.u8)) return this.produceRaw(perm, 'Concat', raw.map((r) => r.name), { axis }, raw[0]!.u8);
    const ins = node.inputs.map((_, k) => this.floatIn(k, perm).name);
    this.produce(perm, (out) => this.emit('Concat', ins, [out], { axis }));
  }

  /** Split along the axis of its stored layout; int8 parts keep the input's bytes, so every output needs its quantization. */
  private convertSplit(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const a = attrInt(node, 'axis', 0);
    const canonical = a < 0 ? a + rank : a;
    const outs = node.outputs.filter(Boolean);
    if (outs.length !== node.outputs.length) this.unsupported('an unnamed output');
    const sizes = outs.map((o) => this.info(o).shape[canonical]!);
    if (!this.sameQuant()) this.unsupported('outputs quantized differently from the input');
    const x = this.anyRep(node.inputs[0]!);
    const names = outs.map((o) => this.repName(o, x.perm, x.u8));
    this.emit('Split', [x.name, this.int64s(sizes)], names, { axis: x.perm.indexOf(canonical) });
    outs.forEach((o, i) => this.addRep(o, { ...x, name: names[i]! }));
  }

  /**
   * Resize in whatever layout X is stored: the per-axis roi, scales or sizes are
   * permuted with it. Scales stay scales (they, not out/in, set the coordinate
   * mapping when given); opset 18's `axes` is spread over all axes, its
   * keep_aspect_ratio_policy and antialias have no opset-13 form.
   */
  private convertResize(): void {
    const node = this.node;
    if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch' || attrInt(node, 'antialias', 0) !== 0) {
      this.unsupported('keep_aspect_ratio_policy and antialias (opset 18) have no opset-13 Resize');
    }
    const rank = this.inInfo(0).shape.length;
    const x = this.floatIn(0);
    // With `axes` (opset 18) roi and scales name only those axes: spread them over all, the others untouched.
    const axes = hasAttr(node, 'axes') ? attrInts(node, 'axes').map((a) => (a < 0 ? a + rank : a)) : identity(rank);
    const full = (v: number[] | undefined, fill: (c: number) => number, per: number) => v && Array.from({ length: per * rank }, (_, i) => {
      const c = i % rank, j = axes.indexOf(c);
      return j >= 0 ? v[Math.floor(i / rank) * axes.length + j]! : fill(Math.floor(i / rank));
    });
    const perAxis = (k: number, role: string) => (node.inputs[k] && this.inInfo(k).shape.some((d) => d > 0) ? this.constIn(k, role).toNumbers() : undefined);
    const roi = full(perAxis(1, 'roi'), (half) => half, 2), scales = full(perAxis(2, 'scales'), () => 1, 1);
    const roiName = roi ? this.floats([...x.perm.map((c) => roi[c]!), ...x.perm.map((c) => roi[rank + c]!)]) : '';
    const sizes = this.outInfo().shape;
    const inputs = scales
      ? [x.name, roiName, this.floats(x.perm.map((c) => scales[c]!))]
      : [x.name, roiName, '', this.int64s(x.perm.map((c) => sizes[c]!))];
    const attrs: Record<string, OnnxAttrSpec> = {
      mode: attrString(node, 'mode', 'nearest'),
      coordinate_transformation_mode: attrString(node, 'coordinate_transformation_mode', 'half_pixel'),
      nearest_mode: attrString(node, 'nearest_mode', 'round_prefer_floor'),
      cubic_coeff_a: { f: attrFloat(node, 'cubic_coeff_a', -0.75) },
      exclude_outside: attrInt(node, 'exclude_outside', 0),
      extrapolation_value: { f: attrFloat(node, 'extrapolation_value', 0) },
    };
    this.produce(x.perm, (out) => this.emit('Resize', inputs, [out], attrs));
  }

  /** TopK along the stored position of its axis; the indices come out in the same layout, as int64. */
  private convertTopK(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const a = attrInt(node, 'axis', -1);
    const x = this.floatIn(0);
    const outs = node.outputs;
    if (outs.length !== 2 || !outs[0] || !outs[1]) this.unsupported('both outputs (values and indices) must be named');
    if (this.quantOf(outs[0]!)) this.unsupported('quantized values output');
    const k = this.int64s([Number(this.constIn(1, 'k').toNumbers()[0])]);
    const [values, indices] = [this.repName(outs[0]!, x.perm, false), this.repName(outs[1]!, x.perm, false)];
    this.emit('TopK', [x.name, k], [values, indices], { axis: x.perm.indexOf(a < 0 ? a + rank : a), largest: attrInt(node, 'largest', 1), sorted: attrInt(node, 'sorted', 1) });
    this.addRep(outs[0]!, { name: values, perm: [...x.perm] });
    this.addRep(outs[1]!, { name: indices, perm: [...x.perm] });
  }

  private convertPad(): void {
    const node = this.node;
    const xInfo = this.inInfo(0);
    const rank = xInfo.shape.length;
    const axes = node.inputs[3] ? this.constIn(3, 'axes').toNumbers() : undefined;
    const [begin, end] = padAmounts(node, rank, this.constIn(1, 'pads').toNumbers(), axes);
    const x = this.floatIn(0);
    const pads = this.int64s([...x.perm.map((c) => begin[c]!), ...x.perm.map((c) => end[c]!)]);
    const mode = attrString(node, 'mode', 'constant');
    const inputs = [x.name, pads];
    if (node.inputs[2] && mode === 'constant') {
      const q = this.quantOf(node.inputs[0]!);
      const v = Number(this.constIn(2, 'constant_value').data[0] ?? 0);
      // A quantized pad value is in the input's quantization; the float graph pads with its real value.
      inputs.push(this.floatScalar(q && this.quantOf(node.inputs[2]) === undefined ? q.scale[0]! * (v - q.zeroPoint[0]!) : v));
    }
    this.produce(x.perm, (out) => this.emit('Pad', inputs, [out], { mode }));
  }

  private convertSlice(): void {
    const node = this.node;
    const shape = this.inInfo(0).shape;
    const nums = (k: number, role: string) => (node.inputs[k] ? this.constIn(k, role).toNumbers() : undefined);
    const p = resolveSlice(node, shape, this.constIn(1, 'starts').toNumbers(), this.constIn(2, 'ends').toNumbers(), nums(3, 'axes'), nums(4, 'steps'));
    const x = this.sameQuant() ? this.anyRep(node.inputs[0]!) : undefined;
    const perm = x?.perm ?? this.anyRep(node.inputs[0]!).perm;
    // Ends from the resolved start, step and length; a negative step running past element 0 needs an end
    // below -dim, which ONNX clamps to "before the first element".
    const ends = perm.map((c) => {
      const e = p.starts[c]! + p.shape[c]! * p.steps[c]!;
      return e < 0 ? -(2 ** 53) : e;
    });
    const params = [this.int64s(perm.map((c) => p.starts[c]!)), this.int64s(ends), this.int64s(identity(perm.length)), this.int64s(perm.map((c) => p.steps[c]!))];
    if (x) return this.produceRaw(perm, 'Slice', [x.name, ...params], undefined, x.u8);
    const f = this.floatIn(0, perm);
    this.produce(perm, (out) => this.emit('Slice', [f.name, ...params], [out]));
  }

  // ---- layout ops -------------------------------------------------------------------------------

  private spatialAttrs(kernel: number[], ceil = false): Record<string, OnnxAttrSpec> {
    const x = this.inInfo(0).shape;
    const geo = windowGeometry(this.node, x.slice(1, -1), kernel, ceil);
    return { kernel_shape: kernel, strides: geo.strides, pads: [...geo.padsBegin, ...geo.padsEnd], dilations: geo.dilations };
  }

  /** A constant weight transposed for ONNX, as float or (int8) through DequantizeLinear along its moved axis. */
  private weight(k: number, perm: number[]): string {
    const value = this.node.inputs[k]!;
    const c = this.constIn(k, 'weight');
    if (this.options.weights !== 'uint8' || c.dtype !== 'int8' || !this.quantOf(value)) return this.floatOf(value, this.repIn(value, perm));
    const key = `${value}\n${perm.join(',')}`;
    let rep = this.u8Weights.get(key);
    if (!rep) {
      const t = transposeTensor(c, perm);
      const data = new Uint8Array(t.size);
      for (let i = 0; i < data.length; i++) data[i] = (t.data[i] as number) + 128;
      rep = { name: this.initializer(`${value}/u8`, new Tensor('uint8', t.shape, data)), perm, u8: true };
      this.u8Weights.set(key, rep);
    }
    return this.floatOf(value, rep);
  }

  /** An int32 bias of an int8 op: DequantizeLinear with scale s_x·s_w[c] (the scale TFLite computes with, whatever the file stores). */
  private bias(k: number): string {
    const value = this.node.inputs[k]!;
    const b = this.constIn(k, 'bias');
    if (b.dtype !== 'int32') return this.floatIn(k, [0]).name;
    const sx = this.quantOf(this.node.inputs[0]!);
    const sw = this.quantOf(this.node.inputs[1]!);
    if (!sx || !sw) this.unsupported(`its int32 bias "${value}" needs quantized input and weight`);
    const n = b.size;
    const scale = Array.from({ length: n }, (_, c) => Math.fround(sx.scale[0]! * sw.scale[sw.scale.length === 1 ? 0 : c]!));
    const q: QuantParams = { scale: Float32Array.from(scale), zeroPoint: new Int32Array(n), ...(n > 1 ? { axis: 0 } : {}) };
    const data = this.repIn(value, [0]).name;
    const name = this.fresh(`${value}/dq`);
    const per = new Set(scale).size > 1;
    const [s, z] = this.qparams(value, per ? q : { scale: Float32Array.of(scale[0]!), zeroPoint: Int32Array.of(0) }, 'int32', per ? n : undefined);
    this.emit('DequantizeLinear', [data, s, z], [name], per ? { axis: 0 } : undefined);
    return name;
  }

  private convertConv(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const cf = toChannelsFirst(rank);
    const w = this.inInfo(1).shape;
    const kernel = w.slice(1, -1);
    const x = this.floatIn(0, cf);
    const depthwise = node.op === 'DepthwiseConv';
    // OHWI → OIHW; depthwise 1HWO → O1HW, a Conv with one group per input channel.
    const wName = this.weight(1, depthwise ? [rank - 1, ...identity(rank - 1)] : cf);
    const b = node.inputs[2] ? [this.bias(2)] : [];
    const attrs = this.spatialAttrs(kernel);
    attrs.group = depthwise ? this.inInfo(0).shape[rank - 1]! : attrInt(node, 'group', 1);
    this.produce(cf, (out) => this.emit('Conv', [x.name, wName, ...b], [out], attrs));
  }

  /** ConvTranspose: IHWO → ONNX's [Cin, Cout/group, *K]; output_shape and auto_pad resolved to explicit pads. */
  private convertConvTranspose(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const cf = toChannelsFirst(rank);
    const kernel = this.inInfo(1).shape.slice(1, -1);
    const geo = convTransposeGeometry(node, this.inInfo(0).shape.slice(1, -1), kernel);
    if ([...geo.padsBegin, ...geo.padsEnd].some((v) => v < 0)) this.unsupported('an output_shape larger than the unpadded output (negative pads)');
    const x = this.floatIn(0, cf);
    const w = this.weight(1, cf);
    const b = node.inputs[2] ? [this.bias(2)] : [];
    const attrs: Record<string, OnnxAttrSpec> = {
      kernel_shape: kernel, strides: geo.strides, dilations: geo.dilations, pads: [...geo.padsBegin, ...geo.padsEnd],
      output_padding: geo.outputPadding, group: attrInt(node, 'group', 1),
    };
    this.produce(cf, (out) => this.emit('ConvTranspose', [x.name, w, ...b], [out], attrs));
  }

  private convertPool(): void {
    const node = this.node;
    const rank = this.inInfo(0).shape.length;
    const cf = toChannelsFirst(rank);
    const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
    const attrs = this.spatialAttrs(attrInts(node, 'kernel_shape'), ceil);
    if (ceil) attrs.ceil_mode = 1;
    if (node.op === 'AveragePool') {
      if ((attrs.dilations as number[]).some((d) => d !== 1)) this.unsupported('dilated AveragePool needs opset 19');
      delete attrs.dilations;
      attrs.count_include_pad = attrInt(node, 'count_include_pad', 0);
    }
    const x = this.floatIn(0, cf);
    this.produce(cf, (out) => this.emit(node.op, [x.name], [out], attrs));
  }

  private convertNorm(): void {
    const node = this.node;
    const cf = toChannelsFirst(this.inInfo(0).shape.length);
    const x = this.floatIn(0, cf);
    const params = node.inputs.slice(1).map((_, k) => this.floatIn(k + 1, [0]).name);
    this.produce(cf, (out) => this.emit(node.op, [x.name, ...params], [out], { epsilon: { f: attrFloat(node, 'epsilon', 1e-5) } }));
  }

  private convertDepthSpace(): void {
    const node = this.node;
    const cf = toChannelsFirst(4);
    const attrs: Record<string, OnnxAttrSpec> = { blocksize: attrInt(node, 'blocksize') };
    if (node.op === 'DepthToSpace') attrs.mode = attrString(node, 'mode', 'DCR');
    if (this.sameQuant()) {
      const x = this.repIn(node.inputs[0]!, cf);
      return this.produceRaw(cf, node.op, [x.name], attrs, x.u8);
    }
    const x = this.floatIn(0, cf);
    this.produce(cf, (out) => this.emit(node.op, [x.name], [out], attrs));
  }

  /** FullyConnected = Gemm(x, W, b, transB=1) on x flattened to [rows, K]; onnxruntime fuses its QDQ form. */
  private convertFullyConnected(): void {
    const node = this.node;
    const xShape = this.inInfo(0).shape;
    const [o, k] = this.inInfo(1).shape as [number, number];
    const rows = xShape.reduce((a, b) => a * b, 1) / k;
    const outShape = this.outInfo().shape;
    if (outShape.length !== 2) this.unsupported(`keep_num_dims with an input of rank ${xShape.length}`);
    let x: string;
    if (xShape.length === 2) {
      x = this.floatIn(0, [0, 1]).name;
    } else {
      const flat = this.repIn(node.inputs[0]!, identity(xShape.length));
      const reshaped = this.fresh(`${node.inputs[0]}/rows`);
      this.emit('Reshape', [flat.name, this.int64s([rows, k])], [reshaped]);
      x = this.floatOf(node.inputs[0]!, { name: reshaped, perm: [0, 1], ...(flat.u8 ? { u8: true } : {}) });
    }
    const w = this.weight(1, [0, 1]);
    const b = node.inputs[2] ? [this.bias(2)] : [];
    if (outShape[1] !== o) this.unsupported(`output shape ${shapeToString(outShape)} does not match the weight's ${o} rows`);
    this.produce([0, 1], (out) => this.emit('Gemm', [x, w, ...b], [out], { transB: 1 }));
  }
}

/**
 * Writes a canonical graph (float or int8, static shapes) as an ONNX model
 * (opset 13) that onnxruntime runs. Throws E_UNSUPPORTED naming every node whose
 * op has no ONNX form here, or the node whose attributes cannot be written.
 */
export function exportOnnx(graph: Graph, options: ExportOnnxOptions = {}): Uint8Array {
  return new OnnxExporter(graph, options).export();
}

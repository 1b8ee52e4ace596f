/**
 * ONNX QDQ graphs onto the int8 kernels. onnxruntime's static quantizer writes
 * a float graph in which every quantized tensor is a QuantizeLinear →
 * DequantizeLinear pair and every weight a DequantizeLinear of an int8
 * initializer; the float ops in between are meant to be read as int8 ops. This
 * pass does that reading:
 *
 *   DQ(x_q) ─┐
 *   DQ(W_q) ─┼─ Conv ─ [Relu|Clip] ─ Q(y)  becomes      x_q ─ Conv(W_q, b_q, activation) ─ y_q
 *   DQ(b_q) ─┘
 *
 * for Conv, DepthwiseConv, MatMul/Gemm with a constant weight (→ FullyConnected),
 * Add, Mul, MaxPool, AveragePool and Relu. A Transpose the layout pass put on a
 * weight is applied to the int8 constant. Activations are per-tensor; uint8
 * ones (onnxruntime's default) become int8 with the zero point lowered by 128,
 * which represents the same real numbers. The fused form is kept only when the
 * kernel registry has an int8 kernel for it with these exact parameters;
 * otherwise the node stays float between its DequantizeLinear and
 * QuantizeLinear, which stay as they are (they run as ordinary ops).
 *
 * The layout pass sinks its NCHW↔NHWC Transposes through per-tensor
 * QuantizeLinear and DequantizeLinear, so a QDQ pair between two convs ends up
 * in NHWC with no Transpose around it. What it cannot do is lift the Transpose
 * after a graph input's Q → DQ (or after a DQ read by several consumers) above
 * the pair: this pass does that (per-tensor Q and DQ commute with any
 * Transpose), then composes what meets with the layout pass told not to sink
 * through Q and DQ again.
 *
 * The remaining QuantizeLinear and DequantizeLinear nodes of activations become
 * the canonical Quantize and Dequantize, whose parameters are those of their
 * int8 value, as in TFLite.
 */
import { Tensor, attrInt, staticInfos, type Graph, type KernelRegistry, type Node, type QuantParams, type ValueInfo } from '../ir/index.js';
import type { FusedActivation } from '../ir/ops/nn.js';
import { opsWith } from '../ir/ops/traits.js';
import { fusedActivationOf } from './fuse-activation.js';
import { namesReadBySubgraphs, optimizeLayout } from './layout.js';

export interface QdqFoldReport {
  /** Nodes now computing in int8. */
  folded: number;
  /** Compute nodes between QDQ pairs left in float (no int8 kernel for them), by op. */
  keptFloat: Record<string, number>;
}

/** A per-tensor quantization read from a QuantizeLinear/DequantizeLinear's constant scale and zero point. */
interface QdqParams {
  scale: Float32Array;
  zeroPoint: Int32Array;
  axis?: number;
  /** Element type of the quantized tensor as written. */
  dtype: 'int8' | 'uint8' | 'int32';
}

const SIMPLE = new Set([
  'Add', 'Sub', 'Mul', 'MaxPool', 'AveragePool', 'Relu', 'Resize', 'Concat', 'Sigmoid', 'Tanh', 'HardSwish', 'LeakyRelu',
  'Softmax', 'ReduceMean', 'Clip',
]);
/** Ops whose inputs from this index on are parameters (sizes, axes, bounds), not quantized data: they stay as they are. */
const PARAMS_FROM: Record<string, number> = { Resize: 1, ReduceMean: 1, Clip: 1 };
/** Ops that move an int8 value's elements without changing them (its quantization holds for the output). */
const MOVES = opsWith((t) => t.movement === 'view' || t.movement === 'permute');
const WEIGHTED = new Set(['Conv', 'DepthwiseConv', 'MatMul', 'Gemm']);

/** Scale and zero point of a QuantizeLinear/DequantizeLinear node, when both are constants of a supported type. */
function paramsOf(g: Graph, n: Node, dataType: string | undefined): QdqParams | undefined {
  const s = g.constant(n.inputs[1]);
  if (!s || s.dtype !== 'float32') return undefined;
  const z = n.inputs[2] ? g.constant(n.inputs[2]) : undefined;
  if (n.inputs[2] && !z) return undefined;
  const dtype = (z?.dtype ?? dataType ?? 'uint8') as QdqParams['dtype'];
  if (dtype !== 'int8' && dtype !== 'uint8' && dtype !== 'int32') return undefined;
  const scale = Float32Array.from(s.data as Float32Array);
  const zeroPoint = z ? Int32Array.from(z.toNumbers()) : new Int32Array(scale.length);
  const p: QdqParams = { scale, zeroPoint, dtype };
  if (scale.length > 1) p.axis = attrInt(n, 'axis', 1);
  return p;
}

/** The int8 form of a per-tensor activation quantization (uint8 q ↔ int8 q − 128, same real values). */
function activationQuant(p: QdqParams): QuantParams | undefined {
  if (p.scale.length !== 1 || p.dtype === 'int32') return undefined;
  return { scale: p.scale, zeroPoint: Int32Array.of(p.zeroPoint[0]! - (p.dtype === 'uint8' ? 128 : 0)) };
}

function transposeConstant(t: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]!);
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Int8Array(t.size);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += idx[k]! * strides[perm[k]!]!;
    out[o] = t.data[src] as number;
    for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k]! < shape[k]!) break; idx[k] = 0; }
  }
  let quant = t.quant;
  if (quant?.axis !== undefined) quant = { ...quant, axis: perm.indexOf(quant.axis) };
  return new Tensor('int8', shape, out, quant);
}

class QdqFolder {
  private producers = new Map<string, Node>();
  private consumers = new Map<string, Node[]>();
  private readonly removed = new Set<Node>();
  readonly report: QdqFoldReport = { folded: 0, keptFloat: {} };

  constructor(private readonly g: Graph, private readonly registry: KernelRegistry) {}

  private index(): void {
    this.producers = this.g.producers();
    this.consumers = this.g.consumers();
  }

  private only(name: string): Node | undefined {
    const c = this.consumers.get(name) ?? [];
    return c.length === 1 && !this.g.outputs.includes(name) ? c[0] : undefined;
  }

  /** For a value that is DequantizeLinear(q) of a non-constant q: q and its int8 quantization. */
  private quantizedActivation(name: string): { q: string; quant: QuantParams } | undefined {
    const dq = this.producers.get(name);
    if (!dq || dq.op !== 'DequantizeLinear' || this.g.constant(dq.inputs[0])) return undefined;
    const p = paramsOf(this.g, dq, this.g.values.get(dq.inputs[0]!)?.dtype);
    const quant = p && activationQuant(p);
    return quant ? { q: dq.inputs[0]!, quant } : undefined;
  }

  /** For a value that is DequantizeLinear of a per-tensor int8 or uint8 constant: that constant as int8 with its quantization. */
  private quantizedConstant(name: string): Tensor | undefined {
    const dq = this.producers.get(name);
    const c = dq?.op === 'DequantizeLinear' ? this.g.constant(dq.inputs[0]) : undefined;
    if (!c || (c.dtype !== 'int8' && c.dtype !== 'uint8')) return undefined;
    const p = paramsOf(this.g, dq!, c.dtype);
    const quant = p && activationQuant(p);
    if (!quant) return undefined;
    const data = c.dtype === 'int8' ? c.data as Int8Array : Int8Array.from(c.data as Uint8Array, (v) => v - 128);
    return new Tensor('int8', [...c.shape], data, quant);
  }

  /** For a weight value: DequantizeLinear(int8 constant), perhaps through a Transpose, as an int8 constant. */
  private quantizedWeight(name: string): Tensor | undefined {
    let node = this.producers.get(name);
    let perm: number[] | undefined;
    if (node?.op === 'Transpose') {
      perm = node.attrs['perm'] as number[];
      node = this.producers.get(node.inputs[0]!);
    }
    if (!node || node.op !== 'DequantizeLinear') return undefined;
    const w = this.g.constant(node.inputs[0]);
    const p = paramsOf(this.g, node, w?.dtype);
    if (!w || !p || w.dtype !== 'int8' || p.zeroPoint.some((z) => z !== 0)) return undefined;
    const quant: QuantParams = { scale: p.scale, zeroPoint: p.zeroPoint };
    if (p.axis !== undefined) quant.axis = p.axis < 0 ? p.axis + w.rank : p.axis;
    const t = new Tensor('int8', w.shape, w.data, quant);
    return perm ? transposeConstant(t, perm) : t;
  }

  /** The bias as int32 with scale s_x · s_w: a DequantizeLinear(int32 constant) or a float constant. */
  private quantizedBias(name: string, inputScale: number, w: QuantParams): Tensor | undefined {
    const wScale = (c: number) => w.scale[w.scale.length === 1 ? 0 : c]!;
    const f = this.g.constant(name);
    let real: Float64Array;
    if (f?.dtype === 'float32') {
      real = Float64Array.from(f.data as Float32Array);
    } else {
      const dq = this.producers.get(name);
      const b = dq?.op === 'DequantizeLinear' ? this.g.constant(dq.inputs[0]) : undefined;
      const p = dq && b ? paramsOf(this.g, dq, b.dtype) : undefined;
      if (!b || !p || b.dtype !== 'int32' || p.zeroPoint.some((z) => z !== 0)) return undefined;
      real = Float64Array.from(b.toNumbers(), (v, c) => v * p.scale[p.scale.length === 1 ? 0 : c]!);
    }
    const scale = Float32Array.from(real, (_, c) => inputScale * wScale(c));
    const q = Int32Array.from(real, (v, c) => Math.round(v / scale[c]!));
    const quant: QuantParams = { scale, zeroPoint: new Int32Array(real.length) };
    if (real.length > 1) quant.axis = 0;
    return new Tensor('int32', [real.length], q, quant);
  }

  /**
   * The QuantizeLinear that alone reads `name` (through a Relu or Clip that
   * can be fused: clamping before quantizing equals clamping the int8 result
   * to the bounds' quantized values), and the int8 output.
   */
  private quantizedOutput(name: string, canFuse: boolean):
    { out: string; quant: QuantParams; relu?: Node; activation?: FusedActivation; q: Node } | undefined {
    let next = this.only(name);
    let relu: Node | undefined;
    const activation = canFuse && next ? fusedActivationOf(this.g, next) : undefined;
    if (activation) {
      relu = next;
      next = this.only(next!.outputs[0]!);
    }
    if (!next || next.op !== 'QuantizeLinear') return undefined;
    const p = paramsOf(this.g, next, undefined);
    const quant = p && activationQuant(p);
    return quant ? { out: next.outputs[0]!, quant, relu, activation, q: next } : undefined;
  }

  private kernelExists(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): boolean {
    return 'kernel' in this.registry.find(['ref'], node, inputs, outputs);
  }

  /** Tries to fold one compute node; returns whether it did. */
  private fold(node: Node, activationShape: (name: string) => number[] | undefined): boolean {
    const weighted = WEIGHTED.has(node.op);
    const paramsFrom = PARAMS_FROM[node.op] ?? node.inputs.length;
    const dataInputs = weighted ? [node.inputs[0]!] : node.inputs.filter((i, k) => i && k < paramsFrom);
    const constants: [string, Tensor][] = [];
    // A data input is an int8 activation, or (an operand of Add, Mul, Concat...) an int8 constant behind its DequantizeLinear.
    const acts = dataInputs.map((i, k) => {
      const a = this.quantizedActivation(i);
      if (a || weighted) return a;
      const c = this.quantizedConstant(i);
      if (!c) return undefined;
      const q = this.g.uniqueName(`${node.name}/input${k}_int8`);
      constants.push([q, c]);
      return { q, quant: c.quant! };
    });
    if (acts.some((a) => !a)) return false;
    const out = this.quantizedOutput(node.outputs[0]!, weighted);
    if (!out) return false;
    const x = acts as { q: string; quant: QuantParams }[];

    const newNode: Node = { ...node, attrs: { ...node.attrs } };
    if (weighted) {
      let w = this.quantizedWeight(node.inputs[1]!);
      if (!w) return false;
      if (node.op === 'MatMul' || node.op === 'Gemm') {
        // FullyConnected wants [O, K] with per-channel scales on axis 0.
        if (w.rank !== 2) return false;
        if (node.op === 'Gemm' && (attrInt(node, 'transA', 0) !== 0 || node.attrs['alpha'] !== undefined && node.attrs['alpha'] !== 1)) return false;
        const transposed = node.op === 'Gemm' && attrInt(node, 'transB', 0) !== 0;
        if (!transposed) w = transposeConstant(w, [1, 0]);
        newNode.op = 'FullyConnected';
        newNode.attrs = node.op === 'MatMul' ? { keep_num_dims: 1 } : {};
      }
      const inputScale = x[0]!.quant.scale[0]!;
      const inputs = [x[0]!.q, `${node.name}/weight_int8`];
      constants.push([inputs[1]!, w]);
      const biasName = node.op === 'Gemm' ? node.inputs[2] : node.op === 'MatMul' ? undefined : node.inputs[2];
      if (biasName) {
        const b = this.quantizedBias(biasName, inputScale, w.quant!);
        if (!b) return false;
        inputs.push(`${node.name}/bias_int32`);
        constants.push([inputs[2]!, b]);
      }
      newNode.inputs = inputs;
      if (out.activation) newNode.attrs['activation'] = out.activation;
    } else {
      newNode.inputs = node.inputs.map((i, k) => (i && k < paramsFrom ? x[dataInputs.indexOf(i)]!.q : i));
    }
    newNode.outputs = [out.out];

    const info = (name: string, quant: QuantParams): ValueInfo | undefined => {
      const shape = activationShape(name);
      return shape ? { dtype: 'int8', shape, quant } : undefined;
    };
    const inInfos = newNode.inputs.map((name, k): ValueInfo | undefined => {
      if (!name) return undefined;
      const c = constants.find(([n]) => n === name)?.[1] ?? (k >= paramsFrom ? this.g.constant(name) : undefined);
      if (c) return { dtype: c.dtype, shape: [...c.shape], quant: c.quant };
      const a = x.find((v) => v.q === name);
      return a ? info(name, a.quant) : undefined;
    });
    const outInfo = info(out.out, out.quant);
    if (!outInfo || inInfos.some((i, k) => !i && newNode.inputs[k])) return false;
    if (!this.kernelExists(newNode, inInfos, [outInfo])) {
      this.report.keptFloat[node.op] = (this.report.keptFloat[node.op] ?? 0) + 1;
      return false;
    }

    for (const [name, t] of constants) this.g.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t, quant: t.quant });
    for (const [k, name] of newNode.inputs.entries()) {
      const a = x.find((v) => v.q === name);
      if (a && !constants.some(([n]) => n === name)) this.g.setValue({ name, dtype: 'int8', shape: inInfos[k]!.shape, quant: a.quant });
    }
    this.g.setValue({ name: out.out, dtype: 'int8', shape: outInfo.shape, quant: out.quant });
    Object.assign(node, newNode);
    this.removed.add(out.q);
    if (out.relu) this.removed.add(out.relu);
    this.report.folded++;
    return true;
  }

  run(activationShape: (name: string) => number[] | undefined): QdqFoldReport {
    this.index();
    for (const node of [...this.g.nodes]) {
      if (this.removed.has(node) || !(WEIGHTED.has(node.op) || SIMPLE.has(node.op))) continue;
      if (this.fold(node, activationShape)) this.index();
    }
    this.g.nodes = this.g.nodes.filter((n) => !this.removed.has(n));
    this.canonicalizeBoundaries();
    this.dropDead();
    return this.report;
  }

  /**
   * Activation QuantizeLinear/DequantizeLinear → Quantize/Dequantize with the
   * int8 value's parameters. Values that only move the elements of an int8
   * value (Reshape, Transpose, ...) carry its quantization on, so a
   * DequantizeLinear after them finds it (uint8 QDQ exports reshape before
   * their last DequantizeLinear).
   */
  private canonicalizeBoundaries(): void {
    this.index();
    for (const n of this.g.nodes) {
      if (MOVES.has(n.op)) {
        const x = this.g.values.get(n.inputs[0]!), y = this.g.values.get(n.outputs[0]!);
        if (x?.dtype === 'int8' && x.quant?.scale.length === 1 && !x.constant && (!y || (y.dtype === 'int8' && !y.quant))) {
          this.g.setValue({ ...(y ?? { name: n.outputs[0]! }), name: n.outputs[0]!, dtype: 'int8', quant: x.quant });
        }
        continue;
      }
      if (n.op === 'QuantizeLinear') {
        const p = paramsOf(this.g, n, undefined);
        const quant = p && activationQuant(p);
        if (!quant || this.g.values.get(n.inputs[0]!)?.constant) continue;
        const shape = this.g.values.get(n.outputs[0]!)?.shape ?? this.g.values.get(n.inputs[0]!)?.shape;
        this.g.setValue({ name: n.outputs[0]!, dtype: 'int8', shape, quant });
        n.op = 'Quantize';
        n.inputs = [n.inputs[0]!];
        n.attrs = { to: 'int8' };
      } else if (n.op === 'DequantizeLinear') {
        const v = this.g.values.get(n.inputs[0]!);
        // Only int8 values this pass produced or declared carry their parameters; others keep the ONNX form.
        if (!v || v.constant || v.dtype !== 'int8' || !v.quant) continue;
        const p = paramsOf(this.g, n, 'int8');
        const quant = p && activationQuant(p);
        if (!quant || quant.scale[0] !== v.quant.scale[0] || quant.zeroPoint[0] !== v.quant.zeroPoint[0]) continue;
        n.op = 'Dequantize';
        n.inputs = [n.inputs[0]!];
        n.attrs = {};
      }
    }
  }

  /** Drops nodes whose outputs nobody reads (weight DequantizeLinears, Transposes), and unread constants. */
  private dropDead(): void {
    for (;;) {
      const used = new Set<string>(this.g.outputs);
      for (const n of this.g.nodes) for (const i of n.inputs) if (i) used.add(i);
      const before = this.g.nodes.length;
      this.g.nodes = this.g.nodes.filter((n) => n.outputs.some((o) => o && used.has(o)));
      if (this.g.nodes.length === before) {
        for (const [name, v] of this.g.values) if (v.constant && !used.has(name)) this.g.values.delete(name);
        return;
      }
    }
  }
}

/**
 * Moves the layout pass's Transposes across per-tensor QuantizeLinear →
 * DequantizeLinear pairs (which commute with any Transpose), in one direction
 * per pattern so that the moves end:
 *   T1 → Q → DQ                 ⇒  Q → DQ → T1 (the layout pass then composes T1 with
 *                                  the Transposes that read DQ, e.g. back to NHWC);
 *   Q → DQ → T, Q not after a T ⇒  T → Q → DQ (a graph input's NCHW→NHWC);
 *   Q → T → DQ                 ⇒  Q → DQ → T (a Transpose of the int8 tensor);
 *   T1 → Q → T2                ⇒  Q → T1 → T2 (the layout pass then composes T1 and T2);
 *   Q → DQ → T, Q read by several DQs  ⇒  Q → T → DQ for that DQ (a Transpose of the int8
 *                                  tensor per reader that needs another layout).
 * Each pair is moved once per call, so the patterns cannot undo each other.
 * Returns how many pairs it moved a Transpose across.
 */
function moveTransposesAcrossQdq(graph: Graph): number {
  const consumers = graph.consumers();
  const producers = graph.producers();
  // A value read by a subgraph (If/Loop bodies) or a graph output has readers the consumer map does not list.
  const pinned = new Set([...graph.outputs, ...namesReadBySubgraphs(graph)]);
  const single = (v: string) => (pinned.has(v) ? undefined : (consumers.get(v)?.length === 1 ? consumers.get(v)![0] : undefined));
  const perTensor = (n: Node | undefined, op: string) => n?.op === op && (graph.constant(n.inputs[1])?.size ?? 0) === 1;
  const done = new Set<Node>();
  let moved = 0;
  /** Rewires a → b (a's output read only by b) as b → a, each keeping its own extra inputs. */
  const swap = (a: Node, b: Node) => {
    const aIn = a.inputs[0]!, mid = a.outputs[0]!, bOut = b.outputs[0]!;
    const tmp = graph.uniqueName(`${bOut}/reordered`);
    graph.values.delete(mid);
    graph.setValue({ name: tmp, dtype: b.op === 'Transpose' ? graph.values.get(aIn)?.dtype ?? 'float32' : (graph.values.get(bOut)?.dtype ?? 'float32') });
    b.inputs = [aIn, ...b.inputs.slice(1)];
    b.outputs = [tmp];
    a.inputs = [tmp, ...a.inputs.slice(1)];
    a.outputs = [bOut];
  };
  for (const q of [...graph.nodes]) {
    if (!perTensor(q, 'QuantizeLinear') || done.has(q)) continue;
    // Q → T → DQ (a Transpose of the int8 tensor, as exporters write for a layout change) ⇒ Q → DQ → T.
    const between = single(q.outputs[0]!);
    const dqAfter = between?.op === 'Transpose' ? single(between.outputs[0]!) : undefined;
    if (between && dqAfter && perTensor(dqAfter, 'DequantizeLinear')) {
      swap(between, dqAfter);
      done.add(q);
      moved++;
      continue;
    }
    // T1 → Q → T2 (an int8 Transpose after Q) ⇒ Q → T1 → T2, which the layout pass composes.
    const before = producers.get(q.inputs[0]!);
    if (before?.op === 'Transpose' && single(q.inputs[0]!) === q && between?.op === 'Transpose' && !graph.outputs.includes(q.outputs[0]!)) {
      swap(before, q);
      done.add(q);
      moved++;
      continue;
    }
    const dq = single(q.outputs[0]!);
    if (!dq || !perTensor(dq, 'DequantizeLinear')) continue;
    const t1 = before?.op === 'Transpose' && single(q.inputs[0]!) === q ? before : undefined;
    const after = single(dq.outputs[0]!);
    const t2 = after?.op === 'Transpose' ? after : undefined;
    if (t1 && !graph.outputs.includes(q.outputs[0]!)) {
      swap(t1, q);
      swap(t1, dq);
    } else if (!t1 && t2 && !graph.outputs.includes(t2.outputs[0]!)) {
      swap(dq, t2);
      swap(q, t2);
    } else {
      continue;
    }
    done.add(q);
    moved++;
  }
  // Q read by several DQs (one per consumer, as exporters write it), each DQ → T ⇒ T → DQ: the
  // Transpose moves onto the int8 tensor, and each DQ meets its consumer directly.
  for (const dq of [...graph.nodes]) {
    if (!perTensor(dq, 'DequantizeLinear')) continue;
    const t = single(dq.outputs[0]!);
    if (t?.op !== 'Transpose' || graph.outputs.includes(t.outputs[0]!)) continue;
    const src = producers.get(dq.inputs[0]!);
    if (!src || src.op !== 'QuantizeLinear' || done.has(src) || single(dq.inputs[0]!) === dq) continue;
    swap(dq, t);
    moved++;
  }
  if (moved) graph.sortTopologically();
  return moved;
}

/**
 * Folds QDQ patterns into int8 nodes in place (see the file comment); the
 * registry decides which int8 kernels exist. The graph must be in canonical
 * (NHWC) form, after the layout pass.
 */
export function foldQdq(graph: Graph, registry: KernelRegistry): QdqFoldReport {
  if (!graph.nodes.some((n) => n.op === 'QuantizeLinear') || !graph.nodes.some((n) => n.op === 'DequantizeLinear')) {
    return { folded: 0, keptFloat: {} };
  }
  graph.sortTopologically();
  if (moveTransposesAcrossQdq(graph)) optimizeLayout(graph, { throughQdq: false });
  // Values whose shape depends on what is not known are left out, and the nodes that need them are not folded.
  const shapes = staticInfos(graph);
  return new QdqFolder(graph, registry).run((name) => shapes.get(name)?.shape);
}

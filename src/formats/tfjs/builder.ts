/**
 * The state and emit helpers of the TF.js importer: value names and aliases,
 * constants, node emission and the undo of a node that cannot be mapped. The op
 * switch that drives them is ops.ts.
 */
import { Graph, Tensor, type AttrValue, type DType } from '../../ir/index.js';
import { transposeTensor } from '../../ir/tensor-ops.js';
import {
  ACTIVATION_ATTR, Attrs, TFJS_UNSUPPORTED_PREFIX, Unmappable, formatError, int64Tensor, isObject, tfDtype, unsupportedTfjsOps,
  type DecodedWeight, type RawModel, type RawNode,
} from './model-json.js';

export abstract class TfjsGraphBuilder {
  protected readonly graph: Graph;
  /** TF tensor reference ("node" or "node:k") → the IR value holding it. */
  protected readonly alias = new Map<string, string>();
  /** Value names the TF graph will define, so generated names never collide with them. */
  protected readonly reserved = new Set<string>();
  protected readonly byName = new Map<string, RawNode>();
  /** Highest output index read of each node, for ops with a variable number of outputs. */
  protected readonly outputsUsed = new Map<string, number>();
  protected readonly convertedConsts = new Map<string, string>();
  protected readonly unsupportedReasons: string[] = [];
  protected created: string[] = [];
  protected readonly nodeNames = new Set<string>();
  protected current!: RawNode;

  constructor(protected readonly model: RawModel, protected readonly nodes: RawNode[],
    protected readonly weights: Map<string, DecodedWeight>, protected readonly source: string) {
    // The graph is named after the json, or after its folder when the json is the usual model.json.
    const parts = source.split(/[\\/]/);
    const base = (parts[parts.length - 1] ?? source).replace(/\.json$/i, '');
    this.graph = new Graph(base === 'model' ? parts[parts.length - 2] || base : base, { format: 'tfjs', source });
  }

  run(): Graph {
    for (const n of this.nodes) {
      if (this.byName.has(n.name)) throw formatError(this.source, `two nodes are named ${n.name}`, n.name);
      this.byName.set(n.name, n);
      this.reserved.add(n.name);
    }
    for (const n of this.nodes) {
      for (const ref of n.input) {
        if (ref.startsWith('^')) continue;
        const { node, index } = this.parseRef(ref, n);
        this.outputsUsed.set(node, Math.max(this.outputsUsed.get(node) ?? 0, index));
        if (index > 0) this.reserved.add(`${node}:${index}`);
      }
    }
    for (const n of this.topologicalOrder()) this.importNode(n);
    this.setOutputs();
    this.dropUnreadConstants();
    const unsupported = unsupportedTfjsOps(this.graph);
    if (unsupported.length > 0) {
      (this.graph.meta.warnings ??= []).push(
        `ops with no cloudless mapping: ${unsupported.map((o) => o.slice(TFJS_UNSUPPORTED_PREFIX.length)).join(', ')}`,
        ...this.unsupportedReasons,
      );
    }
    this.graph.sortTopologically();
    return this.graph;
  }

  /** Weights whose layout was converted (and Consts nothing reads) would otherwise count twice in weightBytes. */
  protected dropUnreadConstants(): void {
    const read = new Set(this.graph.outputs);
    for (const n of this.graph.nodes) for (const i of n.inputs) read.add(i);
    for (const [name, v] of this.graph.values) if (v.constant && !read.has(name)) this.graph.values.delete(name);
  }

  protected parseRef(ref: string, user: RawNode): { node: string; index: number } {
    const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
    const node = m[1]!;
    if (!this.byName.has(node)) {
      throw formatError(this.source, `node ${user.name} (${user.op}) reads "${ref}", but no node is named ${node}`, user.name);
    }
    return { node, index: m[2] === undefined ? 0 : Number(m[2]) };
  }

  /** TF graphs are not stored in order; control edges only order side effects, which inference has none of. */
  protected topologicalOrder(): RawNode[] {
    const state = new Map<string, 1 | 2>();
    const order: RawNode[] = [];
    for (const root of this.nodes) {
      if (state.has(root.name)) continue;
      const stack: { node: RawNode; next: number }[] = [{ node: root, next: 0 }];
      state.set(root.name, 1);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const inputs = top.node.input;
        if (top.next < inputs.length) {
          const ref = inputs[top.next++]!;
          if (ref.startsWith('^')) continue;
          const dep = this.byName.get(this.parseRef(ref, top.node).node)!;
          const s = state.get(dep.name);
          if (s === 1) throw formatError(this.source, `the graph has a cycle through node ${dep.name} (control flow is not supported)`, dep.name);
          if (s === undefined) { state.set(dep.name, 1); stack.push({ node: dep, next: 0 }); }
        } else {
          state.set(top.node.name, 2);
          order.push(top.node);
          stack.pop();
        }
      }
    }
    return order;
  }

  protected setOutputs(): void {
    const sigOut = this.model.signature?.outputs;
    let refs: string[];
    if (isObject(sigOut) && Object.keys(sigOut).length > 0) {
      refs = Object.entries(sigOut).map(([k, v]) => (isObject(v) && typeof v.name === 'string' ? v.name : k));
    } else {
      const read = new Set<string>();
      for (const n of this.nodes) for (const r of n.input) read.add(r.replace(/^\^/, '').replace(/:\d+$/, ''));
      refs = this.nodes.filter((n) => !read.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder').map((n) => n.name);
    }
    for (const ref of refs) {
      const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
      const nodeName = m[1]!;
      const index = m[2] === undefined ? 0 : Number(m[2]);
      if (!this.byName.has(nodeName)) throw formatError(this.source, `signature output ${ref} names no node`);
      const wanted = index === 0 ? nodeName : `${nodeName}:${index}`;
      const actual = this.resolve(wanted);
      let out = actual;
      // Pass-through nodes (Identity) vanish on import; keep the model's output names by copying.
      if (actual !== wanted) {
        this.created = [];
        this.current = this.byName.get(nodeName)!;
        out = wanted;
        this.graph.setValue({ name: out, dtype: this.dtypeOf(actual) });
        this.graph.addNode({ name: `${nodeName}/output`, op: 'Identity', inputs: [actual], outputs: [out], attrs: {} });
      }
      if (!this.graph.outputs.includes(out)) this.graph.outputs.push(out);
    }
  }

  protected resolve(ref: string): string {
    const key = ref.endsWith(':0') ? ref.slice(0, -2) : ref;
    const v = this.alias.get(key);
    if (v === undefined) {
      throw formatError(this.source, `"${ref}" is read but its node defines no such output`, this.current?.name);
    }
    return v;
  }

  protected dtypeOf(value: string): DType {
    return this.graph.value(value).dtype;
  }

  protected constantOf(value: string): Tensor | undefined {
    return this.graph.values.get(value)?.constant;
  }

  /** A value name not used by the graph nor by any TF node. */
  protected fresh(base: string): string {
    let name = base;
    for (let i = 1; this.graph.values.has(name) || this.reserved.has(name); i++) name = `${base}_${i}`;
    return name;
  }

  protected addConst(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
    this.created.push(name);
    return name;
  }

  /** Emits one canonical node; returns its output value names. */
  protected emit(op: string, inputs: string[], attrs: Record<string, AttrValue>, outDtypes: DType[], outNames?: string[], suffix = op): string[] {
    const outs = outDtypes.map((dtype, k) => {
      const name = outNames?.[k] ?? this.fresh(`${this.current.name}/${suffix}${k > 0 ? `:${k}` : ''}`);
      this.graph.setValue({ name, dtype });
      this.created.push(name);
      return name;
    });
    // A node that defines a TF output is named after it; helper nodes after the TF node and their role.
    let nodeName = outNames ? outs[0]! : `${this.current.name}/${suffix}`;
    for (let i = 1; this.nodeNames.has(nodeName); i++) nodeName = `${this.current.name}/${suffix}_${i}`;
    this.nodeNames.add(nodeName);
    this.graph.addNode({ name: nodeName, op, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Emits a one-output helper node; returns its output. */
  protected emit1(op: string, inputs: string[], attrs: Record<string, AttrValue>, outDtypes: [DType], outNames?: string[], suffix = op): string {
    return this.emit(op, inputs, attrs, outDtypes, outNames, suffix)[0]!;
  }

  /** The output names a TF node's outputs are known by (output 0 is the node name). */
  protected outName(k: number): string {
    return k === 0 ? this.current.name : `${this.current.name}:${k}`;
  }

  protected bind(k: number, value: string): void {
    this.alias.set(this.outName(k), value);
  }

  protected importNode(n: RawNode): void {
    this.current = n;
    this.created = [];
    const nodesBefore = this.graph.nodes.length;
    const inputs = n.input.filter((r) => !r.startsWith('^')).map((r) => this.resolve(r));
    const attrs = new Attrs(n, this.source);
    try {
      this.mapNode(n, inputs, attrs);
    } catch (err) {
      if (!(err instanceof Unmappable)) throw err;
      // Undo what the mapping emitted before it gave up, then keep the node as an unsupported op.
      for (const dropped of this.graph.nodes.splice(nodesBefore)) this.nodeNames.delete(dropped.name);
      for (const v of this.created) this.graph.values.delete(v);
      this.created = [];
      this.unsupportedReasons.push(`node ${n.name} (${n.op}): ${err.message}`);
      this.emitUnsupported(n, inputs, attrs);
    }
  }

  protected emitUnsupported(n: RawNode, inputs: string[], attrs: Attrs): void {
    const count = (this.outputsUsed.get(n.name) ?? 0) + 1;
    const dtype = tfDtype(attrs.type('T') ?? attrs.type('dtype') ?? attrs.type('DstT')) ?? 'float32';
    const outs = Array.from({ length: count }, (_, k) => this.outName(k));
    this.emit(TFJS_UNSUPPORTED_PREFIX + n.op, inputs, attrs.all(), outs.map(() => dtype), outs);
    outs.forEach((o, k) => this.bind(k, o));
  }

  /** Emits a node whose only output is the TF node's output 0. */
  protected emitAs(op: string, inputs: string[], attrs: Record<string, AttrValue>, dtype: DType): void {
    this.emit(op, inputs, attrs, [dtype], [this.outName(0)]);
    this.bind(0, this.outName(0));
  }

  /** The content of a constant input as numbers, or Unmappable naming what was expected. */
  protected constInts(value: string, what: string): number[] {
    const t = this.constantOf(value);
    if (!t) throw new Unmappable(`${what} must be a constant`);
    return t.toNumbers();
  }

  /** An index/shape input in the int64 form canonical ops take; 0-D becomes [1] when `vector`. */
  protected int64Input(value: string, vector = false): string {
    const key = `${value}|${vector}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const t = this.constantOf(value);
    let out: string;
    if (t) {
      const ints = t.toNumbers();
      out = this.addConst(`${value}/i64`, int64Tensor(ints, vector && t.rank === 0 ? [1] : t.shape));
      this.convertedConsts.set(key, out);
      return out;
    }
    if (this.dtypeOf(value) !== 'int64') value = this.emit1('Cast', [value], { to: 'int64' }, ['int64'], undefined, 'cast_i64');
    if (vector) value = this.emit1('Reshape', [value, this.addConst(`${this.current.name}/minus1`, int64Tensor([-1]))], {}, ['int64'], undefined, 'as_vector');
    return value;
  }

  protected scalarConst(value: number, dtype: DType): string {
    const key = `scalar:${dtype}:${value}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const name = this.addConst(`tfjs/const_${dtype}_${value}`, Tensor.scalar(dtype, value));
    this.convertedConsts.set(key, name);
    return name;
  }

  protected requireNHWC(attrs: Attrs): void {
    const f = attrs.string('data_format', 'NHWC');
    if (f !== 'NHWC') throw new Unmappable(`data_format ${f} is not supported (TF.js graph models are NHWC)`);
  }

  /** strides/dilations/padding of a TF conv or pool in NHWC order → canonical attrs. */
  protected windowAttrs(attrs: Attrs, withDilations: boolean): Record<string, AttrValue> {
    const out: Record<string, AttrValue> = {};
    const strides = attrs.ints('strides');
    if (strides.length === 4) out.strides = [strides[1]!, strides[2]!];
    else if (strides.length !== 0) throw new Unmappable(`strides must list 4 values, got ${strides.length}`);
    if (withDilations) {
      const dil = attrs.ints('dilations');
      if (dil.length === 4) out.dilations = [dil[1]!, dil[2]!];
      else if (dil.length !== 0) throw new Unmappable(`dilations must list 4 values, got ${dil.length}`);
    }
    const padding = attrs.string('padding', 'VALID');
    if (padding === 'SAME') out.auto_pad = 'SAME_UPPER';
    else if (padding === 'VALID') out.auto_pad = 'VALID';
    else if (padding === 'EXPLICIT') {
      const p = attrs.ints('explicit_paddings');
      if (p.length !== 8) throw new Unmappable(`explicit_paddings must list 8 values, got ${p.length}`);
      out.auto_pad = 'NOTSET';
      out.pads = [p[2]!, p[4]!, p[3]!, p[5]!];
    } else {
      throw new Unmappable(`padding "${padding}" is not one of SAME, VALID, EXPLICIT`);
    }
    return out;
  }

  /** A constant conv weight in the canonical layout, converted once however many nodes share it. */
  protected convWeight(value: string, kind: 'conv' | 'depthwise' | 'transpose'): string {
    const key = `${kind}:${value}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const t = this.constantOf(value);
    let out: string;
    if (t) {
      if (t.rank !== 4) throw new Unmappable(`weight ${value} must be 4-D, got rank ${t.rank}`);
      const [h, w, c, m] = t.shape as [number, number, number, number];
      // HWIO → OHWI for Conv2D; HW[Cout,Cin] → [Cin]HW[Cout] (IHWO) for Conv2DBackpropInput; HWCM → 1HW(C·M) keeps the bytes.
      const converted = kind === 'depthwise' ? t.reshape([1, h, w, c * m]) : transposeTensor(t, [3, 0, 1, 2]);
      out = this.addConst(`${value}/${kind === 'depthwise' ? '1HWO' : kind === 'conv' ? 'OHWI' : 'IHWO'}`, converted);
      this.convertedConsts.set(key, out);
      return out;
    }
    if (kind === 'depthwise') {
      const [u] = this.emit('Unsqueeze', [value, this.addConst(`${this.current.name}/axis0`, int64Tensor([0]))], {}, [this.dtypeOf(value)], undefined, 'weight_unsqueeze');
      return this.emit('Reshape', [u!, this.addConst(`${this.current.name}/weight_shape`, int64Tensor([0, 0, 0, -1]))], {}, [this.dtypeOf(value)], undefined, 'weight_1HWO')[0]!;
    }
    return this.emit('Transpose', [value], { perm: [3, 0, 1, 2] }, [this.dtypeOf(value)], undefined, 'weight_layout')[0]!;
  }

  /**
   * The fused tail of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul: which bias
   * goes into the op, which activation folds into its `activation` attr, and what follows it.
   */
  protected fusedTail(attrs: Attrs, extra: string[]): { bias?: string; activation?: string; after: (y: string, dtype: DType) => string } {
    const ops = attrs.strings('fused_ops');
    const numArgs = attrs.int('num_args', extra.length);
    if (extra.length < numArgs) throw new Unmappable(`num_args is ${numArgs} but only ${extra.length} extra inputs are given`);
    let k = 0;
    let bias: string | undefined;
    let bn: string[] | undefined;
    const first = ops[0];
    if (first === 'BiasAdd') { bias = extra[k++]; }
    else if (first === 'FusedBatchNorm') { bn = extra.slice(0, 4); k = 4; if (bn.length < 4) throw new Unmappable('FusedBatchNorm needs 4 arguments'); }
    const actOp = first === 'BiasAdd' || first === 'FusedBatchNorm' ? ops[1] : first;
    if (ops.length > (actOp === first ? 1 : 2)) throw new Unmappable(`fused_ops ${ops.join(',')} is not a supported combination`);
    const epsilon = attrs.float('epsilon', 0.0001);
    const alpha = attrs.float('leakyrelu_alpha', 0.2);
    const preluArg = actOp === 'Prelu' ? extra[k++] : undefined;
    if (actOp === 'Prelu' && !preluArg) throw new Unmappable('fused Prelu needs its alpha argument');
    const act = actOp?.toLowerCase();
    const foldable = !bn && act !== undefined && ACTIVATION_ATTR[act] !== undefined;
    const unaryAfter: Record<string, string> = { elu: 'Elu', sigmoid: 'Sigmoid', tanh: 'Tanh', relu: 'Relu' };
    if (act !== undefined && !foldable && act !== 'relu6' && act !== 'leakyrelu' && act !== 'prelu' && !unaryAfter[act]) {
      throw new Unmappable(`fused activation ${actOp} is not supported`);
    }
    return {
      bias,
      activation: foldable ? ACTIVATION_ATTR[act!] : undefined,
      after: (y, dtype) => {
        if (bn) {
          y = this.emit1('BatchNormalization', [y, ...bn], { epsilon }, [dtype], undefined, 'batchnorm');
        }
        if (foldable || act === undefined) return y!;
        if (act === 'relu6') return this.emit('Clip', [y!, this.scalarConst(0, dtype), this.scalarConst(6, dtype)], {}, [dtype], undefined, 'relu6')[0]!;
        if (act === 'leakyrelu') return this.emit('LeakyRelu', [y!], { alpha }, [dtype], undefined, 'leakyrelu')[0]!;
        if (act === 'prelu') return this.emit('PRelu', [y!, preluArg!], {}, [dtype], undefined, 'prelu')[0]!;
        return this.emit(unaryAfter[act]!, [y!], {}, [dtype], undefined, act)[0]!;
      },
    };
  }

  protected finish(value: string): void {
    if (value === this.outName(0)) { this.bind(0, value); return; }
    // The last emitted node's output takes the TF node's name, so the graph keeps TF's names.
    const node = this.graph.nodes[this.graph.nodes.length - 1];
    if (node && node.outputs[0] === value && !this.reserved.has(value)) {
      const v = this.graph.value(value);
      this.graph.values.delete(value);
      this.graph.setValue({ ...v, name: this.outName(0) });
      node.outputs[0] = this.outName(0);
      this.nodeNames.delete(node.name);
      node.name = this.current.name;
      this.nodeNames.add(node.name);
      this.bind(0, this.outName(0));
      return;
    }
    this.bind(0, value);
  }

  /** Maps one TF node onto canonical ops (ops.ts), or throws Unmappable. */
  protected abstract mapNode(n: RawNode, inputs: string[], attrs: Attrs): void;
}

/**
 * Layout pass: removes the transposes that importers of channels-first models
 * put around every layout-sensitive op.
 *
 * The ONNX importer emits, per conv, `Transpose(to N*C) → Conv → Transpose(to
 * NC*)`, so a conv net reads `... Conv → T⁻¹ → Relu → T → Conv ...`. This pass
 * sinks each Transpose towards the outputs through ops that commute with it
 * (elementwise ops, per-tensor QuantizeLinear/DequantizeLinear, Concat, Pad,
 * Resize, reductions), composes it with the next Transpose,
 * and drops the pair when the composition is the identity. What remains is a
 * Transpose after each graph input and before each graph output, plus those in
 * front of ops that care about the full layout (Reshape, Flatten, MatMul).
 *
 * The rewrites never change results: an op `f` commutes with a transpose P
 * when f(P(x)) = P(f'(x)), with f' the same op whose axis-bearing constants
 * (broadcast operands, Concat axis, pads, scales) are re-indexed through P.
 *
 * Algorithm, repeated until nothing changes (each step moves a Transpose
 * strictly downstream or removes one, so it ends):
 *  1. a Transpose with the identity perm is bypassed;
 *  2. a Transpose fed by a Transpose becomes one Transpose of the composed perm,
 *     and of two Transposes of one value with one perm, one goes;
 *  3. only when 1 and 2 find nothing more: a Transpose moves below each of its
 *     consumers that commute with it (the others keep reading it);
 *  4. nodes whose outputs nobody reads, and unread constants, are removed.
 * Values that are graph outputs or that subgraphs read are never renamed.
 */
import {
  Graph, Tensor, invertPermutation, normalizeAxis,
  type Node,
} from '../ir/index.js';
import { transposeTensor } from '../ir/tensor-ops.js';

const UNARY = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Gelu', 'Mish', 'Softplus', 'Softsign',
  'ThresholdedRelu', 'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Erf', 'Sign', 'Sin', 'Cos', 'Tan',
  'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Not', 'IsNaN', 'IsInf', 'Identity', 'Cast', 'Clip', 'Shrink',
]);
/** Ops whose inputs all broadcast numpy-style against each other. */
const BROADCAST = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'PRelu', 'Max', 'Min', 'Sum', 'Mean', 'And', 'Or', 'Xor',
  'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Where',
]);

/** Reductions keep their rank with keepdims=1, so only their axes need re-indexing. */
const REDUCE = new Set([
  'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp',
]);

function permOf(node: Node): number[] | undefined {
  const p = node.attrs['perm'];
  return Array.isArray(p) && p.every((x) => typeof x === 'number') ? (p as number[]) : undefined;
}

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

function samePerm(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Names read from inside subgraphs (If/Loop/Scan bodies): renaming them would break the bodies. */
export function namesReadBySubgraphs(graph: Graph, into = new Set<string>()): Set<string> {
  for (const n of graph.nodes) {
    for (const a of Object.values(n.attrs)) {
      const subs = Array.isArray(a) ? a : [a];
      for (const s of subs) {
        if (!(s instanceof Graph)) continue;
        for (const sn of s.nodes) for (const i of sn.inputs) if (i) into.add(i);
        for (const o of s.outputs) into.add(o);
        namesReadBySubgraphs(s, into);
      }
    }
  }
  return into;
}

class LayoutRewriter {
  private producers = new Map<string, Node>();
  private consumers = new Map<string, Node[]>();
  private readonly pinned: Set<string>;
  private readonly names = new Set<string>();
  private readonly nodeNames: Set<string>;

  constructor(private readonly graph: Graph, private readonly throughQdq: boolean) {
    this.pinned = new Set([...graph.outputs, ...namesReadBySubgraphs(graph)]);
    this.nodeNames = new Set(graph.nodes.map((n) => n.name));
    for (const n of graph.nodes) for (const v of [...n.inputs, ...n.outputs]) if (v) this.names.add(v);
    this.index();
  }

  index(): void {
    this.producers = this.graph.producers();
    this.consumers = this.graph.consumers();
  }

  private constant(name: string): Tensor | undefined {
    return name ? this.graph.values.get(name)?.constant : undefined;
  }

  private rankOf(name: string): number | undefined {
    const v = this.graph.values.get(name);
    return v?.constant?.rank ?? v?.shape?.length;
  }

  /** A value name used nowhere yet (intermediates without a declared type have no entry in graph.values). */
  private freshName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name) || this.graph.values.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  private addConstant(base: string, t: Tensor): string {
    const name = this.freshName(base);
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
    return name;
  }

  /** The Transpose with `perm` that produces `name`, if any. */
  private transposeFeeding(name: string, perm: readonly number[]): Node | undefined {
    const p = this.producers.get(name);
    if (p?.op !== 'Transpose') return undefined;
    const q = permOf(p);
    return q && samePerm(q, perm) ? p : undefined;
  }

  /** One rewrite around Transpose `t`; returns whether the graph changed. */
  step(t: Node, sink: boolean): boolean {
    const perm = permOf(t);
    const x = t.inputs[0], y = t.outputs[0];
    if (!perm || !x || !y) return false;
    if (isIdentity(perm)) return this.bypass(t, x, y);
    const above = this.producers.get(x);
    const abovePerm = above?.op === 'Transpose' ? permOf(above) : undefined;
    if (above && abovePerm && abovePerm.length === perm.length) {
      // y = P(P0(x0)) reads x0 at abovePerm[perm[i]] along axis i.
      t.inputs = [above.inputs[0]!];
      t.attrs = { ...t.attrs, perm: perm.map((p) => abovePerm[p]!) };
      this.index();
      return true;
    }
    // A twin (another Transpose of x with the same perm, as one is put before each NHWC reader of
    // an NCHW value) computes y already: y's readers read the twin's output instead.
    const twin = this.pinned.has(y) ? undefined
      : (this.consumers.get(x) ?? []).find((c) => c !== t && c.op === 'Transpose' && !this.removed.has(c) && samePerm(permOf(c) ?? [], perm));
    if (twin) {
      for (const c of this.consumers.get(y) ?? []) c.inputs = c.inputs.map((i) => (i === y ? twin.outputs[0]! : i));
      this.graph.values.delete(y);
      this.remove(t);
      return true;
    }
    if (!sink || this.pinned.has(y)) return false;
    // Consumers that do not commute keep reading y; those that do get their own Transpose
    // below them, which usually meets the inverse Transpose of the next conv.
    const sinkInto = (this.consumers.get(y) ?? []).filter((c) => c.op !== 'Transpose' && this.commutes(c, perm));
    for (const c of sinkInto) { this.sinkBelow(c, perm); this.index(); }
    return sinkInto.length > 0;
  }

  /**
   * Removes an identity Transpose x → y: readers of y read x, or, when y must keep its
   * name (a graph output), the producer of x writes y directly.
   */
  private bypass(t: Node, x: string, y: string): boolean {
    if (!this.pinned.has(y)) {
      for (const c of this.consumers.get(y) ?? []) c.inputs = c.inputs.map((i) => (i === y ? x : i));
      this.remove(t);
      return true;
    }
    const p = this.producers.get(x);
    if (!p || this.pinned.has(x)) return false;
    p.outputs = p.outputs.map((o) => (o === x ? y : o));
    for (const c of this.consumers.get(x) ?? []) c.inputs = c.inputs.map((i) => (i === x ? y : i));
    this.graph.values.delete(x);
    this.remove(t);
    return true;
  }

  /** Whether every data input of `c` is the output of a Transpose with `perm` or a constant we can re-index. */
  private commutes(c: Node, perm: readonly number[]): boolean {
    const rank = perm.length;
    if (c.outputs.length !== 1 || !c.outputs[0]) return false;
    const viaPerm = (name: string) => this.transposeFeeding(name, perm) !== undefined;
    if (UNARY.has(c.op)) return viaPerm(c.inputs[0] ?? '');
    if ((c.op === 'QuantizeLinear' || c.op === 'DequantizeLinear') && this.throughQdq) {
      // Per-tensor (scalar scale and zero point): elementwise, whatever the layout.
      return viaPerm(c.inputs[0] ?? '') && c.inputs.slice(1).every((i) => !i || this.constant(i)?.size === 1);
    }
    if (BROADCAST.has(c.op)) {
      return c.inputs.every((i) => viaPerm(i) || ((this.rankOf(i) ?? Infinity) <= rank && this.constant(i) !== undefined))
        && c.inputs.some(viaPerm);
    }
    if (c.op === 'Concat') {
      return typeof c.attrs['axis'] === 'number'
        && c.inputs.every((i) => viaPerm(i) || this.constant(i)?.rank === rank) && c.inputs.some(viaPerm);
    }
    if (c.op === 'Pad') {
      return viaPerm(c.inputs[0] ?? '') && this.constant(c.inputs[1] ?? '') !== undefined
        && (!c.inputs[3] || this.constant(c.inputs[3]) !== undefined);
    }
    if (REDUCE.has(c.op)) {
      return viaPerm(c.inputs[0] ?? '') && c.attrs['keepdims'] !== 0 && (!c.inputs[1] || this.constant(c.inputs[1]) !== undefined);
    }
    if (c.op === 'Resize') {
      return viaPerm(c.inputs[0] ?? '') && c.attrs['axes'] === undefined
        && c.inputs.slice(1).every((i) => !i || this.constant(i) !== undefined);
    }
    return false;
  }

  /**
   * Rewrites consumer c to read the untransposed values and re-emits the
   * Transpose on its output: c(P(x), k) = P(c'(x, P⁻¹(k))).
   */
  private sinkBelow(c: Node, perm: number[]): void {
    const rank = perm.length;
    const inv = invertPermutation(perm);
    const dataInputs = BROADCAST.has(c.op) || c.op === 'Concat' ? c.inputs.map((_, i) => i) : [0];
    for (const i of dataInputs) {
      const name = c.inputs[i]!;
      const t = this.transposeFeeding(name, perm);
      if (t) { c.inputs[i] = t.inputs[0]!; continue; }
      const k = this.constant(name)!;
      if (k.size === 1) continue;
      const full = k.rank < rank ? k.reshape([...new Array<number>(rank - k.rank).fill(1), ...k.shape]) : k;
      c.inputs[i] = this.addConstant(`${name}_perm`, transposeTensor(full, inv));
    }
    // An axis a of the transposed tensor is axis perm[a] of the original.
    const toSource = (a: number) => perm[normalizeAxis(a, rank, `node ${c.name}`)]!;
    if (c.op === 'Concat') c.attrs = { ...c.attrs, axis: toSource(c.attrs['axis'] as number) };
    if (c.op === 'Pad') {
      const axesName = c.inputs[3];
      if (axesName) {
        c.inputs[3] = this.remapAxes(axesName, toSource);
      } else {
        c.inputs[1] = this.permuteBeginEnd(c.inputs[1]!, perm);
      }
    }
    if (REDUCE.has(c.op) && c.inputs[1]) {
      c.inputs[1] = this.remapAxes(c.inputs[1], toSource);
    }
    if (c.op === 'Resize') {
      if (c.inputs[1]) c.inputs[1] = this.permuteBeginEnd(c.inputs[1], perm);
      for (const i of [2, 3]) if (c.inputs[i]) c.inputs[i] = this.permutePerAxis(c.inputs[i]!, perm);
    }
    const z = c.outputs[0]!;
    const zSource = this.freshName(`${z}_${c.op.toLowerCase()}`);
    const zv = this.graph.values.get(z);
    if (zv) {
      const shape = zv.shape && zv.shape.length === rank ? inv.map((j) => zv.shape![j]!) : undefined;
      this.graph.setValue({ name: zSource, dtype: zv.dtype, ...(shape ? { shape } : {}) });
    }
    c.outputs[0] = zSource;
    const moved: Node = { name: this.uniqueNodeName(`${c.name}_transpose`), op: 'Transpose', inputs: [zSource], outputs: [z], attrs: { perm: [...perm] } };
    this.graph.nodes.splice(this.graph.nodes.indexOf(c) + 1, 0, moved);
  }

  private uniqueNodeName(base: string): string {
    let name = base;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }

  /** An axes constant with each axis mapped through `toSource`. */
  private remapAxes(name: string, toSource: (a: number) => number): string {
    const axes = this.constant(name)!;
    if (axes.size === 0) return name;
    return this.addConstant(`${name}_perm`, Tensor.fromNumbers(axes.dtype, [axes.size], axes.toNumbers().map(toSource)));
  }

  /** A per-axis constant (Resize scales or sizes) re-indexed to the untransposed axes; empty means absent. */
  private permutePerAxis(name: string, perm: readonly number[]): string {
    const k = this.constant(name)!;
    if (k.size === 0) return name;
    const out = new Tensor(k.dtype, k.shape);
    const src = k.data as unknown as ArrayLike<number | bigint>;
    const dst = out.data as unknown as { [i: number]: number | bigint };
    perm.forEach((p, i) => { dst[p] = src[i]!; });
    return this.addConstant(`${name}_perm`, out);
  }

  /** A [begin..., end...] constant (Pad pads, Resize roi) re-indexed to the untransposed axes. */
  private permuteBeginEnd(name: string, perm: readonly number[]): string {
    const k = this.constant(name)!;
    if (k.size === 0) return name;
    const r = perm.length;
    const out = new Tensor(k.dtype, k.shape);
    const src = k.data as unknown as ArrayLike<number | bigint>;
    const dst = out.data as unknown as { [i: number]: number | bigint };
    perm.forEach((p, i) => { dst[p] = src[i]!; dst[r + p] = src[r + i]!; });
    return this.addConstant(`${name}_perm`, out);
  }

  readonly removed = new WeakSet<Node>();

  private remove(n: Node): void {
    this.graph.nodes.splice(this.graph.nodes.indexOf(n), 1);
    this.removed.add(n);
    this.index();
  }

  /** Drops nodes whose outputs nobody reads, then constants nobody reads. */
  removeDead(): boolean {
    let changed = false;
    const live = new Set([...this.pinned]);
    const kept: Node[] = [];
    for (let i = this.graph.nodes.length - 1; i >= 0; i--) {
      const n = this.graph.nodes[i]!;
      if (n.outputs.some((o) => o && live.has(o))) {
        kept.push(n);
        for (const inp of n.inputs) if (inp) live.add(inp);
      } else {
        changed = true;
      }
    }
    this.graph.nodes = kept.reverse();
    this.index();
    // Weights left behind by re-indexing, and declared types of values no node produces any more.
    for (const name of [...this.graph.values.keys()]) {
      if (!live.has(name) && !this.graph.inputs.includes(name) && !this.producers.has(name)) this.graph.values.delete(name);
    }
    return changed;
  }
}

/**
 * Cancels and sinks the Transposes of a channels-first import so that they
 * remain only where the layout really changes (see the file header). Edits
 * `graph` in place; results are unchanged.
 */
export interface LayoutOptions {
  /**
   * Sink Transposes through per-tensor QuantizeLinear/DequantizeLinear (default
   * true). The QDQ fold turns this off once it has lifted a graph input's
   * Transpose above its Q → DQ pair, which sinking would undo.
   */
  throughQdq?: boolean;
}

export function optimizeLayout(graph: Graph, options: LayoutOptions = {}): Graph {
  const rw = new LayoutRewriter(graph, options.throughQdq ?? true);
  // Each rewrite moves a Transpose downstream or removes one; the bound only guards against a bug.
  const limit = 8 * (graph.nodes.length + 16) ** 2;
  let steps = 0;
  // Merging and cancelling go first: a Transpose sunk before it meets its inverse would travel needlessly.
  const pass = (sink: boolean): boolean => {
    let changed = false;
    for (const n of [...graph.nodes]) {
      if (steps >= limit) break;
      if (n.op !== 'Transpose' || rw.removed.has(n)) continue;
      if (rw.step(n, sink)) { changed = true; steps++; }
    }
    return changed;
  };
  for (let changed = true; changed && steps < limit;) {
    changed = pass(false) || pass(true);
    if (rw.removeDead()) changed = true;
  }
  return graph;
}

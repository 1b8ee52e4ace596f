/**
 * Schemas of the control-flow ops If, Loop and Scan (ONNX semantics, Scan from opset 9).
 *
 * Bodies are nested Graph attributes (`then_branch`, `else_branch`, `body`). A body
 * may read values of the enclosing graph by name; `captureOuterValues` makes those
 * reads explicit: it appends the outer names to the node's inputs and lists them in
 * attr `captures` (the names as the body sees them, in the same order), so that
 * topological order, lifetimes and constant folding treat them as ordinary inputs.
 * The op's own inputs are the first `inputs.length - captures.length`.
 *
 * Shape inference of a control-flow node needs its bodies planned (their shapes may
 * depend on folded constants), which only the runtime can do: the runtime passes its
 * GraphPlanner in the InferContext (and in the kernels' PrepareArgs), and BodyPlans
 * here turns a body into plans with it.
 */
import { attrInt, attrInts } from '../attrs.js';
import { CloudlessError } from '../errors.js';
import { Graph, type Node } from '../graph.js';
import type { BodyPlan, GraphPlanner, PlannedValue } from '../kernel.js';
import { NeedsValueError, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';
import { Tensor, shapeToString, sizeOf } from '../tensor.js';

/** The names a graph reads but does not define, including those its nested bodies read. */
export function freeValues(graph: Graph): string[] {
  const defined = new Set<string>(graph.inputs);
  for (const v of graph.values.values()) if (v.constant) defined.add(v.name);
  for (const n of graph.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const free: string[] = [];
  const seen = new Set<string>();
  const note = (name: string) => {
    if (name && !defined.has(name) && !seen.has(name)) { seen.add(name); free.push(name); }
  };
  for (const n of graph.nodes) {
    for (const i of n.inputs) note(i);
    // A nested node that was not given its captures yet still reads through its bodies.
    if (n.attrs['captures'] === undefined) for (const b of bodiesOf(n)) for (const name of freeValues(b)) note(name);
  }
  for (const o of graph.outputs) note(o);
  return free;
}

/** The body graphs a node carries as attributes. */
export function bodiesOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(node.attrs)) {
    if (a instanceof Graph) out.push(a);
    else if (Array.isArray(a)) for (const g of a) if (g instanceof Graph) out.push(g);
  }
  return out;
}

/** Appends the outer values a control-flow node's bodies read to its inputs (see the header). Idempotent. */
export function captureOuterValues(node: Node): void {
  if (node.attrs['captures'] !== undefined) return;
  const names: string[] = [];
  for (const b of bodiesOf(node)) for (const n of freeValues(b)) if (!names.includes(n)) names.push(n);
  node.inputs.push(...names);
  node.attrs['captures'] = names;
}

/** Names the bodies read from the enclosing graph (attr `captures`). */
export function capturesOf(node: Node): string[] {
  const c = node.attrs['captures'];
  if (c === undefined) return [];
  if (!Array.isArray(c) || c.some((x) => typeof x !== 'string')) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "captures" must be a list of value names`, { node: node.name });
  }
  return c as string[];
}

/** Number of the op's own inputs (before the captured outer values). */
export function ownInputCount(node: Node): number {
  return node.inputs.length - capturesOf(node).length;
}

/** A body graph attribute, or an E_ATTR error naming the node. */
export function bodyAttr(node: Node, name: string): Graph {
  const g = node.attrs[name];
  if (!(g instanceof Graph)) {
    throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "${name}" must be a graph`, { node: node.name });
  }
  return g;
}

/** A body's shapes depend on the contents of these body inputs or captured names. */
export class BodyNeedsValue extends Error {
  constructor(readonly names: readonly string[], message: string) {
    super(message);
  }
}

/** The planner of an InferContext or PrepareArgs, or an error naming the node that needs it. */
export function plannerFor(node: Node, planner: GraphPlanner | undefined): GraphPlanner {
  if (!planner) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): control flow needs the runtime's planner`, {
      node: node.name, hint: 'plan graphs with If/Loop/Scan through a Session (or evalNode), which passes its planner',
    });
  }
  return planner;
}

/** A body seen as a graph of its own: captured constants become constants, the other captures inputs. */
function standalone(body: Graph, captures: ReadonlyMap<string, PlannedValue>): { graph: Graph; runtimeCaptures: string[] } {
  const g = new Graph(body.name, body.meta);
  for (const v of body.values.values()) g.setValue(v);
  const runtimeCaptures: string[] = [];
  for (const [name, v] of captures) {
    if (v.constant) g.setValue({ name, dtype: v.dtype, shape: [...v.shape], constant: v.constant });
    else { g.setValue({ name, dtype: v.dtype, shape: [...v.shape], quant: v.quant }); runtimeCaptures.push(name); }
  }
  g.nodes = [...body.nodes];
  g.inputs = [...body.inputs, ...runtimeCaptures];
  g.outputs = [...body.outputs];
  g.sortTopologically();
  return { graph: g, runtimeCaptures };
}

/**
 * A body prepared for planning: its standalone graph and the feeds to plan it
 * with. `inputs` are infos of the body's own inputs in order; `contents` holds
 * the contents of those known exactly (e.g. the iteration number), by body input
 * index: they may be planned with their real contents (they become shape inputs
 * only when a shape needs them). Loop bodies whose shapes depend on the
 * iteration number get one plan per number, made the first time it is seen.
 * Throws BodyNeedsValue when a body shape depends on the content of an input or
 * capture that is not known.
 */
export class BodyPlans {
  readonly graph: Graph;
  readonly runtimeCaptures: string[];
  /** Body inputs whose contents select the plan (a subset of those with known contents). */
  readonly keyInputs: string[];
  private readonly plans = new Map<string, BodyPlan>();
  private readonly feeds: Map<string, Tensor>;

  constructor(private readonly planner: GraphPlanner, readonly node: Node, readonly body: Graph, inputs: readonly ValueInfo[],
    contents: ReadonlyMap<number, Tensor>, captures: ReadonlyMap<string, PlannedValue>) {
    const s = standalone(body, captures);
    this.graph = s.graph;
    this.runtimeCaptures = s.runtimeCaptures;
    this.feeds = new Map();
    body.inputs.forEach((name, i) => {
      const info = inputs[i]!;
      this.feeds.set(name, contents.get(i) ?? new Tensor(info.dtype, info.shape, undefined, info.quant));
    });
    for (const name of s.runtimeCaptures) {
      const v = captures.get(name)!;
      this.feeds.set(name, new Tensor(v.dtype, v.shape, undefined, v.quant));
    }
    const knowable = new Set([...contents.keys()].map((i) => body.inputs[i]!));
    const keyInputs: string[] = [];
    for (;;) {
      try {
        this.plans.set(this.keyOf(keyInputs), this.planWith(keyInputs, false));
        break;
      } catch (err) {
        if (!planner.isPlanDeferred(err)) throw err;
        const wanted = err.inputs.filter((n) => !keyInputs.includes(n));
        if (wanted.length === 0 || !wanted.every((n) => knowable.has(n))) {
          throw new BodyNeedsValue(wanted.length ? wanted : err.inputs, err.message);
        }
        keyInputs.push(...wanted);
      }
    }
    this.keyInputs = keyInputs;
  }

  /** The plan made at construction (for the contents given then). */
  get first(): BodyPlan {
    return this.plans.values().next().value!;
  }

  outputInfos(): ValueInfo[] {
    const p = this.first;
    return this.body.outputs.map((n) => {
      const t = p.outputs.get(n)!;
      return { dtype: t.dtype, shape: [...t.shape], quant: t.quant };
    });
  }

  /** The plan for the current contents of the key inputs, made on first use (while a plan runs). */
  planFor(contents: ReadonlyMap<string, Tensor>): BodyPlan {
    if (this.keyInputs.length === 0) return this.first;
    const key = this.keyOf(this.keyInputs, contents);
    let plan = this.plans.get(key);
    if (!plan) {
      for (const n of this.keyInputs) this.feeds.set(n, contents.get(n)!);
      plan = this.planWith(this.keyInputs, true);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private keyOf(names: readonly string[], contents: ReadonlyMap<string, Tensor> = this.feeds): string {
    return names.map((n) => contents.get(n)!.toNumbers().join(',')).join(';');
  }

  private planWith(shapeInputs: readonly string[], duringRun: boolean): BodyPlan {
    return this.planner.plan(this.graph, this.feeds, new Set(shapeInputs), duringRun);
  }
}

/** The captured outer values as planned values (constant where their content is known). */
function capturedValues(ctx: InferContext): Map<string, PlannedValue> {
  const names = capturesOf(ctx.node);
  const base = ctx.node.inputs.length - names.length;
  const out = new Map<string, PlannedValue>();
  names.forEach((name, k) => {
    const i = base + k;
    const info = ctx.inputs[i];
    if (!info) throw shapeError(ctx.node, `captured value "${name}" is not defined`);
    out.set(name, ctx.hasValue(i) ? { ...info, constant: ctx.value(i) } : info);
  });
  return out;
}

/**
 * Infers a body's outputs, turning "needs the content of capture X" into the
 * NeedsValueError of the node input that carries X (so the outer planner can make
 * the graph inputs behind it shape inputs). Needs on the body's own inputs are
 * refused: their contents change from iteration to iteration.
 */
function inferBody(ctx: InferContext, body: Graph, inputs: readonly ValueInfo[], known: ReadonlyMap<number, Tensor> = new Map()): ValueInfo[] {
  try {
    return new BodyPlans(plannerFor(ctx.node, ctx.planner), ctx.node, body, inputs, known, capturedValues(ctx)).outputInfos();
  } catch (err) {
    if (!(err instanceof BodyNeedsValue)) throw err;
    const names = capturesOf(ctx.node);
    const base = ctx.node.inputs.length - names.length;
    for (const n of err.names) {
      const k = names.indexOf(n);
      if (k >= 0) throw new NeedsValueError(base + k, ctx.node);
    }
    throw new CloudlessError('E_UNSUPPORTED', `node ${ctx.node.name} (${ctx.node.op}): a shape in body ${body.name} depends on the content of ${err.names.join(', ')}, which changes at run time`, {
      node: ctx.node.name, hint: 'the static planner needs body shapes that do not depend on loop-carried data',
    });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function truthy(t: Tensor): boolean {
  return t.size > 0 && Number(t.data[0]!) !== 0;
}

const ifSchema: OpSchema = {
  op: 'If',
  inputs: [1, Number.MAX_SAFE_INTEGER],
  outputs: [1, Number.MAX_SAFE_INTEGER],
  infer(ctx) {
    const node = ctx.node;
    const cond = ctx.inputs[0];
    // ONNX asks only for a single element: torch exports a [1, 1] condition (openWakeWord's melspectrogram).
    if (!cond || sizeOf(cond.shape) !== 1) {
      throw shapeError(node, `condition must hold one element, got ${cond ? shapeToString(cond.shape) : 'nothing'}`);
    }
    const thenBody = bodyAttr(node, 'then_branch');
    const elseBody = bodyAttr(node, 'else_branch');
    for (const b of [thenBody, elseBody]) {
      if (b.outputs.length !== node.outputs.length) {
        throw shapeError(node, `branch ${b.name} has ${b.outputs.length} outputs, the node ${node.outputs.length}`);
      }
    }
    if (ctx.hasValue(0)) return inferBody(ctx, truthy(ctx.value(0)) ? thenBody : elseBody, []);
    // Both branches are planned; when they agree, the condition may stay a run-time value.
    const a = inferBody(ctx, thenBody, []);
    const b = inferBody(ctx, elseBody, []);
    const agree = a.every((o, i) => o.dtype === b[i]!.dtype && sameShape(o.shape, b[i]!.shape));
    if (!agree) throw new NeedsValueError(0, node);
    return a;
  },
};

/** Trip count of a Loop known at plan time: min(M, first false condition), Infinity when unbounded. */
function loopInputs(ctx: InferContext): { maxTrips?: number; cond?: boolean } {
  const node = ctx.node;
  const out: { maxTrips?: number; cond?: boolean } = {};
  if (node.inputs[0]) {
    const m = ctx.inputs[0]!;
    if (sizeOf(m.shape) !== 1) throw shapeError(node, `trip count M must hold one element, got ${shapeToString(m.shape)}`);
    if (ctx.hasValue(0)) out.maxTrips = Math.max(0, Number(ctx.value(0).data[0]!));
  }
  if (node.inputs[1]) {
    const c = ctx.inputs[1]!;
    if (sizeOf(c.shape) !== 1) throw shapeError(node, `condition must hold one element, got ${shapeToString(c.shape)}`);
    if (ctx.hasValue(1)) out.cond = truthy(ctx.value(1));
  }
  return out;
}

const loopSchema: OpSchema = {
  op: 'Loop',
  inputs: [2, Number.MAX_SAFE_INTEGER],
  outputs: [0, Number.MAX_SAFE_INTEGER],
  infer(ctx) {
    const node = ctx.node;
    const body = bodyAttr(node, 'body');
    const nCarried = ownInputCount(node) - 2;
    if (nCarried < 0) throw shapeError(node, 'needs inputs M and cond (either may be empty)');
    if (body.inputs.length !== nCarried + 2) {
      throw shapeError(node, `body ${body.name} takes ${body.inputs.length} inputs; it must take the iteration number, the condition and ${nCarried} loop-carried values`);
    }
    const nScan = body.outputs.length - 1 - nCarried;
    if (nScan < 0 || node.outputs.length !== nCarried + nScan) {
      throw shapeError(node, `body ${body.name} has ${body.outputs.length} outputs; with ${nCarried} loop-carried values the node needs ${nCarried + Math.max(nScan, 0)} outputs, it has ${node.outputs.length}`);
    }
    const carried = Array.from({ length: nCarried }, (_, k) => {
      const v = ctx.inputs[2 + k];
      if (!v) throw shapeError(node, `loop-carried input ${k} is missing`);
      return v;
    });
    const { maxTrips, cond } = loopInputs(ctx);
    const known = new Map<number, Tensor>([[0, Tensor.scalar('int64', 0)]]);
    if (cond !== undefined) known.set(1, Tensor.fromNumbers('bool', [], [cond ? 1 : 0]));
    const outs = inferBody(ctx, body, [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...carried], known);
    if (outs[0]!.dtype !== 'bool' || sizeOf(outs[0]!.shape) !== 1) throw shapeError(node, `body ${body.name}: output 0 (the condition) must be one bool`);
    carried.forEach((v, k) => {
      const o = outs[1 + k]!;
      if (o.dtype !== v.dtype || !sameShape(o.shape, v.shape)) {
        throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (Loop): loop-carried value ${k} changes from ${v.dtype} ${shapeToString(v.shape)} to ${o.dtype} ${shapeToString(o.shape)} in the body`, {
          node: node.name, hint: 'the static planner needs loop-carried values of fixed shape',
        });
      }
    });
    const result: ValueInfo[] = carried.map((v) => ({ dtype: v.dtype, shape: [...v.shape], quant: v.quant }));
    if (nScan > 0) {
      if (node.inputs[0] && maxTrips === undefined) throw new NeedsValueError(0, node);
      if (node.inputs[1] && cond === undefined) throw new NeedsValueError(1, node);
      if (maxTrips === undefined) {
        throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (Loop): scan outputs of a loop without a trip count have no static length`, { node: node.name });
      }
      const trips = cond === false ? 0 : maxTrips;
      for (let k = 0; k < nScan; k++) {
        const o = outs[1 + nCarried + k]!;
        result.push({ dtype: o.dtype, shape: [trips, ...o.shape] });
      }
    }
    return result;
  },
};

/** Scan's attributes with defaults applied and axes normalized. */
export interface ScanAttrs {
  nState: number;
  nScanIn: number;
  nScanOut: number;
  inAxes: number[];
  inReverse: boolean[];
  outAxes: number[];
  outReverse: boolean[];
}

/** Scan attributes for a node whose scan inputs have the given ranks and whose scan outputs' slices have the given ranks. */
export function scanAttrs(node: Node, body: Graph, inRanks: readonly number[], outSliceRanks?: readonly number[]): ScanAttrs {
  const nScanIn = attrInt(node, 'num_scan_inputs');
  const own = ownInputCount(node);
  const nState = own - nScanIn;
  if (nScanIn < 1 || nState < 0) throw shapeError(node, `num_scan_inputs ${nScanIn} does not fit ${own} inputs`);
  const nScanOut = body.outputs.length - nState;
  if (body.inputs.length !== own || nScanOut < 0 || node.outputs.length !== body.outputs.length) {
    throw shapeError(node, `body ${body.name} takes ${body.inputs.length} inputs and makes ${body.outputs.length} outputs; the node has ${own} inputs and ${node.outputs.length} outputs`);
  }
  const list = (name: string, n: number) => {
    const v = node.attrs[name] === undefined ? new Array<number>(n).fill(0) : attrInts(node, name);
    if (v.length !== n) throw shapeError(node, `attribute "${name}" needs ${n} values, got ${v.length}`);
    return v;
  };
  const norm = (axes: number[], ranks: readonly number[] | undefined, what: string) => axes.map((a, k) => {
    if (!ranks) return a;
    const r = ranks[k]!;
    const n = a < 0 ? a + r : a;
    if (n < 0 || n >= r) throw shapeError(node, `${what} ${a} is out of range for rank ${r}`);
    return n;
  });
  return {
    nState, nScanIn, nScanOut,
    inAxes: norm(list('scan_input_axes', nScanIn), inRanks, 'scan input axis'),
    inReverse: list('scan_input_directions', nScanIn).map((d) => d !== 0),
    outAxes: norm(list('scan_output_axes', nScanOut), outSliceRanks?.map((r) => r + 1), 'scan output axis'),
    outReverse: list('scan_output_directions', nScanOut).map((d) => d !== 0),
  };
}

const scanSchema: OpSchema = {
  op: 'Scan',
  inputs: [1, Number.MAX_SAFE_INTEGER],
  outputs: [1, Number.MAX_SAFE_INTEGER],
  infer(ctx) {
    const node = ctx.node;
    const body = bodyAttr(node, 'body');
    const own = ownInputCount(node);
    const ins = Array.from({ length: own }, (_, i) => {
      const v = ctx.inputs[i];
      if (!v) throw shapeError(node, `input ${i} is missing`);
      return v;
    });
    const nScanIn = attrInt(node, 'num_scan_inputs');
    const scanIns = ins.slice(own - nScanIn);
    const a = scanAttrs(node, body, scanIns.map((v) => v.shape.length));
    const trips = scanIns.map((v, k) => v.shape[a.inAxes[k]!]!);
    if (trips.some((t) => t !== trips[0])) throw shapeError(node, `scan inputs have different lengths ${trips.join(', ')} along their scan axes`);
    const slices = scanIns.map((v, k) => ({ dtype: v.dtype, shape: v.shape.filter((_, d) => d !== a.inAxes[k]) }));
    const outs = inferBody(ctx, body, [...ins.slice(0, a.nState), ...slices]);
    const withOut = scanAttrs(node, body, scanIns.map((v) => v.shape.length), outs.slice(a.nState).map((o) => o.shape.length));
    const result: ValueInfo[] = [];
    for (let k = 0; k < a.nState; k++) {
      const o = outs[k]!, v = ins[k]!;
      if (o.dtype !== v.dtype || !sameShape(o.shape, v.shape)) {
        throw shapeError(node, `state ${k} changes from ${v.dtype} ${shapeToString(v.shape)} to ${o.dtype} ${shapeToString(o.shape)} in the body`);
      }
      result.push({ dtype: v.dtype, shape: [...v.shape] });
    }
    for (let k = 0; k < a.nScanOut; k++) {
      const o = outs[a.nState + k]!;
      const shape = [...o.shape];
      shape.splice(withOut.outAxes[k]!, 0, trips[0]!);
      result.push({ dtype: o.dtype, shape });
    }
    return result;
  },
};

export const controlSchemas: readonly OpSchema[] = [ifSchema, loopSchema, scanSchema];

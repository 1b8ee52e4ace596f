/**
 * Reference kernels of If, Loop and Scan. Each body runs as a nested plan made
 * in prepare(): its own arena, its steps run in order. The values a body reads
 * from the enclosing graph arrive as the node's trailing inputs (attr `captures`,
 * see src/ir/ops/control.ts): those known at plan time become constants of the
 * nested plan, so the body's weight transposes fold once; the others are copied
 * into the nested plan's input views on every run.
 *
 * A body is a graph, and only the planner turns a graph into steps, but kernels
 * may not import the runtime (the runtime imports the kernels): the runtime
 * installs its planner here with installBodyPlanning (src/runtime/builtins.ts).
 * This file in turn installs the body planner that the control-flow schemas use
 * to infer body shapes.
 *
 * Loop bodies whose shapes depend on the iteration number (a Slice at `i`, say)
 * get one plan per iteration number, made the first time that number is seen and
 * reused on later runs.
 */
import {
  CloudlessError, Graph, Tensor, attrInt, defineKernel, shapeToString, sizeOf,
  type DType, type KernelContext, type KernelDef, type Node, type PlannedValue, type ValueInfo,
} from '../../ir/index.js';
import {
  BodyNeedsValue, bodyAttr, capturesOf, ownInputCount, scanAttrs, setBodyPlanner, type ScanAttrs,
} from '../../ir/ops/control.js';
import type { Plan, PlanOptions, planGraph } from '../../runtime/plan.js';

const DTYPES: readonly DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'];

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

/** What the runtime lends the control-flow kernels to plan bodies. */
export interface BodyPlanning {
  planGraph: typeof planGraph;
  /** Whether an error is the planner's PlanDeferred (planning needs these inputs' contents). */
  isPlanDeferred(err: unknown): err is Error & { inputs: readonly string[] };
  /** The options of the plan in progress, or the defaults. */
  options(): PlanOptions;
}

let planning: BodyPlanning | undefined;

export function installBodyPlanning(p: BodyPlanning): void {
  planning = p;
}

function planner(): BodyPlanning {
  if (!planning) throw new CloudlessError('E_INTERNAL', 'control-flow kernels used before the runtime installed its planner');
  return planning;
}

/**
 * A body prepared for planning: its standalone graph and the feeds to plan it
 * with. Body inputs listed in `contents` may be planned with their real contents
 * (they become shape inputs only when a shape needs them).
 */
class BodyPlans {
  readonly graph: Graph;
  readonly runtimeCaptures: string[];
  /** Body inputs whose contents select the plan (a subset of those with known contents). */
  readonly keyInputs: string[];
  private readonly plans = new Map<string, Plan>();
  private readonly feeds: Map<string, Tensor>;

  constructor(readonly node: Node, readonly body: Graph, inputs: readonly ValueInfo[], contents: ReadonlyMap<number, Tensor>,
    captures: ReadonlyMap<string, PlannedValue>) {
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
        this.plans.set(this.keyOf(keyInputs), this.planWith(keyInputs));
        break;
      } catch (err) {
        if (!planner().isPlanDeferred(err)) throw err;
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
  get first(): Plan {
    return this.plans.values().next().value!;
  }

  outputInfos(): ValueInfo[] {
    const p = this.first;
    return this.body.outputs.map((n) => {
      const t = p.outputs.get(n)!;
      return { dtype: t.dtype, shape: [...t.shape], quant: t.quant };
    });
  }

  /** The plan for the current contents of the key inputs in `feeds`, made on first use. */
  planFor(contents: ReadonlyMap<string, Tensor>): Plan {
    if (this.keyInputs.length === 0) return this.first;
    const key = this.keyOf(this.keyInputs, contents);
    let plan = this.plans.get(key);
    if (!plan) {
      for (const n of this.keyInputs) this.feeds.set(n, contents.get(n)!);
      plan = this.planWith(this.keyInputs);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private keyOf(names: readonly string[], contents: ReadonlyMap<string, Tensor> = this.feeds): string {
    return names.map((n) => contents.get(n)!.toNumbers().join(',')).join(';');
  }

  private planWith(shapeInputs: readonly string[]): Plan {
    const p = planner();
    return p.planGraph(this.graph, this.feeds, { ...p.options(), shapeInputs: new Set(shapeInputs), placeholderFeeds: true });
  }
}

setBodyPlanner({
  infer(node, body, inputs, known, captures) {
    return new BodyPlans(node, body, inputs, known, captures).outputInfos();
  },
});

/** Captured outer values of a node as planned values, from prepare's inputs. */
function capturedValues(node: Node, inputs: readonly (PlannedValue | undefined)[]): Map<string, PlannedValue> {
  const names = capturesOf(node);
  const base = node.inputs.length - names.length;
  return new Map(names.map((n, k) => [n, inputs[base + k]!] as const));
}

function copy(dst: Tensor, src: Tensor): void {
  (dst.data as Float32Array).set(src.data as Float32Array);
}

/** Copies `t` into the plan's input view of `name` (absent when the body does not read it). */
function feed(plan: Plan, name: string, t: Tensor): void {
  const view = plan.inputs.get(name);
  if (view) copy(view, t);
}

/** Copies the node's run-time captured inputs into a body plan's input views. */
function feedCaptures(plan: Plan, node: Node, inputs: readonly (Tensor | undefined)[]): void {
  const names = capturesOf(node);
  const base = node.inputs.length - names.length;
  names.forEach((n, k) => feed(plan, n, inputs[base + k]!));
}

function runPlan(plan: Plan, ctx: KernelContext): void {
  for (const s of plan.steps) s.kernel.run(s.inputs, s.outputs, s.node, s.state, ctx);
}

function bodyOutput(plan: Plan, body: Graph, i: number): Tensor {
  return plan.outputs.get(body.outputs[i]!)!;
}

function checkSliceShape(node: Node, got: Tensor, want: readonly number[], what: string): void {
  if (got.shape.length !== want.length || got.shape.some((d, i) => d !== want[i])) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): ${what} has shape ${shapeToString(got.shape)} in this iteration, ${shapeToString(want)} in the plan`, { node: node.name });
  }
}

interface IfState {
  thenBranch?: BodyPlans;
  elseBranch?: BodyPlans;
}

const ifKernel = defineKernel<IfState>({
  op: 'If',
  backend: 'ref',
  dtypes: ['bool', 'uint8', 'int32', 'int64', 'float32'],
  prepare({ node, inputs }) {
    const captures = capturedValues(node, inputs);
    const cond = inputs[0]!.constant;
    const make = (name: string) => new BodyPlans(node, bodyAttr(node, name), [], new Map(), captures);
    const state: IfState = {};
    if (!cond || Number(cond.data[0]!) !== 0) state.thenBranch = make('then_branch');
    if (!cond || Number(cond.data[0]!) === 0) state.elseBranch = make('else_branch');
    return { state };
  },
  run(inputs, outputs, node, state, ctx) {
    const taken = Number(inputs[0]!.data[0]!) !== 0 ? state.thenBranch : state.elseBranch;
    if (!taken) throw new CloudlessError('E_INTERNAL', `node ${node.name} (If): the condition changed from its plan-time value`, { node: node.name });
    const plan = taken.first;
    feedCaptures(plan, node, inputs);
    runPlan(plan, ctx);
    outputs.forEach((o, i) => copy(o, bodyOutput(plan, taken.body, i)));
  },
});

interface LoopState {
  body: BodyPlans;
  nCarried: number;
  nScan: number;
  /** Scan output slices' shapes and sizes, as planned. */
  sliceShapes: number[][];
  iteration: Tensor;
  cond: Tensor;
  contents: Map<string, Tensor>;
}

const loopKernel = defineKernel<LoopState>({
  op: 'Loop',
  backend: 'ref',
  // Inputs M and cond are both optional: the kernel's dtype check would have nothing to look at.
  typeInput: -1,
  dtypes: DTYPES,
  check(node, inputs) {
    if (node.inputs[0] && inputs[0]?.dtype !== 'int64' && inputs[0]?.dtype !== 'int32') return `trip count must be int64 or int32, not ${inputs[0]?.dtype}`;
    return undefined;
  },
  prepare({ node, inputs, outputs }) {
    const body = bodyAttr(node, 'body');
    const nCarried = ownInputCount(node) - 2;
    const iteration = Tensor.scalar('int64', 0);
    const cond = Tensor.fromNumbers('bool', [], [1]);
    const infos: ValueInfo[] = [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...inputs.slice(2, 2 + nCarried).map((v) => v!)];
    const plans = new BodyPlans(node, body, infos, new Map([[0, iteration], [1, cond]]), capturedValues(node, inputs));
    const sliceShapes = outputs.slice(nCarried).map((o) => o.shape.slice(1));
    return {
      state: {
        body: plans, nCarried, nScan: outputs.length - nCarried, sliceShapes, iteration, cond,
        contents: new Map([[body.inputs[0]!, iteration], [body.inputs[1]!, cond]]),
      },
    };
  },
  run(inputs, outputs, node, s, ctx) {
    const body = s.body.body;
    const maxTrips = inputs[0] ? Number(inputs[0].data[0]!) : Infinity;
    let go = inputs[1] ? Number(inputs[1].data[0]!) !== 0 : true;
    for (let k = 0; k < s.nCarried; k++) copy(outputs[k]!, inputs[2 + k]!);
    const iterData = s.iteration.data as BigInt64Array;
    let i = 0;
    for (; i < maxTrips && go; i++) {
      iterData[0] = BigInt(i);
      s.cond.data[0] = 1;
      const plan = s.body.planFor(s.contents);
      feed(plan, body.inputs[0]!, s.iteration);
      feed(plan, body.inputs[1]!, s.cond);
      for (let k = 0; k < s.nCarried; k++) feed(plan, body.inputs[2 + k]!, outputs[k]!);
      feedCaptures(plan, node, inputs);
      runPlan(plan, ctx);
      go = Number(bodyOutput(plan, body, 0).data[0]!) !== 0;
      for (let k = 0; k < s.nCarried; k++) copy(outputs[k]!, bodyOutput(plan, body, 1 + k));
      for (let k = 0; k < s.nScan; k++) {
        const out = outputs[s.nCarried + k]!;
        const slice = bodyOutput(plan, body, 1 + s.nCarried + k);
        checkSliceShape(node, slice, s.sliceShapes[k]!, `scan output ${k}`);
        if ((i + 1) * slice.size > out.size) {
          throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (Loop): the loop runs past the ${out.shape[0]} iterations its scan outputs were planned for`, { node: node.name });
        }
        (out.data as Float32Array).set(slice.data as Float32Array, i * slice.size);
      }
    }
    const planned = s.nScan > 0 ? outputs[s.nCarried]!.shape[0]! : i;
    if (i !== planned) {
      throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (Loop): the loop stopped after ${i} iterations; its scan outputs were planned for ${planned}`, {
        node: node.name, hint: 'scan outputs need a loop whose condition stays true until the trip count',
      });
    }
  },
});

interface ScanState {
  body: BodyPlans;
  attrs: ScanAttrs;
  trips: number;
}

/** Copies slice `index` along `axis` of `full` into `slice` (extract) or back (insert). */
function moveSlice(full: Tensor, axis: number, index: number, slice: Tensor, insert: boolean): void {
  const n = full.shape[axis]!;
  const inner = sizeOf(full.shape.slice(axis + 1));
  const outer = sizeOf(full.shape.slice(0, axis));
  const f = full.data as Float32Array, s = slice.data as Float32Array;
  for (let o = 0; o < outer; o++) {
    const at = (o * n + index) * inner;
    if (insert) f.set(s.subarray(o * inner, (o + 1) * inner), at);
    else s.set(f.subarray(at, at + inner), o * inner);
  }
}

const scanKernel = defineKernel<ScanState>({
  op: 'Scan',
  backend: 'ref',
  dtypes: DTYPES,
  typeInput: -1,
  prepare({ node, inputs, outputs }) {
    const body = bodyAttr(node, 'body');
    const own = ownInputCount(node);
    const ins = inputs.slice(0, own).map((v) => v!);
    const nState = own - attrInt(node, 'num_scan_inputs');
    const scanRanks = ins.slice(nState).map((v) => v.shape.length);
    const outSliceRanks = outputs.slice(nState).map((o) => o.shape.length - 1);
    const attrs = scanAttrs(node, body, scanRanks, outSliceRanks);
    const slices = ins.slice(attrs.nState).map((v, k) => ({ dtype: v.dtype, shape: v.shape.filter((_, d) => d !== attrs.inAxes[k]), quant: v.quant }));
    const plans = new BodyPlans(node, body, [...ins.slice(0, attrs.nState), ...slices], new Map(), capturedValues(node, inputs));
    const trips = ins[attrs.nState]!.shape[attrs.inAxes[0]!]!;
    return { state: { body: plans, attrs, trips } };
  },
  run(inputs, outputs, node, s, ctx) {
    const { attrs: a, trips } = s;
    const body = s.body.body;
    const plan = s.body.first;
    for (let k = 0; k < a.nState; k++) copy(outputs[k]!, inputs[k]!);
    feedCaptures(plan, node, inputs);
    for (let t = 0; t < trips; t++) {
      for (let k = 0; k < a.nState; k++) feed(plan, body.inputs[k]!, outputs[k]!);
      for (let j = 0; j < a.nScanIn; j++) {
        const view = plan.inputs.get(body.inputs[a.nState + j]!);
        if (view) moveSlice(inputs[a.nState + j]!, a.inAxes[j]!, a.inReverse[j] ? trips - 1 - t : t, view, false);
      }
      runPlan(plan, ctx);
      for (let k = 0; k < a.nState; k++) copy(outputs[k]!, bodyOutput(plan, body, k));
      for (let j = 0; j < a.nScanOut; j++) {
        moveSlice(outputs[a.nState + j]!, a.outAxes[j]!, a.outReverse[j] ? trips - 1 - t : t, bodyOutput(plan, body, a.nState + j), true);
      }
    }
  },
});

export const controlKernels: readonly KernelDef[] = [ifKernel, loopKernel, scanKernel];

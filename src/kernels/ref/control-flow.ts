/**
 * Reference kernels of If, Loop and Scan. Each body runs as a nested plan made
 * in prepare(): its own arena, its steps run in order. The values a body reads
 * from the enclosing graph arrive as the node's trailing inputs (attr `captures`,
 * see src/ir/ops/control.ts): those known at plan time become constants of the
 * nested plan, so the body's weight transposes fold once; the others are copied
 * into the nested plan's input views on every run.
 *
 * A body is a graph, and only the planner turns a graph into steps, but kernels
 * may not import the runtime (the runtime imports the kernels): the planner
 * passes itself to prepare() (PrepareArgs.planner, a GraphPlanner), and
 * BodyPlans (src/ir/ops/control.ts, shared with shape inference) plans with it.
 *
 * Loop bodies whose shapes depend on the iteration number (a Slice at `i`, say)
 * get one plan per iteration number, made the first time that number is seen and
 * reused on later runs.
 */
import {
  CloudlessError, Tensor, attrInt, defineKernel, shapeToString, sizeOf,
  type BodyPlan, type DType, type Graph, type KernelContext, type KernelDef, type Node, type PlannedValue, type ValueInfo,
} from '../../ir/index.js';
import {
  BodyPlans, bodyAttr, capturesOf, ownInputCount, plannerFor, scanAttrs, type ScanAttrs,
} from '../../ir/ops/control.js';

const DTYPES: readonly DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'];

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
function feed(plan: BodyPlan, name: string, t: Tensor): void {
  const view = plan.inputs.get(name);
  if (view) copy(view, t);
}

/** Copies the node's run-time captured inputs into a body plan's input views. */
function feedCaptures(plan: BodyPlan, node: Node, inputs: readonly (Tensor | undefined)[]): void {
  const names = capturesOf(node);
  const base = node.inputs.length - names.length;
  names.forEach((n, k) => feed(plan, n, inputs[base + k]!));
}

function runPlan(plan: BodyPlan, ctx: KernelContext): void {
  for (const s of plan.steps) s.kernel.run(s.inputs, s.outputs, s.node, s.state, ctx);
}

function bodyOutput(plan: BodyPlan, body: Graph, i: number): Tensor {
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
  prepare({ node, inputs, planner }) {
    const captures = capturedValues(node, inputs);
    const cond = inputs[0]!.constant;
    const make = (name: string) => new BodyPlans(plannerFor(node, planner), node, bodyAttr(node, name), [], new Map(), captures);
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
  prepare({ node, inputs, outputs, planner }) {
    const body = bodyAttr(node, 'body');
    const nCarried = ownInputCount(node) - 2;
    const iteration = Tensor.scalar('int64', 0);
    const cond = Tensor.fromNumbers('bool', [], [1]);
    const infos: ValueInfo[] = [{ dtype: 'int64', shape: [] }, { dtype: 'bool', shape: [] }, ...inputs.slice(2, 2 + nCarried).map((v) => v!)];
    const plans = new BodyPlans(plannerFor(node, planner), node, body, infos, new Map([[0, iteration], [1, cond]]), capturedValues(node, inputs));
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
  prepare({ node, inputs, outputs, planner }) {
    const body = bodyAttr(node, 'body');
    const own = ownInputCount(node);
    const ins = inputs.slice(0, own).map((v) => v!);
    const nState = own - attrInt(node, 'num_scan_inputs');
    const scanRanks = ins.slice(nState).map((v) => v.shape.length);
    const outSliceRanks = outputs.slice(nState).map((o) => o.shape.length - 1);
    const attrs = scanAttrs(node, body, scanRanks, outSliceRanks);
    const slices = ins.slice(attrs.nState).map((v, k) => ({ dtype: v.dtype, shape: v.shape.filter((_, d) => d !== attrs.inAxes[k]), quant: v.quant }));
    const plans = new BodyPlans(plannerFor(node, planner), node, body, [...ins.slice(0, attrs.nState), ...slices], new Map(), capturedValues(node, inputs));
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

import { describe, expect, it } from 'vitest';
import { CloudlessError, Graph, Tensor, type Node } from '../../../src/ir/index.js';
import { captureOuterValues, freeValues } from '../../../src/ir/ops/control.js';
import { controlKernels } from '../../../src/kernels/ref/control-flow.js';
import { defaultRegistry } from '../../../src/runtime/builtins.js';
import { Session } from '../../../src/runtime/session.js';

if (defaultRegistry.candidates('ref', 'If').length === 0) defaultRegistry.registerAll(controlKernels);

const meta = { format: 'cloudless' as const, source: 'control-test' };
const f32 = (values: number[], shape = [values.length]) => Tensor.fromNumbers('float32', shape, values);
const i64 = (values: number[], shape = [values.length]) => Tensor.fromNumbers('int64', shape, values);
const bool = (v: boolean) => Tensor.fromNumbers('bool', [], [v ? 1 : 0]);

/** A body graph: named inputs, constants, nodes as [op, inputs, outputs, attrs?], outputs. */
function body(name: string, inputs: string[], consts: Record<string, Tensor>, nodes: [string, string[], string[], Node['attrs']?][], outputs: string[]): Graph {
  const g = new Graph(name, meta);
  g.inputs = inputs;
  for (const i of inputs) g.setValue({ name: i, dtype: 'float32' });
  for (const [n, t] of Object.entries(consts)) g.setValue({ name: n, dtype: t.dtype, shape: [...t.shape], constant: t });
  nodes.forEach(([op, ins, outs, attrs], k) => g.addNode({ name: `${name}_${op}_${k}`, op, inputs: ins, outputs: outs, attrs: attrs ?? {} }));
  g.outputs = outputs;
  return g;
}

/** A top graph around one control-flow node; inputs are given as `dtype` or `dtype/rank` (dimensions left symbolic). */
function top(inputs: Record<string, string>, node: Node, outputs: string[]): Graph {
  const g = new Graph('top', meta);
  for (const [n, spec] of Object.entries(inputs)) {
    const m = /^(\w+?)(?:\/(\d))?$/.exec(spec)!;
    g.setValue({ name: n, dtype: m[1] as 'float32', shape: Array.from({ length: Number(m[2] || 0) }, (_, k) => `${n}_${k}`) });
  }
  g.inputs = Object.keys(inputs);
  captureOuterValues(node);
  g.addNode(node);
  for (const o of outputs) g.setValue({ name: o, dtype: 'float32' });
  g.outputs = outputs;
  return g;
}

describe('captureOuterValues', () => {
  it('appends what bodies (and bodies nested in them) read from outside, once', () => {
    const inner = body('inner', [], {}, [['Neg', ['w'], ['nw']]], ['nw']);
    const thenB = body('then', [], {}, [['Add', ['x', 'x'], ['s']], ['If', ['c2'], ['t'], { then_branch: inner, else_branch: inner }]], ['t']);
    const elseB = body('else', [], { k: f32([1]) }, [['Mul', ['x', 'k'], ['m']]], ['m']);
    expect(freeValues(thenB)).toEqual(['x', 'c2', 'w']);
    const node: Node = { name: 'if', op: 'If', inputs: ['c'], outputs: ['y'], attrs: { then_branch: thenB, else_branch: elseB } };
    captureOuterValues(node);
    captureOuterValues(node);
    expect(node.inputs).toEqual(['c', 'x', 'c2', 'w']);
    expect(node.attrs['captures']).toEqual(['x', 'c2', 'w']);
  });
});

describe('If', () => {
  const branches = () => ({
    then_branch: body('then', [], { one: f32([1]) }, [['Add', ['x', 'one'], ['t']]], ['t']),
    else_branch: body('else', [], { two: f32([2]) }, [['Mul', ['x', 'two'], ['e']]], ['e']),
  });

  it('runs the branch the run-time condition picks, reading outer values', () => {
    const node: Node = { name: 'if', op: 'If', inputs: ['c'], outputs: ['y'], attrs: branches() };
    const s = new Session(top({ c: 'bool', x: 'float32/1' }, node, ['y']), { backend: 'ref' });
    const x = f32([1, 2, 3]);
    expect(s.runSync({ c: bool(true), x }).y!.toNumbers()).toEqual([2, 3, 4]);
    const plan = s.currentPlan;
    expect(s.runSync({ c: bool(false), x }).y!.toNumbers()).toEqual([2, 4, 6]);
    // Both branches give [3]: the condition stays a run-time value and the plan is kept.
    expect(s.currentPlan).toBe(plan);
    expect(plan!.shapeInputs.size).toBe(0);
  });

  it('makes the condition a shape input when the branches give different shapes', () => {
    const node: Node = {
      name: 'if', op: 'If', inputs: ['c'], outputs: ['y'],
      attrs: {
        then_branch: body('then', [], {}, [['Identity', ['x'], ['t']]], ['t']),
        else_branch: body('else', [], {}, [['Concat', ['x', 'x'], ['e'], { axis: 0 }]], ['e']),
      },
    };
    const s = new Session(top({ c: 'bool', x: 'float32/1' }, node, ['y']), { backend: 'ref' });
    expect(s.runSync({ c: bool(true), x: f32([5, 6]) }).y!.toNumbers()).toEqual([5, 6]);
    expect(s.runSync({ c: bool(false), x: f32([5, 6]) }).y!.toNumbers()).toEqual([5, 6, 5, 6]);
    expect([...s.currentPlan!.shapeInputs]).toEqual(['c']);
  });

  it('folds at plan time when the condition and captures are constants', () => {
    const g = top({ x: 'float32/1' }, { name: 'if', op: 'If', inputs: ['c'], outputs: ['y'], attrs: branches() }, ['y']);
    g.setValue({ name: 'c', dtype: 'bool', shape: [], constant: bool(false) });
    const s = new Session(g, { backend: 'ref' });
    expect(s.runSync({ x: f32([4]) }).y!.toNumbers()).toEqual([8]);
  });
});

describe('Loop', () => {
  /** acc += x[i] for i < M; scan output: acc after each step; stops when acc exceeds `limit`. */
  function loopGraph(limit: number, withScan: boolean): Graph {
    const b = body('loop_body', ['i', 'cin', 'acc'], { lim: f32([limit]), one: i64([1]), zero: i64([0]) }, [
      ['Unsqueeze', ['i', 'zero'], ['start']],
      ['Add', ['start', 'one'], ['end']],
      ['Slice', ['x', 'start', 'end'], ['xi']],
      ['Add', ['acc', 'xi'], ['acc2']],
      ['Less', ['acc2', 'lim'], ['more1']],
      ['Squeeze', ['more1', 'zero'], ['more']],
      ['Identity', ['acc2'], ['scan']],
    ], withScan ? ['more', 'acc2', 'scan'] : ['more', 'acc2']);
    b.setValue({ name: 'i', dtype: 'int64' });
    b.setValue({ name: 'cin', dtype: 'bool' });
    const outs = withScan ? ['acc_out', 'steps'] : ['acc_out'];
    return top({ m: 'int64', x: 'float32/1', acc0: 'float32/1' }, { name: 'loop', op: 'Loop', inputs: ['m', '', 'acc0'], outputs: outs, attrs: { body: b } }, outs);
  }

  it('carries a value, collects scan outputs, and re-plans a body whose shapes need the iteration number', () => {
    const s = new Session(loopGraph(1000, true), { backend: 'ref' });
    const out = s.runSync({ m: i64([4], []), x: f32([1, 2, 3, 4, 5]), acc0: f32([10]) });
    expect(out.acc_out!.toNumbers()).toEqual([20]);
    expect(out.steps!.shape).toEqual([4, 1]);
    expect(out.steps!.toNumbers()).toEqual([11, 13, 16, 20]);
    // The trip count decides the scan outputs' shape, so it is a shape input.
    expect([...s.currentPlan!.shapeInputs]).toEqual(['m']);
  });

  it('stops when the body returns false (no scan outputs)', () => {
    const s = new Session(loopGraph(5, false), { backend: 'ref' });
    expect(s.runSync({ m: i64([5], []), x: f32([1, 2, 3, 4, 5]), acc0: f32([0]) }).acc_out!.toNumbers()).toEqual([6]);
  });

  it('refuses at run time a loop that stops before the length its scan outputs were planned for', () => {
    const s = new Session(loopGraph(5, true), { backend: 'ref' });
    expect(() => s.runSync({ m: i64([5], []), x: f32([1, 2, 3, 4, 5]), acc0: f32([0]) })).toThrow(/stopped after 3 iterations/);
  });

  it('refuses a loop-carried value whose shape changes', () => {
    const b = body('grow', ['i', 'cin', 'v'], {}, [['Concat', ['v', 'v'], ['v2'], { axis: 0 }], ['Identity', ['cin'], ['cout']]], ['cout', 'v2']);
    const g = top({ m: 'int64', v0: 'float32/1' }, { name: 'loop', op: 'Loop', inputs: ['m', '', 'v0'], outputs: ['v'], attrs: { body: b } }, ['v']);
    const s = new Session(g, { backend: 'ref' });
    try {
      s.runSync({ m: i64([2], []), v0: f32([1]) });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CloudlessError);
      expect((err as CloudlessError).code).toBe('E_UNSUPPORTED');
      expect((err as CloudlessError).message).toMatch(/loop-carried value 0 changes/);
    }
  });
});

describe('Scan', () => {
  it('scans along axis 1 backwards, with a running state and a scan output along axis 0', () => {
    const b = body('scan_body', ['sum', 'col'], {}, [['Add', ['sum', 'col'], ['sum2']], ['Mul', ['col', 'sum2'], ['prod']]], ['sum2', 'prod']);
    const node: Node = {
      name: 'scan', op: 'Scan', inputs: ['s0', 'x'], outputs: ['s', 'p'],
      attrs: { body: b, num_scan_inputs: 1, scan_input_axes: [1], scan_input_directions: [1] },
    };
    const s = new Session(top({ s0: 'float32/1', x: 'float32/2' }, node, ['s', 'p']), { backend: 'ref' });
    // x = [[1, 2, 3], [4, 5, 6]]: columns taken last first: [3, 6], [2, 5], [1, 4].
    const out = s.runSync({ s0: f32([0, 0]), x: f32([1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(out.s!.toNumbers()).toEqual([6, 15]);
    expect(out.p!.shape).toEqual([3, 2]);
    expect(out.p!.toNumbers()).toEqual([3 * 3, 6 * 6, 2 * 5, 5 * 11, 1 * 6, 4 * 15]);
  });
});

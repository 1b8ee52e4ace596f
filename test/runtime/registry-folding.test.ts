import { describe, expect, it } from 'vitest';
import { Graph, KernelRegistry, Tensor, defineKernel, type KernelDef } from '../../src/ir/index.js';
import { refKernels } from '../../src/kernels/ref/index.js';
import { Session } from '../../src/runtime/session.js';

/** y = x + Neg(c): Neg reads only a constant, so the planner folds it with some registry's Neg kernel. */
function foldingGraph(): Graph {
  const g = new Graph('fold', { format: 'cloudless', source: 'registry-folding-test' });
  g.setValue({ name: 'x', dtype: 'float32', shape: [3] });
  g.setValue({ name: 'c', dtype: 'float32', shape: [3], constant: Tensor.fromNumbers('float32', [3], [1, 2, 3]) });
  for (const n of ['nc', 'y']) g.setValue({ name: n, dtype: 'float32' });
  g.inputs = ['x'];
  g.outputs = ['y'];
  g.addNode({ name: 'neg', op: 'Neg', inputs: ['c'], outputs: ['nc'], attrs: {} });
  g.addNode({ name: 'add', op: 'Add', inputs: ['x', 'nc'], outputs: ['y'], attrs: {} });
  return g;
}

/** A Neg of its own that doubles (a kernel no built-in registry has), counting its runs. */
function doublingNeg(calls: { n: number }): KernelDef {
  return defineKernel({
    op: 'Neg', backend: 'ref', dtypes: ['float32'],
    run(inputs, outputs) {
      calls.n++;
      const x = inputs[0]!.data as Float32Array, y = outputs[0]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) y[i] = -2 * x[i]!;
    },
  });
}

describe('constant folding uses the session\'s registry', () => {
  it('folds Neg with the session\'s own kernel, at plan time', async () => {
    const registry = new KernelRegistry();
    registry.registerAll(refKernels.filter((k) => k.op !== 'Neg'));
    const calls = { n: 0 };
    registry.register(doublingNeg(calls));
    const s = new Session(foldingGraph(), { backend: 'ref', registry, inputShapes: { x: [3] } });
    expect(calls.n).toBe(1); // folded while planning at load
    expect(s.currentPlan!.steps.map((st) => st.node.op)).toEqual(['Add']);
    const out = await s.run({ x: Tensor.fromNumbers('float32', [3], [10, 10, 10]) });
    expect(out.y!.toNumbers()).toEqual([8, 6, 4]);
    expect(calls.n).toBe(1); // not run again: its output is a constant of the plan
  });

  it('the default registry folds with the built-in Neg', async () => {
    const s = new Session(foldingGraph(), { backend: 'ref', inputShapes: { x: [3] } });
    const out = await s.run({ x: Tensor.fromNumbers('float32', [3], [10, 10, 10]) });
    expect(out.y!.toNumbers()).toEqual([9, 8, 7]);
  });
});

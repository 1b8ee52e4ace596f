import { describe, expect, it } from 'vitest';
import { CloudlessError, Graph, Tensor } from '../../src/ir/index.js';
import { Session } from '../../src/runtime/session.js';

/** y = relu(x + b) reshaped by a shape computed from x's shape (Shape → folding at plan time). */
function smallGraph(): Graph {
  const g = new Graph('small', { format: 'cloudless', source: 'small-test' });
  g.setValue({ name: 'x', dtype: 'float32', shape: ['batch', 4] });
  g.setValue({ name: 'b', dtype: 'float32', shape: [4], constant: Tensor.fromNumbers('float32', [4], [1, -1, 2, -2]) });
  g.setValue({ name: 'flat', dtype: 'int64', shape: [1], constant: Tensor.fromNumbers('int64', [1], [-1]) });
  for (const n of ['sum', 'act', 'y']) g.setValue({ name: n, dtype: 'float32' });
  g.inputs = ['x'];
  g.outputs = ['y'];
  g.addNode({ name: 'add', op: 'Add', inputs: ['x', 'b'], outputs: ['sum'], attrs: {} });
  g.addNode({ name: 'relu', op: 'Relu', inputs: ['sum'], outputs: ['act'], attrs: {} });
  g.addNode({ name: 'reshape', op: 'Reshape', inputs: ['act', 'flat'], outputs: ['y'], attrs: {} });
  return g;
}

describe('Session', () => {
  it('runs, re-plans for a new shape and reuses the plan for a repeated one', async () => {
    const s = new Session(smallGraph(), { backend: 'ref' });
    expect(s.currentPlan).toBeUndefined(); // symbolic batch: planned at first run
    const out = await s.run({ x: Tensor.fromNumbers('float32', [1, 4], [0, 0, 0, 0]) });
    expect(out.y!.shape).toEqual([4]);
    expect(out.y!.toNumbers()).toEqual([1, 0, 2, 0]);
    const plan1 = s.currentPlan;
    await s.run({ x: Tensor.fromNumbers('float32', [1, 4], [1, 1, 1, 1]) });
    expect(s.currentPlan).toBe(plan1);
    const out2 = await s.run({ x: Tensor.fromNumbers('float32', [2, 4], [1, 1, 1, 1, -5, 5, -5, 5]) });
    expect(s.currentPlan).not.toBe(plan1);
    expect(out2.y!.toNumbers()).toEqual([2, 0, 3, 0, 0, 4, 0, 3]);
    expect(s.memory.arenaBytes).toBeGreaterThan(0);
    expect(s.memory.arenaBytes).toBeLessThanOrEqual(s.currentPlan!.unsharedBytes);
  });

  it('plans at load when shapes are given, and describes the plan', () => {
    const s = new Session(smallGraph(), { backend: 'ref', inputShapes: { x: [3, 4] } });
    expect(s.currentPlan).toBeDefined();
    expect(s.describePlan()).toMatch(/arena \d+ bytes/);
  });

  it('names the input in feed errors', async () => {
    const s = new Session(smallGraph(), { backend: 'ref' });
    await expect(s.run({})).rejects.toThrow(/missing input "x"/);
    await expect(s.run({ x: Tensor.fromNumbers('float32', [4], [1, 2, 3, 4]) })).rejects.toThrow(/input "x" must have shape/);
    await expect(s.run({ x: new Tensor('int32', [1, 4]) })).rejects.toThrow(/input "x" must be float32, got int32/);
    await expect(s.run({ x: new Tensor('float32', [1, 4]), z: new Tensor('float32', [1]) })).rejects.toThrow(/no input "z"/);
  });

  it('refuses unknown ops at load, listing the nodes', () => {
    const g = smallGraph();
    g.addNode({ name: 'mystery', op: 'FancyOp', inputs: ['y'], outputs: ['z'], attrs: {} });
    expect(() => new Session(g, { backend: 'ref' })).toThrow(CloudlessError);
    expect(() => new Session(g, { backend: 'ref' })).toThrow(/unsupported op FancyOp at node mystery/);
  });

  it('records a profile per node', async () => {
    const s = new Session(smallGraph(), { backend: 'ref', profile: true });
    await s.run({ x: new Tensor('float32', [1, 4]) });
    await s.run({ x: new Tensor('float32', [1, 4]) });
    const p = s.profile();
    // The Reshape is a view of Relu's output (see the aliasing test): it never runs.
    expect(p.map((e) => e.op).sort()).toEqual(['Add', 'Relu']);
    expect(p.every((e) => e.calls === 2 && e.meanMs >= 0)).toBe(true);
  });

  it('plans view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) as views of their input, not copies', async () => {
    const g = smallGraph();
    // act → Unsqueeze → Flatten → Identity → Squeeze chains onto the Reshape; `act` stays an output too.
    g.setValue({ name: 'ax', dtype: 'int64', shape: [1], constant: Tensor.fromNumbers('int64', [1], [0]) });
    for (const n of ['u', 'f', 'i', 'sq']) g.setValue({ name: n, dtype: 'float32' });
    g.addNode({ name: 'unsq', op: 'Unsqueeze', inputs: ['act', 'ax'], outputs: ['u'], attrs: {} });
    g.addNode({ name: 'flatten', op: 'Flatten', inputs: ['u'], outputs: ['f'], attrs: { axis: 1 } });
    g.addNode({ name: 'ident', op: 'Identity', inputs: ['f'], outputs: ['i'], attrs: {} });
    g.addNode({ name: 'squeeze', op: 'Squeeze', inputs: ['i', 'ax'], outputs: ['sq'], attrs: {} });
    g.outputs = ['y', 'act', 'sq'];
    const s = new Session(g, { backend: 'ref', inputShapes: { x: [2, 4] } });
    expect(s.currentPlan!.steps.map((st) => st.node.op)).toEqual(['Add', 'Relu']);
    const out = await s.run({ x: Tensor.fromNumbers('float32', [2, 4], [1, 1, 1, 1, -5, 5, -5, 5]) });
    const want = [2, 0, 3, 0, 0, 4, 0, 3];
    expect(out.y!.shape).toEqual([8]);
    expect(out.sq!.shape).toEqual([8]);
    expect(out.act!.shape).toEqual([2, 4]);
    for (const t of [out.y!, out.sq!, out.act!]) expect(t.toNumbers()).toEqual(want);
    // One buffer under three shapes.
    const bytes = (t: Tensor) => [t.data.buffer, t.data.byteOffset];
    expect(bytes(out.y!)).toEqual(bytes(out.act!));
    expect(bytes(out.sq!)).toEqual(bytes(out.act!));
  });

  it('copies where a view would reinterpret bytes: a Reshape whose output is quantized differently', async () => {
    const g = new Graph('requant-reshape', { format: 'cloudless', source: 'test' });
    g.setValue({ name: 'x', dtype: 'int8', shape: [2, 2], quant: { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) } });
    g.setValue({ name: 's', dtype: 'int64', shape: [1], constant: Tensor.fromNumbers('int64', [1], [4]) });
    g.setValue({ name: 'y', dtype: 'int8', shape: [4], quant: { scale: Float32Array.of(0.25), zeroPoint: Int32Array.of(0) } });
    g.inputs = ['x'];
    g.outputs = ['y'];
    g.addNode({ name: 'reshape', op: 'Reshape', inputs: ['x', 's'], outputs: ['y'], attrs: {} });
    const s = new Session(g, { backend: 'ref', inputShapes: { x: [2, 2] } });
    expect(s.currentPlan!.steps.map((st) => st.node.op)).toEqual(['Reshape']);
  });
});

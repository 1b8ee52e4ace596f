import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type Node } from '../../src/ir/index.js';
import { evalNode } from '../../src/runtime/eval-node.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { randomSource, randomTensor } from '../formats/onnx/fixtures.js';

/** A tiny interpreter: runs nodes in order through the real schemas and ref kernels. */
function evaluate(g: Graph, feeds: Record<string, Tensor>): Tensor[] {
  const env = new Map<string, Tensor>(Object.entries(feeds));
  for (const [name, v] of g.values) if (v.constant) env.set(name, v.constant);
  for (const n of g.nodes) {
    const outs = evalNode(n, n.inputs.map((i) => (i ? env.get(i)! : undefined)));
    n.outputs.forEach((o, i) => env.set(o, outs[i]!));
  }
  return g.outputs.map((o) => env.get(o)!);
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Builds a graph from nodes written as [op, inputs, outputs, attrs]. */
function graph(inputs: Record<string, number[]>, consts: Record<string, Tensor>, nodes: [string, string[], string[], Node['attrs']?][], outputs: string[]): Graph {
  const g = new Graph('t', { format: 'cloudless' });
  for (const [name, shape] of Object.entries(inputs)) { g.setValue({ name, dtype: 'float32', shape }); g.inputs.push(name); }
  for (const [name, t] of Object.entries(consts)) g.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  nodes.forEach(([op, ins, outs, attrs], i) => g.addNode({ name: `${op}_${i}`, op, inputs: ins, outputs: outs, attrs: attrs ?? {} }));
  g.outputs = outputs;
  return g;
}

function clone(g: Graph): Graph {
  const c = new Graph(g.name, { ...g.meta });
  for (const v of g.values.values()) c.setValue({ ...v });
  c.nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } }));
  c.inputs = [...g.inputs];
  c.outputs = [...g.outputs];
  return c;
}

/** Optimizes a copy, checks the results are unchanged, and returns the optimized graph. */
function optimizeAndCompare(g: Graph, feeds: Record<string, Tensor>): Graph {
  const want = evaluate(g, feeds);
  const opt = optimizeLayout(clone(g));
  const got = evaluate(opt, feeds);
  got.forEach((t, i) => {
    expect(t.shape).toEqual(want[i]!.shape);
    const w = want[i]!.toFloat32(), a = t.toFloat32();
    for (let k = 0; k < a.length; k++) expect(a[k]).toBeCloseTo(w[k]!, 5);
  });
  return opt;
}

const transposes = (g: Graph) => g.nodes.filter((n) => n.op === 'Transpose').length;
const rnd = randomSource(21);
const x = randomTensor([1, 4, 5, 3], rnd);

describe('optimizeLayout', () => {
  it('cancels T⁻¹ · unary ops · T chains', () => {
    const g = graph({ x: [1, 4, 5, 3] }, { lo: Tensor.scalar('float32', -0.1), hi: Tensor.scalar('float32', 0.2) }, [
      ['Transpose', ['x'], ['a'], { perm: NHWC_TO_NCHW }],
      ['Relu', ['a'], ['b']],
      ['Clip', ['b', 'lo', 'hi'], ['c']],
      ['Transpose', ['c'], ['d'], { perm: NCHW_TO_NHWC }],
      ['Sigmoid', ['d'], ['y']],
    ], ['y']);
    const opt = optimizeAndCompare(g, { x });
    expect(transposes(opt)).toBe(0);
    expect(opt.nodes.map((n) => n.op)).toEqual(['Relu', 'Clip', 'Sigmoid']);
  });

  it('re-indexes broadcast constants of lower rank, and sinks through ops fed by the same transpose twice', () => {
    const slope = randomTensor([3, 1, 1], rnd), bias = randomTensor([4, 1], rnd);
    const g = graph({ x: [1, 4, 5, 3] }, { slope, bias, one: Tensor.scalar('float32', 1) }, [
      ['Transpose', ['x'], ['a'], { perm: NHWC_TO_NCHW }],
      ['PRelu', ['a', 'slope'], ['b']],
      ['Add', ['b', 'bias'], ['c']],
      ['Mul', ['c', 'a'], ['d']],
      ['Sub', ['d', 'one'], ['e']],
      ['Transpose', ['e'], ['y'], { perm: NCHW_TO_NHWC }],
    ], ['y']);
    const opt = optimizeAndCompare(g, { x });
    expect(transposes(opt)).toBe(0);
    expect(opt.values.has('slope')).toBe(false);
  });

  it('remaps Concat axes, Pad pads, Resize scales and ReduceMean axes', () => {
    const g = graph({ x: [1, 4, 5, 3], z: [1, 4, 5, 2] }, {
      pads: Tensor.fromNumbers('int64', [8], [0, 1, 0, 2, 0, 0, 1, 0]),
      scales: Tensor.fromNumbers('float32', [4], [1, 1, 2, 3]),
      axes: Tensor.fromNumbers('int64', [2], [2, 3]),
    }, [
      ['Transpose', ['x'], ['a'], { perm: NHWC_TO_NCHW }],
      ['Transpose', ['z'], ['b'], { perm: NHWC_TO_NCHW }],
      ['Concat', ['a', 'b'], ['c'], { axis: 1 }],
      ['Pad', ['c', 'pads'], ['p'], { mode: 'constant' }],
      ['Resize', ['p', '', 'scales'], ['r'], { mode: 'nearest' }],
      ['ReduceMean', ['r', 'axes'], ['m'], { keepdims: 1 }],
      ['Transpose', ['r'], ['y1'], { perm: NCHW_TO_NHWC }],
      ['Transpose', ['m'], ['y2'], { perm: NCHW_TO_NHWC }],
    ], ['y1', 'y2']);
    const opt = optimizeAndCompare(g, { x, z: randomTensor([1, 4, 5, 2], rnd) });
    expect(transposes(opt)).toBe(0);
    expect(opt.nodes.find((n) => n.op === 'Concat')!.attrs['axis']).toBe(3);
  });

  it('keeps graph outputs and ops that need the full layout, and removes what becomes dead', () => {
    const g = graph({ x: [1, 4, 5, 3] }, { shape: Tensor.fromNumbers('int64', [2], [1, -1]) }, [
      ['Transpose', ['x'], ['a'], { perm: NHWC_TO_NCHW }],
      ['Relu', ['a'], ['b']],
      ['Reshape', ['b', 'shape'], ['flat']],
      ['Tanh', ['b'], ['t']],
      ['Transpose', ['t'], ['back'], { perm: NCHW_TO_NHWC }],
      ['Transpose', ['back'], ['y'], { perm: NHWC_TO_NCHW }],
      ['Neg', ['x'], ['unused']],
    ], ['flat', 'y', 'a']);
    const opt = optimizeAndCompare(g, { x });
    // 'a' is an output and stays; Reshape must read NCHW data; Neg is dead.
    expect(opt.nodes.some((n) => n.op === 'Neg')).toBe(false);
    expect(opt.nodes.find((n) => n.op === 'Reshape')!.inputs[0]).not.toBe('x');
    expect(opt.nodes.filter((n) => n.outputs.includes('a'))[0]!.op).toBe('Transpose');
  });

  it('leaves a graph without transposes alone', () => {
    const g = graph({ x: [1, 4, 5, 3] }, {}, [['Relu', ['x'], ['y']]], ['y']);
    expect(optimizeLayout(clone(g)).nodes).toEqual(g.nodes);
  });
});

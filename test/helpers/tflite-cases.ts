/**
 * Small canonical float graphs, one op (or a short chain) each, chosen to
 * exercise the TFLite writer's mappings: explicit pads that become a PAD
 * before the op, MaxPool padding that must never win, count_include_pad,
 * untransposed Gemm weights, Clip bounds without a named TFLite activation,
 * negative-step slices, negative gather indices, BatchNormalization → MUL + ADD.
 * Intermediate values carry no shapes, so the writer's shape inference runs.
 * Shared by the writer's round-trip test and the LiteRT.js oracle test.
 */
import { Graph, Tensor, type AttrValue, type Node } from '../../src/ir/index.js';
import { seededRandom } from '../../src/bench/model-builders.js';

export interface GraphCase {
  name: string;
  graph: Graph;
  feeds: Record<string, Tensor>;
}

export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const r = seededRandom(seed);
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + r() * (hi - lo);
  return t;
}

const i64 = (values: number[], shape = [values.length]) => Tensor.fromNumbers('int64', shape, values);
const f32 = (values: number[], shape = [values.length]) => Tensor.fromNumbers('float32', shape, values);

interface CaseSpec {
  name: string;
  inputs: Record<string, number[]>;
  nodes: { op: string; inputs: string[]; outputs?: string[]; attrs?: Record<string, AttrValue> }[];
  consts?: Record<string, Tensor>;
}

function build(spec: CaseSpec, seed: number): GraphCase {
  const g = new Graph(spec.name, { format: 'cloudless' });
  const feeds: Record<string, Tensor> = {};
  let k = 0;
  for (const [name, shape] of Object.entries(spec.inputs)) {
    g.setValue({ name, dtype: 'float32', shape });
    g.inputs.push(name);
    feeds[name] = randomTensor(shape, seed + k++);
  }
  for (const [name, t] of Object.entries(spec.consts ?? {})) g.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  spec.nodes.forEach((n, i) => {
    const outputs = n.outputs ?? [i === spec.nodes.length - 1 ? 'y' : `t${i}`];
    for (const o of outputs) g.setValue({ name: o, dtype: 'float32' });
    const node: Node = { name: `${n.op.toLowerCase()}_${i}`, op: n.op, inputs: n.inputs, outputs, attrs: n.attrs ?? {} };
    g.addNode(node);
  });
  g.outputs = spec.nodes[spec.nodes.length - 1]!.outputs ?? ['y'];
  return { name: spec.name, graph: g, feeds };
}

export function singleOpCases(): GraphCase[] {
  const specs: CaseSpec[] = [
    {
      name: 'Conv 3x3 stride 2, pads 1 (explicit → PAD), relu6, no bias',
      inputs: { x: [1, 9, 9, 3] },
      consts: { w: randomTensor([4, 3, 3, 3], 11) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], activation: 'relu6' } }],
    },
    {
      name: 'Conv SAME_LOWER (odd pad first → PAD)',
      inputs: { x: [1, 8, 8, 2] },
      consts: { w: randomTensor([3, 2, 2, 2], 12), b: randomTensor([3], 13) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], attrs: { auto_pad: 'SAME_LOWER' } }],
    },
    {
      name: 'DepthwiseConv multiplier 2, dilation 2, SAME_UPPER',
      inputs: { x: [1, 10, 10, 3] },
      consts: { w: randomTensor([1, 3, 3, 6], 14), b: randomTensor([6], 15) },
      nodes: [{ op: 'DepthwiseConv', inputs: ['x', 'w', 'b'], attrs: { auto_pad: 'SAME_UPPER', dilations: [2, 2], activation: 'relu' } }],
    },
    {
      name: 'MaxPool 3x3 stride 2 pads 1 (PADV2 with the lowest float)',
      inputs: { x: [1, 7, 7, 2] },
      nodes: [
        { op: 'Sub', inputs: ['x', 'two'] },
        { op: 'MaxPool', inputs: ['t0'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
      ],
      consts: { two: f32([2], []) },
    },
    {
      name: 'AveragePool 3x3 SAME_UPPER (TFLite SAME, pads not counted)',
      inputs: { x: [1, 6, 5, 2] },
      nodes: [{ op: 'AveragePool', inputs: ['x'], attrs: { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER' } }],
    },
    {
      name: 'AveragePool 2x2 stride 2 pads 1 with count_include_pad (PAD first)',
      inputs: { x: [1, 5, 5, 2] },
      nodes: [{ op: 'AveragePool', inputs: ['x'], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 } }],
    },
    {
      name: 'Gemm with untransposed constant B and bias, then Softmax',
      inputs: { x: [2, 6] },
      consts: { B: randomTensor([6, 4], 16), C: randomTensor([4], 17) },
      nodes: [{ op: 'Gemm', inputs: ['x', 'B', 'C'] }, { op: 'Softmax', inputs: ['t0'], attrs: { axis: -1 } }],
    },
    {
      name: 'MatMul batched (BATCH_MATMUL)',
      inputs: { a: [2, 3, 4], b: [2, 4, 5] },
      nodes: [{ op: 'MatMul', inputs: ['a', 'b'] }],
    },
    {
      name: 'broadcast Add, Mul, Sub, Div',
      inputs: { a: [1, 4, 4, 3], b: [1, 1, 1, 3] },
      consts: { c: f32([1.5, 2, 2.5]) },
      nodes: [
        { op: 'Add', inputs: ['a', 'b'] }, { op: 'Mul', inputs: ['t0', 'a'] }, { op: 'Sub', inputs: ['t1', 'b'] },
        { op: 'Div', inputs: ['t2', 'c'] },
      ],
    },
    {
      name: 'Clip(-0.5, 0.5) (MAXIMUM + MINIMUM), LeakyRelu, HardSwish, Sigmoid, Tanh',
      inputs: { x: [1, 3, 4, 5] },
      consts: { lo: f32([-0.5], []), hi: f32([0.5], []), three: f32([3], []) },
      nodes: [
        { op: 'Mul', inputs: ['x', 'three'] }, { op: 'LeakyRelu', inputs: ['t0'], attrs: { alpha: 0.2 } },
        { op: 'HardSwish', inputs: ['t1'] }, { op: 'Clip', inputs: ['t2', 'lo', 'hi'] }, { op: 'Sigmoid', inputs: ['t3'] },
        { op: 'Tanh', inputs: ['t4'] },
      ],
    },
    {
      name: 'ReduceMean over H, W (MEAN), Concat, Transpose, Reshape, Squeeze',
      inputs: { x: [1, 4, 6, 3] },
      consts: { axes: i64([1, 2]), shape: i64([0, -1]), sq: i64([0]) },
      nodes: [
        { op: 'ReduceMean', inputs: ['x', 'axes'], attrs: { keepdims: 1 } },
        { op: 'Concat', inputs: ['t0', 't0'], attrs: { axis: -1 } },
        { op: 'Transpose', inputs: ['x'], attrs: { perm: [0, 3, 1, 2] } },
        { op: 'Reshape', inputs: ['t2', 'shape'] },
        { op: 'Squeeze', inputs: ['t3', 'sq'] },
      ],
    },
    {
      name: 'Slice with a negative step and clamped ends (STRIDED_SLICE)',
      inputs: { x: [2, 7, 5] },
      consts: { starts: i64([-1, 100]), ends: i64([-1000, 1]), axes: i64([1, 2]), steps: i64([-2, -1]) },
      nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes', 'steps'] }],
    },
    {
      name: 'Pad constant 0.5 (PADV2) and reflect (MIRROR_PAD)',
      inputs: { x: [1, 3, 4, 2] },
      consts: { pads: i64([0, 1, 2, 0, 0, 2, 1, 0]), v: f32([0.5], []) },
      nodes: [
        { op: 'Pad', inputs: ['x', 'pads', 'v'], attrs: { mode: 'constant' } },
        { op: 'Pad', inputs: ['t0', 'pads'], attrs: { mode: 'reflect' } },
      ],
    },
    {
      name: 'Gather with negative constant indices',
      inputs: { x: [3, 5, 2] },
      consts: { idx: i64([-1, 0, 2, -5]) },
      nodes: [{ op: 'Gather', inputs: ['x', 'idx'], attrs: { axis: 1 } }],
    },
    {
      name: 'Resize bilinear half_pixel and nearest asymmetric floor',
      inputs: { x: [1, 4, 5, 2] },
      consts: { sizes: i64([7, 9]), sizes2: i64([14, 10]) },
      nodes: [
        { op: 'Resize', inputs: ['x', '', '', 'sizes'], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel', axes: [1, 2] } },
        { op: 'Resize', inputs: ['t0', '', '', 'sizes2'], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor', axes: [1, 2] } },
      ],
    },
    {
      name: 'BatchNormalization (MUL + ADD)',
      inputs: { x: [1, 3, 3, 4] },
      consts: { s: randomTensor([4], 18, 0.5, 1.5), b: randomTensor([4], 19), m: randomTensor([4], 20), v: randomTensor([4], 21, 0.5, 2) },
      nodes: [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], attrs: { epsilon: 1e-3 } }],
    },
  ];
  return specs.map((s, i) => build(s, 100 + 10 * i));
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.size !== b.size) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(Number(a.data[i]!) - Number(b.data[i]!)));
  return worst;
}

/**
 * Canonical graphs for the writer's chains that have no single TFLite builtin
 * (HardSigmoid, TopK's int32 indices, smallest-k by negation, ConvTranspose's
 * crops, Mod as FLOOR_MOD). Shared by the importer round trip and the LiteRT.js
 * comparison; `importable` is false where the importer lacks the builtin.
 */
import { Graph, Tensor, type AttrValue, type DType } from '../../../src/ir/index.js';
import { randomTensor } from '../../helpers/tflite-cases.js';

export interface WriterCase {
  name: string;
  graph: Graph;
  feeds: Record<string, Tensor>;
  /** The written file's operators, in order (TRANSPOSEs of the weights aside). */
  builtins: string[];
  importable: boolean;
}

interface Spec {
  name: string;
  input: number[];
  /** Input values are drawn from [-range, range]. */
  range?: number;
  consts?: Record<string, Tensor>;
  nodes: { op: string; inputs: string[]; outputs: [string, DType][]; attrs?: Record<string, AttrValue> }[];
  outputs: string[];
  builtins: string[];
  importable?: boolean;
}

function build(spec: Spec, seed: number): WriterCase {
  const g = new Graph(spec.name, { format: 'cloudless' });
  g.setValue({ name: 'x', dtype: 'float32', shape: spec.input });
  g.inputs = ['x'];
  for (const [name, t] of Object.entries(spec.consts ?? {})) g.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  spec.nodes.forEach((n, i) => {
    for (const [o, dtype] of n.outputs) g.setValue({ name: o, dtype });
    g.addNode({ name: `${n.op.toLowerCase()}_${i}`, op: n.op, inputs: n.inputs, outputs: n.outputs.map(([o]) => o), attrs: n.attrs ?? {} });
  });
  g.outputs = spec.outputs;
  const r = spec.range ?? 1;
  return { name: spec.name, graph: g, feeds: { x: randomTensor(spec.input, seed, -r, r) }, builtins: spec.builtins, importable: spec.importable ?? true };
}

const i64 = (values: number[], shape = [values.length]) => Tensor.fromNumbers('int64', shape, values);

export function writerCases(): WriterCase[] {
  const specs: Spec[] = [
    {
      name: 'HardSigmoid alpha 0.3 beta 0.4 (both clamps reached) → MUL, ADD, RELU_0_TO_1',
      input: [2, 3, 5], range: 5,
      nodes: [{ op: 'HardSigmoid', inputs: ['x'], outputs: [['y', 'float32']], attrs: { alpha: 0.3, beta: 0.4 } }],
      outputs: ['y'], builtins: ['MUL', 'ADD', 'RELU_0_TO_1'],
    },
    {
      name: 'HardSigmoid with default alpha and beta',
      input: [1, 4, 4, 3], range: 4,
      nodes: [{ op: 'HardSigmoid', inputs: ['x'], outputs: [['y', 'float32']] }],
      outputs: ['y'], builtins: ['MUL', 'ADD', 'RELU_0_TO_1'],
    },
    {
      name: 'TopK k=3 along the last axis, int64 indices as a graph output → TOPK_V2 + CAST',
      input: [2, 4, 10], consts: { k: i64([3]) },
      nodes: [{ op: 'TopK', inputs: ['x', 'k'], outputs: [['values', 'float32'], ['indices', 'int64']], attrs: { axis: -1, largest: 1, sorted: 1 } }],
      outputs: ['values', 'indices'], builtins: ['TOPK_V2', 'CAST'],
    },
    {
      name: 'TopK whose indices only feed a Cast to int32 → TOPK_V2 alone',
      input: [1, 50], consts: { k: i64([7]) },
      nodes: [
        { op: 'TopK', inputs: ['x', 'k'], outputs: [['values', 'float32'], ['wide', 'int64']], attrs: { axis: 1 } },
        { op: 'Cast', inputs: ['wide'], outputs: [['indices', 'int32']], attrs: { to: 'int32' } },
      ],
      outputs: ['values', 'indices'], builtins: ['TOPK_V2'],
    },
    {
      name: 'TopK smallest k=4 → NEG, TOPK_V2, NEG, CAST',
      input: [3, 9], consts: { k: i64([4]) },
      nodes: [{ op: 'TopK', inputs: ['x', 'k'], outputs: [['values', 'float32'], ['indices', 'int64']], attrs: { largest: 0 } }],
      outputs: ['values', 'indices'], builtins: ['NEG', 'TOPK_V2', 'NEG', 'CAST'],
    },
    {
      name: 'ConvTranspose kernel 2 stride 2, bias (VALID, PaddleOCR\'s form)',
      input: [1, 5, 6, 4], consts: { w: randomTensor([4, 2, 2, 3], 71), b: randomTensor([3], 72) },
      nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: [['y', 'float32']], attrs: { strides: [2, 2], pads: [0, 0, 0, 0] } }],
      outputs: ['y'], builtins: ['TRANSPOSE_CONV'],
    },
    {
      name: 'ConvTranspose kernel 4 stride 2 pads 1, relu (SAME)',
      input: [1, 4, 5, 3], consts: { w: randomTensor([3, 4, 4, 2], 73), b: randomTensor([2], 74) },
      nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: [['y', 'float32']], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], activation: 'relu' } }],
      outputs: ['y'], builtins: ['TRANSPOSE_CONV'],
    },
    {
      name: 'ConvTranspose kernel 3 stride 2 pads 1 output_padding 1, no bias (VALID + STRIDED_SLICE)',
      input: [1, 4, 3, 2], consts: { w: randomTensor([2, 3, 3, 5], 75) },
      nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: [['y', 'float32']], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] } }],
      outputs: ['y'], builtins: ['TRANSPOSE_CONV', 'STRIDED_SLICE'],
    },
    {
      name: 'ConvTranspose output_padding past the full output (bias only there, VALID)',
      input: [1, 3, 3, 2], consts: { w: randomTensor([2, 2, 2, 3], 76), b: randomTensor([3], 77) },
      nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: [['y', 'float32']], attrs: { strides: [3, 3], output_padding: [2, 1] } }],
      outputs: ['y'], builtins: ['TRANSPOSE_CONV'],
    },
    {
      name: 'Mod of TopK indices (centernet\'s index arithmetic) → FLOOR_MOD',
      input: [1, 40], consts: { k: i64([6]), d: Tensor.fromNumbers('int32', [], [7]) },
      nodes: [
        { op: 'TopK', inputs: ['x', 'k'], outputs: [['values', 'float32'], ['wide', 'int64']] },
        { op: 'Cast', inputs: ['wide'], outputs: [['indices', 'int32']], attrs: { to: 'int32' } },
        { op: 'Mod', inputs: ['indices', 'd'], outputs: [['rem', 'int32']], attrs: { fmod: 0 } },
      ],
      outputs: ['values', 'rem'], builtins: ['TOPK_V2', 'FLOOR_MOD'],
      // The importer does not map FLOOR_MOD back yet.
      importable: false,
    },
  ];
  return specs.map((s, i) => build(s, 700 + 10 * i));
}

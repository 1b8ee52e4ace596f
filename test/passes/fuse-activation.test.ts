/**
 * Activation fusion: Relu/Clip after a float layer become its `activation`
 * attribute, results are unchanged, and the cases that must not fuse are left.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { fuseActivations } from '../../src/passes/fuse-activation.js';
import { optimizeForInference } from '../../src/passes/optimize.js';
import { Session } from '../../src/runtime/session.js';
import { mobileNetV1, mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import type { OnnxNodeSpec } from '../../src/formats/onnx/writer.js';

function random(shape: number[], seed: number): Tensor {
  const r = seededRandom(seed);
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = r() * 4 - 2;
  return t;
}

const scalar = (v: number) => new Tensor('float32', [], new Float32Array([v]));

/** Conv(3x3) → `act` → output, plus extra nodes. */
function convThen(act: OnnxNodeSpec[], outputs = ['y']): Graph {
  const bytes = toOnnxBytes({
    opset: 17, producer: 'test',
    graph: {
      name: 'g',
      nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }, ...act],
      initializers: { w: random([5, 3, 3, 3], 1), b: random([5], 2), zero: scalar(0), six: scalar(6), five: scalar(5), one: scalar(1), minusOne: scalar(-1) },
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 6, 7] }],
      outputs: outputs.map((name) => ({ name, dtype: 'float32' as const, shape: [1, 5, 6, 7] })),
    },
  });
  const g = importOnnx(bytes, 'test.onnx');
  optimizeLayout(g);
  return g;
}

async function run(g: Graph, backend: 'ref' | 'auto' = 'ref'): Promise<Float32Array[]> {
  const s = new Session(g, { backend });
  const out = await s.run({ x: random([1, 3, 6, 7], 3) });
  return g.outputs.map((n) => Float32Array.from(out[n]!.data as Float32Array));
}

const ops = (g: Graph) => g.nodes.map((n) => n.op).filter((op) => op !== 'Transpose');

describe('fuseActivations', () => {
  const fusing: [string, OnnxNodeSpec, string][] = [
    ['Relu', { op: 'Relu', inputs: ['c'], outputs: ['y'] }, 'relu'],
    ['Clip(0, 6)', { op: 'Clip', inputs: ['c', 'zero', 'six'], outputs: ['y'] }, 'relu6'],
    ['Clip(-1, 1)', { op: 'Clip', inputs: ['c', 'minusOne', 'one'], outputs: ['y'] }, 'relu_n1_to_1'],
    ['Clip(0)', { op: 'Clip', inputs: ['c', 'zero'], outputs: ['y'] }, 'relu'],
  ];
  for (const [name, act, activation] of fusing) {
    it(`fuses Conv + ${name} into activation "${activation}" with the same result`, async () => {
      const g = convThen([act]);
      const want = await run(g);
      expect(fuseActivations(g)).toBe(1);
      expect(ops(g)).toEqual(['Conv']);
      expect(g.nodes.find((n) => n.op === 'Conv')!.attrs['activation']).toBe(activation);
      expect(g.values.has('c')).toBe(false);
      // The same clamp applied in the layer: bit-identical on the reference backend.
      expect(await run(g)).toEqual(want);
      // The wasm kernels clamp in their epilogue: float32 sums of 27 taps, well within 1e-5.
      const fast = (await run(g, 'auto'))[0]!;
      for (let i = 0; i < fast.length; i++) expect(Math.abs(fast[i]! - want[0]![i]!)).toBeLessThan(1e-5);
    });
  }

  it('leaves Clip with other bounds, a shared output and a graph output alone', () => {
    const other = convThen([{ op: 'Clip', inputs: ['c', 'zero', 'five'], outputs: ['y'] }]);
    expect(fuseActivations(other)).toBe(0);
    const shared = convThen([{ op: 'Relu', inputs: ['c'], outputs: ['y'] }, { op: 'Neg', inputs: ['c'], outputs: ['z'] }], ['y', 'z']);
    expect(fuseActivations(shared)).toBe(0);
    const exposed = convThen([{ op: 'Relu', inputs: ['c'], outputs: ['y'] }], ['y', 'c']);
    expect(fuseActivations(exposed)).toBe(0);
  });

  it('does not fuse into a layer that already has an activation, nor twice', () => {
    const g = convThen([{ op: 'Relu', inputs: ['c'], outputs: ['r'] }, { op: 'Clip', inputs: ['r', 'zero', 'six'], outputs: ['y'] }]);
    expect(fuseActivations(g)).toBe(1);
    expect(ops(g)).toEqual(['Conv', 'Clip']);
  });

  it('leaves int8 layers alone (their activation clamps in the quantized domain)', () => {
    const g = new Graph('q', { format: 'tflite' });
    const quant = (scale: number, zeroPoint: number) => ({ scale: new Float32Array([scale]), zeroPoint: new Int32Array([zeroPoint]) });
    const q = quant(0.1, 3);
    g.setValue({ name: 'x', dtype: 'int8', shape: [1, 4, 4, 2], quant: q });
    g.setValue({ name: 'w', dtype: 'int8', shape: [2, 1, 1, 2], constant: new Tensor('int8', [2, 1, 1, 2]), quant: quant(0.5, 0) });
    g.setValue({ name: 'c', dtype: 'int8', shape: [1, 4, 4, 2], quant: q });
    g.setValue({ name: 'y', dtype: 'int8', shape: [1, 4, 4, 2], quant: quant(0.05, -128) });
    g.nodes = [
      { name: 'conv', op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: {} },
      { name: 'relu', op: 'Relu', inputs: ['c'], outputs: ['y'], attrs: {} },
    ];
    g.inputs = ['x'];
    g.outputs = ['y'];
    expect(fuseActivations(g)).toBe(0);
  });

  it('ConvTranspose (one group): BatchNormalization, a per-channel scale and bias fold in and Relu fuses; two groups keep theirs', async () => {
    for (const group of [1, 2]) {
      const bytes = toOnnxBytes({
        opset: 17, producer: 'test',
        graph: {
          name: 'g',
          nodes: [
            { op: 'ConvTranspose', name: 'up', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: [2, 2], strides: [2, 2], group } },
            { op: 'BatchNormalization', inputs: ['c', 'gamma', 'beta', 'mean', 'var'], outputs: ['n'] },
            { op: 'Mul', inputs: ['n', 'scale'], outputs: ['m'] },
            { op: 'Add', inputs: ['m', 'shift'], outputs: ['a'] },
            { op: 'Relu', inputs: ['a'], outputs: ['y'] },
          ],
          initializers: {
            w: random([4, 6 / group, 2, 2], 4), b: random([6], 5), gamma: random([6], 6), beta: random([6], 7), mean: random([6], 8),
            var: new Tensor('float32', [6], Float32Array.from(random([6], 9).data as Float32Array, (v) => Math.abs(v) + 0.1)),
            scale: random([1, 6, 1, 1], 10), shift: random([1, 6, 1, 1], 11),
          },
          inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 3] }],
          outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6, 10, 6] }],
        },
      });
      const g = importOnnx(bytes, 't.onnx');
      optimizeLayout(g);
      const x = random([1, 4, 5, 3], 12);
      const want = Float32Array.from((await new Session(g, { backend: 'ref' }).run({ x })).y!.data as Float32Array);
      optimizeForInference(g);
      expect(ops(g)).toEqual(group === 1 ? ['ConvTranspose'] : ['ConvTranspose', 'BatchNormalization', 'Mul', 'Add', 'Relu']);
      for (const backend of ['ref', 'auto'] as const) {
        const got = (await new Session(g, { backend }).run({ x })).y!.data as Float32Array;
        // Rescaled weights (one float32 rounding each) and float32 sums of 16 products.
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
      }
    }
  });

  it('MobileNet graphs: BN folded, every Clip fused, output unchanged', async () => {
    for (const spec of [mobileNetV1({ size: 32, alpha: 0.25, classes: 10, blocks: 3, batchNorm: true }), mobileNetV2({ size: 32, alpha: 0.35, classes: 10, blocks: 4 })]) {
      const g = importOnnx(toOnnxBytes(spec), 'm.onnx');
      optimizeLayout(g);
      const x = random([1, 3, 32, 32], 9);
      const before = await new Session(g, { backend: 'ref' }).run({ input: x });
      const want = Float32Array.from(before.probabilities!.data as Float32Array);
      optimizeForInference(g);
      expect(ops(g).filter((op) => op === 'Clip' || op === 'Relu' || op === 'BatchNormalization')).toEqual([]);
      const got = (await new Session(g, { backend: 'ref' }).run({ input: x })).probabilities!.data as Float32Array;
      // Folding BN rescales weights in float32 (one rounding per weight): far below 1e-6 on probabilities.
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    }
  });
});

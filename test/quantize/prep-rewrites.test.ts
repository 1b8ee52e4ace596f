import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/bench/model-builders.js';
import { Graph, Tensor, type Node } from '../../src/ir/index.js';
import { equalizeCrossLayer, foldAddIntoBias, foldMulIntoLayer, fuseHardSwish } from '../../src/passes/quantize-prep.js';
import { keepOutputs } from '../../src/passes/keep-outputs.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { biasScaleFloor, correctedBias, quantizeWeights } from '../../src/quantize/params.js';
import { Session } from '../../src/runtime/session.js';

function random(rand: () => number, shape: number[], scale: number, offset = 0): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = offset + (rand() * 2 - 1) * scale;
  return t;
}

const CONV = { strides: [1, 1], dilations: [1, 1], auto_pad: 'SAME_UPPER' };

/** x → Conv(relu) → DepthwiseConv(relu) → Conv → + 0.5 ; the depthwise channels have ranges 100x apart. */
function threeLayers(seed: number): Graph {
  const rand = seededRandom(seed);
  const g = new Graph('three', { format: 'cloudless' });
  const c = (name: string, t: Tensor) => g.setValue({ name, dtype: 'float32', shape: [...t.shape], constant: t });
  g.setValue({ name: 'x', dtype: 'float32', shape: [1, 6, 6, 3] });
  c('w1', random(rand, [8, 1, 1, 3], 0.5)); c('b1', random(rand, [8], 0.1));
  const dw = random(rand, [1, 3, 3, 8], 0.3);
  for (let i = 0; i < dw.size; i++) (dw.data as Float32Array)[i]! *= i % 8 < 4 ? 10 : 0.1;
  c('w2', dw); c('b2', random(rand, [8], 0.1));
  c('w3', random(rand, [4, 1, 1, 8], 0.5)); c('b3', random(rand, [4], 0.1));
  c('half', Tensor.scalar('float32', 0.5));
  const node = (name: string, op: string, inputs: string[], attrs: Node['attrs'] = {}): void => {
    g.addNode({ name, op, inputs, outputs: [name], attrs });
  };
  node('conv1', 'Conv', ['x', 'w1', 'b1'], { ...CONV, group: 1, activation: 'relu' });
  node('dw', 'DepthwiseConv', ['conv1', 'w2', 'b2'], { ...CONV, activation: 'relu' });
  node('conv3', 'Conv', ['dw', 'w3', 'b3'], { ...CONV, group: 1, activation: 'none' });
  node('y', 'Add', ['conv3', 'half']);
  g.setValue({ name: 'y', dtype: 'float32', shape: [1, 6, 6, 4] });
  g.inputs = ['x'];
  g.outputs = ['y'];
  return g;
}

function run(g: Graph, x: Tensor): Float32Array {
  return new Session(g).runSync({ x }).y!.toFloat32();
}

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(a[i]!)));
}

describe('quantization rewrites', () => {
  it('equalizes conv → depthwise → conv and folds the Add into the bias without changing the float result', () => {
    const rand = seededRandom(3);
    const x = random(rand, [1, 6, 6, 3], 1);
    const g = threeLayers(1);
    const before = run(threeLayers(1), x);
    expect(foldAddIntoBias(g)).toBe(1);
    expect(g.nodes.map((n) => n.op)).toEqual(['Conv', 'DepthwiseConv', 'Conv']);
    expect(equalizeCrossLayer(g)).toBe(2);
    expectClose(before, run(g, x), 1e-5);
    // The depthwise weight ranges, 100x apart before, are within a factor of a few after.
    const w = g.value(g.nodes[1]!.inputs[1]!).constant!.data as Float32Array;
    const range = Array.from({ length: 8 }, (_, c) => Math.max(...Array.from({ length: 9 }, (_, k) => Math.abs(w[k * 8 + c]!))));
    expect(Math.max(...range) / Math.min(...range)).toBeLessThan(10);
  });

  it('equalizes with measured activation ranges in one sweep, still without changing the float result', () => {
    const rand = seededRandom(4);
    const g = threeLayers(2);
    const samples = Array.from({ length: 3 }, () => ({ x: random(rand, [1, 6, 6, 3], 1) }));
    const before = run(threeLayers(2), samples[0]!.x);
    const r = calibrate(g, samples);
    expect(equalizeCrossLayer(g, (v) => r.channelAbsMax(v))).toBe(2);
    expectClose(before, run(g, samples[0]!.x), 1e-5);
  });

  it('finds hard-swish spelled with Mul, Add and Clip in both orders, and with a division by 6', () => {
    for (const form of ['tf', 'keras', 'div'] as const) {
      const tfOrder = form === 'tf';
      const g = new Graph('hs', { format: 'cloudless' });
      g.setValue({ name: 'x', dtype: 'float32', shape: [1, 10] });
      for (const [n, v] of [['sixth', 0.1666259765625], ['three', 3], ['zero', 0], ['six', 6]] as const) {
        g.setValue({ name: n, dtype: 'float32', shape: [], constant: Tensor.scalar('float32', v) });
      }
      g.addNode({ name: 'add', op: 'Add', inputs: ['x', 'three'], outputs: ['a'], attrs: {} });
      g.addNode({ name: 'relu6', op: 'Clip', inputs: ['a', 'zero', 'six'], outputs: ['r'], attrs: {} });
      if (tfOrder) {
        g.addNode({ name: 'scale', op: 'Mul', inputs: ['sixth', 'x'], outputs: ['m'], attrs: {} });
        g.addNode({ name: 'y', op: 'Mul', inputs: ['m', 'r'], outputs: ['y'], attrs: {} });
      } else {
        g.addNode({ name: 'prod', op: 'Mul', inputs: ['x', 'r'], outputs: ['p'], attrs: {} });
        g.addNode({ name: 'y', op: form === 'div' ? 'Div' : 'Mul', inputs: ['p', form === 'div' ? 'six' : 'sixth'], outputs: ['y'], attrs: {} });
      }
      g.setValue({ name: 'y', dtype: 'float32', shape: [1, 10] });
      g.inputs = ['x'];
      g.outputs = ['y'];
      const x = new Tensor('float32', [1, 10], Float32Array.from({ length: 10 }, (_, i) => i - 5));
      const before = run(g, x);
      // At load (exact ⅙ only) the TF.js float16 ⅙ stays spelled out; the division by 6 is exact and fuses.
      expect(fuseHardSwish(g, { exactSixth: true })).toBe(form === 'div' ? 1 : 0);
      expect(fuseHardSwish(g)).toBe(form === 'div' ? 0 : 1);
      expect(g.nodes.map((n) => n.op)).toEqual(['HardSwish']);
      expectClose(before, run(g, x), 3e-4);
    }
  });

  it('folds scale Muls (scalar and per channel) into conv, depthwise and fully connected weights and bias', () => {
    const rand = seededRandom(8);
    const build = () => {
      const r = seededRandom(4);
      const g = new Graph('scales', { format: 'cloudless' });
      const c = (name: string, t: Tensor) => g.setValue({ name, dtype: 'float32', shape: [...t.shape], constant: t });
      g.setValue({ name: 'x', dtype: 'float32', shape: [1, 5, 5, 3] });
      c('w1', random(r, [6, 3, 3, 3], 0.5)); c('b1', random(r, [6], 0.1)); c('s1', random(r, [6], 2));
      c('w2', random(r, [1, 3, 3, 6], 0.5)); c('s2', Tensor.scalar('float32', -0.75));
      c('w3', random(r, [4, 150], 0.1)); c('b3', random(r, [4], 0.1)); c('s3', random(r, [1, 4], 1.5));
      c('shape', Tensor.fromNumbers('int64', [2], [1, 150]));
      g.addNode({ name: 'conv', op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['a'], attrs: { ...CONV, group: 1, activation: 'none' } });
      g.addNode({ name: 'scale1', op: 'Mul', inputs: ['a', 's1'], outputs: ['as'], attrs: {} });
      g.addNode({ name: 'dw', op: 'DepthwiseConv', inputs: ['as', 'w2'], outputs: ['d'], attrs: { ...CONV, activation: 'none' } });
      g.addNode({ name: 'scale2', op: 'Mul', inputs: ['s2', 'd'], outputs: ['ds'], attrs: {} });
      g.addNode({ name: 'flat', op: 'Reshape', inputs: ['ds', 'shape'], outputs: ['f'], attrs: {} });
      g.addNode({ name: 'fc', op: 'FullyConnected', inputs: ['f', 'w3', 'b3'], outputs: ['o'], attrs: {} });
      g.addNode({ name: 'scale3', op: 'Mul', inputs: ['o', 's3'], outputs: ['y'], attrs: {} });
      for (const v of ['a', 'as', 'd', 'ds', 'f', 'o']) g.setValue({ name: v, dtype: 'float32' });
      g.setValue({ name: 'y', dtype: 'float32', shape: [1, 4] });
      g.inputs = ['x'];
      g.outputs = ['y'];
      return g;
    };
    const x = random(rand, [1, 5, 5, 3], 1);
    const g = build();
    const before = run(build(), x);
    expect(foldMulIntoLayer(g)).toBe(3);
    expect(g.nodes.map((n) => n.op)).toEqual(['Conv', 'DepthwiseConv', 'Reshape', 'FullyConnected']);
    expectClose(before, run(g, x), 1e-5);
  });

  it('keeps only the named outputs and what they need, and names a missing one', () => {
    const g = threeLayers(1);
    expect(keepOutputs(g, ['dw'])).toBe(2);
    expect(g.nodes.map((n) => n.name)).toEqual(['conv1', 'dw']);
    expect(g.values.has('w3')).toBe(false);
    expect(() => keepOutputs(threeLayers(1), ['nope'])).toThrow(/no value "nope"/);
    // 'dw' was never declared (ONNX files often leave intermediates so): as the kept output it is, with its inferred type and shape.
    expect(g.value('dw').dtype).toBe('float32');
    expect(g.value('dw').shape).toEqual([1, 6, 6, 8]);
    expect(new Session(g).outputs).toEqual([{ name: 'dw', dtype: 'float32', shape: [1, 6, 6, 8] }]);
  });
});

describe('bias handling in the quantizer', () => {
  it('raises weight scales so that a large bias over a tiny input scale fits in int32', () => {
    const w = new Tensor('float32', [2, 1, 1, 1], Float32Array.of(0.01, 0.02));
    const b = new Tensor('float32', [2], Float32Array.of(5, 0.001));
    const floor = biasScaleFloor(b, 1e-5, 2);
    const q = quantizeWeights(w, 0, floor);
    expect(q.quant!.scale[0]).toBeGreaterThan(0.01 / 127);
    expect(q.quant!.scale[1]).toBeCloseTo(0.02 / 127, 9);
    expect(5 / (1e-5 * q.quant!.scale[0]!)).toBeLessThanOrEqual(2 ** 30 + 1);
  });

  it('removes the mean error that weight rounding adds (δW·E[x])', () => {
    const w = new Tensor('float32', [1, 1, 1, 2], Float32Array.of(0.5, 0.0031));
    const wq = quantizeWeights(w, 0);
    const node: Node = { name: 'c', op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: {} };
    const b = new Tensor('float32', [1], Float32Array.of(1));
    const mean = Float64Array.of(2, 100);
    const dq = Array.from(wq.toFloat32());
    const shift = (dq[0]! - 0.5) * 2 + (dq[1]! - 0.0031) * 100;
    expect(Math.abs(shift)).toBeGreaterThan(1e-3);
    expect(correctedBias(node, b, w, wq, mean).data[0]).toBeCloseTo(1 - shift, 6);
    expect(correctedBias(node, b, w, wq, undefined)).toBe(b);
  });

  it('quantizes the equalized three-layer graph within cosine 0.999 of float', () => {
    const rand = seededRandom(5);
    const g = threeLayers(3);
    foldAddIntoBias(g);
    equalizeCrossLayer(g);
    const samples = Array.from({ length: 6 }, () => ({ x: random(rand, [1, 6, 6, 3], 1) }));
    const q = quantizeGraph(g, calibrate(g, samples.slice(0, 4)));
    for (const s of samples.slice(4)) {
      const a = run(g, s.x), b = run(q.graph, s.x);
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
      expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.999);
    }
  });
});

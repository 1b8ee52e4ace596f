import { describe, expect, it } from 'vitest';
import { mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { CloudlessError, Graph, Tensor, type AttrValue } from '../../src/ir/index.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { HessianAccumulator, gptqRoundWeights, type WeightHessian } from '../../src/quantize/gptq.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { quantizeWeights } from '../../src/quantize/params.js';
import { cosineSimilarity } from '../../src/quantize/report.js';
import { Session } from '../../src/runtime/session.js';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * `count` inputs [..., C] from one distribution whose channels mix a few
 * latent factors plus an offset and a little noise, the way real activations
 * are correlated. With `spatial` the factors are smooth waves over [N, H, W]
 * (neighbouring pixels alike, as in images) whose phase each sample draws;
 * otherwise each row draws its own factors.
 */
function correlatedInputs(seed: number, shape: number[], spatial: boolean, count: number): Tensor[] {
  const rand = seededRandom(seed);
  const c = shape[shape.length - 1]!, factors = 3;
  const mix = Array.from({ length: factors * c }, () => gaussian(rand));
  const offset = Array.from({ length: c }, () => rand());
  const waves = Array.from({ length: factors }, () => [rand() * 0.8, rand() * 0.8]);
  const width = spatial ? shape[shape.length - 2]! : 1;
  return Array.from({ length: count }, () => {
    const t = new Tensor('float32', shape);
    const d = t.data as Float32Array;
    const phases = waves.map(() => rand() * 2 * Math.PI);
    const z = new Float64Array(factors);
    for (let p = 0; p < d.length / c; p++) {
      for (let f = 0; f < factors; f++) {
        const [fy, fx] = waves[f]!;
        z[f] = spatial ? Math.sin(fy! * Math.floor(p / width) + fx! * (p % width) + phases[f]!) : gaussian(rand);
      }
      for (let k = 0; k < c; k++) {
        let v = offset[k]! + 0.05 * gaussian(rand);
        for (let f = 0; f < factors; f++) v += mix[f * c + k]! * z[f]!;
        d[p * c + k] = v;
      }
    }
    return t;
  });
}

function randomWeights(seed: number, shape: number[]): Tensor {
  const rand = seededRandom(seed);
  return new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => gaussian(rand) * 0.3));
}

/** The int8 weights back in float: q · s per output channel (the quantization axis). */
function dequantized(q: Tensor): Tensor {
  const { scale, axis = 0 } = q.quant!;
  const inner = q.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = q.shape[axis]!;
  return new Tensor('float32', q.shape, Float32Array.from(q.data as Int8Array, (v, i) => v * scale[Math.floor(i / inner) % channels]!));
}

/** The layer's float output through the reference kernel, so that the patches GPTQ saw are checked against the real op. */
function runLayer(op: string, attrs: Record<string, AttrValue>, x: Tensor, w: Tensor): Float32Array {
  const g = new Graph('gptq-layer', { format: 'cloudless' });
  g.setValue({ name: 'x', dtype: 'float32', shape: [...x.shape] });
  g.setValue({ name: 'w', dtype: 'float32', shape: [...w.shape], constant: w });
  g.setValue({ name: 'y', dtype: 'float32' });
  g.addNode({ name: 'layer', op, inputs: ['x', 'w'], outputs: ['y'], attrs });
  g.inputs = ['x'];
  g.outputs = ['y'];
  const s = new Session(g, { backend: 'ref' });
  const y = Float32Array.from(s.runSync({ x }).y!.data as Float32Array);
  s.dispose();
  return y;
}

function squaredError(op: string, attrs: Record<string, AttrValue>, xs: Tensor[], w: Tensor, wq: Tensor): number {
  let e = 0;
  for (const x of xs) {
    const a = runLayer(op, attrs, x, w), b = runLayer(op, attrs, x, dequantized(wq));
    for (let i = 0; i < a.length; i++) e += (a[i]! - b[i]!) ** 2;
  }
  return e;
}

/** Σ_o δw_o · (Σ x xᵀ) · δw_oᵀ for δw = dequantized(wq) − w, read in the layout GPTQ documents. */
function predictedError(op: string, h: WeightHessian, w: Tensor, wq: Tensor): number {
  const dq = dequantized(wq).data as Float32Array, d = w.data as Float32Array;
  const n = h.columns, depthwise = op === 'DepthwiseConv';
  const channels = depthwise ? w.shape[w.rank - 1]! : w.shape[0]!;
  const at = (o: number, k: number) => (depthwise ? k * channels + o : o * n + k);
  let e = 0;
  for (let o = 0; o < channels; o++) {
    const base = Math.floor(o / (channels / h.blocks)) * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const hij = h.sum[base + Math.min(i, j) * n + Math.max(i, j)]!;
        e += (dq[at(o, i)]! - d[at(o, i)]!) * hij * (dq[at(o, j)]! - d[at(o, j)]!);
      }
    }
  }
  return e;
}

interface LayerCase {
  name: string;
  op: string;
  attrs: Record<string, AttrValue>;
  weight: number[];
  input: number[];
  spatial: boolean;
}

const CASES: LayerCase[] = [
  { name: 'FullyConnected', op: 'FullyConnected', attrs: {}, weight: [16, 48], input: [256, 48], spatial: false },
  {
    name: 'Conv 3x3, two groups, stride 2, asymmetric pads', op: 'Conv',
    attrs: { strides: [2, 2], pads: [1, 1, 0, 0], group: 2 }, weight: [8, 3, 3, 4], input: [1, 20, 20, 8], spatial: true,
  },
  {
    name: 'Conv 3x3, dilation 2, SAME_UPPER', op: 'Conv',
    attrs: { dilations: [2, 2], auto_pad: 'SAME_UPPER' }, weight: [6, 3, 3, 5], input: [1, 16, 16, 5], spatial: true,
  },
  {
    name: 'DepthwiseConv 3x3, multiplier 2, stride 2, SAME_UPPER', op: 'DepthwiseConv',
    attrs: { strides: [2, 2], auto_pad: 'SAME_UPPER' }, weight: [1, 3, 3, 40], input: [1, 24, 24, 20], spatial: true,
  },
];

describe('GPTQ weight rounding', () => {
  for (const c of CASES) {
    it(`${c.name}: lowers the output error of nearest rounding, on the same per-channel grid`, () => {
      const axis = c.op === 'DepthwiseConv' ? 3 : 0;
      const w = randomWeights(1, c.weight);
      const [held, ...calibration] = correlatedInputs(100, c.input, c.spatial, 5);
      const acc = new HessianAccumulator({ name: 'layer', op: c.op, inputs: ['x', 'w'], outputs: ['y'], attrs: c.attrs }, w.shape);
      for (const x of calibration) acc.add(x);
      const nearest = quantizeWeights(w, axis);
      const gptq = gptqRoundWeights(c.op, w, nearest, acc.hessian!);

      expect(gptq.quant).toBe(nearest.quant);
      expect(gptq.shape).toEqual(nearest.shape);
      for (const v of gptq.data as Int8Array) expect(v).toBeGreaterThanOrEqual(-127);
      const moved = (gptq.data as Int8Array).filter((v, i) => v !== (nearest.data as Int8Array)[i]).length;
      expect(moved).toBeGreaterThan(0);

      const nearestError = squaredError(c.op, c.attrs, calibration, w, nearest);
      // The Hessian predicts the output error of any weight change exactly: its patches are the op's.
      expect(predictedError(c.op, acc.hessian!, w, nearest) / nearestError).toBeCloseTo(1, 3);
      const gptqError = squaredError(c.op, c.attrs, calibration, w, gptq);
      expect(gptqError).toBeLessThan(0.8 * nearestError);
      // And on inputs it has not seen, from the same distribution.
      expect(squaredError(c.op, c.attrs, [held!], w, gptq)).toBeLessThan(squaredError(c.op, c.attrs, [held!], w, nearest));
    });
  }

  it('equals nearest rounding when H is the identity (uncorrelated, equally strong inputs)', () => {
    for (const c of CASES) {
      const axis = c.op === 'DepthwiseConv' ? 3 : 0;
      const w = randomWeights(2, c.weight);
      const nearest = quantizeWeights(w, axis);
      const blocks = c.op === 'DepthwiseConv' ? c.input[3]! : (c.attrs.group as number | undefined) ?? 1;
      const columns = c.op === 'DepthwiseConv' ? 9 : w.size / w.shape[0]!;
      const sum = new Float64Array(blocks * columns * columns);
      for (let b = 0; b < blocks; b++) for (let i = 0; i < columns; i++) sum[(b * columns + i) * columns + i] = 1;
      const h: WeightHessian = { blocks, columns, sum, rows: columns };
      expect(Array.from(gptqRoundWeights(c.op, w, nearest, h).data as Int8Array)).toEqual(Array.from(nearest.data as Int8Array));
    }
  });

  it('samples at most maxRowsPerSample patch rows per sample, evenly', () => {
    const node = { name: 'conv', op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { auto_pad: 'SAME_UPPER' } };
    const acc = new HessianAccumulator(node, [2, 3, 3, 3], 30);
    for (const x of correlatedInputs(9, [1, 10, 10, 3], true, 2)) acc.add(x);
    // 100 output pixels at stride ⌈100 / 30⌉ = 4: 25 rows per sample.
    expect(acc.hessian!.rows).toBe(50);
  });

  it('keeps the raised scale of the bias floor and clamps to [-127, 127]', () => {
    const w = randomWeights(3, [4, 32]);
    const floor = Float64Array.from({ length: 4 }, (_, o) => (o === 1 ? 0.05 : 0));
    const nearest = quantizeWeights(w, 0, floor);
    const acc = new HessianAccumulator({ name: 'fc', op: 'FullyConnected', inputs: ['x', 'w'], outputs: ['y'], attrs: {} }, w.shape);
    acc.add(correlatedInputs(5, [128, 32], false, 1)[0]!);
    const gptq = gptqRoundWeights('FullyConnected', w, nearest, acc.hessian!);
    expect(gptq.quant!.scale).toBe(nearest.quant!.scale);
    expect(gptq.quant!.scale[1]).toBeCloseTo(0.05, 7);
    expect(Math.min(...(gptq.data as Int8Array))).toBeGreaterThanOrEqual(-127);
  });

  it('leaves inputs calibration never saw (a dead channel) at nearest rounding', () => {
    const w = randomWeights(4, [5, 12]);
    const x = correlatedInputs(6, [200, 12], false, 1)[0]!;
    const d = x.data as Float32Array;
    for (let r = 0; r < 200; r++) d[r * 12 + 7] = 0;
    const acc = new HessianAccumulator({ name: 'fc', op: 'FullyConnected', inputs: ['x', 'w'], outputs: ['y'], attrs: {} }, w.shape);
    acc.add(x);
    const nearest = quantizeWeights(w, 0);
    const gptq = gptqRoundWeights('FullyConnected', w, nearest, acc.hessian!);
    for (let o = 0; o < 5; o++) expect(gptq.data[o * 12 + 7]).toBe(nearest.data[o * 12 + 7]);
    expect(Array.from(gptq.data as Int8Array)).not.toEqual(Array.from(nearest.data as Int8Array));
  });
});

describe('GPTQ in the quantizer', () => {
  async function smallMobileNet(): Promise<Graph> {
    const g = optimizeLayout(importOnnx(toOnnxBytes(mobileNetV2({ size: 32, alpha: 0.35, classes: 10, blocks: 3, batchNorm: true })), 'mobilenet.onnx'));
    prepareForQuantization(g);
    return g;
  }

  it('rounds every Conv, DepthwiseConv and FullyConnected of a MobileNet by GPTQ, with bias correction, and stays close to float', async () => {
    const g = await smallMobileNet();
    const rand = seededRandom(5);
    const input = () => ({ input: new Tensor('float32', [1, 3, 32, 32], Float32Array.from({ length: 3 * 32 * 32 }, () => rand() * 2 - 1)) });
    const samples = Array.from({ length: 16 }, input);
    const calibration = calibrate(g, samples, { weightHessians: true });
    const weighted = g.nodes.filter((n) => n.op === 'Conv' || n.op === 'DepthwiseConv' || n.op === 'FullyConnected');
    expect([...calibration.hessians.keys()].sort()).toEqual(weighted.map((n) => n.name).sort());
    expect(calibration.hessians.get(weighted[0]!.name)!.rows).toBe(16 * 16 * 16);

    const nearest = quantizeGraph(g, calibration);
    const progress: [number, number][] = [];
    const gptq = quantizeGraph(g, calibration, { weightRounding: 'gptq', onWeightsRounded: (done, total) => progress.push([done, total]) });
    // One tick per weighted node, counting up to all of them.
    expect(progress).toEqual(weighted.map((_, i) => [i + 1, weighted.length]));
    let moved = 0, rebiased = 0;
    for (const n of gptq.graph.nodes.filter((m) => weighted.some((w) => w.name === m.name))) {
      const twin = nearest.graph.nodes.find((m) => m.name === n.name)!;
      const a = gptq.graph.value(n.inputs[1]!).constant!, b = nearest.graph.value(twin.inputs[1]!).constant!;
      expect(a.dtype).toBe('int8');
      expect(a.quant!.scale).toEqual(b.quant!.scale);
      if ((a.data as Int8Array).some((v, i) => v !== b.data[i])) moved++;
      // Bias correction follows the weights it corrects for.
      const ba = gptq.graph.value(n.inputs[2]!).constant!, bb = nearest.graph.value(twin.inputs[2]!).constant!;
      if ((ba.data as Int32Array).some((v, i) => v !== bb.data[i])) rebiased++;
    }
    expect(moved).toBe(weighted.length);
    expect(rebiased).toBeGreaterThan(0);

    const float = new Session(g), q = new Session(gptq.graph);
    for (const s of Array.from({ length: 6 }, input)) {
      expect(cosineSimilarity(float.runSync(s).probabilities!.toFloat32(), q.runSync(s).probabilities!.toFloat32())).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('shares GPTQ roundings between two calibration methods: the same grid takes the same weights without a second GPTQ', async () => {
    const g = await smallMobileNet();
    const rand = seededRandom(11);
    const samples = Array.from({ length: 8 }, () => ({ input: new Tensor('float32', [1, 3, 32, 32], Float32Array.from({ length: 3 * 32 * 32 }, () => rand() * 2 - 1)) }));
    const calibration = calibrate(g, samples, { weightHessians: true });
    const roundedWeights = new Map<string, Tensor>();
    const first = quantizeGraph(g, calibration.withMethod('minmax'), { weightRounding: 'gptq', roundedWeights });
    const weighted = g.nodes.filter((n) => n.op === 'Conv' || n.op === 'DepthwiseConv' || n.op === 'FullyConnected');
    expect(roundedWeights.size).toBe(weighted.length);
    const second = quantizeGraph(g, calibration.withMethod('percentile'), { weightRounding: 'gptq', roundedWeights });
    const alone = quantizeGraph(g, calibration.withMethod('percentile'), { weightRounding: 'gptq' });
    let reused = 0;
    for (const n of weighted) {
      const w = (r: typeof first) => r.graph.value(r.graph.nodes.find((m) => m.name === n.name)!.inputs[1]!).constant!;
      // Shared or not, the second method's weights are the same numbers.
      expect(Array.from(w(second).data as Int8Array)).toEqual(Array.from(w(alone).data as Int8Array));
      expect(w(second).quant!.scale).toEqual(w(alone).quant!.scale);
      if (w(second).data === w(first).data) reused++;
      else expect(w(second).quant!.scale).not.toEqual(w(first).quant!.scale);
    }
    // Only a node whose bias floor moved its grid is rounded again.
    expect(reused).toBeGreaterThan(0);
    expect(roundedWeights.size).toBe(weighted.length + (weighted.length - reused));
  });

  it('refuses GPTQ on a calibration made without Hessians, and says how to get them', async () => {
    const g = await smallMobileNet();
    const rand = seededRandom(7);
    const calibration = calibrate(g, [{ input: new Tensor('float32', [1, 3, 32, 32], Float32Array.from({ length: 3 * 32 * 32 }, () => rand())) }]);
    expect(calibration.hessians.size).toBe(0);
    let err: unknown;
    try { quantizeGraph(g, calibration, { weightRounding: 'gptq' }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_CONFIG');
    expect((err as CloudlessError).hint).toMatch(/weightHessians/);
  });
});

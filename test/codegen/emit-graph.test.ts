/**
 * The generated C equals the engine's tflite-reference outputs on every
 * element: the TFLM models (host, host under ASan+UBSan, QEMU Cortex-M4 and
 * M0), and the randomized single-op int8 cases of test/helpers/int8-cases.ts,
 * many cases merged into one graph so that one C build checks them all.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Graph, Tensor, perTensorQuant } from '../../src/ir/index.js';
import type { Int8Arithmetic } from '../../src/ir/kernel.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import type { VerifyTarget } from '../../src/codegen/verify.js';
import { mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { int8Case, lcg, type Flavour, type Int8CaseOp } from '../helpers/int8-cases.js';
import { expectSame } from './same.js';

const TFLM = new URL('../../../shared/models/tflm/', import.meta.url).pathname;
const haveModels = existsSync(`${TFLM}person_detect.tflite`);
const slow = !!process.env.CLOUDLESS_SLOW;


/** Deterministic inputs over the whole range of the dtype. */
function inputsFor(s: Session, seed: number): Tensor[] {
  const r = lcg(seed);
  return s.inputs.map((i) => {
    const t = new Tensor(i.dtype, i.shape as number[]);
    for (let k = 0; k < t.size; k++) (t.data as Float32Array)[k] = i.dtype === 'float32' ? (r() - 0.5) * 8 : Math.floor(r() * 256) - 128;
    return t;
  });
}

describe.skipIf(!haveModels)('TFLM models compiled to C (needs ../shared/models/tflm)', () => {
  const cases: [string, VerifyTarget[], boolean][] = [
    ['hello_world_int8', ['host', 'cortex-m4', 'cortex-m0plus'], true],
    ['hello_world_float', ['host', 'cortex-m4'], true],
    ['micro_speech_quantized', ['host', 'cortex-m4'], true],
    ['simple_add_model', ['host', 'cortex-m4'], true],
    ['person_detect', slow ? ['host', 'cortex-m4'] : ['host'], false],
  ];
  for (const [model, targets, sanitize] of cases) {
    for (const on of targets) {
      it(`${model} on ${on}: bit-exact with the engine`, async () => {
        const graph = await readModel(`${TFLM}${model}.tflite`);
        const s = new Session(graph, { backend: 'ref' });
        const { pkg, got } = await expectSame(graph, inputsFor(s, 7), on);
        expect(pkg.arenaBytes).toBe(new Session(graph, { backend: 'ref', int8Arithmetic: 'tflite-reference', arenaInBackendMemory: false }).memory.arenaBytes);
        // The goal is RAM within 5 % of the planner's lower bound; on these graphs the arena meets it exactly.
        expect(pkg.arenaBytes).toBe(pkg.arenaLowerBound);
        if (on !== 'host') {
          expect(got.size!.bss).toBeGreaterThanOrEqual(pkg.arenaBytes);
          expect(got.stackBytes).toBeGreaterThan(0);
          console.log(`${model} on ${on}: text ${got.size!.text} B, data ${got.size!.data} B, bss ${got.size!.bss} B, stack ${got.stackBytes} B`);
        }
      }, 300_000);
    }
    if (sanitize) {
      it(`${model}: no out-of-bounds access or undefined behaviour (ASan + UBSan)`, async () => {
        const graph = await readModel(`${TFLM}${model}.tflite`);
        await expectSame(graph, inputsFor(new Session(graph, { backend: 'ref' }), 11), 'host', true);
      }, 300_000);
    }
  }
  it.skipIf(slow)('person_detect under QEMU runs with CLOUDLESS_SLOW=1', () => undefined);
});

/** Many single-op cases as one graph: every name prefixed by its case. */
function mergeCases(cases: { graph: Graph; feeds: Record<string, Tensor> }[]): { graph: Graph; feeds: Tensor[] } {
  const merged = new Graph('cases', { format: 'cloudless' });
  const feeds: Tensor[] = [];
  cases.forEach((c, k) => {
    const p = (n: string) => (n ? `c${k}_${n}` : n);
    for (const v of c.graph.values.values()) merged.setValue({ ...v, name: p(v.name) });
    for (const n of c.graph.nodes) merged.addNode({ ...n, name: p(n.name), inputs: n.inputs.map(p), outputs: n.outputs.map(p) });
    for (const i of c.graph.inputs) { merged.inputs.push(p(i)); feeds.push(c.feeds[i]!); }
    for (const o of c.graph.outputs) merged.outputs.push(p(o));
  });
  return { graph: merged, feeds };
}

describe('randomized single-op int8 cases compiled to C', () => {
  // Ops in one group share one C build (the build, not the run, is what costs).
  const groups: Int8CaseOp[][] = [
    ['Conv'], ['DepthwiseConv'], ['ConvTranspose'], ['FullyConnected'], ['AveragePool'], ['MaxPool'], ['Softmax'], ['Sigmoid'], ['Tanh'],
    ['HardSwish'], ['LeakyRelu'], ['Add', 'Sub', 'Mul'], ['Concat', 'ConcatMixed', 'Pad', 'ReduceMean'],
  ];
  const seeds = slow ? 40 : 6;
  for (const ops of groups) {
    it(`${ops.join(', ')}: ${seeds} seeds × 3 flavours bit-exact on the host (sanitized)`, async () => {
      const cases = [];
      for (const op of ops) {
        for (let s = 1; s <= seeds; s++) {
          for (const f of ['random', 'tie', 'near'] as Flavour[]) cases.push(int8Case(op, s * 7919 + 13, f));
        }
      }
      if (ops.includes('ReduceMean')) {
        // Input and output quantized alike: TFLM's EvalIntegerMean divides the raw sum, truncating.
        for (let s = 1; s <= seeds; s++) cases.push(sameQuantMean(int8Case('ReduceMean', s * 7919 + 17, 'random')));
      }
      const { graph, feeds } = mergeCases(cases);
      await expectSame(graph, feeds, 'host', true);
    }, 300_000);
  }
});

/** A ReduceMean case with the output quantized like the input. */
function sameQuantMean(c: { graph: Graph; feeds: Record<string, Tensor> }) {
  const y = c.graph.values.get('y')!, x = c.graph.values.get('x')!;
  c.graph.setValue({ ...y, quant: x.quant });
  return c;
}

describe('tflite-xnnpack arithmetic compiled to C', () => {
  // Every op whose tflite-xnnpack kernel differs from tflite-reference, plus the table ops (built in float here), in one build.
  const ops: Int8CaseOp[] = ['Conv', 'DepthwiseConv', 'ConvTranspose', 'FullyConnected', 'Add', 'Sub', 'Mul', 'ReduceMean', 'Sigmoid', 'Tanh', 'LeakyRelu'];
  const seeds = slow ? 20 : 3;
  for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
    it(`${ops.join(', ')}: ${on === 'host' ? seeds : 1} seed(s) × 3 flavours bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      const cases = [];
      for (const op of ops) {
        for (let s = 1; s <= (on === 'host' ? seeds : 1); s++) {
          for (const f of ['random', 'tie', 'near'] as Flavour[]) cases.push(int8Case(op, s * 6271 + 5, f));
        }
      }
      const { graph, feeds } = mergeCases(cases);
      await expectSame(graph, feeds, on, on === 'host', 'tflite-xnnpack');
    }, 300_000);
  }
  it('float → int8 Quantize bit-exact on the host', async () => {
    const g = new Graph('q', { format: 'cloudless' });
    const n = 300;
    const q8 = { scale: Float32Array.of(Math.fround(0.0371)), zeroPoint: Int32Array.of(3) };
    g.setValue({ name: 'x', dtype: 'float32', shape: [n] });
    g.setValue({ name: 'q', dtype: 'int8', shape: [n], quant: q8 });
    g.inputs.push('x');
    g.addNode({ name: 'quantize', op: 'Quantize', inputs: ['x'], outputs: ['q'], attrs: {} });
    g.outputs = ['q'];
    const r = lcg(9);
    const x = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? Math.fround((Math.floor(r() * 300) - 150 + 0.5) * q8.scale[0]!) : (r() - 0.5) * 12));
    await expectSame(g, [new Tensor('float32', [n], x)], 'host', true, 'tflite-xnnpack');
  }, 300_000);
});

describe('the newer int8 ops on Cortex-M4 under QEMU', () => {
  it('ConvTranspose, Add, Sub, Mul, Concat, Pad, ReduceMean: 1 seed × 3 flavours bit-exact', async () => {
    const ops: Int8CaseOp[] = ['ConvTranspose', 'Add', 'Sub', 'Mul', 'Concat', 'ConcatMixed', 'Pad', 'ReduceMean'];
    const cases = ops.flatMap((op) => (['random', 'tie', 'near'] as Flavour[]).map((f) => int8Case(op, 104729, f)));
    const { graph, feeds } = mergeCases(cases);
    await expectSame(graph, feeds, 'cortex-m4');
  }, 300_000);
});

describe('the Cortex-M4 DSP paths of Conv, DepthwiseConv and FullyConnected (docs/micro.md)', () => {
  // cin 1..6, FC depth 1..40, kernels 1..3, strides 1..2, SAME/VALID: dot products of every length mod 4,
  // rows starting at any byte, depthwise groups of four channels with tails of 1..3 and multiplier 2.
  const ops: Int8CaseOp[] = ['Conv', 'DepthwiseConv', 'FullyConnected'];
  const seeds = slow ? 30 : 8;
  for (const defines of [[], ['CL_NO_DSP']]) {
    it(`${ops.join(', ')}: ${seeds} seeds × 3 flavours bit-exact on cortex-m4 (${defines.length ? '-DCL_NO_DSP, plain loops' : 'DSP loops'})`, async () => {
      const cases = ops.flatMap((op) => Array.from({ length: seeds }, (_, s) => (['random', 'tie', 'near'] as Flavour[]).map((f) => int8Case(op, s * 4099 + 31, f))).flat());
      const { graph, feeds } = mergeCases(cases);
      await expectSame(graph, feeds, 'cortex-m4', false, 'tflite-reference', defines);
    }, 300_000);
  }
  it.skipIf(!haveModels)('micro_speech on cortex-m4: bit-exact both ways, and the DSP build executes fewer instructions (needs ../shared/models/tflm)', async () => {
    const graph = await readModel(`${TFLM}micro_speech_quantized.tflite`);
    const feeds = inputsFor(new Session(graph, { backend: 'ref' }), 7);
    const dsp = (await expectSame(graph, feeds, 'cortex-m4')).got;
    const plain = (await expectSame(graph, feeds, 'cortex-m4', false, 'tflite-reference', ['CL_NO_DSP'])).got;
    // Instruction counts under QEMU -icount (not time): the DSP loops must save at least 5 % (measured: about 11 %).
    expect(dsp.instructions!).toBeLessThan(plain.instructions! * 0.95);
    console.log(`micro_speech on cortex-m4: ${plain.instructions} instructions plain (-DCL_NO_DSP), ${dsp.instructions} with the DSP loops`);
  }, 300_000);
});

describe('Quantize and Dequantize compiled to C', () => {
  /** float → int8 → float and float → int16 → float, with values on exact ties of the scale, extremes, and ±0. */
  function roundTrip(): { graph: Graph; feeds: Tensor[] } {
    const g = new Graph('quant', { format: 'cloudless' });
    const q8 = { scale: Float32Array.of(Math.fround(0.0371)), zeroPoint: Int32Array.of(-5) };
    const q16 = { scale: Float32Array.of(Math.fround(1 / 4096)), zeroPoint: Int32Array.of(0) };
    const n = 200;
    g.setValue({ name: 'x', dtype: 'float32', shape: [n] });
    g.inputs.push('x');
    g.setValue({ name: 'q8', dtype: 'int8', shape: [n], quant: q8 });
    g.setValue({ name: 'q16', dtype: 'int16', shape: [n], quant: q16 });
    g.setValue({ name: 'y8', dtype: 'float32', shape: [n] });
    g.setValue({ name: 'y16', dtype: 'float32', shape: [n] });
    g.addNode({ name: 'quantize8', op: 'Quantize', inputs: ['x'], outputs: ['q8'], attrs: {} });
    g.addNode({ name: 'quantize16', op: 'Quantize', inputs: ['x'], outputs: ['q16'], attrs: {} });
    g.addNode({ name: 'dequantize8', op: 'Dequantize', inputs: ['q8'], outputs: ['y8'], attrs: {} });
    g.addNode({ name: 'dequantize16', op: 'Dequantize', inputs: ['q16'], outputs: ['y16'], attrs: {} });
    g.outputs = ['q8', 'q16', 'y8', 'y16'];
    const r = lcg(5);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const k = i % 4;
      // Exact half-steps of both scales, random values, and values far outside both ranges.
      x[i] = k === 0 ? Math.fround((Math.floor(r() * 400) - 200 + 0.5) * q8.scale[0]!) : k === 1 ? (Math.floor(r() * 4000) - 2000 + 0.5) / 4096
        : k === 2 ? (r() - 0.5) * 12 : (r() < 0.5 ? -1 : 1) * 1e9 * r();
    }
    x[3] = -0; x[7] = Number.POSITIVE_INFINITY; x[11] = Number.NEGATIVE_INFINITY;
    return { graph: g, feeds: [new Tensor('float32', [n], x)] };
  }
  for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
    it(`float → int8/int16 → float bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      const { graph, feeds } = roundTrip();
      await expectSame(graph, feeds, on, on === 'host');
    }, 300_000);
  }
});

describe('16x8 (int16 activations, int8 weights) compiled to C', () => {
  /** A small MobileNetV2 (Conv, DepthwiseConv, residual Add, Mean, FullyConnected, Softmax) quantized to 16x8 at test time. */
  function mobileNet16x8(): { graph: Graph; feeds: Tensor[] } {
    const g = optimizeLayout(importOnnx(toOnnxBytes(mobileNetV2({ size: 16, alpha: 0.35, classes: 10, blocks: 3, batchNorm: true })), 'mobilenet.onnx'));
    prepareForQuantization(g);
    const r = seededRandom(5);
    const sample = () => new Tensor('float32', [1, 3, 16, 16], Float32Array.from({ length: 768 }, () => r() * 2 - 1));
    const q = quantizeGraph(g, calibrate(g, Array.from({ length: 4 }, () => ({ input: sample() }))), { activations: 'int16' });
    expect(q.fallback).toEqual([]);
    // Every 16x8 node's output is a graph output too, so a 1-LSB difference anywhere shows.
    for (const n of q.graph.nodes) if (q.graph.value(n.outputs[0]!).dtype === 'int16' && !q.graph.outputs.includes(n.outputs[0]!)) q.graph.outputs.push(n.outputs[0]!);
    return { graph: q.graph, feeds: [sample()] };
  }
  for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
    it(`a quantizer-made 16x8 MobileNetV2 bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      const { graph, feeds } = mobileNet16x8();
      const ops = new Set(graph.nodes.map((n) => `${n.op}/${graph.value(n.outputs[0]!).dtype}`));
      for (const op of ['Conv/int16', 'DepthwiseConv/int16', 'Add/int16', 'ReduceMean/int16', 'FullyConnected/int16', 'Softmax/int16']) expect(ops.has(op), op).toBe(true);
      await expectSame(graph, feeds, on, on === 'host');
    }, 300_000);
  }
});

/**
 * An int8 pool case moved to 16x8: the same window, its values spread over the
 * int16 range (zero point 0, as TFLite's 16x8 requires) and the activation's
 * range recomputed by the engine from the int16 quantization.
 */
function int16Pool(c: { graph: Graph; feeds: Record<string, Tensor> }, seed: number): { graph: Graph; feeds: Record<string, Tensor> } {
  const r = lcg(seed);
  const x = c.graph.values.get('x')!, y = c.graph.values.get('y')!;
  const q = perTensorQuant(x.quant!.scale[0]! / 256, 0);
  c.graph.setValue({ ...x, dtype: 'int16', quant: q });
  c.graph.setValue({ ...y, dtype: 'int16', quant: q });
  const t = new Tensor('int16', c.feeds['x']!.shape as number[], undefined, q);
  for (let i = 0; i < t.size; i++) (t.data as Int16Array)[i] = i === 0 ? -32768 : i === 1 ? 32767 : Math.floor(r() * 65536) - 32768;
  return { graph: c.graph, feeds: { x: t } };
}

describe('16x8 AveragePool and MaxPool compiled to C', () => {
  for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
    const seeds = on === 'host' ? 8 : 3;
    it(`${seeds} random windows each, bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      const cases = [];
      for (const op of ['AveragePool', 'MaxPool'] as const) for (let s = 1; s <= seeds; s++) cases.push(int16Pool(int8Case(op, s * 104729 + 3, 'random'), s));
      const { graph, feeds } = mergeCases(cases);
      const ops = new Set(graph.nodes.map((n) => `${n.op}/${graph.value(n.outputs[0]!).dtype}`));
      expect([...ops].sort()).toEqual(['AveragePool/int16', 'MaxPool/int16']);
      await expectSame(graph, feeds, on, on === 'host');
    }, 300_000);
  }
});

describe('the 16x8 activations compiled to C, computed instead of tabled', () => {
  /**
   * Every int16 input through Relu, Clip, LeakyRelu, Sigmoid and Tanh, and every
   * difference through Softmax, at each input scale: a scale that is not a power of two (the LUT's multiplier), or
   * 2^-12 / 2^-11, where TFLite's builtin kernels take gemmlowp's path (kept as
   * a table) and its reference kernels the LUT on 3·x or 6·x.
   */
  function activations16(inScales: number[]): Graph {
    const g = new Graph('act16', { format: 'cloudless' });
    const q = (s: number) => ({ scale: Float32Array.of(Math.fround(s)), zeroPoint: Int32Array.of(0) });
    const n = 65536;
    const lo = new Tensor('float32', [], Float32Array.of(-0.75)), hi = new Tensor('float32', [], Float32Array.of(1.5));
    g.setValue({ name: 'lo', dtype: 'float32', shape: [], constant: lo });
    g.setValue({ name: 'hi', dtype: 'float32', shape: [], constant: hi });
    inScales.forEach((inScale, k) => {
      const x = `x${k}`;
      g.setValue({ name: x, dtype: 'int16', shape: [n], quant: q(inScale) });
      g.inputs.push(x);
      const ops: [string, string[], number, Record<string, unknown>][] = [
        ['Relu', [x], inScale * 0.7, {}],
        ['Clip', [x, 'lo', 'hi'], 1.5 / 32767, {}],
        ['LeakyRelu', [x], inScale * 1.3, { alpha: 0.1 }],
        ['Sigmoid', [x], 1 / 32768, {}],
        ['Tanh', [x], 1 / 32768, {}],
      ];
      for (const [op, inputs, outScale, attrs] of ops) {
        const y = `y${k}_${op.toLowerCase()}`;
        g.setValue({ name: y, dtype: 'int16', shape: [n], quant: q(outScale) });
        g.addNode({ name: `${op.toLowerCase()}${k}`, op, inputs, outputs: [y], attrs: attrs as never });
        g.outputs.push(y);
      }
      // Softmax over rows [32767, 32767 − d] for every difference d = 0 … 65535.
      g.setValue({ name: `s${k}`, dtype: 'int16', shape: [n, 2], quant: q(inScale) });
      g.inputs.push(`s${k}`);
      g.setValue({ name: `y${k}_softmax`, dtype: 'int16', shape: [n, 2], quant: q(1 / 32768) });
      g.addNode({ name: `softmax${k}`, op: 'Softmax', inputs: [`s${k}`], outputs: [`y${k}_softmax`], attrs: { axis: -1 } as never });
      g.outputs.push(`y${k}_softmax`);
    });
    return g;
  }
  const every = new Tensor('int16', [65536], Int16Array.from({ length: 65536 }, (_, i) => i - 32768));
  const differences = new Tensor('int16', [65536, 2], Int16Array.from({ length: 131072 }, (_, i) => (i % 2 === 0 ? 32767 : 32767 - (i >> 1))));
  for (const [scales, on, arithmetic, tables] of [
    [[3.1e-4, 2 ** -12, 2 ** -11], 'host', 'tflite-reference', 0],
    [[2 ** -12], 'host', 'tflite-xnnpack', 2],
    [[7.7e-3], 'cortex-m4', 'tflite-reference', 0],
  ] as [number[], VerifyTarget, Int8Arithmetic, number][]) {
    it(`every int16 input at input scales ${scales.map((s) => s.toPrecision(3)).join(', ')}, ${arithmetic}, bit-exact on ${on}`, async () => {
      const { pkg } = await expectSame(activations16(scales), scales.flatMap(() => [every, differences]), on, on === 'host', arithmetic);
      // The reference arithmetic computes all six ops; only the builtin kernels' gemmlowp path
      // (Sigmoid at 2^-12, Tanh at 2^-12 and 2^-11) keeps a 65,536-entry table.
      expect((pkg.files['model.c']?.match(/static const int16_t \w+\[65536\]/g) ?? []).length).toBe(tables);
    }, 300_000);
  }
});

describe('int8 and int16 Resize compiled to C', () => {
  /**
   * Random Resize nodes in one graph: nearest and bilinear, the three TFLite
   * coordinate rules, up and down (odd sizes, 2x), NHWC with axes [1, 2],
   * NCHW with [2, 3], one axis of a rank-3 tensor, int8 and int16.
   */
  function resizes(seed: number): { graph: Graph; feeds: Tensor[] } {
    const r = lcg(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const g = new Graph('resize', { format: 'cloudless' });
    const feeds: Tensor[] = [];
    for (let k = 0; k < 24; k++) {
      const dtype = k % 3 === 2 ? 'int16' : 'int8';
      const mode = pick(['linear', 'nearest'] as const);
      const t = pick(['align_corners', 'half_pixel', 'asymmetric'] as const);
      const layout = pick(['nhwc', 'nchw', 'one'] as const);
      const a = int(1, 7), b = int(1, 7), c = pick([1, 3, 5]);
      const shape = layout === 'nhwc' ? [1, a, b, c] : layout === 'nchw' ? [2, c, a, b] : [c, a, 2];
      const axes = layout === 'nhwc' ? [1, 2] : layout === 'nchw' ? [2, 3] : [1];
      const size = (n: number) => pick([2 * n, int(n, 3 * n + 2), int(1, n)]);
      const out = axes.map((ax) => size(shape[ax]!));
      const q = { scale: Float32Array.of(Math.fround(2 ** (-8 + r() * 6))), zeroPoint: Int32Array.of(dtype === 'int8' ? int(-128, 127) : 0) };
      const x = `x${k}`, y = `y${k}`, sizes = `sizes${k}`;
      g.setValue({ name: x, dtype, shape, quant: q });
      g.inputs.push(x);
      g.setValue({ name: sizes, dtype: 'int64', shape: [out.length], constant: new Tensor('int64', [out.length], BigInt64Array.from(out.map(BigInt))) });
      g.setValue({ name: y, dtype, quant: q });
      const attrs: Record<string, string | number[]> = { mode, coordinate_transformation_mode: t, axes };
      if (mode === 'nearest') attrs.nearest_mode = t === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
      g.addNode({ name: `resize${k}`, op: 'Resize', inputs: [x, '', '', sizes], outputs: [y], attrs: attrs as never });
      g.outputs.push(y);
      const n = shape.reduce((p, d) => p * d, 1);
      const lo = dtype === 'int8' ? -128 : -32768, span = dtype === 'int8' ? 256 : 65536;
      const data = dtype === 'int8' ? Int8Array.from({ length: n }, () => lo + Math.floor(r() * span)) : Int16Array.from({ length: n }, () => lo + Math.floor(r() * span));
      feeds.push(new Tensor(dtype, shape, data, q));
    }
    return { graph: g, feeds };
  }
  for (const [on, arithmetic] of [['host', 'tflite-reference'], ['host', 'tflite-xnnpack'], ['cortex-m4', 'tflite-reference']] as [VerifyTarget, Int8Arithmetic][]) {
    it(`24 random Resize nodes, ${arithmetic}, bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      const { graph, feeds } = resizes(on === 'host' ? (arithmetic === 'tflite-reference' ? 11 : 12) : 13);
      await expectSame(graph, feeds, on, on === 'host', arithmetic);
    }, 300_000);
  }
});

describe('refusals', () => {
  it('an op the generator lacks is refused naming node and op', async () => {
    const g = new Graph('t', { format: 'cloudless' });
    g.setValue({ name: 'x', dtype: 'float32', shape: [2, 3] });
    g.setValue({ name: 'y', dtype: 'float32', shape: [2, 3] });
    g.inputs.push('x');
    g.addNode({ name: 'neg_0', op: 'Neg', inputs: ['x'], outputs: ['y'], attrs: {} });
    g.outputs = ['y'];
    expect(() => emitC(g)).toThrow(CloudlessError);
    expect(() => emitC(g)).toThrow(/node neg_0: the C generator has no float32 Neg kernel/);
  });
  it('the tflite-xnnpack Softmax (float exp, needs libm) is refused by node', () => {
    const c = int8Case('Softmax', 3, 'random');
    expect(() => emitC(c.graph, { int8Arithmetic: 'tflite-xnnpack' })).toThrow(/softmax_0 \(Softmax\).*tflite-xnnpack/);
  });
});

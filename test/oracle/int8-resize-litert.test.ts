/**
 * int8 Resize (RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR) against LiteRT.js:
 * randomized single-op NHWC models (up and down, odd sizes, 2x upscaling,
 * align_corners, half-pixel centres, asymmetric, zero points, channel counts
 * that take XNNPACK's vector and remainder paths) written by our .tflite
 * writer; `tflite-xnnpack` must equal LiteRT.js byte for byte on backends ref
 * and auto. `tflite-reference` is checked against hand-worked values of
 * TFLite's ResizeBilinearInteger, and stays within 1 LSB of `tflite-xnnpack`.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, perTensorQuant, type Int8Arithmetic } from '../../src/ir/index.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Session, type BackendChoice } from '../../src/runtime/session.js';
import { Calibrator } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { runLiteRt } from '../helpers/litert.js';
import { lcg } from '../helpers/int8-cases.js';


type Transform = 'align_corners' | 'half_pixel' | 'asymmetric';

interface ResizeCase {
  name: string;
  graph: Graph;
  x: Tensor;
  t: Transform;
  /** Input H, W and output H, W. */
  sizes: number[];
}

/** Whether TFLite's 10-bit coordinate scale (reference mode) is exact on both axes, as for 2x upscaling. */
function exactScale10(c: ResizeCase): boolean {
  const [h, w, oh, ow] = c.sizes as [number, number, number, number];
  const exact = (n: number, o: number) => {
    const adj = c.t === 'align_corners' && o > 1 ? 1 : 0;
    return (1024 * (n - adj)) % (o - adj) === 0;
  };
  return exact(h, oh) && exact(w, ow);
}

function resizeGraph(mode: 'linear' | 'nearest', t: Transform, x: Tensor, outH: number, outW: number): Graph {
  const g = new Graph(`resize_${mode}_${t}`, { format: 'cloudless' });
  g.setValue({ name: 'x', dtype: 'int8', shape: [...x.shape], quant: x.quant });
  g.inputs.push('x');
  g.setValue({ name: 'sizes', dtype: 'int64', shape: [2], constant: new Tensor('int64', [2], BigInt64Array.from([BigInt(outH), BigInt(outW)])) });
  g.setValue({ name: 'y', dtype: 'int8', quant: x.quant });
  const attrs: Record<string, string | number | number[]> = { mode, coordinate_transformation_mode: t, axes: [1, 2] };
  if (mode === 'nearest') attrs.nearest_mode = t === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
  g.addNode({ name: 'resize_0', op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs });
  g.outputs = ['y'];
  return g;
}

/** A random case; `mode` fixed or drawn. Output sizes: 2x, random up (often odd) or random down. */
function randomCase(seed: number, mode?: 'linear' | 'nearest', only2x = false): ResizeCase {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const m = mode ?? pick(['linear', 'nearest'] as const);
  const t = pick(['align_corners', 'half_pixel', 'asymmetric'] as const);
  const h = int(1, 9), w = int(1, 9), c = pick([1, 2, 3, 5, 8, 17]);
  const size = (n: number): number => {
    const kind = only2x ? '2x' : pick(['2x', 'up', 'down']);
    return kind === '2x' ? 2 * n : kind === 'up' ? int(n, 3 * n + 2) : int(1, n);
  };
  const oh = size(h), ow = size(w);
  const q = perTensorQuant(Math.fround(2 ** (-8 + r() * 6)), int(-128, 127));
  const x = new Tensor('int8', [1, h, w, c], Int8Array.from({ length: h * w * c }, () => int(-128, 127)), q);
  return { name: `seed ${seed}: ${m} ${t} ${h}x${w}x${c} -> ${oh}x${ow}`, graph: resizeGraph(m, t, x, oh, ow), x, t, sizes: [h, w, oh, ow] };
}

function ours(c: ResizeCase, backend: BackendChoice, int8Arithmetic: Int8Arithmetic): Int8Array {
  const out = new Session(c.graph, { backend, int8Arithmetic }).runSync({ x: c.x });
  return (out.y!.data as Int8Array).slice();
}

function firstDiffs(a: Int8Array, b: Int8Array): string {
  const d: string[] = [];
  for (let i = 0; i < a.length && d.length < 5; i++) if (a[i] !== b[i]) d.push(`[${i}] litert ${a[i]} cloudless ${b[i]}`);
  return d.join(', ');
}

const tally = new Map<string, { cases: number; outputs: number }>();

describe('int8 Resize, tflite-xnnpack vs LiteRT.js', () => {
  afterAll(() => {
    const rows = [...tally].map(([op, t]) => `${op}: ${t.cases} cases, ${t.outputs} outputs`);
    console.log(`int8 Resize bit-exact with LiteRT.js (backends ref and auto):\n  ${rows.join('\n  ')}`);
  });

  for (const mode of ['linear', 'nearest'] as const) {
    it(`${mode}: every output byte equal`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const c = randomCase(mode === 'linear' ? seed : seed ^ 0x5bd1e995, mode);
        const [want] = await runLiteRt(writeTflite(c.graph), [c.x]);
        const w = want!.data as Int8Array;
        for (const backend of ['ref', 'auto'] as const) {
          const got = ours(c, backend, 'tflite-xnnpack');
          expect(got.length, c.name).toBe(w.length);
          expect(got.every((v, i) => v === w[i]), `${c.name}, backend ${backend}: ${firstDiffs(w, got)}`).toBe(true);
        }
        const t = tally.get(mode) ?? { cases: 0, outputs: 0 };
        t.cases++;
        t.outputs += w.length;
        tally.set(mode, t);
      }), { numRuns: 60 });
    });
  }

  /**
   * 3 -> 4096 columns: every coordinate is a multiple of 3/4096 (exact in
   * float32), so about a quarter of the fractions are odd multiples of 2^-12
   * and their 11-bit weight is an exact tie (XNNPACK rounds it half to even).
   */
  for (const t of ['asymmetric', 'half_pixel'] as const) {
    it(`linear ${t}, weights at exact ties (3 -> 4096 columns)`, async () => {
      const r = lcg(t.length);
      const x = new Tensor('int8', [1, 2, 3, 4], Int8Array.from({ length: 24 }, () => Math.floor(r() * 256) - 128), perTensorQuant(0.02, -5));
      const c: ResizeCase = { name: `ties ${t}`, graph: resizeGraph('linear', t, x, 3, 4096), x, t, sizes: [2, 3, 3, 4096] };
      const [want] = await runLiteRt(writeTflite(c.graph), [c.x]);
      const got = ours(c, 'ref', 'tflite-xnnpack');
      expect(got.every((v, i) => v === want!.data[i]), firstDiffs(want!.data as Int8Array, got)).toBe(true);
    });
  }
});

describe('int8 Resize, tflite-reference', () => {
  /**
   * Hand-worked ResizeBilinearInteger on a 1x2x2x1 input [[-100, 20], [60, 127]]
   * to 3x3, no flags: scale_10 = (2·1024 + 1) / 3 = 683, so the coordinates are
   * 0, 683, 1366 (clamped to the last row/column for the upper tap).
   */
  it('bilinear 2x2 -> 3x3 (asymmetric) matches the hand-worked Q10 arithmetic', () => {
    const q = perTensorQuant(0.05, 3);
    const x = new Tensor('int8', [1, 2, 2, 1], Int8Array.from([-100, 20, 60, 127]), q);
    const c: ResizeCase = { name: 'hand', graph: resizeGraph('linear', 'asymmetric', x, 3, 3), x, t: 'asymmetric', sizes: [2, 2, 3, 3] };
    const got = ours(c, 'ref', 'tflite-reference');
    // Row 0 (c_y = 0): column 1 (c_x = 683) blends -100 (weight 1024 − 683 = 341) and 20 (683):
    // 1024·(−34100 + 13660) = −20930560, minus 2^19, truncated over 2^20: −20.46 -> −20.
    // Column 2 (c_x = 1366): lower 1, upper min(2, 1) = 1, both taps 20 -> 20.
    // Row 1 (c_y = 683), column 0: 1024·(−100·341 + 60·683) = 1024·6880, over 2^20: 6.72 -> 7.
    // Row 1, column 1: −100·341·341 + 60·683·341 + 20·341·683 + 127·683·683 = 66248243, over 2^20: 63.18 -> 63.
    expect(Array.from(got.slice(0, 5))).toEqual([-100, -20, 20, 7, 63]);
  });

  /**
   * Goldens of TFLite Micro's tensorflow/lite/micro/kernels/resize_bilinear_test.cc
   * (Apache-2.0; the figures only), no align_corners nor half-pixel centres:
   * HorizontalResizeInt8, VerticalResizeInt8 and TwoDimensionalResizeInt8 are
   * compared exactly there; TwoDimensionalResizeWithTwoBatchesInt8 and
   * ThreeDimensionalResizeInt8 with a tolerance of 1.
   */
  const tflmGoldens: { name: string; shape: number[]; out: [number, number]; x: number[]; want: number[]; tolerance: number }[] = [
    { name: 'HorizontalResizeInt8', shape: [1, 1, 2, 1], out: [1, 3], x: [3, 6], want: [3, 5, 6], tolerance: 0 },
    { name: 'VerticalResizeInt8', shape: [1, 2, 1, 1], out: [3, 1], x: [3, 9], want: [3, 7, 9], tolerance: 0 },
    { name: 'TwoDimensionalResizeInt8', shape: [1, 2, 2, 1], out: [3, 3], x: [3, 6, 9, 12], want: [3, 5, 6, 7, 9, 10, 9, 11, 12], tolerance: 0 },
    {
      name: 'TwoDimensionalResizeWithTwoBatchesInt8', shape: [2, 2, 2, 1], out: [3, 3], x: [3, 6, 9, 12, 4, 10, 12, 16],
      want: [3, 5, 6, 7, 9, 10, 9, 11, 12, 4, 8, 10, 9, 12, 13, 12, 14, 16], tolerance: 1,
    },
    {
      name: 'ThreeDimensionalResizeInt8', shape: [1, 2, 2, 2], out: [3, 3], x: [3, 4, 6, 10, 10, 12, 14, 16],
      want: [3, 4, 5, 8, 6, 10, 7, 9, 10, 12, 11, 13, 10, 12, 12, 14, 14, 16], tolerance: 1,
    },
  ];
  for (const t of tflmGoldens) {
    it(`TFLM ${t.name}`, () => {
      // TFLM's CreateQuantizedTensor(data, dims, -128, 127): the data are raw int8 values.
      const x = new Tensor('int8', t.shape, Int8Array.from(t.x), perTensorQuant(1, 0));
      const c: ResizeCase = { name: t.name, graph: resizeGraph('linear', 'asymmetric', x, ...t.out), x, t: 'asymmetric', sizes: [t.shape[1]!, t.shape[2]!, ...t.out] };
      const got = ours(c, 'ref', 'tflite-reference');
      expect(got.length).toBe(t.want.length);
      got.forEach((v, i) => expect(Math.abs(v - t.want[i]!), `${t.name} [${i}]: ${v} vs ${t.want[i]}`).toBeLessThanOrEqual(t.tolerance));
    });
  }

  it('bilinear with half-pixel centres: 1x1x2x1 -> 1x1x4x1', () => {
    // scale_10 = 512; coordinates 4·512·... : x·512 + 256 − 512 = −256, 256, 768, 1280.
    // −256: lower 0, upper 0 (same pixel) -> 10. 256: 10·768 + 90·256 = 30720 -> 30. 768: 10·256 + 90·768 = 71680 -> 70.
    // 1280: lower 1, upper min(2, 1) = 1 -> 90.
    const q = perTensorQuant(0.1, 0);
    const x = new Tensor('int8', [1, 1, 2, 1], Int8Array.from([10, 90]), q);
    const c: ResizeCase = { name: 'hand', graph: resizeGraph('linear', 'half_pixel', x, 1, 4), x, t: 'half_pixel', sizes: [1, 2, 1, 4] };
    expect(Array.from(ours(c, 'ref', 'tflite-reference'))).toEqual([10, 30, 70, 90]);
  });

  /**
   * The reference rounds the coordinate scale to 10 bits, XNNPACK keeps it in
   * float32: where 2^10·in/out is not an integer the coordinates drift apart
   * along the axis (e.g. 9 -> 28 with align_corners: 303/1024 instead of 8/27,
   * 11/1024 of a pixel at the last row), and a steep edge there differs by more
   * than 1 LSB. Where the scale is exact (2x upscaling, halving, ...) only the
   * final rounding differs: at most 1 LSB.
   */
  it('differs from tflite-xnnpack by at most 1 LSB where the 10-bit scale is exact', () => {
    let differ = 0, total = 0, worst = 0, inexactCases = 0;
    const cases = [
      ...Array.from({ length: 40 }, (_, k) => randomCase((k + 1) * 7919, 'linear', true)),
      ...Array.from({ length: 80 }, (_, k) => randomCase((k + 1) * 7919 + 13, 'linear')),
    ];
    for (const c of cases) {
      const a = ours(c, 'ref', 'tflite-reference'), b = ours(c, 'ref', 'tflite-xnnpack');
      const exact = exactScale10(c);
      if (!exact) inexactCases++;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        if (exact) expect(d, c.name).toBeLessThanOrEqual(1);
        else worst = Math.max(worst, d);
        if (d !== 0) differ++;
      }
      total += a.length;
    }
    expect(differ).toBeGreaterThan(0);
    expect(cases.length - inexactCases).toBeGreaterThanOrEqual(40);
    console.log(`int8 bilinear: tflite-reference vs tflite-xnnpack differ on ${differ} of ${total} outputs; `
      + `at most 1 LSB on ${cases.length - inexactCases} exact-scale cases, up to ${worst} LSB on ${inexactCases} others`);
  });

  it('nearest is the same in both arithmetics', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const c = randomCase(seed * 104729, 'nearest');
      expect(ours(c, 'ref', 'tflite-reference'), c.name).toEqual(ours(c, 'ref', 'tflite-xnnpack'));
    }
  });

  it('refuses an output quantized unlike the input, as LiteRT.js does for bilinear', async () => {
    const x = new Tensor('int8', [1, 2, 2, 1], Int8Array.from([10, 20, 30, 40]), perTensorQuant(0.1, 0));
    const g = resizeGraph('linear', 'half_pixel', x, 3, 3);
    g.setValue({ name: 'y', dtype: 'int8', quant: perTensorQuant(0.2, 7) });
    // XNNPACK's delegate claims the node, then fails to prepare it. (Nearest runs TFLite's kernel,
    // which copies raw values and ignores the output quantization.)
    await expect(runLiteRt(writeTflite(g), [x])).rejects.toThrow(/failed to delegate RESIZE_BILINEAR/);
    expect(() => new Session(g, { backend: 'ref' })).toThrow(/share one scale and zero point/);
  });
});

describe('int8 Resize from ONNX scales', () => {
  /**
   * ONNX scales 1.5 on 5 rows give 7 rows, yet the source coordinates follow
   * 1/1.5, not 5/7 (they would be 0.29 of a pixel apart at the last row): the
   * int8 result, dequantized, stays within one LSB of the float Resize.
   */
  for (const arithmetic of ['tflite-xnnpack', 'tflite-reference'] as const) {
    it(`scales that are not out/in (${arithmetic})`, () => {
      const q = perTensorQuant(0.05, -10);
      const r = lcg(5);
      const raw = Int8Array.from({ length: 50 }, () => Math.floor(r() * 256) - 128);
      const build = (dtype: 'int8' | 'float32', quant?: typeof q): Graph => {
        const g = new Graph('scales', { format: 'cloudless' });
        g.setValue({ name: 'x', dtype, shape: [1, 5, 5, 2], quant });
        g.inputs.push('x');
        g.setValue({ name: 'scales', dtype: 'float32', shape: [4], constant: new Tensor('float32', [4], Float32Array.from([1, 1.5, 1.5, 1])) });
        g.setValue({ name: 'y', dtype, quant });
        g.addNode({ name: 'up', op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' } });
        g.outputs = ['y'];
        return g;
      };
      const xf = new Tensor('float32', [1, 5, 5, 2], Float32Array.from(raw, (v) => 0.05 * (v + 10)));
      const want = new Session(build('float32'), { backend: 'ref' }).runSync({ x: xf }).y!.data as Float32Array;
      const got = new Session(build('int8', q), { backend: 'ref', int8Arithmetic: arithmetic }).runSync({ x: new Tensor('int8', [1, 5, 5, 2], raw, q) }).y!;
      expect(got.shape).toEqual([1, 7, 7, 2]);
      const y = got.data as Int8Array;
      for (let i = 0; i < y.length; i++) expect(Math.abs(0.05 * (y[i]! + 10) - want[i]!), `output ${i}`).toBeLessThanOrEqual(0.05 * 1.001);
    });
  }
});

describe('quantizing a float Resize', () => {
  /** A float NHWC graph resized by ONNX-style float scales: the quantizer keeps Resize in int8 and the scales in float. */
  function floatResize(): Graph {
    const g = new Graph('float_resize', { format: 'cloudless' });
    g.setValue({ name: 'x', dtype: 'float32', shape: [1, 4, 5, 3] });
    g.inputs.push('x');
    g.setValue({ name: 'scales', dtype: 'float32', shape: [4], constant: new Tensor('float32', [4], Float32Array.from([1, 2, 2, 1])) });
    g.setValue({ name: 'y', dtype: 'float32' });
    g.addNode({ name: 'up', op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' } });
    g.outputs = ['y'];
    return g;
  }

  it('runs Resize in int8 with its input quantization, bit-exact with LiteRT.js', async () => {
    const r = lcg(99);
    const feed = () => ({ x: new Tensor('float32', [1, 4, 5, 3], Float32Array.from({ length: 60 }, () => r() * 6 - 2)) });
    const g = floatResize();
    const cal = new Calibrator(g, { backend: 'ref' });
    for (let k = 0; k < 4; k++) cal.observe(feed(), `sample ${k}`);
    const q = quantizeGraph(g, cal.result());
    expect(q.fallback).toEqual([]);
    const node = q.graph.nodes.find((n) => n.op === 'Resize')!;
    const xi = q.graph.value(node.inputs[0]!), yi = q.graph.value(node.outputs[0]!);
    expect(xi.dtype).toBe('int8');
    expect(yi.quant).toEqual(xi.quant);
    expect(q.graph.value(node.inputs[2]!).constant!.dtype).toBe('float32');

    const f = feed();
    const ref = new Session(g, { backend: 'ref' }).runSync(f).y!.data as Float32Array;
    const got = new Session(q.graph, { backend: 'auto' }).runSync(f).y!.data as Float32Array;
    const [lite] = await runLiteRt(writeTflite(q.graph), [f.x]);
    expect(Array.from(lite!.data as Float32Array)).toEqual(Array.from(got));
    // Quantizing input and output costs at most about one LSB of the shared scale.
    const lsb = xi.quant!.scale[0]!;
    for (let i = 0; i < ref.length; i++) expect(Math.abs(ref[i]! - got[i]!)).toBeLessThanOrEqual(1.01 * lsb);
  });
});

/**
 * int8 wasm kernels against the reference int8 kernels: bit-exact, in both
 * arithmetics (tflite-xnnpack and tflite-reference), on random shapes with
 * odd sizes, strides, dilations, paddings, channel counts that are not
 * multiples of 4/8/16, per-channel and per-tensor weights, zero points
 * anywhere in the int8 range and every fused activation.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, perTensorQuant, type Int8Arithmetic, type QuantParams } from '../../../src/ir/index.js';
import { wasmInt8Kernels } from '../../../src/kernels/wasm/int8.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import { ACTIVATIONS, checkWith, kernel, refKernel, runWith, seeded, spatial, wasmKernel, windowAttrs, windowFields, type NodeRun } from './helpers.js';

const ARITHMETICS: Int8Arithmetic[] = ['tflite-xnnpack', 'tflite-reference'];

function randomInt8(shape: number[], rand: () => number, quant: QuantParams, lo = -128, hi = 127): Tensor {
  const t = new Tensor('int8', shape, undefined, quant);
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor(rand() * (hi - lo + 1));
  return t;
}

function randomBias(n: number, rand: () => number): Tensor {
  return new Tensor('int32', [n], Int32Array.from({ length: n }, () => Math.floor((rand() * 2 - 1) * 20000)));
}

/** Weight quantization: per-channel along `axis` or per-tensor, symmetric. */
function weightQuant(channels: number, axis: number, perChannel: boolean, rand: () => number): QuantParams {
  if (!perChannel) return perTensorQuant(0.002 + rand() * 0.02, 0);
  return { scale: Float32Array.from({ length: channels }, () => 0.002 + rand() * 0.02), zeroPoint: new Int32Array(channels), axis };
}

/**
 * An output scale that spreads the results over the int8 range, so rounding
 * and clamping are both exercised: uniform x − z_x and w have standard
 * deviations near 74 and 73, so the accumulator's is about 74·73·√taps;
 * dividing it into about ±40 output steps gives this scale.
 */
function outputQuant(rand: () => number, sx: number, sw: number, taps: number): QuantParams {
  const spread = Math.fround(sx * sw * 135 * Math.sqrt(taps) * (0.5 + rand()));
  return perTensorQuant(spread, Math.floor(rand() * 200) - 100);
}

function expectBitExact(r: NodeRun): void {
  for (const arithmetic of ARITHMETICS) {
    const run = { ...r, arithmetic };
    const refOut = runWith(refKernel(run), run), wasmOut = runWith(wasmKernel(wasmInt8Kernels, run), run);
    expect(wasmOut.shape, `${r.op} (${arithmetic}): output shape`).toEqual(refOut.shape);
    const ref = refOut.data as Int8Array, wasm = wasmOut.data as Int8Array;
    expect(wasm.length, `${r.op} (${arithmetic}): output length`).toBe(ref.length);
    let mismatches = 0, first = -1;
    for (let i = 0; i < ref.length; i++) if (ref[i] !== wasm[i]) { if (first < 0) first = i; mismatches++; }
    if (mismatches > 0) {
      throw new Error(`${r.op} (${arithmetic}): ${mismatches}/${ref.length} outputs differ, first at ${first}: wasm ${wasm[first]} vs ref ${ref[first]}; ` +
        `shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')} attrs ${JSON.stringify(r.attrs)}`);
    }
  }
}

const windowCase = fc.record({ ...windowFields, perChannel: fc.boolean(), seed: fc.integer() });

describe.skipIf(!wasmAvailable())('wasm int8 kernels are bit-exact with the reference', () => {
  it('Conv', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 19 }), (c, cin, cout) => {
      const rand = seeded(c.seed);
      const sx = 0.01 + rand() * 0.05;
      const x = randomInt8([c.batch, ...spatial(c), cin], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
      const wq = weightQuant(cout, 0, c.perChannel, rand);
      const w = randomInt8([cout, ...kernel(c), cin], rand, wq, -127, 127);
      const taps = kernel(c).reduce((p, q) => p * q, cin);
      const outQuant = outputQuant(rand, sx, wq.scale[0]!, taps);
      expectBitExact({ op: 'Conv', inputs: [x, w, c.bias ? randomBias(cout, rand) : undefined], attrs: windowAttrs(c), outQuant });
    }), { numRuns: 120 });
  });

  // gemm_i8's paths: all packed weights in 24 KiB (row groups meet every block; K ≤ 2048 pre-rotated), panels of
  // pre-rotated rows, panels of raw int8 rows (K past 2048); tails of rows and channels in each.
  for (const [what, pixels, cinRange, coutRange, activation, runs] of [
    ['many pixels, full GEMM tiles', [3, 90], [1, 40], [1, 35], 'relu6', 50],
    ['few output channels, K up to 270', [4, 13], [120, 270], [9, 16], 'relu', 16],
    ['packed weights past 24 KiB, one panel', [3, 40], [200, 300], [70, 90], 'relu6', 12],
    ['K up to 1100 over several panels of pre-rotated rows', [20, 70], [600, 1100], [40, 56], 'relu6', 8],
    ['K past 2048 (the panels read the int8 rows themselves)', [4, 9], [2049, 2100], [9, 12], 'relu6', 4],
  ] as const) {
    it(`pointwise Conv: ${what}`, () => {
      fc.assert(fc.property(fc.integer({ min: pixels[0], max: pixels[1] }), fc.integer({ min: cinRange[0], max: cinRange[1] }),
        fc.integer({ min: coutRange[0], max: coutRange[1] }), fc.integer(), (n, cin, cout, seed) => {
          const rand = seeded(seed);
          const sx = 0.02;
          const x = randomInt8([1, n, 1, cin], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
          const wq = weightQuant(cout, 0, true, rand);
          const w = randomInt8([cout, 1, 1, cin], rand, wq, -127, 127);
          expectBitExact({ op: 'Conv', inputs: [x, w, randomBias(cout, rand)], attrs: { activation }, outQuant: outputQuant(rand, sx, wq.scale[0]!, cin) });
        }), { numRuns: runs });
    });
  }

  it('requantized values far outside int8 (|acc·scale| past 2^22, where the float rounding trick no longer holds) clamp exactly', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(...ACTIVATIONS), fc.double({ min: 1e-9, max: 1e-5, noNaN: true }), fc.integer(),
      (cin, cout, activation, outScale, seed) => {
        const rand = seeded(seed);
        const x = randomInt8([1, 3, 5, cin], rand, perTensorQuant(0.05, Math.floor(rand() * 256) - 128));
        const wq = weightQuant(cout, 0, true, rand);
        const w = randomInt8([cout, 1, 1, cin], rand, wq, -127, 127);
        expectBitExact({ op: 'Conv', inputs: [x, w, randomBias(cout, rand)], attrs: { activation }, outQuant: perTensorQuant(Math.fround(outScale), Math.floor(rand() * 256) - 128) });
        const dw = randomInt8([1, 3, 3, cin], rand, weightQuant(cin, 3, true, rand), -127, 127);
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, dw, randomBias(cin, rand)], attrs: { activation, pads: [1, 1, 1, 1] }, outQuant: perTensorQuant(Math.fround(outScale), Math.floor(rand() * 256) - 128) });
      }), { numRuns: 40 });
  });

  it('DepthwiseConv, depth multipliers 1, 2, 3 and 8', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 37 }), fc.constantFrom(1, 1, 2, 3, 8), (c, ci, m) => {
      const rand = seeded(c.seed);
      const sx = 0.01 + rand() * 0.05;
      const x = randomInt8([c.batch, ...spatial(c), ci], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
      const ch = ci * m;
      const wShape = [1, ...kernel(c), ch];
      const wq = weightQuant(ch, wShape.length - 1, c.perChannel, rand);
      const w = randomInt8(wShape, rand, wq, -127, 127);
      const outQuant = outputQuant(rand, sx, wq.scale[0]!, kernel(c).reduce((p, q) => p * q, 1));
      expectBitExact({ op: 'DepthwiseConv', inputs: [x, w, c.bias ? randomBias(ch, rand) : undefined], attrs: windowAttrs(c), outQuant });
    }), { numRuns: 120 });
  });

  it('pointwise Conv straight over X: batches, K not a multiple of 8, z_x at both ends of int8, run-time weights', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 27 }),
      fc.integer({ min: 1, max: 20 }), fc.constantFrom(-128, 127, 0, 3), fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.integer(),
      (batch, hw, cin, cout, zx, activation, dynamic, seed) => {
        const rand = seeded(seed);
        const sx = 0.02;
        const x = randomInt8([batch, hw, hw + 1, cin], rand, perTensorQuant(sx, zx));
        const wq = weightQuant(cout, 0, true, rand);
        const w = randomInt8([cout, 1, 1, cin], rand, wq, -127, 127);
        // Weights computed by the graph are packed (and z_x folded into the bias) at run time.
        expectBitExact({ op: 'Conv', inputs: [x, w, randomBias(cout, rand)], attrs: { activation }, outQuant: outputQuant(rand, sx, wq.scale[0]!, cin), dynamic: dynamic ? [1, 2] : undefined });
      }), { numRuns: 60 });
  });

  it('Conv pads with z_x at every edge (z_x = -128, 127 and random), strides and dilations', () => {
    fc.assert(fc.property(windowCase, fc.constantFrom(-128, 127, 0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), (c, zx, cin, cout) => {
      const rand = seeded(c.seed);
      const sx = 0.03;
      const x = randomInt8([c.batch, ...spatial(c), cin], rand, perTensorQuant(sx, zx));
      const wq = weightQuant(cout, 0, c.perChannel, rand);
      const w = randomInt8([cout, ...kernel(c), cin], rand, wq, -127, 127);
      const taps = kernel(c).reduce((p, q) => p * q, cin);
      expectBitExact({ op: 'Conv', inputs: [x, w, c.bias ? randomBias(cout, rand) : undefined], attrs: windowAttrs(c), outQuant: outputQuant(rand, sx, wq.scale[0]!, taps) });
    }), { numRuns: 60 });
  });

  const window3 = fc.record({
    size: fc.integer({ min: 3, max: 12 }),
    s: fc.integer({ min: 1, max: 2 }),
    d: fc.integer({ min: 1, max: 2 }),
    pb: fc.integer({ min: 0, max: 2 }),
    pe: fc.integer({ min: 0, max: 2 }),
  }).filter((a) => a.size + a.pb + a.pe >= 2 * a.d + 1);

  it('3x3 DepthwiseConv (interior fast path and edges): paddings at every edge, z_x extremes, -128 weights', () => {
    fc.assert(fc.property(window3, window3, fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 1, 2), fc.constantFrom(-128, 127, 0, 17),
      fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.boolean(), fc.integer(), (h, w, ci, m, zx, activation, withMin, dynamic, seed) => {
        const rand = seeded(seed);
        const sx = 0.02;
        const x = randomInt8([1, h.size, w.size, ci], rand, perTensorQuant(sx, zx));
        const ch = ci * m;
        const wq = weightQuant(ch, 3, true, rand);
        // A weight of -128 takes every pixel down the general path; the others allow the int16 pair sums.
        const wt = randomInt8([1, 3, 3, ch], rand, wq, withMin ? -128 : -127, 127);
        if (withMin) (wt.data as Int8Array)[Math.floor(rand() * wt.size)] = -128;
        const attrs = { strides: [h.s, w.s], dilations: [h.d, w.d], pads: [h.pb, w.pb, h.pe, w.pe], activation };
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, wt, randomBias(ch, rand)], attrs, outQuant: outputQuant(rand, sx, wq.scale[0]!, 9), dynamic: dynamic ? [1, 2] : undefined });
      }), { numRuns: 120 });
  });

  it('DepthwiseConv of any window (1 to 5 taps a side: the interior path for other sizes than 3x3) with paddings, strides, dilations', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 5, max: 14 }), fc.integer({ min: 5, max: 14 }),
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 40 }),
      fc.constantFrom(-128, 127, 0, 17), fc.boolean(), fc.boolean(), fc.integer(),
      (kh, kw, hs, ws, s, d, pad, ch, zx, withMin, dynamic, seed) => {
        fc.pre((kh - 1) * d + 1 <= hs + 2 && (kw - 1) * (3 - d) + 1 <= ws + 2);
        const rand = seeded(seed);
        const sx = 0.02;
        const x = randomInt8([1, hs, ws, ch], rand, perTensorQuant(sx, zx));
        const wq = weightQuant(ch, 3, true, rand);
        const wt = randomInt8([1, kh, kw, ch], rand, wq, withMin ? -128 : -127, 127);
        if (withMin) (wt.data as Int8Array)[Math.floor(rand() * wt.size)] = -128;
        const attrs = { strides: [s, 3 - s], dilations: [d, 3 - d], pads: [pad, 2 - pad, 2 - pad, pad] };
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, wt, randomBias(ch, rand)], attrs, outQuant: outputQuant(rand, sx, wq.scale[0]!, kh * kw), dynamic: dynamic ? [1, 2] : undefined });
      }), { numRuns: 120 });
  });

  it('DepthwiseConv edges on maps from 4 to 41 pixels a side, odd kernels 1 to 5, strides 1 and 2', () => {
    fc.assert(fc.property(fc.constantFrom(4, 7, 14, 26, 41), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 1, max: 37 }), fc.constantFrom(-128, 127, 0, 17), fc.constantFrom(...ACTIVATIONS), fc.integer(),
      (size, k, s, pad, ch, zx, activation, seed) => {
        const rand = seeded(seed);
        const kh = 2 * k - 1;
        const x = randomInt8([1, size, size + 3, ch], rand, perTensorQuant(0.02, zx));
        const wq = weightQuant(ch, 3, true, rand);
        const wt = randomInt8([1, kh, kh, ch], rand, wq, -127, 127);
        const p = Math.min(pad, kh - 1);
        const attrs = { strides: [s, s], pads: [p, p, kh - 1 - p, kh - 1 - p], activation };
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, wt, randomBias(ch, rand)], attrs, outQuant: outputQuant(rand, 0.02, wq.scale[0]!, kh * kh) });
      }), { numRuns: 80 });
  });

  it('3x3 DepthwiseConv at the int16 pair-sum bound (x = -128, w = -127) and int8 extremes everywhere', () => {
    for (const [xv, wv, zx] of [[-128, -127, 127], [-128, 127, -128], [127, -127, 0], [127, 127, -128]] as const) {
      const x = new Tensor('int8', [1, 6, 7, 19], new Int8Array(6 * 7 * 19).fill(xv), perTensorQuant(0.5, zx));
      const w = new Tensor('int8', [1, 3, 3, 19], new Int8Array(9 * 19).fill(wv), perTensorQuant(0.01, 0));
      for (const scale of [1, 30, 1000]) {
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, w, randomBias(19, seeded(scale))], attrs: { pads: [1, 1, 1, 1] }, outQuant: perTensorQuant(scale, -3) });
      }
    }
  });

  it('FullyConnected, per-channel and per-tensor weights with a zero point', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 27 }),
      fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.integer(), (rows, k, o, activation, perChannel, seed) => {
        const rand = seeded(seed);
        const sx = 0.03;
        const x = randomInt8([rows, k], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
        const wq = perChannel ? weightQuant(o, 0, true, rand) : perTensorQuant(0.01, Math.floor(rand() * 40) - 20);
        const w = randomInt8([o, k], rand, wq, -127, 127);
        expectBitExact({ op: 'FullyConnected', inputs: [x, w, randomBias(o, rand)], attrs: { activation }, outQuant: outputQuant(rand, sx, wq.scale[0]!, k) });
      }), { numRuns: 80 });
  });

  it('ConvTranspose whose windows tile the output: kernels 1–4 a side, batches, odd channel counts, run-time weights', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 29 }),
      fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(),
      (batch, h, w, kh, kw, cin, cout, activation, perChannel, bias, dynamic, seed) => {
        const rand = seeded(seed);
        const sx = 0.02;
        const x = randomInt8([batch, h, w, cin], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
        const wq = weightQuant(cout, 3, perChannel, rand);
        const wt = randomInt8([cin, kh, kw, cout], rand, wq, -127, 127);
        expectBitExact({
          op: 'ConvTranspose', inputs: [x, wt, bias ? randomBias(cout, rand) : undefined], attrs: { strides: [kh, kw], activation },
          outQuant: outputQuant(rand, sx, wq.scale[0]!, cin), dynamic: dynamic ? [1] : undefined,
        });
      }), { numRuns: 80 });
  });

  it('ConvTranspose with overlapping windows, pads and output_padding: one stride-1 convolution per output phase', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 19 }), fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.boolean(), fc.integer(),
      (batch, h, w, sh, sw, extraH, extraW, cin, cout, activation, perChannel, dynamic, seed) => {
        const rand = seeded(seed);
        const kh = sh + extraH, kw = sw + extraW;
        // Pads up to k − 1 a side (leaving at least one output) and output_padding below the stride.
        const pad = (k: number, s: number, n: number) => Math.min(Math.floor(rand() * k), Math.floor((s * (n - 1) + k - 1) / 2));
        const ph = pad(kh, sh, h), pw = pad(kw, sw, w);
        const op = [Math.floor(rand() * sh), Math.floor(rand() * sw)];
        const sx = 0.02;
        const x = randomInt8([batch, h, w, cin], rand, perTensorQuant(sx, Math.floor(rand() * 256) - 128));
        const wq = weightQuant(cout, 3, perChannel, rand);
        const wt = randomInt8([cin, kh, kw, cout], rand, wq, -127, 127);
        expectBitExact({
          op: 'ConvTranspose', inputs: [x, wt, randomBias(cout, rand)],
          attrs: { strides: [sh, sw], pads: [ph, pw, ph, pw], output_padding: op, activation },
          outQuant: outputQuant(rand, sx, wq.scale[0]!, cin * Math.ceil(kh / sh) * Math.ceil(kw / sw)), dynamic: dynamic ? [1] : undefined,
        });
      }), { numRuns: 100 });
  });

  it('accumulators at the extremes (x = -128 with z_x = 127, w = ±127) stay exact', () => {
    const x = new Tensor('int8', [1, 3, 3, 40], new Int8Array(360).fill(-128), perTensorQuant(0.5, 127));
    const w = new Tensor('int8', [9, 3, 3, 40], Int8Array.from({ length: 9 * 360 }, (_, i) => (i % 3 === 0 ? -127 : 127)), perTensorQuant(0.01, 0));
    for (const scale of [1, 30, 1000]) {
      expectBitExact({ op: 'Conv', inputs: [x, w, randomBias(9, seeded(scale))], attrs: { pads: [1, 1, 1, 1] }, outQuant: perTensorQuant(scale, -3) });
    }
  });

  it('refuses grouped convolutions, 3-D windows, and whatever the reference refuses', () => {
    const rand = seeded(5);
    const q = perTensorQuant(0.1, 0);
    const grouped: NodeRun = { op: 'Conv', inputs: [randomInt8([1, 4, 4, 4], rand, q), randomInt8([4, 3, 3, 2], rand, q)], attrs: { group: 2 }, outQuant: q };
    expect(checkWith(wasmKernel(wasmInt8Kernels, grouped), grouped)).toMatch(/one group/);
    const dw3d: NodeRun = { op: 'DepthwiseConv', inputs: [randomInt8([1, 3, 4, 4, 2], rand, q), randomInt8([1, 1, 3, 3, 2], rand, q)], outQuant: q };
    expect(checkWith(wasmKernel(wasmInt8Kernels, dw3d), dw3d)).toMatch(/rank 5/);
    const asym: NodeRun = { op: 'Conv', inputs: [randomInt8([1, 4, 4, 2], rand, q), randomInt8([2, 1, 1, 2], rand, perTensorQuant(0.1, 3))], outQuant: q };
    expect(checkWith(wasmKernel(wasmInt8Kernels, asym), asym)).toMatch(/symmetric/);
    const gaps: NodeRun = { op: 'ConvTranspose', inputs: [randomInt8([1, 4, 4, 2], rand, q), randomInt8([2, 1, 3, 2], rand, q)], attrs: { strides: [2, 2] }, outQuant: q };
    expect(checkWith(wasmKernel(wasmInt8Kernels, gaps), gaps)).toMatch(/at least as large as the strides/);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { perTensorQuant, Tensor, type Int8Arithmetic } from '../../../../src/ir/index.js';
import {
  multiplyByQuantizedMultiplier, quantizeMultiplier, rne, roundHalfAway, roundingDivideByPOT, saturatingRoundingDoublingHighMul,
} from '../../../../src/kernels/ref/int8/requantize.js';
import { runOp } from '../../../../src/runtime/eval-node.js';
import { q8, quantizeValues, runInt8 } from './helpers.js';

/** gemmlowp's SaturatingRoundingDoublingHighMul in 64-bit integers, as the C code computes it. */
function srdhmBig(a: number, b: number): number {
  if (a === -2147483648 && b === -2147483648) return 2147483647;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n)); // BigInt division truncates toward zero, like C.
}

const int32 = fc.integer({ min: -2147483648, max: 2147483647 });

describe('requantize: fixed-point primitives', () => {
  it('rounds half to even and half away from zero', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999].map((v) => rne(v) + 0)).toEqual([0, 2, 2, 0, -2, 2]);
    expect([0.5, 1.5, 2.5, -0.5, -2.5].map(roundHalfAway)).toEqual([1, 2, 3, -1, -3]);
  });

  it('SaturatingRoundingDoublingHighMul matches a 64-bit computation', () => {
    fc.assert(fc.property(int32, int32, (a, b) => saturatingRoundingDoublingHighMul(a, b) === srdhmBig(a, b)), { numRuns: 3000 });
    expect(saturatingRoundingDoublingHighMul(-2147483648, -2147483648)).toBe(2147483647);
  });

  it('RoundingDivideByPOT rounds to nearest, ties away from zero', () => {
    fc.assert(fc.property(int32, fc.integer({ min: 0, max: 31 }), (x, e) => {
      const exact = x / 2 ** e;
      const expected = Math.sign(exact) * Math.floor(Math.abs(exact) + 0.5);
      return roundingDivideByPOT(x, e) === expected + 0;
    }), { numRuns: 3000 });
  });

  it('QuantizeMultiplier splits a real factor into a Q31 multiplier and a shift', () => {
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 1073741824, shift: 0 });
    expect(quantizeMultiplier(1)).toEqual({ multiplier: 1073741824, shift: 1 });
    expect(quantizeMultiplier(0.75)).toEqual({ multiplier: 1610612736, shift: 0 });
    expect(quantizeMultiplier(0)).toEqual({ multiplier: 0, shift: 0 });
    // q · 2^31 rounding up to 2^31 is renormalized.
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual({ multiplier: 1073741824, shift: 1 });
    fc.assert(fc.property(fc.double({ min: 1e-6, max: 1e3, noNaN: true }), (r) => {
      const { multiplier, shift } = quantizeMultiplier(r);
      return multiplier >= 2 ** 30 && multiplier < 2 ** 31 && Math.abs(multiplier * 2 ** (shift - 31) / r - 1) < 2 ** -30;
    }));
  });

  it('MultiplyByQuantizedMultiplier is within one rounding of x · real', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.double({ min: 1e-4, max: 4, noNaN: true }), (x, r) => {
      const { multiplier, shift } = quantizeMultiplier(r);
      return Math.abs(multiplyByQuantizedMultiplier(x, multiplier, shift) - x * r) <= 1 + Math.abs(x * r) * 2 ** -29;
    }));
  });
});

describe('int8 kernels: TFLite Micro test vectors (tflite-reference)', () => {
  it('Softmax: softmax_test.cc Softmax2DQuantizedInt8ShouldMatchGolden (input scale 0.1, zero point 0; TFLM allows 1 LSB)', () => {
    const input = [1, 2, 3, 4, 5, -1, -2, -3, -4, -5];
    const golden = [0.011656231, 0.031684921, 0.086128544, 0.234121657, 0.636408647,
      0.636408647, 0.234121657, 0.086128544, 0.031684921, 0.011656231];
    const x = q8([2, 5], quantizeValues(input, 0.1, 0), 0.1, 0);
    const y = runInt8('Softmax', [x], perTensorQuant(1 / 256, -128), { outShape: [2, 5] });
    const want = quantizeValues(golden, 1 / 256, -128);
    expect(y.shape).toEqual([2, 5]);
    y.toNumbers().forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1));
  });

  it('AveragePool: rounds the window sum half away from zero over in-bounds taps only', () => {
    // A 2x2 window, stride 2, SAME padding on a 3x3 input: corner windows count fewer taps.
    const x = q8([1, 3, 3, 1], [1, 2, 3, 4, 5, 6, -7, -8, -9], 0.5, 0);
    const y = runInt8('AveragePool', [x], perTensorQuant(0.5, 0), { attrs: { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_UPPER' } });
    // (1+2+4+5)/4 = 3; (3+6)/2 = 4.5 -> 5; (-7-8)/2 = -7.5 -> -8; -9/1 = -9.
    expect(y.toNumbers()).toEqual([3, 5, -8, -9]);
  });

  it('Logistic: saturates outside the input radius and is 1/2 at zero', () => {
    const x = q8([5], [-128, -1, 0, 1, 127], 0.1, 0);
    const y = runInt8('Sigmoid', [x], perTensorQuant(1 / 256, -128));
    const f = [-12.8, -0.1, 0, 0.1, 12.7].map((v) => 1 / (1 + Math.exp(-v)));
    expect(y.shape).toEqual([5]);
    y.toNumbers().forEach((v, i) => expect(Math.abs(v - Math.min(127, Math.round(f[i]! * 256) - 128))).toBeLessThanOrEqual(1));
    expect(y.toNumbers()[2]).toBe(0);
  });

  it('Tanh: odd and close to tanh', () => {
    const values = Array.from({ length: 256 }, (_, i) => i - 128);
    const y = runInt8('Tanh', [q8([256], values, 0.05, 0)], perTensorQuant(1 / 128, 0)).toNumbers();
    expect(y.length).toBe(values.length);
    values.forEach((v, i) => expect(Math.abs(y[i]! - Math.max(-128, Math.min(127, Math.round(Math.tanh(v * 0.05) * 128))))).toBeLessThanOrEqual(1));
  });
});

// ---------------------------------------------------------------------------
// Random tensors for the property tests
// ---------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function randomInt8(r: () => number, shape: number[], scale: number, zp: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return q8(shape, Array.from({ length: n }, () => Math.floor(r() * 256) - 128), scale, zp);
}

function bothModes(f: (mode: Int8Arithmetic) => Tensor): [number[], number[]] {
  return [f('tflite-reference').toNumbers(), f('tflite-xnnpack').toNumbers()];
}

function maxDiff(a: number[], b: number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('int8 kernels: the two arithmetics differ by at most 1 LSB', () => {
  it('Conv (per-channel weights, padding, stride, dilation)', () => {
    fc.assert(fc.property(seedArb, (seed) => {
      const r = rng(seed);
      const cin = 1 + Math.floor(r() * 4), cout = 1 + Math.floor(r() * 4), k = 1 + Math.floor(r() * 3);
      const x = randomInt8(r, [1, 5, 6, cin], 0.01 + r() * 0.1, Math.floor(r() * 40) - 20);
      const wScales = Float32Array.from({ length: cout }, () => 0.001 + r() * 0.02);
      const w = new Tensor('int8', [cout, k, k, cin], Int8Array.from({ length: cout * k * k * cin }, () => Math.floor(r() * 255) - 127),
        { scale: wScales, zeroPoint: new Int32Array(cout), axis: 0 });
      const b = new Tensor('int32', [cout], Int32Array.from({ length: cout }, () => Math.floor(r() * 2000) - 1000));
      const attrs = { auto_pad: 'SAME_UPPER', strides: [1 + Math.floor(r() * 2), 1], dilations: [1, 1 + Math.floor(r() * 2)] };
      const yq = perTensorQuant(0.02 + r() * 0.2, Math.floor(r() * 40) - 20);
      const [a, c] = bothModes((m) => runInt8('Conv', [x, w, b], yq, { arithmetic: m, attrs }));
      return maxDiff(a, c) <= 1;
    }), { numRuns: 40 });
  });

  it('DepthwiseConv and FullyConnected', () => {
    fc.assert(fc.property(seedArb, (seed) => {
      const r = rng(seed);
      const c = 1 + Math.floor(r() * 3), m = 1 + Math.floor(r() * 2);
      const x = randomInt8(r, [1, 4, 4, c], 0.05, 3);
      const w = new Tensor('int8', [1, 3, 3, c * m], Int8Array.from({ length: 9 * c * m }, () => Math.floor(r() * 255) - 127),
        { scale: Float32Array.from({ length: c * m }, () => 0.002 + r() * 0.01), zeroPoint: new Int32Array(c * m), axis: 3 });
      const yq = perTensorQuant(0.01 + r() * 0.05, -5);
      const [a, b] = bothModes((mode) => runInt8('DepthwiseConv', [x, w], yq, { arithmetic: mode, attrs: { auto_pad: 'SAME_UPPER', activation: 'relu6' } }));
      const fx = randomInt8(r, [2, 7], 0.1, -3);
      const fw = new Tensor('int8', [3, 7], Int8Array.from({ length: 21 }, () => Math.floor(r() * 255) - 127), perTensorQuant(0.003 + r() * 0.01, 0));
      const [fa, fb] = bothModes((mode) => runInt8('FullyConnected', [fx, fw], perTensorQuant(0.02, 1), { arithmetic: mode }));
      return maxDiff(a, b) <= 1 && maxDiff(fa, fb) <= 1;
    }), { numRuns: 40 });
  });

  it('Add, Sub, Mul with broadcasting', () => {
    fc.assert(fc.property(seedArb, fc.constantFrom('Add', 'Sub', 'Mul'), (seed, op) => {
      const r = rng(seed);
      const a = randomInt8(r, [2, 3, 4], 0.01 + r() * 0.1, Math.floor(r() * 60) - 30);
      const b = randomInt8(r, [3, 1], 0.01 + r() * 0.1, Math.floor(r() * 60) - 30);
      const yq = perTensorQuant(op === 'Mul' ? 0.001 + r() * 0.01 : 0.02 + r() * 0.2, Math.floor(r() * 60) - 30);
      const [x, y] = bothModes((m) => runInt8(op, [a, b], yq, { arithmetic: m }));
      return maxDiff(x, y) <= 1;
    }), { numRuns: 60 });
  });

  it('ReduceMean, Softmax, Sigmoid, Tanh, LeakyRelu, HardSwish', () => {
    fc.assert(fc.property(seedArb, (seed) => {
      const r = rng(seed);
      const x = randomInt8(r, [1, 3, 5, 4], 0.02 + r() * 0.2, Math.floor(r() * 60) - 30);
      const axes = new Tensor('int64', [2], BigInt64Array.of(1n, 2n));
      const mq = perTensorQuant(0.01 + r() * 0.1, Math.floor(r() * 20) - 10);
      const mean = bothModes((m) => runInt8('ReduceMean', [x, axes], mq, { arithmetic: m }));
      const soft = bothModes((m) => runInt8('Softmax', [x], perTensorQuant(1 / 256, -128), { arithmetic: m, outShape: [1, 3, 5, 4] }));
      const sig = bothModes((m) => runInt8('Sigmoid', [x], perTensorQuant(1 / 256, -128), { arithmetic: m }));
      const th = bothModes((m) => runInt8('Tanh', [x], perTensorQuant(1 / 128, 0), { arithmetic: m }));
      const yq = perTensorQuant(0.02 + r() * 0.2, Math.floor(r() * 20) - 10);
      const lr = bothModes((m) => runInt8('LeakyRelu', [x], yq, { arithmetic: m, attrs: { alpha: 0.1 } }));
      const hs = bothModes((m) => runInt8('HardSwish', [x], yq, { arithmetic: m }));
      return [mean, soft, sig, th, lr, hs].every(([a, b]) => maxDiff(a, b) <= 1);
    }), { numRuns: 40 });
  });
});

describe('int8 kernels: agreement with float', () => {
  it('int8 Conv dequantized is within a few LSB of float Conv on dequantized inputs', () => {
    const r = rng(1234);
    const x = randomInt8(r, [1, 6, 6, 3], 0.05, 4);
    const cout = 4;
    const wScales = Float32Array.from({ length: cout }, () => 0.004 + r() * 0.01);
    const w = new Tensor('int8', [cout, 3, 3, 3], Int8Array.from({ length: cout * 27 }, () => Math.floor(r() * 255) - 127),
      { scale: wScales, zeroPoint: new Int32Array(cout), axis: 0 });
    const yScale = 0.05;
    const attrs = { auto_pad: 'SAME_UPPER' };
    const xf = new Tensor('float32', x.shape, x.toFloat32());
    const wf = new Tensor('float32', w.shape, w.toFloat32());
    const [ref] = runOp('Conv', [xf, wf], attrs);
    for (const mode of ['tflite-reference', 'tflite-xnnpack'] as const) {
      const y = runInt8('Conv', [x, w], perTensorQuant(yScale, -2), { arithmetic: mode, attrs });
      const deq = y.toFloat32();
      expect(y.shape).toEqual(ref!.shape);
      ref!.toNumbers().forEach((v, i) => {
        const clamped = Math.max(-126 * yScale, Math.min(129 * yScale, v));
        expect(Math.abs(deq[i]! - clamped)).toBeLessThanOrEqual(1.01 * yScale);
      });
    }
  });

  it('Concat requantizes inputs and Pad fills with the zero point', () => {
    const a = q8([1, 2], [10, -10], 0.1, 0);
    const b = q8([1, 2], [10, -10], 0.2, 5);
    const y = runInt8('Concat', [a, b], perTensorQuant(0.1, 0), { attrs: { axis: 1 } });
    expect(y.toNumbers()).toEqual([10, -10, 10, -30]);
    const pads = new Tensor('int64', [4], BigInt64Array.of(0n, 1n, 0n, 1n));
    const p = runInt8('Pad', [a, pads], perTensorQuant(0.1, 7));
    expect(p.toNumbers()).toEqual([7, 10, -10, 7]);
  });
});

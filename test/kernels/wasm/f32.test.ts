/**
 * float32 wasm kernels against the reference kernels on random shapes.
 *
 * Tolerance: the reference sums in float64 and rounds once; the wasm kernels
 * sum n ≤ K + 1 float32 terms (products and the bias) in a fixed order. The
 * standard bound for recursive float32 summation of products gives
 *   |y_wasm − y_ref| ≤ (K + 3) · 2^-24 · Σ|x·w| (+ |b|),
 * and Σ|x·w| + |b| is computed by running the reference kernel on |x|, |w|,
 * |b| without activation (clamping is 1-Lipschitz, so the bound survives it).
 * A wrong index or tap gives errors of the order of the terms themselves.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor } from '../../../src/ir/index.js';
import { wasmFloatKernels } from '../../../src/kernels/wasm/f32.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import {
  ACTIVATIONS, absTensor, checkWith, kernel, randomF32, refKernel, runWith, seeded, spatial, wasmKernel, windowAttrs, windowFields, type NodeRun,
} from './helpers.js';


function expectWithinBound(r: NodeRun, k: number): void {
  const ref = runWith(refKernel(r), r);
  const wasm = runWith(wasmKernel(wasmFloatKernels, r), r);
  const absRun: NodeRun = { ...r, inputs: r.inputs.map(absTensor), attrs: { ...r.attrs, activation: 'none' } };
  const bound = runWith(refKernel(absRun), absRun).data as Float32Array;
  expect([...wasm.shape]).toEqual([...ref.shape]);
  const a = wasm.data as Float32Array, e = ref.data as Float32Array;
  expect(a.length).toBe(e.length);
  for (let i = 0; i < a.length; i++) {
    const tol = (k + 3) * 2 ** -24 * bound[i]! + 1e-30;
    if (!(Math.abs(a[i]! - e[i]!) <= tol)) {
      throw new Error(`${r.op} element ${i}: wasm ${a[i]} vs ref ${e[i]} (tolerance ${tol}) shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')} attrs ${JSON.stringify(r.attrs)}`);
    }
  }
}

const windowCase = fc.record({ ...windowFields, seed: fc.integer() });

describe.skipIf(!wasmAvailable())('wasm float32 kernels match the reference', () => {
  it('Conv on random shapes, strides, dilations, paddings and channel counts', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 19 }), (c, cin, cout) => {
      const rand = seeded(c.seed);
      const x = randomF32([c.batch, ...spatial(c), cin], rand);
      const w = randomF32([cout, ...kernel(c), cin], rand);
      const b = c.bias ? randomF32([cout], rand) : undefined;
      expectWithinBound({ op: 'Conv', inputs: [x, w, b], attrs: windowAttrs(c) }, kernel(c).reduce((p, q) => p * q, cin));
    }), { numRuns: 150 });
  });

  it('pointwise Conv (the GEMM path without gathering), many pixels', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 41 }), fc.integer(), (hw, cin, cout, seed) => {
      const rand = seeded(seed);
      const x = randomF32([1, hw, 3, cin], rand);
      const w = randomF32([cout, 1, 1, cin], rand);
      expectWithinBound({ op: 'Conv', inputs: [x, w, randomF32([cout], rand)], attrs: { activation: 'relu6' } }, cin);
    }), { numRuns: 60 });
  });

  it('DepthwiseConv, depth multipliers 1, 2, 3 and 8', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 21 }), fc.constantFrom(1, 1, 2, 3, 8), (c, ch, m) => {
      const rand = seeded(c.seed);
      const x = randomF32([c.batch, ...spatial(c), ch], rand);
      const w = randomF32([1, ...kernel(c), ch * m], rand);
      const b = c.bias ? randomF32([ch * m], rand) : undefined;
      expectWithinBound({ op: 'DepthwiseConv', inputs: [x, w, b], attrs: windowAttrs(c) }, kernel(c).reduce((p, q) => p * q, 1));
    }), { numRuns: 150 });
  });

  it('ConvTranspose (GEMM then scatter) on random shapes, strides, dilations, paddings, output_padding', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 13 }), fc.boolean(), (c, cin, cout, extra) => {
      const rand = seeded(c.seed);
      const x = randomF32([c.batch, ...spatial(c), cin], rand);
      const w = randomF32([cin, ...kernel(c), cout], rand);
      const b = c.bias ? randomF32([cout], rand) : undefined;
      const attrs = windowAttrs(c);
      const ax = c.oneD ? [c.w] : [c.h, c.w];
      // output_padding must stay below the stride (or dilation): it only grows the output's end.
      const outPad = ax.map((a) => (extra && a.s > 1 ? 1 : 0));
      if (extra) attrs['output_padding'] = outPad;
      fc.pre(ax.every((a, i) => a.s * (a.size - 1) + outPad[i]! + (a.k - 1) * a.d + 1 - a.pb - a.pe >= 1));
      expectWithinBound({ op: 'ConvTranspose', inputs: [x, w, b], attrs }, kernel(c).reduce((p, q) => p * q, cin));
    }), { numRuns: 150 });
  });

  it('ConvTranspose whose windows tile the output (stride = kernel, the per-kernel-row GEMM path), constant or computed weights', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }),
      fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 21 }), fc.boolean(), fc.constantFrom(...ACTIVATIONS), fc.boolean(), fc.integer(),
      (kh, kw, h, w, cin, cout, bias, activation, dynamic, seed) => {
        const rand = seeded(seed);
        const x = randomF32([2, h, w, cin], rand);
        const wt = randomF32([cin, kh, kw, cout], rand);
        const inputs = [x, wt, bias ? randomF32([cout], rand) : undefined];
        const r: NodeRun = { op: 'ConvTranspose', inputs, attrs: { strides: [kh, kw], activation }, ...(dynamic ? { dynamic: [1] } : {}) };
        expectWithinBound(r, kh * kw * cin);
      }), { numRuns: 80 });
  });

  it('FullyConnected, MatMul and Gemm', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 27 }), fc.constantFrom(...ACTIVATIONS), fc.integer(), (rows, k, o, activation, seed) => {
      const rand = seeded(seed);
      const x = randomF32([rows, k], rand);
      expectWithinBound({ op: 'FullyConnected', inputs: [x, randomF32([o, k], rand), randomF32([o], rand)], attrs: { activation } }, k);
      expectWithinBound({ op: 'MatMul', inputs: [randomF32([2, rows, k], rand), randomF32([k, o], rand)] }, k);
      expectWithinBound({ op: 'Gemm', inputs: [x, randomF32([o, k], rand), randomF32([o], rand)], attrs: { transB: 1 } }, k);
      expectWithinBound({ op: 'Gemm', inputs: [x, randomF32([k, o], rand), randomF32([1, o], rand)] }, k);
    }), { numRuns: 60 });
  });

  it('weights computed by the graph are packed on every run', () => {
    const rand = seeded(7);
    const x = randomF32([1, 5, 5, 6], rand);
    const r: NodeRun = { op: 'Conv', inputs: [x, randomF32([10, 3, 3, 6], rand), randomF32([10], rand)], attrs: { pads: [1, 1, 1, 1] }, dynamic: [1, 2] };
    expectWithinBound(r, 54);
  });

  it('refuses what it does not cover, so the registry falls back to ref', () => {
    const rand = seeded(3);
    const grouped: NodeRun = { op: 'Conv', inputs: [randomF32([1, 4, 4, 4], rand), randomF32([4, 3, 3, 2], rand)], attrs: { group: 2 } };
    expect(checkWith(wasmKernel(wasmFloatKernels, grouped), grouped)).toMatch(/one group/);
    const conv3d: NodeRun = { op: 'Conv', inputs: [randomF32([1, 3, 3, 3, 2], rand), randomF32([2, 1, 1, 1, 2], rand)] };
    expect(checkWith(wasmKernel(wasmFloatKernels, conv3d), conv3d)).toMatch(/rank 5/);
    const depthwise3d: NodeRun = { op: 'DepthwiseConv', inputs: [randomF32([1, 3, 4, 4, 2], rand), randomF32([1, 1, 3, 3, 2], rand)] };
    expect(checkWith(wasmKernel(wasmFloatKernels, depthwise3d), depthwise3d)).toMatch(/rank 5/);
    const transA: NodeRun = { op: 'Gemm', inputs: [randomF32([3, 2], rand), randomF32([3, 4], rand)], attrs: { transA: 1 } };
    expect(checkWith(wasmKernel(wasmFloatKernels, transA), transA)).toMatch(/transA/);
    const mixed: NodeRun = { op: 'Conv', inputs: [randomF32([1, 3, 3, 2], rand), new Tensor('float64', [2, 1, 1, 2])] };
    expect(checkWith(wasmKernel(wasmFloatKernels, mixed), mixed)).toMatch(/float64/);
  });
});

/**
 * 16x8 wasm kernels (int16 activations, int8 weights, int64 bias) against the
 * 16x8 reference kernels: bit-exact in both arithmetics on random shapes
 * (odd sizes, strides, dilations, paddings, channel counts off multiples of
 * 8, per-channel and per-tensor weights, fused activations), with the
 * int32-overflow proof exercised at its bound: weights heavy enough that K
 * must be split into blocks accumulated in int64, and a depthwise window
 * that cannot be proven, which runs the reference kernel.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Int8Arithmetic, perTensorQuant, type QuantParams, Tensor } from '../../../src/ir/index.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import { blockK, INT32_SUM_LIMIT, SAFE_BLOCK, wasmInt16Kernels } from '../../../src/kernels/wasm/int16.js';
import { defaultRegistry } from '../../../src/runtime/builtins.js';
import {
  kernel,
  makeNode,
  type NodeRun,
  outputInfo,
  refKernel,
  runWith,
  seeded,
  spatial,
  wasmKernel,
  windowAttrs,
  windowFields,
} from './helpers.js';

const ARITHMETICS: Int8Arithmetic[] = ['tflite-xnnpack', 'tflite-reference'];

function randomInt16(shape: number[], rand: () => number, scale: number, lo = -32768, hi = 32767): Tensor {
  const t = new Tensor('int16', shape, undefined, perTensorQuant(scale, 0));
  const d = t.data as Int16Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor(rand() * (hi - lo + 1));
  return t;
}

function randomInt8(shape: number[], rand: () => number, quant: QuantParams, lo = -128, hi = 127): Tensor {
  const t = new Tensor('int8', shape, undefined, quant);
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor(rand() * (hi - lo + 1));
  return t;
}

/** int64 biases, mostly within ±2^30, sometimes near TFLite's 2^46 cap. */
function randomBias(n: number, rand: () => number): Tensor {
  const big = rand() < 0.2;
  return new Tensor(
    'int64',
    [n],
    BigInt64Array.from({ length: n }, () => BigInt(Math.floor((rand() * 2 - 1) * (big ? 2 ** 45 : 2 ** 30)))),
  );
}

function weightQuant(channels: number, axis: number, perChannel: boolean, rand: () => number): QuantParams {
  if (!perChannel) return perTensorQuant(0.002 + rand() * 0.02, 0);
  return { scale: Float32Array.from({ length: channels }, () => 0.002 + rand() * 0.02), zeroPoint: new Int32Array(channels), axis };
}

/** An int16 output scale that spreads the accumulators (std ≈ 18918·73·√taps) over about ±20000 steps. */
function outputQuant(rand: () => number, sx: number, sw: number, taps: number): QuantParams {
  return perTensorQuant(Math.fround(((sx * sw * 18918 * 73 * Math.sqrt(taps)) / 10000) * (0.5 + rand())), 0);
}

function expectBitExact(r: NodeRun): void {
  for (const arithmetic of ARITHMETICS) {
    const run = { ...r, arithmetic };
    const ref = runWith(refKernel(run), run).data as Int16Array;
    const wasm = runWith(wasmKernel(wasmInt16Kernels, run), run).data as Int16Array;
    expect(wasm.length).toBe(ref.length);
    let mismatches = 0,
      first = -1;
    for (let i = 0; i < ref.length; i++)
      if (ref[i] !== wasm[i]) {
        if (first < 0) first = i;
        mismatches++;
      }
    if (mismatches > 0) {
      throw new Error(
        `${r.op} (${arithmetic}): ${mismatches}/${ref.length} outputs differ, first at ${first}: wasm ${wasm[first]} vs ref ${ref[first]}; ` +
          `shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')} attrs ${JSON.stringify(r.attrs)}`,
      );
    }
  }
}

/** The prepared state of the wasm kernel for this node (to see whether it fell back). */
function preparedState(r: NodeRun): unknown {
  const node = makeNode(r);
  const infos = r.inputs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant, constant: t } : undefined));
  return wasmKernel(wasmInt16Kernels, r).prepare?.({
    node,
    inputs: infos,
    outputs: [outputInfo(r)],
    ctx: { int8Arithmetic: 'tflite-xnnpack' },
  })?.state;
}

const ACTS = ['none', 'relu', 'relu6'] as const;
const windowCase = fc.record({ ...windowFields, activation: fc.constantFrom(...ACTS), perChannel: fc.boolean(), seed: fc.integer() });

describe.skipIf(!wasmAvailable())('wasm 16x8 kernels are bit-exact with the reference', () => {
  it('Conv: random windows, strides, dilations, paddings, channel counts', () => {
    fc.assert(
      fc.property(windowCase, fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 19 }), (c, cin, cout) => {
        const rand = seeded(c.seed);
        const sx = 1e-4 + rand() * 1e-3;
        const x = randomInt16([c.batch, ...spatial(c), cin], rand, sx);
        const wq = weightQuant(cout, 0, c.perChannel, rand);
        const w = randomInt8([cout, ...kernel(c), cin], rand, wq);
        const taps = kernel(c).reduce((p, q) => p * q, cin);
        expectBitExact({
          op: 'Conv',
          inputs: [x, w, c.bias ? randomBias(cout, rand) : undefined],
          attrs: windowAttrs(c),
          outQuant: outputQuant(rand, sx, wq.scale[0]!, taps),
        });
      }),
      { numRuns: 60 },
    );
  });

  it('pointwise Conv (one GEMM over X): many pixels, K not a multiple of 8, tails of rows and channels', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.integer(),
        (pixels, cin, cout, perChannel, seed) => {
          const rand = seeded(seed);
          const sx = 3e-4;
          const x = randomInt16([1, 1, pixels, cin], rand, sx);
          const wq = weightQuant(cout, 0, perChannel, rand);
          const w = randomInt8([cout, 1, 1, cin], rand, wq);
          expectBitExact({
            op: 'Conv',
            inputs: [x, w, randomBias(cout, rand)],
            attrs: { activation: 'none' },
            outQuant: outputQuant(rand, sx, wq.scale[0]!, cin),
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('K split into int64-accumulated blocks where int32 could overflow (|w| sums past 65535), at x = −32768 and w = −128', () => {
    const rand = seeded(7);
    for (const [cin, fill] of [
      [600, 'extreme'],
      [1100, 'random'],
      [2049, 'extreme'],
    ] as const) {
      const sx = 1e-4;
      const wq = weightQuant(9, 0, true, rand);
      const x = fill === 'extreme' ? randomInt16([1, 1, 6, cin], rand, sx, -32768, -32768) : randomInt16([1, 1, 6, cin], rand, sx);
      const w = fill === 'extreme' ? randomInt8([9, 1, 1, cin], rand, wq, -128, -128) : randomInt8([9, 1, 1, cin], rand, wq, 120, 127);
      const kb = blockK(w.data as Int8Array, 9, cin);
      expect(kb).toBeLessThan(Math.ceil(cin / 8) * 8);
      expect(kb % 8).toBe(0);
      expect(kb).toBeGreaterThanOrEqual(SAFE_BLOCK);
      // The whole row would pass the int32 bound; every block stays within it.
      const d = w.data as Int8Array;
      for (let o = 0; o < 9; o++) {
        let total = 0;
        for (let s = 0; s < cin; s += kb) {
          let sum = 0;
          for (let i = s; i < Math.min(cin, s + kb); i++) sum += Math.abs(d[o * cin + i]!);
          expect(sum).toBeLessThanOrEqual(INT32_SUM_LIMIT);
          total += sum;
        }
        expect(total).toBeGreaterThan(INT32_SUM_LIMIT);
      }
      // A tiny output scale saturates; a large one keeps the sums visible.
      for (const outScale of [sx * wq.scale[0]! * 2 ** 16, sx * wq.scale[0]! * 2 ** 12]) {
        expectBitExact({
          op: 'Conv',
          inputs: [x, w, randomBias(9, rand)],
          attrs: { activation: 'none' },
          outQuant: perTensorQuant(Math.fround(outScale), 0),
        });
      }
    }
  });

  it('blockK keeps the whole K when the weights prove it, and SAFE_BLOCK is safe for any int8 weights', () => {
    expect(blockK(new Int8Array(512).fill(127), 1, 512)).toBe(512); // 512·127 = 65024 ≤ 65535
    expect(blockK(new Int8Array(512).fill(-128), 1, 512)).toBe(SAFE_BLOCK); // 65536 does not fit; halving reaches 256 < 504, so 504
    expect(blockK(new Int8Array(4096).fill(-100), 1, 4096)).toBe(512); // 4096 → 2048 → 1024 → 512 (51200 fits)
    expect(SAFE_BLOCK * 128).toBeLessThanOrEqual(INT32_SUM_LIMIT);
    expect(32768 * INT32_SUM_LIMIT).toBeLessThan(2 ** 31);
  });

  it('DepthwiseConv, depth multipliers 1, 2, 3 and 8', () => {
    fc.assert(
      fc.property(windowCase, fc.integer({ min: 1, max: 37 }), fc.constantFrom(1, 1, 2, 3, 8), (c, ci, m) => {
        const rand = seeded(c.seed);
        const sx = 1e-4 + rand() * 1e-3;
        const x = randomInt16([c.batch, ...spatial(c), ci], rand, sx);
        const ch = ci * m;
        const wShape = [1, ...kernel(c), ch];
        const wq = weightQuant(ch, wShape.length - 1, c.perChannel, rand);
        const w = randomInt8(wShape, rand, wq);
        const outQuant = outputQuant(
          rand,
          sx,
          wq.scale[0]!,
          kernel(c).reduce((p, q) => p * q, 1),
        );
        expectBitExact({ op: 'DepthwiseConv', inputs: [x, w, c.bias ? randomBias(ch, rand) : undefined], attrs: windowAttrs(c), outQuant });
      }),
      { numRuns: 60 },
    );
  });

  it('DepthwiseConv whose window cannot be proven (23x23 taps of −128) runs the reference kernel, and says why', () => {
    const rand = seeded(3);
    const wq = weightQuant(5, 3, true, rand);
    const r: NodeRun = {
      op: 'DepthwiseConv',
      inputs: [randomInt16([1, 25, 25, 5], rand, 1e-4), randomInt8([1, 23, 23, 5], rand, wq, -128, -128), randomBias(5, rand)],
      attrs: { activation: 'none' },
      outQuant: perTensorQuant(Math.fround(1e-4 * wq.scale[0]! * 2 ** 20), 0),
    };
    const st = preparedState(r) as { fallback?: string };
    expect(st.fallback).toMatch(/\|w\| sums to 67712 over the window/);
    expectBitExact(r);
    // A 3x3 window always fits: the wasm path.
    const r3: NodeRun = { ...r, inputs: [r.inputs[0], randomInt8([1, 3, 3, 5], rand, wq, -128, -128), r.inputs[2]] };
    expect((preparedState(r3) as { fallback?: string }).fallback).toBeUndefined();
    expectBitExact(r3);
  });

  it('FullyConnected, per-channel and per-tensor weights, K up to 1200 (blocks past the bound), ties-away epilogue', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 1200 }),
        fc.integer({ min: 1, max: 27 }),
        fc.constantFrom(...ACTS),
        fc.boolean(),
        fc.integer(),
        (rows, k, o, activation, perChannel, seed) => {
          const rand = seeded(seed);
          const sx = 2e-4;
          const x = randomInt16([rows, k], rand, sx);
          const wq = weightQuant(o, 0, perChannel, rand);
          const w = randomInt8([o, k], rand, wq, rand() < 0.5 ? -128 : 90, 127);
          expectBitExact({
            op: 'FullyConnected',
            inputs: [x, w, randomBias(o, rand)],
            attrs: { activation },
            outQuant: outputQuant(rand, sx, wq.scale[0]!, k),
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('exact ties of the epilogue: accumulators at multiples of half an output step', () => {
    // Output scale = s_x·s_w·2^k: the real factor is a power of two, so acc = (2j + 1)·2^(k−1) lands on ties.
    const rand = seeded(11);
    for (const op of ['Conv', 'FullyConnected'] as const) {
      const k = 5;
      const x = new Tensor(
        'int16',
        op === 'Conv' ? [1, 1, 40, 1] : [40, 1],
        Int16Array.from({ length: 40 }, (_, i) => (i - 20) * 8 + 4),
        perTensorQuant(1 / 1024, 0),
      );
      const wq = perTensorQuant(1 / 64, 0);
      const w = new Tensor('int8', op === 'Conv' ? [3, 1, 1, 1] : [3, 1], Int8Array.from([1, -1, 3]), wq);
      const bias = new Tensor('int64', [3], BigInt64Array.from([0n, 1n, -1n]));
      expectBitExact({ op, inputs: [x, w, bias], attrs: { activation: 'none' }, outQuant: perTensorQuant(Math.fround(2 ** (k - 16)), 0) });
      void rand;
    }
  });

  it('the int32-narrowed uniform-shift epilogue (mode 3), the int64 one (mode 2) and the per-channel one (mode 0), each where its bound is proven: all exact', () => {
    const rand = seeded(21);
    const x = randomInt16([1, 5, 5, 12], rand, 3e-4);
    const wq = weightQuant(12, 0, true, rand);
    const w = randomInt8([12, 3, 3, 12], rand, wq);
    const dww = randomInt8([1, 3, 3, 12], rand, { ...wq, axis: 3 });
    const outQuant = outputQuant(rand, 3e-4, wq.scale[0]!, 108);
    const biasOf = (magnitude: bigint) =>
      new Tensor(
        'int64',
        [12],
        BigInt64Array.from({ length: 12 }, (_, i) => (i % 2 ? 1n : -1n) * (magnitude - BigInt(i))),
      );
    const modes = new Set<number>();
    for (const magnitude of [5000n, 2n ** 30n, 2n ** 36n, 2n ** 40n, 2n ** 43n, 2n ** 46n - 1n]) {
      const bias = biasOf(magnitude);
      const r: NodeRun = { op: 'Conv', inputs: [x, w, bias], attrs: { pads: [1, 1, 1, 1], activation: 'none' }, outQuant };
      modes.add((preparedState(r) as { e: { mode: number } }).e.mode);
      expectBitExact(r);
      const dw: NodeRun = { op: 'DepthwiseConv', inputs: [x, dww, bias], attrs: { pads: [1, 1, 1, 1], activation: 'relu' }, outQuant };
      modes.add((preparedState(dw) as { e: { mode: number } }).e.mode);
      expectBitExact(dw);
    }
    expect([...modes].sort()).toEqual([0, 2, 3]);
  });

  it('backend auto picks the wasm kernel for int16 Conv, DepthwiseConv and FullyConnected', () => {
    const rand = seeded(5);
    const cases: NodeRun[] = [
      {
        op: 'Conv',
        inputs: [randomInt16([1, 4, 4, 3], rand, 1e-3), randomInt8([2, 3, 3, 3], rand, perTensorQuant(0.01, 0)), randomBias(2, rand)],
        attrs: { activation: 'none' },
        outQuant: perTensorQuant(0.01, 0),
      },
      {
        op: 'DepthwiseConv',
        inputs: [randomInt16([1, 4, 4, 3], rand, 1e-3), randomInt8([1, 3, 3, 3], rand, perTensorQuant(0.01, 0)), randomBias(3, rand)],
        attrs: { activation: 'none' },
        outQuant: perTensorQuant(0.01, 0),
      },
      {
        op: 'FullyConnected',
        inputs: [randomInt16([2, 5], rand, 1e-3), randomInt8([3, 5], rand, perTensorQuant(0.01, 0)), randomBias(3, rand)],
        attrs: { activation: 'none' },
        outQuant: perTensorQuant(0.01, 0),
      },
    ];
    for (const r of cases) {
      const infos = r.inputs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant } : undefined));
      const found = defaultRegistry.find(['wasm', 'ref'], makeNode(r), infos, [outputInfo(r)]);
      expect('kernel' in found && found.kernel.backend).toBe('wasm');
    }
  });
});

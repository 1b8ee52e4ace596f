/**
 * 16x8 elementwise wasm kernels (Add, Sub, Mul, Quantize float → int16,
 * Dequantize int16 → float, Resize) against the reference kernels: bit-exact in both
 * arithmetics, with scalar and trailing-vector broadcasting either way round,
 * fused activations, random and power-of-two scales, and float inputs at
 * exact ties, NaN, infinities and values past the int16 range.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, perTensorQuant, type Int8Arithmetic } from '../../../src/ir/index.js';
import { wasmInt16OpKernels } from '../../../src/kernels/wasm/int16ops.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import { checkWith, refKernel, runWith, seeded, type NodeRun } from './helpers.js';

const ARITHMETICS: Int8Arithmetic[] = ['tflite-xnnpack', 'tflite-reference'];

function randomInt16(shape: number[], rand: () => number, scale: number): Tensor {
  const t = new Tensor('int16', shape, undefined, perTensorQuant(scale, 0));
  const d = t.data as Int16Array;
  for (let i = 0; i < d.length; i++) d[i] = -32768 + Math.floor(rand() * 65536);
  return t;
}

function wasmOf(r: NodeRun) {
  const k = wasmInt16OpKernels.find((d) => d.op === r.op && d.dtypes.includes(r.inputs[0]!.dtype) && !checkWith(d, r));
  if (!k) throw new Error(`no wasm 16x8 kernel takes ${r.op}: ${wasmInt16OpKernels.filter((d) => d.op === r.op).map((d) => checkWith(d, r)).join('; ')}`);
  return k;
}

function expectBitExact(r: NodeRun): void {
  for (const arithmetic of ARITHMETICS) {
    const run = { ...r, arithmetic };
    const ref = runWith(refKernel(run), run).data;
    const wasm = runWith(wasmOf(run), run).data;
    expect(wasm.length).toBe(ref.length);
    const bytesRef = new Uint8Array(ref.buffer, ref.byteOffset, ref.byteLength), bytesWasm = new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength);
    let first = -1, count = 0;
    for (let i = 0; i < bytesRef.length; i++) if (bytesRef[i] !== bytesWasm[i]) { if (first < 0) first = i; count++; }
    if (count > 0) throw new Error(`${r.op} (${arithmetic}): ${count} bytes differ, first at byte ${first}; shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')}`);
  }
}

const SHAPES = [
  [[2, 5, 7, 9], [2, 5, 7, 9]], [[2, 5, 7, 9], [9]], [[9], [2, 5, 7, 9]], [[3, 33], []], [[], [3, 33]], [[1, 4, 4, 16], [1, 1, 1, 16]],
] as const;

describe.skipIf(!wasmAvailable())('wasm 16x8 elementwise kernels are bit-exact with the reference', () => {
  for (const op of ['Add', 'Sub', 'Mul'] as const) {
    it(`${op}: broadcasting either way, fused activations, random and power-of-two scales`, () => {
      fc.assert(fc.property(fc.constantFrom(...SHAPES), fc.constantFrom('none', 'relu', 'relu6'), fc.boolean(), fc.integer(), (shapes, activation, pot, seed) => {
        const rand = seeded(seed);
        const scale = () => (pot ? 2 ** -(8 + Math.floor(rand() * 6)) : 1e-4 + rand() * 1e-3);
        const sa = scale(), sb = scale();
        // Add/Sub need 2·max(s_a, s_b) / (2^15 · s_y) below 1.
        const sy = op === 'Mul' ? Math.fround(sa * sb * 32768 * (0.2 + rand())) : Math.fround(Math.max(sa, sb) * (1.1 + rand() * 2) / 16384);
        const a = randomInt16([...shapes[0]], rand, sa), b = randomInt16([...shapes[1]], rand, sb);
        expectBitExact({ op, inputs: [a, b], attrs: { activation }, outQuant: perTensorQuant(op === 'Mul' ? sy : Math.max(sy, Math.fround(Math.max(sa, sb) * 2.2 / 32768)), 0) });
      }), { numRuns: 40 });
    });
  }

  it('Mul with factors from 2^-40 to 2^9 (right exponents past 31, left shifts that wrap), scalar tails of every length', () => {
    const rand = seeded(17);
    for (const log2 of [-40, -33, -31, -30, -17, -3, -2, -1, 0, 1, 4, 9]) {
      for (const n of [1, 7, 8, 15, 64 + 5]) {
        const sa = 2 ** -10, sb = 2 ** -11;
        // An exact power of two puts half the products on a tie of each rounding (srdhm's, then rdbp's).
        for (const factor of [2 ** log2, 2 ** log2 * (1 + rand())]) {
          // Inputs small enough that a·b·factor mostly stays inside int16 (full-range ones too, for the clamp).
          const a = randomInt16([n], rand, sa), b = randomInt16([n], rand, sb);
          const limit = Math.min(32768, Math.ceil(Math.sqrt(32768 / factor)));
          if (n > 8) for (const d of [a.data as Int16Array, b.data as Int16Array]) for (let i = 8; i < n; i++) d[i] = Math.round((rand() * 2 - 1) * limit);
          expectBitExact({ op: 'Mul', inputs: [a, b], outQuant: perTensorQuant(Math.fround(sa * sb / factor), 0) });
          expectBitExact({ op: 'Mul', inputs: [a, randomInt16([], rand, sb)], outQuant: perTensorQuant(Math.fround(sa * sb / factor), 0) });
        }
      }
    }
  });

  it('Add and Sub on values at the int16 extremes and on the exact ties of each rounding', () => {
    const rand = seeded(23);
    const extremes = [-32768, -32767, -16384, -1, 0, 1, 16383, 32767];
    for (const op of ['Add', 'Sub'] as const) {
      // Power-of-two scales with s_y = 2^k·s_a make the output (a ± b·s_b/s_a) / 2^k: ties on every odd numerator.
      for (const [sa, sb, k] of [[2 ** -10, 2 ** -10, 1], [2 ** -10, 2 ** -10, 3], [2 ** -10, 2 ** -12, 1], [2 ** -12, 2 ** -10, 2], [3e-4, 7e-4, 1]] as const) {
        for (const n of [8 * 8 + 3, 500]) {
          const a = randomInt16([n], rand, sa), b = randomInt16([n], rand, sb);
          const da = a.data as Int16Array, db = b.data as Int16Array;
          for (let i = 0; i < 64; i++) { da[i] = extremes[i % 8]!; db[i] = extremes[(i >> 3) % 8]!; }
          const sy = Math.fround(Math.max(sa, sb) * 2 ** k);
          expectBitExact({ op, inputs: [a, b], outQuant: perTensorQuant(sy, 0) });
          expectBitExact({ op, inputs: [b, a], outQuant: perTensorQuant(sy, 0) });
          expectBitExact({ op, inputs: [a, randomInt16([], rand, sb)], outQuant: perTensorQuant(sy, 0) });
        }
      }
    }
  });

  it('Quantize float32 → int16: ties, near-ties, NaN, ±Infinity, values past the range', () => {
    const rand = seeded(9);
    for (const s of [2 ** -10, 1 / 3000, 0.0123, 7.5e-5]) {
      const n = 4000;
      const x = new Tensor('float32', [n]);
      const d = x.data as Float32Array;
      for (let i = 0; i < n; i++) {
        const k = Math.floor(rand() * 80000) - 40000;
        const pick = i % 5;
        d[i] = pick === 0 ? (k + 0.5) * s : pick === 1 ? Math.fround((k + 0.5) * s) * (1 + 1e-7) : pick === 2 ? (rand() * 2 - 1) * 3 : (rand() * 2 - 1) * 40000 * s;
      }
      d.set([NaN, Infinity, -Infinity, 0, -0, 32767.5 * s, -32768.5 * s, 1e30, -1e30], 0);
      expectBitExact({ op: 'Quantize', inputs: [x], attrs: { to: 'int16' }, outQuant: perTensorQuant(s, 0) });
    }
  });

  it('Dequantize int16 → float32, lengths off multiples of 8', () => {
    const rand = seeded(2);
    for (const n of [1, 7, 8, 9, 1001]) {
      expectBitExact({ op: 'Dequantize', inputs: [randomInt16([n], rand, 1e-4 + rand() * 1e-2)] });
    }
  });

  it('Resize nearest and bilinear over H and W, up and down, batches, values at the int16 extremes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 20 }), fc.constantFrom('nearest', 'linear'), fc.constantFrom('half_pixel', 'align_corners', 'asymmetric'), fc.integer({ min: 1, max: 2 }), fc.integer(),
      (h, w, c, oh, ow, mode, ctm, batch, seed) => {
        const rand = seeded(seed);
        const x = randomInt16([batch, h, w, c], rand, 1e-3);
        const d = x.data as Int16Array;
        if (seed % 3 === 0) for (let i = 0; i < d.length; i++) d[i] = i % 2 ? 32767 : -32768;
        const sizes = Tensor.fromNumbers('int64', [4], [batch, oh, ow, c]);
        const nearest_mode = ctm === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
        expectBitExact({ op: 'Resize', inputs: [x, undefined, undefined, sizes], attrs: { mode, coordinate_transformation_mode: ctm, nearest_mode }, outQuant: x.quant });
      }), { numRuns: 60 });
  });

  it('refuses other broadcasts and per-axis or non-zero zero points, leaving them to the reference', () => {
    const rand = seeded(4);
    const add: NodeRun = { op: 'Add', inputs: [randomInt16([2, 3, 4], rand, 1e-3), randomInt16([2, 1, 4], rand, 1e-3)], outQuant: perTensorQuant(2e-3, 0) };
    expect(wasmInt16OpKernels.filter((k) => k.op === 'Add').map((k) => checkWith(k, add))[0]).toMatch(/broadcasting/);
    const x = new Tensor('float32', [4], new Float32Array(4));
    const q: NodeRun = { op: 'Quantize', inputs: [x], attrs: { to: 'int16' }, outQuant: perTensorQuant(1e-3, 5) };
    expect(wasmInt16OpKernels.filter((k) => k.op === 'Quantize').map((k) => checkWith(k, q))[0]).toMatch(/zero point 0/);
  });
});

/**
 * 16x8 elementwise wasm kernels (Add, Sub, Mul, Quantize float → int16,
 * Dequantize int16 → float, Resize) against the reference kernels: bit-exact in both
 * arithmetics, with scalar and trailing-vector broadcasting either way round,
 * fused activations, random and power-of-two scales, and float inputs at
 * exact ties, NaN, infinities and values past the int16 range.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Graph, Tensor, perTensorQuant, type Int8Arithmetic } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
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

  it('Relu, Clip, LeakyRelu, Sigmoid, Tanh: every int16 input, power-of-two input scales (TFLite\'s other path) and lengths off multiples of 4', () => {
    const rand = seeded(31);
    const all = new Tensor('int16', [65536 + 3], undefined, perTensorQuant(1, 0));
    const d = all.data as Int16Array;
    for (let i = 0; i < d.length; i++) d[i] = (i & 0xffff) - 32768;
    for (const sx of [2 ** -12, 2 ** -11, 3.1e-4]) {
      const x = new Tensor('int16', all.shape, d, perTensorQuant(sx, 0));
      expectBitExact({ op: 'Sigmoid', inputs: [x], outQuant: perTensorQuant(2 ** -15, 0) });
      expectBitExact({ op: 'Tanh', inputs: [x], outQuant: perTensorQuant(2 ** -15, 0) });
    }
    for (const sx of [2 ** -8, 1.7e-3]) {
      const x = new Tensor('int16', all.shape, d, perTensorQuant(sx, 0));
      const sy = Math.fround(sx * (0.5 + rand()));
      expectBitExact({ op: 'Relu', inputs: [x], outQuant: perTensorQuant(sy, 0) });
      expectBitExact({ op: 'LeakyRelu', inputs: [x], attrs: { alpha: 0.1 }, outQuant: perTensorQuant(sy, 0) });
      const lo = Tensor.fromNumbers('float32', [], [-0.5]), hi = Tensor.fromNumbers('float32', [], [6]);
      expectBitExact({ op: 'Clip', inputs: [x, lo, hi], outQuant: perTensorQuant(sy, 0) });
    }
    for (const n of [1, 3, 4, 5]) expectBitExact({ op: 'Sigmoid', inputs: [randomInt16([n], rand, 1e-3)], outQuant: perTensorQuant(2 ** -15, 0) });
  });

  it('ReduceMean over a block of axes (H,W of NHWC, last axis, all) and over split axes (the reference loop), sums past 2^31', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 21 }),
      fc.constantFrom([1, 2], [3], [0, 1, 2, 3], [1], [1, 3]), fc.boolean(), fc.boolean(), fc.integer(), (n, h, w, c, axes, keep, saturate, seed) => {
        const rand = seeded(seed);
        const sx = 1e-4 + rand() * 1e-3;
        const x = randomInt16([n, h, w, c], rand, sx);
        if (saturate) (x.data as Int16Array).fill(seed % 2 ? 32767 : -32768);
        const r: NodeRun = {
          op: 'ReduceMean', inputs: [x, new Tensor('int64', [axes.length], BigInt64Array.from(axes.map(BigInt)))],
          attrs: { keepdims: keep ? 1 : 0 }, outQuant: perTensorQuant(Math.fround(sx * (0.3 + rand())), 0),
        };
        expectBitExact(r);
        // One quantization on both sides: TFLM's truncating integer mean in tflite-reference.
        expectBitExact({ ...r, outQuant: x.quant });
      }), { numRuns: 80 });
    // 2^17 values of 32767: the int32 sums wrap in both kernels alike.
    const big = new Tensor('int16', [1, 512, 256, 1], undefined, perTensorQuant(1e-3, 0));
    (big.data as Int16Array).fill(32767);
    expectBitExact({ op: 'ReduceMean', inputs: [big, new Tensor('int64', [2], BigInt64Array.from([1n, 2n]))], attrs: { keepdims: 1 }, outQuant: perTensorQuant(2e-3, 0) });
  });

  it('MaxPool and AveragePool: windows clipped at the edges, strides, dilations, fused activations, channels off multiples of 8', () => {
    fc.assert(fc.property(fc.constantFrom<'MaxPool' | 'AveragePool'>('MaxPool', 'AveragePool'), fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 19 }),
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 2 }),
      fc.constantFrom(undefined, 'relu', 'relu6'), fc.boolean(), fc.integer(), (op, n, h, w, c, k, stride, dilation, pad, activation, extremes, seed) => {
        const rand = seeded(seed);
        const x = randomInt16([n, h, w, c], rand, 1e-3 + rand() * 1e-2);
        if (extremes) (x.data as Int16Array).forEach((_, i, d) => { d[i] = i % 3 ? 32767 : -32768; });
        const p = Math.min(pad, k - 1);
        const span = (k - 1) * (op === 'MaxPool' ? dilation : 1) + 1;
        fc.pre(span <= h + 2 * p && span <= w + 2 * p);
        const r: NodeRun = {
          op, inputs: [x],
          attrs: { kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p], ...(op === 'MaxPool' ? { dilations: [dilation, dilation] } : {}), ...(activation ? { activation } : {}) },
          outQuant: x.quant,
        };
        expectBitExact(r);
      }), { numRuns: 120 });
  });

  it('AveragePool windows past 512 taps stay on the reference', () => {
    const x = randomInt16([1, 24, 24, 3], seeded(5), 1e-3);
    const r: NodeRun = { op: 'AveragePool', inputs: [x], attrs: { kernel_shape: [23, 23] }, outQuant: x.quant };
    const k = wasmInt16OpKernels.find((d) => d.op === 'AveragePool')!;
    expect(checkWith(k, r)).toMatch(/at most 512 taps/);
  });

  it('Concat in a session (tensors in wasm memory): raw rows give the reference bytes, any axis', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (h, axis, count, seed) => {
      const rand = seeded(seed);
      const q = perTensorQuant(1e-3, 0);
      const g = new Graph('concat', { format: 'cloudless' });
      const feeds: Record<string, Tensor> = {};
      const names = Array.from({ length: count }, (_, k) => {
        const shape = [1, h + (axis === 1 ? k : 0), 3 + (axis === 2 ? k : 0), 5 + (axis === 3 ? 2 * k : 0)];
        const name = `x${k}`;
        g.setValue({ name, dtype: 'int16', shape, quant: q });
        g.inputs.push(name);
        feeds[name] = randomInt16(shape, rand, 1e-3);
        return name;
      });
      g.setValue({ name: 'y', dtype: 'int16', quant: q });
      g.addNode({ name: 'concat', op: 'Concat', inputs: names, outputs: ['y'], attrs: { axis } });
      g.outputs = ['y'];
      const wasm = new Session(g, { backend: 'auto' });
      const got = wasm.runSync(feeds).y!, want = new Session(g, { backend: 'ref' }).runSync(feeds).y!;
      expect(wasm.currentPlan!.steps.find((st) => st.node.op === 'Concat')!.kernel.backend).toBe('wasm');
      expect(got.data.length).toBe(want.data.length);
      expect(Array.from(got.data as Int16Array)).toEqual(Array.from(want.data as Int16Array));
      wasm.dispose();
    }), { numRuns: 40 });
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

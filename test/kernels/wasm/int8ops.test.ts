/**
 * The memory-bound int8 wasm kernels (Quantize, Add/Sub/Mul, table unary ops,
 * MaxPool/AveragePool, ReduceMean) against the reference kernels: bit-exact
 * in both int8 arithmetics, on random odd shapes, zero points across the
 * int8 range and scale ratios inside and outside XNNPACK's ranges (where the
 * reference switches to TFLite's integer arithmetic). Transpose must copy
 * exactly.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Graph, Tensor, perTensorQuant, type Int8Arithmetic, type QuantParams } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { wasmInt8OpKernels } from '../../../src/kernels/wasm/int8ops.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import { checkWith, randomF32, refKernel, runWith, seeded, wasmKernel, type NodeRun } from './helpers.js';

const ARITHMETICS: Int8Arithmetic[] = ['tflite-xnnpack', 'tflite-reference'];

function randomInt8(shape: number[], rand: () => number, quant?: QuantParams): Tensor {
  const t = new Tensor('int8', shape, undefined, quant);
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.floor(rand() * 256) - 128;
  return t;
}

/** A per-tensor quantization with scale in [base, 4·base) and any zero point. */
function quant(rand: () => number, base = 0.02, zeroPoint?: number): QuantParams {
  return perTensorQuant(Math.fround(base * (1 + 3 * rand())), zeroPoint ?? Math.floor(rand() * 256) - 128);
}

function expectBitExact(r: NodeRun): void {
  for (const arithmetic of ARITHMETICS) {
    const run = { ...r, arithmetic };
    const refOut = runWith(refKernel(run), run), wasmOut = runWith(wasmKernel(wasmInt8OpKernels, run), run);
    expect(wasmOut.shape, `${r.op} (${arithmetic}): output shape`).toEqual(refOut.shape);
    const ref = refOut.data as Int8Array, wasm = wasmOut.data as Int8Array;
    expect(wasm.length, `${r.op} (${arithmetic}): output length`).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) {
      if (ref[i] !== wasm[i]) {
        throw new Error(`${r.op} (${arithmetic}) element ${i}/${ref.length}: wasm ${wasm[i]} vs ref ${ref[i]}; ` +
          `shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')} attrs ${JSON.stringify(r.attrs)} out ${JSON.stringify(r.outQuant)}`);
      }
    }
  }
}

const dims = fc.record({
  n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 11 }), c: fc.integer({ min: 1, max: 37 }),
  seed: fc.integer(),
});

describe.skipIf(!wasmAvailable())('wasm int8 memory-bound kernels', () => {
  it('Quantize float32 → int8: bit-exact, including exact ties and values past the int8 range', () => {
    fc.assert(fc.property(dims, (d) => {
      const rand = seeded(d.seed);
      const q = quant(rand, 0.01);
      const x = randomF32([d.n, d.h, d.w, d.c], rand, 2);
      const xd = x.data as Float32Array;
      // Every third element an exact half step (a tie for both roundings), some far out of range.
      for (let i = 0; i < xd.length; i += 3) xd[i] = Math.fround(q.scale[0]! * (Math.floor(rand() * 300) - 150 + 0.5));
      for (let i = 1; i < xd.length; i += 7) xd[i] = (rand() - 0.5) * 1e4;
      // Past 2^22 steps, where the float rounding trick no longer rounds (only the clamp decides), and infinities.
      for (let i = 2; i < xd.length; i += 11) xd[i] = [1e9, -1e9, Infinity, -Infinity, 3e38, -3e38][Math.floor(rand() * 6)]!;
      expectBitExact({ op: 'Quantize', inputs: [x], outQuant: q });
    }), { numRuns: 80 });
  });

  it('Add/Sub/Mul: same shape, scalar and channel vector on either side, both arithmetics, ratios in and out of XNNPACK range, constant or computed', () => {
    fc.assert(fc.property(dims, fc.constantFrom('Add', 'Sub', 'Mul'), fc.integer({ min: 0, max: 3 }), fc.boolean(),
      fc.constantFrom(1, 1, 1e-4, 500), fc.constantFrom('none', 'relu', 'relu6'), fc.boolean(), (d, op, pattern, swap, ratio, act, computed) => {
        const rand = seeded(d.seed);
        const full = [d.n, d.h, d.w, d.c];
        const small = [full, [], [d.c], [1, 1, d.w, d.c]][pattern]!;
        const a = randomInt8(full, rand, quant(rand));
        const b = randomInt8(small, rand, quant(rand, 0.02 * (op === 'Mul' ? 1 : ratio)));
        const yScale = op === 'Mul' ? 0.0004 * (0.5 + rand()) / (ratio === 500 ? 1e-5 : 1) : 0.04;
        const r: NodeRun = {
          op, inputs: swap ? [b, a] : [a, b], outQuant: perTensorQuant(Math.fround(yScale), Math.floor(rand() * 200) - 100),
          attrs: act === 'none' ? {} : { activation: act },
          // A constant scalar, or a constant short operand off the vector paths (the reference arithmetic), is looked up in
          // the reference kernel's tables; computed ones are not.
          dynamic: computed ? [0, 1] : undefined,
        };
        expectBitExact(r);
      }), { numRuns: 150 });
  });

  it('Mul whose rescaled product passes 2^22 (s_a·s_b/s_y near XNNPACK\'s bound of 256) clamps exactly', () => {
    fc.assert(fc.property(dims, fc.boolean(), (d, computed) => {
      const rand = seeded(d.seed);
      const full = [d.n, d.h, d.w, d.c];
      const a = randomInt8(full, rand, quant(rand, 0.5, 127)), b = randomInt8(full, rand, quant(rand, 0.5, -128));
      const sy = Math.fround((a.quant!.scale[0]! * b.quant!.scale[0]!) / (100 + rand() * 150));
      expectBitExact({ op: 'Mul', inputs: [a, b], outQuant: perTensorQuant(sy, Math.floor(rand() * 200) - 100), dynamic: computed ? [0, 1] : undefined });
    }), { numRuns: 40 });
  });

  it('Add/Sub/Mul vector paths: channel vectors of whole vectors (16, 32, 48), same shape and scalar with a tail', () => {
    fc.assert(fc.property(fc.constantFrom(16, 32, 48), fc.integer({ min: 1, max: 7 }), fc.constantFrom('Add', 'Sub', 'Mul'),
      fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.integer(), (c, w, op, pattern, swap, seed) => {
        const rand = seeded(seed);
        const full = pattern === 2 ? [1, w, c] : [1, w, c + (seed & 7)];
        const small = [full, [], [c]][pattern]!;
        const a = randomInt8(full, rand, quant(rand));
        const b = randomInt8(small, rand, quant(rand));
        const yScale = op === 'Mul' ? 0.0004 * (0.5 + rand()) : 0.04;
        expectBitExact({ op, inputs: swap ? [b, a] : [a, b], outQuant: perTensorQuant(Math.fround(yScale), Math.floor(rand() * 200) - 100) });
      }), { numRuns: 120 });
  });

  it('Add/Sub/Mul on periods that are not whole vectors: stretched to lcm(period, 16) (a channel vector of 72, say), or row by row past 4096 bytes (41 pixels of odd channels)', () => {
    fc.assert(fc.property(fc.integer({ min: 17, max: 90 }).filter((c) => c % 16 !== 0), fc.integer({ min: 1, max: 6 }), fc.constantFrom('Add', 'Sub', 'Mul'),
      fc.boolean(), fc.boolean(), fc.integer(), (c, w, op, swap, perPixel, seed) => {
        const rand = seeded(seed);
        const full = [1, w, perPixel ? 41 : 3, c];
        const a = randomInt8(full, rand, quant(rand));
        const b = randomInt8(perPixel ? [41, c] : [1, 1, 1, c], rand, quant(rand));
        const yScale = op === 'Mul' ? 0.0004 * (0.5 + rand()) : 0.04;
        expectBitExact({ op, inputs: swap ? [b, a] : [a, b], outQuant: perTensorQuant(Math.fround(yScale), Math.floor(rand() * 200) - 100), attrs: { activation: 'relu6' } });
      }), { numRuns: 100 });
  });

  it('Concat in a session (tensors in wasm memory): copies and requantizing tables give the reference bytes, any axis', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), fc.integer(), (h, axis, shared, seed) => {
      const rand = seeded(seed);
      const yq = quant(rand);
      const g = new Graph('concat', { format: 'cloudless' });
      const feeds: Record<string, Tensor> = {};
      const names = shared.map((same, k) => {
        const shape = [1, h + (axis === 1 ? k : 0), 3 + (axis === 2 ? k : 0), 5 + (axis === 3 ? 2 * k : 0)];
        const q = same ? yq : quant(rand);
        const name = `x${k}`;
        g.setValue({ name, dtype: 'int8', shape, quant: q });
        g.inputs.push(name);
        feeds[name] = randomInt8(shape, rand, q);
        return name;
      });
      g.setValue({ name: 'y', dtype: 'int8', quant: yq });
      g.addNode({ name: 'concat', op: 'Concat', inputs: names, outputs: ['y'], attrs: { axis } });
      g.outputs = ['y'];
      const wasm = new Session(g, { backend: 'auto' });
      const got = wasm.runSync(feeds).y!, want = new Session(g, { backend: 'ref' }).runSync(feeds).y!;
      expect(wasm.currentPlan!.steps.find((st) => st.node.op === 'Concat')!.kernel.backend).toBe('wasm');
      expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
      wasm.dispose();
    }), { numRuns: 60 });
  });

  it('Dequantize int8 → float32: the same float32 as the reference, per-tensor', () => {
    fc.assert(fc.property(dims, (d) => {
      const rand = seeded(d.seed);
      const x = randomInt8([d.n, d.h, d.w, d.c], rand, quant(rand, 0.001 + rand()));
      const run: NodeRun = { op: 'Dequantize', inputs: [x] };
      const ref = runWith(refKernel(run), run).data as Float32Array;
      const wasm = runWith(wasmKernel(wasmInt8OpKernels, run), run).data as Float32Array;
      expect(Array.from(wasm)).toEqual(Array.from(ref));
    }), { numRuns: 60 });
  });

  it('Resize nearest and bilinear over H and W: the reference kernel\'s taps and blends, both arithmetics, up and down', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 20 }), fc.constantFrom('nearest', 'linear'), fc.constantFrom('half_pixel', 'align_corners', 'asymmetric'), fc.integer(),
      (h, w, c, oh, ow, mode, ctm, seed) => {
        const rand = seeded(seed);
        const q = quant(rand);
        const x = randomInt8([1, h, w, c], rand, q);
        const sizes = Tensor.fromNumbers('int64', [4], [1, oh, ow, c]);
        const nearest_mode = ctm === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
        expectBitExact({ op: 'Resize', inputs: [x, undefined, undefined, sizes], attrs: { mode, coordinate_transformation_mode: ctm, nearest_mode }, outQuant: q });
      }), { numRuns: 120 });
  });

  it('int8 Add refuses broadcasts that are not a suffix', () => {
    const q = perTensorQuant(0.1, 0);
    const r: NodeRun = { op: 'Add', inputs: [new Tensor('int8', [2, 3, 4], undefined, q), new Tensor('int8', [2, 1, 4], undefined, q)], outQuant: q };
    expect(checkWith(wasmKernel(wasmInt8OpKernels, r), r)).toMatch(/broadcasting/);
  });

  it('Relu, Clip, LeakyRelu, HardSwish, Sigmoid, Tanh: the reference tables, looked up in wasm', () => {
    fc.assert(fc.property(dims, fc.constantFrom('Relu', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh', 'Clip'), (d, op) => {
      const rand = seeded(d.seed);
      const x = randomInt8([d.n, d.h, d.w, d.c], rand, quant(rand, 0.05));
      // TFLite's fixed-point Sigmoid/Tanh need these output quantizations (the reference arithmetic checks them).
      const outQuant = op === 'Sigmoid' ? perTensorQuant(1 / 256, -128) : op === 'Tanh' ? perTensorQuant(1 / 128, 0) : quant(rand, 0.05);
      const inputs: (Tensor | undefined)[] = [x];
      if (op === 'Clip') inputs.push(new Tensor('int8', [], Int8Array.of(-40), x.quant), new Tensor('int8', [], Int8Array.of(90), x.quant));
      expectBitExact({ op, inputs, outQuant, attrs: op === 'LeakyRelu' ? { alpha: 0.1 } : {} });
    }), { numRuns: 60 });
  });

  it('MaxPool and AveragePool: strides, dilations, padding, ceil mode, fused activation', () => {
    fc.assert(fc.property(dims, fc.constantFrom('MaxPool', 'AveragePool'), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.boolean(), (d, op, kh, kw, s, p, ceil, relu) => {
        const rand = seeded(d.seed);
        const h = d.h + 2 * kh, w = d.w + kw; // room for a window dilated 2× along H
        const q = quant(rand);
        const x = randomInt8([d.n, h, w, d.c], rand, q);
        const pads = [Math.min(p, kh - 1), Math.min(p, kw - 1), Math.min(p, kh - 1), Math.min(p, kw - 1)];
        const attrs: NodeRun['attrs'] = { kernel_shape: [kh, kw], strides: [s, s], pads, ceil_mode: ceil ? 1 : 0 };
        if (op === 'MaxPool' && d.seed % 2 === 0) attrs['dilations'] = [2, 1];
        if (relu) attrs['activation'] = 'relu';
        expectBitExact({ op, inputs: [x], attrs, outQuant: q });
      }), { numRuns: 100 });
  });

  it('ReduceMean over a block of axes (H,W of NHWC, last axis, all) and over split axes (the reference loop)', () => {
    fc.assert(fc.property(dims, fc.constantFrom([1, 2], [3], [0, 1, 2, 3], [1], [1, 3]), fc.boolean(), (d, axes, keep) => {
      const rand = seeded(d.seed);
      const x = randomInt8([d.n, d.h, d.w, d.c], rand, quant(rand));
      const r: NodeRun = {
        op: 'ReduceMean', inputs: [x, new Tensor('int64', [axes.length], BigInt64Array.from(axes.map(BigInt)))],
        attrs: { keepdims: keep ? 1 : 0 }, outQuant: quant(rand, 0.01),
      };
      expectBitExact(r);
      // One quantization on both sides: TFLM's truncating integer mean in tflite-reference.
      expectBitExact({ ...r, outQuant: x.quant });
    }), { numRuns: 100 });
  });

  it('Transpose: any permutation of up to rank 5 that simplifies to four axes, float32 and int8, exact', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }), fc.integer(), fc.boolean(), (shape, seed, f32) => {
      const rand = seeded(seed);
      const perm = shape.map((_, i) => i).sort(() => rand() - 0.5);
      const x = f32 ? randomF32(shape, rand, 5) : randomInt8(shape, rand);
      const r: NodeRun = { op: 'Transpose', inputs: [x], attrs: { perm } };
      const k = wasmKernel(wasmInt8OpKernels, r);
      const ref = runWith(refKernel(r), r);
      if (checkWith(k, r)) return;
      expect([...runWith(k, r).data as Float32Array]).toEqual([...ref.data as Float32Array]);
    }), { numRuns: 150 });
  });

  it('Transpose: NCHW → NHWC and back in 4×4 tiles with odd edges', () => {
    for (const [shape, perm] of [[[1, 5, 9, 7], [0, 2, 3, 1]], [[2, 9, 7, 6], [0, 3, 1, 2]], [[3, 13], [1, 0]]] as const) {
      const x = randomF32([...shape], seeded(shape[1]), 3);
      const r: NodeRun = { op: 'Transpose', inputs: [x], attrs: { perm: [...perm] } };
      expect([...runWith(wasmKernel(wasmInt8OpKernels, r), r).data as Float32Array]).toEqual([...runWith(refKernel(r), r).data as Float32Array]);
    }
  });
});

/**
 * The float32 memory-bound wasm kernels (Add/Sub/Mul, Relu/Clip/HardSwish,
 * MaxPool/AveragePool, Resize) against the reference kernels on random odd
 * shapes.
 *
 * Tolerances: Add/Sub/Mul, Relu, Clip and MaxPool must be bit-identical (one
 * float32 rounding, or no arithmetic at all). HardSwish rounds x/6 + 1/2 and
 * the product in float32: 3 ulp of |x|. AveragePool sums n taps in float32:
 * (n + 2) · 2^-24 · mean|x|. Resize sums at most 4 taps with weights in
 * [0, 1] that add to 1: 8 · 2^-24 · max|x| of the image.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, type Node } from '../../../src/ir/index.js';
import { wasmFloatOpKernels } from '../../../src/kernels/wasm/ops.js';
import { wasmAvailable } from '../../../src/kernels/wasm/heap.js';
import { absTensor, checkWith, randomF32, refKernel, runWith, seeded, wasmKernel, type NodeRun } from './helpers.js';

function both(r: NodeRun): { wasm: Float32Array; ref: Float32Array } {
  const ref = runWith(refKernel(r), r);
  const wasm = runWith(wasmKernel(wasmFloatOpKernels, r), r);
  expect([...wasm.shape]).toEqual([...ref.shape]);
  expect(wasm.data.length).toBe(ref.data.length);
  return { wasm: wasm.data as Float32Array, ref: ref.data as Float32Array };
}

function expectClose(r: NodeRun, tol: (i: number, ref: number) => number): void {
  const { wasm, ref } = both(r);
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(wasm[i]! - ref[i]!) <= tol(i, ref[i]!))) {
      throw new Error(`${r.op} element ${i}: wasm ${wasm[i]} vs ref ${ref[i]} shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')} attrs ${JSON.stringify(r.attrs)}`);
    }
  }
}

const dims = fc.record({
  n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 21 }),
  seed: fc.integer(),
});

describe.skipIf(!wasmAvailable())('wasm float32 elementwise kernels', () => {
  it('Add/Sub/Mul: same shape, scalar, channel vector and trailing block, either side — bit-identical', () => {
    fc.assert(fc.property(dims, fc.constantFrom('Add', 'Sub', 'Mul'), fc.integer({ min: 0, max: 5 }), fc.boolean(), (d, op, pattern, swap) => {
      const rand = seeded(d.seed);
      const full = [d.n, d.h, d.w, d.c];
      const small = [full, [], [1], [d.c], [1, 1, 1, d.c], [d.w, d.c]][pattern]!;
      const a = randomF32(full, rand, 3), b = randomF32(small, rand, 3);
      const r: NodeRun = { op, inputs: swap ? [b, a] : [a, b] };
      const { wasm, ref } = both(r);
      expect(wasm).toEqual(ref);
    }), { numRuns: 120 });
  });

  it('Add refuses broadcasts that are not a suffix (falls back to ref)', () => {
    const r: NodeRun = { op: 'Add', inputs: [new Tensor('float32', [2, 3, 4]), new Tensor('float32', [2, 1, 4])] };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, r), r)).toMatch(/broadcasting/);
  });

  it('Relu and Clip (bounds absent, ordinary, crossed) — bit-identical, NaN passes', () => {
    fc.assert(fc.property(dims, fc.constantFrom('Relu', 'Clip'), fc.integer({ min: 0, max: 3 }), (d, op, bounds) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), 8);
      (x.data as Float32Array)[0] = NaN;
      const s = (v: number) => new Tensor('float32', [], new Float32Array([v]));
      const inputs = op === 'Relu' ? [x] : [[x], [x, s(-1)], [x, s(0), s(6)], [x, s(2), s(-3)]][bounds]!;
      const { wasm, ref } = both({ op, inputs });
      expect(wasm).toEqual(ref);
    }), { numRuns: 60 });
  });

  it('BatchNormalization with constant statistics within 4 · 2^-24 · (|x·mul| + |add| + |y|) of the float64 reference', () => {
    fc.assert(fc.property(dims, (d) => {
      const rand = seeded(d.seed);
      const x = randomF32([d.n, d.h, d.w, d.c], rand, 8);
      const scale = randomF32([d.c], rand, 2), bias = randomF32([d.c], rand, 1), mean = randomF32([d.c], rand, 3);
      const variance = new Tensor('float32', [d.c], Float32Array.from({ length: d.c }, () => 0.01 + rand() * 4));
      const eps = 1e-5;
      const xs = x.data as Float32Array;
      const mul = (ch: number) => (scale.data[ch] as number) / Math.sqrt((variance.data[ch] as number) + Math.fround(eps));
      expectClose({ op: 'BatchNormalization', inputs: [x, scale, bias, mean, variance], attrs: { epsilon: eps } }, (i, ref) => {
        const ch = i % d.c, m = mul(ch), a = (bias.data[ch] as number) - (mean.data[ch] as number) * m;
        return 4 * 2 ** -24 * (Math.abs(xs[i]! * m) + Math.abs(a) + Math.abs(ref)) + 1e-30;
      });
    }), { numRuns: 40 });
  });

  it('HardSwish within 3 ulp of |x|', () => {
    fc.assert(fc.property(dims, (d) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), 8);
      const xs = x.data as Float32Array;
      expectClose({ op: 'HardSwish', inputs: [x] }, (i) => 3 * 2 ** -24 * Math.abs(xs[i]!) + 1e-30);
    }), { numRuns: 40 });
  });
});

/** One pooled axis: pads below the (dilated) window, at least one output. */
const axis = fc.record({
  size: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 4 }), s: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 2 }), pb: fc.integer({ min: 0, max: 2 }), pe: fc.integer({ min: 0, max: 2 }),
}).filter((a) => a.size + a.pb + a.pe >= (a.k - 1) * a.d + 1 && a.pb < a.k && a.pe < a.k);

describe.skipIf(!wasmAvailable())('wasm float32 pools', () => {
  it('MaxPool bit-identical (NaN, signed zeros), AveragePool within (taps + 2) · 2^-24 · mean|x|', () => {
    fc.assert(fc.property(
      fc.record({
        n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 37 }), h: axis, w: axis, oneD: fc.boolean(),
        op: fc.constantFrom('MaxPool', 'AveragePool'), ceil: fc.boolean(), countPad: fc.boolean(),
        activation: fc.constantFrom('none', 'relu', 'relu6'), seed: fc.integer(),
      }),
      (p) => {
        const ax = p.oneD ? [p.w] : [p.h, p.w];
        const attrs: Node['attrs'] = {
          kernel_shape: ax.map((a) => a.k), strides: ax.map((a) => a.s), dilations: ax.map((a) => a.d),
          pads: [...ax.map((a) => a.pb), ...ax.map((a) => a.pe)], ceil_mode: p.ceil ? 1 : 0, activation: p.activation,
          ...(p.op === 'AveragePool' ? { count_include_pad: p.countPad ? 1 : 0 } : {}),
        };
        const x = randomF32([p.n, ...ax.map((a) => a.size), p.c], seeded(p.seed), 4);
        const r: NodeRun = { op: p.op, inputs: [x], attrs };
        if (p.op === 'MaxPool') {
          // Now and then a NaN (which the reference keeps) and signed zeros (whose order it keeps).
          const d = x.data as Float32Array;
          if (p.seed % 3 === 0) d[Math.abs(p.seed) % d.length] = NaN;
          if (p.seed % 4 === 0) for (let i = 1; i < d.length; i += 5) d[i] = i % 2 ? -0 : 0;
          const { wasm, ref } = both(r);
          expect(wasm).toEqual(ref);
          return;
        }
        const taps = ax.reduce((m, a) => m * a.k, 1);
        const absRun: NodeRun = { ...r, inputs: [absTensor(x)], attrs: { ...attrs, activation: 'none' } };
        const mean = runWith(refKernel(absRun), absRun).data as Float32Array;
        expectClose(r, (i) => (taps + 2) * 2 ** -24 * mean[i]! + 1e-30);
      },
    ), { numRuns: 150 });
  });
});

describe.skipIf(!wasmAvailable())('wasm float32 Resize', () => {
  it('nearest and linear over H and W, every coordinate mode, within 8 · 2^-24 · max|x|', () => {
    fc.assert(fc.property(
      fc.record({
        n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 11 }),
        h: fc.integer({ min: 1, max: 8 }), w: fc.integer({ min: 1, max: 8 }),
        oh: fc.integer({ min: 1, max: 17 }), ow: fc.integer({ min: 1, max: 17 }),
        mode: fc.constantFrom('nearest', 'linear'),
        transform: fc.constantFrom('half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', 'half_pixel_symmetric'),
        nearest: fc.constantFrom('round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'),
        seed: fc.integer(),
      }),
      (p) => {
        const x = randomF32([p.n, p.h, p.w, p.c], seeded(p.seed), 4);
        const sizes = new Tensor('int64', [4], BigInt64Array.from([p.n, p.oh, p.ow, p.c].map(BigInt)));
        const r: NodeRun = {
          op: 'Resize', inputs: [x, undefined, undefined, sizes],
          attrs: { mode: p.mode, coordinate_transformation_mode: p.transform, nearest_mode: p.nearest },
        };
        let max = 0;
        for (const v of x.data as Float32Array) max = Math.max(max, Math.abs(v));
        expectClose(r, () => 8 * 2 ** -24 * max);
      },
    ), { numRuns: 120 });
  });

  it('refuses cubic and resizing the channel axis', () => {
    const x = new Tensor('float32', [1, 4, 4, 3]);
    const sizes = (s: number[]) => new Tensor('int64', [4], BigInt64Array.from(s.map(BigInt)));
    const cubic: NodeRun = { op: 'Resize', inputs: [x, undefined, undefined, sizes([1, 8, 8, 3])], attrs: { mode: 'cubic' } };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, cubic), cubic)).toMatch(/cubic/);
    const channels: NodeRun = { op: 'Resize', inputs: [x, undefined, undefined, sizes([1, 4, 4, 6])], attrs: { mode: 'nearest' } };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, channels), channels)).toMatch(/H and W/);
  });
});

describe.skipIf(!wasmAvailable())('wasm float32 Div, Sigmoid, HardSigmoid, ReduceMean/ReduceSum', () => {
  it('Div: same shape, scalar, channel vector and trailing block, either side — bit-identical', () => {
    fc.assert(fc.property(dims, fc.integer({ min: 0, max: 5 }), fc.boolean(), (d, pattern, swap) => {
      const rand = seeded(d.seed);
      const full = [d.n, d.h, d.w, d.c];
      const small = [full, [], [1], [d.c], [1, 1, 1, d.c], [d.w, d.c]][pattern]!;
      const a = randomF32(full, rand, 3), b = randomF32(small, rand, 3);
      const { wasm, ref } = both({ op: 'Div', inputs: swap ? [b, a] : [a, b] });
      expect(wasm).toEqual(ref);
    }), { numRuns: 80 });
  });

  it('Sigmoid within 6 ulp of the result (or 2^-126 near underflow), ±Inf and NaN exact', () => {
    fc.assert(fc.property(dims, fc.constantFrom(1, 8, 30, 120), (d, scale) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), scale);
      const xs = x.data as Float32Array;
      xs[0] = NaN;
      if (xs.length > 2) { xs[1] = Infinity; xs[2] = -Infinity; }
      const { wasm, ref } = both({ op: 'Sigmoid', inputs: [x] });
      for (let i = 0; i < ref.length; i++) {
        const ok = Number.isNaN(ref[i]!) ? Number.isNaN(wasm[i]!) : Math.abs(wasm[i]! - ref[i]!) <= 6 * 2 ** -24 * ref[i]! + 2 ** -126;
        if (!ok) throw new Error(`Sigmoid(${xs[i]}): wasm ${wasm[i]} vs ref ${ref[i]}`);
      }
    }), { numRuns: 60 });
  });

  it('HardSigmoid with random alpha and beta — bit-identical', () => {
    fc.assert(fc.property(dims, fc.float({ min: -2, max: 2, noNaN: true }), fc.float({ min: -1, max: 2, noNaN: true }), (d, alpha, beta) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), 8);
      const { wasm, ref } = both({ op: 'HardSigmoid', inputs: [x], attrs: { alpha, beta } });
      expect(wasm).toEqual(ref);
    }), { numRuns: 60 });
  });

  it('ReduceMean and ReduceSum over a contiguous block of axes, keepdims — bit-identical', () => {
    fc.assert(fc.property(dims, fc.constantFrom('ReduceMean', 'ReduceSum'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (d, op, i, j) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), 5);
      const first = Math.min(i, j), last = Math.max(i, j);
      const axes = Array.from({ length: last - first + 1 }, (_, k) => first + k);
      const axesT = new Tensor('int64', [axes.length], BigInt64Array.from(axes.map(BigInt)));
      const { wasm, ref } = both({ op, inputs: [x, axesT] });
      expect(wasm).toEqual(ref);
    }), { numRuns: 80 });
  });

  it('ReduceMean refuses keepdims = 0 and reduced axes with a kept axis between them', () => {
    const x = new Tensor('float32', [2, 3, 4, 5]);
    const axes = (v: number[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
    const noKeep: NodeRun = { op: 'ReduceMean', inputs: [x, axes([1, 2])], attrs: { keepdims: 0 } };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, noKeep), noKeep)).toMatch(/keepdims/);
    const split: NodeRun = { op: 'ReduceMean', inputs: [x, axes([1, 3])] };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, split), split)).toMatch(/contiguous/);
  });
});

describe.skipIf(!wasmAvailable())('wasm float32 Concat', () => {
  it('any axis (negative too), 1 to 3 inputs of different extents — identical to the reference', () => {
    fc.assert(fc.property(dims, fc.integer({ min: -4, max: 3 }), fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }), (d, axis, extents) => {
      const rand = seeded(d.seed);
      const a = axis < 0 ? axis + 4 : axis;
      const inputs = extents.map((e) => {
        const shape = [d.n, d.h, d.w, d.c];
        shape[a] = e;
        return randomF32(shape, rand, 4);
      });
      const { wasm, ref } = both({ op: 'Concat', inputs, attrs: { axis } });
      expect(wasm).toEqual(ref);
    }), { numRuns: 80 });
  });
});

describe.skipIf(!wasmAvailable())('wasm float32 Softmax', () => {
  // x − max rounds in float32, which exp turns into a relative error of |x − max| · 2^-24.
  it('last axis within (n + 8 + |x − max|) · 2^-24 relative (float32 sum of n terms, polynomial exp), NaN rows NaN', () => {
    fc.assert(fc.property(dims, fc.constantFrom(1, 4, 30), fc.boolean(), fc.boolean(), (d, scale, negAxis, nan) => {
      const x = randomF32([d.n, d.h, d.w, d.c], seeded(d.seed), scale);
      if (nan) (x.data as Float32Array)[0] = NaN;
      const r: NodeRun = { op: 'Softmax', inputs: [x], attrs: { axis: negAxis ? -1 : 3 } };
      const { wasm, ref } = both(r);
      const xs = x.data as Float32Array;
      for (let i = 0; i < ref.length; i++) {
        const row = xs.subarray(i - (i % d.c), i - (i % d.c) + d.c);
        const spread = Math.max(...row) - xs[i]!;
        const ok = Number.isNaN(ref[i]!) ? Number.isNaN(wasm[i]!) : Math.abs(wasm[i]! - ref[i]!) <= (d.c + 8 + spread) * 2 ** -24 * ref[i]! + 2 ** -126;
        if (!ok) throw new Error(`Softmax element ${i}: wasm ${wasm[i]} vs ref ${ref[i]} (C = ${d.c})`);
      }
    }), { numRuns: 60 });
  });

  it('refuses an axis other than the last', () => {
    const r: NodeRun = { op: 'Softmax', inputs: [new Tensor('float32', [2, 3, 4])], attrs: { axis: 1 } };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, r), r)).toMatch(/last axis/);
  });
});

describe.skipIf(!wasmAvailable())('wasm Equal (float32) and Cast (bool → float32)', () => {
  it('Equal of same-shape inputs with shared values and NaN, then Cast of the mask — identical to the reference', () => {
    fc.assert(fc.property(dims, (d) => {
      const rand = seeded(d.seed);
      const a = randomF32([d.n, d.h, d.w, d.c], rand, 2);
      const b = randomF32([d.n, d.h, d.w, d.c], rand, 2);
      const ad = a.data as Float32Array, bd = b.data as Float32Array;
      for (let i = 0; i < ad.length; i += 2) bd[i] = ad[i]!;
      ad[0] = NaN; bd[0] = NaN;
      const r: NodeRun = { op: 'Equal', inputs: [a, b] };
      const ref = runWith(refKernel(r), r);
      const wasm = runWith(wasmKernel(wasmFloatOpKernels, r), r);
      expect(wasm.dtype).toBe('bool');
      expect([...wasm.data]).toEqual([...ref.data]);
      const cast: NodeRun = { op: 'Cast', inputs: [wasm], attrs: { to: 'float32' } };
      const castWasm = runWith(wasmKernel(wasmFloatOpKernels, cast), cast);
      expect([...castWasm.data]).toEqual([...runWith(refKernel(cast), cast).data]);
    }), { numRuns: 40 });
  });

  it('Equal refuses broadcasting, Cast refuses other dtypes', () => {
    const r: NodeRun = { op: 'Equal', inputs: [new Tensor('float32', [2, 3]), new Tensor('float32', [3])] };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, r), r)).toMatch(/same-shape/);
    const c: NodeRun = { op: 'Cast', inputs: [new Tensor('bool', [2])], attrs: { to: 'int32' } };
    expect(checkWith(wasmKernel(wasmFloatOpKernels, c), c)).toMatch(/bool to float32/);
  });
});

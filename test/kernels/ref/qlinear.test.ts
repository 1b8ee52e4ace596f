import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { qlinearKernels } from '../../../src/kernels/ref/qlinear.js';
import { defaultRegistry, runOp } from '../../../src/runtime/index.js';

if (defaultRegistry.candidates('ref', 'QLinearConv').length === 0) defaultRegistry.registerAll(qlinearKernels);

const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers('float32', shape, v);
const u8 = (shape: number[], v: number[]) => Tensor.fromNumbers('uint8', shape, v);
const i8 = (shape: number[], v: number[]) => Tensor.fromNumbers('int8', shape, v);
const scalar = (dtype: 'float32' | 'uint8' | 'int8', v: number) => Tensor.fromNumbers(dtype, [], [v]);

/** Deterministic integers in [lo, hi]. */
function ints(n: number, lo: number, hi: number, seed: number): number[] {
  let a = seed;
  return Array.from({ length: n }, () => { a = (a * 1103515245 + 12345) % 2147483648; return lo + (a % (hi - lo + 1)); });
}

describe('QuantizeLinear / DequantizeLinear', () => {
  it('rounds x / s half to even, adds the zero point and saturates', () => {
    const x = f32([7], [0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000]);
    expect(runOp('QuantizeLinear', [x, scalar('float32', 1), scalar('uint8', 10)])[0]!.toNumbers()).toEqual([10, 12, 12, 10, 8, 255, 0]);
    expect(runOp('QuantizeLinear', [x, scalar('float32', 1), scalar('int8', 0)])[0]!.toNumbers()).toEqual([0, 2, 2, 0, -2, 127, -128]);
    // Without a zero point the output is uint8.
    expect(runOp('QuantizeLinear', [x, scalar('float32', 0.5)])[0]!.dtype).toBe('uint8');
  });

  it('uses one scale and zero point per slice along `axis`', () => {
    const x = f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const q = runOp('QuantizeLinear', [x, f32([2], [1, 2]), u8([2], [0, 100])], { axis: 1 })[0]!;
    expect(q.toNumbers()).toEqual([1, 2, 102, 102, 5, 6, 104, 104]);
    const d = runOp('DequantizeLinear', [q, f32([2], [1, 2]), u8([2], [0, 100])], { axis: 1 })[0]!;
    expect(d.toNumbers()).toEqual([1, 2, 4, 4, 5, 6, 8, 8]);
  });

  it('refuses a scale count that does not match the axis', () => {
    expect(() => runOp('DequantizeLinear', [u8([2, 3], [0, 0, 0, 0, 0, 0]), f32([2], [1, 1])], { axis: 1 })).toThrow(/2 scales do not match axis 1/);
  });

  it('DynamicQuantizeLinear maps [min(0, x), max(0, x)] onto 0..255', () => {
    const [y, s, z] = runOp('DynamicQuantizeLinear', [f32([4], [-1, 0, 1, 2.5])], {}, 3);
    expect(s!.toNumbers()[0]).toBeCloseTo(3.5 / 255, 7);
    expect(z!.toNumbers()).toEqual([73]); // rne(1 / (3.5 / 255)) = rne(72.857)
    expect(y!.toNumbers()).toEqual([0, 73, 146, 255]);
  });
});

describe('integer products', () => {
  it('MatMulInteger sums (a − za)(b − zb) exactly into int32, per-column zero points included', () => {
    const a = u8([2, 3], [10, 20, 30, 40, 50, 60]);
    const b = u8([3, 2], [1, 2, 3, 4, 5, 6]);
    const y = runOp('MatMulInteger', [a, b, scalar('uint8', 10), u8([2], [1, 2])])[0]!;
    // a − 10 = [[0, 10, 20], [30, 40, 50]]; b − [1, 2] = [[0, 0], [2, 2], [4, 4]].
    expect(y.dtype).toBe('int32');
    expect(y.toNumbers()).toEqual([100, 100, 280, 280]);
  });

  it('QLinearMatMul equals dequantize → matmul → quantize within one step', () => {
    const M = 3, K = 5, N = 4;
    const a = u8([M, K], ints(M * K, 0, 255, 1)), b = i8([K, N], ints(K * N, -128, 127, 2));
    const [as, az, bs, bz, ys, yz] = [0.02, 120, 0.01, 3, 0.5, 128];
    const y = runOp('QLinearMatMul', [a, scalar('float32', as), scalar('uint8', az), b, scalar('float32', bs), scalar('int8', bz), scalar('float32', ys), scalar('uint8', yz)])[0]!;
    const av = a.toNumbers(), bv = b.toNumbers();
    y.toNumbers().forEach((q, i) => {
      const r = Math.floor(i / N), c = i % N;
      let real = 0;
      for (let k = 0; k < K; k++) real += as * (av[r * K + k]! - az) * bs * (bv[k * N + c]! - bz);
      const want = Math.min(255, Math.max(0, Math.round(real / ys) + yz));
      expect(Math.abs(q - want)).toBeLessThanOrEqual(1);
    });
    expect(new Set(y.toNumbers()).size).toBeGreaterThan(4);
  });
});

describe('integer convolutions (NHWC, OHWI)', () => {
  it('ConvInteger computes the exact sums with padding and a zero point', () => {
    // 1x3x3x1 input, 1x2x2x1 weight, pads 1 on the left and top.
    const x = u8([1, 3, 3, 1], [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const w = u8([1, 2, 2, 1], [1, 1, 1, 1]);
    const y = runOp('ConvInteger', [x, w, scalar('uint8', 1)], { pads: [1, 1, 0, 0] })[0]!;
    expect(y.shape).toEqual([1, 3, 3, 1]);
    // x − 1 = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]; each output sums the 2x2 window ending at it.
    expect(y.toNumbers()).toEqual([1, 3, 5, 5, 12, 16, 11, 24, 28]);
  });

  it('QLinearConv with per-channel weight scales and groups equals the float conv of dequantized values within one step', () => {
    const N = 1, H = 4, W = 4, Cin = 4, Cout = 4, group = 2, K = 3;
    const x = u8([N, H, W, Cin], ints(N * H * W * Cin, 0, 255, 3));
    const w = i8([Cout, K, K, Cin / group], ints(Cout * K * K * (Cin / group), -127, 127, 4));
    const wScales = f32([Cout], [0.01, 0.02, 0.005, 0.03]);
    const bias = Tensor.fromNumbers('int32', [Cout], [100, -200, 0, 50]);
    const [xs, xz, ys, yz] = [0.03, 128, 0.2, 100];
    const y = runOp('QLinearConv', [x, scalar('float32', xs), scalar('uint8', xz), w, wScales, i8([Cout], [0, 0, 0, 0]), scalar('float32', ys), scalar('uint8', yz), bias],
      { group, pads: [1, 1, 1, 1] })[0]!;
    expect(y.shape).toEqual([N, H, W, Cout]);
    const xv = x.toNumbers(), wv = w.toNumbers(), ws = wScales.toNumbers();
    const cg = Cin / group, og = Cout / group;
    let checked = 0;
    y.toNumbers().forEach((q, i) => {
      const oc = i % Cout, ox = Math.floor(i / Cout) % W, oy = Math.floor(i / (Cout * W));
      let real = bias.toNumbers()[oc]! * xs * ws[oc]!;
      for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) {
        const iy = oy - 1 + ky, ix = ox - 1 + kx;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
        for (let c = 0; c < cg; c++) {
          const ci = Math.floor(oc / og) * cg + c;
          real += xs * (xv[(iy * W + ix) * Cin + ci]! - xz) * ws[oc]! * wv[((oc * K + ky) * K + kx) * cg + c]!;
        }
      }
      const want = Math.min(255, Math.max(0, Math.round(real / ys) + yz));
      expect(Math.abs(q - want)).toBeLessThanOrEqual(1);
      checked++;
    });
    expect(checked).toBe(N * H * W * Cout);
    // Not saturated: the comparison covers a real spread of outputs.
    expect(new Set(y.toNumbers()).size).toBeGreaterThan(10);
  });
});

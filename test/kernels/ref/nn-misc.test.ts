import { describe, expect, it } from 'vitest';
import { Tensor, sizeOf } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { expectClose, flatIndex, indices, randomArray, rng, tensor, transpose } from './nn-helpers.js';

const i64 = (v: number[]) => Tensor.fromNumbers('int64', [v.length], v);
const f32 = (v: number[]) => tensor([v.length], v);

describe('Gemm', () => {
  const rand = rng(1);
  const a = randomArray(12, rand), b = randomArray(20, rand), c = randomArray(5, rand);
  function gemmRef(ta: boolean, tb: boolean, alpha: number, beta: number, cv: (i: number, j: number) => number): number[] {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += (ta ? a[k * 3 + i]! : a[i * 4 + k]!) * (tb ? b[j * 4 + k]! : b[k * 5 + j]!);
        out.push(alpha * s + beta * cv(i, j));
      }
    }
    return out;
  }

  it('handles transposes, alpha, beta and a broadcast C', () => {
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([4, 5], b)])[0]!, [3, 5], gemmRef(false, false, 1, 0, () => 0));
    expectClose(runOp('Gemm', [tensor([4, 3], a), tensor([5, 4], b), tensor([5], c)], { transA: 1, transB: 1, alpha: 0.5, beta: 2 })[0]!,
      [3, 5], gemmRef(true, true, 0.5, 2, (_i, j) => c[j]!));
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([4, 5], b), tensor([3, 1], c.slice(0, 3))])[0]!, [3, 5], gemmRef(false, false, 1, 1, (i) => c[i]!));
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([4, 5], b), tensor([], [0.25])])[0]!, [3, 5], gemmRef(false, false, 1, 1, () => 0.25));
    // transB alone is a fully connected layer (row-by-row dot products), with or without a bias row.
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([5, 4], b), tensor([5], c)], { transB: 1 })[0]!, [3, 5], gemmRef(false, true, 1, 1, (_i, j) => c[j]!));
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([5, 4], b), tensor([1], [0.5])], { transB: 1 })[0]!, [3, 5], gemmRef(false, true, 1, 1, () => 0.5));
    expectClose(runOp('Gemm', [tensor([3, 4], a), tensor([5, 4], b)], { transB: 1, alpha: 3 })[0]!, [3, 5], gemmRef(false, true, 3, 0, () => 0));
  });

  it('names the node when K differs or C does not broadcast', () => {
    expect(() => runOp('Gemm', [tensor([3, 4], a), tensor([5, 4], b)])).toThrow(/Gemm_test.*inner dimensions/);
    expect(() => runOp('Gemm', [tensor([3, 4], a), tensor([4, 5], b), tensor([2], [1, 2])])).toThrow(/Gemm_test/);
  });
});

describe('MatMul', () => {
  const rand = rng(2);
  function matmulRef(x: number[], xs: number[], y: number[], ys: number[]): number[] {
    const [m, k] = xs.slice(-2) as [number, number];
    const n = ys[ys.length - 1]!;
    const batch = xs.length > 2 ? xs.slice(0, -2).map((d, i) => Math.max(d, ys[i]!)) : [];
    const out: number[] = [];
    for (const bi of indices(batch)) {
      const xb = bi.map((v, i) => (xs[i] === 1 ? 0 : v));
      const yb = bi.map((v, i) => (ys[i] === 1 ? 0 : v));
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += x[flatIndex([...xb, i, p], xs)]! * y[flatIndex([...yb, p, j], ys)]!;
          out.push(s);
        }
      }
    }
    return out;
  }

  it('broadcasts batch axes', () => {
    const x = randomArray(2 * 1 * 3 * 4, rand), y = randomArray(1 * 3 * 4 * 2, rand);
    const want = matmulRef(x, [2, 1, 3, 4], y, [1, 3, 4, 2]);
    expectClose(runOp('MatMul', [tensor([2, 1, 3, 4], x), tensor([1, 3, 4, 2], y)])[0]!, [2, 3, 3, 2], want);
    // Rank 2 against rank 3: the missing batch axis broadcasts.
    const want2 = matmulRef(x.slice(0, 12), [1, 3, 4], y.slice(0, 24), [3, 4, 2]);
    expectClose(runOp('MatMul', [tensor([3, 4], x.slice(0, 12)), tensor([3, 4, 2], y.slice(0, 24))])[0]!, [3, 3, 2], want2);
  });

  it('promotes 1-D operands and drops the promoted axis', () => {
    const v = [1, 2, 3];
    const m = [1, 0, 2, -1, 0.5, 3];
    expectClose(runOp('MatMul', [f32(v), tensor([3, 2], m)])[0]!, [2], [1 * 1 + 2 * 2 + 3 * 0.5, 0 - 2 + 9]);
    expectClose(runOp('MatMul', [tensor([2, 3], m), f32(v)])[0]!, [2], [1 + 0 + 6, -1 + 1 + 9]);
    expectClose(runOp('MatMul', [f32(v), f32(v)], {}, 1)[0]!, [], [14]);
    expect(() => runOp('MatMul', [tensor([2, 3], m), tensor([2, 3], m)])).toThrow(/MatMul_test.*inner dimensions/);
  });

  it('runs in float64', () => {
    const x = randomArray(6, rand), y = randomArray(6, rand);
    const [out] = runOp('MatMul', [tensor([2, 3], x, 'float64'), tensor([3, 2], y, 'float64')]);
    expect(out!.dtype).toBe('float64');
    expectClose(out!, [2, 2], matmulRef(x, [2, 3], y, [3, 2]), 1e-12);
  });
});

describe('BatchNormalization / InstanceNormalization (channels-last)', () => {
  it('normalizes the last axis with the running statistics', () => {
    const x = tensor([1, 2, 2], [1, 10, 3, 20]);
    const [y] = runOp('BatchNormalization', [x, f32([2, 1]), f32([0.5, -1]), f32([2, 15]), f32([4, 25])], { epsilon: 0 });
    expectClose(y!, [1, 2, 2], [(1 - 2) / 2 * 2 + 0.5, (10 - 15) / 5 - 1, (3 - 2) / 2 * 2 + 0.5, (20 - 15) / 5 - 1]);
    expect(() => runOp('BatchNormalization', [x, f32([1]), f32([0, 0]), f32([0, 0]), f32([1, 1])])).toThrow(/BatchNormalization_test.*input 1/);
  });

  it('normalizes each (batch, channel) over the spatial axes', () => {
    const rand = rng(3);
    const xs = [2, 3, 4, 2];
    const x = randomArray(sizeOf(xs), rand, -3, 5);
    const scale = [1, 0.5, 2], bias = [0, 1, -1];
    const want = new Array<number>(x.length);
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 2; c++) {
        const idx = Array.from({ length: 12 }, (_, p) => (n * 12 + p) * 2 + c);
        const mean = idx.reduce((s, i) => s + x[i]!, 0) / 12;
        const v = idx.reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / 12;
        for (const i of idx) want[i] = (x[i]! - mean) / Math.sqrt(v + 1e-3) * scale[c]! + bias[c]!;
      }
    }
    const [y] = runOp('InstanceNormalization', [tensor(xs, x), f32(scale.slice(0, 2)), f32(bias.slice(0, 2))], { epsilon: 1e-3 });
    expectClose(y!, xs, want);
  });
});

describe('LayerNormalization', () => {
  it('normalizes from `axis` on and returns Mean and InvStdDev', () => {
    const rand = rng(4);
    const xs = [2, 3, 4];
    const x = randomArray(24, rand, -2, 2);
    const scale = randomArray(12, rand), bias = randomArray(4, rand);
    const want: number[] = [], means: number[] = [], invs: number[] = [];
    for (let r = 0; r < 2; r++) {
      const row = x.slice(r * 12, r * 12 + 12);
      const mean = row.reduce((s, v) => s + v, 0) / 12;
      const inv = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / 12 + 1e-5);
      row.forEach((v, j) => want.push((v - mean) * inv * scale[j]! + bias[j % 4]!));
      means.push(mean);
      invs.push(inv);
    }
    const [y, mean, inv] = runOp('LayerNormalization', [tensor(xs, x), tensor([3, 4], scale), tensor([4], bias)], { axis: 1 }, 3);
    expectClose(y!, xs, want);
    expectClose(mean!, [2, 1, 1], means);
    expectClose(inv!, [2, 1, 1], invs);
  });

  it('defaults to the last axis and rejects a Scale that does not broadcast', () => {
    const [y] = runOp('LayerNormalization', [tensor([1, 2], [1, 3]), f32([1, 1])]);
    expectClose(y!, [1, 2], [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)]);
    expect(() => runOp('LayerNormalization', [tensor([1, 2], [1, 3]), f32([1, 1, 1])])).toThrow(/LayerNormalization_test.*Scale/);
  });
});

describe('Pad', () => {
  const x = tensor([2, 3], [1, 2, 3, 4, 5, 6]);

  it('pads with a constant, edge, reflect and wrap', () => {
    expectClose(runOp('Pad', [x, i64([1, 2, 0, 1]), f32([9])])[0]!, [3, 6],
      [9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9]);
    expectClose(runOp('Pad', [x, i64([0, 2, 0, 1])], { mode: 'edge' })[0]!, [2, 6], [1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6]);
    expectClose(runOp('Pad', [x, i64([0, 2, 0, 1])], { mode: 'reflect' })[0]!, [2, 6], [3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]);
    expectClose(runOp('Pad', [x, i64([1, 2, 0, 1])], { mode: 'wrap' })[0]!, [3, 6],
      [5, 6, 4, 5, 6, 4, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4]);
  });

  it('reflects pads longer than the axis, crops with negative pads, and takes axes', () => {
    const row = tensor([1, 3], [1, 2, 3]);
    // Reflect period 4 over 1 2 3 2 | 1 2 3 2 ...
    expectClose(runOp('Pad', [row, i64([0, 5, 0, 0])], { mode: 'reflect' })[0]!, [1, 8], [2, 1, 2, 3, 2, 1, 2, 3]);
    expectClose(runOp('Pad', [x, i64([0, -1, 0, 1])])[0]!, [2, 3], [2, 3, 0, 5, 6, 0]);
    expectClose(runOp('Pad', [x, Tensor.fromNumbers('int32', [2], [1, 1]), undefined, i64([-1])])[0]!, [2, 5], [0, 1, 2, 3, 0, 0, 4, 5, 6, 0]);
  });

  it('moves any dtype, including int64', () => {
    const big = Tensor.fromNumbers('int64', [2], [7, 8]);
    const [y] = runOp('Pad', [big, i64([1, 1]), Tensor.fromNumbers('int64', [], [-1])]);
    expect(y!.dtype).toBe('int64');
    expect(y!.toNumbers()).toEqual([-1, 7, 8, -1]);
  });

  it('names the node when pads do not fit', () => {
    expect(() => runOp('Pad', [x, i64([1, 2])])).toThrow(/Pad_test.*pads has 2 values, expected 4/);
    expect(() => runOp('Pad', [x, i64([0, -4, 0, 0])])).toThrow(/Pad_test.*crop/);
  });
});

describe('DepthToSpace / SpaceToDepth (NHWC)', () => {
  const rand = rng(5);
  const xs = [1, 2, 3, 8];
  const x = randomArray(sizeOf(xs), rand);

  /** ONNX's definitions on NCHW: DCR = reshape [N,b,b,C',H,W] → [N,C',H,b,W,b]; CRD = reshape [N,C',b,b,H,W] → same. */
  function depthToSpaceNCHW(data: number[], s: number[], b: number, crd: boolean): number[] {
    const [n, c, h, w] = s as [number, number, number, number];
    const co = c / (b * b);
    const out: number[] = [];
    for (const [bn, oc, oh, ow] of indices([n, co, h * b, w * b]) as Iterable<number[]>) {
      const i = oh! % b, j = ow! % b;
      const ic = crd ? oc! * b * b + i * b + j : (i * b + j) * co + oc!;
      out.push(data[flatIndex([bn!, ic, Math.floor(oh! / b), Math.floor(ow! / b)], s)]!);
    }
    return out;
  }

  for (const mode of ['DCR', 'CRD'] as const) {
    it(`DepthToSpace ${mode} is ONNX's op seen channels-last`, () => {
      const nchw = transpose(x, xs, [0, 3, 1, 2]);
      const want = depthToSpaceNCHW(nchw.data, nchw.shape, 2, mode === 'CRD');
      const [y] = runOp('DepthToSpace', [tensor(xs, x)], { blocksize: 2, mode });
      const back = transpose(y!.toNumbers(), y!.shape, [0, 3, 1, 2]);
      expectClose(tensor(back.shape, back.data, 'float64'), [1, 2, 4, 6], want);
    });
  }

  it('DCR on NHWC is TensorFlow depth_to_space, and SpaceToDepth inverts it', () => {
    // TF example: [1,1,1,4] with block 2 → [1,2,2,1] in order.
    expectClose(runOp('DepthToSpace', [tensor([1, 1, 1, 4], [1, 2, 3, 4])], { blocksize: 2 })[0]!, [1, 2, 2, 1], [1, 2, 3, 4]);
    const [y] = runOp('DepthToSpace', [tensor(xs, x)], { blocksize: 2 });
    const [z] = runOp('SpaceToDepth', [y!], { blocksize: 2 });
    expectClose(z!, xs, x);
    expect(() => runOp('SpaceToDepth', [tensor([1, 3, 2, 1], [1, 2, 3, 4, 5, 6])], { blocksize: 2 })).toThrow(/SpaceToDepth_test.*multiples/);
  });
});

describe('Resize', () => {
  const x = tensor([1, 2, 2, 1], [1, 2, 3, 4]);
  const scales = (v: number[]) => f32(v);

  it('reproduces ONNX\'s nearest and linear examples', () => {
    expectClose(runOp('Resize', [x, undefined, scales([1, 2, 3, 1])], { mode: 'nearest' })[0]!, [1, 4, 6, 1],
      [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4]);
    expectClose(runOp('Resize', [x, undefined, scales([1, 2, 2, 1])], { mode: 'linear' })[0]!, [1, 4, 4, 1],
      [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
    const t = 1 / 3;
    expectClose(runOp('Resize', [x, undefined, scales([1, 2, 2, 1])], { mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0]!, [1, 4, 4, 1],
      [1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t, 3 + 2 * t, 4]);
    const x24 = tensor([1, 2, 4, 1], [1, 2, 3, 4, 5, 6, 7, 8]);
    expectClose(runOp('Resize', [x24, undefined, scales([1, 0.6, 0.6, 1])], { mode: 'linear' })[0]!, [1, 1, 2, 1], [2.6666665, 4.3333331]);
    expectClose(runOp('Resize', [x24, undefined, scales([1, 0.6, 0.6, 1])], { mode: 'nearest' })[0]!, [1, 1, 2, 1], [1, 3]);
  });

  it('computes cubic weights with exclude_outside renormalization', () => {
    const row = [1, 2, 4, 8, 16];
    const a = -0.5;
    const [y] = runOp('Resize', [tensor([5], row), undefined, scales([0.8])], { mode: 'cubic', cubic_coeff_a: a, exclude_outside: 1 });
    // Brute force: each output samples at (o + 0.5) / 0.8 - 0.5 with the Keys kernel, outside taps dropped.
    const keys = (d: number) => {
      const s = Math.abs(d);
      if (s <= 1) return (a + 2) * s ** 3 - (a + 3) * s ** 2 + 1;
      if (s < 2) return a * s ** 3 - 5 * a * s ** 2 + 8 * a * s - 4 * a;
      return 0;
    };
    const want = [0, 1, 2, 3].map((o) => {
      const xs = (o + 0.5) / 0.8 - 0.5;
      let sum = 0, wsum = 0;
      for (let i = Math.floor(xs) - 1; i <= Math.floor(xs) + 2; i++) {
        if (i < 0 || i > 4) continue;
        sum += keys(xs - i) * row[i]!;
        wsum += keys(xs - i);
      }
      return sum / wsum;
    });
    expectClose(y!, [4], want);
  });

  it('works on any axes with sizes, axes and keep_aspect_ratio_policy', () => {
    const rand = rng(6);
    const data = randomArray(2 * 3 * 4, rand);
    const src = tensor([2, 3, 4], data);
    const [y] = runOp('Resize', [src, undefined, undefined, i64([6, 2])], { mode: 'linear', axes: [1, 2], coordinate_transformation_mode: 'asymmetric' });
    expect(y!.shape).toEqual([2, 6, 2]);
    // asymmetric: out (n, i, j) samples (i / 2, j * 2): rows interpolate, columns pick every other one.
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 2; j++) {
          const r = i / 2, r0 = Math.floor(r), r1 = Math.min(r0 + 1, 2), f = r - r0;
          want.push((1 - f) * data[(n * 3 + r0) * 4 + 2 * j]! + f * data[(n * 3 + r1) * 4 + 2 * j]!);
        }
      }
    }
    expectClose(y!, [2, 6, 2], want);
    const [k] = runOp('Resize', [tensor([1, 4, 6, 1], new Array(24).fill(1)), undefined, undefined, i64([8, 8])], { axes: [1, 2], keep_aspect_ratio_policy: 'not_larger' });
    expect(k!.shape).toEqual([1, 5, 8, 1]);
  });

  it('extrapolates outside the crop in tf_crop_and_resize', () => {
    const [y] = runOp('Resize', [tensor([1, 3], [10, 20, 30]), f32([0, 0, 1, 1.5]), undefined, i64([1, 3])],
      { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: -7 });
    // x = 0, 1.5, 3 in input coordinates: the last one is past the end.
    expectClose(y!, [1, 3], [10, 25, -7]);
  });

  it('refuses antialias and needs exactly one of scales and sizes', () => {
    expect(() => runOp('Resize', [x, undefined, scales([1, 0.5, 0.5, 1])], { antialias: 1, mode: 'linear' })).toThrow(/antialias/);
    expect(() => runOp('Resize', [x])).toThrow(/Resize_test.*exactly one of scales/);
  });
});

import { describe, expect, it } from 'vitest';
import { Tensor, sizeOf, stridesOf, type DType } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { defaultRegistry } from '../../../src/runtime/builtins.js';

const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers('float32', shape, v);
const i64 = (v: number[], shape = [v.length]) => Tensor.fromNumbers('int64', shape, v);
const i32 = (v: number[], shape = [v.length]) => Tensor.fromNumbers('int32', shape, v);
const seq = (dtype: DType, shape: number[]) => Tensor.fromNumbers(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i));
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const big = (...v: bigint[]) => new Tensor('int64', [v.length], BigInt64Array.from(v));

function one(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | number[] | string | Tensor> = {}): Tensor {
  return runOp(op, inputs, attrs)[0]!;
}

describe('Concat', () => {
  it('joins along a negative axis', () => {
    const out = one('Concat', [f32([2, 2], [1, 2, 3, 4]), f32([2, 1], [5, 6])], { axis: -1 });
    expect(out.shape).toEqual([2, 3]);
    expect(out.toNumbers()).toEqual([1, 2, 5, 3, 4, 6]);
  });
  it('joins int64 along axis 0 and skips empty inputs', () => {
    const out = one('Concat', [i64([1, 2]), i64([]), i64([3])], { axis: 0 });
    expect(out.dtype).toBe('int64');
    expect(Array.from(out.data as BigInt64Array)).toEqual([1n, 2n, 3n]);
  });
  it('names the node when shapes do not fit', () => {
    expect(() => one('Concat', [f32([2, 2], [1, 2, 3, 4]), f32([3, 1], [5, 6, 7])], { axis: 1 })).toThrow(/Concat_test.*input 1/);
    expect(() => one('Concat', [f32([2], [1, 2])], { axis: 1 })).toThrow(/axis 1 is out of range/);
  });
});

describe('Split', () => {
  it('splits by the split input', () => {
    const [a, b] = runOp('Split', [seq('float32', [2, 3]), i64([1, 2])], { axis: 1 }, 2);
    expect(a!.shape).toEqual([2, 1]);
    expect(a!.toNumbers()).toEqual([0, 3]);
    expect(b!.toNumbers()).toEqual([1, 2, 4, 5]);
  });
  it('splits num_outputs chunks with a smaller last one, on bool', () => {
    const x = new Tensor('bool', [5], Uint8Array.of(1, 0, 1, 1, 0));
    const outs = runOp('Split', [x], { axis: -1, num_outputs: 3 }, 3);
    expect(outs.map((o) => o.shape)).toEqual([[2], [2], [1]]);
    expect(outs.map((o) => o.toNumbers())).toEqual([[1, 0], [1, 1], [0]]);
    expect(outs[0]!.dtype).toBe('bool');
  });
  it('allows zero-size parts and rejects sums that do not match', () => {
    const outs = runOp('Split', [seq('int32', [3]), i64([0, 3])], {}, 2);
    expect(outs.map((o) => o.shape)).toEqual([[0], [3]]);
    expect(() => runOp('Split', [seq('int32', [3]), i64([1, 1])], {}, 2)).toThrow(/sums to 2/);
  });
});

describe('Slice', () => {
  const x = seq('float32', [3, 4]);
  it('slices with default axes and steps', () => {
    const out = one('Slice', [x, i64([1, 1]), i64([3, 3])]);
    expect(out.shape).toEqual([2, 2]);
    expect(out.toNumbers()).toEqual([5, 6, 9, 10]);
  });
  it('clamps INT64_MAX ends and negative starts on a negative axis', () => {
    const out = one('Slice', [x, i64([-2]), big(INT64_MAX), i32([-1])]);
    expect(out.shape).toEqual([3, 2]);
    expect(out.toNumbers()).toEqual([2, 3, 6, 7, 10, 11]);
  });
  it('reverses with a negative step down to INT64_MIN', () => {
    const out = one('Slice', [x, i64([-1]), big(INT64_MIN), i64([1]), i64([-1])]);
    expect(out.shape).toEqual([3, 4]);
    expect(out.toNumbers()).toEqual([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8]);
  });
  it('takes every second element backwards from a clamped start', () => {
    const out = one('Slice', [seq('int64', [7]), i64([100]), i64([0]), i64([0]), i64([-2])]);
    expect(out.toNumbers()).toEqual([6, 4, 2]);
  });
  it('gives an empty tensor for an empty range', () => {
    const out = one('Slice', [x, i64([3]), i64([1]), i64([1])]);
    expect(out.shape).toEqual([3, 0]);
  });
  it('rejects step 0 and repeated axes', () => {
    expect(() => one('Slice', [x, i64([0]), i64([1]), i64([0]), i64([0])])).toThrow(/step for axis 0 is 0/);
    expect(() => one('Slice', [x, i64([0, 0]), i64([1, 1]), i64([1, -1])])).toThrow(/repeat an axis/);
  });
});

describe('Reshape and friends', () => {
  it('reshapes with 0 and -1', () => {
    const out = one('Reshape', [seq('int64', [2, 3, 4]), i64([0, -1])]);
    expect(out.shape).toEqual([2, 12]);
    expect(out.toNumbers()).toEqual(seq('int64', [24]).toNumbers());
    expect(out.data).not.toBe(seq('int64', [24]).data);
  });
  it('keeps 0 as a dimension with allowzero', () => {
    expect(one('Reshape', [seq('float32', [0, 3]), i64([3, 0])], { allowzero: 1 }).shape).toEqual([3, 0]);
  });
  it('rejects two -1, wrong sizes and 0 with -1 under allowzero', () => {
    expect(() => one('Reshape', [seq('float32', [6]), i64([-1, -1])])).toThrow(/Reshape_test.*more than one -1/);
    expect(() => one('Reshape', [seq('float32', [6]), i64([4, 2])])).toThrow(/cannot reshape \[6\]/);
    expect(() => one('Reshape', [seq('float32', [6]), i64([0, -1])], { allowzero: 1 })).toThrow(/both 0 and -1/);
    expect(() => one('Reshape', [seq('float32', [0, 2]), i64([0, -1])])).toThrow(/cannot reshape/);
    expect(one('Reshape', [seq('float32', [0, 2]), i64([-1, 0])]).shape).toEqual([0, 2]);
  });
  it('flattens at axis 0, a negative axis and the rank', () => {
    const x = seq('float32', [2, 3, 4]);
    expect(one('Flatten', [x], { axis: 0 }).shape).toEqual([1, 24]);
    expect(one('Flatten', [x], { axis: -1 }).shape).toEqual([6, 4]);
    expect(one('Flatten', [x], { axis: 3 }).shape).toEqual([24, 1]);
    expect(() => one('Flatten', [x], { axis: 4 })).toThrow(/out of range/);
  });
  it('squeezes given axes or every 1', () => {
    const x = seq('bool', [1, 3, 1]);
    expect(one('Squeeze', [x]).shape).toEqual([3]);
    expect(one('Squeeze', [x, i64([-1])]).shape).toEqual([1, 3]);
    expect(one('Squeeze', [x, i64([])]).shape).toEqual([3]);
    expect(() => one('Squeeze', [x, i64([1])])).toThrow(/axis 1 .* not 1/);
  });
  it('unsqueezes axes of the output rank, unsorted and negative', () => {
    const out = one('Unsqueeze', [seq('int32', [3, 4]), i64([3, -5, 1])]);
    expect(out.shape).toEqual([1, 1, 3, 1, 4]);
    expect(out.toNumbers()).toEqual(seq('int32', [12]).toNumbers());
    expect(() => one('Unsqueeze', [seq('int32', [3]), i64([0, -3])])).toThrow(/repeat an axis/);
  });
  it('copies through Identity and Dropout, with an all-true mask', () => {
    const x = seq('int64', [2, 2]);
    expect(one('Identity', [x]).toNumbers()).toEqual([0, 1, 2, 3]);
    const [y, mask] = runOp('Dropout', [f32([2], [1, 2]), f32([], [0.5])], {}, 2);
    expect(y!.toNumbers()).toEqual([1, 2]);
    expect(mask!.dtype).toBe('bool');
    expect(mask!.toNumbers()).toEqual([1, 1]);
  });
  it('refuses Dropout in training mode', () => {
    const training = new Tensor('bool', [], Uint8Array.of(1));
    expect(() => one('Dropout', [f32([1], [1]), undefined, training])).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
    const inference = new Tensor('bool', [], Uint8Array.of(0));
    expect(one('Dropout', [f32([1], [1]), undefined, inference]).toNumbers()).toEqual([1]);
  });
});

/** out[i0..in] = x[...] with out axis k taken from input axis perm[k], by index arithmetic. */
function naiveTranspose(x: Tensor, perm: number[]): number[] {
  const outShape = perm.map((p) => x.shape[p]!);
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(outShape);
  const out = new Array<number>(x.size);
  for (let flat = 0; flat < x.size; flat++) {
    let src = 0;
    outShape.forEach((_, k) => { src += Math.floor(flat / outStrides[k]!) % outShape[k]! * inStrides[perm[k]!]!; });
    out[flat] = Number(x.data[src]!);
  }
  return out;
}

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

describe('Transpose', () => {
  it('reverses axes by default', () => {
    const out = one('Transpose', [seq('float32', [2, 3])]);
    expect(out.shape).toEqual([3, 2]);
    expect(out.toNumbers()).toEqual([0, 3, 1, 4, 2, 5]);
  });
  it('runs NCHW→NHWC and back over partial tiles', () => {
    const x = seq('float32', [2, 37, 5, 41]);
    const nhwc = one('Transpose', [x], { perm: [0, 2, 3, 1] });
    expect(nhwc.shape).toEqual([2, 5, 41, 37]);
    expect(nhwc.toNumbers()).toEqual(naiveTranspose(x, [0, 2, 3, 1]));
    const back = one('Transpose', [nhwc], { perm: [0, 3, 1, 2] });
    expect(back.toNumbers()).toEqual(x.toNumbers());
  });
  it('matches index arithmetic for every 4-D permutation, on int64', () => {
    const x = seq('int64', [2, 3, 1, 4]);
    for (const perm of permutations(4)) {
      expect(one('Transpose', [x], { perm }).toNumbers(), `perm ${perm}`).toEqual(naiveTranspose(x, perm));
    }
  });
  it('handles 5-D, empty and bool tensors', () => {
    const x = seq('int8', [2, 3, 2, 2, 3]);
    expect(one('Transpose', [x], { perm: [4, 1, 0, 3, 2] }).toNumbers()).toEqual(naiveTranspose(x, [4, 1, 0, 3, 2]));
    expect(one('Transpose', [seq('float32', [2, 0, 3])], { perm: [2, 0, 1] }).shape).toEqual([3, 2, 0]);
    const b = new Tensor('bool', [2, 2], Uint8Array.of(1, 0, 0, 0));
    expect(one('Transpose', [b], { perm: [1, 0] }).toNumbers()).toEqual([1, 0, 0, 0]);
  });
  it('rejects a perm that is not a permutation', () => {
    expect(() => one('Transpose', [seq('float32', [2, 3])], { perm: [0, 0] })).toThrow(/Transpose_test.*not a permutation/);
  });
});

describe('Tile and Expand', () => {
  it('tiles each axis', () => {
    const out = one('Tile', [f32([2, 2], [1, 2, 3, 4]), i64([2, 3])]);
    expect(out.shape).toEqual([4, 6]);
    expect(out.toNumbers()).toEqual([
      1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
      1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
    ]);
  });
  it('tiles int64 with a zero repeat', () => {
    expect(one('Tile', [i64([5, 6]), i32([0])]).shape).toEqual([0]);
    expect(one('Tile', [i64([5, 6]), i32([2])]).toNumbers()).toEqual([5, 6, 5, 6]);
  });
  it('expands both ways like numpy broadcasting', () => {
    const out = one('Expand', [f32([3, 1], [1, 2, 3]), i64([2, 1, 2])]);
    expect(out.shape).toEqual([2, 3, 2]);
    expect(out.toNumbers()).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expect(one('Expand', [f32([3, 1], [1, 2, 3]), i64([1])]).shape).toEqual([3, 1]);
    expect(() => one('Expand', [f32([3], [1, 2, 3]), i64([2])])).toThrow(/Expand_test.*cannot be expanded/);
  });
});

describe('Shape, Size, ReverseSequence', () => {
  const x = seq('float32', [2, 3, 4]);
  it('reports the shape with start/end clamping', () => {
    expect(one('Shape', [x]).toNumbers()).toEqual([2, 3, 4]);
    expect(one('Shape', [x]).dtype).toBe('int64');
    expect(one('Shape', [x], { start: -2 }).toNumbers()).toEqual([3, 4]);
    expect(one('Shape', [x], { start: 1, end: -1 }).toNumbers()).toEqual([3]);
    expect(one('Shape', [x], { start: -10, end: 10 }).toNumbers()).toEqual([2, 3, 4]);
    expect(one('Shape', [x], { start: 2, end: 1 }).shape).toEqual([0]);
  });
  it('reports the size as an int64 scalar', () => {
    const s = one('Size', [x]);
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as BigInt64Array)).toEqual([24n]);
    expect(one('Size', [seq('bool', [3, 0])]).toNumbers()).toEqual([0]);
  });
  it('reverses sequences along time, batch-major and time-major', () => {
    const t = seq('float32', [4, 2]);
    // time_axis 0: column b holds sequence b.
    expect(one('ReverseSequence', [t, i64([4, 2])], { time_axis: 0, batch_axis: 1 }).toNumbers())
      .toEqual([6, 3, 4, 1, 2, 5, 0, 7]);
    const b = seq('int64', [2, 3]);
    expect(one('ReverseSequence', [b, i64([2, 3])], { time_axis: 1, batch_axis: 0 }).toNumbers())
      .toEqual([1, 0, 2, 5, 4, 3]);
    expect(() => one('ReverseSequence', [b, i64([4, 3])], { time_axis: 1, batch_axis: 0 })).toThrow(/sequence_lens\[0\] = 4/);
  });
});

describe('every dtype moves unchanged', () => {
  const dtypes: DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'];
  // Values 0/1 fit every dtype, bool included, and still tell positions apart in pairs.
  const bits = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1];
  const cases: [string, (x: Tensor) => Tensor][] = [
    ['Concat', (x) => one('Concat', [x, x], { axis: -2 })],
    ['Slice', (x) => one('Slice', [x, i64([2]), i64([0]), i64([-1]), i64([-1])])],
    ['Transpose', (x) => one('Transpose', [x], { perm: [1, 0] })],
    ['Tile', (x) => one('Tile', [x, i64([1, 2])])],
    ['Expand', (x) => one('Expand', [x, i64([2, 3, 4])])],
    ['Gather', (x) => one('Gather', [x, i64([2, 0])], { axis: 1 })],
    ['Reshape', (x) => one('Reshape', [x, i64([-1])])],
  ];
  for (const [op, apply] of cases) {
    it(op, () => {
      const want = apply(Tensor.fromNumbers('float32', [3, 4], bits));
      for (const dtype of dtypes) {
        const x = dtype === 'bool' ? new Tensor('bool', [3, 4], Uint8Array.from(bits)) : Tensor.fromNumbers(dtype, [3, 4], bits);
        const got = apply(x);
        expect(got.dtype, dtype).toBe(dtype);
        expect(got.shape, dtype).toEqual(want.shape);
        expect(got.toNumbers(), dtype).toEqual(want.toNumbers());
      }
    });
  }
});

describe('prepared plans', () => {
  const ctx = { int8Arithmetic: 'tflite-xnnpack' } as const;
  const node = (op: string, inputs: number, attrs: Record<string, number[]> = {}) =>
    ({ name: `${op}_plan`, op, inputs: Array.from({ length: inputs }, (_, i) => `in${i}`), outputs: ['out'], attrs });

  it('Transpose reuses one plan for new data', () => {
    const n = node('Transpose', 1, { perm: [0, 2, 3, 1] });
    const k = defaultRegistry.candidates('ref', 'Transpose')[0]!;
    const state = k.prepare!({ node: n, inputs: [{ dtype: 'float32', shape: [1, 2, 2, 3] }], outputs: [{ dtype: 'float32', shape: [1, 2, 3, 2] }], ctx }).state;
    const out = new Tensor('float32', [1, 2, 3, 2]);
    for (const offset of [0, 100]) {
      const x = Tensor.fromNumbers('float32', [1, 2, 2, 3], Array.from({ length: 12 }, (_, i) => i + offset));
      k.run([x], [out], n, state, ctx);
      expect(out.toNumbers()).toEqual(naiveTranspose(x, [0, 2, 3, 1]));
    }
  });
  it('Slice plans at run time when its parameters are not constants', () => {
    const n = node('Slice', 3);
    const k = defaultRegistry.candidates('ref', 'Slice')[0]!;
    const info = { dtype: 'int64' as const, shape: [1] };
    const state = k.prepare!({ node: n, inputs: [{ dtype: 'float32', shape: [5] }, info, info], outputs: [{ dtype: 'float32', shape: [2] }], ctx }).state;
    expect(state).toBeUndefined();
    const out = new Tensor('float32', [2]);
    k.run([seq('float32', [5]), i64([1]), i64([3])], [out], n, state, ctx);
    expect(out.toNumbers()).toEqual([1, 2]);
  });
});

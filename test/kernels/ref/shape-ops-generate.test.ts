import { describe, expect, it } from 'vitest';
import { Tensor, sizeOf, type DType } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';

const i64 = (v: number[], shape = [v.length]) => Tensor.fromNumbers('int64', shape, v);
const seq = (dtype: DType, shape: number[]) => Tensor.fromNumbers(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i + 1));

function one(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | string | Tensor> = {}): Tensor {
  return runOp(op, inputs, attrs)[0]!;
}

describe('Range', () => {
  it('counts int32 down with a negative delta', () => {
    const s = (v: number) => Tensor.scalar('int32', v);
    const out = one('Range', [s(10), s(4), s(-3)]);
    expect(out.dtype).toBe('int32');
    expect(out.toNumbers()).toEqual([10, 7]);
  });
  it('counts int64 and gives an empty range when limit is behind start', () => {
    const s = (v: number) => Tensor.scalar('int64', v);
    expect(Array.from(one('Range', [s(0), s(5), s(2)]).data as BigInt64Array)).toEqual([0n, 2n, 4n]);
    expect(one('Range', [s(5), s(0), s(1)]).shape).toEqual([0]);
  });
  it('accumulates float32 steps in float32', () => {
    const s = (v: number) => Tensor.scalar('float32', v);
    const out = one('Range', [s(1), s(2), s(0.3)]);
    const d = Math.fround(0.3);
    let v = 1;
    const want = [v];
    for (let i = 1; i < 4; i++) want.push((v = Math.fround(v + d)));
    expect(Array.from(out.data as Float32Array)).toEqual(want);
  });
  it('rejects delta 0 and mixed types', () => {
    expect(() => one('Range', [Tensor.scalar('int32', 0), Tensor.scalar('int32', 1), Tensor.scalar('int32', 0)])).toThrow(/delta is 0/);
    expect(() => one('Range', [Tensor.scalar('int32', 0), Tensor.scalar('int64', 1), Tensor.scalar('int32', 1)])).toThrow(/input 1 is int64/);
  });
});

describe('ConstantOfShape, EyeLike, Constant', () => {
  it('fills float32 zeros by default and the value tensor otherwise', () => {
    const zeros = one('ConstantOfShape', [i64([2, 3])]);
    expect(zeros.dtype).toBe('float32');
    expect(zeros.toNumbers()).toEqual([0, 0, 0, 0, 0, 0]);
    const sevens = one('ConstantOfShape', [Tensor.fromNumbers('int32', [1], [2])], { value: Tensor.fromNumbers('int64', [1], [7]) });
    expect(Array.from(sevens.data as BigInt64Array)).toEqual([7n, 7n]);
    expect(one('ConstantOfShape', [i64([])]).shape).toEqual([]);
    expect(one('ConstantOfShape', [i64([0, 3])]).shape).toEqual([0, 3]);
    expect(() => one('ConstantOfShape', [i64([-1])])).toThrow(/negative dimension/);
  });
  it('puts ones on a shifted diagonal in the requested dtype', () => {
    const x = Tensor.fromNumbers('float32', [3, 4], new Array(12).fill(5));
    const eye = one('EyeLike', [x], { k: 1, dtype: 'int64' });
    expect(eye.dtype).toBe('int64');
    expect(eye.toNumbers()).toEqual([0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(one('EyeLike', [x], { k: -2 }).toNumbers()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(() => one('EyeLike', [x], { dtype: 'complex64' })).toThrow(/dtype "complex64"/);
  });
  it('outputs its value attribute', () => {
    const v = Tensor.fromNumbers('int64', [2], [3, -4]);
    const out = one('Constant', [], { value: v });
    expect(out.toNumbers()).toEqual([3, -4]);
    expect(out.data).not.toBe(v.data);
  });
});

describe('OneHot', () => {
  const values = Tensor.fromNumbers('float32', [2], [0, 5]);
  it('encodes along the last axis with negative and out-of-range indices', () => {
    const out = one('OneHot', [i64([0, -1, 3]), Tensor.scalar('int64', 3), values]);
    expect(out.shape).toEqual([3, 3]);
    expect(out.toNumbers()).toEqual([5, 0, 0, 0, 0, 5, 0, 0, 0]);
  });
  it('encodes along axis 0 and a negative axis, with float depth', () => {
    const idx = Tensor.fromNumbers('int32', [2], [1, 0]);
    const out = one('OneHot', [idx, Tensor.scalar('float32', 2), values], { axis: 0 });
    expect(out.shape).toEqual([2, 2]);
    expect(out.toNumbers()).toEqual([0, 5, 5, 0]);
    expect(one('OneHot', [idx, Tensor.scalar('float32', 2), values], { axis: -2 }).toNumbers()).toEqual([0, 5, 5, 0]);
  });
  it('uses the values dtype, int64 included', () => {
    const out = one('OneHot', [i64([1]), Tensor.scalar('int64', 2), i64([-1, 1])]);
    expect(Array.from(out.data as BigInt64Array)).toEqual([-1n, 1n]);
  });
});

describe('Trilu', () => {
  const x = seq('float32', [3, 3]);
  it('keeps the upper triangle, shifted by k', () => {
    expect(one('Trilu', [x]).toNumbers()).toEqual([1, 2, 3, 0, 5, 6, 0, 0, 9]);
    expect(one('Trilu', [x, i64([1], [])]).toNumbers()).toEqual([0, 2, 3, 0, 0, 6, 0, 0, 0]);
    expect(one('Trilu', [x, i64([-1], [])]).toNumbers()).toEqual([1, 2, 3, 4, 5, 6, 0, 8, 9]);
  });
  it('keeps the lower triangle of a batch of int64 matrices', () => {
    const b = seq('int64', [2, 2, 3]);
    expect(one('Trilu', [b, i64([0], [])], { upper: 0 }).toNumbers()).toEqual([1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0]);
    expect(one('Trilu', [seq('float32', [0, 3])], { upper: 0 }).shape).toEqual([0, 3]);
    expect(() => one('Trilu', [seq('float32', [3])])).toThrow(/rank 2 or more/);
  });
});

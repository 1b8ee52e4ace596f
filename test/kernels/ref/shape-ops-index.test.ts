import { describe, expect, it } from 'vitest';
import { Tensor, sizeOf, type DType } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';

const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers('float32', shape, v);
const i64 = (v: number[], shape = [v.length]) => Tensor.fromNumbers('int64', shape, v);
const i32 = (v: number[], shape = [v.length]) => Tensor.fromNumbers('int32', shape, v);
const bool = (v: number[], shape = [v.length]) => new Tensor('bool', shape, Uint8Array.from(v));
const seq = (dtype: DType, shape: number[]) => Tensor.fromNumbers(dtype, shape, Array.from({ length: sizeOf(shape) }, (_, i) => i));

function one(op: string, inputs: Tensor[], attrs: Record<string, number | string> = {}): Tensor {
  return runOp(op, inputs, attrs)[0]!;
}

describe('Gather', () => {
  const x = seq('float32', [3, 2]);
  it('gathers rows with 2-D and negative indices', () => {
    const out = one('Gather', [x, i64([0, -1, 1, 0], [2, 2])]);
    expect(out.shape).toEqual([2, 2, 2]);
    expect(out.toNumbers()).toEqual([0, 1, 4, 5, 2, 3, 0, 1]);
  });
  it('gathers along axis -1 with a scalar int32 index (dropping the axis)', () => {
    const out = one('Gather', [x, i32([1], [])], { axis: -1 });
    expect(out.shape).toEqual([3]);
    expect(out.toNumbers()).toEqual([1, 3, 5]);
  });
  it('folds a Shape→Gather pattern on int64 and handles empty indices', () => {
    const shape = i64([1, 3, 224, 224]);
    expect(one('Gather', [shape, i64([0], [])]).toNumbers()).toEqual([1]);
    expect(one('Gather', [x, i64([])]).shape).toEqual([0, 2]);
  });
  it('names the node on an index out of range', () => {
    expect(() => one('Gather', [x, i64([3])])).toThrow(/Gather_test.*index 3 is out of range \[-3, 3\)/);
    expect(() => one('Gather', [x, f32([1], [0])])).toThrow(/indices must be int32 or int64/);
  });
});

describe('GatherElements and GatherND', () => {
  it('gathers elements along axis 1 with negative indices', () => {
    const out = one('GatherElements', [f32([2, 2], [1, 2, 3, 4]), i64([0, 0, -1, 0], [2, 2])], { axis: 1 });
    expect(out.toNumbers()).toEqual([1, 1, 4, 3]);
  });
  it('gathers elements along axis 0 with fewer rows than data', () => {
    const out = one('GatherElements', [seq('int64', [3, 3]), i32([1, 2, 0, 2, 0, 0], [2, 3])]);
    expect(out.toNumbers()).toEqual([3, 7, 2, 6, 1, 2]);
  });
  it('gathers slices and elements by tuples', () => {
    const data = seq('int32', [2, 2]);
    expect(one('GatherND', [data, i64([0, 0, 1, 1], [2, 2])]).toNumbers()).toEqual([0, 3]);
    const rows = one('GatherND', [data, i64([1, 0], [2, 1])]);
    expect(rows.shape).toEqual([2, 2]);
    expect(rows.toNumbers()).toEqual([2, 3, 0, 1]);
  });
  it('gathers with batch_dims 1 and negative indices', () => {
    const data = seq('float32', [2, 2, 2]);
    const out = one('GatherND', [data, i64([1, -1], [2, 1])], { batch_dims: 1 });
    expect(out.shape).toEqual([2, 2]);
    expect(out.toNumbers()).toEqual([2, 3, 6, 7]);
    expect(() => one('GatherND', [data, i64([1, 1, 1], [3, 1])], { batch_dims: 1 })).toThrow(/batch axis 0 differs/);
  });
});

describe('ScatterElements and ScatterND', () => {
  it('scatters along axis 1 with a negative index', () => {
    const out = one('ScatterElements', [f32([1, 5], [1, 2, 3, 4, 5]), i64([1, -2], [1, 2]), f32([1, 2], [1.1, 2.1])], { axis: 1 });
    expect(out.toNumbers()).toEqual([1, Math.fround(1.1), 3, Math.fround(2.1), 5]);
  });
  it('accumulates duplicates with add, mul, max and min', () => {
    const data = f32([1, 3], [1, 2, 3]);
    const idx = i64([1, 1], [1, 2]);
    const upd = f32([1, 2], [5, 10]);
    const got = (reduction: string) => one('ScatterElements', [data, idx, upd], { axis: 1, reduction }).toNumbers();
    expect(got('add')).toEqual([1, 17, 3]);
    expect(got('mul')).toEqual([1, 100, 3]);
    expect(got('max')).toEqual([1, 10, 3]);
    expect(got('min')).toEqual([1, 2, 3]);
  });
  it('scatters int64 and rejects unknown reductions and bool add', () => {
    const out = one('ScatterElements', [i64([0, 0, 0]), i32([2, 0]), i64([7, 8])], { reduction: 'add' });
    expect(Array.from(out.data as BigInt64Array)).toEqual([8n, 0n, 7n]);
    expect(() => one('ScatterElements', [i64([0]), i32([0]), i64([1])], { reduction: 'mean' })).toThrow(/reduction "mean"/);
    expect(() => one('ScatterElements', [bool([0]), i32([0]), bool([1])], { reduction: 'add' })).toThrow(/not defined for bool/);
    expect(one('ScatterElements', [bool([0, 0]), i32([1]), bool([1])], { reduction: 'max' }).toNumbers()).toEqual([0, 1]);
  });
  it('scatters slices by tuples, with reductions', () => {
    const data = seq('float32', [2, 2]);
    const out = one('ScatterND', [data, i64([1], [1, 1]), f32([1, 2], [9, 8])]);
    expect(out.toNumbers()).toEqual([0, 1, 9, 8]);
    const add = one('ScatterND', [data, i64([0, 1, 0, 1], [2, 2]), f32([2], [10, 20])], { reduction: 'add' });
    expect(add.toNumbers()).toEqual([0, 31, 2, 3]);
    expect(() => one('ScatterND', [data, i64([1], [1, 1]), f32([2], [9, 8])])).toThrow(/updates must have shape \[1, 2\]/);
  });
});

describe('Compress and NonZero', () => {
  const x = seq('float32', [3, 2]);
  it('compresses along an axis, a negative axis and the flattened input', () => {
    expect(one('Compress', [x, bool([0, 1, 1])], { axis: 0 }).toNumbers()).toEqual([2, 3, 4, 5]);
    const cols = one('Compress', [x, bool([1])], { axis: -1 });
    expect(cols.shape).toEqual([3, 1]);
    expect(cols.toNumbers()).toEqual([0, 2, 4]);
    expect(one('Compress', [x, bool([0, 1, 0, 0, 1])]).toNumbers()).toEqual([1, 4]);
    expect(one('Compress', [x, bool([0, 0])], { axis: 0 }).shape).toEqual([0, 2]);
    expect(() => one('Compress', [x, bool([1, 1, 1, 1])], { axis: 0 })).toThrow(/condition has 4 entries/);
  });
  it('lists the coordinates of non-zero elements as int64', () => {
    const out = one('NonZero', [f32([2, 2], [1, 0, 1, 1])]);
    expect(out.dtype).toBe('int64');
    expect(out.shape).toEqual([2, 3]);
    expect(out.toNumbers()).toEqual([0, 1, 1, 0, 0, 1]);
    expect(one('NonZero', [i64([0, 5, 0, 7])]).toNumbers()).toEqual([1, 3]);
    expect(one('NonZero', [bool([0, 0])]).shape).toEqual([1, 0]);
    expect(one('NonZero', [f32([], [3])]).toNumbers()).toEqual([0]);
  });
});

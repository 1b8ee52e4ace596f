import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NeedsValueError, Tensor, getSchema, type DType, type Node } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { NODE_TEST_ROOT, checkNodeTest } from './onnx-node-data.js';
import { close, throwsCode } from './assertions.js';

const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers('float32', shape, v);
const t = (dtype: DType, shape: number[], v: number[]) => Tensor.fromNumbers(dtype, shape, v);
const i64 = (v: (number | bigint)[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map((x) => BigInt(x))));
const one = (op: string, inputs: (Tensor | undefined)[], attrs = {}) => runOp(op, inputs, attrs)[0]!;

// [2, 3, 2]: x[i][j][k] = 6i + 2j + k + 1
const x = f32([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

describe('ReduceX', () => {
  it('sums over chosen axes with and without keepdims', () => {
    const s = one('ReduceSum', [x, i64([1])]);
    expect(s.shape).toEqual([2, 1, 2]);
    close(s, [9, 12, 27, 30]);
    const s2 = one('ReduceSum', [x, i64([0, -1])], { keepdims: 0 });
    expect(s2.shape).toEqual([3]);
    close(s2, [1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12]);
  });
  it('reduces every axis when axes are absent or empty, unless noop_with_empty_axes', () => {
    const all = one('ReduceSum', [x]);
    expect(all.shape).toEqual([1, 1, 1]);
    close(all, [78]);
    close(one('ReduceSum', [x, i64([])], { keepdims: 0 }), [78]);
    const noop = one('ReduceSum', [x, i64([])], { noop_with_empty_axes: 1 });
    expect(noop.shape).toEqual([2, 3, 2]);
    close(noop, x.toNumbers());
    // Reducing over no axes still applies the per-element part of the reduction.
    close(one('ReduceSumSquare', [f32([2], [-2, 3]), i64([])], { noop_with_empty_axes: 1 }), [4, 9]);
  });
  it('computes each reduction', () => {
    const v = f32([2, 3], [1, -2, 3, 4, 5, -6]);
    const axes = i64([1]);
    close(one('ReduceMean', [v, axes]), [2 / 3, 1]);
    close(one('ReduceMax', [v, axes]), [3, 5]);
    close(one('ReduceMin', [v, axes]), [-2, -6]);
    close(one('ReduceProd', [v, axes]), [-6, -120]);
    close(one('ReduceL1', [v, axes]), [6, 15]);
    close(one('ReduceL2', [v, axes]), [Math.sqrt(14), Math.sqrt(77)]);
    close(one('ReduceSumSquare', [v, axes]), [14, 77]);
    close(one('ReduceLogSum', [f32([2, 2], [1, 2, 3, 4]), axes]), [Math.log(3), Math.log(7)]);
    close(one('ReduceLogSumExp', [f32([1, 3], [1000, 1000, 1000]), axes]), [1000 + Math.log(3)]);
    close(one('ReduceLogSumExp', [f32([1, 2], [-Infinity, -Infinity]), axes]), [-Infinity]);
  });
  it('reduces NHWC spatial axes like GlobalAveragePool', () => {
    const n = 2, h = 3, w = 4, c = 5;
    const data = Array.from({ length: n * h * w * c }, (_, i) => (i * 7) % 11);
    const out = one('ReduceMean', [f32([n, h, w, c], data), i64([1, 2])]);
    expect(out.shape).toEqual([n, 1, 1, c]);
    const want: number[] = [];
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let p = 0; p < h * w; p++) s += data[(b * h * w + p) * c + ch]!;
        want.push(s / (h * w));
      }
    }
    close(out, want);
  });
  it('handles empty reductions', () => {
    const e = f32([2, 0], []);
    close(one('ReduceSum', [e, i64([1])]), [0, 0]);
    close(one('ReduceProd', [e, i64([1])]), [1, 1]);
    close(one('ReduceMax', [e, i64([1])]), [-Infinity, -Infinity]);
    close(one('ReduceMin', [e, i64([1])]), [Infinity, Infinity]);
    close(one('ReduceLogSumExp', [e, i64([1])]), [-Infinity, -Infinity]);
    expect([...one('ReduceMax', [t('int32', [1, 0], []), i64([1])]).data]).toEqual([-2147483648]);
  });
  it('reduces integers with wrap-around and int64 exactly', () => {
    expect([...one('ReduceSum', [t('int32', [3], [2147483647, 1, 1]), i64([0])]).data]).toEqual([-2147483647]);
    expect([...one('ReduceProd', [t('int8', [3], [16, 16, 3]), i64([0])]).data]).toEqual([0]);
    expect([...one('ReduceMean', [t('int32', [2, 2], [1, 2, 3, 5]), i64([1])]).data]).toEqual([1, 4]);
    const big = new Tensor('int64', [2, 2], BigInt64Array.of(2n ** 62n, 2n ** 62n, -5n, 3n));
    expect([...one('ReduceSum', [big, i64([1])]).data]).toEqual([-(2n ** 63n), -2n]);
    expect([...one('ReduceMax', [big, i64([0])]).data]).toEqual([2n ** 62n, 2n ** 62n]);
    expect([...one('ReduceMean', [big, i64([0])]).data]).toEqual([(2n ** 62n - 5n) / 2n, (2n ** 62n + 3n) / 2n]);
    expect([...one('ReduceMax', [t('bool', [2, 2], [0, 1, 0, 0]), i64([1])], { keepdims: 0 }).data]).toEqual([1, 0]);
  });
  it('accepts int32 axes', () => {
    close(one('ReduceSum', [x, t('int32', [1], [2])], { keepdims: 0 }), [3, 7, 11, 15, 19, 23]);
  });
  it('rejects bad axes naming the node', () => {
    throwsCode(() => one('ReduceSum', [x, i64([3])]), 'E_ATTR', 'ReduceSum_test');
    throwsCode(() => one('ReduceSum', [x, i64([1, -2])]), 'E_ATTR', 'twice');
    throwsCode(() => one('ReduceSum', [x, f32([1], [1])]), 'E_DTYPE', 'axes');
  });
  it('asks for the axes value at plan time', () => {
    const node: Node = { name: 'r', op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['y'], attrs: {} };
    const schema = getSchema('ReduceSum')!;
    expect(() => schema.infer({
      node,
      inputs: [{ dtype: 'float32', shape: [2, 3] }, { dtype: 'int64', shape: [1] }],
      value: (i) => { throw new NeedsValueError(i, node); },
      hasValue: () => false,
    })).toThrow(NeedsValueError);
  });
});

describe('ArgMax / ArgMin', () => {
  const v = f32([2, 3], [1, 3, 3, 2, 0, 2]);
  it('first index of the extreme by default, last with select_last_index', () => {
    const a = one('ArgMax', [v], { axis: 1 });
    expect(a.dtype).toBe('int64');
    expect(a.shape).toEqual([2, 1]);
    expect([...a.data]).toEqual([1n, 0n]);
    expect([...one('ArgMax', [v], { axis: 1, select_last_index: 1, keepdims: 0 }).data]).toEqual([2n, 2n]);
    expect([...one('ArgMin', [v], { axis: 0, keepdims: 0 }).data]).toEqual([0n, 1n, 1n]);
    expect([...one('ArgMin', [v], { axis: -1, select_last_index: 1 }).data]).toEqual([0n, 1n]);
    expect([...one('ArgMax', [new Tensor('int64', [3], BigInt64Array.of(-1n, 2n ** 60n, 7n))]).data]).toEqual([1n]);
  });
  it('rejects an out-of-range axis', () => {
    throwsCode(() => one('ArgMax', [v], { axis: 2 }), 'E_ATTR', 'axis');
  });
});

describe('Softmax family', () => {
  it('softmax is stable for large inputs and sums to one along the axis', () => {
    const out = one('Softmax', [f32([2, 3], [1000, 1001, 1002, -5, -5, -5])]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0]! + e[1]! + e[2]!;
    close(out, [e[0]! / s, e[1]! / s, e[2]! / s, 1 / 3, 1 / 3, 1 / 3]);
  });
  it('softmax along a middle axis', () => {
    const out = one('Softmax', [f32([1, 2, 2], [0, 1, Math.LN2, 1])], { axis: 1 });
    close(out, [1 / 3, 0.5, 2 / 3, 0.5]);
  });
  it('log-softmax and hardmax', () => {
    const v = f32([1, 3], [1, 2, 3]);
    const lse = 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
    close(one('LogSoftmax', [v]), [1 - lse, 2 - lse, 3 - lse]);
    close(one('Hardmax', [f32([2, 3], [1, 3, 3, 0, -1, -2])]), [0, 1, 0, 1, 0, 0]);
    throwsCode(() => one('Softmax', [t('int32', [2], [1, 2])]), 'E_DTYPE', 'float');
  });
});

describe('CumSum', () => {
  const v = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  it('scans along the axis input, forward or reversed, inclusive or exclusive', () => {
    close(one('CumSum', [v, i64([1])]), [1, 3, 6, 4, 9, 15]);
    close(one('CumSum', [v, t('int32', [], [0])]), [1, 2, 3, 5, 7, 9]);
    close(one('CumSum', [v, i64([-1])], { exclusive: 1 }), [0, 1, 3, 0, 4, 9]);
    close(one('CumSum', [v, i64([1])], { reverse: 1 }), [6, 5, 3, 15, 11, 6]);
    close(one('CumSum', [v, i64([1])], { reverse: 1, exclusive: 1 }), [5, 3, 0, 11, 6, 0]);
    expect([...one('CumSum', [i64([2n ** 62n, 2n ** 62n, 1n]), i64([0])]).data]).toEqual([2n ** 62n, -(2n ** 63n), -(2n ** 63n) + 1n]);
    throwsCode(() => one('CumSum', [v, i64([2])]), 'E_ATTR', 'axis');
  });
});

describe('TopK', () => {
  it('largest and smallest, ties to the lower index', () => {
    const v = f32([2, 4], [1, 3, 3, 2, 5, 4, 5, 0]);
    const [values, indices] = runOp('TopK', [v, i64([2])], {}, 2) as [Tensor, Tensor];
    expect(values.shape).toEqual([2, 2]);
    close(values, [3, 3, 5, 5]);
    expect([...indices.data]).toEqual([1n, 2n, 0n, 2n]);
    const [small, smallIdx] = runOp('TopK', [v, i64([3])], { largest: 0 }, 2) as [Tensor, Tensor];
    close(small, [1, 2, 3, 0, 4, 5]);
    expect([...smallIdx.data]).toEqual([0n, 3n, 1n, 3n, 1n, 0n]);
  });
  it('along axis 0 and with K = 0', () => {
    const v = f32([3, 2], [1, 6, 5, 2, 3, 4]);
    const [values, indices] = runOp('TopK', [v, i64([1])], { axis: 0 }, 2) as [Tensor, Tensor];
    close(values, [5, 6]);
    expect([...indices.data]).toEqual([1n, 0n]);
    expect(runOp('TopK', [v, i64([0])], { axis: 0 }, 2)[0]!.shape).toEqual([0, 2]);
  });
  it('rejects K larger than the axis', () => {
    throwsCode(() => runOp('TopK', [f32([3], [1, 2, 3]), i64([4])], {}, 2), 'E_SHAPE', 'K = 4');
  });
});

const PREFIXES = ['test_reduce_', 'test_argmax_', 'test_argmin_', 'test_softmax_', 'test_logsoftmax_', 'test_hardmax_', 'test_cumsum_', 'test_top_k'];
const NODE_TESTS = existsSync(NODE_TEST_ROOT)
  ? readdirSync(NODE_TEST_ROOT).filter((n) => PREFIXES.some((p) => n.startsWith(p)) && !n.endsWith('_expanded')).sort()
  : [];

describe.skipIf(NODE_TESTS.length === 0)('ONNX backend node tests (libonnx-testdata)', () => {
  it.each(NODE_TESTS)('%s', (name) => {
    expect(checkNodeTest(name)).toBe(true);
  });
});

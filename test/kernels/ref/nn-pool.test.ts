import { describe, expect, it } from 'vitest';
import { sizeOf, type Node } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { expectClose, flatIndex, indices, randomArray, rng, tensor, toChannelsFirst, toChannelsLast } from './nn-helpers.js';

interface PoolParams {
  kernel: number[];
  strides?: number[];
  dilations?: number[];
  pads?: number[];
  ceil?: boolean;
  countIncludePad?: boolean;
}

/**
 * ONNX pooling on NCHW from the definition: the output size uses floor or
 * ceil, and a ceil window that starts past the input and the begin pad is
 * dropped. Averages divide by the taps inside the input, or with
 * count_include_pad by the taps inside the padded input.
 */
function poolNCHW(kind: 'max' | 'avg', x: number[], xs: number[], p: PoolParams): { data: number[]; shape: number[] } {
  const r = xs.length - 2;
  const s = p.strides ?? new Array<number>(r).fill(1);
  const d = p.dilations ?? new Array<number>(r).fill(1);
  const pads = p.pads ?? new Array<number>(2 * r).fill(0);
  const out = xs.slice(2).map((n, i) => {
    const span = (n + pads[i]! + pads[i + r]! - ((p.kernel[i]! - 1) * d[i]! + 1)) / s[i]!;
    let o = (p.ceil ? Math.ceil(span) : Math.floor(span)) + 1;
    if (p.ceil && (o - 1) * s[i]! >= n + pads[i]!) o--;
    return o;
  });
  const ys = [xs[0]!, xs[1]!, ...out];
  const y: number[] = [];
  for (const idx of indices(ys)) {
    let best = -Infinity, sum = 0, inside = 0, padded = 0;
    for (const kk of indices(p.kernel)) {
      const pos = kk.map((t, i) => idx[i + 2]! * s[i]! - pads[i]! + t * d[i]!);
      if (pos.every((v, i) => v >= -pads[i]! && v < xs[i + 2]! + pads[i + r]!)) padded++;
      if (pos.some((v, i) => v < 0 || v >= xs[i + 2]!)) continue;
      const v = x[flatIndex([idx[0]!, idx[1]!, ...pos], xs)]!;
      best = Math.max(best, v);
      sum += v;
      inside++;
    }
    y.push(kind === 'max' ? best : sum / (p.countIncludePad ? padded : inside));
  }
  return { data: y, shape: ys };
}

function attrsOf(p: PoolParams, extra: Node['attrs'] = {}): Node['attrs'] {
  const a: Node['attrs'] = { kernel_shape: p.kernel, ...extra };
  if (p.strides) a.strides = p.strides;
  if (p.dilations) a.dilations = p.dilations;
  if (p.pads) a.pads = p.pads;
  if (p.ceil) a.ceil_mode = 1;
  if (p.countIncludePad) a.count_include_pad = 1;
  return a;
}

/** Returns false (and checks nothing) when some window holds no input element: ONNX leaves that case undefined. */
function checkPool(kind: 'max' | 'avg', xs: number[], p: PoolParams, seed: number, extra: { attrs?: Node['attrs']; oraclePads?: number[] } = {}): boolean {
  const x = randomArray(sizeOf(xs), rng(seed), -2, 2);
  const want = poolNCHW(kind, x, xs, { ...p, pads: extra.oraclePads ?? p.pads });
  if (want.data.some((v) => !Number.isFinite(v))) return false;
  const xl = toChannelsLast(x, xs);
  const [y] = runOp(kind === 'max' ? 'MaxPool' : 'AveragePool', [tensor(xl.shape, xl.data)], attrsOf(p, extra.attrs));
  const yf = toChannelsFirst(y!.toNumbers(), y!.shape);
  expectClose(tensor(yf.shape, yf.data, 'float64'), want.shape, want.data, 1e-5);
  return true;
}

describe('MaxPool / AveragePool (channels-last)', () => {
  it('matches hand-computed 2x2 windows', () => {
    const x = tensor([1, 3, 3, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectClose(runOp('MaxPool', [x], { kernel_shape: [2, 2] })[0]!, [1, 2, 2, 1], [5, 6, 8, 9]);
    expectClose(runOp('AveragePool', [x], { kernel_shape: [2, 2] })[0]!, [1, 2, 2, 1], [3, 4, 6, 7]);
    // ONNX's averagepool_2d_ceil: 4x4, kernel 3, stride 2, ceil_mode → 2x2.
    const x4 = tensor([1, 4, 4, 1], Array.from({ length: 16 }, (_, i) => i + 1));
    expectClose(runOp('AveragePool', [x4], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })[0]!, [1, 2, 2, 1], [6, 7.5, 12, 13.5]);
  });

  it('matches the definition with strides, dilations and pads', () => {
    checkPool('max', [2, 3, 7, 6], { kernel: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 1, 1] }, 1);
    checkPool('avg', [2, 3, 7, 6], { kernel: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 1, 1] }, 2);
    checkPool('avg', [1, 2, 6, 7], { kernel: [3, 3], strides: [2, 2], pads: [1, 2, 1, 0], countIncludePad: true }, 3);
  });

  it('drops ceil_mode windows that would start in the end padding', () => {
    // in 5, kernel 2, stride 2, pad end 1: ceil gives 3 windows, the third starts at 4 (inside the input).
    checkPool('max', [1, 2, 5, 5], { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1], ceil: true }, 4);
    // in 6, kernel 1, stride 3, pads 1/1: a fourth ceil window would start at 9 > 6 + 1 and is dropped.
    checkPool('avg', [1, 2, 6, 6], { kernel: [1, 1], strides: [3, 3], pads: [1, 1, 1, 1], ceil: true }, 5);
    checkPool('avg', [1, 3, 6, 7], { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil: true, countIncludePad: true }, 6);
    const y = runOp('MaxPool', [tensor([1, 6, 6, 1], new Array(36).fill(0))], { kernel_shape: [1, 1], strides: [3, 3], pads: [1, 1, 1, 1], ceil_mode: 1 })[0]!;
    expect(y.shape).toEqual([1, 3, 3, 1]);
  });

  it('resolves auto_pad SAME_UPPER / SAME_LOWER', () => {
    checkPool('avg', [1, 2, 5, 5], { kernel: [2, 3], strides: [2, 2] }, 7, { attrs: { auto_pad: 'SAME_UPPER' }, oraclePads: [0, 1, 1, 1] });
    checkPool('max', [1, 2, 5, 5], { kernel: [2, 3], strides: [2, 2] }, 8, { attrs: { auto_pad: 'SAME_LOWER' }, oraclePads: [1, 1, 0, 1] });
  });

  it('works in 1-D and 3-D', () => {
    checkPool('max', [1, 3, 10], { kernel: [3], strides: [2], pads: [1, 1] }, 9);
    checkPool('avg', [1, 2, 4, 5, 6], { kernel: [2, 2, 3], strides: [1, 2, 2], pads: [0, 1, 1, 1, 0, 1], countIncludePad: true }, 10);
  });

  it('applies the fused activation', () => {
    const x = tensor([1, 1, 4, 1], [-3, 2, 7, 9]);
    expectClose(runOp('MaxPool', [x], { kernel_shape: [1, 2], strides: [1, 2], activation: 'relu6' })[0]!, [1, 1, 2, 1], [2, 6]);
  });

  it('requires kernel_shape and names the node', () => {
    expect(() => runOp('MaxPool', [tensor([1, 2, 2, 1], [1, 2, 3, 4])])).toThrow(/MaxPool_test.*kernel_shape/);
    expect(() => runOp('AveragePool', [tensor([1, 2, 2, 1], [1, 2, 3, 4])], { kernel_shape: [3, 3] })).toThrow(/AveragePool_test.*larger than/);
  });

  it('agrees with the definition on random configurations', () => {
    const rand = rng(77);
    const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    let checked = 0;
    for (let t = 0; t < 60; t++) {
      const r = pick(1, 3);
      const kernel = Array.from({ length: r }, () => pick(1, 3));
      const dilations = Array.from({ length: r }, () => pick(1, 2));
      const strides = Array.from({ length: r }, () => pick(1, 3));
      const pads = Array.from({ length: 2 * r }, (_, i) => pick(0, kernel[i % r]! - 1));
      const size = kernel.map((k, i) => (k - 1) * dilations[i]! + 1 + pick(0, 4));
      const p: PoolParams = { kernel, dilations, strides, pads, ceil: rand() < 0.5, countIncludePad: rand() < 0.5 };
      if (checkPool(t % 2 ? 'max' : 'avg', [pick(1, 2), pick(1, 3), ...size], p, 500 + t)) checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });
});

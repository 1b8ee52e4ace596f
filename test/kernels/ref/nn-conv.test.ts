import { describe, expect, it } from 'vitest';
import { CloudlessError, channelsLastPerm, sizeOf, type DType, type Node } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import {
  expectClose, flatIndex, indices, randomArray, rng, tensor, toChannelsFirst, toChannelsLast, transpose,
} from './nn-helpers.js';

interface ConvParams {
  strides?: number[];
  dilations?: number[];
  pads?: number[];
  group?: number;
}

/** ONNX Conv on NCHW with weights [Cout, Cin/group, *K], straight from the definition. */
function convNCHW(x: number[], xs: number[], w: number[], ws: number[], b: number[] | undefined, p: ConvParams): { data: number[]; shape: number[] } {
  const r = xs.length - 2;
  const strides = p.strides ?? new Array<number>(r).fill(1);
  const dil = p.dilations ?? new Array<number>(r).fill(1);
  const pads = p.pads ?? new Array<number>(2 * r).fill(0);
  const group = p.group ?? 1;
  const cout = ws[0]!, cinG = ws[1]!, coutG = cout / group;
  const k = ws.slice(2);
  const out = xs.slice(2).map((n, i) => Math.floor((n + pads[i]! + pads[i + r]! - ((k[i]! - 1) * dil[i]! + 1)) / strides[i]!) + 1);
  const ys = [xs[0]!, cout, ...out];
  const y = new Array<number>(sizeOf(ys)).fill(0);
  let yi = 0;
  for (const idx of indices(ys)) {
    const [n, oc] = idx as [number, number];
    const g = Math.floor(oc / coutG);
    let s = b ? b[oc]! : 0;
    for (let ic = 0; ic < cinG; ic++) {
      for (const kk of indices(k)) {
        const pos = kk.map((t, d) => idx[d + 2]! * strides[d]! - pads[d]! + t * dil[d]!);
        if (pos.some((v, d) => v < 0 || v >= xs[d + 2]!)) continue;
        s += x[flatIndex([n, g * cinG + ic, ...pos], xs)]! * w[flatIndex([oc, ic, ...kk], ws)]!;
      }
    }
    y[yi++] = s;
  }
  return { data: y, shape: ys };
}

/** ONNX ConvTranspose on NCHW with weights [Cin, Cout/group, *K]: scatter into the unpadded output, then crop the pads. */
function convTransposeNCHW(x: number[], xs: number[], w: number[], ws: number[], b: number[] | undefined, p: ConvParams & { outputPadding?: number[] }): { data: number[]; shape: number[] } {
  const r = xs.length - 2;
  const strides = p.strides ?? new Array<number>(r).fill(1);
  const dil = p.dilations ?? new Array<number>(r).fill(1);
  const pads = p.pads ?? new Array<number>(2 * r).fill(0);
  const op = p.outputPadding ?? new Array<number>(r).fill(0);
  const group = p.group ?? 1;
  const cin = xs[1]!, cinG = cin / group, coutG = ws[1]!, cout = coutG * group;
  const k = ws.slice(2);
  const full = xs.slice(2).map((n, i) => strides[i]! * (n - 1) + op[i]! + (k[i]! - 1) * dil[i]! + 1);
  const fs = [xs[0]!, cout, ...full];
  const yf = new Array<number>(sizeOf(fs)).fill(0);
  for (const idx of indices(xs)) {
    const [n, ic] = idx as [number, number];
    const g = Math.floor(ic / cinG);
    const xv = x[flatIndex(idx, xs)]!;
    for (let oc = 0; oc < coutG; oc++) {
      for (const kk of indices(k)) {
        const pos = kk.map((t, d) => idx[d + 2]! * strides[d]! + t * dil[d]!);
        const at = flatIndex([n, g * coutG + oc, ...pos], fs);
        yf[at] = yf[at]! + xv * w[flatIndex([ic, oc, ...kk], ws)]!;
      }
    }
  }
  const out = full.map((f, i) => f - pads[i]! - pads[i + r]!);
  const ys = [xs[0]!, cout, ...out];
  const y: number[] = [];
  for (const idx of indices(ys)) {
    const src = [idx[0]!, idx[1]!, ...idx.slice(2).map((o, d) => o + pads[d]!)];
    y.push(yf[flatIndex(src, fs)]! + (b ? b[idx[1]!]! : 0));
  }
  return { data: y, shape: ys };
}

function attrsOf(p: ConvParams & { outputPadding?: number[] }, extra: Node['attrs'] = {}): Node['attrs'] {
  const a: Node['attrs'] = { ...extra };
  if (p.strides) a.strides = p.strides;
  if (p.dilations) a.dilations = p.dilations;
  if (p.pads) a.pads = p.pads;
  if (p.group) a.group = p.group;
  if (p.outputPadding) a.output_padding = p.outputPadding;
  return a;
}

/** Runs our channels-last Conv on NCHW data (transposing in and out) and compares with the oracle. */
function checkConv(xs: number[], ws: number[], p: ConvParams, seed: number, opts: { bias?: boolean; dtype?: DType; attrs?: Node['attrs']; oraclePads?: number[] } = {}): void {
  const rand = rng(seed);
  const x = randomArray(sizeOf(xs), rand);
  const w = randomArray(sizeOf(ws), rand);
  const b = opts.bias === false ? undefined : randomArray(ws[0]!, rand);
  const want = convNCHW(x, xs, w, ws, b, { ...p, pads: opts.oraclePads ?? p.pads });
  const xl = toChannelsLast(x, xs);
  const wl = transpose(w, ws, channelsLastPerm(ws.length));
  const dtype = opts.dtype ?? 'float32';
  const [y] = runOp('Conv', [tensor(xl.shape, xl.data, dtype), tensor(wl.shape, wl.data, dtype), b ? tensor([b.length], b, dtype) : undefined], attrsOf(p, opts.attrs));
  const yf = toChannelsFirst(y!.toNumbers(), y!.shape);
  expect(y!.dtype).toBe(dtype);
  expectClose(tensor(yf.shape, yf.data, 'float64'), want.shape, want.data, 1e-5);
}

describe('Conv (channels-last, OHWI)', () => {
  it('computes a hand-checked 3x3 * 2x2 sum', () => {
    const [y] = runOp('Conv', [tensor([1, 3, 3, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9]), tensor([1, 2, 2, 1], [1, 1, 1, 1]), tensor([1], [0.5])]);
    expectClose(y!, [1, 2, 2, 1], [12.5, 16.5, 24.5, 28.5]);
  });

  it('matches the NCHW definition with strides, dilations and asymmetric pads', () => {
    checkConv([2, 3, 7, 6], [4, 3, 3, 3], { strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] }, 1);
    checkConv([1, 2, 9, 8], [3, 2, 2, 3], { strides: [3, 2], dilations: [2, 1], pads: [0, 2, 1, 0] }, 2, { bias: false });
  });

  it('matches with groups, including one group per channel', () => {
    checkConv([1, 4, 5, 6], [6, 2, 2, 3], { group: 2, pads: [0, 1, 1, 0] }, 3);
    checkConv([2, 3, 6, 5], [6, 1, 3, 3], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }, 4);
  });

  it('matches in 1-D and 3-D', () => {
    checkConv([1, 3, 11], [5, 3, 4], { strides: [3], dilations: [2], pads: [2, 1] }, 5);
    checkConv([1, 2, 4, 5, 3], [3, 2, 2, 3, 2], { strides: [1, 2, 1], pads: [1, 0, 1, 0, 1, 0] }, 6);
    checkConv([2, 4, 3, 4, 5], [4, 2, 1, 2, 2], { group: 2, dilations: [1, 2, 2] }, 7);
  });

  it('takes the 1x1 path and agrees with the definition', () => {
    checkConv([2, 5, 3, 4], [7, 5, 1, 1], {}, 8);
    checkConv([1, 6, 4, 4], [3, 6, 1, 1], { strides: [2, 2] }, 9, { bias: false });
  });

  it('resolves auto_pad SAME_UPPER, SAME_LOWER and VALID', () => {
    // in 7, kernel 4, stride 2: out 4, total pad 3 (upper puts the odd one at the end).
    checkConv([1, 2, 7, 7], [3, 2, 4, 4], { strides: [2, 2] }, 10, { attrs: { auto_pad: 'SAME_UPPER' }, oraclePads: [1, 1, 2, 2] });
    checkConv([1, 2, 7, 7], [3, 2, 4, 4], { strides: [2, 2] }, 11, { attrs: { auto_pad: 'SAME_LOWER' }, oraclePads: [2, 2, 1, 1] });
    checkConv([1, 2, 7, 6], [3, 2, 3, 2], { strides: [2, 3] }, 12, { attrs: { auto_pad: 'VALID' }, oraclePads: [0, 0, 0, 0] });
  });

  it('runs in float64', () => {
    checkConv([1, 3, 5, 5], [2, 3, 3, 3], { pads: [1, 1, 1, 1] }, 13, { dtype: 'float64' });
  });

  it('applies the fused activation', () => {
    const x = tensor([1, 1, 4, 1], [-3, -0.5, 0.5, 8]);
    const w = tensor([1, 1, 1, 1], [1]);
    expectClose(runOp('Conv', [x, w], { activation: 'relu' })[0]!, [1, 1, 4, 1], [0, 0, 0.5, 8]);
    expectClose(runOp('Conv', [x, w], { activation: 'relu6' })[0]!, [1, 1, 4, 1], [0, 0, 0.5, 6]);
    expectClose(runOp('Conv', [x, w], { activation: 'relu_n1_to_1' })[0]!, [1, 1, 4, 1], [-1, -0.5, 0.5, 1]);
    expect(() => runOp('Conv', [x, w], { activation: 'gelu' })).toThrow(/activation "gelu"/);
  });

  it('names the node when channel counts do not fit', () => {
    const x = tensor([1, 4, 4, 3], new Array(48).fill(0));
    const w = tensor([2, 3, 3, 2], new Array(36).fill(0));
    let err: unknown;
    try { runOp('Conv', [x, w]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_SHAPE');
    expect((err as CloudlessError).message).toMatch(/Conv_test.*3 channels.*expects 2/);
    expect(() => runOp('Conv', [x, tensor([2, 3, 3, 3], new Array(54).fill(0)), tensor([3], [0, 0, 0])])).toThrow(/bias/);
    expect(() => runOp('Conv', [x, tensor([4, 3, 3, 1], new Array(36).fill(0))], { group: 3 })).toThrow(/group 3 must divide/);
  });
});

function checkDepthwise(xs: number[], k: number[], m: number, p: ConvParams, seed: number): void {
  const rand = rng(seed);
  const c = xs[1]!;
  const ws = [c * m, 1, ...k];
  const x = randomArray(sizeOf(xs), rand);
  const w = randomArray(sizeOf(ws), rand);
  const b = randomArray(c * m, rand);
  const want = convNCHW(x, xs, w, ws, b, { ...p, group: c });
  const xl = toChannelsLast(x, xs);
  // ONNX [C*M, 1, *K] → 1HWO [1, *K, C*M].
  const wl = transpose(w, ws, [1, ...k.map((_, i) => i + 2), 0]);
  const [y] = runOp('DepthwiseConv', [tensor(xl.shape, xl.data), tensor(wl.shape, wl.data), tensor([c * m], b)], attrsOf(p));
  const yf = toChannelsFirst(y!.toNumbers(), y!.shape);
  expectClose(tensor(yf.shape, yf.data, 'float64'), want.shape, want.data, 1e-5);
}

describe('DepthwiseConv (1HWO)', () => {
  it('matches a grouped NCHW conv with multiplier 1 and 3', () => {
    checkDepthwise([2, 3, 6, 5], [3, 3], 1, { pads: [1, 1, 1, 1] }, 21);
    checkDepthwise([1, 4, 7, 6], [3, 2], 3, { strides: [2, 1], dilations: [1, 2], pads: [0, 1, 2, 0] }, 22);
  });

  it('works in 1-D and 3-D', () => {
    checkDepthwise([1, 5, 9], [3], 2, { strides: [2], pads: [1, 1] }, 23);
    checkDepthwise([1, 2, 3, 4, 5], [2, 2, 3], 1, { pads: [0, 1, 1, 1, 0, 1] }, 24);
  });

  it('rejects a channel count that is not a multiple', () => {
    expect(() => runOp('DepthwiseConv', [tensor([1, 3, 3, 2], new Array(18).fill(0)), tensor([1, 2, 2, 3], new Array(12).fill(0))]))
      .toThrow(/DepthwiseConv_test.*not a multiple/);
  });
});

function checkConvTranspose(xs: number[], ws: number[], p: ConvParams & { outputPadding?: number[] }, seed: number, opts: { attrs?: Node['attrs']; oraclePads?: number[] } = {}): void {
  const rand = rng(seed);
  const x = randomArray(sizeOf(xs), rand);
  const w = randomArray(sizeOf(ws), rand);
  const b = randomArray(ws[1]! * (p.group ?? 1), rand);
  const want = convTransposeNCHW(x, xs, w, ws, b, { ...p, pads: opts.oraclePads ?? p.pads });
  const xl = toChannelsLast(x, xs);
  const wl = transpose(w, ws, channelsLastPerm(ws.length));
  const [y] = runOp('ConvTranspose', [tensor(xl.shape, xl.data), tensor(wl.shape, wl.data), tensor([b.length], b)], attrsOf(p, opts.attrs));
  const yf = toChannelsFirst(y!.toNumbers(), y!.shape);
  expectClose(tensor(yf.shape, yf.data, 'float64'), want.shape, want.data, 1e-5);
}

describe('ConvTranspose (IHWO)', () => {
  it('reproduces ONNX\'s 3x3 example', () => {
    const x = tensor([1, 3, 3, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const w = tensor([1, 3, 3, 2], new Array(18).fill(1));
    const [y] = runOp('ConvTranspose', [x, w]);
    const plane = [0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8];
    expectClose(y!, [1, 5, 5, 2], plane.flatMap((v) => [v, v]));
  });

  it('matches the scatter definition with strides, dilations, pads and output_padding', () => {
    checkConvTranspose([1, 2, 3, 4], [2, 3, 3, 3], { strides: [2, 3], dilations: [1, 2], pads: [1, 0, 0, 2], outputPadding: [1, 1] }, 31);
    checkConvTranspose([2, 4, 3, 3], [4, 2, 2, 2], { group: 2, strides: [2, 2] }, 32);
  });

  it('derives pads from output_shape and from auto_pad', () => {
    // in 3, stride 2, kernel 3: unpadded 7; output_shape 6 → total 1 → begin 1, end 0 (NOTSET puts the odd one first).
    checkConvTranspose([1, 1, 3, 3], [1, 2, 3, 3], { strides: [2, 2] }, 33, { attrs: { output_shape: [6, 6] }, oraclePads: [1, 1, 0, 0] });
    // SAME_UPPER: target in*stride = 6 → total 1 → begin 0, end 1.
    checkConvTranspose([1, 1, 3, 3], [1, 2, 3, 3], { strides: [2, 2] }, 34, { attrs: { auto_pad: 'SAME_UPPER' }, oraclePads: [0, 0, 1, 1] });
    checkConvTranspose([1, 1, 3, 3], [1, 2, 3, 3], { strides: [2, 2] }, 35, { attrs: { auto_pad: 'SAME_LOWER' }, oraclePads: [1, 1, 0, 0] });
  });

  it('lets output_shape exceed the unpadded size: the extra cells hold only the bias', () => {
    const x = tensor([1, 2, 1], [1, 2]), w = tensor([1, 2, 1], [1, 1]), b = tensor([1], [0.5]);
    expectClose(runOp('ConvTranspose', [x, w, b], { output_shape: [4] })[0]!, [1, 4, 1], [1.5, 3.5, 2.5, 0.5]);
    expectClose(runOp('ConvTranspose', [x, w, b], { output_shape: [4], auto_pad: 'SAME_UPPER' })[0]!, [1, 4, 1], [0.5, 1.5, 3.5, 2.5]);
  });

  it('works in 1-D and 3-D', () => {
    checkConvTranspose([1, 2, 5], [2, 3, 3], { strides: [3], pads: [1, 2], outputPadding: [2] }, 36);
    checkConvTranspose([1, 2, 2, 3, 2], [2, 2, 2, 2, 3], { strides: [2, 1, 2], dilations: [1, 2, 1] }, 37);
  });
});

describe('FullyConnected', () => {
  const rand = rng(41);
  const x = randomArray(24, rand), w = randomArray(20, rand), b = randomArray(5, rand);
  const want: number[] = [];
  for (let r = 0; r < 6; r++) {
    for (let o = 0; o < 5; o++) {
      let s = b[o]!;
      for (let k = 0; k < 4; k++) s += x[r * 4 + k]! * w[o * 4 + k]!;
      want.push(s);
    }
  }

  it('flattens the leading axes unless keep_num_dims', () => {
    expectClose(runOp('FullyConnected', [tensor([2, 3, 4], x), tensor([5, 4], w), tensor([5], b)])[0]!, [6, 5], want);
    expectClose(runOp('FullyConnected', [tensor([2, 3, 4], x), tensor([5, 4], w), tensor([5], b)], { keep_num_dims: 1 })[0]!, [2, 3, 5], want);
  });

  it('reads TFLite-style inputs whose last axis is not K', () => {
    expectClose(runOp('FullyConnected', [tensor([2, 12], x), tensor([5, 4], w), tensor([5], b)])[0]!, [6, 5], want);
  });

  it('clamps with relu_n1_to_1 and rejects a K that does not divide', () => {
    const [y] = runOp('FullyConnected', [tensor([6, 4], x), tensor([5, 4], w)], { activation: 'relu_n1_to_1' });
    const nob = want.map((v, i) => Math.min(1, Math.max(-1, v - b[i % 5]!)));
    expectClose(y!, [6, 5], nob);
    expect(() => runOp('FullyConnected', [tensor([5], [1, 2, 3, 4, 5]), tensor([5, 4], w)])).toThrow(/FullyConnected_test.*K = 4/);
  });
});

describe('random configurations against the NCHW definitions', () => {
  const rand = rng(99);
  const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const spatialParams = (r: number) => {
    const k = Array.from({ length: r }, () => pick(1, 3));
    const dilations = Array.from({ length: r }, () => pick(1, 2));
    const strides = Array.from({ length: r }, () => pick(1, 3));
    const pads = Array.from({ length: 2 * r }, () => pick(0, 2));
    const size = k.map((kk, i) => (kk - 1) * dilations[i]! + 1 + pick(0, 4));
    return { k, dilations, strides, pads, size };
  };

  it('Conv with odd sizes, strides, dilations, pads and groups', () => {
    for (let t = 0; t < 40; t++) {
      const r = pick(1, 3);
      const group = pick(1, 3), cinG = pick(1, 4), coutG = pick(1, 5);
      const { k, dilations, strides, pads, size } = spatialParams(r);
      checkConv([pick(1, 2), cinG * group, ...size], [coutG * group, cinG, ...k], { strides, dilations, pads, group }, 1000 + t, { bias: t % 3 !== 0 });
    }
  });

  it('DepthwiseConv and ConvTranspose likewise', () => {
    for (let t = 0; t < 30; t++) {
      const r = pick(1, 3);
      const { k, dilations, strides, pads, size } = spatialParams(r);
      checkDepthwise([pick(1, 2), pick(1, 4), ...size], k, pick(1, 3), { strides, dilations, pads }, 2000 + t);
      const group = pick(1, 2), cinG = pick(1, 3), coutG = pick(1, 3);
      // Pads must leave a non-empty output: keep begin + end below the kernel extent.
      const extent = k.map((kk, i) => (kk - 1) * dilations[i]!);
      const begins = extent.map((e, i) => Math.min(pads[i]!, e));
      const tpads = [...begins, ...extent.map((e, i) => Math.min(pads[i + r]!, e - begins[i]!))];
      const outputPadding = strides.map((s) => pick(0, s - 1));
      checkConvTranspose([1, cinG * group, ...size.map((s) => Math.max(1, s - 2))], [cinG * group, coutG, ...k],
        { strides, dilations, pads: tpads, group, outputPadding }, 3000 + t);
    }
  });
});

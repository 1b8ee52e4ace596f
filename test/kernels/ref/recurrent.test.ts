import { describe, expect, it } from 'vitest';
import { Tensor, type Node } from '../../../src/ir/index.js';
import { recurrentKernels } from '../../../src/kernels/ref/recurrent.js';
import { defaultRegistry, runOp } from '../../../src/runtime/index.js';

if (defaultRegistry.candidates('ref', 'LSTM').length === 0) defaultRegistry.registerAll(recurrentKernels);

const f32 = (shape: number[], values: number[]) => Tensor.fromNumbers('float32', shape, values);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Deterministic values in [-0.5, 0.5). */
function values(n: number, seed: number): number[] {
  let a = seed;
  return Array.from({ length: n }, () => { a = (a * 1103515245 + 12345) % 2147483648; return a / 2147483648 - 0.5; });
}

function close(got: Tensor, want: number[]): void {
  expect(got.size).toBe(want.length);
  got.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
}

/** out.shape[k] = t.shape[perm[k]]: moves between the batch-first and sequence-first layouts. */
function permute(t: Tensor, perm: number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]!);
  const out = new Tensor(t.dtype, shape);
  const src = t.toNumbers();
  const inStr = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.size; i++) {
    let off = 0;
    idx.forEach((v, k) => { off += v * inStr[perm[k]!]!; });
    (out.data as Float32Array)[i] = src[off]!;
    for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k]! < shape[k]!) break; idx[k] = 0; }
  }
  return out;
}

describe('RNN', () => {
  it('computes h = tanh(W·x + R·h + Wb + Rb) step by step', () => {
    const x = f32([2, 1, 1], [1, -2]);
    const [y, yh] = runOp('RNN', [x, f32([1, 1, 1], [0.5]), f32([1, 1, 1], [0.25]), f32([1, 2], [0.1, -0.2]), undefined, f32([1, 1, 1], [0.4])],
      { hidden_size: 1 }, 2);
    const h1 = Math.tanh(0.5 * 1 + 0.25 * 0.4 - 0.1);
    const h2 = Math.tanh(0.5 * -2 + 0.25 * h1 - 0.1);
    close(y!, [h1, h2]);
    close(yh!, [h2]);
  });
});

describe('GRU', () => {
  it('applies the reset gate before or after R·h as linear_before_reset says', () => {
    const x = f32([1, 1, 1], [0.7]);
    const w = f32([1, 3, 1], [0.3, -0.4, 0.9]), r = f32([1, 3, 1], [0.2, 0.5, -0.6]);
    const b = f32([1, 6], [0.1, 0.2, 0.3, -0.1, 0.05, 0.4]);
    const h0 = f32([1, 1, 1], [0.5]);
    const z = sigmoid(0.3 * 0.7 + 0.2 * 0.5 + 0.1 - 0.1);
    const rr = sigmoid(-0.4 * 0.7 + 0.5 * 0.5 + 0.2 + 0.05);
    const after = Math.tanh(0.9 * 0.7 + -0.6 * (rr * 0.5) + 0.4 + 0.3);
    const before = Math.tanh(0.9 * 0.7 + rr * (-0.6 * 0.5 + 0.4) + 0.3);
    close(runOp('GRU', [x, w, r, b, undefined, h0], { hidden_size: 1 }, 2)[1]!, [(1 - z) * after + z * 0.5]);
    close(runOp('GRU', [x, w, r, b, undefined, h0], { hidden_size: 1, linear_before_reset: 1 }, 2)[1]!, [(1 - z) * before + z * 0.5]);
  });
});

describe('LSTM', () => {
  const S = 4, B = 2, I = 3, H = 2;
  const x = f32([S, B, I], values(S * B * I, 1));
  const w = f32([2, 4 * H, I], values(2 * 4 * H * I, 2));
  const r = f32([2, 4 * H, H], values(2 * 4 * H * H, 3));
  const b = f32([2, 8 * H], values(2 * 8 * H, 4));
  const h0 = f32([2, B, H], values(2 * B * H, 5));
  const c0 = f32([2, B, H], values(2 * B * H, 6));
  const p = f32([2, 3 * H], values(2 * 3 * H, 7));
  const half = (t: Tensor, d: number) => new Tensor('float32', [1, ...t.shape.slice(1)], (t.data as Float32Array).slice(d * t.size / 2, (d + 1) * t.size / 2));

  it('matches the equations by hand for one step of one unit', () => {
    const [y, yh, yc] = runOp('LSTM', [f32([1, 1, 1], [0.5]), f32([1, 4, 1], [0.1, 0.2, 0.3, 0.4]), f32([1, 4, 1], [0.5, 0.6, 0.7, 0.8]),
      undefined, undefined, f32([1, 1, 1], [0.3]), f32([1, 1, 1], [-0.2])], { hidden_size: 1 }, 3);
    const i = sigmoid(0.1 * 0.5 + 0.5 * 0.3), o = sigmoid(0.2 * 0.5 + 0.6 * 0.3), f = sigmoid(0.3 * 0.5 + 0.7 * 0.3);
    const c = f * -0.2 + i * Math.tanh(0.4 * 0.5 + 0.8 * 0.3);
    close(yc!, [c]);
    close(yh!, [o * Math.tanh(c)]);
    close(y!, [o * Math.tanh(c)]);
  });

  it('runs bidirectional as a forward and a reverse pass with each direction\'s weights', () => {
    const [y, yh, yc] = runOp('LSTM', [x, w, r, b, undefined, h0, c0, p], { hidden_size: H, direction: 'bidirectional' }, 3);
    expect(y!.shape).toEqual([S, 2, B, H]);
    for (const [d, direction] of [[0, 'forward'], [1, 'reverse']] as const) {
      const [yd, yhd, ycd] = runOp('LSTM', [x, half(w, d), half(r, d), half(b, d), undefined, half(h0, d), half(c0, d), half(p, d)], { hidden_size: H, direction }, 3);
      const ys = y!.toNumbers();
      const want = yd!.toNumbers();
      for (let t = 0; t < S; t++) {
        for (let k = 0; k < B * H; k++) expect(ys[(t * 2 + d) * B * H + k]).toBeCloseTo(want[t * B * H + k]!, 6);
      }
      expect(yh!.toNumbers().slice(d * B * H, (d + 1) * B * H)).toEqual(yhd!.toNumbers());
      expect(yc!.toNumbers().slice(d * B * H, (d + 1) * B * H)).toEqual(ycd!.toNumbers());
    }
  });

  it('gives layout 1 the batch-first transposes of layout 0', () => {
    const inputs = [x, w, r, b, undefined, h0, c0, p];
    const a = runOp('LSTM', inputs, { hidden_size: H, direction: 'bidirectional' }, 3);
    const bf = runOp('LSTM', [permute(x, [1, 0, 2]), w, r, b, undefined, permute(h0, [1, 0, 2]), permute(c0, [1, 0, 2]), p],
      { hidden_size: H, direction: 'bidirectional', layout: 1 }, 3);
    expect(bf[0]!.toNumbers()).toEqual(permute(a[0]!, [2, 0, 1, 3]).toNumbers());
    expect(bf[1]!.toNumbers()).toEqual(permute(a[1]!, [1, 0, 2]).toNumbers());
  });

  it('stops each batch entry at its sequence length: zeros in Y, the last real state in Y_h', () => {
    const lens = Tensor.fromNumbers('int32', [B], [2, 4]);
    const [y, yh] = runOp('LSTM', [x, half(w, 0), half(r, 0), half(b, 0), lens], { hidden_size: H }, 2);
    const short = runOp('LSTM', [new Tensor('float32', [2, B, I], (x.data as Float32Array).slice(0, 2 * B * I)), half(w, 0), half(r, 0), half(b, 0)], { hidden_size: H }, 2);
    const ys = y!.toNumbers();
    for (let t = 2; t < S; t++) expect(ys.slice(t * B * H, t * B * H + H)).toEqual([0, 0]);
    expect(yh!.toNumbers().slice(0, H)).toEqual(short[1]!.toNumbers().slice(0, H));
  });

  it('refuses an unknown activation by name', () => {
    const node: Node['attrs'] = { hidden_size: H, activations: ['Sigmoid', 'Gelu', 'Tanh'] };
    expect(() => runOp('LSTM', [x, half(w, 0), half(r, 0)], node, 1)).toThrow(/activation Gelu is not supported/);
  });
});

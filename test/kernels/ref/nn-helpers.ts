/**
 * Test helpers for the NN kernels: seeded random tensors, transposes between
 * channels-first and channels-last, and closeness checks. The brute-force
 * oracles in the tests work in ONNX's NCHW layout on plain number arrays.
 */
import { expect } from 'vitest';
import { Tensor, channelsFirstPerm, channelsLastPerm, sizeOf, stridesOf, type DType } from '../../../src/ir/index.js';

/** A small deterministic generator (LCG) so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function randomArray(n: number, rand: () => number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** Transposes a row-major array of `shape` by `perm` (output axis i is input axis perm[i]). */
export function transpose(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): { data: number[]; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = stridesOf(shape);
  const outStrides = stridesOf(outShape);
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    let rest = i, src = 0;
    for (let d = 0; d < outShape.length; d++) {
      const q = Math.floor(rest / outStrides[d]!);
      rest -= q * outStrides[d]!;
      src += q * inStrides[perm[d]!]!;
    }
    out[i] = data[src]!;
  }
  return { data: out, shape: outShape };
}

export function toChannelsLast(data: ArrayLike<number>, shape: readonly number[]): { data: number[]; shape: number[] } {
  return transpose(data, shape, channelsLastPerm(shape.length));
}

export function toChannelsFirst(data: ArrayLike<number>, shape: readonly number[]): { data: number[]; shape: number[] } {
  return transpose(data, shape, channelsFirstPerm(shape.length));
}

export function tensor(shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'float32'): Tensor {
  return Tensor.fromNumbers(dtype, shape, data);
}

export function expectClose(actual: Tensor, shape: readonly number[], expected: ArrayLike<number>, tol = 1e-5): void {
  expect([...actual.shape]).toEqual([...shape]);
  expect(actual.size).toBe(sizeOf(shape));
  const a = actual.toNumbers();
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(a[i]! - e) / Math.max(1, Math.abs(e));
    if (!(err <= worst)) { worst = err; at = i; }
  }
  if (!(worst <= tol)) {
    throw new Error(`element ${at}: got ${a[at]}, expected ${expected[at]} (relative error ${worst} > ${tol})`);
  }
}

/** Iterates over all multi-indices of `shape` in row-major order. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    yield idx;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

export function flatIndex(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let d = 0; d < shape.length; d++) f = f * shape[d]! + idx[d]!;
  return f;
}

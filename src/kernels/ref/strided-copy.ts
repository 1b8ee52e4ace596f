/**
 * The one loop behind most data-movement kernels: write `dst` contiguously in
 * row-major order of `shape`, reading `src` at `offset + Σ i_k · strides_k`.
 * Slice (strides scaled by steps), Transpose (strides permuted), Expand
 * (stride 0 on broadcast axes) and Tile (the input seen as [1, d0, 1, d1, …]
 * broadcast to [r0, d0, r1, d1, …]) are all this copy with different strides.
 *
 * Plans are simplified before use: size-1 axes are dropped and neighbours that
 * are contiguous in the source are merged, so the inner loop runs as long as
 * possible and a transposition of merged blocks is recognised by its shape.
 */
import type { NumberArray, Tensor } from '../../ir/index.js';
import { sizeOf } from '../../ir/index.js';

export interface StridedPlan {
  shape: number[];
  strides: number[];
  offset: number;
  size: number;
  /** Odometer scratch, one counter per axis (allocated once, reused by every run). */
  counter: Int32Array;
}

export function planStrided(shape: readonly number[], strides: readonly number[], offset = 0): StridedPlan {
  const size = sizeOf(shape);
  const outShape: number[] = [];
  const outStrides: number[] = [];
  if (size > 0) {
    shape.forEach((d, k) => {
      if (d === 1) return;
      const last = outShape.length - 1;
      if (last >= 0 && outStrides[last] === strides[k]! * d) {
        outShape[last]! *= d;
        outStrides[last] = strides[k]!;
      } else {
        outShape.push(d);
        outStrides.push(strides[k]!);
      }
    });
  }
  return { shape: outShape, strides: outStrides, offset, size, counter: new Int32Array(outShape.length) };
}

/**
 * Typed arrays are moved element by element without arithmetic, so one
 * element type stands for all of them (BigInt64Array included) at this level.
 */
export function elements(t: Tensor): NumberArray {
  return t.data as NumberArray;
}

export function runStrided(dst: NumberArray, dstOffset: number, src: NumberArray, plan: StridedPlan): void {
  const { shape, strides, size, counter } = plan;
  if (size === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[plan.offset]!;
    return;
  }
  const n = shape[rank - 1]!;
  const step = strides[rank - 1]!;
  const rows = size / n;
  counter.fill(0);
  let base = plan.offset;
  let d = dstOffset;
  for (let row = 0; row < rows; row++) {
    let j = base;
    for (let i = 0; i < n; i++, j += step) dst[d++] = src[j]!;
    for (let k = rank - 2; k >= 0; k--) {
      base += strides[k]!;
      if (++counter[k]! < shape[k]!) break;
      base -= strides[k]! * shape[k]!;
      counter[k] = 0;
    }
  }
}

/** Copies `n` elements between arrays of the same element type. */
export function copyElements(dst: NumberArray, dstOffset: number, src: NumberArray, srcOffset: number, n: number): void {
  for (let i = 0; i < n; i++) dst[dstOffset + i] = src[srcOffset + i]!;
}

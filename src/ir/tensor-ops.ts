/**
 * Whole-tensor rearrangements that importers and passes apply to constants at
 * load time (weights turned from one layout into another). Kernels do the same
 * at run time on arena buffers; these allocate their result.
 */
import { Tensor, stridesOf } from './tensor.js';

/**
 * out.shape[i] = t.shape[perm[i]]. A per-axis quantization follows its axis to
 * its new position, so a transposed weight keeps describing the same channels.
 */
export function transposeTensor(t: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => t.shape[p]!);
  const out = new Tensor(t.dtype, shape, undefined, t.quant && t.quant.axis !== undefined ? { ...t.quant, axis: perm.indexOf(t.quant.axis) } : t.quant);
  const inStrides = stridesOf(t.shape);
  const srcStride = perm.map((p) => inStrides[p]!);
  const rank = shape.length;
  const src = t.data as unknown as ArrayLike<number | bigint>;
  const dst = out.data as unknown as { [i: number]: number | bigint };
  const n = out.size;
  if (n === 0) return out;
  if (rank === 0) { dst[0] = src[0]!; return out; }
  // Walks the output in order, a run of the last axis at a time, stepping the source offset of
  // the outer axes like an odometer (a cold start transposes every weight of an NCHW model).
  const last = rank - 1, len = shape[last]!, step = srcStride[last]!;
  const idx = new Int32Array(rank);
  let from = 0;
  for (let i = 0; i < n; i += len) {
    for (let j = 0, f = from; j < len; j++, f += step) dst[i + j] = src[f]!;
    for (let a = last - 1; a >= 0; a--) {
      idx[a]!++;
      from += srcStride[a]!;
      if (idx[a]! < shape[a]!) break;
      from -= srcStride[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

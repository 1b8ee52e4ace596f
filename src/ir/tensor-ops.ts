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
  const n = out.size;
  if (n === 0) return out;
  if (rank === 0) { out.data.set(t.data as never); return out; }
  // The elements are moved as unsigned integers of their width, so the copy
  // loop sees three kinds of array whatever the dtype (it stays monomorphic
  // per width instead of meeting every typed array) and moves bits exactly.
  const width = t.data.BYTES_PER_ELEMENT;
  const view = <A extends Uint8Array | Uint16Array | Uint32Array>(C: { new(b: ArrayBufferLike, o: number, l: number): A }, d: ArrayBufferView, k: number) =>
    new C(d.buffer, d.byteOffset, n * k);
  if (width === 1) walk(view(Uint8Array, t.data, 1), view(Uint8Array, out.data, 1), shape, srcStride, n, 1);
  else if (width === 2) walk(view(Uint16Array, t.data, 1), view(Uint16Array, out.data, 1), shape, srcStride, n, 1);
  else walk(view(Uint32Array, t.data, width / 4), view(Uint32Array, out.data, width / 4), shape, srcStride, n, width / 4);
  return out;
}

/**
 * dst (the output in order) from src by the source strides of the output's
 * axes, `words` array elements per tensor element: a run of the last axis at
 * a time, stepping the source offset of the outer axes like an odometer (a
 * cold start transposes every weight of an NCHW model).
 */
function walk<A extends Uint8Array | Uint16Array | Uint32Array>(src: A, dst: A, shape: readonly number[], srcStride: readonly number[], n: number, words: number): void {
  const rank = shape.length;
  const last = rank - 1, len = shape[last]!, step = srcStride[last]! * words;
  const idx = new Int32Array(rank);
  let from = 0;
  for (let i = 0; i < n * words; i += len * words) {
    if (words === 1) {
      for (let j = 0, f = from; j < len; j++, f += step) dst[i + j] = src[f]!;
    } else {
      for (let j = 0, f = from; j < len; j++, f += step) for (let w = 0; w < words; w++) dst[i + j * words + w] = src[f + w]!;
    }
    for (let a = last - 1; a >= 0; a--) {
      idx[a]!++;
      from += srcStride[a]! * words;
      if (idx[a]! < shape[a]!) break;
      from -= srcStride[a]! * shape[a]! * words;
      idx[a] = 0;
    }
  }
}

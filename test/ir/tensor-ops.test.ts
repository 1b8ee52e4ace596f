/**
 * transposeTensor against a direct index-by-index transpose, for every
 * element width (it moves elements as unsigned integers of their width):
 * the same bits, float NaN payloads and int64 included, on views that do
 * not start at their buffer's beginning.
 */
import { describe, expect, it } from 'vitest';
import { type DType, Tensor, stridesOf } from '../../src/ir/index.js';
import { transposeTensor } from '../../src/ir/tensor-ops.js';

function direct(t: Tensor, perm: number[]): number[] {
  const shape = perm.map((p) => t.shape[p]!);
  const inS = stridesOf(t.shape), outS = stridesOf(shape);
  const n = t.size;
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, n * t.data.BYTES_PER_ELEMENT);
  const w = t.data.BYTES_PER_ELEMENT;
  const out = new Array<number>(n * w);
  for (let o = 0; o < n; o++) {
    let rest = o, src = 0;
    for (let a = 0; a < shape.length; a++) { const i = Math.floor(rest / outS[a]!); rest -= i * outS[a]!; src += i * inS[perm[a]!]!; }
    for (let b = 0; b < w; b++) out[o * w + b] = bytes[src * w + b]!;
  }
  return out;
}

const CASES: [number[], number[]][] = [[[2, 3, 4, 5], [0, 2, 3, 1]], [[3, 4, 5, 2], [3, 0, 1, 2]], [[7, 1, 3], [2, 0, 1]], [[6], [0]], [[4, 5], [1, 0]]];
const DTYPES_: DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64'];

describe('transposeTensor', () => {
  for (const dtype of DTYPES_) {
    it(`moves the bits of ${dtype} elements`, () => {
      for (const [shape, perm] of CASES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const w = new Tensor(dtype, [1]).data.BYTES_PER_ELEMENT;
        // A view one element into a larger buffer, filled with arbitrary bytes (NaN payloads for floats).
        const buf = new ArrayBuffer((n + 2) * w);
        const raw = new Uint8Array(buf);
        for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + 11) & 0xff;
        const Ctor = new Tensor(dtype, [1]).data.constructor as new (b: ArrayBuffer, o: number, l: number) => Tensor['data'];
        const t = new Tensor(dtype, shape, new Ctor(buf, w, n));
        const out = transposeTensor(t, perm);
        expect(out.shape).toEqual(perm.map((p) => shape[p]));
        expect([...new Uint8Array(out.data.buffer, out.data.byteOffset, n * w)]).toEqual(direct(t, perm));
      }
    });
  }

  it('moves a per-axis quantization with its axis', () => {
    const t = new Tensor('int8', [2, 3], Int8Array.from([1, 2, 3, 4, 5, 6]), { scale: Float32Array.of(1, 2), zeroPoint: Int32Array.of(0, 0), axis: 0 });
    const out = transposeTensor(t, [1, 0]);
    expect([...out.data as Int8Array]).toEqual([1, 4, 2, 5, 3, 6]);
    expect(out.quant!.axis).toBe(1);
  });
});

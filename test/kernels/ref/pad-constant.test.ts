/**
 * padConstant (row copies after merging unpadded trailing axes) against the
 * plain definition, element by element: random ranks, shapes, pads and crops.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { padConstant } from '../../../src/kernels/ref/pad.js';

function naive(x: Int8Array, inShape: number[], outShape: number[], begin: number[], fill: number): Int8Array {
  const y = new Int8Array(outShape.reduce((a, b) => a * b, 1));
  const rank = inShape.length;
  for (let o = 0; o < y.length; o++) {
    let rest = o, src = 0, stride = 1, inside = true;
    for (let a = rank - 1; a >= 0; a--) {
      const c = (rest % outShape[a]!) - begin[a]!;
      rest = Math.floor(rest / outShape[a]!);
      if (c < 0 || c >= inShape[a]!) inside = false;
      src += c * stride;
      stride *= inShape[a]!;
    }
    y[o] = inside ? x[src]! : fill;
  }
  return y;
}

describe('padConstant', () => {
  it('matches the element-by-element definition (pads, crops, unpadded trailing axes)', () => {
    const axis = fc.record({ size: fc.integer({ min: 1, max: 6 }), begin: fc.integer({ min: -2, max: 3 }), end: fc.integer({ min: -2, max: 3 }), padded: fc.boolean() });
    fc.assert(fc.property(fc.array(axis, { minLength: 1, maxLength: 5 }), fc.integer({ min: -128, max: 127 }), (axes, fill) => {
      const inShape = axes.map((a) => a.size);
      const begin = axes.map((a) => (a.padded ? a.begin : 0));
      const end = axes.map((a) => (a.padded ? a.end : 0));
      const outShape = inShape.map((s, i) => s + begin[i]! + end[i]!);
      fc.pre(outShape.every((s) => s >= 0));
      const x = Int8Array.from({ length: inShape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 37) % 256 - 128);
      const y = new Int8Array(outShape.reduce((a, b) => a * b, 1));
      padConstant(x, y, inShape, outShape, begin, fill);
      expect(Array.from(y)).toEqual(Array.from(naive(x, inShape, outShape, begin, fill)));
    }), { numRuns: 400 });
  });
});

/**
 * The heap-selection TopK against a full stable sort of each slice, on random
 * shapes, axes and K, with many equal values (small integers) so the
 * lower-index-first tie rule is exercised, NaNs in float inputs, and int64.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';

/** Oracle rank: value (NaN last in both directions), then lower index. */
function oracle(x: number[], shape: number[], axis: number, k: number, largest: boolean): { values: number[]; indices: number[] } {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const values: number[] = new Array(outer * k * inner);
  const indices: number[] = new Array(outer * k * inner);
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => x[(a * n + j) * inner + i]!;
      const pos = Array.from({ length: n }, (_, j) => j).sort((p, q) => {
        const u = at(p), v = at(q);
        if (Number.isNaN(u) !== Number.isNaN(v)) return Number.isNaN(u) ? 1 : -1;
        if (u !== v && !Number.isNaN(u)) return largest ? v - u : u - v;
        return p - q;
      });
      for (let j = 0; j < k; j++) {
        values[(a * k + j) * inner + i] = at(pos[j]!);
        indices[(a * k + j) * inner + i] = pos[j]!;
      }
    }
  }
  return { values, indices };
}

const cases = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
  axisPick: fc.nat(), kPick: fc.nat(), largest: fc.boolean(), int64: fc.boolean(),
  levels: fc.integer({ min: 1, max: 40 }), nanEvery: fc.integer({ min: 0, max: 6 }), seed: fc.nat(),
});

describe('TopK (heap selection) against a full sort', () => {
  it('matches values and indices on random slices with ties and NaN', () => {
    fc.assert(fc.property(cases, (c) => {
      const axis = c.axisPick % c.shape.length;
      const k = c.kPick % (c.shape[axis]! + 1);
      const size = c.shape.reduce((a, b) => a * b, 1);
      let s = c.seed;
      const x = Array.from({ length: size }, (_, j) => {
        s = (s * 1103515245 + 12345) % 2147483648;
        if (!c.int64 && c.nanEvery > 0 && j % (c.nanEvery * 3) === 1) return NaN;
        return (s % c.levels) - (c.levels >> 1);
      });
      const input = c.int64
        ? new Tensor('int64', c.shape, BigInt64Array.from(x.map((v) => BigInt(v))))
        : Tensor.fromNumbers('float32', c.shape, x);
      const kT = new Tensor('int64', [1], BigInt64Array.of(BigInt(k)));
      const [values, indices] = runOp('TopK', [input, kT], { axis, largest: c.largest ? 1 : 0 }, 2) as [Tensor, Tensor];
      const want = oracle(x, c.shape, axis, k, c.largest);
      expect([...indices.data].map(Number)).toEqual(want.indices);
      expect([...values.data].map(Number)).toEqual(want.values);
    }), { numRuns: 300 });
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planArena } from '../../src/runtime/arena.js';

describe('planArena', () => {
  it('reuses memory of tensors whose lifetimes do not overlap', () => {
    const plan = planArena([
      { id: 'a', bytes: 100, first: 0, last: 1 },
      { id: 'b', bytes: 100, first: 1, last: 2 },
      { id: 'c', bytes: 100, first: 2, last: 3 },
    ], 4);
    expect(plan.offsets.get('a')).toBe(0);
    expect(plan.offsets.get('c')).toBe(0);
    expect(plan.offsets.get('b')).toBe(100);
    expect(plan.arenaBytes).toBe(200);
    expect(plan.lowerBound).toBe(200);
  });

  it('never overlaps live buffers, stays within the unshared sum and above the lower bound', () => {
    const req = fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 5000 }), first: fc.integer({ min: 0, max: 30 }), len: fc.integer({ min: 0, max: 10 }) }), { maxLength: 60 });
    fc.assert(fc.property(req, (rs) => {
      const requests = rs.map((r, i) => ({ id: `t${i}`, bytes: r.bytes, first: r.first, last: r.first + r.len }));
      const plan = planArena(requests, 16);
      const placed = requests.map((r) => ({ ...r, bytes: Math.ceil(r.bytes / 16) * 16, offset: plan.offsets.get(r.id)! }));
      for (const a of placed) {
        expect(a.offset % 16).toBe(0);
        for (const b of placed) {
          if (a === b || a.bytes === 0 || b.bytes === 0) continue;
          const live = a.first <= b.last && b.first <= a.last;
          const overlap = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
          expect(live && overlap).toBe(false);
        }
      }
      const sum = placed.reduce((s, r) => s + r.bytes, 0);
      expect(plan.arenaBytes).toBeLessThanOrEqual(sum);
      expect(plan.arenaBytes).toBeGreaterThanOrEqual(plan.lowerBound);
    }), { numRuns: 300 });
  });
});

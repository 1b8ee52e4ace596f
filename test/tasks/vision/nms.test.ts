import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { iou, nms } from '../../../src/tasks/vision/nms.js';
import type { Box } from '../../../src/tasks/vision/detection.js';

describe('iou', () => {
  it('is 1 for equal boxes, 0 for disjoint or touching ones', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
  });
  it('computes intersection over union', () => {
    // 10x10 boxes offset by 5 in x: intersection 50, union 150.
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 12);
    // A box inside another: intersection = small area.
    expect(iou([0, 0, 10, 10], [2, 2, 4, 4])).toBeCloseTo(4 / 100, 12);
  });
  it('is 0 for boxes without area', () => {
    expect(iou([5, 5, 5, 9], [0, 0, 10, 10])).toBe(0);
    expect(iou([5, 5, 4, 9], [0, 0, 10, 10])).toBe(0);
  });
});

const det = (box: Box, score: number, classId = 0): { box: Box; score: number; classId: number } => ({ box, score, classId });

describe('nms', () => {
  const a = det([0, 0, 10, 10], 0.9, 0);
  const b = det([1, 0, 11, 10], 0.8, 1); // IoU with a = 90/110
  const c = det([1, 1, 11, 11], 0.7, 0); // overlaps a heavily, same class
  const d = det([50, 50, 60, 60], 0.6, 0);

  it('class-agnostic: one box per place', () => {
    expect(nms([d, c, b, a], { iouThreshold: 0.5, classAware: false })).toEqual([a, d]);
  });
  it('class-aware: a box only suppresses its own class', () => {
    expect(nms([d, c, b, a], { iouThreshold: 0.5, classAware: true })).toEqual([a, b, d]);
  });
  it('applies score threshold and max detections', () => {
    expect(nms([a, b, c, d], { iouThreshold: 0.5, classAware: true, scoreThreshold: 0.75 })).toEqual([a, b]);
    expect(nms([a, b, c, d], { iouThreshold: 0.5, classAware: true, maxDetections: 2 })).toEqual([a, b]);
  });
  it('keeps overlaps at exactly the threshold (suppression is IoU > threshold)', () => {
    const e = det([5, 0, 15, 10], 0.5, 0); // IoU 1/3 with a
    expect(nms([a, e], { iouThreshold: 1 / 3, classAware: false })).toHaveLength(2);
    expect(nms([a, e], { iouThreshold: 0.3, classAware: false })).toEqual([a]);
  });
  it('is deterministic on equal scores (input order wins)', () => {
    const p = det([0, 0, 10, 10], 0.5), q = det([0, 0, 10, 10], 0.5);
    expect(nms([p, q], { iouThreshold: 0.5, classAware: false })[0]).toBe(p);
    expect(nms([q, p], { iouThreshold: 0.5, classAware: false })[0]).toBe(q);
  });
  it('rejects a threshold outside [0, 1]', () => {
    expect(() => nms([a], { iouThreshold: 1.5, classAware: false })).toThrow(/iouThreshold/);
  });

  it('property: kept boxes of one class never overlap above the threshold, and the best box is always kept', () => {
    const boxArb = fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }))
      .map(([x, y, w, h]) => [x, y, x + w, y + h] as Box);
    const candArb = fc.array(fc.record({ box: boxArb, score: fc.float({ min: 0, max: 1, noNaN: true }), classId: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 40 });
    fc.assert(fc.property(candArb, fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.boolean(), (cands, thr, classAware) => {
      const kept = nms(cands, { iouThreshold: thr, classAware });
      const best = Math.max(...cands.map((x) => x.score));
      expect(kept[0]!.score).toBe(best);
      for (let i = 0; i < kept.length; i++) {
        if (i > 0) expect(kept[i]!.score).toBeLessThanOrEqual(kept[i - 1]!.score);
        for (let j = i + 1; j < kept.length; j++) {
          if (!classAware || kept[i]!.classId === kept[j]!.classId) expect(iou(kept[i]!.box, kept[j]!.box)).toBeLessThanOrEqual(thr);
        }
      }
      // Every dropped candidate is covered by a kept one that scores at least as high.
      for (const x of cands) {
        if (kept.includes(x)) continue;
        expect(kept.some((k) => k.score >= x.score && (!classAware || k.classId === x.classId) && iou(k.box, x.box) > thr)).toBe(true);
      }
    }), { numRuns: 200 });
  });
});

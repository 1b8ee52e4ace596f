import { describe, expect, it } from 'vitest';
import { latencyStats } from '../../src/bench/stats.js';

describe('latencyStats', () => {
  it('takes min, median, p90 and fps from unsorted samples, interpolating between ranks', () => {
    const s = latencyStats([5, 1, 4, 2, 3, 10, 6, 7, 8, 9]);
    expect(s.runs).toBe(10);
    expect(s.minMs).toBe(1);
    expect(s.medianMs).toBe(5.5);
    expect(s.p90Ms).toBeCloseTo(9.1, 10);
    expect(s.meanMs).toBe(5.5);
    expect(s.fps).toBeCloseTo(1000 / 5.5, 10);
  });

  it('gives NaN rather than inventing numbers for no samples', () => {
    const s = latencyStats([]);
    expect(s.runs).toBe(0);
    expect(s.medianMs).toBeNaN();
  });
});

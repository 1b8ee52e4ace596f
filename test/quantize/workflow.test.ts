import { describe, expect, it } from 'vitest';
import { holdOut } from '../../src/quantize/workflow.js';

describe('holdOut', () => {
  it('holds every fifth sample and its label out of calibration', () => {
    const samples = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const labels = samples.map((_, i) => 100 + i);
    const split = holdOut(samples, labels);
    expect(split.heldOut).toBe(true);
    expect(split.evaluation).toEqual(['s4', 's9']);
    expect(split.labels).toEqual([104, 109]);
    expect(split.calibration).toEqual(samples.filter((_, i) => i !== 4 && i !== 9));
  });

  it('with fewer than five samples, uses all for both and says none is held out', () => {
    const split = holdOut(['a', 'b', 'c'], [1, 2, 3]);
    expect(split).toEqual({ calibration: ['a', 'b', 'c'], evaluation: ['a', 'b', 'c'], labels: [1, 2, 3], heldOut: false });
  });

  it('without labels gives none', () => {
    expect(holdOut(['a', 'b', 'c', 'd', 'e']).labels).toBeUndefined();
  });
});

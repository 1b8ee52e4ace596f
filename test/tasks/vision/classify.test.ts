import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { softmax, topK } from '../../../src/tasks/vision/classify.js';

describe('topK', () => {
  const labels = ['cat', 'dog', 'bird', 'fish'];
  it('returns the best classes with labels, ties by lower id', () => {
    expect(topK(Float32Array.from([0.1, 0.4, 0.4, 0.1]), { k: 3, labels })).toEqual([
      { label: 'dog', classId: 1, score: expect.closeTo(0.4, 6) },
      { label: 'bird', classId: 2, score: expect.closeTo(0.4, 6) },
      { label: 'cat', classId: 0, score: expect.closeTo(0.1, 6) },
    ]);
  });
  it('applies softmax and a background offset', () => {
    const logits = new Tensor('float32', [1, 5], Float32Array.from([5, 0, 1, 3, 0]));
    const top = topK(logits, { k: 1, softmax: true, labelOffset: 1, labels });
    expect(top[0]!.label).toBe('bird'); // column 3 is class 2 once the background column is skipped
    expect(top[0]!.score).toBeCloseTo(Math.exp(3) / (Math.exp(5) + 2 + Math.E + Math.exp(3)), 6);
  });
  it('dequantizes uint8 scores and refuses batches', () => {
    const q = new Tensor('uint8', [1, 4], Uint8Array.from([0, 255, 10, 0]));
    q.quant = { scale: Float32Array.of(1 / 255), zeroPoint: Int32Array.of(0) };
    expect(topK(q, { k: 1 })[0]).toEqual({ label: 'class 1', classId: 1, score: 1 });
    expect(() => topK(new Tensor('float32', [2, 4]), {})).toThrow(/one image/);
  });
  it('softmax is stable for large logits', () => {
    const p = softmax([1000, 1000]);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
  });
});

/**
 * MobileNet-style graphs built by our own builders (random weights, written as
 * ONNX) run through cloudless and onnxruntime-node: outputs must agree. Also pins
 * the planned arena bytes and proves run() allocates no buffers for fixed shapes.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { load } from '../../src/runtime/load.js';
import { mobileNetV1, mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { countBufferAllocations, withNetworkTrapped } from '../helpers/guards.js';

function randomInput(size: number, seed: number): Tensor {
  const r = seededRandom(seed);
  const t = new Tensor('float32', [1, 3, size, size]);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = r() * 2 - 1;
  return t;
}

const cases = [
  { name: 'mobilenet-v1 (8 blocks, BN kept)', bytes: toOnnxBytes(mobileNetV1({ size: 64, alpha: 0.25, classes: 10, blocks: 8, batchNorm: true })), size: 64 },
  { name: 'mobilenet-v2 (9 blocks, residual adds)', bytes: toOnnxBytes(mobileNetV2({ size: 64, alpha: 0.35, classes: 10, blocks: 9 })), size: 64 },
];

describe('MobileNet-style graphs vs onnxruntime-node', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const input = randomInput(c.size, 7);
      const session = await load(c.bytes, { backend: 'ref', format: 'onnx' });
      const ours = (await session.run({ input })).probabilities!.clone();
      const ortSession = await ort.InferenceSession.create(c.bytes, { intraOpNumThreads: 1 });
      const theirs = (await ortSession.run({ input: new ort.Tensor('float32', input.data as Float32Array, [...input.shape]) })).probabilities!;
      const want = theirs.data as Float32Array;
      expect(ours.shape).toEqual(theirs.dims);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((ours.data as Float32Array)[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('pins arena bytes below the sum of intermediate tensors', async () => {
    const arenas: number[] = [];
    for (const c of cases) {
      const session = await load(c.bytes, { backend: 'ref', format: 'onnx' });
      const plan = session.currentPlan!;
      expect(plan.arenaBytes).toBeLessThanOrEqual(plan.unsharedBytes);
      arenas.push(plan.arenaBytes);
    }
    // Pinned: a change in the planner or the graph passes shows up here. (Activation
    // fusion at load removed one live buffer per conv: 131072 → 98304, 393216 → 245760.)
    expect(arenas).toMatchInlineSnapshot(`
      [
        98304,
        245760,
      ]
    `);
  });

  it('run() allocates no buffers for a repeated shape, and opens no socket', async () => {
    const c = cases[1]!;
    const { attempts } = await withNetworkTrapped(async () => {
      const session = await load(c.bytes, { backend: 'ref', format: 'onnx' });
      const input = randomInput(c.size, 3);
      await session.run({ input });
      const allocations = await countBufferAllocations(() => session.runSync({ input }));
      expect(allocations).toBe(0);
    });
    expect(attempts).toEqual([]);
  });
});

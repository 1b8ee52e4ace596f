/**
 * Mutated real models through the whole path (import, check, plan, run): the
 * only acceptable outcomes are a result or a CloudlessError — never another
 * exception, a crash or a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Tensor } from '../../src/ir/index.js';
import { load } from '../../src/runtime/load.js';
import { mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';

const model = toOnnxBytes(mobileNetV2({ size: 16, alpha: 0.35, classes: 3, blocks: 2 }));

async function loadAndRun(bytes: Uint8Array): Promise<'ok' | 'refused'> {
  try {
    const s = await load(bytes, { backend: 'ref', format: 'onnx' });
    const feeds: Record<string, Tensor> = {};
    for (const i of s.inputs) {
      const shape = i.shape.map((d) => (typeof d === 'number' && d >= 0 && d <= 64 ? d : 1));
      feeds[i.name] = new Tensor(i.dtype, shape);
    }
    await s.run(feeds);
    return 'ok';
  } catch (err) {
    if (err instanceof CloudlessError) return 'refused';
    throw err;
  }
}

describe('mutated models through load and run', () => {
  it('bit flips, byte overwrites and truncations end in a result or a CloudlessError, quickly', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(model.length - 1), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(model.length - 1), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(model.length - 1) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
      let bytes = new Uint8Array(model);
      for (const m of ms) {
        if (m.kind === 'flip') bytes[m.at] = bytes[m.at]! ^ (1 << m.bit);
        else if (m.kind === 'set') bytes[m.at] = m.value;
        else bytes = bytes.subarray(0, Math.min(bytes.length, m.at));
      }
      // A hang fails the test by its timeout below, not by a clock read here.
      const outcome = await loadAndRun(bytes);
      expect(['ok', 'refused']).toContain(outcome);
    }), { numRuns: 150, seed: 20261125 });
  }, 120_000);
});

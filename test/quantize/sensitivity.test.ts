import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/bench/model-builders.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { Tensor } from '../../src/ir/index.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { layerSensitivity } from '../../src/quantize/sensitivity.js';
import { readModel } from '../../src/runtime/load.js';

/**
 * x → conv1 → conv2 → conv3, 1×1 convolutions. conv2's channel 0 is a
 * thousand times larger than its others, and conv3 reads channel 0 with a
 * tiny weight: the output lives in channels 1..7 of conv2's output, which one
 * per-tensor int8 scale (set by channel 0) wipes out. Quantizing conv2 or conv3
 * (which reads that tensor in int8) hurts; conv1 does not.
 */
function outlierModel(): Uint8Array {
  const r = seededRandom(3);
  const w = (o: number, i: number, scale: (oc: number, ic: number) => number) =>
    new Tensor('float32', [o, i, 1, 1], Float32Array.from({ length: o * i }, (_, k) => (r() * 2 - 1) * scale(Math.floor(k / i), k % i)));
  return writeOnnx({
    opset: 13,
    graph: {
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 8, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 8, 8] }],
      initializers: {
        w1: w(8, 4, () => 1),
        w2: w(8, 8, (o) => (o === 0 ? 1000 : 1)),
        w3: w(4, 8, (_, i) => (i === 0 ? 0.001 : 1)),
      },
      nodes: [
        { op: 'Conv', name: 'conv1', inputs: ['x', 'w1'], outputs: ['a'] },
        { op: 'Conv', name: 'conv2', inputs: ['a', 'w2'], outputs: ['b'] },
        { op: 'Conv', name: 'conv3', inputs: ['b', 'w3'], outputs: ['y'] },
      ],
    },
  });
}

describe('layer sensitivity', () => {
  it('ranks the layers that read or write the outlier tensor first, the harmless one last', async () => {
    const g = await readModel(outlierModel(), 'onnx');
    prepareForQuantization(g);
    const r = seededRandom(9);
    const sample = (k: number) => ({
      name: `s${k}`, file: `s${k}`,
      feeds: { x: new Tensor('float32', [1, 4, 8, 8], Float32Array.from({ length: 256 }, () => r() * 2 - 1)) },
    });
    const calib = calibrate(g, [0, 1, 2, 3].map((k) => sample(k).feeds));
    const ranked = layerSensitivity(g, calib, [sample(10), sample(11)], { backend: 'ref' });
    const byName = new Map(ranked.map((l) => [l.node, l]));
    expect(ranked.map((l) => l.op)).toEqual(['Conv', 'Conv', 'Conv']);
    expect(new Set(ranked.slice(0, 2).map((l) => l.node))).toEqual(new Set(['conv2', 'conv3']));
    expect(ranked[2]!.node).toBe('conv1');
    expect(byName.get('conv1')!.minCosine).toBeGreaterThan(0.999);
    expect(ranked[0]!.minCosine).toBeLessThan(0.9);
    expect(ranked[0]!.maxAbs).toBeGreaterThan(byName.get('conv1')!.maxAbs);
  });
});

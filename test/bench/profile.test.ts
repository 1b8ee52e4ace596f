import { describe, expect, it } from 'vitest';
import { profileModel } from '../../src/bench/profile.js';
import { mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';
import { benchFeeds } from '../../src/bench/run.js';
import { wasmAvailable } from '../../src/kernels/wasm/index.js';
import { readModel } from '../../src/runtime/load.js';

describe('profileModel', () => {
  it('sums node time per op with the backend each ran on, and lists the slowest nodes', async () => {
    const g = await readModel(toOnnxBytes(mobileNetV2({ size: 32, blocks: 3, classes: 5, alpha: 0.5 })), 'onnx');
    const p = profileModel(g, benchFeeds(g), { runs: 3, top: 4 });
    expect(p.runs).toBe(3);
    expect(p.totalMs).toBeGreaterThan(0);
    expect(p.ops.reduce((s, o) => s + o.percent, 0)).toBeCloseTo(100, 6);
    expect(p.ops.every((o, i, all) => i === 0 || all[i - 1]!.ms >= o.ms)).toBe(true);
    const conv = p.ops.find((o) => o.op === 'Conv')!;
    expect(conv.nodes).toBe(g.nodes.filter((n) => n.op === 'Conv').length);
    expect(conv.backends).toEqual([wasmAvailable() ? 'wasm' : 'ref']);
    expect(p.nodes).toHaveLength(4);
    expect(p.nodes.every((n, i, all) => i === 0 || all[i - 1]!.ms >= n.ms)).toBe(true);
  });
});

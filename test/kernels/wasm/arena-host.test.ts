/**
 * A session's arena in the wasm kernels' memory (the default with the wasm
 * backend): kernels read and write tensors in place, so results must be the
 * same bits as with the arena in JavaScript memory (where every node copies
 * its tensors in and out); outputs handed to the caller are their own buffers,
 * which survive the module's memory growing; and the views are rebound when
 * the memory is replaced.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Graph, Tensor } from '../../../src/ir/index.js';
import { Session } from '../../../src/runtime/session.js';
import { readModel } from '../../../src/runtime/load.js';
import { wasmArenaHost, wasmAvailable } from '../../../src/kernels/wasm/index.js';
import { wasmHeap } from '../../../src/kernels/wasm/heap.js';
import { mobileNetV2, toOnnxBytes } from '../../../src/bench/model-builders.js';
import { prepareForQuantization } from '../../../src/passes/quantize-prep.js';
import { calibrate } from '../../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../../src/quantize/quantize.js';
import { randomF32, seeded } from './helpers.js';

const bitsOf = (t: Tensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));

function bothWays(graph: Graph, feeds: Record<string, Tensor>): { host: Session; plain: Session; same: () => void } {
  const host = new Session(graph, { backend: 'auto' });
  const plain = new Session(graph, { backend: 'auto', arenaInBackendMemory: false });
  const same = () => {
    const a = host.runSync(feeds), b = plain.runSync(feeds);
    for (const name of Object.keys(b)) expect(bitsOf(a[name]!), name).toEqual(bitsOf(b[name]!));
  };
  return { host, plain, same };
}

async function smallMobileNet(): Promise<Graph> {
  return readModel(toOnnxBytes(mobileNetV2({ size: 40, blocks: 4, classes: 10, alpha: 0.5 })), 'onnx');
}

describe.skipIf(!wasmAvailable())('the arena in wasm memory', () => {
  it('gives the same bits as a JavaScript arena, float32 and int8, and hands out outputs outside wasm memory', async () => {
    const x = randomF32([1, 3, 40, 40], seeded(5));
    const float = await smallMobileNet();
    const feeds = { [float.inputs[0]!]: x };
    const f = bothWays(float, feeds);
    f.same();
    expect(f.host.currentPlan!.hostBackend).toBe('wasm');
    expect(f.plain.currentPlan!.hostBackend).toBeUndefined();
    const out = Object.values(f.host.runSync(feeds))[0]!;
    expect(out.data.buffer).not.toBe(wasmHeap().u8.buffer);

    const g = await smallMobileNet();
    prepareForQuantization(g);
    const calib = calibrate(g, [0, 1, 2].map((s) => ({ [g.inputs[0]!]: randomF32([1, 3, 40, 40], seeded(20 + s)) })));
    const q = quantizeGraph(g, calib, { io: 'int8' });
    const qx = new Tensor('int8', [1, 3, 40, 40], Int8Array.from(x.data as Float32Array, (v) => Math.max(-128, Math.min(127, Math.round(v * 40)))));
    bothWays(q.graph, { [q.graph.inputs[0]!]: qx }).same();
  });

  it('rebinds its views when the memory grows, and outputs already handed out stay valid', async () => {
    const graph = await smallMobileNet();
    const feeds = { [graph.inputs[0]!]: randomF32([1, 3, 40, 40], seeded(6)) };
    const { host, same } = bothWays(graph, feeds);
    const first = Object.values(host.runSync(feeds))[0]!;
    const kept = bitsOf(first);
    const before = wasmHeap().u8.buffer;
    // Another model's worth of memory: the module grows and its old ArrayBuffer is detached.
    const arenaHost = wasmArenaHost();
    const region = arenaHost.reserve(before.byteLength + (1 << 20));
    try {
      expect(wasmHeap().u8.buffer).not.toBe(before);
      expect(bitsOf(first)).toEqual(kept);
      same();
    } finally {
      arenaHost.release(region);
    }
  });

  it('keeps view outputs (a Reshape of an intermediate, an Identity of the input) exact', async () => {
    const g = new Graph('views', { format: 'cloudless', source: 'test' });
    g.setValue({ name: 'x', dtype: 'float32', shape: [2, 8] });
    g.setValue({ name: 'b', dtype: 'float32', shape: [8], constant: randomF32([8], seeded(7)) });
    g.setValue({ name: 's', dtype: 'int64', shape: [1], constant: Tensor.fromNumbers('int64', [1], [16]) });
    for (const n of ['sum', 'act', 'flat', 'same']) g.setValue({ name: n, dtype: 'float32' });
    g.inputs = ['x'];
    g.outputs = ['act', 'flat', 'same'];
    g.addNode({ name: 'add', op: 'Add', inputs: ['x', 'b'], outputs: ['sum'], attrs: {} });
    g.addNode({ name: 'relu', op: 'Relu', inputs: ['sum'], outputs: ['act'], attrs: {} });
    g.addNode({ name: 'reshape', op: 'Reshape', inputs: ['act', 's'], outputs: ['flat'], attrs: {} });
    g.addNode({ name: 'identity', op: 'Identity', inputs: ['x'], outputs: ['same'], attrs: {} });
    const x = randomF32([2, 8], seeded(8));
    const { host, same } = bothWays(g, { x });
    same();
    const out = host.runSync({ x });
    expect(bitsOf(out.same!)).toEqual(bitsOf(x));
    expect(bitsOf(out.flat!)).toEqual(bitsOf(out.act!));
    expect(out.flat!.shape).toEqual([16]);
  });

  it('peak masks and concatenations in wasm memory: MaxPool (NaN and -0 as the reference), Equal, Cast, Concat', async () => {
    const g = new Graph('peaks', { format: 'cloudless', source: 'test' });
    const shape = [1, 9, 11, 21];
    g.setValue({ name: 'x', dtype: 'float32', shape });
    g.setValue({ name: 'c', dtype: 'float32', shape: [1, 9, 11, 3], constant: randomF32([1, 9, 11, 3], seeded(9)) });
    for (const n of ['peak', 'same', 'mask', 'kept', 'joined']) g.setValue({ name: n, dtype: n === 'same' ? 'bool' : 'float32' });
    g.inputs = ['x'];
    g.outputs = ['kept', 'joined'];
    g.addNode({ name: 'pool', op: 'MaxPool', inputs: ['x'], outputs: ['peak'], attrs: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] } });
    g.addNode({ name: 'eq', op: 'Equal', inputs: ['x', 'peak'], outputs: ['same'], attrs: {} });
    g.addNode({ name: 'cast', op: 'Cast', inputs: ['same'], outputs: ['mask'], attrs: { to: 'float32' } });
    g.addNode({ name: 'mul', op: 'Mul', inputs: ['x', 'mask'], outputs: ['kept'], attrs: {} });
    g.addNode({ name: 'concat', op: 'Concat', inputs: ['kept', 'c', 'peak'], outputs: ['joined'], attrs: { axis: -1 } });
    const x = randomF32(shape, seeded(10));
    const d = x.data as Float32Array;
    // Ties (peaks equal to a neighbour), a NaN, and -0 next to +0.
    for (let i = 0; i < d.length; i += 37) d[i] = d[i + 21] ?? d[i]!;
    d[500] = NaN;
    d[600] = -0;
    d[621] = 0;
    const { host, same } = bothWays(g, { x });
    same();
    const ref = new Session(g, { backend: 'ref' }).runSync({ x });
    const out = host.runSync({ x });
    expect(host.currentPlan!.steps.every((st) => st.kernel.backend === 'wasm')).toBe(true);
    for (const name of ['kept', 'joined']) {
      expect(bitsOf(out[name]!), name).toEqual(bitsOf(ref[name]!));
    }
  });

  it('TopK over the last axis (the scan in the module): the reference\'s values and indices, ties, NaN, -0, largest and smallest, k up to n', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.integer(),
      (rows, n, kWant, largest, seed) => {
        const k = Math.min(kWant, n);
        const g = new Graph('topk', { format: 'cloudless', source: 'test' });
        g.setValue({ name: 'x', dtype: 'float32', shape: [rows, n] });
        g.setValue({ name: 'k', dtype: 'int64', shape: [1], constant: Tensor.fromNumbers('int64', [1], [k]) });
        for (const [name, dtype] of [['a', 'float32'], ['v', 'float32'], ['i', 'int64']] as const) g.setValue({ name, dtype });
        g.inputs = ['x'];
        g.outputs = ['v', 'i'];
        // Neg puts the scores in the arena (wasm memory), as a detection head's TopK input is.
        g.addNode({ name: 'neg', op: 'Neg', inputs: ['x'], outputs: ['a'], attrs: {} });
        g.addNode({ name: 'topk', op: 'TopK', inputs: ['a', 'k'], outputs: ['v', 'i'], attrs: { axis: -1, largest: largest ? 1 : 0 } });
        const rand = seeded(seed);
        const x = randomF32([rows, n], rand);
        const d = x.data as Float32Array;
        // Few distinct values (many ties), a NaN now and then, and signed zeros.
        for (let j = 0; j < d.length; j++) d[j] = Math.round(d[j]! * 8) / 8;
        if (seed % 3 === 0) d[Math.floor(rand() * d.length)] = NaN;
        if (seed % 5 === 0) { d[0] = -0; d[d.length - 1] = 0; }
        const session = new Session(g, { backend: 'auto' });
        const got = session.runSync({ x });
        expect(session.currentPlan!.steps.find((st) => st.node.op === 'TopK')!.kernel.backend).toBe('wasm');
        const want = new Session(g, { backend: 'ref' }).runSync({ x });
        expect(bitsOf(got.v!)).toEqual(bitsOf(want.v!));
        expect(got.i!.toNumbers()).toEqual(want.i!.toNumbers());
      }), { numRuns: 120 });
  });

  it('gives the arena back on dispose() and when a new input shape replaces the plan', async () => {
    const g = new Graph('shapes', { format: 'cloudless', source: 'test' });
    g.setValue({ name: 'x', dtype: 'float32', shape: ['n', 64] });
    g.setValue({ name: 'b', dtype: 'float32', shape: [64], constant: randomF32([64], seeded(12)) });
    for (const n of ['s', 'y']) g.setValue({ name: n, dtype: 'float32' });
    g.inputs = ['x'];
    g.outputs = ['y'];
    g.addNode({ name: 'add', op: 'Add', inputs: ['x', 'b'], outputs: ['s'], attrs: {} });
    g.addNode({ name: 'relu', op: 'Relu', inputs: ['s'], outputs: ['y'], attrs: {} });
    const heap = wasmHeap();
    const s = new Session(g, { backend: 'auto' });
    s.runSync({ x: randomF32([1000, 64], seeded(13)) });
    const used = heap.usedBytes;
    // Twenty other shapes, each a new plan: the memory in use does not grow with them.
    for (let k = 0; k < 20; k++) s.runSync({ x: randomF32([1000 + k, 64], seeded(k)) });
    expect(heap.usedBytes).toBeLessThan(used + 64 * 4 * 100);
    const out = s.runSync({ x: randomF32([7, 64], seeded(14)) }).y!;
    const kept = bitsOf(out);
    const before = heap.usedBytes;
    s.dispose();
    expect(heap.usedBytes).toBeLessThan(before);
    expect(bitsOf(out)).toEqual(kept);
    expect(s.runSync({ x: randomF32([7, 64], seeded(14)) }).y!.toNumbers()).toEqual(out.toNumbers());
  });
});


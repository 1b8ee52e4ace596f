import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../../src/ir/index.js';
import { importOnnx } from '../../../src/formats/onnx/import.js';
import { writeOnnx, type OnnxModelSpec } from '../../../src/formats/onnx/writer.js';
import { optimizeLayout } from '../../../src/passes/layout.js';
import { Session } from '../../../src/runtime/session.js';
import { mobilenetSpec, randomSource, randomTensor } from './fixtures.js';

/** Runs a model in cloudless (import + layout pass, ref kernels) and in onnxruntime; returns both output maps. */
async function runBoth(spec: OnnxModelSpec, feeds: Record<string, Tensor>) {
  const bytes = writeOnnx(spec);
  const graph = optimizeLayout(importOnnx(bytes, 'test.onnx'));
  const ours = new Session(graph, { backend: 'ref' }).runSync(feeds);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.dtype, t.data as Float32Array, [...t.shape]);
  const theirs = await session.run(ortFeeds);
  return { ours, theirs, graph };
}

function expectClose(got: Tensor, want: ort.Tensor, tol = 1e-5): void {
  expect([...got.shape]).toEqual([...want.dims]);
  const w = want.data as ArrayLike<number | bigint>;
  for (let i = 0; i < got.size; i++) {
    const a = Number(got.data[i]!), b = Number(w[i]!);
    if (Math.abs(a - b) > tol * (1 + Math.abs(b))) throw new Error(`element ${i}: ${a} vs ${b}`);
  }
}

function single(g: Graph, op: string) {
  const found = g.nodes.filter((n) => n.op === op);
  expect(found.length).toBe(1);
  return found[0]!;
}

describe('ONNX → canonical ops, channels-last', () => {
  it('pre-transposes conv weights to OHWI, depthwise to 1HWO and transposed-conv to IHWO', () => {
    const rnd = randomSource(3);
    const w = randomTensor([4, 2, 3, 5], rnd), wd = randomTensor([6, 1, 3, 3], rnd), wt = randomTensor([2, 3, 2, 2], rnd);
    const g = importOnnx(writeOnnx({
      opset: 13,
      graph: {
        nodes: [
          { op: 'Conv', inputs: ['x', 'w'], outputs: ['a'] },
          { op: 'Conv', inputs: ['a', 'wd'], outputs: ['b'], attrs: { group: 2 } },
          { op: 'ConvTranspose', inputs: ['x', 'wt'], outputs: ['c'] },
        ],
        initializers: { w, wd, wt },
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 9, 9] }],
        outputs: [{ name: 'b', dtype: 'float32' }, { name: 'c', dtype: 'float32' }],
      },
    }));
    const conv = single(g, 'Conv');
    const ohwi = g.value(conv.inputs[1]!).constant!;
    expect(ohwi.shape).toEqual([4, 3, 5, 2]);
    // W[o, i, h, w] lands at OHWI[o, h, w, i].
    expect(ohwi.data[((1 * 3 + 2) * 5 + 4) * 2 + 1]).toBe(w.data[((1 * 2 + 1) * 3 + 2) * 5 + 4]);
    const dw = single(g, 'DepthwiseConv');
    expect(dw.attrs['group']).toBeUndefined();
    const hwo = g.value(dw.inputs[1]!).constant!;
    expect(hwo.shape).toEqual([1, 3, 3, 6]);
    expect(hwo.data[(2 * 3 + 1) * 6 + 5]).toBe(wd.data[(5 * 3 + 2) * 3 + 1]);
    expect(g.value(single(g, 'ConvTranspose').inputs[1]!).constant!.shape).toEqual([2, 2, 2, 3]);
    // Each layout-sensitive op sits between a Transpose to NHWC and one back (Conv and ConvTranspose
    // both read x and share its transpose: 5); the original weights are gone.
    expect(g.nodes.filter((n) => n.op === 'Transpose').length).toBe(5);
    expect(g.values.has('w')).toBe(false);
  });

  it('inserts a Transpose for a conv weight fed at run time', () => {
    const g = importOnnx(writeOnnx({
      graph: {
        nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'] }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 5, 5] }, { name: 'w', dtype: 'float32', shape: [3, 2, 3, 3] }],
        outputs: [{ name: 'y', dtype: 'float32' }],
      },
    }));
    const conv = single(g, 'Conv');
    const tw = g.producers().get(conv.inputs[1]!)!;
    expect(tw).toMatchObject({ op: 'Transpose', inputs: ['w'], attrs: { perm: [0, 2, 3, 1] } });
  });

  it('keeps MaxPool with used indices as MaxPoolWithIndices and drops unused indices', () => {
    const spec = (outputs: string[]): OnnxModelSpec => ({
      graph: {
        nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y', 'i'], attrs: { kernel_shape: [2, 2] } }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 4, 4] }],
        outputs: outputs.map((name) => ({ name, dtype: name === 'i' ? 'int64' as const : 'float32' as const })),
      },
    });
    expect(importOnnx(writeOnnx(spec(['y', 'i']))).nodes.map((n) => n.op)).toEqual(['MaxPoolWithIndices']);
    const g = importOnnx(writeOnnx(spec(['y'])));
    expect(single(g, 'MaxPool').outputs.length).toBe(1);
  });

  it('rewrites attribute forms of opsets 1-4 into inputs', () => {
    const g = importOnnx(writeOnnx({
      opset: 4,
      graph: {
        nodes: [
          { op: 'Reshape', inputs: ['x'], outputs: ['r'], attrs: { shape: [4, -1] } },
          { op: 'Add', inputs: ['r', 'b'], outputs: ['y'], attrs: { broadcast: 1, axis: 0 } },
        ],
        initializers: { b: Tensor.fromNumbers('float32', [4], [1, 2, 3, 4]) },
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 2, 3] }], outputs: [{ name: 'y', dtype: 'float32' }],
      },
    }));
    const reshape = single(g, 'Reshape');
    expect(g.value(reshape.inputs[1]!).constant!.toNumbers()).toEqual([4, -1]);
    const add = single(g, 'Add');
    expect(add.attrs).toEqual({});
    // Legacy broadcast from axis 0: B [4] aligns with the first axis of r [4, 3].
    expect(g.value(add.inputs[1]!).constant!.shape).toEqual([4, 1]);
  });

  it('maps Cast and EyeLike type enums to dtype names and refuses types without a dtype', () => {
    const g = importOnnx(writeOnnx({
      graph: {
        nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: 7 } }, { op: 'EyeLike', inputs: ['x'], outputs: ['z'], attrs: { dtype: 9 } }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 2] }], outputs: [{ name: 'y', dtype: 'int64' }, { name: 'z', dtype: 'bool' }],
      },
    }));
    expect(g.nodes.map((n) => n.attrs['to'] ?? n.attrs['dtype'])).toEqual(['int64', 'bool']);
    expect(() => importOnnx(writeOnnx({
      graph: {
        nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: 16 } }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [2] }], outputs: [{ name: 'y', dtype: 'float32' }],
      },
    }), 'cast.onnx')).toThrowError(expect.objectContaining({ code: 'E_UNSUPPORTED', node: 'Cast_0', message: expect.stringMatching(/cast\.onnx: node Cast_0/) }));
  });
});

describe('imported models agree with onnxruntime', () => {
  it('a MobileNet-style NCHW net', async () => {
    const x = randomTensor([2, 3, 16, 16], randomSource(7));
    const { ours, theirs, graph } = await runBoth(mobilenetSpec(), { x });
    expectClose(ours['y']!, theirs['y']!);
    // After the layout pass only the input's and the pooled tensor's transposes remain.
    expect(graph.nodes.filter((n) => n.op === 'Transpose').length).toBe(2);
  });

  it('opset 9 attribute forms: Slice, Pad, Clip, TopK, Squeeze, ReduceMean, Softmax, Upsample', async () => {
    const x = randomTensor([2, 3, 4], randomSource(11));
    const spec: OnnxModelSpec = {
      opset: 9,
      graph: {
        nodes: [
          { op: 'Slice', inputs: ['x'], outputs: ['sl'], attrs: { starts: [1, 0], ends: [1e10, -1], axes: [1, 2] } },
          { op: 'Pad', inputs: ['x'], outputs: ['pd'], attrs: { pads: [0, 1, 0, 0, 0, 2], value: { f: 0.5 } } },
          { op: 'Clip', inputs: ['x'], outputs: ['cl'], attrs: { min: -0.1, max: 0.2 } },
          { op: 'TopK', inputs: ['x'], outputs: ['tv', 'ti'], attrs: { k: 2, axis: 1 } },
          { op: 'Unsqueeze', inputs: ['x'], outputs: ['un'], attrs: { axes: [0] } },
          { op: 'Squeeze', inputs: ['un'], outputs: ['sq'], attrs: { axes: [0] } },
          { op: 'ReduceMean', inputs: ['x'], outputs: ['rm'], attrs: { axes: [1], keepdims: 0 } },
          { op: 'Softmax', inputs: ['x'], outputs: ['sm'], attrs: { axis: 1 } },
          { op: 'Upsample', inputs: ['x4', 'scales'], outputs: ['up'], attrs: { mode: 'nearest' } },
        ],
        initializers: { scales: Tensor.fromNumbers('float32', [4], [1, 1, 2, 3]) },
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }, { name: 'x4', dtype: 'float32', shape: [1, 2, 2, 3] }],
        outputs: ['sl', 'pd', 'cl', 'tv', 'ti', 'sq', 'rm', 'sm', 'up'].map((name) => ({ name, dtype: name === 'ti' ? 'int64' as const : 'float32' as const })),
      },
    };
    const x4 = randomTensor([1, 2, 2, 3], randomSource(12));
    const { ours, theirs } = await runBoth(spec, { x, x4 });
    for (const name of ['sl', 'pd', 'cl', 'tv', 'ti', 'sq', 'rm', 'sm', 'up']) {
      try { expectClose(ours[name]!, theirs[name]!); } catch (err) { throw new Error(`output ${name}: ${(err as Error).message}`); }
    }
  });

  it('opset 11 Split and ReduceSum attributes, and a grouped (non-depthwise) conv', async () => {
    const rnd = randomSource(5);
    const x = randomTensor([1, 4, 5, 5], rnd);
    const { ours, theirs } = await runBoth({
      opset: 11,
      graph: {
        nodes: [
          { op: 'Split', inputs: ['x'], outputs: ['s0', 's1'], attrs: { axis: 1, split: [1, 3] } },
          { op: 'ReduceSum', inputs: ['s1'], outputs: ['rs'], attrs: { axes: [2, 3] } },
          { op: 'Conv', inputs: ['x', 'w'], outputs: ['gc'], attrs: { group: 2, pads: [0, 1, 0, 1], strides: [1, 2] } },
        ],
        initializers: { w: randomTensor([6, 2, 2, 3], rnd) },
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 5] }],
        outputs: ['s0', 'rs', 'gc'].map((name) => ({ name, dtype: 'float32' as const })),
      },
    }, { x });
    for (const name of ['s0', 'rs', 'gc']) expectClose(ours[name]!, theirs[name]!);
  });
});

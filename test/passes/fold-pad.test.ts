/**
 * Explicit Pads folded into the Conv / DepthwiseConv after them: the folded
 * graph gives the same outputs as the graph as imported (float within float
 * rounding of the same sums, int8 bit for bit), and Pads that do not mean the
 * layer's own padding stay.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../src/ir/index.js';
import { writeOnnx, type OnnxModelSpec, type OnnxNodeSpec } from '../../src/formats/onnx/writer.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { seededRandom } from '../../src/bench/model-builders.js';
import { foldPadIntoLayer } from '../../src/passes/fold-pad.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { Calibrator } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';

function random(shape: number[], rand: () => number, scale = 1): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = (rand() * 2 - 1) * scale;
  return t;
}

interface PadCase {
  /** ONNX Pad pads on NCHW: [n, c, h, w begins, n, c, h, w ends]. */
  pads: number[];
  value?: number;
  group: 1 | 4;
  strides: number;
  convPads?: number[];
  autoPad?: string;
  /** Put a Relu before the Pad, so the Pad's input is a value of unknown shape. */
  relu?: boolean;
}

/** input [1,4,9,10] → Pad → Conv 3×3 (group 1: 4→6 channels, group 4: depthwise) → output. */
function padConvModel(c: PadCase, seed = 1): Uint8Array {
  const rand = seededRandom(seed);
  const cout = c.group === 1 ? 6 : 4;
  const x = c.relu ? 'relu' : 'input';
  const nodes: OnnxNodeSpec[] = [
    ...(c.relu ? [{ op: 'Relu', inputs: ['input'], outputs: ['relu'], name: 'relu' }] : []),
    { op: 'Pad', inputs: c.value === undefined ? [x, 'pads'] : [x, 'pads', 'value'], outputs: ['padded'], name: 'pad' },
    {
      op: 'Conv', inputs: ['padded', 'w', 'b'], outputs: ['output'], name: 'conv',
      attrs: { kernel_shape: [3, 3], strides: [c.strides, c.strides], group: c.group, ...(c.convPads ? { pads: c.convPads } : {}), ...(c.autoPad ? { auto_pad: { s: c.autoPad } } : {}) },
    },
  ];
  const initializers: Record<string, Tensor> = {
    pads: new Tensor('int64', [8], BigInt64Array.from(c.pads.map(BigInt))),
    w: random([cout, 4 / c.group, 3, 3], rand, 0.5),
    b: random([cout], rand, 0.1),
  };
  if (c.value !== undefined) initializers.value = Tensor.scalar('float32', c.value);
  const spec: OnnxModelSpec = {
    opset: 17, producer: 'fold-pad test',
    graph: { name: 'pad_conv', nodes, initializers, inputs: [{ name: 'input', dtype: 'float32', shape: [1, 4, 9, 10] }], outputs: [{ name: 'output', dtype: 'float32', shape: null as never }] },
  };
  return writeOnnx(spec);
}

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

function run(g: Graph, feeds: Record<string, Tensor>): Tensor {
  const s = new Session(g, { backend: 'auto' });
  return s.runSync(feeds)[g.outputs[0]!]!;
}

describe('Pad folded into the next Conv / DepthwiseConv', () => {
  const cases: [string, PadCase][] = [
    ['asymmetric zero pad, conv', { pads: [0, 0, 0, 1, 0, 0, 1, 2], group: 1, strides: 2 }],
    ['zero pad on top of the conv\'s own pads', { pads: [0, 0, 2, 0, 0, 0, 0, 1], group: 1, strides: 1, convPads: [1, 0, 0, 1] }],
    ['after a Relu (shapes not declared), depthwise', { pads: [0, 0, 1, 2, 0, 0, 2, 1], group: 4, strides: 1, convPads: [0, 1, 1, 0], relu: true }],
    ['explicit 0 value, depthwise, SAME_UPPER', { pads: [0, 0, 1, 1, 0, 0, 0, 0], value: 0, group: 4, strides: 2, autoPad: 'SAME_UPPER' }],
  ];
  for (const [name, c] of cases) {
    it(`float: ${name}`, async () => {
      const bytes = padConvModel(c);
      const folded = await readModel(bytes, 'onnx');
      expect(count(folded, 'Pad')).toBe(0);
      const x = random([1, 4, 9, 10], seededRandom(9));
      const want = run(importOnnx(bytes), { input: x });
      const got = run(folded, { input: x });
      expect(got.shape).toEqual(want.shape);
      const a = got.data as Float32Array, b = want.data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
    });
  }

  it('keeps a Pad whose value is not zero, or whose mode is not constant', async () => {
    expect(count(await readModel(padConvModel({ pads: [0, 0, 1, 1, 0, 0, 1, 1], value: 0.5, group: 1, strides: 1 }), 'onnx'), 'Pad')).toBe(1);
    const g = importOnnx(padConvModel({ pads: [0, 0, 1, 1, 0, 0, 1, 1], group: 1, strides: 1 }));
    for (const n of g.nodes) if (n.op === 'Pad') n.attrs = { ...n.attrs, mode: 'reflect' };
    expect(foldPadIntoLayer(g)).toBe(0);
  });

  it('int8: a TFLite PAD (our writer emits one for asymmetric pads) folds into CONV_2D and DEPTHWISE_CONV_2D bit for bit', async () => {
    for (const c of [{ pads: [0, 0, 0, 1, 0, 0, 1, 2], group: 1, strides: 2 }, { pads: [0, 0, 1, 0, 0, 0, 1, 1], group: 4, strides: 1 }] as PadCase[]) {
      const g = await readModel(padConvModel(c, 3), 'onnx');
      const cal = new Calibrator(g, { backend: 'auto' });
      for (let i = 0; i < 3; i++) cal.observe({ [g.inputs[0]!]: random(g.values.get(g.inputs[0]!)!.shape as number[], seededRandom(20 + i)) });
      const q = quantizeGraph(g, cal.result(), { io: 'int8' });
      // Put the padding back as a separate node the way TFLite files carry it.
      const tflite = writeTflite(q.graph);
      const raw = importTflite(tflite);
      expect(count(raw, 'Pad')).toBe(1);
      const folded = await readModel(tflite, 'tflite');
      expect(count(folded, 'Pad')).toBe(0);
      const info = raw.values.get(raw.inputs[0]!)!;
      const x = new Tensor('int8', info.shape as number[], undefined, info.quant);
      const rand = seededRandom(5);
      (x.data as Int8Array).forEach((_, i, d) => { d[i] = Math.floor(rand() * 256) - 128; });
      for (const backend of ['ref', 'auto'] as const) {
        const want = new Session(raw, { backend }).runSync({ [raw.inputs[0]!]: x })[raw.outputs[0]!]!;
        const got = new Session(folded, { backend }).runSync({ [folded.inputs[0]!]: x })[folded.outputs[0]!]!;
        expect(Array.from(got.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
      }
    }
  });
});

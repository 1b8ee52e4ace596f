import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../../src/ir/index.js';
import { importTflite } from '../../../src/formats/tflite/import.js';
import { readTfliteFile } from '../../../src/formats/tflite/read-file.js';
import { Session } from '../../../src/runtime/session.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const modelsDir = path.resolve(repoRoot, '../shared/models/tflm');
const haveModels = existsSync(modelsDir);
if (!haveModels) console.warn(`skipping TFLite model tests: ${modelsDir} is absent`);

function histogram(g: Graph): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of g.nodes) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
}

const load = (name: string): Graph => readTfliteFile(path.join(modelsDir, name));

describe.skipIf(!haveModels)('TFLite Micro models', () => {
  const expected: Record<string, Record<string, number>> = {
    'hello_world_float.tflite': { FullyConnected: 3 },
    'hello_world_int8.tflite': { FullyConnected: 3 },
    'simple_add_model.tflite': { Add: 1 },
    // The FC input [1, 25, 20, 8] is flattened to [-1, 4000] by an added Reshape.
    'micro_speech_quantized.tflite': { Reshape: 2, DepthwiseConv: 1, FullyConnected: 1, Softmax: 1 },
    'person_detect.tflite': { DepthwiseConv: 14, Conv: 14, AveragePool: 1, Reshape: 1, Softmax: 1 },
    'keyword_scrambled_8bit.tflite': { Quantize: 2, 'tflite.SVDF': 7, FullyConnected: 5, Softmax: 1 },
    'trained_lstm.tflite': { 'tflite.UNIDIRECTIONAL_SEQUENCE_LSTM': 1, Reshape: 1, FullyConnected: 1, Softmax: 1 },
    'trained_lstm_int8.tflite': { 'tflite.UNIDIRECTIONAL_SEQUENCE_LSTM': 1, Reshape: 1, FullyConnected: 1, Softmax: 1 },
    'audio_preprocessor_int8.tflite': {
      'tflite.custom.SignalWindow': 1, Reshape: 1, 'tflite.custom.SignalFftAutoScale': 1, 'tflite.custom.SignalRfft': 1,
      'tflite.custom.SignalEnergy': 1, Cast: 4, Slice: 1, Concat: 1, 'tflite.custom.SignalFilterBank': 1,
      'tflite.custom.SignalFilterBankSquareRoot': 1, 'tflite.custom.SignalFilterBankSpectralSubtraction': 1,
      'tflite.custom.SignalPCAN': 1, 'tflite.custom.SignalFilterBankLog': 1, Mul: 1, Add: 2, Div: 1, Min: 1, Max: 1,
    },
  };

  for (const [file, hist] of Object.entries(expected)) {
    it(`imports ${file} with the expected ops`, () => {
      const g = load(file);
      expect(histogram(g)).toEqual(hist);
      expect(g.meta.format).toBe('tflite');
      expect(g.inputs.length).toBeGreaterThan(0);
      // Every node input is a graph input, a constant or an earlier node's output.
      const defined = new Set([...g.inputs, ...[...g.values.values()].filter((v) => v.constant).map((v) => v.name)]);
      for (const n of g.nodes) {
        for (const i of n.inputs) if (i) expect(defined.has(i), `${n.name} reads ${i}`).toBe(true);
        for (const o of n.outputs) defined.add(o);
      }
      for (const o of g.outputs) expect(defined.has(o)).toBe(true);
    });
  }

  it('imports the float audio preprocessor, with its Signal options decoded', () => {
    const g = load('audio_preprocessor_float.tflite');
    const rfft = g.nodes.find((n) => n.op === 'tflite.custom.SignalRfft')!;
    expect(rfft.attrs.fft_length).toBe(512);
    const energy = g.nodes.find((n) => n.op === 'tflite.custom.SignalEnergy')!;
    expect([energy.attrs.start_index, energy.attrs.end_index]).toEqual([5, 241]);
    const opts = energy.attrs.custom_options as Tensor;
    expect(opts.dtype).toBe('uint8');
    expect(opts.size).toBe(41);
    // UINT32/UINT64 tensors are widened, and the importer says so.
    expect(g.value('signal_energy').dtype).toBe('int64');
    expect(g.meta.warnings!.some((w) => w.includes('UINT32/UINT64'))).toBe(true);
    // The strided slice [5:241] of the energy spectrum.
    const slice = g.nodes.find((n) => n.op === 'Slice')!;
    expect(g.value(slice.inputs[1]!).constant!.toNumbers()).toEqual([5]);
    expect(g.value(slice.inputs[2]!).constant!.toNumbers()).toEqual([241]);
  });

  it('tolerates person_detect\'s out-of-range quantized_dimension with a warning', () => {
    const g = load('person_detect.tflite');
    const warning = g.meta.warnings!.find((w) => w.includes('quantized_dimension'));
    expect(warning).toMatch(/^14 tensor\(s\)/);
    const bias = g.value('MobilenetV1/MobilenetV1/Conv2d_0/Conv2D_bias');
    expect(bias.dtype).toBe('int32');
    expect(bias.quant!.axis).toBe(0);
    expect(bias.quant!.scale.length).toBe(8);
  });

  it('reads int8 quantization parameters consistently', () => {
    const g = load('person_detect.tflite');
    const input = g.value('input');
    expect(input.dtype).toBe('int8');
    expect(input.shape).toEqual([1, 96, 96, 1]);
    // A [-1, 1] input range in int8: scale 2/255 with zero point -1.
    expect(input.quant!.scale[0]).toBeCloseTo(2 / 255, 7);
    expect([...input.quant!.zeroPoint]).toEqual([-1]);
    for (const n of g.nodes.filter((x) => x.op === 'Conv' || x.op === 'DepthwiseConv')) {
      const x = g.value(n.inputs[0]!), w = g.value(n.inputs[1]!), b = g.value(n.inputs[2]!);
      // Weights are symmetric per output channel: axis 0 (OHWI) or 3 (1HWO), zero points 0.
      expect(w.quant!.axis).toBe(n.op === 'Conv' ? 0 : 3);
      expect(w.quant!.zeroPoint.every((z) => z === 0)).toBe(true);
      expect(w.constant!.dtype).toBe('int8');
      // The bias scale is input scale × weight scale, channel by channel.
      for (let c = 0; c < w.quant!.scale.length; c++) {
        expect(b.quant!.scale[c]! / (x.quant!.scale[0]! * w.quant!.scale[c]!)).toBeCloseTo(1, 5);
      }
      expect(n.attrs.activation ?? 'none').toMatch(/^(none|relu6)$/);
    }
    const first = g.nodes[0]!;
    expect(first.op).toBe('DepthwiseConv');
    expect(first.attrs).toMatchObject({ strides: [2, 2], dilations: [1, 1], auto_pad: 'SAME_UPPER', activation: 'relu6' });
    const pool = g.nodes.find((n) => n.op === 'AveragePool')!;
    expect(pool.attrs).toMatchObject({ kernel_shape: [3, 3], auto_pad: 'VALID', count_include_pad: 0 });
  });

  it('reads hello_world_int8 quantization and weights', () => {
    const g = load('hello_world_int8.tflite');
    const x = g.value(g.inputs[0]!);
    expect(x.dtype).toBe('int8');
    expect([...x.quant!.zeroPoint]).toEqual([-128]);
    const fc = g.nodes[0]!;
    const w = g.value(fc.inputs[1]!);
    expect(w.shape).toEqual([16, 1]);
    expect(w.constant!.data).toBeInstanceOf(Int8Array);
    expect(fc.attrs).toMatchObject({ activation: 'relu', keep_num_dims: 0 });
  });

  it('keeps variable tensors as zero-initialised constants and says so', () => {
    const g = load('keyword_scrambled_8bit.tflite');
    expect(g.meta.warnings!.some((w) => w.startsWith('7 variable tensor(s)'))).toBe(true);
    const svdf = g.nodes.find((n) => n.op === 'tflite.SVDF')!;
    expect(svdf.attrs.variable_inputs).toEqual([4]);
    expect(svdf.attrs.rank).toBe(1);
  });

  it('accepts bytes from a Buffer or a plain Uint8Array alike', () => {
    const buf = readFileSync(path.join(modelsDir, 'hello_world_float.tflite'));
    const a = importTflite(buf, 'a');
    const b = importTflite(new Uint8Array(buf), 'b');
    const wa = a.value(a.nodes[0]!.inputs[1]!).constant!.data;
    const wb = b.value(b.nodes[0]!.inputs[1]!).constant!.data;
    expect([...wa]).toEqual([...wb]);
  });

  it('runs hello_world_float end to end: x → sin(x)', async () => {
    const session = new Session(load('hello_world_float.tflite'));
    const input = session.inputs[0]!.name;
    for (const x of [0, 0.5, 1, 1.5, 3, 4.5, 6]) {
      const out = await session.run({ [input]: new Tensor('float32', [1, 1], Float32Array.of(x)) });
      const y = Object.values(out)[0]!.data[0] as number;
      expect(Math.abs(y - Math.sin(x)), `sin(${x}) ≈ ${y}`).toBeLessThan(0.15);
    }
  });
});

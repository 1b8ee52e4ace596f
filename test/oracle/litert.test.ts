/**
 * LiteRT.js (TFLite in wasm, XNNPACK on 1 thread) as the oracle for .tflite
 * files our writer produces: float graphs must agree with cloudless within
 * 1e-4; TFLM models written back by the writer run in LiteRT.js, and int8
 * outputs are compared bit for bit with cloudless where its int8 kernels cover
 * the model. LiteRT.js cannot feed a model whose input has a dynamic batch
 * (shape_signature -1, as in TFLM's hello_world), nor load person_detect.tflite
 * (its rank-1 biases claim quantized_dimension 3); both run once imported and
 * written back, since the writer emits static shapes and in-range dimensions.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Tensor, type Graph } from '../../src/ir/index.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { mobileNetV1, mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';
import { int8Kernels } from '../../src/kernels/ref/int8/index.js';
import { refKernels } from '../../src/kernels/ref/index.js';
import { defaultRegistry } from '../../src/runtime/builtins.js';
import { readModel } from '../../src/runtime/load.js';
import { KernelRegistry } from '../../src/runtime/registry.js';
import { Session } from '../../src/runtime/session.js';
import { runLiteRt } from '../helpers/litert.js';
import { maxAbsDiff, randomTensor, singleOpCases } from '../helpers/tflite-cases.js';

const TFLM = path.resolve(__dirname, '../../../shared/models/tflm');
const haveTflm = existsSync(TFLM);

function runCloudless(graph: Graph, feeds: Record<string, Tensor>, registry = defaultRegistry): Tensor[] {
  const out = new Session(graph, { backend: 'ref', registry }).runSync(feeds);
  return graph.outputs.map((n) => out[n]!.clone());
}

/** The default registry once the lead has wired the int8 kernels in; until then one with them registered first. */
function int8Registry(): KernelRegistry {
  if (defaultRegistry.candidates('ref', 'FullyConnected').some((k) => int8Kernels.includes(k))) return defaultRegistry;
  const r = new KernelRegistry();
  r.registerAll(int8Kernels);
  r.registerAll(refKernels);
  return r;
}

/** cloudless's int8 outputs, or undefined (with the reason) when its kernels do not cover the model yet. */
function tryInt8(graph: Graph, feeds: Record<string, Tensor>): { outputs?: Tensor[]; reason?: string } {
  try {
    return { outputs: runCloudless(graph, feeds, int8Registry()) };
  } catch (err) {
    if (err instanceof CloudlessError && (err.code === 'E_UNSUPPORTED_OP' || err.code === 'E_DTYPE')) return { reason: err.message };
    throw err;
  }
}

function int8Tensor(shape: number[], values: (i: number) => number): Tensor {
  const t = new Tensor('int8', shape);
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = values(i);
  return t;
}

/**
 * The grayscale pixels of a TFLM test BMP (8-bit, bottom-up rows) as the model's
 * int8 input, each byte reinterpreted as int8 the way TFLM's generated test
 * arrays appear to hold them (observed: of pixel−128 and the reinterpreted byte,
 * only the latter classifies both test images correctly; not checked against
 * TFLM's generator script).
 */
function bmpAsInt8(file: string): Tensor {
  const b = readFileSync(file);
  const dataOffset = b.readUInt32LE(10), width = b.readInt32LE(18), height = b.readInt32LE(22);
  const rowBytes = Math.ceil(width / 4) * 4;
  return int8Tensor([1, height, width, 1], (i) => {
    const y = Math.floor(i / width), x = i % width;
    return (b[dataOffset + (height - 1 - y) * rowBytes + x]! << 24) >> 24;
  });
}

describe('LiteRT.js vs cloudless: float graphs written by our writer', () => {
  for (const c of singleOpCases()) {
    it(c.name, async () => {
      const want = runCloudless(c.graph, c.feeds);
      const got = await runLiteRt(writeTflite(c.graph), c.graph.inputs.map((n) => c.feeds[n]!));
      got.forEach((t, i) => {
        expect(t.shape).toEqual(want[i]!.shape);
        expect(maxAbsDiff(t, want[i]!)).toBeLessThanOrEqual(1e-4);
      });
    });
  }

  const mobilenets = [
    { name: 'MobileNet-v1 (6 blocks, BatchNormalization kept)', spec: mobileNetV1({ size: 64, alpha: 0.25, classes: 10, blocks: 6, batchNorm: true }) },
    { name: 'MobileNet-v2 (7 blocks, residual adds)', spec: mobileNetV2({ size: 64, alpha: 0.35, classes: 10, blocks: 7 }) },
  ];
  for (const m of mobilenets) {
    it(m.name, async () => {
      const graph = await readModel(toOnnxBytes(m.spec), 'onnx');
      const input = randomTensor([1, 3, 64, 64], 4);
      const [want] = runCloudless(graph, { input });
      const [got] = await runLiteRt(writeTflite(graph), [input]);
      expect(got!.shape).toEqual([1, 10]);
      expect(maxAbsDiff(got!, want!)).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe.skipIf(!haveTflm)('LiteRT.js vs cloudless: TFLM models written back by our writer', () => {
  const load = (f: string) => importTflite(readFileSync(path.join(TFLM, f)), f);

  it('hello_world_float.tflite agrees within 1e-5', async () => {
    const g = load('hello_world_float.tflite');
    const bytes = writeTflite(g);
    for (const x of [0, 0.5, 1.5, 3, 6]) {
      const input = Tensor.fromNumbers('float32', [1, 1], [x]);
      const [want] = runCloudless(g, { [g.inputs[0]!]: input });
      const [got] = await runLiteRt(bytes, [input]);
      expect(maxAbsDiff(got!, want!)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('hello_world_int8.tflite: LiteRT.js tracks the float model, and cloudless matches it bit for bit', async (ctx) => {
    const g = load('hello_world_int8.tflite');
    const gf = load('hello_world_float.tflite');
    const bytes = writeTflite(g);
    const inQ = g.value(g.inputs[0]!).quant!, outQ = g.value(g.outputs[0]!).quant!;
    const inputs = [-128, -100, -50, 0, 25, 60, 100, 127].map((q) => int8Tensor([1, 1], () => q));
    const litert: Tensor[] = [];
    for (const input of inputs) {
      const [got] = await runLiteRt(bytes, [input]);
      litert.push(got!);
      // The written quantization parameters are the ones LiteRT.js computes with: its output
      // dequantizes to the float model's output up to the int8 model's own error (measured at
      // most 0.11 on these inputs); a wrong scale or zero point would be off by far more.
      const x = inQ.scale[0]! * ((input.data as Int8Array)[0]! - inQ.zeroPoint[0]!);
      const [ref] = runCloudless(gf, { [gf.inputs[0]!]: Tensor.fromNumbers('float32', [1, 1], [x]) });
      const y = outQ.scale[0]! * ((got!.data as Int8Array)[0]! - outQ.zeroPoint[0]!);
      expect(Math.abs(y - (ref!.data as Float32Array)[0]!)).toBeLessThan(0.15);
    }
    const ours = inputs.map((input) => tryInt8(g, { [g.inputs[0]!]: input }));
    if (ours.some((o) => !o.outputs)) ctx.skip(`cloudless int8 kernels do not cover hello_world_int8 yet: ${ours.find((o) => o.reason)!.reason}`);
    expect(ours.length).toBe(litert.length);
    ours.forEach((o, i) => expect([...(o.outputs![0]!.data as Int8Array)]).toEqual([...(litert[i]!.data as Int8Array)]));
  });

  it('person_detect.tflite: rejected by LiteRT.js as shipped, runs once written back, and tells person from no person', async (ctx) => {
    await expect(runLiteRt(readFileSync(path.join(TFLM, 'person_detect.tflite')), [int8Tensor([1, 96, 96, 1], () => 0)])).rejects.toThrow();
    const g = load('person_detect.tflite');
    const bytes = writeTflite(g);
    const person = bmpAsInt8(path.join(TFLM, 'person.bmp'));
    const noPerson = bmpAsInt8(path.join(TFLM, 'no_person.bmp'));
    const [withPerson] = await runLiteRt(bytes, [person]);
    const [without] = await runLiteRt(bytes, [noPerson]);
    // Output [no_person, person] scores, as in TFLM's person_detection example.
    const scores = (t: Tensor) => [...(t.data as Int8Array)];
    expect(scores(withPerson!)[1]!).toBeGreaterThan(scores(withPerson!)[0]!);
    expect(scores(without!)[0]!).toBeGreaterThan(scores(without!)[1]!);
    const ours = tryInt8(g, { [g.inputs[0]!]: person });
    if (!ours.outputs) ctx.skip(`cloudless int8 kernels do not cover person_detect yet: ${ours.reason}`);
    expect(scores(ours.outputs![0]!)).toEqual(scores(withPerson!));
  });

  it('micro_speech_quantized.tflite: the written file gives LiteRT.js exactly the original\'s outputs', async () => {
    const original = readFileSync(path.join(TFLM, 'micro_speech_quantized.tflite'));
    const g = importTflite(original, 'micro_speech_quantized.tflite');
    const shape = g.value(g.inputs[0]!).shape as number[];
    const input = int8Tensor(shape, (i) => ((i * 37) % 256) - 128);
    const [a] = await runLiteRt(original, [input]);
    const [b] = await runLiteRt(writeTflite(g), [input]);
    expect([...(b!.data as Int8Array)]).toEqual([...(a!.data as Int8Array)]);
  });

  it('an unresolvable custom op fails the run instead of returning garbage', async () => {
    const g = load('audio_preprocessor_int8.tflite');
    const shape = g.value(g.inputs[0]!).shape as number[];
    const dtype = g.value(g.inputs[0]!).dtype;
    await expect(runLiteRt(writeTflite(g), [new Tensor(dtype, shape)])).rejects.toThrow(/unresolved custom op: SignalWindow/);
  });
});

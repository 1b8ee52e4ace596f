import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { COCO_LABELS } from '../../../src/zoo/coco.js';
import type { Box } from '../../../src/tasks/vision/detection.js';
import { planResize } from '../../../src/tasks/vision/preprocess.js';
import {
  type Anchor, DEFAULT_BOX_SCALES, decodeSsd, decodeSsdBox, encodeSsdBox, generateSsdAnchors, readSsdPostprocessed,
} from '../../../src/tasks/vision/ssd.js';

// The anchor configuration of ssd_mobilenet_v1 (COCO, 300x300) in the TF Object Detection API.
const MOBILENET_V1 = {
  inputWidth: 300, inputHeight: 300, numLayers: 6, minScale: 0.2, maxScale: 0.95,
  strides: [16, 32, 64, 128, 256, 512], aspectRatios: [1.0, 2.0, 0.5, 3.0, 1 / 3],
  reduceBoxesInLowestLayer: true, interpolatedScaleAspectRatio: 1.0,
};

describe('generateSsdAnchors', () => {
  it('gives the 1917 anchors of ssd_mobilenet_v1 in layer, row, column, shape order', () => {
    const anchors = generateSsdAnchors(MOBILENET_V1);
    // 19x19 cells x 3 shapes, then (10² + 5² + 3² + 2² + 1²) cells x 6 shapes.
    expect(anchors).toHaveLength(19 * 19 * 3 + 139 * 6);
    const first = anchors[0]!;
    expect(first.xCenter).toBeCloseTo(0.5 / 19, 12);
    expect(first.height).toBeCloseTo(0.1, 12);
    // Second shape of layer 0: scale 0.2 at aspect 2 → h = 0.2/√2, w = 0.2·√2.
    expect(anchors[1]!.height).toBeCloseTo(0.2 / Math.SQRT2, 12);
    expect(anchors[1]!.width).toBeCloseTo(0.2 * Math.SQRT2, 12);
    // Cell (0, 1) of layer 0 comes right after cell (0, 0)'s three shapes.
    expect(anchors[3]!.xCenter).toBeCloseTo(1.5 / 19, 12);
    // The last anchor: 1x1 map at the centre, interpolated scale √(0.95 · 1) at ratio 1.
    const last = anchors[anchors.length - 1]!;
    expect([last.xCenter, last.yCenter]).toEqual([0.5, 0.5]);
    expect(last.width).toBeCloseTo(Math.sqrt(0.95), 12);
  });

  it('merges layers of one stride into one grid (BlazeFace style) and honours fixed anchor sizes', () => {
    const anchors = generateSsdAnchors({
      inputWidth: 128, inputHeight: 128, numLayers: 4, minScale: 0.1484375, maxScale: 0.75,
      strides: [8, 16, 16, 16], aspectRatios: [1.0], interpolatedScaleAspectRatio: 1.0, fixedAnchorSize: true,
    });
    expect(anchors).toHaveLength(16 * 16 * 2 + 8 * 8 * 6); // 896, BlazeFace's count
    expect(anchors.every((a) => a.width === 1 && a.height === 1)).toBe(true);
  });

  it('rejects mismatched layer counts', () => {
    expect(() => generateSsdAnchors({ ...MOBILENET_V1, strides: [16, 32] })).toThrow(/6 layers but 2 strides/);
  });
});

describe('SSD box coder', () => {
  it('decode inverts encode', () => {
    const a: Anchor = { yCenter: 0.4, xCenter: 0.6, height: 0.2, width: 0.3 };
    const box: Box = [0.5, 0.25, 0.8, 0.6];
    const enc = encodeSsdBox(box, a, DEFAULT_BOX_SCALES);
    const back = decodeSsdBox(enc, 0, a, DEFAULT_BOX_SCALES);
    expect(back.length).toBe(box.length);
    back.forEach((v, i) => expect(v).toBeCloseTo(box[i]!, 12));
    // A zero encoding is the anchor itself.
    expect(decodeSsdBox([0, 0, 0, 0], 0, a, DEFAULT_BOX_SCALES).map((v) => +v.toFixed(12))).toEqual([0.45, 0.3, 0.75, 0.5]);
  });
});

describe('decodeSsd', () => {
  const anchors: Anchor[] = [
    { yCenter: 0.25, xCenter: 0.25, height: 0.5, width: 0.5 },
    { yCenter: 0.25, xCenter: 0.3, height: 0.5, width: 0.5 },
    { yCenter: 0.75, xCenter: 0.75, height: 0.5, width: 0.5 },
  ];
  const boxes: Box[] = [[0, 0, 0.5, 0.5], [0.05, 0, 0.55, 0.5], [0.5, 0.5, 1, 1]];
  const enc = new Tensor('float32', [1, 3, 4], Float32Array.from(boxes.flatMap((b, i) => encodeSsdBox(b, anchors[i]!, DEFAULT_BOX_SCALES))));
  // Columns: background, class 0 (person), class 1 (bicycle).
  const scores = new Tensor('float32', [1, 3, 3], Float32Array.from([
    0.1, 0.9, 0.2,
    0.1, 0.3, 0.8,
    0.0, 0.6, 0.1,
  ]));
  const t = planResize(200, 100, { width: 300, height: 300, resize: 'stretch' });

  it('fast NMS: best class per anchor, class-agnostic suppression, pixels of the original image', () => {
    const dets = decodeSsd(enc, scores, t, { anchors, labels: COCO_LABELS });
    expect(dets.map((d) => [d.label, d.score])).toEqual([['person', 0.9], ['person', 0.6]].map(([l, s]) => [l, expect.closeTo(s as number, 6)]));
    expect(dets[0]!.box.map((v) => +v.toFixed(6))).toEqual([0, 0, 100, 50]);
    expect(dets[1]!.box.map((v) => +v.toFixed(6))).toEqual([100, 50, 200, 100]);
  });

  it('regular NMS: per-class suppression keeps the overlapping bicycle', () => {
    const dets = decodeSsd(enc, scores, t, { anchors, regularNms: true, scoreThreshold: 0.25 });
    expect(dets.map((d) => [d.classId, +d.score.toFixed(6)])).toEqual([[0, 0.9], [1, 0.8], [0, 0.6]]);
    expect(dets[0]!.label).toBe('class 0');
  });

  it('applies a sigmoid to logits and dequantizes int8 scores', () => {
    const logit = (p: number): number => Math.log(p / (1 - p));
    const logits = new Tensor('float32', [1, 3, 3], (scores.data as Float32Array).map((p) => logit(Math.min(Math.max(p, 0.01), 0.99))));
    expect(decodeSsd(enc, logits, t, { anchors, sigmoidScores: true })[0]!.score).toBeCloseTo(0.9, 5);
    const q = new Tensor('int8', [1, 3, 3], Int8Array.from(scores.data as Float32Array, (p) => Math.round(p * 256) - 128));
    q.quant = { scale: Float32Array.of(1 / 256), zeroPoint: Int32Array.of(-128) };
    expect(decodeSsd(enc, q, t, { anchors })[0]!.score).toBeCloseTo(0.9, 2);
  });

  it('checks the number of anchors against the outputs', () => {
    expect(() => decodeSsd(enc, scores, t, { anchors: anchors.slice(0, 2) })).toThrow(/expected shape \[1, 2, 4\]/);
  });

  it('reads TFLite_Detection_PostProcess outputs (y/x order, count)', () => {
    const dets = readSsdPostprocessed({
      boxes: new Tensor('float32', [1, 2, 4], Float32Array.from([0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1])),
      classes: new Tensor('float32', [1, 2], Float32Array.from([46, 49])),
      scores: new Tensor('float32', [1, 2], Float32Array.from([0.8, 0.7])),
      count: new Tensor('float32', [1], Float32Array.from([1])),
    }, t, { labels: COCO_LABELS });
    expect(dets).toEqual([{ label: 'banana', classId: 46, score: expect.closeTo(0.8, 6), box: [0, 0, 100, 50] }]);
  });
});

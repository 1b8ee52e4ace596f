/**
 * The robustness report: perturbations are deterministic and do what they say
 * (measured on synthetic images), decision changes are counted by label, IoU and
 * margin, and the report runs real models: PaddleOCR's direction classifier on a
 * rendered text line and its 180° turn, CenterNet on messi5 (3 runs).
 */
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier } from '../../../src/tasks/vision/classifier.js';
import type { Detection } from '../../../src/tasks/vision/detection.js';
import { createDetector } from '../../../src/tasks/vision/detector.js';
import type { RgbImage } from '../../../src/tasks/vision/image.js';
import {
  DEFAULT_STRENGTHS, OCCLUSION_POSITIONS, detectionChanges, parsePerturbations, perturb, robustnessReport,
} from '../../../src/tasks/vision/robustness.js';
import { SAMPLES_MISSING, opencvSamples } from './data.js';

const samples = opencvSamples();
if (!samples) console.warn(`skipping CenterNet robustness test: ${SAMPLES_MISSING}`);

/** A w x h image whose pixel (x, y) channel c is f(x, y, c). */
function synthetic(w: number, h: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { data, width: w, height: h, channels: 3 };
}

function meanAndStd(a: Uint8Array, b: Uint8Array): { mean: number; std: number } {
  expect(a.length).toBe(b.length);
  let s = 0, s2 = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i]! - b[i]!; s += d; s2 += d * d; }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
}

const grey = synthetic(200, 100, () => 128);
const gradient = synthetic(160, 120, (x, y, c) => (x * 3 + y * 2 + c * 40) & 255);

describe('perturbations', () => {
  it('noise: the same seed gives the same pixels, another seed others, with the σ asked for', async () => {
    const a = await perturb(grey, { kind: 'noise', strength: 16 }, { seed: 7 });
    const b = await perturb(grey, { kind: 'noise', strength: 16 }, { seed: 7 });
    const c = await perturb(grey, { kind: 'noise', strength: 16 }, { seed: 8 });
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
    const { mean, std } = meanAndStd(a.data, grey.data);
    // 60000 samples: the sample σ is within 2% of 16 and the mean within 0.3 of 0 (rounding adds 1/12 variance).
    expect(std).toBeGreaterThan(15.7);
    expect(std).toBeLessThan(16.4);
    expect(Math.abs(mean)).toBeLessThan(0.3);
    expect(grey.data.every((v) => v === 128)).toBe(true);
  });

  it('brightness multiplies and clamps; ×1 is the identity', async () => {
    const up = await perturb(gradient, { kind: 'brightness', strength: 1.5 });
    for (const i of [0, 1, 2, 500, 20_000, gradient.data.length - 1]) expect(up.data[i]).toBe(Math.min(255, Math.round(gradient.data[i]! * 1.5)));
    expect(Buffer.from((await perturb(gradient, { kind: 'brightness', strength: 1 })).data).equals(Buffer.from(gradient.data))).toBe(true);
    expect((await perturb(gradient, { kind: 'brightness', strength: 0 })).data.every((v) => v === 0)).toBe(true);
  });

  it('occlusion paints a grey square of the given share of the shorter side at the given centre', async () => {
    const img = synthetic(200, 100, () => 0);
    const o = await perturb(img, { kind: 'occlusion', strength: 0.2, at: [0.25, 0.5] });
    let count = 0, minX = Infinity, maxX = -1, minY = Infinity, maxY = -1;
    for (let y = 0; y < 100; y++) for (let x = 0; x < 200; x++) {
      if (o.data[(y * 200 + x) * 3] === 128) { count++; minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
    }
    expect(count).toBe(20 * 20);
    expect([minX, maxX, minY, maxY]).toEqual([40, 59, 40, 59]);
    expect(OCCLUSION_POSITIONS).toHaveLength(9);
  });

  it('jpeg: lower quality, larger error; blur: σ in model pixels, lowers the gradient\'s detail', async () => {
    const q90 = meanAndStd((await perturb(gradient, { kind: 'jpeg', strength: 90 })).data, gradient.data).std;
    const q10 = meanAndStd((await perturb(gradient, { kind: 'jpeg', strength: 10 })).data, gradient.data).std;
    expect(q90).toBeGreaterThan(0);
    expect(q10).toBeGreaterThan(q90 * 1.5);
    // A step edge: how many pixels of a row lie between black and white grows with the blur's σ.
    const edge = synthetic(64, 64, (x) => (x < 32 ? 0 : 255));
    const width = (im: RgbImage): number => { let n = 0; for (let x = 0; x < 64; x++) { const v = im.data[(10 * 64 + x) * 3]!; if (v > 8 && v < 247) n++; } return n; };
    const mild = await perturb(edge, { kind: 'blur', strength: 2 }, { modelSize: { width: 64, height: 64 } });
    // The same σ in model pixels, on a model with half the resolution: twice the σ in image pixels.
    const strong = await perturb(edge, { kind: 'blur', strength: 2 }, { modelSize: { width: 32, height: 32 } });
    expect(width(edge)).toBe(0);
    expect(width(mild)).toBeGreaterThanOrEqual(3);
    expect(width(strong)).toBeGreaterThanOrEqual(width(mild) * 1.6);
  });

  it('parses --perturb values and refuses unknown kinds and out-of-range strengths', () => {
    expect(parsePerturbations(['noise', 'jpeg=50,10', 'noise=2'])).toEqual([
      { kind: 'noise', strengths: [...DEFAULT_STRENGTHS.noise, 2] }, { kind: 'jpeg', strengths: [50, 10] },
    ]);
    expect(() => parsePerturbations(['fog'])).toThrow(/unknown perturbation 'fog'/);
    expect(() => parsePerturbations(['jpeg=0'])).toThrow(/jpeg strength 0 is out of range/);
    expect(() => parsePerturbations(['occlusion=1.5'])).toThrow(/occlusion strength 1.5/);
    expect(() => parsePerturbations(['noise=x'])).toThrow(/noise strength NaN/);
  });
});

describe('decision changes', () => {
  const det = (label: string, classId: number, score: number, box: Detection['box']): Detection => ({ label, classId, score, box });
  const person = det('person', 0, 0.7, [0, 0, 100, 100]);
  const weak = det('dog', 16, 0.25, [200, 200, 260, 260]);

  it('a confident detection lost or gained counts; one near the threshold does not', () => {
    expect(detectionChanges([person, weak], [person], 0.2)).toEqual({ lost: [], gained: [] });
    expect(detectionChanges([person], [], 0.2)).toEqual({ lost: [person], gained: [] });
    expect(detectionChanges([], [person], 0.2)).toEqual({ lost: [], gained: [person] });
    // The same place under another label is not the same decision.
    const cat = { ...person, label: 'cat', classId: 15 };
    expect(detectionChanges([person], [cat], 0.2)).toEqual({ lost: [person], gained: [cat] });
    // Moved: IoU of [0,0,100,100] and [40,0,140,100] is 60/140 = 0.43.
    const moved = det('person', 0, 0.7, [40, 0, 140, 100]);
    expect(detectionChanges([person], [moved], 0.2).lost).toHaveLength(1);
    expect(detectionChanges([person], [moved], 0.2, { matchIou: 0.4 }).lost).toHaveLength(0);
    expect(detectionChanges([weak], [], 0.2, { margin: 0 }).lost).toEqual([weak]);
  });
});

describe('robustness report on real models', () => {
  let line: RgbImage, turned: RgbImage;
  beforeAll(async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="384" height="96"><rect width="384" height="96" fill="#fff"/>' +
      '<text x="12" y="66" font-family="DejaVu Sans" font-size="48" fill="#000">Hello world 42</text></svg>';
    const raw = async (s: sharp.Sharp): Promise<RgbImage> => {
      const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
    };
    line = await raw(sharp(Buffer.from(svg)));
    turned = await raw(sharp(Buffer.from(svg)).rotate(180));
  });

  it('classifier: identity changes nothing; a black image gives both lines one decision, so exactly one changes', async () => {
    const cls = await createClassifier('paddleocr-cls');
    const r = await robustnessReport(cls, [line, turned], { perturbations: [{ kind: 'brightness', strengths: [1, 0] }, { kind: 'noise', strengths: [4] }] });
    expect(r.task).toBe('classify');
    expect(r.images.map((i) => i.decision)).toEqual([['0'], ['180']]);
    const [identity, black, noise] = r.rows;
    expect(identity).toMatchObject({ label: 'brightness ×1', trials: 2, changed: 0, rate: 0 });
    expect(black).toMatchObject({ label: 'brightness ×0', trials: 2, changed: 1, rate: 0.5 });
    // Mild noise does not turn a clean text line over.
    expect(noise).toMatchObject({ label: 'noise σ=4', trials: 2, changed: 0 });
    expect(r.changes).toHaveLength(1);
    expect(r.runs).toBe(2 * 4);
    expect(r.failures).toEqual([]);
  });

  it('records an image that cannot be decoded as a failure and measures the others', async () => {
    const cls = await createClassifier('paddleocr-cls');
    const r = await robustnessReport(cls, [new Uint8Array([1, 2, 3, 4]), line], { perturbations: [{ kind: 'brightness', strengths: [1] }] });
    expect(r.failures).toEqual([{ image: '<image bytes, 4 B>', error: { code: 'E_IMAGE', message: expect.stringMatching(/not an image/) } }]);
    expect(r.rows[0]).toMatchObject({ trials: 1, changed: 0 });
  });

  it.skipIf(!samples)('detector: a black messi5 loses every confident detection and gains none', async () => {
    const detector = await createDetector('centernet');
    const r = await robustnessReport(detector, [path.join(samples!, 'messi5.jpg')], { perturbations: [{ kind: 'brightness', strengths: [1, 0] }] });
    expect(r).toMatchObject({ task: 'detect', threshold: 0.2, margin: 0.1, matchIou: 0.5 });
    const confident = r.images[0]!.detections!.filter((d) => d.score >= 0.3);
    // messi5: a sports ball and three people above 0.3 (test/tasks/vision/reference-pipeline.test.ts).
    expect(confident.length).toBeGreaterThanOrEqual(3);
    expect(r.rows[0]).toMatchObject({ changed: 0, lost: 0, gained: 0 });
    expect(r.rows[1]).toMatchObject({ changed: 1, lost: confident.length, gained: 0 });
  }, 60_000);
});

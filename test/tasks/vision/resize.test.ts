/**
 * resize.ts against independent oracles: tf.image.resizeBilinear and
 * resizeNearestNeighbor (TF.js cpu and wasm backends) on opencv photos, and the
 * OpenCV INTER_LINEAR fixed-point arithmetic worked by hand on small cases.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { decodeImage } from '../../../src/tasks/vision/image.js';
import { type PixelBuffer, parseResizeMethod, resizePixels } from '../../../src/tasks/vision/resize.js';
import { SAMPLES_MISSING, opencvSamples } from './data.js';

const samples = opencvSamples();
if (!samples) console.warn(`skipping resize oracle tests: ${SAMPLES_MISSING}`);

let tf: typeof TfModule;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.skipIf(!samples)('tf-bilinear and nearest equal TF.js on opencv photos', () => {
  const photos = ['fruits.jpg', 'messi5.jpg'];
  const images: Record<string, PixelBuffer> = {};
  beforeAll(async () => {
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    for (const p of photos) images[p] = await decodeImage(join(samples!, p));
  });

  const tfResize = async (backend: string, img: PixelBuffer, size: [number, number], align: boolean, half: boolean, nearest = false): Promise<Float32Array> => {
    await tf.setBackend(backend);
    await tf.ready();
    const x = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
    const y = nearest ? tf.image.resizeNearestNeighbor(x, size, align, half) : tf.image.resizeBilinear(x, size, align, half);
    const out = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    return out;
  };

  const worst: Record<string, number> = {};
  afterAll(() => console.log(`tf-bilinear vs TF.js, largest difference: ${JSON.stringify(worst)}`));
  for (const backend of ['cpu', 'wasm']) {
    it(`tf-bilinear, all four flag combinations, ${backend} backend: within float rounding`, async () => {
      for (const p of photos) {
        const img = images[p]!;
        for (const [W, H] of [[512, 512], [416, 416], [97, 61]] as const) {
          for (const alignCorners of [false, true]) {
            for (const halfPixelCenters of [false, true]) {
              if (alignCorners && halfPixelCenters) continue; // TF refuses this combination
              const ours = resizePixels(img, W, H, { method: 'tf-bilinear', tf: { alignCorners, halfPixelCenters } });
              const theirs = await tfResize(backend, img, [H, W], alignCorners, halfPixelCenters);
              const d = maxAbsDiff(ours.data, theirs);
              // The cpu kernel is the same float64 arithmetic stored as float32, so exact. The wasm
              // kernel works in float32: its source coordinate is off by up to ~500 * 2^-24 px, which
              // across a 100-level edge is ~3e-3 of a pixel value.
              expect(d, `${p} ${W}x${H} align=${alignCorners} half=${halfPixelCenters}`).toBeLessThanOrEqual(backend === 'cpu' ? 0 : 1e-2);
              worst[backend] = Math.max(worst[backend] ?? 0, d);
            }
          }
        }
      }
    });
  }

  it('nearest equals tf.image.resizeNearestNeighbor with TF\'s default flags (cpu)', async () => {
    for (const p of photos) {
      const img = images[p]!;
      for (const [W, H] of [[512, 512], [100, 300]] as const) {
        const ours = resizePixels(img, W, H, { method: 'nearest' });
        expect(maxAbsDiff(ours.data, await tfResize('cpu', img, [H, W], false, false, true)), `${p} ${W}x${H}`).toBe(0);
      }
    }
  });

  it('differs from sharp\'s lanczos3 by far more than float rounding (why it matters)', async () => {
    const img = images['fruits.jpg']!;
    const sharpSmall = await decodeImage(join(samples!, 'fruits.jpg'), { resize: { width: 416, height: 416, fit: 'fill' } });
    const ours = resizePixels(img, 416, 416, { method: 'tf-bilinear' });
    expect(maxAbsDiff(ours.data, sharpSmall.data)).toBeGreaterThan(20);
  });
});

describe('opencv-linear (cv::resize INTER_LINEAR, CV_8U fixed point)', () => {
  const gray = (w: number, h: number, f: (x: number, y: number) => number): PixelBuffer => {
    const data = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
    return { data, width: w, height: h, channels: 1 };
  };

  it('1x3 -> 1x2 worked by hand: coordinates 0.25 and 1.75, weights 1536/512 and 512/1536', () => {
    // x = (d + 0.5) * 1.5 - 0.5: d=0 → 0.25 (taps 0,1), d=1 → 1.75 (taps 1,2).
    const out = resizePixels(gray(3, 1, (x) => [10, 200, 50][x]!), 2, 1, { method: 'opencv-linear' });
    // Horizontal sums (22-bit with the vertical weight 2048 applied after): 10*1536+200*512 = 117760,
    // 200*512+50*1536 = 179200; vertical ((2048 * (s >> 4)) >> 16 + 0 + 2) >> 2 over rows 0/0.
    const v = (s: number): number => (((2048 * (s >> 4)) >> 16) + ((0 * (s >> 4)) >> 16) + 2) >> 2;
    expect(Array.from(out.data)).toEqual([v(117760), v(179200)]);
    expect(Array.from(out.data)).toEqual([58, 88]);
  });

  it('upscaling clamps to the edge pixel at both borders', () => {
    const out = resizePixels(gray(2, 1, (x) => [0, 255][x]!), 4, 1, { method: 'opencv-linear' });
    // x = -0.25 → clamped to 0 (pure left), 0.25, 0.75, 1.25 → clamped to the right edge.
    expect(out.data[0]).toBe(0);
    expect(out.data[3]).toBe(255);
    expect(out.data[1]).toBe(64); // 255 * 512/2048 = 63.75, rounded by the fixed point
    expect(out.data[2]).toBe(191);
  });

  it('an exact 2x downscale is INTER_AREA (the 2x2 mean), as OpenCV switches to', () => {
    const out = resizePixels(gray(4, 2, (x, y) => x * 10 + y * 3), 2, 1, { method: 'opencv-linear' });
    expect(Array.from(out.data)).toEqual([Math.round((0 + 10 + 3 + 13) / 4), Math.round((20 + 30 + 23 + 33) / 4)]);
  });

  it('a constant image stays constant at any size; same size is the identity', () => {
    const c = resizePixels(gray(37, 23, () => 177), 50, 11, { method: 'opencv-linear' });
    expect(new Set(c.data)).toEqual(new Set([177]));
    const img = gray(13, 7, (x, y) => (x * 37 + y * 91) % 256);
    expect(Array.from(resizePixels(img, 13, 7, { method: 'opencv-linear' }).data)).toEqual(Array.from(img.data));
  });
});

describe('area and errors', () => {
  it('area downscale by an integer factor is the block mean; by 1.5 it weights partial cells', () => {
    const img: PixelBuffer = { data: Uint8Array.from([0, 30, 60, 90, 120, 150]), width: 3, height: 2, channels: 1 };
    expect(Array.from(resizePixels(img, 1, 1, { method: 'area' }).data)).toEqual([75]);
    // 3 → 2 columns: [0, 1.5) and [1.5, 3): weights 2/3, 1/3 and 1/3, 2/3.
    const r = resizePixels({ data: Uint8Array.from([0, 30, 90]), width: 3, height: 1, channels: 1 }, 2, 1, { method: 'area' });
    expect(r.data[0]).toBeCloseTo(10, 5);
    expect(r.data[1]).toBeCloseTo(70, 5);
  });

  it('names what is wrong', () => {
    expect(() => parseResizeMethod('bicubic')).toThrow(/unknown resize method 'bicubic'.*/);
    const img: PixelBuffer = { data: new Uint8Array(5), width: 2, height: 2, channels: 1 };
    expect(() => resizePixels(img, 1, 1, { method: 'area' })).toThrow(/needs 4 values, has 5/);
    expect(() => resizePixels({ ...img, data: new Uint8Array(4) }, 0, 1, { method: 'area' })).toThrow(/positive integers/);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CloudlessError } from '../../../src/ir/index.js';
import type { RgbImage } from '../../../src/tasks/vision/image.js';
import { type PreprocessSpec, planResize, preprocessImage, toModelPoint, toSourceBox, toSourcePoint } from '../../../src/tasks/vision/preprocess.js';

/** A w x h image whose pixel (x, y) is (x*10, y*10, 200): every value says where it came from. */
function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 10, y * 10, 200], (y * w + x) * 3);
  return { data, width: w, height: h, channels: 3 };
}

const base: PreprocessSpec = { width: 4, height: 3, layout: 'NHWC', channels: 'RGB', resize: 'stretch', normalize: 'none', dtype: 'float32' };

describe('preprocessImage', () => {
  it('keeps pixels exact when no resize is needed, in NHWC and NCHW', async () => {
    const img = gradient(4, 3);
    const nhwc = await preprocessImage(img, base);
    expect(nhwc.tensor.shape).toEqual([1, 3, 4, 3]);
    expect(nhwc.tensor.toNumbers()).toEqual(Array.from(img.data));
    const nchw = await preprocessImage(img, { ...base, layout: 'NCHW' });
    expect(nchw.tensor.shape).toEqual([1, 3, 3, 4]);
    // Channel 1 (green) of pixel (x=2, y=1) sits at c*H*W + y*W + x.
    expect(nchw.tensor.data[1 * 12 + 1 * 4 + 2]).toBe(10);
    expect(nchw.tensor.data[2 * 12 + 5]).toBe(200);
  });

  it('swaps to BGR and applies mean/std in output channel order', async () => {
    const img = gradient(4, 3);
    const { tensor } = await preprocessImage(img, { ...base, channels: 'BGR', normalize: { mean: [100, 10, 0], std: [50, 5, 10] } });
    // Pixel (3, 2) is RGB (30, 20, 200) → BGR (200, 20, 30) → ((200-100)/50, (20-10)/5, 30/10).
    const o = (2 * 4 + 3) * 3;
    expect(tensor.toNumbers().slice(o, o + 3)).toEqual([2, 2, 3]);
  });

  it('scales to 0..1 and quantizes to int8 with the model input parameters', async () => {
    const img = gradient(4, 3);
    const f = await preprocessImage(img, { ...base, normalize: 'zero-one' });
    expect(f.tensor.data[2]).toBeCloseTo(200 / 255, 6);
    // Person-detection style: real in [-1, 1] via mean/std 127.5, scale 2/255, zero point -1.
    const q = await preprocessImage(img, { ...base, normalize: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] }, dtype: 'int8', quant: { scale: 2 / 255, zeroPoint: -1 } });
    expect(q.tensor.dtype).toBe('int8');
    expect(q.tensor.quant?.zeroPoint[0]).toBe(-1);
    // p = 0 → r = -1 → -1/(2/255) - 1 = -128.5 → -128 (saturated); p = 200 → round(57.5) rounds half up to 58, + (-1) = 57.
    expect(q.tensor.data[0]).toBe(-128);
    expect(q.tensor.data[2]).toBe(Math.round((200 - 127.5) / 127.5 / (2 / 255)) - 1);
    const raw = await preprocessImage(img, { ...base, dtype: 'int8' });
    expect(raw.tensor.data[2]).toBe(200 - 128);
    const u8 = await preprocessImage(img, { ...base, dtype: 'uint8' });
    expect(u8.tensor.data[2]).toBe(200);
  });

  it('gives one luma channel for GRAY: grey stays grey, blue is darker than green', async () => {
    const img: RgbImage = { data: Uint8Array.from([120, 120, 120, 0, 0, 255, 0, 255, 0]), width: 3, height: 1, channels: 3 };
    const { tensor } = await preprocessImage(img, { ...base, width: 3, height: 1, channels: 'GRAY', dtype: 'uint8' });
    expect(tensor.shape).toEqual([1, 1, 3, 1]);
    expect(Math.abs(tensor.toNumbers()[0]! - 120)).toBeLessThanOrEqual(1);
    expect(tensor.data[1]).toBeLessThan(tensor.data[2]!);
  });

  it('letterboxes with the pad value and reports where the image went', async () => {
    const solid: RgbImage = { data: new Uint8Array(20 * 10 * 3).fill(255), width: 20, height: 10, channels: 3 };
    const { tensor, transform } = await preprocessImage(solid, { ...base, width: 10, height: 10, resize: 'letterbox', padValue: 7, dtype: 'uint8' });
    expect(transform).toMatchObject({ scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 2 });
    const row = (y: number): number[] => tensor.toNumbers().slice(y * 30, y * 30 + 3);
    expect(row(0)).toEqual([7, 7, 7]);
    expect(row(1)).toEqual([7, 7, 7]);
    expect(row(2)).toEqual([255, 255, 255]);
    expect(row(6)).toEqual([255, 255, 255]);
    expect(row(7)).toEqual([7, 7, 7]);
  });

  it('rejects inconsistent specs with E_CONFIG', async () => {
    const img = gradient(4, 3);
    const bad = async (spec: PreprocessSpec, re: RegExp): Promise<void> => {
      const err = await preprocessImage(img, spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudlessError);
      expect((err as CloudlessError).code).toBe('E_CONFIG');
      expect((err as CloudlessError).message).toMatch(re);
    };
    await bad({ ...base, width: 0 }, /positive integers/);
    await bad({ ...base, normalize: { mean: [0], std: [1] } }, /need 3 values/);
    await bad({ ...base, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }, /non-zero/);
    await bad({ ...base, normalize: 'zero-one', dtype: 'int8' }, /needs quant/);
    await bad({ ...base, quant: { scale: 1, zeroPoint: 0 } }, /only for int8/);
  });
});

describe('image transform', () => {
  it('letterbox: model → source → model is the identity, and the image centre maps to the input centre', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 1, max: 1024 }),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
      (sw, sh, w, h, fx, fy) => {
        const t = planResize(sw, sh, { width: w, height: h, resize: 'letterbox' });
        const [sx, sy] = [fx * sw, fy * sh];
        const [mx, my] = toModelPoint(t, sx, sy);
        const [bx, by] = toSourcePoint(t, mx, my);
        expect(bx).toBeCloseTo(sx, 6);
        expect(by).toBeCloseTo(sy, 6);
        // The resized image fits inside the input and touches two opposite sides (±1 px of rounding).
        const rw = sw * t.scaleX, rh = sh * t.scaleY;
        expect(t.padX + rw).toBeLessThanOrEqual(w + 1e-9);
        expect(t.padY + rh).toBeLessThanOrEqual(h + 1e-9);
        expect(Math.min(w - rw, h - rh)).toBeLessThanOrEqual(1);
        // Aspect ratio kept up to the rounding of the resized size to whole pixels.
        if (rw >= 8 && rh >= 8) expect(Math.abs(t.scaleX / t.scaleY - 1)).toBeLessThan(0.2);
      }), { numRuns: 300 });
  });

  it('stretch maps corners to corners, and boxes in the border clip to the image', () => {
    const t = planResize(640, 480, { width: 320, height: 320, resize: 'stretch' });
    expect(toSourcePoint(t, 320, 320)).toEqual([640, 480]);
    const lb = planResize(640, 480, { width: 320, height: 320, resize: 'letterbox' });
    expect(lb).toMatchObject({ padX: 0, padY: 40, scaleX: 0.5, scaleY: 0.5 });
    expect(toSourceBox(lb, [10, 0, 30, 60])).toEqual([20, 0, 60, 40]);
  });
});

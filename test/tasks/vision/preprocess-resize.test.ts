/** preprocessImage with a named resize kernel: letterbox border, grey, and the CLI-level override. */
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/tasks/vision/image.js';
import { preprocessImage } from '../../../src/tasks/vision/preprocess.js';

const img = (w: number, h: number, f: (x: number, y: number, c: number) => number): RgbImage => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { data, width: w, height: h, channels: 3 };
};

describe('preprocessImage with the model\'s resize', () => {
  it('letterbox: the resized image sits centred, the border holds padValue, before normalisation', async () => {
    const src = img(8, 4, (x, _y, c) => x * 20 + c);
    const { tensor, transform } = await preprocessImage(src, {
      width: 4, height: 4, layout: 'NHWC', channels: 'RGB', resize: 'letterbox', interpolation: 'nearest',
      normalize: 'none', dtype: 'float32', padValue: 114,
    });
    expect(transform).toMatchObject({ padX: 0, padY: 1, scaleX: 0.5, scaleY: 0.5 });
    const d = tensor.data as Float32Array;
    const px = (x: number, y: number): number[] => Array.from(d.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([114, 114, 114]);
    expect(px(3, 3)).toEqual([114, 114, 114]);
    // nearest: dst x → src floor(2x): 0, 40, 80, 120.
    expect([px(0, 1), px(1, 1), px(3, 2)]).toEqual([[0, 1, 2], [40, 41, 42], [120, 121, 122]]);
  });

  it('tf-bilinear keeps fractions (TF feeds the model floats); BGR and mean/std apply after', async () => {
    const src = img(3, 1, (x) => [0, 101, 255][x]!);
    const { tensor } = await preprocessImage(src, {
      width: 2, height: 1, layout: 'NCHW', channels: 'BGR', resize: 'stretch', interpolation: 'tf-bilinear',
      tfBilinear: { alignCorners: false, halfPixelCenters: true }, normalize: { mean: [1, 2, 3], std: [2, 2, 2] }, dtype: 'float32',
    });
    // half-pixel: x = 1.5 * (d + 0.5) - 0.5 = 0.25 and 1.75 → 25.25 and 216.5 in every channel.
    expect(Array.from(tensor.data as Float32Array)).toEqual([(25.25 - 1) / 2, (216.5 - 1) / 2, (25.25 - 2) / 2, (216.5 - 2) / 2, (25.25 - 3) / 2, (216.5 - 3) / 2]);
  });

  it('an int8 input rounds the float pixels before the TFLM offset', async () => {
    const src = img(3, 1, (x) => [0, 101, 255][x]!);
    const { tensor } = await preprocessImage(src, {
      width: 2, height: 1, layout: 'NHWC', channels: 'GRAY', resize: 'stretch', interpolation: 'area', normalize: 'none', dtype: 'int8',
    });
    expect(tensor.dtype).toBe('int8');
    expect(tensor.data.length).toBe(2);
    for (const v of tensor.data as Int8Array) expect(Number.isInteger(v)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { CloudlessError } from '../../../src/ir/index.js';
import { decodeImage, openImage } from '../../../src/tasks/vision/image.js';
import { preprocessImage } from '../../../src/tasks/vision/preprocess.js';

async function jpeg(width: number, height: number): Promise<Uint8Array> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg().toBuffer();
}

async function expectImageError(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CloudlessError);
  expect((err as CloudlessError).code).toBe(code);
  expect((err as CloudlessError).message).toMatch(pattern);
}

describe('decodeImage', () => {
  it('decodes to RGB HWC bytes', async () => {
    const img = await decodeImage(await sharp({ create: { width: 3, height: 2, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } }).png().toBuffer());
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([3, 2, 3, 18]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
  });

  it('turns greyscale into RGB and flattens alpha over black', async () => {
    const grey = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 90, g: 90, b: 90 } } }).toColourspace('b-w').png().toBuffer();
    expect((await decodeImage(grey)).channels).toBe(3);
    const halfRed = await sharp({ create: { width: 1, height: 1, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    expect((await decodeImage(halfRed)).data[0]).toBeCloseTo(100, -1);
  });

  it('refuses bytes that are not an image, naming the input', async () => {
    await expectImageError(decodeImage(new TextEncoder().encode('definitely not a picture')), 'E_IMAGE', /image <image bytes, 24 B>: not an image/);
  });

  it('refuses a truncated JPEG instead of returning grey rows', async () => {
    const full = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    await expectImageError(decodeImage(full.subarray(0, Math.floor(full.length * 0.6))), 'E_IMAGE', /truncated or corrupt/);
  });

  it('reports a missing file as E_FILE with its path', async () => {
    await expectImageError(decodeImage('/nonexistent/photo.jpg'), 'E_FILE', /\/nonexistent\/photo\.jpg: file not found/);
  });

  it('decodes a 1x1 image, and preprocessing scales it up', async () => {
    const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    expect(Array.from((await decodeImage(one)).data)).toEqual([10, 20, 30]);
    const { tensor } = await preprocessImage(one, { width: 8, height: 8, layout: 'NHWC', channels: 'RGB', resize: 'letterbox', normalize: 'none', dtype: 'uint8' });
    expect(tensor.shape).toEqual([1, 8, 8, 3]);
    expect(tensor.toNumbers().slice(0, 3)).toEqual([10, 20, 30]);
  });

  it('refuses raw pixels with a zero dimension or the wrong byte count', async () => {
    await expectImageError(decodeImage({ data: new Uint8Array(0), width: 0, height: 5, channels: 3 }), 'E_IMAGE', /positive integers/);
    await expectImageError(decodeImage({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }), 'E_IMAGE', /expected 6 bytes/);
  });

  it('refuses images over the input pixel limit before decoding pixels', async () => {
    const img = await jpeg(300, 200);
    await expectImageError(decodeImage(img, { maxInputPixels: 50_000 }), 'E_IMAGE', /pixel limit/);
    await expectImageError(openImage({ data: new Uint8Array(300 * 200 * 3), width: 300, height: 200, channels: 3 }, { maxInputPixels: 50_000 }), 'E_IMAGE', /exceed the limit/);
  });

  it('decodes a 10000x10000 photo within bounded memory by resizing inside sharp', async () => {
    const huge = await jpeg(10_000, 10_000);
    // At full size the RGB buffer alone would be 300 MB: refused, with a hint.
    await expectImageError(decodeImage(huge), 'E_IMAGE', /10000x10000 would need 300 MB/);
    const before = process.memoryUsage().rss;
    const small = await decodeImage(huge, { resize: { width: 500, height: 400, fit: 'inside' } });
    const { tensor, transform } = await preprocessImage(huge, { width: 320, height: 320, layout: 'NCHW', channels: 'RGB', resize: 'stretch', normalize: 'zero-one', dtype: 'float32' });
    const grown = process.memoryUsage().rss - before;
    expect([small.width, small.height]).toEqual([400, 400]);
    expect(Array.from(small.data.subarray(0, 3)).map((v) => Math.round(v / 10))).toEqual([20, 10, 5]);
    expect(tensor.shape).toEqual([1, 3, 320, 320]);
    expect(transform.scaleX).toBeCloseTo(0.032, 10);
    expect(grown).toBeLessThan(150e6);
  });
});

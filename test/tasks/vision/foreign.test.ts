/** BMP through bmp-ts, and formats sharp cannot read named in the error. BMPs are written here by hand from the format's layout. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../../src/tasks/vision/classifier.js';
import { decodeImage } from '../../../src/tasks/vision/image.js';
import { tflmDir } from '../../helpers/data.js';

/** A BITMAPINFOHEADER BMP: 24-bit BGR rows padded to 4 bytes, or 8-bit with a palette; bottom-up unless topDown. */
function writeBmp(w: number, h: number, px: (x: number, y: number) => [number, number, number], opts: { bits?: 24 | 8; topDown?: boolean } = {}): Uint8Array {
  const bits = opts.bits ?? 24;
  const row = Math.ceil((w * bits) / 32) * 4;
  const palette = bits === 8 ? 256 * 4 : 0;
  const offset = 14 + 40 + palette;
  const buf = new Uint8Array(offset + row * h);
  const v = new DataView(buf.buffer);
  buf[0] = 0x42; buf[1] = 0x4d;
  v.setUint32(2, buf.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, w, true);
  v.setInt32(22, opts.topDown ? -h : h, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bits, true);
  v.setUint32(34, row * h, true);
  if (bits === 8) { v.setUint32(46, 256, true); for (let i = 0; i < 256; i++) buf.set([i, i, i, 0], 54 + i * 4); }
  for (let y = 0; y < h; y++) {
    const fileRow = opts.topDown ? y : h - 1 - y;
    for (let x = 0; x < w; x++) {
      const [r, g, b] = px(x, y);
      if (bits === 24) buf.set([b, g, r], offset + fileRow * row + x * 3);
      else buf[offset + fileRow * row + x] = r; // grey: palette index = level
    }
  }
  return buf;
}

const colour = (x: number, y: number): [number, number, number] => [x * 40 + 10, y * 60 + 5, (x * 7 + y * 13) % 256];
const expected = (w: number, h: number, f: (x: number, y: number) => [number, number, number]): number[] => {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(...f(x, y));
  return out;
};

describe('BMP decoding (bmp-ts)', () => {
  it('24-bit bottom-up with row padding, 24-bit top-down and 8-bit palette decode to the pixels written', async () => {
    const a = await decodeImage(writeBmp(5, 3, colour));
    expect([a.width, a.height]).toEqual([5, 3]);
    expect(Array.from(a.data)).toEqual(expected(5, 3, colour));
    const b = await decodeImage(writeBmp(5, 3, colour, { topDown: true }));
    expect(Array.from(b.data)).toEqual(expected(5, 3, colour));
    const grey = (x: number, y: number): [number, number, number] => { const g = x * 30 + y * 50; return [g, g, g]; };
    const c = await decodeImage(writeBmp(7, 2, grey, { bits: 8 }));
    expect(Array.from(c.data)).toEqual(expected(7, 2, grey));
  });

  it('a path works like bytes; truncated, oversized and unsupported headers are named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudless-bmp-'));
    const file = join(dir, 'pic.bmp');
    const bytes = writeBmp(5, 3, colour);
    writeFileSync(file, bytes);
    expect(Array.from((await decodeImage(file)).data)).toEqual(expected(5, 3, colour));
    await expect(decodeImage(bytes.subarray(0, bytes.length - 10))).rejects.toThrow(/BMP is truncated: its 5x3 pixels need \d+ bytes, the file has \d+/);
    const huge = writeBmp(5, 3, colour);
    new DataView(huge.buffer).setInt32(18, 60000, true);
    new DataView(huge.buffer).setInt32(22, 60000, true);
    await expect(decodeImage(huge)).rejects.toThrow(/BMP claims 60000x60000 pixels, over the limit/);
    const core = writeBmp(5, 3, colour);
    new DataView(core.buffer).setUint32(14, 12, true);
    await expect(decodeImage(core)).rejects.toThrow(/BITMAPCOREHEADER\) is not supported/);
  });

  it('ICO, PSD and QOI files are named as what they are', async () => {
    const ico = Uint8Array.from([0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, ...new Array(40).fill(0)]);
    await expect(decodeImage(ico)).rejects.toThrow(/a ICO file, which cloudless cannot decode/);
    await expect(decodeImage(new TextEncoder().encode('8BPS\0\x01\0\0\0\0\0\0\0\x03padding-padding'))).rejects.toThrow(/a PSD file/);
    await expect(decodeImage(new TextEncoder().encode('qoif\0\0\0\x10\0\0\0\x10\x03\0padding'))).rejects.toThrow(/a QOI file/);
  });
});

const tflm = tflmDir();
if (!tflm) console.warn('skipping the TFLM BMP test: ../shared/models/tflm not found');

describe.skipIf(!tflm)('the TFLM example images', () => {
  // These BMPs store the model's int8 input bytes as 8-bit palette indices (grey ramp palette):
  // a level L is the int8 value L << 24 >> 24, i.e. the picture's real grey level is L ^ 0x80.
  it('person.bmp and no_person.bmp (96x96, 8-bit palette) decode and, read as TFLM does, person_detect tells them apart', async () => {
    const c = await createClassifier('person_detect');
    const top: string[] = [];
    for (const f of ['person.bmp', 'no_person.bmp']) {
      const img = await decodeImage(join(tflm!, f));
      expect([img.width, img.height]).toEqual([96, 96]);
      // Grey palette: R = G = B for every pixel.
      for (let i = 0; i < img.data.length; i += 3) expect(img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2]).toBe(true);
      const levels = img.data.map((v) => v ^ 0x80);
      top.push((await c.classify({ ...img, data: levels }, { k: 1 })).classes[0]!.label);
    }
    expect(top).toEqual(['person', 'no person']);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { CloudlessError } from '../../../src/ir/index.js';
import type { Detection } from '../../../src/tasks/vision/detection.js';
import { classColour, detectionsSvg, drawDetections } from '../../../src/tasks/vision/draw.js';

const dir = mkdtempSync(join(tmpdir(), 'cloudless-draw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dets: Detection[] = [
  { label: 'orange', classId: 49, score: 0.87, box: [20, 30, 120, 150] },
  { label: 'apple', classId: 47, score: 0.55, box: [22, 32, 118, 148] },
  { label: 'a<b&c', classId: 3, score: 0.5, box: [150, 0, 190, 40] },
];

describe('drawDetections', () => {
  it('writes a PNG of the same size with coloured box edges and untouched interior', async () => {
    const src = await sharp({ create: { width: 200, height: 160, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
    const out = join(dir, 'out.png');
    await drawDetections(src, dets, out);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([200, 160]);
    const px = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    // The orange box's bottom edge has the orange class colour; the box interior stays grey.
    const want = classColour(49).match(/[0-9a-f]{2}/g)!.map((h) => parseInt(h, 16));
    px(70, 150).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(2));
    expect(px(70, 100)).toEqual([128, 128, 128]);
  });

  it('writes JPEG by extension and refuses other extensions', async () => {
    const src = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 0, b: 0 } } }).jpeg().toBuffer();
    const out = join(dir, 'out.jpg');
    await drawDetections(src, dets, out);
    expect((await sharp(out).metadata()).format).toBe('jpeg');
    await expect(drawDetections(src, dets, join(dir, 'out.gif'))).rejects.toThrow(CloudlessError);
  });

  it('escapes labels and keeps tags of one place from overlapping', () => {
    const svg = detectionsSvg(200, 160, dets);
    expect(svg).toContain('a&lt;b&amp;c 0.50');
    const tags = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.-]+)" width="(\d+)" height="(\d+)" fill="#/g)].map((m) => m.slice(1).map(Number));
    expect(tags).toHaveLength(3);
    const [o, a] = [tags.find((t) => t[0]! >= 19 && t[0]! <= 20)!, tags.find((t) => t[0]! >= 21 && t[0]! <= 22)!];
    expect(Math.abs(o[1]! - a[1]!)).toBeGreaterThanOrEqual(o[3]!);
  });
});

import { extname } from 'node:path';
import sharp from 'sharp';
import { CloudlessError } from '../../ir/index.js';
import type { Detection } from './detection.js';
import { type ImageInput, type ImageLimits, DEFAULT_MAX_DECODED_PIXELS, openImage, rawPixels } from './image.js';

/** A distinct, saturated colour per class (hues spaced by the golden angle), as #rrggbb. */
export function classColour(classId: number): string {
  const [r, g, b] = classRgb(classId);
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function classRgb(classId: number): [number, number, number] {
  const h = ((classId * 137.508) % 360) / 60;
  const s = 0.85, l = 0.5;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [r, g, b].map((v) => Math.round((v + m) * 255)) as [number, number, number];
}

/** Black text on light tags (yellow, green, cyan), white on dark ones: Rec. 601 luma decides. */
function textColour(classId: number): string {
  const [r, g, b] = classRgb(classId);
  return 0.299 * r + 0.587 * g + 0.114 * b > 135 ? '#000' : '#fff';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!);
}

/**
 * The SVG overlay: a box per detection, and above it (or inside, at the top edge
 * of the image) a filled tag with "label 0.87" in white. Sizes follow the image
 * so labels stay readable on both thumbnails and large photos.
 */
export function detectionsSvg(width: number, height: number, detections: readonly Detection[]): string {
  const unit = Math.max(width, height);
  const stroke = Math.max(2, Math.round(unit / 250));
  const font = Math.max(12, Math.round(unit / 40));
  const padX = Math.round(font * 0.35);
  const tagH = Math.round(font * 1.35);
  // DejaVu Sans Bold averages ~0.62 em per character; the tag is sized from that.
  const charW = font * 0.62;
  const boxes: string[] = [];
  const tags: string[] = [];
  const placed: { x: number; y: number; w: number }[] = [];
  const overlaps = (x: number, y: number, w: number): boolean =>
    placed.some((p) => x < p.x + p.w && p.x < x + w && y < p.y + tagH && p.y < y + tagH);
  // Best first gets the first pick of tag position; strings are then reversed so
  // the best detections are painted last, on top.
  const ordered = [...detections].sort((a, b) => b.score - a.score);
  for (const d of ordered) {
    const colour = classColour(d.classId);
    const [x1, y1, x2, y2] = d.box.map((v) => Math.round(v)) as [number, number, number, number];
    const text = `${d.label} ${d.score.toFixed(2)}`;
    const tagW = Math.round(text.length * charW + 2 * padX);
    const tagX = Math.min(Math.max(0, x1 - stroke / 2), Math.max(0, width - tagW));
    // Above the box when there is room, else just inside its top edge; step down
    // past tags already placed (one fruit often carries two labels on near-equal boxes).
    let tagY = y1 - tagH >= 0 ? y1 - tagH : y1;
    while (overlaps(tagX, tagY, tagW) && tagY + 2 * tagH <= height) tagY += tagH;
    tagY = Math.min(tagY, height - tagH);
    placed.push({ x: tagX, y: tagY, w: tagW });
    boxes.push(`<rect x="${x1}" y="${y1}" width="${Math.max(1, x2 - x1)}" height="${Math.max(1, y2 - y1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`);
    tags.push(
      `<rect x="${tagX}" y="${tagY}" width="${tagW}" height="${tagH}" fill="${colour}" fill-opacity="0.9"/>` +
      `<text x="${tagX + padX}" y="${tagY + Math.round(tagH * 0.76)}" font-family="DejaVu Sans, Arial, sans-serif" font-weight="bold" font-size="${font}" fill="${textColour(d.classId)}">${escapeXml(text)}</text>`,
    );
  }
  const parts = [...boxes.reverse(), ...tags.reverse()];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/**
 * Draws detections (boxes in original-image pixels) over the image and writes a
 * JPEG or PNG chosen by `outPath`'s extension.
 */
export async function drawDetections(image: ImageInput, detections: readonly Detection[], outPath: string, limits: ImageLimits = {}): Promise<void> {
  const ext = extname(outPath).toLowerCase();
  const format = ext === '.png' ? 'png' : ext === '.jpg' || ext === '.jpeg' ? 'jpeg' : undefined;
  if (!format) {
    throw new CloudlessError('E_CONFIG', `drawDetections: output ${outPath} must end in .png, .jpg or .jpeg`);
  }
  const opened = await openImage(image, limits);
  const { width, height, name } = opened.info;
  if (width * height > DEFAULT_MAX_DECODED_PIXELS) {
    throw new CloudlessError('E_IMAGE', `drawDetections: image ${name} (${width}x${height}) is too large to annotate at full size`, {
      file: name, hint: 'draw on a downscaled copy and scale the boxes with it',
    });
  }
  // Decode once to RGB so the overlay sees the oriented, flattened image that the boxes refer to.
  const { data } = await rawPixels(opened, opened.pipeline, 'decode pixels');
  const overlay = Buffer.from(detectionsSvg(width, height, detections));
  let out = sharp(data, { raw: { width, height, channels: 3 } }).composite([{ input: overlay, top: 0, left: 0 }]);
  out = format === 'png' ? out.png() : out.jpeg({ quality: 90 });
  try {
    await out.toFile(outPath);
  } catch (err) {
    throw new CloudlessError('E_FILE', `drawDetections: cannot write ${outPath}: ${err instanceof Error ? err.message : String(err)}`, { file: outPath, cause: err });
  }
}

/** Detections drawn on a canvas: a box and a "label score" tag per object, in the picture's pixels. */
import type { Detection } from '../tasks/vision/detection.js';

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324', '#469990', '#000075'];

export interface DrawOptions {
  /** Line width in canvas pixels (default: 2 per 640 px of the longer side, at least 2). */
  lineWidth?: number;
  /** Scale from picture pixels to canvas pixels (default 1). */
  scale?: number;
}

/** Draws `detections` over whatever the canvas already shows (draw the picture first). */
export function drawDetections(ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, detections: readonly Detection[], opts: DrawOptions = {}): void {
  const s = opts.scale ?? 1;
  const lw = opts.lineWidth ?? Math.max(2, Math.round((2 * Math.max(ctx.canvas.width, ctx.canvas.height)) / 640));
  const font = Math.max(12, lw * 6);
  ctx.save();
  ctx.lineWidth = lw;
  ctx.font = `${font}px sans-serif`;
  ctx.textBaseline = 'top';
  for (const d of detections) {
    const colour = COLOURS[d.classId % COLOURS.length]!;
    const [x1, y1, x2, y2] = d.box.map((v) => v * s) as [number, number, number, number];
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const tag = `${d.label} ${d.score.toFixed(2)}`;
    const tw = ctx.measureText(tag).width + 2 * lw;
    const ty = y1 >= font + 2 * lw ? y1 - font - 2 * lw : y1;
    ctx.fillStyle = colour;
    ctx.fillRect(x1, ty, tw, font + 2 * lw);
    ctx.fillStyle = '#fff';
    ctx.fillText(tag, x1 + lw, ty + lw);
  }
  ctx.restore();
}

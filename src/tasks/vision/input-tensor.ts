/**
 * The sharp-free half of preprocessing, shared by Node (preprocess.ts) and the
 * browser entry (src/browser/image.ts): the input spec, where the image lands in
 * the model input, the letterbox, and RGB(A) pixels → the model's input tensor.
 */
import { CloudlessError, Tensor, perTensorQuant } from '../../ir/index.js';
import type { Box } from './detection.js';
import type { PixelBuffer } from './resize.js';

import type { PreprocessSpec } from '../../zoo/preprocess-spec.js';

export type { PreprocessSpec };

/**
 * Where the original image landed in the model input: model = source * scale + pad.
 * Decoders use it to report boxes in pixels of the original image.
 */
export interface ImageTransform {
  srcWidth: number;
  srcHeight: number;
  dstWidth: number;
  dstHeight: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

export interface PreprocessedImage {
  /** [1, H, W, C] or [1, C, H, W]; int8/uint8 tensors carry the quantization they were made with. */
  tensor: Tensor;
  transform: ImageTransform;
}

/** Maps a point in model-input pixels to original-image pixels. */
export function toSourcePoint(t: ImageTransform, x: number, y: number): [number, number] {
  return [(x - t.padX) / t.scaleX, (y - t.padY) / t.scaleY];
}

/** Maps a point in original-image pixels to model-input pixels. */
export function toModelPoint(t: ImageTransform, x: number, y: number): [number, number] {
  return [x * t.scaleX + t.padX, y * t.scaleY + t.padY];
}

/** Maps a box in model-input pixels to original-image pixels, clipped to the image (a box in the letterbox border shrinks to its edge). */
export function toSourceBox(t: ImageTransform, box: Box): Box {
  const [x1, y1] = toSourcePoint(t, box[0], box[1]);
  const [x2, y2] = toSourcePoint(t, box[2], box[3]);
  const cx = (v: number): number => Math.min(Math.max(v, 0), t.srcWidth);
  const cy = (v: number): number => Math.min(Math.max(v, 0), t.srcHeight);
  return [cx(Math.min(x1, x2)), cy(Math.min(y1, y2)), cx(Math.max(x1, x2)), cy(Math.max(y1, y2))];
}

/** The transform of a resize of a srcWidth x srcHeight image into the spec's input. */
export function planResize(srcWidth: number, srcHeight: number, spec: Pick<PreprocessSpec, 'width' | 'height' | 'resize'>): ImageTransform {
  const { width, height } = spec;
  if (spec.resize === 'stretch') {
    return { srcWidth, srcHeight, dstWidth: width, dstHeight: height, scaleX: width / srcWidth, scaleY: height / srcHeight, padX: 0, padY: 0 };
  }
  const scale = Math.min(width / srcWidth, height / srcHeight);
  // A 1000x1 strip still gets one row: a zero-size resize is not an image.
  const w = Math.min(width, Math.max(1, Math.round(srcWidth * scale)));
  const h = Math.min(height, Math.max(1, Math.round(srcHeight * scale)));
  return {
    srcWidth, srcHeight, dstWidth: width, dstHeight: height,
    scaleX: w / srcWidth, scaleY: h / srcHeight,
    padX: Math.floor((width - w) / 2), padY: Math.floor((height - h) / 2),
  };
}

export function checkSpec(spec: PreprocessSpec, name: string): void {
  const bad = (msg: string): CloudlessError => new CloudlessError('E_CONFIG', `preprocess ${name}: ${msg}`);
  if (!Number.isInteger(spec.width) || !Number.isInteger(spec.height) || spec.width < 1 || spec.height < 1) {
    throw bad(`width and height must be positive integers, got ${spec.width}x${spec.height}`);
  }
  const nc = spec.channels === 'GRAY' ? 1 : 3;
  if (typeof spec.normalize === 'object') {
    const { mean, std } = spec.normalize;
    if (mean.length !== nc || std.length !== nc) throw bad(`normalize mean and std need ${nc} values for ${spec.channels}`);
    if (std.some((s) => !(s !== 0 && Number.isFinite(s)))) throw bad('normalize std values must be finite and non-zero');
  }
  if (spec.dtype === 'float32' && spec.quant) throw bad('quant is only for int8/uint8 inputs');
  if (spec.dtype !== 'float32' && !spec.quant && spec.normalize !== 'none') {
    throw bad(`a ${spec.dtype} input with normalize ${JSON.stringify(spec.normalize)} needs quant { scale, zeroPoint }`);
  }
  if (spec.quant && !(spec.quant.scale > 0 && Number.isFinite(spec.quant.scale))) throw bad('quant.scale must be positive');
}

/** Per-channel affine map p → p * a[c] + b[c] that implements `normalize` (c in output order). */
function normalization(spec: PreprocessSpec, nc: number): { a: Float64Array; b: Float64Array } {
  const a = new Float64Array(nc).fill(1);
  const b = new Float64Array(nc);
  const n = spec.normalize;
  if (n === 'zero-one') a.fill(1 / 255);
  else if (typeof n === 'object') {
    for (let c = 0; c < nc; c++) { a[c] = 1 / n.std[c]!; b[c] = -n.mean[c]! / n.std[c]!; }
  }
  return { a, b };
}

/**
 * Resized pixels (spec.width x spec.height, row-major, `stride` values per pixel:
 * 3 for RGB, 4 for a canvas's RGBA whose alpha is skipped; for GRAY the first
 * byte of each pixel is its luma) → the model input tensor.
 */
export function pixelsToTensor(pixels: Uint8Array | Uint8ClampedArray | Float32Array, spec: PreprocessSpec, stride = spec.channels === 'GRAY' ? 1 : 3): Tensor {
  const nc = spec.channels === 'GRAY' ? 1 : 3;
  const hw = spec.width * spec.height;
  const shape = spec.layout === 'NHWC' ? [1, spec.height, spec.width, nc] : [1, nc, spec.height, spec.width];
  const { a, b } = normalization(spec, nc);
  const src = spec.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const nhwc = spec.layout === 'NHWC';
  const q = spec.quant;
  const [lo, hi] = spec.dtype === 'int8' ? [-128, 127] : [0, 255];
  const tensor = new Tensor(spec.dtype, shape);
  const data = tensor.data as Float32Array | Int8Array | Uint8Array;
  for (let c = 0; c < nc; c++) {
    const sc = src[c]!;
    const ac = a[c]!, bc = b[c]!;
    for (let i = 0; i < hw; i++) {
      const r = pixels[i * stride + sc]! * ac + bc;
      let v: number;
      if (spec.dtype === 'float32') v = r;
      else if (q) v = Math.min(hi, Math.max(lo, Math.round(r / q.scale) + q.zeroPoint));
      else v = Math.round(spec.dtype === 'int8' ? r - 128 : r);
      data[nhwc ? i * nc + c : c * hw + i] = v;
    }
  }
  if (q) tensor.quant = perTensorQuant(q.scale, q.zeroPoint);
  return tensor;
}

/** The resized image at (padX, padY) in a spec-sized canvas filled with padValue (the letterbox). */
export function placeOnCanvas(img: PixelBuffer, spec: PreprocessSpec, padX: number, padY: number): Float32Array | Uint8Array {
  const C = img.channels;
  if (img.width === spec.width && img.height === spec.height) return img.data;
  const canvas = new Float32Array(spec.width * spec.height * C).fill(spec.padValue ?? 0);
  for (let y = 0; y < img.height; y++) {
    const row = img.data.subarray(y * img.width * C, (y + 1) * img.width * C);
    canvas.set(row, ((y + padY) * spec.width + padX) * C);
  }
  return canvas;
}

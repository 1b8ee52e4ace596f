/**
 * Images in a page: the browser decodes (createImageBitmap honours EXIF
 * orientation, as sharp's autoOrient does in Node) to full-size RGBA on an
 * OffscreenCanvas; the model's own resampling kernel (tasks/vision/resize.ts,
 * the manifest's interpolation: tf-bilinear, opencv-linear, area, nearest) and
 * the spec → tensor step are the engine's, the same code Node runs, so a page
 * and `cloudless detect` give the same tensor for the same pixels. Only
 * 'lanczos3' (sharp's kernel, which the zoo names for person_detect) is left to
 * the canvas's high-quality smoothing, and differs from Node by a few levels.
 * The pixels never leave the page.
 */
import { CloudlessError, type Tensor } from '../ir/index.js';
import { type PreprocessSpec, type PreprocessedImage, checkSpec, pixelsToTensor, placeOnCanvas, planResize } from '../tasks/vision/input-tensor.js';
import { resizePixels } from '../tasks/vision/resize.js';

/** What a page can hand over as a picture. */
export type BrowserImage = Blob | ImageBitmap | ImageData | HTMLImageElement | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas;

/** Upper bound on decoded pixels (as Node's default): a bigger picture is refused, not decoded. */
const MAX_PIXELS = 100_000_000;

function sizeOf(img: Exclude<BrowserImage, Blob>): { width: number; height: number } {
  if (typeof HTMLVideoElement !== 'undefined' && img instanceof HTMLVideoElement) return { width: img.videoWidth, height: img.videoHeight };
  if (typeof HTMLImageElement !== 'undefined' && img instanceof HTMLImageElement) return { width: img.naturalWidth, height: img.naturalHeight };
  return { width: img.width, height: img.height };
}

/** Decodes a Blob/File; other sources are drawn as they are. */
export async function decodeImage(img: BrowserImage): Promise<Exclude<BrowserImage, Blob>> {
  if (!(img instanceof Blob)) return img;
  try {
    return await createImageBitmap(img, { imageOrientation: 'from-image' });
  } catch (err) {
    throw new CloudlessError('E_IMAGE', `image ${(img as File).name ?? 'image'}: the browser cannot decode it (${(err as Error).message})`, {
      hint: 'give a JPEG, PNG, WebP or GIF picture',
    });
  }
}

/** Resizes and lays out a picture as the model's input tensor, as preprocessImage() does in Node. */
export async function preprocessBrowserImage(input: BrowserImage, spec: PreprocessSpec): Promise<PreprocessedImage> {
  const img = await decodeImage(input);
  const { width, height } = sizeOf(img);
  const name = input instanceof Blob ? (input as File).name ?? 'image' : 'image';
  if (!(width > 0 && height > 0)) throw new CloudlessError('E_IMAGE', `image ${name}: the picture has no pixels yet (${width}x${height})`, { hint: 'wait for a video to play before detecting on it' });
  if (width * height > MAX_PIXELS) throw new CloudlessError('E_IMAGE', `image ${name}: ${width}x${height} is more than ${MAX_PIXELS} pixels`);
  checkSpec(spec, name);
  const transform = planResize(width, height, spec);
  const w = Math.round(width * transform.scaleX);
  const h = Math.round(height * transform.scaleY);
  const method = spec.interpolation ?? 'lanczos3';
  if (method !== 'lanczos3') return { tensor: faithful(img, width, height, w, h, spec, transform.padX, transform.padY), transform };
  const canvas = new OffscreenCanvas(spec.width, spec.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new CloudlessError('E_UNSUPPORTED', 'this browser has no 2D canvas to resize pictures with');
  const pad = spec.padValue ?? 0;
  ctx.fillStyle = `rgb(${pad}, ${pad}, ${pad})`;
  ctx.fillRect(0, 0, spec.width, spec.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  if (img instanceof ImageData) {
    const tmp = new OffscreenCanvas(img.width, img.height);
    tmp.getContext('2d')!.putImageData(img, 0, 0);
    ctx.drawImage(tmp, transform.padX, transform.padY, w, h);
  } else {
    ctx.drawImage(img, transform.padX, transform.padY, w, h);
  }
  const rgba = ctx.getImageData(0, 0, spec.width, spec.height).data;
  let tensor: Tensor;
  if (spec.channels === 'GRAY') {
    // Rec. 601 luma, the weights of a classic grayscale conversion.
    const luma = new Uint8Array(spec.width * spec.height);
    for (let i = 0; i < luma.length; i++) luma[i] = Math.round(0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!);
    tensor = pixelsToTensor(luma, spec, 1);
    luma.fill(0);
  } else {
    tensor = pixelsToTensor(rgba, spec, 4);
  }
  rgba.fill(0);
  return { tensor, transform };
}

/** Full-size RGBA from the canvas → RGB (or luma) → the model's own kernel → letterbox → tensor. */
function faithful(img: Exclude<BrowserImage, Blob>, width: number, height: number, w: number, h: number, spec: PreprocessSpec, padX: number, padY: number): Tensor {
  let rgba: Uint8ClampedArray;
  if (img instanceof ImageData) {
    rgba = img.data;
  } else {
    const full = new OffscreenCanvas(width, height);
    const ctx = full.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new CloudlessError('E_UNSUPPORTED', 'this browser has no 2D canvas to decode pictures with');
    ctx.drawImage(img, 0, 0, width, height);
    rgba = ctx.getImageData(0, 0, width, height).data;
  }
  const nc = spec.channels === 'GRAY' ? 1 : 3;
  const pixels = new Uint8Array(width * height * nc);
  for (let i = 0, n = width * height; i < n; i++) {
    if (nc === 1) pixels[i] = Math.round(0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!);
    else { pixels[i * 3] = rgba[i * 4]!; pixels[i * 3 + 1] = rgba[i * 4 + 1]!; pixels[i * 3 + 2] = rgba[i * 4 + 2]!; }
  }
  if (!(img instanceof ImageData)) rgba.fill(0);
  const resized = resizePixels({ data: pixels, width, height, channels: nc }, w, h, { method: spec.interpolation as Exclude<PreprocessSpec['interpolation'], 'lanczos3' | undefined>, tf: spec.tfBilinear });
  pixels.fill(0);
  return pixelsToTensor(placeOnCanvas(resized, spec, padX, padY), spec);
}

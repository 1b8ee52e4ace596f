/**
 * Images in a page: the browser decodes (createImageBitmap honours EXIF
 * orientation, as sharp's rotate() does in Node) and resizes (drawImage on an
 * OffscreenCanvas with high-quality smoothing); the spec → tensor step is the
 * engine's own (tasks/vision/input-tensor.ts). The pixels never leave the page.
 *
 * The canvas resamples with its own filter, not sharp's, so a browser tensor
 * differs from Node's by a few pixel levels; the engine is the same.
 */
import { CloudlessError, type Tensor } from '../ir/index.js';
import { type PreprocessSpec, type PreprocessedImage, checkSpec, pixelsToTensor, planResize } from '../tasks/vision/input-tensor.js';

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

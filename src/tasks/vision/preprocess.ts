import { CloudlessError } from '../../ir/index.js';
import { DEFAULT_MAX_DECODED_PIXELS, type ImageInput, type ImageLimits, openImage, rawPixels } from './image.js';
import { type PreprocessSpec, type PreprocessedImage, checkSpec, pixelsToTensor, placeOnCanvas, planResize } from './input-tensor.js';
import { type PixelBuffer, resizePixels } from './resize.js';

export * from './input-tensor.js';

/**
 * Resizes (with the model's own kernel, or inside sharp so large photos are
 * shrunk while decoding), reorders channels, normalises and lays out an image as
 * a model input tensor.
 */
export async function preprocessImage(input: ImageInput, spec: PreprocessSpec, limits: ImageLimits = {}): Promise<PreprocessedImage> {
  const opened = await openImage(input, limits);
  const { info } = opened;
  checkSpec(spec, info.name);
  const transform = planResize(info.width, info.height, spec);
  const w = Math.round(info.width * transform.scaleX);
  const h = Math.round(info.height * transform.scaleY);
  const nc = spec.channels === 'GRAY' ? 1 : 3;
  const right = spec.width - w - transform.padX;
  const bottom = spec.height - h - transform.padY;
  const method = spec.interpolation ?? 'lanczos3';
  if (method !== 'lanczos3') {
    // Full-size decode, then the model's own resampling, then the border.
    let pipeline = opened.pipeline;
    const pixels = info.width * info.height;
    if (pixels > DEFAULT_MAX_DECODED_PIXELS) {
      // A photo too large to hold as RGB is first shrunk by sharp (while decoding) to just
      // under the limit, still many times the model's input; only then is the model's kernel
      // applied, so for such photos the result is close to, not exactly, the reference.
      const f = Math.sqrt(DEFAULT_MAX_DECODED_PIXELS / pixels);
      pipeline = pipeline.resize(Math.max(w, Math.floor(info.width * f)), Math.max(h, Math.floor(info.height * f)), { fit: 'fill' });
    }
    if (spec.channels === 'GRAY') pipeline = pipeline.grayscale();
    const { data, info: dec } = await rawPixels(opened, pipeline, 'decode pixels');
    if (dec.channels !== nc) {
      throw new CloudlessError('E_INTERNAL', `preprocess ${info.name}: decoder produced ${dec.channels} channels, expected ${nc}`);
    }
    const src: PixelBuffer = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: dec.width, height: dec.height, channels: nc };
    const resized = resizePixels(src, w, h, { method, tf: spec.tfBilinear });
    data.fill(0);
    const canvas = placeOnCanvas(resized, spec, transform.padX, transform.padY);
    return { tensor: pixelsToTensor(canvas, spec), transform };
  }
  let pipeline = opened.pipeline.resize(w, h, { fit: 'fill' });
  if (transform.padX > 0 || transform.padY > 0 || right > 0 || bottom > 0) {
    const v = spec.padValue ?? 0;
    // extend() runs after resize in sharp's pipeline, which is the order we need.
    pipeline = pipeline.extend({ left: transform.padX, top: transform.padY, right, bottom, background: { r: v, g: v, b: v } });
  }
  if (spec.channels === 'GRAY') pipeline = pipeline.grayscale();
  const { data: pixels, info: out } = await rawPixels(opened, pipeline, 'resize');
  if (out.width !== spec.width || out.height !== spec.height || out.channels !== nc) {
    throw new CloudlessError('E_INTERNAL', `preprocess ${info.name}: resize produced ${out.width}x${out.height}x${out.channels}, expected ${spec.width}x${spec.height}x${nc}`);
  }
  return { tensor: pixelsToTensor(pixels, spec), transform };
}

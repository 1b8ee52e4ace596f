import { CloudlessError } from '../../ir/index.js';
import { type ImageInput, type ImageLimits, openImage, rawPixels } from './image.js';
import { type PreprocessSpec, type PreprocessedImage, checkSpec, pixelsToTensor, planResize } from './input-tensor.js';

export * from './input-tensor.js';

/**
 * Resizes (inside sharp, so large photos are shrunk while decoding), reorders
 * channels, normalises and lays out an image as a model input tensor.
 */
export async function preprocessImage(input: ImageInput, spec: PreprocessSpec, limits: ImageLimits = {}): Promise<PreprocessedImage> {
  const opened = await openImage(input, limits);
  const { info } = opened;
  checkSpec(spec, info.name);
  const transform = planResize(info.width, info.height, spec);
  const w = Math.round(info.width * transform.scaleX);
  const h = Math.round(info.height * transform.scaleY);
  let pipeline = opened.pipeline.resize(w, h, { fit: 'fill' });
  const right = spec.width - w - transform.padX;
  const bottom = spec.height - h - transform.padY;
  if (transform.padX > 0 || transform.padY > 0 || right > 0 || bottom > 0) {
    const v = spec.padValue ?? 0;
    // extend() runs after resize in sharp's pipeline, which is the order we need.
    pipeline = pipeline.extend({ left: transform.padX, top: transform.padY, right, bottom, background: { r: v, g: v, b: v } });
  }
  if (spec.channels === 'GRAY') pipeline = pipeline.grayscale();
  const { data: pixels, info: out } = await rawPixels(opened, pipeline, 'resize');
  const nc = spec.channels === 'GRAY' ? 1 : 3;
  if (out.width !== spec.width || out.height !== spec.height || out.channels !== nc) {
    throw new CloudlessError('E_INTERNAL', `preprocess ${info.name}: resize produced ${out.width}x${out.height}x${out.channels}, expected ${spec.width}x${spec.height}x${nc}`);
  }
  return { tensor: pixelsToTensor(pixels, spec), transform };
}


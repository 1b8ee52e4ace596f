import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { CloudlessError } from '../../ir/index.js';
import { decodeBmp, sniffForeignFormat } from './foreign.js';

/** Decoded pixels: row-major HWC, 3 interleaved RGB bytes per pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** A path to an image file, its encoded bytes (JPEG, PNG, WebP, GIF, TIFF, AVIF, SVG, BMP), or pixels already decoded. */
export type ImageInput = string | Uint8Array | RgbImage;

export interface ImageLimits {
  /**
   * Refuse images whose header claims more pixels than this, before any pixel is
   * decoded: a 100-byte file can claim 60000x60000. Default 16383 x 16383 (sharp's own default).
   */
  maxInputPixels?: number;
}

export interface DecodeOptions extends ImageLimits {
  /**
   * Resize while decoding, so a huge photo never exists at full size in memory
   * (libvips streams it, and JPEG shrinks on load). 'fill' stretches to exactly
   * width x height; 'inside' keeps the aspect ratio and fits within the box.
   */
  resize?: { width: number; height: number; fit: 'fill' | 'inside' };
  /**
   * Refuse to decode at full size when the RGB buffer would hold more pixels than
   * this (default 40 megapixels, 120 MB); pass `resize` for larger images.
   */
  maxDecodedPixels?: number;
}

/** Size of an image as it will be seen: after EXIF orientation is applied. */
export interface ImageInfo {
  width: number;
  height: number;
  /** sharp's name for the encoding ('jpeg', 'png', ... or 'raw' for RgbImage input). */
  format: string;
  /** How errors name this image: its path, or a description of the bytes. */
  name: string;
}

export const DEFAULT_MAX_INPUT_PIXELS = 16383 * 16383;
export const DEFAULT_MAX_DECODED_PIXELS = 40_000_000;

/** An image opened for decoding: a sharp pipeline (orientation applied, alpha flattened) plus its size. */
export interface OpenedImage {
  info: ImageInfo;
  pipeline: sharp.Sharp;
}

export function describeImageInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<image bytes, ${input.length} B>`;
  return `<RGB pixels ${input.width}x${input.height}>`;
}

function isRgbImage(input: ImageInput): input is RgbImage {
  return typeof input === 'object' && !(input instanceof Uint8Array);
}

/**
 * Turns sharp's failures into E_IMAGE / E_FILE errors that name the image. sharp's
 * own messages are kept (they say what libvips found) but prefixed with the file.
 */
export function imageError(err: unknown, name: string, stage: string): CloudlessError {
  if (err instanceof CloudlessError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/Input file is missing/i.test(msg)) {
    return new CloudlessError('E_FILE', `image ${name}: file not found`, { file: name, cause: err });
  }
  if (/pixel limit/i.test(msg)) {
    return new CloudlessError('E_IMAGE', `image ${name}: larger than the input pixel limit (${msg})`, {
      file: name, cause: err, hint: 'raise maxInputPixels if the image is trusted',
    });
  }
  if (/unsupported image format|bad seek|not a known file format/i.test(msg)) {
    return new CloudlessError('E_IMAGE', `image ${name}: not an image in a format sharp can read`, { file: name, cause: err });
  }
  if (/premature end|truncated|unexpected end|corrupt|invalid/i.test(msg)) {
    return new CloudlessError('E_IMAGE', `image ${name}: truncated or corrupt data while ${stage} (${msg.trim()})`, {
      file: name, cause: err, hint: 'the file may be incompletely written or damaged; re-capture or re-download it',
    });
  }
  return new CloudlessError('E_IMAGE', `image ${name}: cannot ${stage}: ${msg.trim()}`, { file: name, cause: err });
}

/**
 * Opens an image and reads its header, without decoding pixels. Truncated JPEG/PNG
 * data is an error (sharp's default only warns and returns grey rows), and so is
 * an image claiming more than `maxInputPixels`.
 */
export async function openImage(input: ImageInput, limits: ImageLimits = {}): Promise<OpenedImage> {
  const name = describeImageInput(input);
  const maxInputPixels = limits.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (isRgbImage(input)) {
    const { width, height, data } = input;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new CloudlessError('E_IMAGE', `image ${name}: width and height must be positive integers`, { file: name });
    }
    if (data.length !== width * height * 3) {
      throw new CloudlessError('E_IMAGE', `image ${name}: expected ${width * height * 3} bytes of RGB, got ${data.length}`, { file: name });
    }
    if (width * height > maxInputPixels) {
      throw new CloudlessError('E_IMAGE', `image ${name}: ${width * height} pixels exceed the limit of ${maxInputPixels}`, { file: name });
    }
    const pipeline = sharp(data, { raw: { width, height, channels: 3 } });
    return { info: { width, height, format: 'raw', name }, pipeline };
  }
  let pipeline: sharp.Sharp;
  let meta: sharp.Metadata;
  try {
    pipeline = sharp(input, { failOn: 'truncated', limitInputPixels: maxInputPixels, autoOrient: true });
    meta = await pipeline.metadata();
  } catch (err) {
    const foreign = await openForeign(input, name, maxInputPixels, err);
    if (foreign) return foreign;
    throw imageError(err, name, 'read the header');
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) {
    throw new CloudlessError('E_IMAGE', `image ${name}: the header gives no pixel size (${meta.format})`, { file: name });
  }
  // Models want opaque RGB: composite any alpha over black and turn grey or CMYK into sRGB.
  pipeline = pipeline.flatten({ background: { r: 0, g: 0, b: 0 } }).toColourspace('srgb');
  return { info: { width, height, format: meta.format, name }, pipeline };
}

/**
 * After sharp refused a file: a BMP is decoded by bmp-ts (foreign.ts); another
 * format known by its magic bytes is an error naming it; anything else is left
 * to imageError (undefined).
 */
async function openForeign(input: string | Uint8Array, name: string, maxInputPixels: number, err: unknown): Promise<OpenedImage | undefined> {
  const msg = err instanceof Error ? err.message : String(err);
  if (!/unsupported image format|not a known file format/i.test(msg)) return undefined;
  let bytes: Uint8Array;
  try { bytes = typeof input === 'string' ? await readFile(input) : input; } catch { return undefined; }
  const format = sniffForeignFormat(bytes);
  if (!format) return undefined;
  if (format !== 'BMP') {
    throw new CloudlessError('E_IMAGE', `image ${name}: a ${format} file, which cloudless cannot decode (sharp has no ${format} decoder)`, {
      file: name, cause: err, hint: 'convert it to PNG or JPEG first',
    });
  }
  const { data, width, height } = decodeBmp(bytes, name, maxInputPixels);
  return { info: { width, height, format: 'bmp', name }, pipeline: sharp(data, { raw: { width, height, channels: 3 } }) };
}

/** Decodes a pipeline's pixels to raw bytes, naming the image when libvips fails. */
export async function rawPixels(opened: OpenedImage, pipeline: sharp.Sharp, stage: string): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  try {
    return await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw imageError(err, opened.info.name, stage);
  }
}

/**
 * Decodes an image to RGB bytes (HWC). For large images pass `resize` so that the
 * full-size buffer never exists; without it, images over `maxDecodedPixels` are refused.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  const opened = await openImage(input, opts);
  const { info } = opened;
  let pipeline = opened.pipeline;
  if (opts.resize) {
    const { width, height, fit } = opts.resize;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new CloudlessError('E_CONFIG', `decodeImage(${info.name}): resize needs positive integer width and height, got ${width}x${height}`);
    }
    pipeline = pipeline.resize(width, height, { fit: fit === 'fill' ? 'fill' : 'inside' });
  } else {
    const maxDecoded = opts.maxDecodedPixels ?? DEFAULT_MAX_DECODED_PIXELS;
    if (info.width * info.height > maxDecoded) {
      throw new CloudlessError('E_IMAGE',
        `image ${info.name}: ${info.width}x${info.height} would need ${Math.round(info.width * info.height * 3 / 1e6)} MB as RGB, over the ${maxDecoded}-pixel decode limit`,
        { file: info.name, hint: 'pass resize: { width, height, fit } so sharp shrinks the image while decoding, or use preprocessImage' });
    }
  }
  const { data, info: out } = await rawPixels(opened, pipeline, 'decode pixels');
  if (out.channels !== 3) {
    throw new CloudlessError('E_INTERNAL', `image ${info.name}: decoder produced ${out.channels} channels instead of 3`);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: out.width, height: out.height, channels: 3 };
}

/**
 * Sample inputs for calibration and evaluation: a folder of images (run through
 * the vision task's preprocessing) or of `.npy` tensors, for a model with one
 * input. An `.npy` file holds one sample of the input's shape, or a batch of
 * them stacked along a first axis when the input's batch is 1 (e.g. [1000, 28,
 * 28, 1] for a [1, 28, 28, 1] input). A file that cannot be read, decoded or
 * shaped is an error that names it; files of other kinds are skipped and listed.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CloudlessError, Tensor, shapeToString, type DType } from '../ir/index.js';
import { parseNpy } from '../formats/npy.js';
import { preprocessImage, type PreprocessSpec } from './vision/preprocess.js';
import type { IOInfo, Sample } from '../runtime/session.js';

export type { Sample } from '../runtime/session.js';

export interface SampleFolder {
  samples: Sample[];
  /** Files that are neither images nor .npy. */
  skipped: string[];
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/**
 * The preprocessing a float image model most likely wants, from its input
 * shape: NHWC when the last axis has 1 or 3 channels, NCHW when the second has,
 * pixels scaled to 0..1. `overrides` replaces any field.
 */
export function preprocessSpecFor(input: IOInfo, overrides: Partial<PreprocessSpec> = {}): PreprocessSpec {
  const s = input.shape;
  const dims = s.map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
  const bad = (): never => {
    throw new CloudlessError('E_CONFIG', `input "${input.name}" ${shapeToString(s)} does not look like an image batch [1, H, W, C] or [1, C, H, W]`, {
      hint: 'calibrate with .npy tensors instead, or pass the preprocessing (width, height, layout, channels)',
    });
  };
  if (s.length !== 4) return bad();
  const nhwc = dims[3] === 1 || dims[3] === 3;
  const nchw = !nhwc && (dims[1] === 1 || dims[1] === 3);
  const layout = overrides.layout ?? (nhwc ? 'NHWC' : nchw ? 'NCHW' : bad());
  const [h, w, c] = layout === 'NHWC' ? [dims[1], dims[2], dims[3]] : [dims[2], dims[3], dims[1]];
  const width = overrides.width ?? w, height = overrides.height ?? h;
  if (!width || !height) return bad();
  return {
    width, height, layout,
    channels: c === 1 ? 'GRAY' : 'RGB',
    resize: 'stretch',
    normalize: 'zero-one',
    dtype: input.dtype === 'int8' || input.dtype === 'uint8' ? input.dtype : 'float32',
    ...overrides,
  };
}

function toDType(t: Tensor, dtype: DType, file: string): Tensor {
  if (t.dtype === dtype) return t;
  if (dtype !== 'float32' || t.dtype === 'int64' || t.dtype === 'bool') {
    throw new CloudlessError('E_INPUT', `${file}: holds ${t.dtype}, the model input is ${dtype}`, { file });
  }
  return new Tensor('float32', t.shape, Float32Array.from(t.data as ArrayLike<number>));
}

/** Splits an .npy tensor into samples of the input's shape. */
function npySamples(t: Tensor, input: IOInfo, file: string): Tensor[] {
  const want = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
  const fits = (shape: readonly number[]) => shape.length === want.length && want.every((d, i) => d === undefined || d === shape[i]);
  if (fits(t.shape)) return [t];
  const inner = want.slice(1);
  if (want[0] === 1 && t.shape.length === want.length && fits([1, ...t.shape.slice(1)])) {
    const n = t.shape[0]!, size = t.size / Math.max(1, n);
    return Array.from({ length: n }, (_, i) => new Tensor(t.dtype, [1, ...t.shape.slice(1)], t.data.slice(i * size, (i + 1) * size)));
  }
  if (want[0] === 1 && t.shape.length === inner.length && inner.every((d, i) => d === undefined || d === t.shape[i])) {
    return [t.reshape([1, ...t.shape])];
  }
  throw new CloudlessError('E_INPUT', `${file}: shape ${shapeToString(t.shape)} does not fit input "${input.name}" ${shapeToString(input.shape)}`, {
    file, hint: `save one sample of shape ${shapeToString(input.shape)}, or a batch stacked along the first axis`,
  });
}

/**
 * Reads every sample of a folder (sorted by file name) for a single-input model.
 * `spec` is the image preprocessing (see preprocessSpecFor).
 */
export async function loadSampleFolder(dir: string, inputs: readonly IOInfo[], spec?: PreprocessSpec): Promise<SampleFolder> {
  if (inputs.length !== 1) {
    throw new CloudlessError('E_CONFIG', `calibration from a folder needs a model with one input; this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  const input = inputs[0]!;
  let entries: string[];
  try {
    const listed = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    // A symbolic link counts as the file it points to (a folder of links to a photo collection, say).
    const isFile = async (e: (typeof listed)[number]) => e.isFile() || (e.isSymbolicLink() && (await stat(path.join(dir, e.name)).then((s) => s.isFile(), () => false)));
    const flags = await Promise.all(listed.map(isFile));
    entries = listed.filter((_, i) => flags[i]).map((e) => e.name).sort();
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read calibration folder ${dir}: ${(err as Error).message}`, { file: dir });
  }
  const samples: Sample[] = [];
  const skipped: string[] = [];
  for (const name of entries) {
    const file = path.join(dir, name);
    const ext = path.extname(name).toLowerCase();
    if (ext === '.npy') {
      let bytes: Uint8Array;
      try { bytes = new Uint8Array(await readFile(file)); }
      catch (err) { throw new CloudlessError('E_FILE', `cannot read ${file}: ${(err as Error).message}`, { file }); }
      const parts = npySamples(toDType(parseNpy(bytes, file), input.dtype, file), input, file);
      parts.forEach((t, i) => samples.push({ name: parts.length > 1 ? `${name}[${i}]` : name, file: name, feeds: { [input.name]: t } }));
    } else if (IMAGE_EXT.has(ext)) {
      const image = await preprocessImage(file, spec ?? preprocessSpecFor(input));
      samples.push({ name, file: name, feeds: { [input.name]: image.tensor } });
    } else {
      skipped.push(name);
    }
  }
  if (samples.length === 0) {
    throw new CloudlessError('E_INPUT', `calibration folder ${dir} holds no images or .npy files${skipped.length ? ` (skipped ${skipped.slice(0, 5).join(', ')})` : ''}`, { file: dir });
  }
  return { samples, skipped };
}

/**
 * Class labels for samples: a `.npy` of integers in sample order, or a text file
 * with either one integer per line (sample order) or `file label` per line.
 */
export async function loadLabels(file: string, samples: readonly Sample[]): Promise<number[]> {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(await readFile(file)); }
  catch (err) { throw new CloudlessError('E_FILE', `cannot read labels ${file}: ${(err as Error).message}`, { file }); }
  let labels: number[];
  if (file.toLowerCase().endsWith('.npy')) {
    labels = parseNpy(bytes, file).toNumbers();
  } else {
    const lines = new TextDecoder().decode(bytes).split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const byName = lines.every((l) => /\s|,/.test(l));
    if (byName) {
      const map = new Map<string, number>();
      for (const l of lines) {
        const [name, value] = l.split(/[\s,]+/);
        map.set(name!, Number(value));
      }
      labels = samples.map((s) => {
        const v = map.get(s.name) ?? map.get(s.file);
        if (v === undefined) throw new CloudlessError('E_INPUT', `${file}: no label for sample ${s.name}`, { file });
        return v;
      });
    } else {
      labels = lines.map(Number);
    }
  }
  if (labels.length < samples.length) {
    throw new CloudlessError('E_INPUT', `${file}: ${labels.length} labels for ${samples.length} samples`, { file });
  }
  const bad = labels.findIndex((v) => !Number.isInteger(v) || v < 0);
  if (bad >= 0) throw new CloudlessError('E_INPUT', `${file}: label ${bad + 1} (${labels[bad]}) is not a class index`, { file });
  return labels.slice(0, samples.length);
}

/**
 * How brittle a model's decisions are: each image is perturbed in ways a camera
 * or a transport does to pictures (sensor noise, defocus, exposure, JPEG
 * re-encoding, something in front of the lens) at several strengths, and the
 * decision on the perturbed image is compared with the decision on the
 * original. The report gives, per perturbation and strength, how often the
 * decision changed.
 *
 *   const detector = await createDetector('centernet');
 *   const report = await robustnessReport(detector, ['messi5.jpg', 'fruits.jpg']);
 *   // report.rows: [{ label: 'noise σ=8', trials: 2, changed: 1, rate: 0.5, lost: 1, gained: 0 }, ...]
 *
 * A decision "changes":
 * - detection: a confident detection (score >= the detector's threshold + margin)
 *   is lost (no detection of the same label with IoU >= matchIou in the other
 *   image, at the detector's own threshold) or a confident one is gained. The
 *   margin is hysteresis: a detection at the threshold that dips just under it
 *   is not a changed decision, one well above it that vanishes is.
 * - classification: the top-1 class differs.
 *
 * Perturbations (all deterministic; noise from a seeded generator):
 * - noise: additive Gaussian noise of σ (0..255 pixel units) per channel, in source pixels.
 * - blur: Gaussian blur of σ in model-input pixels (scaled to the photo's pixels, so a
 *   4000-pixel photo gets the same blur as the model sees on a 400-pixel one), by sharp.
 * - brightness: every channel times a factor, clamped to 0..255.
 * - jpeg: re-encoded by sharp (libjpeg, 4:2:0) at a quality, and decoded again.
 * - occlusion: a mid-grey square whose side is a fraction of the shorter side, centred
 *   in turn on each point of a 3x3 grid (at 1/6, 1/2 and 5/6 of width and height).
 */
import sharp from 'sharp';
import { CloudlessError } from '../../ir/index.js';
import type { Classifier } from './classifier.js';
import type { Detection } from './detection.js';
import type { Detector } from './detector.js';
import { type ImageInput, type RgbImage, decodeImage, describeImageInput } from './image.js';
import { iou } from './nms.js';
import { seededRandom } from '../../ir/random.js';

export type PerturbationKind = 'noise' | 'blur' | 'brightness' | 'jpeg' | 'occlusion';

export const PERTURBATION_KINDS: readonly PerturbationKind[] = ['noise', 'blur', 'brightness', 'jpeg', 'occlusion'];

/** The strengths measured by default, per kind, mildest first (brightness: darker, then brighter). */
export const DEFAULT_STRENGTHS: Readonly<Record<PerturbationKind, readonly number[]>> = {
  noise: [4, 8, 16, 32],
  blur: [0.5, 1, 2],
  brightness: [0.5, 0.75, 1.25, 1.5],
  jpeg: [50, 25, 10],
  occlusion: [0.1, 0.2],
};

/** Centres of the occluding patch, as fractions of width and height. */
export const OCCLUSION_POSITIONS: readonly (readonly [number, number])[] = [1 / 6, 1 / 2, 5 / 6].flatMap((y) => [1 / 6, 1 / 2, 5 / 6].map((x) => [x, y] as const));

/** The grey of an occluding patch. */
const OCCLUDER = 128;

export interface Perturbation {
  kind: PerturbationKind;
  /**
   * noise: σ in pixel units (0..255); blur: σ in model-input pixels; brightness: a factor;
   * jpeg: quality 1..100; occlusion: the patch side as a fraction (0..1] of the shorter side.
   */
  strength: number;
  /** occlusion: the patch centre as fractions of width and height (default the centre). */
  at?: readonly [number, number];
}

/** A kind and the strengths to measure it at. */
export interface PerturbationSet {
  kind: PerturbationKind;
  strengths: readonly number[];
}

export function defaultPerturbations(): PerturbationSet[] {
  return PERTURBATION_KINDS.map((kind) => ({ kind, strengths: DEFAULT_STRENGTHS[kind] }));
}

/** 'noise σ=8', 'blur σ=1 px', 'brightness ×0.5', 'jpeg q=25', 'occlusion 10%'. */
export function perturbationLabel(kind: PerturbationKind, strength: number): string {
  switch (kind) {
    case 'noise': return `noise σ=${strength}`;
    case 'blur': return `blur σ=${strength} px`;
    case 'brightness': return `brightness ×${strength}`;
    case 'jpeg': return `jpeg q=${strength}`;
    case 'occlusion': return `occlusion ${Math.round(strength * 100)}%`;
  }
}

function checkStrength(kind: PerturbationKind, s: number, where: string): void {
  const ok = Number.isFinite(s) && (
    kind === 'noise' ? s >= 0 && s <= 255
      : kind === 'blur' ? s > 0 && s <= 100
        : kind === 'brightness' ? s >= 0 && s <= 100
          : kind === 'jpeg' ? Number.isInteger(s) && s >= 1 && s <= 100
            : s > 0 && s <= 1);
  if (!ok) {
    const range = { noise: 'a σ from 0 to 255', blur: 'a σ above 0 (model-input pixels, at most 100)', brightness: 'a factor from 0 to 100', jpeg: 'an integer quality from 1 to 100', occlusion: 'a fraction of the shorter side above 0, at most 1' }[kind];
    throw new CloudlessError('E_CONFIG', `${where}: ${kind} strength ${s} is out of range`, { hint: `${kind} takes ${range}` });
  }
}

/**
 * Parses perturbation sets as the CLI takes them: 'noise' (default strengths) or
 * 'noise=4,8' (these strengths), one kind per item.
 */
export function parsePerturbations(items: readonly string[], where = '--perturb'): PerturbationSet[] {
  const out: PerturbationSet[] = [];
  for (const item of items) {
    const [name, values] = item.split('=', 2) as [string, string | undefined];
    const kind = name.trim() as PerturbationKind;
    if (!PERTURBATION_KINDS.includes(kind)) {
      throw new CloudlessError('E_CONFIG', `${where} ${item}: unknown perturbation '${name}'`, { hint: `use one of ${PERTURBATION_KINDS.join(', ')}, optionally with =strength,strength` });
    }
    const strengths = values === undefined ? DEFAULT_STRENGTHS[kind] : values.split(',').map((v) => Number(v.trim()));
    if (strengths.length === 0) throw new CloudlessError('E_CONFIG', `${where} ${item}: no strengths given`);
    for (const s of strengths) checkStrength(kind, s, `${where} ${item}`);
    const existing = out.find((p) => p.kind === kind);
    if (existing) existing.strengths = [...existing.strengths, ...strengths];
    else out.push({ kind, strengths: [...strengths] });
  }
  return out;
}

/** A 32-bit hash of the inputs, to seed one perturbation of one image. */
function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    const v = Math.round(x * 1e6) | 0;
    for (let k = 0; k < 4; k++) { h ^= (v >>> (8 * k)) & 0xff; h = Math.imul(h, 0x01000193); }
  }
  return h >>> 0;
}


function copyOf(img: RgbImage, data: Uint8Array): RgbImage {
  return { data, width: img.width, height: img.height, channels: 3 };
}

async function viaSharp(img: RgbImage, f: (s: sharp.Sharp) => sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await f(sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== img.width || info.height !== img.height || info.channels !== 3) {
    throw new CloudlessError('E_INTERNAL', `perturbation changed the image from ${img.width}x${img.height}x3 to ${info.width}x${info.height}x${info.channels}`);
  }
  return copyOf(img, new Uint8Array(data.buffer, data.byteOffset, data.length));
}

export interface PerturbOptions {
  /** Seeds the noise (default 1); the same seed, image and perturbation give the same pixels. */
  seed?: number;
  /** The model's input size, which blur σ is measured in (default: the image's own pixels). */
  modelSize?: { width: number; height: number };
}

/** The image with one perturbation applied (a new buffer; the input is not changed). */
export async function perturb(img: RgbImage, p: Perturbation, opts: PerturbOptions = {}): Promise<RgbImage> {
  checkStrength(p.kind, p.strength, 'perturb');
  const src = img.data;
  switch (p.kind) {
    case 'noise': {
      const rng = seededRandom(mix(opts.seed ?? 1, img.width, img.height, p.strength));
      const out = new Uint8Array(src.length);
      for (let i = 0; i < src.length; i += 2) {
        // Box-Muller: two independent standard normals from two uniforms.
        const r = Math.sqrt(-2 * Math.log(1 - rng())), t = 2 * Math.PI * rng();
        out[i] = Math.min(255, Math.max(0, Math.round(src[i]! + p.strength * r * Math.cos(t))));
        if (i + 1 < src.length) out[i + 1] = Math.min(255, Math.max(0, Math.round(src[i + 1]! + p.strength * r * Math.sin(t))));
      }
      return copyOf(img, out);
    }
    case 'brightness': {
      const out = new Uint8Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Math.min(255, Math.round(src[i]! * p.strength));
      return copyOf(img, out);
    }
    case 'blur': {
      const m = opts.modelSize;
      const perModelPixel = m ? Math.sqrt((img.width / m.width) * (img.height / m.height)) : 1;
      // libvips takes σ >= 0.3; below that a Gaussian barely spreads past one pixel anyway.
      return viaSharp(img, (s) => s.blur(Math.max(0.3, p.strength * perModelPixel)));
    }
    case 'jpeg': {
      const encoded = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: p.strength }).toBuffer();
      return viaSharp(img, () => sharp(encoded));
    }
    case 'occlusion': {
      const [fx, fy] = p.at ?? [0.5, 0.5];
      if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) throw new CloudlessError('E_CONFIG', `perturb: occlusion centre [${fx}, ${fy}] must be fractions from 0 to 1`);
      const side = Math.max(1, Math.round(p.strength * Math.min(img.width, img.height)));
      const x0 = Math.max(0, Math.round(fx * img.width - side / 2)), y0 = Math.max(0, Math.round(fy * img.height - side / 2));
      const x1 = Math.min(img.width, x0 + side), y1 = Math.min(img.height, y0 + side);
      const out = new Uint8Array(src);
      for (let y = y0; y < y1; y++) out.fill(OCCLUDER, (y * img.width + x0) * 3, (y * img.width + x1) * 3);
      return copyOf(img, out);
    }
  }
}

export interface MatchOptions {
  /** Confident = score >= threshold + margin (default 0.1). */
  margin?: number;
  /** The same object: same label and IoU at least this (default 0.5). */
  matchIou?: number;
}

/**
 * The confident detections of `before` with no counterpart in `after` (lost)
 * and those of `after` with none in `before` (gained). Both lists are a
 * detector's output at `threshold`.
 */
export function detectionChanges(before: readonly Detection[], after: readonly Detection[], threshold: number, opts: MatchOptions = {}): { lost: Detection[]; gained: Detection[] } {
  const margin = opts.margin ?? 0.1, minIou = opts.matchIou ?? 0.5;
  const missing = (from: readonly Detection[], to: readonly Detection[]): Detection[] => from.filter((d) =>
    d.score >= threshold + margin && !to.some((o) => o.classId === d.classId && iou(d.box, o.box) >= minIou));
  return { lost: missing(before, after), gained: missing(after, before) };
}

export interface RobustnessOptions extends MatchOptions {
  /** What to measure (default defaultPerturbations()). */
  perturbations?: readonly PerturbationSet[];
  seed?: number;
  /** Called after each model run (the baseline counts), for a progress bar. */
  onProgress?: (done: number, total: number, image: string) => void;
}

export interface RobustnessRow {
  kind: PerturbationKind;
  strength: number;
  label: string;
  /** Perturbed images the model ran on (images, times the 9 positions for occlusion). */
  trials: number;
  /** Trials whose decision differed from the original image's. */
  changed: number;
  rate: number;
  /** Detection: confident detections lost and gained, over all trials. */
  lost?: number;
  gained?: number;
}

export interface RobustnessChange {
  image: string;
  perturbation: string;
  at?: readonly [number, number];
  /** Detection: 'person 0.71'; classification: the original top-1. */
  lost: string[];
  /** Detection: the detections gained; classification: the new top-1. */
  gained: string[];
}

export interface RobustnessReport {
  model: string;
  task: 'detect' | 'classify';
  seed: number;
  /** Detection only: the detector's threshold, the margin and the IoU used to match. */
  threshold?: number;
  margin?: number;
  matchIou?: number;
  /** The decisions on the unperturbed images. */
  images: { image: string; width: number; height: number; decision: string[]; detections?: Detection[] }[];
  failures: { image: string; error: { code: string; message: string } }[];
  rows: RobustnessRow[];
  changes: RobustnessChange[];
  /** Model runs, baselines included. */
  runs: number;
}

const describeDetection = (d: Detection): string => `${d.label} ${d.score.toFixed(2)}`;

/** Measures how often `model`'s decision changes under perturbation of `images` (see the file's comment). */
export async function robustnessReport(model: Detector | Classifier, images: readonly ImageInput[], opts: RobustnessOptions = {}): Promise<RobustnessReport> {
  const sets = opts.perturbations ?? defaultPerturbations();
  for (const s of sets) for (const v of s.strengths) checkStrength(s.kind, v, 'robustnessReport');
  const seed = opts.seed ?? 1;
  const margin = opts.margin ?? 0.1, matchIou = opts.matchIou ?? 0.5;
  if (!(margin >= 0 && margin < 1)) throw new CloudlessError('E_CONFIG', `robustnessReport: margin ${margin} must be from 0 to below 1`);
  if (!(matchIou > 0 && matchIou <= 1)) throw new CloudlessError('E_CONFIG', `robustnessReport: matchIou ${matchIou} must be above 0, at most 1`);
  const detector = 'detect' in model ? model : undefined;
  const classifier = 'detect' in model ? undefined : model;
  const isDetector = detector !== undefined;
  const threshold = detector?.scoreThreshold ?? 0;
  const modelSize = { width: model.input.width, height: model.input.height };
  const trialsPerImage = sets.reduce((n, s) => n + s.strengths.length * (s.kind === 'occlusion' ? OCCLUSION_POSITIONS.length : 1), 0);
  const total = images.length * (1 + trialsPerImage);
  let runs = 0;

  type Decision = { detections: Detection[] } | { top: { classId: number; label: string } };
  const decide = async (img: RgbImage): Promise<Decision> => {
    runs++;
    if (detector) return { detections: (await detector.detect(img)).detections };
    const c = (await classifier!.classify(img, { k: 1 })).classes[0];
    if (!c) throw new CloudlessError('E_CONFIG', `model ${model.model}: the classifier returned no class`);
    return { top: { classId: c.classId, label: c.label } };
  };

  const rows: RobustnessRow[] = sets.flatMap((s) => s.strengths.map((strength) => ({
    kind: s.kind, strength, label: perturbationLabel(s.kind, strength), trials: 0, changed: 0, rate: 0,
    ...(isDetector ? { lost: 0, gained: 0 } : {}),
  })));
  const report: RobustnessReport = {
    model: model.model, task: isDetector ? 'detect' : 'classify', seed,
    ...(isDetector ? { threshold, margin, matchIou } : {}),
    images: [], failures: [], rows, changes: [], runs: 0,
  };

  for (const [index, input] of images.entries()) {
    const name = describeImageInput(input);
    let original: RgbImage;
    let base: Decision;
    try {
      original = await decodeImage(input);
      base = await decide(original);
    } catch (err) {
      report.failures.push({ image: name, error: err instanceof CloudlessError ? { code: err.code, message: err.message } : { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) } });
      runs = (index + 1) * (1 + trialsPerImage);
      opts.onProgress?.(runs, total, name);
      continue;
    }
    opts.onProgress?.(runs, total, name);
    report.images.push({
      image: name, width: original.width, height: original.height,
      decision: 'detections' in base ? base.detections.map(describeDetection) : [base.top.label],
      ...('detections' in base ? { detections: base.detections } : {}),
    });
    let row = 0;
    for (const s of sets) {
      for (const strength of s.strengths) {
        const r = rows[row++]!;
        const positions = s.kind === 'occlusion' ? OCCLUSION_POSITIONS : [undefined];
        for (const at of positions) {
          // Each image gets its own noise: the seed mixes in the image's index.
          const img = await perturb(original, { kind: s.kind, strength, at }, { seed: mix(seed, index), modelSize });
          const d = await decide(img);
          r.trials++;
          let lost: string[], gained: string[];
          if ('detections' in base && 'detections' in d) {
            const c = detectionChanges(base.detections, d.detections, threshold, { margin, matchIou });
            lost = c.lost.map(describeDetection);
            gained = c.gained.map(describeDetection);
            r.lost! += c.lost.length;
            r.gained! += c.gained.length;
          } else if ('top' in base && 'top' in d) {
            const same = base.top.classId === d.top.classId;
            lost = same ? [] : [base.top.label];
            gained = same ? [] : [d.top.label];
          } else {
            throw new CloudlessError('E_INTERNAL', 'robustnessReport: decisions of two kinds');
          }
          if (lost.length > 0 || gained.length > 0) {
            r.changed++;
            report.changes.push({ image: name, perturbation: r.label, ...(at ? { at } : {}), lost, gained });
          }
          opts.onProgress?.(runs, total, name);
        }
        r.rate = r.trials > 0 ? r.changed / r.trials : 0;
      }
    }
  }
  report.runs = runs;
  return report;
}

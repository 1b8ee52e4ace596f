/**
 * An object detector: preprocess → session.run → decode, with the session loaded
 * once and reused for every image.
 *
 *   const detector = await createDetector('centernet');
 *   const { detections, ms } = await detector.detect('fruits.jpg');
 *   // [{ label: 'orange', score: 0.33, box: [x1, y1, x2, y2] in photo pixels, classId: 49 }, ...]
 */
import { CloudlessError } from '../../ir/index.js';
import { load } from '../../runtime/load.js';
import type { BackendChoice, Session } from '../../runtime/session.js';
import { resolveModel } from '../../zoo/resolve.js';
import type { StoreOptions } from '../../zoo/store.js';
import type { Detection } from './detection.js';
import { type DetectionDecoder, detectionDecoder } from './decode-detections.js';
import type { ImageInput, ImageLimits } from './image.js';
import { type PreprocessSpec, preprocessImage } from './preprocess.js';

export interface DetectorOptions extends ImageLimits {
  /** Minimum score (default: the zoo's setting for the model). */
  threshold?: number;
  /** NMS IoU threshold (default: the zoo's setting). */
  iouThreshold?: number;
  /** At most this many detections per image (default 100). */
  maxDetections?: number;
  backend?: BackendChoice;
  /** Threads for the wasm kernels (the session option; default 1). */
  threads?: number;
  /** For models outside the zoo: how to prepare the image, how to decode, and the labels. */
  input?: PreprocessSpec;
  /** Overrides the input spec's resampling kernel (the zoo names the one each model was trained with). */
  interpolation?: PreprocessSpec['interpolation'];
  decoder?: DetectionDecoder;
  labels?: readonly string[];
  store?: StoreOptions;
}

export interface DetectResult {
  detections: Detection[];
  /** Size of the image as seen (after EXIF orientation): boxes are in these pixels. */
  width: number;
  height: number;
  /** Wall time of preprocess + inference + decode. */
  ms: number;
  timings: { preprocessMs: number; inferenceMs: number; decodeMs: number };
}

export interface Detector {
  /** The zoo name, or the model path. */
  readonly model: string;
  readonly session: Session;
  readonly input: PreprocessSpec;
  readonly labels?: readonly string[];
  /** Detections scoring below this are not returned. */
  readonly scoreThreshold: number;
  detect(image: ImageInput): Promise<DetectResult>;
}

/** Loads a detector from a zoo name ('centernet', 'nanodet') or a model file (verified by sha256 when it is a zoo model). */
export async function createDetector(modelNameOrPath: string, opts: DetectorOptions = {}): Promise<Detector> {
  const resolved = await resolveModel(modelNameOrPath, opts.store);
  const m = resolved.manifest;
  if (m && m.task !== 'detect') {
    throw new CloudlessError('E_CONFIG', `model ${m.name} is a ${m.task} model, not an object detector`, {
      hint: 'detectors in the zoo: centernet, nanodet',
    });
  }
  const spec = opts.input ?? m?.input;
  const input = spec && opts.interpolation ? { ...spec, interpolation: opts.interpolation } : spec;
  const settings = opts.decoder ?? (m?.decoder as DetectionDecoder | undefined);
  if (!input || !settings) {
    throw new CloudlessError('E_CONFIG', `model ${modelNameOrPath} is not in the zoo, so its input spec and decoder must be given`, {
      file: resolved.path, hint: 'pass input and decoder options, or use a zoo model (centernet, nanodet)',
    });
  }
  const labels = opts.labels ?? m?.labels;
  const session = await load(resolved.model, { backend: opts.backend, threads: opts.threads });
  if (session.inputs.length !== 1) {
    throw new CloudlessError('E_CONFIG', `model ${modelNameOrPath} has ${session.inputs.length} inputs; a detector takes one image`, { file: resolved.path });
  }
  const inputName = session.inputs[0]!.name;
  const limits: ImageLimits = { maxInputPixels: opts.maxInputPixels };
  const common = {
    scoreThreshold: opts.threshold ?? settings.scoreThreshold,
    iouThreshold: opts.iouThreshold ?? settings.iouThreshold,
    maxDetections: opts.maxDetections ?? 100,
    labels,
  };

  const decode = detectionDecoder(settings, common, modelNameOrPath);

  return {
    model: m?.name ?? modelNameOrPath,
    session,
    input,
    labels,
    scoreThreshold: common.scoreThreshold,
    async detect(image: ImageInput): Promise<DetectResult> {
      const t0 = performance.now();
      const pre = await preprocessImage(image, input, limits);
      const t1 = performance.now();
      // run and decode stay in one synchronous block: outputs are views into the
      // session's arena, which a concurrent detect() would overwrite.
      const out = session.runSync({ [inputName]: pre.tensor });
      const t2 = performance.now();
      const detections = decode(out, pre.transform);
      const t3 = performance.now();
      return {
        detections, width: pre.transform.srcWidth, height: pre.transform.srcHeight, ms: t3 - t0,
        timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, decodeMs: t3 - t2 },
      };
    },
  };
}

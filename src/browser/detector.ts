/**
 * An object detector in a page: a session loaded once, the browser's own image
 * decoding and resizing, and the same decoders and NMS as Node's detector.
 *
 *   await initWasm();
 *   const det = await createBrowserDetector('centernet', '/models/centernet.json');
 *   const { detections } = await det.detect(file);   // a File, an <img>, a <video>, ...
 */
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice, Session } from '../runtime/session.js';
import { getModel } from '../zoo/manifest.js';
import type { Detection } from '../tasks/vision/detection.js';
import { type DetectionDecoder, detectionDecoder } from '../tasks/vision/decode-detections.js';
import type { PreprocessSpec } from '../tasks/vision/input-tensor.js';
import { type BrowserImage, preprocessBrowserImage } from './image.js';
import { type ModelSource, loadModel } from './load.js';

export interface BrowserDetectorOptions {
  threshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
  backend?: BackendChoice;
  /** Threads for the wasm kernels (a cross-origin isolated page runs them on Web Workers; see loadModel). */
  threads?: number;
  /** For a model outside the zoo: its input spec, decoder and labels. */
  input?: PreprocessSpec;
  decoder?: DetectionDecoder;
  labels?: readonly string[];
}

export interface BrowserDetectResult {
  detections: Detection[];
  width: number;
  height: number;
  ms: number;
  timings: { preprocessMs: number; inferenceMs: number; decodeMs: number };
}

export interface BrowserDetector {
  readonly model: string;
  readonly session: Session;
  detect(image: BrowserImage): Promise<BrowserDetectResult>;
}

/**
 * `zooName` picks the input spec, decoder and labels from the zoo manifest
 * (the files themselves come from `source`: the page's server, or dropped files).
 */
export async function createBrowserDetector(zooName: string | undefined, source: ModelSource, opts: BrowserDetectorOptions = {}): Promise<BrowserDetector> {
  const m = zooName ? getModel(zooName) : undefined;
  if (m && m.task !== 'detect') throw new CloudlessError('E_CONFIG', `model ${m.name} is a ${m.task} model, not an object detector`, { hint: 'detectors in the zoo: centernet, nanodet' });
  const input = opts.input ?? m?.input;
  const settings = opts.decoder ?? (m?.decoder as DetectionDecoder | undefined);
  const name = zooName ?? 'model';
  if (!input || !settings) {
    throw new CloudlessError('E_CONFIG', `model ${name}: a model outside the zoo needs its input spec and decoder`, { hint: 'pass input and decoder options, or a zoo name (centernet, nanodet)' });
  }
  const session = await loadModel(source, { backend: opts.backend, threads: opts.threads });
  if (session.inputs.length !== 1) throw new CloudlessError('E_CONFIG', `model ${name} has ${session.inputs.length} inputs; a detector takes one image`);
  const inputName = session.inputs[0]!.name;
  const decode = detectionDecoder(settings, {
    scoreThreshold: opts.threshold ?? settings.scoreThreshold,
    iouThreshold: opts.iouThreshold ?? settings.iouThreshold,
    maxDetections: opts.maxDetections ?? 100,
    labels: opts.labels ?? m?.labels,
  }, name);
  return {
    model: name,
    session,
    async detect(image: BrowserImage): Promise<BrowserDetectResult> {
      const t0 = performance.now();
      const pre = await preprocessBrowserImage(image, input);
      const t1 = performance.now();
      // run and decode in one synchronous block: outputs are views of the session's arena.
      const out = session.runSync({ [inputName]: pre.tensor });
      const t2 = performance.now();
      const detections = decode(out, pre.transform);
      const t3 = performance.now();
      (pre.tensor.data as Uint8Array).fill(0);
      return {
        detections, width: pre.transform.srcWidth, height: pre.transform.srcHeight, ms: t3 - t0,
        timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, decodeMs: t3 - t2 },
      };
    },
  };
}

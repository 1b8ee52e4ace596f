/**
 * An image classifier: preprocess → session.run → top-k, with the session loaded
 * once and reused for every image.
 *
 *   const classifier = await createClassifier('person_detect');
 *   const { classes } = await classifier.classify('person.bmp', { k: 2 });
 *   // [{ label: 'person', score: 0.9, classId: 1 }, { label: 'no person', ... }]
 */
import { CloudlessError } from '../../ir/index.js';
import { load } from '../../runtime/load.js';
import type { BackendChoice, Session } from '../../runtime/session.js';
import { resolveModel } from '../../zoo/resolve.js';
import type { StoreOptions } from '../../zoo/store.js';
import { type Classification, topK } from './classify.js';
import type { ImageInput, ImageLimits } from './image.js';
import { type PreprocessSpec, preprocessImage } from './preprocess.js';

export interface ClassifierOptions extends ImageLimits {
  backend?: BackendChoice;
  /** Threads for the wasm kernels (the session option; default 1). */
  threads?: number;
  /** For models outside the zoo: how to prepare the image and the class names. */
  input?: PreprocessSpec;
  /** Overrides the input spec's resampling kernel (the zoo names the one each model was trained with). */
  interpolation?: PreprocessSpec['interpolation'];
  labels?: readonly string[];
  /** Apply a softmax to the output (default: the zoo's setting, else false). */
  softmax?: boolean;
  /** Output columns before class 0, e.g. 1 for a "background" column (default 0). */
  labelOffset?: number;
  store?: StoreOptions;
}

export interface ClassifyResult {
  classes: Classification[];
  width: number;
  height: number;
  ms: number;
}

export interface Classifier {
  readonly model: string;
  readonly session: Session;
  readonly input: PreprocessSpec;
  readonly labels?: readonly string[];
  classify(image: ImageInput, opts?: { k?: number }): Promise<ClassifyResult>;
}

const CLASSIFIER_TASKS = new Set(['classify', 'text-direction']);

/** Loads a classifier from a zoo name ('person_detect', 'paddleocr-cls') or a model file with an `input` spec. */
export async function createClassifier(modelNameOrPath: string, opts: ClassifierOptions = {}): Promise<Classifier> {
  const resolved = await resolveModel(modelNameOrPath, opts.store);
  const m = resolved.manifest;
  if (m && !CLASSIFIER_TASKS.has(m.task)) {
    throw new CloudlessError('E_CONFIG', `model ${m.name} is a ${m.task} model, not an image classifier`, {
      hint: 'classifiers in the zoo: person_detect, paddleocr-cls',
    });
  }
  const spec = opts.input ?? m?.input;
  const input = spec && opts.interpolation ? { ...spec, interpolation: opts.interpolation } : spec;
  if (!input) {
    throw new CloudlessError('E_CONFIG', `model ${modelNameOrPath} is not in the zoo, so its input spec must be given`, {
      file: resolved.path, hint: 'pass the input option (size, layout, channels, normalisation, dtype)',
    });
  }
  const labels = opts.labels ?? m?.labels;
  const softmax = opts.softmax ?? (m?.decoder?.kind === 'topk' ? m.decoder.softmax : false);
  const session = await load(resolved.model, { backend: opts.backend, threads: opts.threads });
  if (session.inputs.length !== 1) {
    throw new CloudlessError('E_CONFIG', `model ${modelNameOrPath} has ${session.inputs.length} inputs; a classifier takes one image`, { file: resolved.path });
  }
  const inputName = session.inputs[0]!.name;
  const outputName = session.outputs[0]!.name;
  const limits: ImageLimits = { maxInputPixels: opts.maxInputPixels };

  return {
    model: m?.name ?? modelNameOrPath,
    session,
    input,
    labels,
    async classify(image: ImageInput, o: { k?: number } = {}): Promise<ClassifyResult> {
      const t0 = performance.now();
      const pre = await preprocessImage(image, input, limits);
      // topK copies what it returns, so the arena view can be overwritten afterwards.
      const out = session.runSync({ [inputName]: pre.tensor })[outputName]!;
      const classes = topK(out, { k: o.k ?? 5, softmax, labels, labelOffset: opts.labelOffset });
      return { classes, width: pre.transform.srcWidth, height: pre.transform.srcHeight, ms: performance.now() - t0 };
    },
  };
}

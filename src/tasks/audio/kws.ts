/**
 * Keyword spotting with TFLM's micro_speech: the streaming front end feeds a
 * sliding window of 49 feature frames (1 s) to micro_speech_quantized.tflite,
 * and RecognizeCommands turns the stream of scores into detections.
 *
 * RecognizeCommands (as in TFLM's example): keep the results of the last
 * averageWindowMs; when there are at least minimumCount of them spanning a
 * quarter of the window, average each label's score (int8 + 128, so 0..255,
 * integer division); the top label is a new command when its average passes
 * the threshold and it differs from the previous command or the previous one
 * is older than suppressionMs. The first label ("silence") never counts as a
 * detection here.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError, Tensor } from '../../ir/index.js';
import { type ModelBytes, readModel } from '../../runtime/load.js';
import { Session, type BackendChoice } from '../../runtime/session.js';
import { MicroFrontend, microFrontendConfig } from './features.js';

export const MICRO_SPEECH_LABELS = ['silence', 'unknown', 'yes', 'no'] as const;

export interface RecognizeOptions {
  averageWindowMs?: number;
  /** On the 0..255 scale of (int8 score + 128). */
  detectionThreshold?: number;
  suppressionMs?: number;
  minimumCount?: number;
}

export interface Recognition {
  label: string;
  /** Averaged score, 0..255. */
  score: number;
  isNewCommand: boolean;
  timeMs: number;
}

export class RecognizeCommands {
  private readonly averageWindowMs: number;
  private readonly threshold: number;
  private readonly suppressionMs: number;
  private readonly minimumCount: number;
  /** Bounded: results older than the averaging window are dropped on every call. */
  private readonly results: { timeMs: number; scores: Int8Array }[] = [];
  private previousLabel: string;
  private previousTimeMs = -Infinity;

  constructor(readonly labels: readonly string[], options: RecognizeOptions = {}) {
    this.averageWindowMs = options.averageWindowMs ?? 1000;
    this.threshold = options.detectionThreshold ?? 200;
    this.suppressionMs = options.suppressionMs ?? 1500;
    this.minimumCount = options.minimumCount ?? 3;
    this.previousLabel = labels[0]!;
  }

  process(scores: Int8Array, timeMs: number): Recognition {
    if (scores.length !== this.labels.length) {
      throw new CloudlessError('E_SHAPE', `RecognizeCommands expects ${this.labels.length} scores, got ${scores.length}`);
    }
    const last = this.results[this.results.length - 1];
    if (last && timeMs < last.timeMs) {
      throw new CloudlessError('E_INPUT', `results must come in time order: ${timeMs} ms after ${last.timeMs} ms`);
    }
    this.results.push({ timeMs, scores: scores.slice() });
    while (this.results.length > 0 && this.results[0]!.timeMs < timeMs - this.averageWindowMs) this.results.shift();
    const count = this.results.length;
    if (count < this.minimumCount || timeMs - this.results[0]!.timeMs < this.averageWindowMs / 4) {
      return { label: this.previousLabel, score: 0, isNewCommand: false, timeMs };
    }
    let topIndex = 0, topScore = 0;
    for (let i = 0; i < this.labels.length; i++) {
      let sum = 0;
      for (const r of this.results) sum += r.scores[i]! + 128;
      const avg = Math.trunc(sum / count);
      if (avg > topScore) { topScore = avg; topIndex = i; }
    }
    const label = this.labels[topIndex]!;
    const sinceLast = this.previousLabel === this.labels[0] ? Infinity : timeMs - this.previousTimeMs;
    let isNewCommand = false;
    if (topScore > this.threshold && (label !== this.previousLabel || sinceLast > this.suppressionMs)) {
      this.previousLabel = label;
      this.previousTimeMs = timeMs;
      isNewCommand = label !== this.labels[0];
    }
    return { label, score: topScore, isNewCommand, timeMs };
  }
}

export interface Detection {
  label: string;
  /** 0..1 (the averaged score / 255). */
  score: number;
  /** End of the audio that triggered it, ms from the stream start. */
  timeMs: number;
}

export interface KeywordSpotterOptions extends RecognizeOptions {
  preprocessorPath: string;
  modelPath: string;
  /** The checked bytes to parse instead of reading the paths again (from resolveModel); files it lacks are read from disk. */
  verified?: ModelBytes;
  /** Run the classifier every this many feature frames (20 ms each). Default 10 (200 ms). */
  inferenceEveryFrames?: number;
  /** Labels that are never reported as detections. Default: silence and unknown ("some other word"). */
  ignoreLabels?: readonly string[];
  /** Kernels for the classifier (default 'auto': WebAssembly SIMD where available; both are bit-exact with TFLM). */
  backend?: BackendChoice;
}

/**
 * RecognizeCommands' averaging window for the spotter. TFLM's default is
 * 1000 ms; with a result every 200 ms a short word (yes_1000ms.wav's "yes"
 * scores high for about 700 ms) is diluted below the threshold in a 1 s
 * average, so the spotter averages over 500 ms unless told otherwise.
 */
export const DEFAULT_AVERAGE_WINDOW_MS = 500;

/**
 * Streaming keyword spotter. push() int16 samples at 16 kHz in chunks of any
 * size; it resolves to the detections those samples completed. Memory is
 * bounded: one frame of samples, the 49-frame feature window, and the
 * recognizer's last second of scores.
 */
export class KeywordSpotter {
  readonly frontend: MicroFrontend;
  private recognizer: RecognizeCommands;
  private readonly options: KeywordSpotterOptions;
  private readonly session: Session;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly window: Int8Array;
  private readonly input: Tensor;
  private readonly frames: number;
  private readonly every: number;
  private sinceInference = 0;
  /** Feature frames since the stream started. */
  private framesSeen = 0;
  /** Whether RecognizeCommands has had enough results to judge (else flush() judges the clip). */
  private decided = false;
  /** Scores of the last inference (int8), for callers that want raw outputs. */
  readonly lastScores: Int8Array;

  private constructor(frontend: MicroFrontend, session: Session, options: KeywordSpotterOptions) {
    this.frontend = frontend;
    this.session = session;
    this.options = options;
    this.inputName = session.inputs[0]!.name;
    this.outputName = session.outputs[0]!.name;
    const shape = session.inputs[0]!.shape.map(Number);
    const size = shape.reduce((a, b) => a * b, 1);
    if (size % frontend.featureSize !== 0) {
      throw new CloudlessError('E_SHAPE', `model input of ${size} values is not a whole number of ${frontend.featureSize}-value feature frames`);
    }
    this.frames = size / frontend.featureSize;
    this.window = new Int8Array(size);
    this.input = new Tensor('int8', shape, this.window, session.graph.values.get(this.inputName)?.quant);
    this.every = options.inferenceEveryFrames ?? 10;
    if (!Number.isInteger(this.every) || this.every < 1) {
      throw new CloudlessError('E_CONFIG', `inferenceEveryFrames must be a positive integer, got ${this.every}`);
    }
    this.recognizer = new RecognizeCommands(MICRO_SPEECH_LABELS, this.recognizeOptions());
    this.lastScores = new Int8Array(MICRO_SPEECH_LABELS.length);
  }

  static async create(options: KeywordSpotterOptions): Promise<KeywordSpotter> {
    const from = (file: string) => options.verified?.files.get(path.resolve(file)) ?? file;
    const pre = await readModel(from(options.preprocessorPath));
    const frontend = new MicroFrontend(microFrontendConfig(pre));
    const graph = await readModel(from(options.modelPath));
    // micro_speech runs on TFLM, whose integer kernels are TFLite's reference ones.
    const session = new Session(graph, { int8Arithmetic: 'tflite-reference', backend: options.backend });
    return new KeywordSpotter(frontend, session, options);
  }

  private recognizeOptions(): RecognizeOptions {
    return { ...this.options, averageWindowMs: this.options.averageWindowMs ?? DEFAULT_AVERAGE_WINDOW_MS };
  }

  private ignored(label: string): boolean {
    return (this.options.ignoreLabels ?? ['silence', 'unknown']).includes(label);
  }

  /** Feature frames in the classifier's window (49 for micro_speech: 1 s at a 20 ms stride). */
  get windowFrames(): number {
    return this.frames;
  }

  /** Forgets the stream (front end state, feature window, recognizer history). */
  reset(): void {
    this.frontend.reset();
    this.framesSeen = 0;
    this.decided = false;
    this.sinceInference = 0;
    this.recognizer = new RecognizeCommands(MICRO_SPEECH_LABELS, this.recognizeOptions());
  }

  /** Feeds int16 samples; resolves to the detections they completed. */
  async push(samples: ArrayLike<number>): Promise<Detection[]> {
    const frames: { features: Int8Array; endMs: number }[] = [];
    this.frontend.push(samples, (features, endMs) => frames.push({ features: features.slice(), endMs }));
    const out: Detection[] = [];
    for (const f of frames) {
      const d = await this.addFrame(f.features, f.endMs);
      if (d) out.push(d);
    }
    return out;
  }

  /**
   * Ends the stream. A recording too short for RecognizeCommands to decide
   * (fewer than minimumCount results, or less than a quarter of the averaging
   * window of them) is judged like TFLM's micro_speech test judges a 1 s clip:
   * one inference on its last full window, reported when the top label is a
   * word and its score passes the threshold. Resolves to that detection, if any.
   */
  async flush(): Promise<Detection[]> {
    if (this.framesSeen < this.frames || this.decided) return [];
    const scores = await this.classifyWindow();
    let top = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[top]!) top = i;
    const score = scores[top]! + 128;
    if (this.ignored(MICRO_SPEECH_LABELS[top]!) || score <= (this.options.detectionThreshold ?? 200)) return [];
    return [{ label: MICRO_SPEECH_LABELS[top]!, score: score / 255, timeMs: this.lastFrameMs }];
  }

  private lastFrameMs = 0;

  private async addFrame(features: Int8Array, endMs: number): Promise<Detection | undefined> {
    const fs = this.frontend.featureSize;
    this.window.copyWithin(0, fs);
    this.window.set(features, this.window.length - fs);
    this.lastFrameMs = endMs;
    // Only windows of real audio are classified: padding the window (with
    // digital silence or a repeated frame) makes an onset micro_speech hears as a word.
    if (++this.framesSeen < this.frames) return undefined;
    if (++this.sinceInference < this.every && this.framesSeen > this.frames) return undefined;
    this.sinceInference = 0;
    return this.infer(endMs);
  }

  /** Runs the classifier on the current window without touching the recognizer: scores (int8) per label. */
  async classifyWindow(): Promise<Int8Array> {
    const res = await this.session.run({ [this.inputName]: this.input });
    this.lastScores.set(res[this.outputName]!.data as Int8Array);
    return this.lastScores;
  }

  private async infer(timeMs: number): Promise<Detection | undefined> {
    const scores = await this.classifyWindow();
    const r = this.recognizer.process(scores, timeMs);
    if (r.score > 0) this.decided = true;
    return r.isNewCommand && !this.ignored(r.label) ? { label: r.label, score: r.score / 255, timeMs } : undefined;
  }
}

/** The TFLM preprocessor that ships beside micro_speech. */
export function preprocessorBeside(modelPath: string): string {
  const p = path.join(path.dirname(modelPath), 'audio_preprocessor_int8.tflite');
  if (!existsSync(p)) {
    throw new CloudlessError('E_FILE', `no audio_preprocessor_int8.tflite beside ${modelPath}`, {
      file: p, hint: 'name the preprocessor (listen --preprocessor, or the keyword task\'s preprocessor option); TFLM micro_speech ships it with the model',
    });
  }
  return p;
}

/**
 * Tasks a pipeline can run on its frames: image classifiers and object
 * detectors (src/tasks/vision, loaded once and reused), keyword spotting and
 * voice activity on audio (src/tasks/audio), a sensor reader (a number from a
 * payload, with an anomaly z-score over a sliding window), a sound level
 * meter, or a user module exporting `createTask(options)`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice } from '../runtime/session.js';
import { createKeywordTask, createVadTask } from '../tasks/audio/pipeline-task.js';
import { createWakeWordTask } from '../tasks/audio/wakeword.js';
import { createClassifier } from '../tasks/vision/classifier.js';
import { createDetector } from '../tasks/vision/detector.js';
import type { ImageInput } from '../tasks/vision/image.js';
import type { TaskConfig } from './config.js';
import type { Frame, Task, TaskResult } from './types.js';

export interface TaskOptions {
  /** Folder that relative model and module paths are resolved against (the pipeline file's folder). */
  baseDir?: string;
  backend?: BackendChoice;
  /** Threads for the wasm kernels (the session option; default 1). */
  threads?: number;
  /** The audio source's hop_ms when its frames overlap: audio tasks take only each frame's new samples. */
  hopMs?: number;
}

/** A model given as a path is resolved against the pipeline's folder; a bare name is a zoo model. */
function modelRef(model: string, baseDir: string): string {
  return /[\\/]/.test(model) || path.extname(model) ? path.resolve(baseDir, model) : model;
}

/** The frame as the vision library's image input; the frame's buffer is shared, not copied. */
function imageOf(frame: Frame, task: string): ImageInput {
  if (frame.kind === 'image') return frame.data;
  if (frame.kind === 'video' && frame.width && frame.height) return { data: frame.data, width: frame.width, height: frame.height, channels: 3 };
  throw new CloudlessError('E_CONFIG', `task ${task} takes image or video frames, got a ${frame.kind} frame from ${frame.source}`);
}

export async function createTask(cfg: TaskConfig, opts: TaskOptions = {}): Promise<Task> {
  const baseDir = opts.baseDir ?? process.cwd();
  switch (cfg.type) {
    case 'classifier': {
      const c = await createClassifier(modelRef(cfg.model, baseDir), { input: cfg.input, labels: cfg.labels, softmax: cfg.softmax, backend: opts.backend, threads: opts.threads });
      const name = `classifier:${c.model}`;
      return {
        name, accepts: ['image', 'video'],
        async run(frame) {
          const r = await c.classify(imageOf(frame, name), { k: cfg.top_k });
          return { width: r.width, height: r.height, findings: r.classes.map((k) => ({ label: k.label, score: k.score })) };
        },
      };
    }
    case 'detector': {
      const d = await createDetector(modelRef(cfg.model, baseDir), { threshold: cfg.score_threshold, backend: opts.backend, threads: opts.threads });
      const name = `detector:${d.model}`;
      return {
        name, accepts: ['image', 'video'],
        async run(frame) {
          const r = await d.detect(imageOf(frame, name));
          return { width: r.width, height: r.height, findings: r.detections.map((x) => ({ label: x.label, score: x.score, box: x.box })) };
        },
      };
    }
    case 'keyword': return createKeywordTask({
      model: modelRef(cfg.model, baseDir),
      preprocessor: cfg.preprocessor === undefined ? undefined : path.resolve(baseDir, cfg.preprocessor),
      detectionThreshold: Math.round(cfg.threshold * 255),
      everyMs: cfg.every_ms,
      hopMs: opts.hopMs,
      backend: opts.backend,
    });
    case 'wake_word': return createWakeWordTask({ words: cfg.words, threshold: cfg.threshold, vadGate: cfg.vad_gate, hopMs: opts.hopMs, backend: opts.backend });
    case 'vad': return createVadTask({ model: modelRef(cfg.model, baseDir), hopMs: opts.hopMs, backend: opts.backend });
    case 'sensor': return new SensorTask(cfg.field, cfg.anomaly_window);
    case 'level': return levelTask;
    case 'module': {
      const file = path.resolve(baseDir, cfg.path);
      let mod: { createTask?: (o: Record<string, unknown>) => Task | Promise<Task> };
      try {
        mod = await import(pathToFileURL(file).href) as typeof mod;
      } catch (err) {
        throw new CloudlessError('E_FILE', `cannot load task module ${file}: ${(err as Error).message}`, { file });
      }
      if (typeof mod.createTask !== 'function') throw new CloudlessError('E_CONFIG', `task module ${file} does not export createTask(options)`, { file });
      return await mod.createTask(cfg.options);
    }
  }
}

/**
 * Reads a number from each sensor frame: the whole payload ("21.5") or a field
 * of a JSON object ({"t": 21.5} with field "t", dots for nesting). The anomaly
 * score is the z-score of the value against the previous `window` values.
 */
export class SensorTask implements Task {
  readonly name = 'sensor';
  readonly accepts = ['sensor'] as const;
  private readonly recent: number[] = [];

  constructor(private readonly field: string | undefined, private readonly window: number) {}

  async run(frame: Frame): Promise<TaskResult> {
    const text = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.length).toString('utf8').trim();
    const value = this.field ? readField(text, this.field) : Number(text);
    if (!Number.isFinite(value)) {
      throw new CloudlessError('E_INPUT', `sensor frame ${frame.seq} from ${frame.source}${frame.topic ? ` (topic ${frame.topic})` : ''}: no number${this.field ? ` in field "${this.field}"` : ''}`);
    }
    const anomaly = zScore(this.recent, value);
    this.recent.push(value);
    if (this.recent.length > this.window) this.recent.shift();
    return { findings: [], value, ...(anomaly === undefined ? {} : { anomaly }) };
  }
}

function readField(text: string, field: string): number {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return NaN; }
  for (const k of field.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
}

function zScore(values: readonly number[], x: number): number | undefined {
  if (values.length < 3) return undefined;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return sd > 0 ? Math.abs(x - mean) / sd : x === mean ? 0 : Infinity;
}

/** RMS level of a 16-bit PCM frame in dBFS (0 = full scale, -inf for digital silence, floored at -120). */
export const levelTask: Task = {
  name: 'level',
  accepts: ['audio'],
  async run(frame) {
    const d = frame.data;
    const n = d.length >> 1;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let s = d[2 * i]! | (d[2 * i + 1]! << 8);
      if (s & 0x8000) s -= 0x10000;
      sum += s * s;
    }
    const rms = n ? Math.sqrt(sum / n) / 32768 : 0;
    return { findings: [], value: rms > 0 ? Math.max(-120, 20 * Math.log10(rms)) : -120 };
  },
};

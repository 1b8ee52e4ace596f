/**
 * Keyword spotting and voice activity as pipeline tasks (src/pipeline/types.ts
 * Task): the audio source's frames (16-bit little-endian mono PCM, any rate)
 * feed the streaming spotter or segmenter, and each frame's result carries
 * only what was heard: a keyword and its score, or a speech segment and its
 * peak probability. A rule such as `labels: [yes], min_score: 0.8` then fires
 * an action.
 *
 * Frames may overlap (the source's hop_ms below frame_ms): only the last hop
 * of each frame is new audio, so the task is told hopMs and feeds just that. A
 * gap in frame numbers (the pipeline's queue dropped frames when busy) starts
 * the stream over, so no feature window splices audio from both sides of it.
 *
 * Samples are copied once into a scratch buffer that is zeroed after use; the
 * frame itself is zeroed by the pipeline after the task returns. Nothing here
 * writes, logs or keeps audio.
 */
import path from 'node:path';
import { CloudlessError } from '../../ir/index.js';
import type { Frame, Task, TaskResult } from '../types.js';
import type { BackendChoice } from '../../runtime/session.js';
import { resolveModel } from '../../zoo/resolve.js';
import { KeywordSpotter, preprocessorBeside, type RecognizeOptions } from './kws.js';
import { StreamResampler } from './resample.js';
import { VoiceActivity, type VadOptions } from './vad.js';
import { checkSampleRate } from './wav.js';

const MODEL_RATE = 16000;

interface StreamOptions {
  /** Milliseconds between frame starts, when frames overlap (the audio source's hop_ms). Default: frames follow each other. */
  hopMs?: number;
  backend?: BackendChoice;
}

export interface KeywordTaskOptions extends StreamOptions, RecognizeOptions {
  /** Zoo name or .tflite file (default micro_speech). */
  model?: string;
  /** TFLM audio preprocessor (default: audio_preprocessor_int8.tflite beside the model). */
  preprocessor?: string;
  /** Run the classifier every this many ms (multiple of 20, default 200). */
  everyMs?: number;
}

export interface VadTaskOptions extends StreamOptions, VadOptions {
  /** Zoo name or .onnx file (default silero-vad). */
  model?: string;
}

/**
 * Turns frames into the new samples of a continuous 16 kHz stream: drops the
 * overlap, restarts on a gap, resamples other rates.
 */
export class FrameStream {
  private lastSeq = -1;
  private rate = 0;
  private resampler?: StreamResampler;
  private scratch = new Float32Array(0);

  constructor(private readonly hopMs: number | undefined, private readonly task: string) {
    if (hopMs !== undefined && !(hopMs > 0)) throw new CloudlessError('E_CONFIG', `task ${task}: hopMs must be positive, got ${hopMs}`);
  }

  /**
   * Calls `feed` with the frame's new samples as floats in [-1, 1) at 16 kHz
   * (a view of scratch, zeroed afterwards). `restart` is true when the stream
   * starts over (first frame, gap or rate change).
   */
  async take<T>(frame: Frame, feed: (samples: Float32Array, restart: boolean) => Promise<T>): Promise<T> {
    const rate = frame.sampleRate ?? MODEL_RATE;
    if (frame.data.length % 2 !== 0) {
      throw new CloudlessError('E_AUDIO', `task ${this.task}: audio frame ${frame.seq} from ${frame.source} has an odd number of bytes (${frame.data.length}); expected 16-bit samples`);
    }
    const restart = frame.seq !== this.lastSeq + 1 || rate !== this.rate;
    this.lastSeq = frame.seq;
    if (rate !== this.rate) {
      checkSampleRate(rate, `task ${this.task}: audio frame ${frame.seq} from ${frame.source}`);
      this.rate = rate;
      this.resampler = rate === MODEL_RATE ? undefined : new StreamResampler(rate, MODEL_RATE);
    }
    if (restart) this.resampler?.reset();
    const total = frame.data.length >> 1;
    const hop = this.hopMs === undefined ? total : Math.min(total, Math.round((this.hopMs * rate) / 1000));
    const fresh = restart ? total : hop;
    if (this.scratch.length < fresh) { this.scratch.fill(0); this.scratch = new Float32Array(fresh); }
    const view = new DataView(frame.data.buffer, frame.data.byteOffset, frame.data.length);
    const from = total - fresh;
    for (let i = 0; i < fresh; i++) this.scratch[i] = view.getInt16(2 * (from + i), true) / 32768;
    const samples = this.scratch.subarray(0, fresh);
    const resampled = this.resampler ? this.resampler.push(samples) : undefined;
    try {
      return await feed(resampled ?? samples, restart);
    } finally {
      samples.fill(0);
      resampled?.fill(0);
    }
  }

  reset(): void {
    this.scratch.fill(0);
    this.resampler?.reset();
    this.lastSeq = -1;
  }
}

/**
 * micro_speech keyword spotting on audio frames. Each result's findings are
 * the keywords detected in that frame's audio (label yes/no, score 0..1, the
 * averaged score RecognizeCommands compared with its threshold).
 */
export async function createKeywordTask(options: KeywordTaskOptions = {}): Promise<Task> {
  const model = await resolveModel(options.model ?? 'micro_speech');
  const everyMs = options.everyMs ?? 200;
  const spotter = await KeywordSpotter.create({
    ...options,
    modelPath: model.path,
    verified: model.model,
    preprocessorPath: options.preprocessor ?? preprocessorBeside(model.path),
    inferenceEveryFrames: Math.max(1, Math.round(everyMs / 20)),
  });
  const name = `keyword:${path.basename(model.path, path.extname(model.path))}`;
  const stream = new FrameStream(options.hopMs, name);
  let pcm = new Int16Array(0);
  return {
    name,
    accepts: ['audio'],
    async run(frame): Promise<TaskResult> {
      return stream.take(frame, async (samples, restart) => {
        if (restart) spotter.reset();
        if (pcm.length < samples.length) { pcm.fill(0); pcm = new Int16Array(samples.length); }
        const chunk = pcm.subarray(0, samples.length);
        for (let i = 0; i < samples.length; i++) chunk[i] = Math.round(samples[i]! * 32768);
        try {
          const detections = await spotter.push(chunk);
          return { findings: detections.map((d) => ({ label: d.label, score: d.score })) };
        } finally {
          chunk.fill(0);
        }
      });
    },
    async close() {
      spotter.reset();
      stream.reset();
      pcm.fill(0);
    },
  };
}

/**
 * Silero VAD on audio frames. A result's findings hold one "speech" finding
 * per speech segment that ended within the frame (score: the segment's peak
 * probability); `value` is 1 while speech is going on at the frame's end, else 0.
 */
export async function createVadTask(options: VadTaskOptions = {}): Promise<Task> {
  const model = await resolveModel(options.model ?? 'silero-vad');
  const vad = await VoiceActivity.create(model.model, options);
  const name = `vad:${path.basename(model.path, path.extname(model.path))}`;
  const stream = new FrameStream(options.hopMs, name);
  return {
    name,
    accepts: ['audio'],
    async run(frame): Promise<TaskResult> {
      return stream.take(frame, async (samples, restart) => {
        if (restart) vad.reset();
        const segments = await vad.push(samples);
        return {
          findings: segments.map((s) => ({ label: 'speech', score: s.peak })),
          value: vad.speaking ? 1 : 0,
        };
      });
    },
    async close() {
      vad.reset();
      stream.reset();
    },
  };
}

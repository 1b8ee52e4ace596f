/**
 * Wake words with openWakeWord's models: melspectrogram → speech embedding →
 * one small classifier per word, streamed the way openWakeWord's Python does.
 *
 * Framing (16 kHz, 16-bit samples given as their integer values, not scaled):
 *  1. audio is taken in chunks of 1280 samples (80 ms);
 *  2. for each chunk the mel model sees that chunk plus the 480 samples before it
 *     (1760 samples → 8 frames of 32 mel bins; 25 ms window, 10 ms hop), and each
 *     value becomes x / 10 + 2 (openWakeWord's rescaling to the embedding's range);
 *     the mel buffer starts as 76 frames of ones;
 *  3. the embedding model sees the last 76 mel frames ([1, 76, 32, 1], 775 ms) and
 *     gives 96 values: one embedding per chunk;
 *  4. each word's classifier sees the last 16 embeddings ([1, 16, 96], 1.28 s; weather
 *     takes 22, read from the model's input shape) and
 *     gives a score in 0..1. As in openWakeWord, the first 5 scores are reported
 *     as 0 while the buffers fill.
 * openWakeWord starts its embedding buffer from 4 s of random noise; we use 4 s of
 * noise from a fixed-seed generator (same range, ±1000), so runs repeat exactly.
 */
import { CloudlessError, Tensor } from '../../ir/index.js';
import type { Task, TaskResult } from '../types.js';
import { load } from '../../runtime/load.js';
import type { BackendChoice, Session } from '../../runtime/session.js';
import { getModel, modelNames } from '../../zoo/manifest.js';
import { resolveModel } from '../../zoo/resolve.js';
import type { StoreOptions } from '../../zoo/store.js';

export const WAKE_CHUNK = 1280;
const MEL_CONTEXT = 480;
const MEL_WINDOW = 76;
const EMBED_WINDOW = 16;
const WARMUP_SCORES = 5;

export interface WakeWordOptions {
  /** Score at or above which a word counts as heard (default 0.5, openWakeWord's). */
  threshold?: number;
  backend?: BackendChoice;
  store?: StoreOptions;
}

export interface WakeScores {
  /** End of the 80 ms chunk, in ms from the first sample pushed. */
  timeMs: number;
  scores: Record<string, number>;
}

/** Runs one model on one float input; the models here have one input and one output. */
type Runner = (input: Float32Array, shape: number[]) => Float32Array;

function sessionRunner(s: Session): Runner {
  const name = s.inputs[0]!.name;
  const out = s.outputs[0]!.name;
  return (input, shape) => {
    const r = s.runSync({ [name]: new Tensor('float32', shape, input) });
    return Float32Array.from(r[out]!.data as Float32Array);
  };
}

/** A streaming wake-word detector for one or more words of the zoo. */
export class WakeWordDetector {
  private readonly raw = new Float32Array(WAKE_CHUNK + MEL_CONTEXT);
  private pending: number[] = [];
  private readonly mel: Float32Array[] = [];
  private readonly embeddings: Float32Array[] = [];
  private chunks = 0;
  /** Embeddings kept: the longest window a word's classifier takes (16, or 22 for weather). */
  private readonly keep: number;
  readonly threshold: number;

  private constructor(private readonly melRun: Runner, private readonly embedRun: Runner,
    private readonly words: { name: string; run: Runner; frames?: number }[], threshold: number) {
    this.threshold = threshold;
    this.keep = Math.max(EMBED_WINDOW, ...words.map((w) => w.frames ?? EMBED_WINDOW));
    for (let i = 0; i < MEL_WINDOW; i++) this.mel.push(new Float32Array(32).fill(1));
    this.seedEmbeddings();
  }

  /** Loads the front end and the words' classifiers (sha256-checked zoo files). */
  static async create(words: readonly string[], opts: WakeWordOptions = {}): Promise<WakeWordDetector> {
    if (words.length === 0) throw new CloudlessError('E_CONFIG', 'wake words: name at least one word');
    const known = modelNames().filter((n) => getModel(n).task === 'wake-word');
    for (const w of words) {
      if (!known.includes(w)) {
        throw new CloudlessError('E_CONFIG', `wake word "${w}" is not in the zoo`, { hint: `wake words in the zoo: ${known.join(', ')}` });
      }
    }
    const session = async (name: string): Promise<Session> => load((await resolveModel(name, opts.store)).path, { backend: opts.backend });
    const open = async (name: string): Promise<Runner> => sessionRunner(await session(name));
    const word = async (w: string) => {
      const s = await session(w);
      const frames = Number(s.inputs[0]!.shape[1]);
      return { name: w, run: sessionRunner(s), frames: Number.isInteger(frames) && frames > 0 ? frames : EMBED_WINDOW };
    };
    const threshold = opts.threshold ?? 0.5;
    if (!(threshold > 0 && threshold <= 1)) throw new CloudlessError('E_CONFIG', `wake words: threshold must be in (0, 1], got ${threshold}`);
    return new WakeWordDetector(await open('oww-melspectrogram'), await open('oww-embedding'),
      await Promise.all(words.map(word)), threshold);
  }

  /** For tests and other runtimes: the same streaming over caller-supplied model runners. */
  static fromRunners(mel: Runner, embed: Runner, words: { name: string; run: Runner; frames?: number }[], threshold = 0.5): WakeWordDetector {
    return new WakeWordDetector(mel, embed, words, threshold);
  }

  get wordNames(): string[] { return this.words.map((w) => w.name); }

  /** 80 ms chunks run through the models so far. */
  get chunksRun(): number { return this.chunks; }

  /**
   * How many chunks a score depends on: the classifier's embeddings, the mel
   * frames of the first of them (76 frames, 9.5 chunks) and the 480 samples of
   * mel context before those. Fed this many chunks of a stream, the detector's
   * next score equals the one a detector fed the whole stream gives.
   */
  get contextChunks(): number { return this.keep + Math.ceil(MEL_WINDOW / 8) + 1; }

  /** Forgets the samples of an unfinished chunk (a VAD gate closing mid-chunk). */
  dropPending(): void { this.pending.fill(0); this.pending = []; }

  private seedEmbeddings(): void {
    // 4 s of noise in ±1000 from a fixed LCG, embedded 76 mel frames at a time as openWakeWord does.
    let seed = 12345;
    const noise = new Float32Array(16000 * 4);
    for (let i = 0; i < noise.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      noise[i] = (seed % 2000) - 1000;
    }
    const frames = this.melFrames(noise);
    for (let end = MEL_WINDOW; end <= frames.length; end += 8) {
      this.embeddings.push(this.embed(frames.slice(end - MEL_WINDOW, end)));
    }
    while (this.embeddings.length > this.keep) this.embeddings.shift();
  }

  /** Mel frames of `samples`, rescaled x / 10 + 2. */
  private melFrames(samples: Float32Array): Float32Array[] {
    const out = this.melRun(samples, [1, samples.length]);
    const n = out.length / 32;
    const frames: Float32Array[] = [];
    for (let f = 0; f < n; f++) frames.push(out.subarray(f * 32, f * 32 + 32).map((x) => x / 10 + 2));
    return frames;
  }

  private embed(frames: readonly Float32Array[]): Float32Array {
    const x = new Float32Array(MEL_WINDOW * 32);
    frames.forEach((f, i) => x.set(f, i * 32));
    return this.embedRun(x, [1, MEL_WINDOW, 32, 1]);
  }

  /** Feeds 16 kHz samples (int16 values); returns the scores of every completed 80 ms chunk. */
  push(samples: Int16Array | Float32Array): WakeScores[] {
    const results: WakeScores[] = [];
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(WAKE_CHUNK - this.pending.length, samples.length - i);
      for (let k = 0; k < take; k++) this.pending.push(samples[i + k]!);
      i += take;
      if (this.pending.length < WAKE_CHUNK) break;
      // raw = the last 480 samples before this chunk, then the chunk.
      this.raw.copyWithin(0, WAKE_CHUNK);
      this.raw.set(this.pending, MEL_CONTEXT);
      this.pending = [];
      results.push(this.step());
    }
    return results;
  }

  private step(): WakeScores {
    // The very first chunk has no 480 samples before it: openWakeWord then runs the mel on the chunk alone.
    const input = this.chunks === 0 ? this.raw.subarray(MEL_CONTEXT) : this.raw;
    for (const f of this.melFrames(Float32Array.from(input))) this.mel.push(f);
    while (this.mel.length > 10 * 97) this.mel.shift();
    this.embeddings.push(this.embed(this.mel.slice(-MEL_WINDOW)));
    while (this.embeddings.length > this.keep) this.embeddings.shift();
    this.chunks++;
    const scores: Record<string, number> = {};
    for (const w of this.words) {
      const n = w.frames ?? EMBED_WINDOW;
      if (this.chunks <= WARMUP_SCORES) { scores[w.name] = 0; continue; }
      const feats = new Float32Array(n * 96);
      this.embeddings.slice(-n).forEach((e, k) => feats.set(e, k * 96));
      scores[w.name] = w.run(feats, [1, n, 96])[0]!;
    }
    return { timeMs: (this.chunks * WAKE_CHUNK) / 16, scores };
  }
}

export interface WakeWordTaskOptions extends WakeWordOptions {
  /** Zoo names of the words (hey_jarvis, alexa, hey_mycroft, hey_rhasspy, timer, weather). */
  words: readonly string[];
  /** The audio source's hop_ms when its frames overlap. */
  hopMs?: number;
  /** Run the wake-word models only around speech found by Silero VAD (zoo silero-vad), to save CPU. */
  vadGate?: boolean;
}

/**
 * Wake words as a pipeline task: each audio frame's new samples go through the
 * detector; the result holds one finding per word whose score reached the
 * threshold within the frame (label: the zoo name, score: its peak).
 */
export async function createWakeWordTask(options: WakeWordTaskOptions): Promise<Task> {
  const { FrameStream } = await import('./pipeline-task.js');
  const { VadGatedWakeWord } = await import('./wake-gate.js');
  const open = async (): Promise<{ threshold: number; push(pcm: Float32Array): WakeScores[] | Promise<WakeScores[]> }> => {
    const d = await WakeWordDetector.create(options.words, options);
    if (!options.vadGate) return d;
    return VadGatedWakeWord.create(d, (await resolveModel('silero-vad', options.store)).model, { backend: options.backend });
  };
  let detector = await open();
  const name = `wake_word:${options.words.join(',')}`;
  const stream = new FrameStream(options.hopMs, name);
  return {
    name,
    accepts: ['audio'],
    async run(frame): Promise<TaskResult> {
      return stream.take(frame, async (samples, restart) => {
        if (restart && frame.seq !== 0) detector = await open();
        const pcm = new Float32Array(samples.length);
        for (let i = 0; i < samples.length; i++) pcm[i] = Math.round(samples[i]! * 32768);
        try {
          const peak = new Map<string, number>();
          for (const r of await detector.push(pcm)) {
            for (const [w, v] of Object.entries(r.scores)) if (v >= detector.threshold) peak.set(w, Math.max(peak.get(w) ?? 0, v));
          }
          return { findings: [...peak].map(([label, score]) => ({ label, score })) };
        } finally {
          pcm.fill(0);
        }
      });
    },
    async close() { stream.reset(); },
  };
}

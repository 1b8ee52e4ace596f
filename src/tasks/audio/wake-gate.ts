/**
 * Wake words gated by Silero VAD, to save CPU: the VAD (one small LSTM per 96 ms)
 * runs on all audio; the wake-word models (melspectrogram, embedding, classifiers
 * per 80 ms) run only on audio around speech.
 *
 * When the VAD hears speech, the detector is first fed the pre-roll: the audio
 * before it, from a chunk boundary of the stream, long enough that every buffer
 * of the detector (mel frames, embeddings) is refilled from real audio
 * (WakeWordDetector.contextChunks, plus 4 chunks for the VAD's onset latency).
 * From there its scores equal, bit for bit, those of a detector fed the whole
 * stream; scores from the pre-roll's first chunks, which depend on audio before
 * it, are not reported. The gate closes `tailMs` after the VAD's segment ends
 * (its redemption time already lies after the last speech frame); a gap shorter
 * than the pre-roll keeps the detector's stream going instead of restarting it.
 */
import type { ModelBytes } from '../../runtime/load.js';
import { type VadOptions, VoiceActivity } from './vad.js';
import { WAKE_CHUNK, type WakeScores, type WakeWordDetector } from './wakeword.js';

export interface WakeGateOptions {
  /** Chunks (80 ms) fed before the VAD's onset (default the detector's contextChunks + 4). */
  prerollChunks?: number;
  /** Keep the models running this long after a speech segment ended (default 400 ms). */
  tailMs?: number;
  vad?: VadOptions;
}

export interface WakeGateStats {
  /** 80 ms chunks in the audio so far. */
  chunks: number;
  /** Of those, the chunks the wake-word models ran on (pre-roll included). */
  chunksRun: number;
  /** Times the gate opened. */
  openings: number;
}

export class VadGatedWakeWord {
  private readonly preroll: number;
  private readonly tail: number;
  /** Recent samples (int16 values): history[i] is stream sample histStart + i. */
  private history: Float32Array;
  private histLen = 0;
  private histStart = 0;
  private total = 0;
  private open = false;
  /** Stream samples fed to the detector (its pending samples included), and the end of its last full chunk. */
  private fedPos = 0;
  private fedChunkEnd = 0;
  /** Chunks ending at or before this are not reported (they depend on audio before the pre-roll). */
  private reportFrom = 0;
  private lastSpeech = -Infinity;
  private openings = 0;
  private readonly vadFrame: number;

  constructor(readonly detector: WakeWordDetector, private readonly vad: VoiceActivity, opts: WakeGateOptions = {}) {
    this.preroll = opts.prerollChunks ?? detector.contextChunks + 4;
    if (!(Number.isInteger(this.preroll) && this.preroll >= detector.contextChunks)) {
      throw new RangeError(`wake gate: prerollChunks ${this.preroll} must be an integer of at least ${detector.contextChunks} (the detector's context)`);
    }
    this.tail = Math.round(((opts.tailMs ?? 400) * 16000) / 1000);
    this.vadFrame = opts.vad?.frameSamples ?? 1536;
    this.history = new Float32Array((this.preroll + 2) * WAKE_CHUNK + 2 * this.vadFrame);
  }

  /** The detector and a Silero VAD (`vadModel`: its .onnx path or verified bytes). */
  static async create(detector: WakeWordDetector, vadModel: string | ModelBytes, opts: WakeGateOptions & { backend?: 'auto' | 'ref' | 'wasm' } = {}): Promise<VadGatedWakeWord> {
    return new VadGatedWakeWord(detector, await VoiceActivity.create(vadModel, { ...opts.vad, backend: opts.backend }), opts);
  }

  get threshold(): number { return this.detector.threshold; }

  get stats(): WakeGateStats {
    return { chunks: Math.floor(this.total / WAKE_CHUNK), chunksRun: this.detector.chunksRun, openings: this.openings };
  }

  /** Feeds 16 kHz samples (int16 values); resolves to the scores of the chunks the models ran on, stream times. */
  async push(samples: Int16Array | Float32Array): Promise<WakeScores[]> {
    const out: WakeScores[] = [];
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(samples.length - i, this.vadFrame - (this.total % this.vadFrame));
      const piece = samples.subarray(i, i + n);
      i += n;
      this.remember(piece);
      this.total += n;
      const f = new Float32Array(n);
      for (let k = 0; k < n; k++) f[k] = piece[k]! / 32768;
      await this.vad.push(f);
      if (this.vad.speaking) this.lastSpeech = this.total;
      const want = this.total - this.lastSpeech <= this.tail;
      if (want && !this.open) this.openGate(this.total - n);
      if (this.open) this.feed(out);
      if (!want && this.open) {
        this.open = false;
        this.detector.dropPending();
        this.fedPos = this.fedChunkEnd;
      }
    }
    return out;
  }

  private openGate(onset: number): void {
    this.open = true;
    this.openings++;
    const want = Math.max(0, Math.floor(onset / WAKE_CHUNK) - this.preroll) * WAKE_CHUNK;
    // A short gap: the detector's stream continues where it stopped, its buffers still exact.
    if (this.fedChunkEnd >= want && this.fedChunkEnd > 0) return;
    const start = Math.max(want, Math.ceil(this.histStart / WAKE_CHUNK) * WAKE_CHUNK);
    this.fedPos = this.fedChunkEnd = start;
    // The first chunks of a stream that starts at 0 are the detector's own start, as exact as an ungated run.
    this.reportFrom = start === 0 ? 0 : start + (this.detector.contextChunks - 1) * WAKE_CHUNK;
  }

  private feed(out: WakeScores[]): void {
    const from = this.fedPos - this.histStart;
    const audio = this.history.subarray(from, this.histLen);
    this.fedPos = this.total;
    for (const r of this.detector.push(audio)) {
      this.fedChunkEnd += WAKE_CHUNK;
      if (this.fedChunkEnd - WAKE_CHUNK < this.reportFrom) continue;
      out.push({ timeMs: this.fedChunkEnd / 16, scores: r.scores });
    }
  }

  private remember(piece: Int16Array | Float32Array): void {
    if (this.histLen + piece.length > this.history.length) {
      // Keep what a gate opening or the open gate's next feed can still need.
      const need = Math.min(this.open ? this.total - this.fedPos : Infinity, (this.preroll + 1) * WAKE_CHUNK + this.vadFrame);
      const keep = Math.min(this.histLen, need);
      if (keep + piece.length > this.history.length) {
        const grown = new Float32Array(keep + piece.length + this.history.length);
        grown.set(this.history.subarray(this.histLen - keep, this.histLen));
        this.history.fill(0);
        this.history = grown;
      } else {
        this.history.copyWithin(0, this.histLen - keep, this.histLen);
        this.history.fill(0, keep);
      }
      this.histStart += this.histLen - keep;
      this.histLen = keep;
    }
    this.history.set(piece, this.histLen);
    this.histLen += piece.length;
  }

  /** Zeroes the audio kept for the pre-roll. */
  clear(): void {
    this.history.fill(0);
    this.histLen = 0;
  }
}

/**
 * Hearing locally: WAV decoding and resampling, the micro_speech streaming
 * front end, keyword spotting and voice activity.
 */
import { resample, StreamResampler } from './resample.js';
import { downmix, readWav, toInt16, toInt16Into, WAV_BLOCK_FRAMES, WavFile } from './wav.js';

export * from './wav.js';
export * from './resample.js';
export * from './features.js';
export * from './kws.js';
export * from './vad.js';
export * from './wakeword.js';

export interface SpeechAudio {
  /** Mono float samples at the requested rate. */
  samples: Float32Array;
  /** The same as int16 (what micro_speech's front end takes). */
  pcm16: Int16Array;
  sampleRate: number;
  /** What the file held, e.g. "48000 Hz 2ch 24-bit PCM". */
  source: string;
}

/** Reads a WAV file as mono at `rate` Hz: channels are averaged, other rates resampled. */
export function readSpeech(path: string, rate = 16000): SpeechAudio {
  const wav = readWav(path);
  const mono = downmix(wav.channels);
  const samples = resample(mono, wav.sampleRate, rate);
  return {
    samples,
    pcm16: toInt16(samples),
    sampleRate: rate,
    source: `${wav.sampleRate} Hz ${wav.channels.length}ch ${wav.encoding}`,
  };
}
export * from './pipeline-task.js';

/**
 * readSpeech() as a stream: the WAV file is read, downmixed and resampled in
 * blocks and handed out as int16 chunks of exactly `chunk` samples (the last
 * one shorter), the same samples readSpeech().pcm16 holds. Memory is a few
 * blocks whatever the file's length, work is O(samples). The chunk is reused:
 * the next one overwrites it, and it is zeroed at the end.
 */
export function* speechChunks(path: string, rate = 16000, chunk = 1600): Generator<Int16Array, SpeechStreamInfo> {
  const wav = WavFile.open(path);
  const h = wav.header;
  const resampler = h.sampleRate === rate ? undefined : new StreamResampler(h.sampleRate, rate);
  const out = new Int16Array(chunk);
  const mixBuf = h.channels > 1 ? new Float32Array(WAV_BLOCK_FRAMES) : undefined;
  let filled = 0;
  let samples = 0;
  let heldBytes = 0;
  // Appends floats to the chunk, yielding each chunk as it fills.
  const put = function* (x: Float32Array): Generator<Int16Array> {
    for (let i = 0; i < x.length;) {
      const n = Math.min(chunk - filled, x.length - i);
      toInt16Into(x.subarray(i, i + n), out, filled);
      filled += n;
      i += n;
      if (filled === chunk) { samples += chunk; filled = 0; yield out; }
    }
  };
  // Nothing is allocated per block: the reader, the mix, the resampler and the chunk reuse their buffers.
  try {
    for (const block of wav.blocks(WAV_BLOCK_FRAMES)) {
      const mono = downmix(block, mixBuf);
      const x = resampler ? resampler.pushView(mono) : mono;
      // What this stream holds at once: the block's bytes and floats, the mix, the resampler's buffers, the chunk.
      heldBytes = Math.max(heldBytes, wav.blockBytes + (mixBuf?.byteLength ?? 0) + (resampler?.heldSamples ?? 0) * 4 + out.byteLength);
      yield* put(x);
    }
    if (resampler) {
      const tail = resampler.flush();
      yield* put(tail);
      tail.fill(0);
    }
    if (filled > 0) { samples += filled; yield out.subarray(0, filled); }
  } finally {
    out.fill(0);
    mixBuf?.fill(0);
    resampler?.reset();
    wav.close();
  }
  return { sampleRate: rate, samples, heldBytes, source: `${h.sampleRate} Hz ${h.channels}ch ${h.encoding}` };
}

export interface SpeechStreamInfo {
  sampleRate: number;
  /** Samples yielded, at `sampleRate`. */
  samples: number;
  /** The most bytes of audio buffers the stream held at once (it does not grow with the file). */
  heldBytes: number;
  /** What the file held, e.g. "48000 Hz 2ch 24-bit PCM". */
  source: string;
}

/**
 * Hearing locally: WAV decoding and resampling, the micro_speech streaming
 * front end, keyword spotting and voice activity.
 */
import { resample } from './resample.js';
import { downmix, readWav, toInt16 } from './wav.js';

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

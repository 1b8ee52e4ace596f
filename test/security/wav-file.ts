/**
 * Writes long WAV files piece by piece (the test process never holds the
 * whole file) and crafts headers: for the streaming-audio regression tests,
 * the wav fuzzer and scripts/listen-memory.ts.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export interface WavSpec {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  /** The data chunk's declared size (default: the real one). */
  dataSize?: number;
}

/** A 44-byte canonical header. */
export function wavHeader(spec: WavSpec, dataBytes: number): Uint8Array {
  const { format = 1, channels = 1, rate = 16000, bits = 16 } = spec;
  const buf = new Uint8Array(44);
  const v = new DataView(buf.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) buf[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, (36 + dataBytes) >>> 0, true); put(8, 'WAVE');
  put(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, format, true); v.setUint16(22, channels, true);
  v.setUint32(24, rate >>> 0, true); v.setUint32(28, ((rate * channels * bits) / 8) >>> 0, true);
  v.setUint16(32, (channels * bits) / 8, true); v.setUint16(34, bits, true);
  put(36, 'data'); v.setUint32(40, (spec.dataSize ?? dataBytes) >>> 0, true);
  return buf;
}

/**
 * Writes `seconds` of 16-bit PCM noise (a fixed LCG, amplitude ±amp) at
 * `rate` with `channels` channels to `file`, 1 s at a time.
 */
export function writeNoiseWav(file: string, seconds: number, rate: number, channels: number, amp = 3000): number {
  const frames = Math.round(seconds * rate);
  const dataBytes = frames * channels * 2;
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, wavHeader({ rate, channels }, dataBytes));
    const block = new Int16Array(rate * channels);
    let seed = 12345;
    for (let done = 0; done < frames;) {
      const n = Math.min(rate, frames - done);
      for (let i = 0; i < n * channels; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        block[i] = ((seed >>> 16) % (2 * amp + 1)) - amp;
      }
      writeSync(fd, new Uint8Array(block.buffer, 0, n * channels * 2));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return 44 + dataBytes;
}

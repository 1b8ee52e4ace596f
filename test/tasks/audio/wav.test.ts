import { describe, expect, it } from 'vitest';
import { CloudlessError } from '../../../src/ir/index.js';
import { decodeWav, downmix, encodeWav16, resample, toInt16 } from '../../../src/tasks/audio/index.js';

function wav(opts: { format?: number; channels?: number; rate?: number; bits?: number; data: Uint8Array; dataSize?: number }): Uint8Array {
  const { format = 1, channels = 1, rate = 16000, bits = 16, data } = opts;
  const buf = new Uint8Array(44 + data.length);
  const v = new DataView(buf.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) buf[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, 36 + data.length, true); put(8, 'WAVE');
  put(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, format, true); v.setUint16(22, channels, true);
  v.setUint32(24, rate, true); v.setUint32(28, (rate * channels * bits) / 8, true); v.setUint16(32, (channels * bits) / 8, true); v.setUint16(34, bits, true);
  put(36, 'data'); v.setUint32(40, opts.dataSize ?? data.length, true);
  buf.set(data, 44);
  return buf;
}

function audioError(fn: () => unknown): CloudlessError {
  try { fn(); } catch (err) { if (err instanceof CloudlessError) return err; throw err; }
  throw new Error('expected an error');
}

describe('wav', () => {
  it('round-trips 16-bit PCM exactly', () => {
    const pcm = Int16Array.of(0, 1, -1, 32767, -32768, 1234);
    const a = decodeWav(encodeWav16(pcm, 16000));
    expect(a.sampleRate).toBe(16000);
    expect(Array.from(toInt16(a.channels[0]!))).toEqual(Array.from(pcm));
  });

  it('reads 8-bit unsigned, 24-bit and float stereo, and downmixes', () => {
    expect(Array.from(decodeWav(wav({ bits: 8, data: Uint8Array.of(128, 255, 0) })).channels[0]!)).toEqual([0, 127 / 128, -1]);
    const d24 = decodeWav(wav({ bits: 24, data: Uint8Array.of(0, 0, 0x40, 0, 0, 0xc0) })).channels[0]!;
    expect(Array.from(d24)).toEqual([0.5, -0.5]);
    const f = new Float32Array([0.5, -0.25, 2, Number.NaN]);
    const st = decodeWav(wav({ format: 3, bits: 32, channels: 2, data: new Uint8Array(f.buffer) }));
    expect(st.channels.map((c) => Array.from(c))).toEqual([[0.5, 1], [-0.25, 0]]);
    expect(Array.from(downmix(st.channels))).toEqual([0.125, 0.5]);
  });

  it('names the file and the fault for truncated, lying and foreign files', () => {
    const data = new Uint8Array(100);
    const truncated = audioError(() => decodeWav(wav({ data, dataSize: 1000 }), 'cut.wav'));
    expect(truncated.code).toBe('E_AUDIO');
    expect(truncated.message).toMatch(/cut\.wav: truncated: the header declares 1000 bytes/);
    expect(audioError(() => decodeWav(wav({ data: new Uint8Array(3) }), 'odd.wav')).message).toMatch(/odd\.wav: truncated/);
    expect(audioError(() => decodeWav(wav({ format: 2, bits: 4, data }), 'adpcm.wav')).message).toMatch(/unsupported encoding/);
    expect(audioError(() => decodeWav(new TextEncoder().encode('ID3 not a wav at all'), 'song.mp3')).message).toMatch(/song\.mp3: not a WAV/);
    expect(audioError(() => decodeWav(wav({ rate: 0, data }), 'zero.wav')).message).toMatch(/sample rate/);
  });

  it('accepts the unknown-length data size of streaming writers', () => {
    expect(decodeWav(wav({ data: new Uint8Array(8), dataSize: 0xffffffff })).channels[0]!.length).toBe(4);
  });
});

describe('resample', () => {
  it('keeps a 1 kHz tone and removes a 10 kHz one going from 48 kHz to 16 kHz', () => {
    const n = 4800;
    const tone = (f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / 48000));
    const rms = (x: Float32Array) => Math.sqrt(x.slice(200, -200).reduce((a, v) => a + v * v, 0) / (x.length - 400));
    const low = resample(tone(1000), 48000, 16000);
    expect(low.length).toBe(1600);
    expect(rms(low)).toBeGreaterThan(0.69);
    expect(rms(resample(tone(10000), 48000, 16000))).toBeLessThan(0.02);
  });
});

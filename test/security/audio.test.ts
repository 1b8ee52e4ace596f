/**
 * Finding 5 of issue 21: `listen` was unbounded. It read the whole wav into
 * memory (peak ~4x the file) and a 32 KB wav whose header said 1 Hz took
 * 316 s and 1.56 GB in the resampler. Now a wav is read, downmixed and
 * resampled in blocks (memory independent of the file's length: checked by
 * counting the bytes the stream holds and the process's array-buffer bytes,
 * not by timing), the stream gives readSpeech()'s samples exactly, and rates
 * outside 8..384 kHz are refused with E_AUDIO naming the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runListen } from '../../src/cli/listen.js';
import { CloudlessError } from '../../src/ir/index.js';
import { parsePipelineYaml } from '../../src/pipeline/config.js';
import { decodeWav, readSpeech, speechChunks, WavFile, type SpeechStreamInfo } from '../../src/tasks/audio/index.js';
import { tflmDir } from '../helpers/data.js';
import { wavHeader, writeNoiseWav } from './wav-file.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cloudless-audio-sec-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const dir = tflmDir();

async function caught(fn: () => unknown): Promise<CloudlessError> {
  try { await fn(); } catch (err) { if (err instanceof CloudlessError) return err; throw err; }
  throw new Error('expected a CloudlessError');
}

/** Drains speechChunks, sampling the process's array-buffer bytes every `every` chunks. */
function drain(file: string, every = 100): { info: SpeechStreamInfo; peakArrayBuffers: number; baseline: number } {
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const it = speechChunks(file, 16000, 1600);
  for (let n = 0; ; n++) {
    const r = it.next();
    if (r.done) return { info: r.value, peakArrayBuffers: peak, baseline };
    if (n % every === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }
}

describe('streaming audio (issue 21, finding 5)', () => {
  it('refuses a 32 KB wav whose header says 1 Hz, naming the file and the range (listen, decodeWav, WavFile)', async () => {
    const file = path.join(tmp, 'one-hz.wav');
    const data = new Uint8Array(32 * 1024 - 44).fill(7);
    const bytes = new Uint8Array(32 * 1024);
    bytes.set(wavHeader({ rate: 1 }, data.length));
    bytes.set(data, 44);
    writeFileSync(file, bytes);
    const e = await caught(() => runListen(file, { model: 'micro_speech', vadModel: 'silero-vad', threshold: 0.8, everyMs: 200, json: true }, () => undefined));
    expect(e.code).toBe('E_AUDIO');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/sample rate 1 Hz is outside 8000\.\.384000 Hz/);
    expect(e.hint).toMatch(/telephone speech/);
    expect((await caught(() => decodeWav(bytes, 'x.wav'))).message).toMatch(/x\.wav: sample rate 1 Hz/);
    expect((await caught(() => WavFile.open(file))).code).toBe('E_AUDIO');
    const high = new Uint8Array(bytes);
    high.set(wavHeader({ rate: 400_000 }, data.length));
    expect((await caught(() => decodeWav(high, 'hi.wav'))).message).toMatch(/400000 Hz is outside/);
  }, 5000);

  it('refuses an audio source whose sample_rate is outside the range', async () => {
    const yaml = (rate: number) => `name: a\nsource: { type: audio, input: x.wav, sample_rate: ${rate} }\ntask: { type: vad }\nrules: [{ name: t, labels: [speech] }]\nsafe_state: { description: x }\n`;
    expect(parsePipelineYaml(yaml(8000), 'a.yaml').source).toMatchObject({ sample_rate: 8000 });
    const e = await caught(() => parsePipelineYaml(yaml(1), 'a.yaml'));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toMatch(/sample_rate/);
    expect(e.message).toMatch(/below 8000 Hz/);
  });

  it('gives readSpeech()\'s samples exactly, block by block, for 48 kHz stereo, 44.1 kHz 24-bit and 8 kHz 8-bit files', () => {
    const cases: { name: string; rate: number; channels: number; bits: number; frames: number }[] = [
      { name: 's48.wav', rate: 48000, channels: 2, bits: 16, frames: 48000 * 2 + 17 },
      { name: 's44.wav', rate: 44100, channels: 2, bits: 24, frames: 44100 + 333 },
      { name: 's8.wav', rate: 8000, channels: 1, bits: 8, frames: 8000 * 3 + 1 },
      { name: 's16.wav', rate: 16000, channels: 1, bits: 16, frames: 16000 + 999 },
    ];
    for (const c of cases) {
      const bytesPer = c.bits / 8;
      const data = new Uint8Array(c.frames * c.channels * bytesPer);
      let seed = 99;
      for (let i = 0; i < data.length; i++) { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; data[i] = seed >>> 24; }
      const file = path.join(tmp, c.name);
      const bytes = new Uint8Array(44 + data.length);
      bytes.set(wavHeader({ rate: c.rate, channels: c.channels, bits: c.bits }, data.length));
      bytes.set(data, 44);
      writeFileSync(file, bytes);
      const whole = readSpeech(file, 16000).pcm16;
      const streamed: number[] = [];
      const it = speechChunks(file, 16000, 1600);
      let r = it.next();
      for (; !r.done; r = it.next()) {
        expect(r.value.length === 1600 || streamed.length + r.value.length === whole.length).toBe(true);
        streamed.push(...r.value);
      }
      expect(r.value.samples, c.name).toBe(whole.length);
      expect(streamed.length, c.name).toBe(whole.length);
      expect(Int16Array.from(streamed), c.name).toEqual(whole);
    }
  });

  it('holds the same bytes for 5 minutes of 48 kHz stereo as for 10 seconds, and the process far less than the file', () => {
    const short = path.join(tmp, 'ten-s.wav'), long = path.join(tmp, 'five-min.wav');
    writeNoiseWav(short, 10, 48000, 2);
    const size = writeNoiseWav(long, 300, 48000, 2);
    const a = drain(short), b = drain(long);
    expect(b.info.samples).toBe(300 * 16000);
    expect(a.info.samples).toBe(10 * 16000);
    // Counted: block bytes and floats, mix, resampler span and output, chunk. The same whatever the length.
    expect(b.info.heldBytes).toBe(a.info.heldBytes);
    expect(b.info.heldBytes).toBeLessThan(256 * 1024);
    // Measured: the stream allocates nothing per block, so the process's array buffers stay flat
    // (about 0.1 MB) against the 57.6 MB file; the whole-file reader grew them by ~260 MB.
    expect(size).toBeGreaterThan(57_000_000);
    expect(b.peakArrayBuffers - b.baseline).toBeLessThan(4 * 1024 * 1024);
  }, 60_000);

  it.skipIf(!dir)('listen streams a wav longer than one block with the same keywords as before', async () => {
    // yes then no, 16 kHz mono, resampled to 48 kHz stereo on disk: listen must resample back and hear both.
    const yes = readSpeech(path.join(dir!, 'yes_1000ms.wav'), 48000).pcm16, no = readSpeech(path.join(dir!, 'no_1000ms.wav'), 48000).pcm16;
    const gap = new Int16Array(48000);
    const mono = new Int16Array(gap.length * 3 + yes.length + no.length);
    mono.set(yes, gap.length); mono.set(no, gap.length * 2 + yes.length);
    const stereo = new Int16Array(mono.length * 2);
    for (let i = 0; i < mono.length; i++) { stereo[2 * i] = mono[i]!; stereo[2 * i + 1] = mono[i]!; }
    const file = path.join(tmp, 'yes-no-48k.wav');
    const bytes = new Uint8Array(44 + stereo.byteLength);
    bytes.set(wavHeader({ rate: 48000, channels: 2 }, stereo.byteLength));
    bytes.set(new Uint8Array(stereo.buffer), 44);
    writeFileSync(file, bytes);
    const labels: string[] = [];
    const s = await runListen(file, { model: path.join(dir!, 'micro_speech_quantized.tflite'), vadModel: 'silero-vad', threshold: 200 / 255, everyMs: 200, json: true },
      (l) => labels.push((JSON.parse(l) as { label: string }).label));
    expect(labels).toEqual(['yes', 'no']);
    expect(s.audioSeconds).toBeCloseTo(mono.length / 48000, 3);
  });
});

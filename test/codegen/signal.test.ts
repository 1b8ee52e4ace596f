/**
 * The TFLM audio preprocessor (Signal ops, int64 tensors, a noise estimate
 * carried across invocations) compiled to C: frame sequences run through the
 * C package equal the same frames run through one engine session, bit for
 * bit, on the host (also under ASan/UBSan) and under QEMU.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Tensor, type Graph } from '../../src/ir/index.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { emitC } from '../../src/codegen/emit-graph.js';
import { buildAndRun, type VerifyTarget } from '../../src/codegen/verify.js';
import { readWav, toInt16 } from '../../src/tasks/audio/wav.js';
import { FRAME_HOP, FRAME_LENGTH, engineFrames, framesOf } from './signal-frames.js';

const TFLM = new URL('../../../shared/models/tflm/', import.meta.url).pathname;
const PRE = `${TFLM}audio_preprocessor_int8.tflite`;
const have = existsSync(PRE);
const slow = !!process.env.CLOUDLESS_SLOW;

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

  const targets: VerifyTarget[] = slow ? ['cortex-m4', 'cortex-m0plus'] : ['cortex-m4'];
  for (const on of targets) {
    it(`yes_1000ms.wav on ${on} under QEMU: bit-exact over 49 frames`, async () => {
      const { pkg, got } = await expectFramesSame(await readModel(PRE), wav('yes'), on);
      expect(got.size!.bss).toBeGreaterThanOrEqual(pkg.arenaBytes + (pkg.stateBytes ?? 0));
      console.log(`audio_preprocessor_int8 on ${on}: text ${got.size!.text} B, data ${got.size!.data} B, bss ${got.size!.bss} B, stack ${got.stackBytes} B (arena ${pkg.arenaBytes}, state ${pkg.stateBytes}, scratch ${pkg.scratchBytes})`);
    }, 300_000);
  }
  it.skipIf(slow)('the preprocessor on cortex-m0plus runs with CLOUDLESS_SLOW=1', () => undefined);

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

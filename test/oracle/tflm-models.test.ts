/**
 * TensorFlow Lite Micro's example models (../shared/models/tflm) in both int8
 * arithmetics and on backends 'ref' and 'auto':
 * - person_detect classifies person.bmp and no_person.bmp as TFLM's
 *   person_detection_test.cc expects;
 * - hello_world int8 and float follow sin(x);
 * - every output LiteRT.js can compute as well is bit-exact in tflite-xnnpack
 *   mode. LiteRT.js refuses person_detect.tflite as shipped (out-of-range
 *   quantized_dimension on rank-1 biases) and cannot feed hello_world's dynamic
 *   batch, so those run in LiteRT.js as written back by our writer (static
 *   shapes, in-range dimensions; same weights and quantization);
 * - session.memory of person_detect and micro_speech, against the arena sizes
 *   TFLM's own tests give these models (printed for the report).
 *
 * The BMP bytes: TFLM's generate_cc_arrays.py turns each test BMP into a C
 * array with PIL's Image.tobytes() (rows top to bottom, one unsigned byte per
 * pixel), and person_detection_test.cc memcpy()s that array into the int8 input
 * tensor. So the input is the BMP's pixel rows flipped from the file's
 * bottom-up order, each byte reinterpreted as int8.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, type Graph, type Int8Arithmetic } from '../../src/ir/index.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Session, type BackendChoice } from '../../src/runtime/session.js';
import { runLiteRt } from '../helpers/litert.js';

const TFLM = path.resolve(__dirname, '../../../shared/models/tflm');
const haveTflm = existsSync(TFLM);
if (!haveTflm) console.warn(`skipping the TFLM example models: ${TFLM} is absent`);

const modes: Int8Arithmetic[] = ['tflite-reference', 'tflite-xnnpack'];
const backends: BackendChoice[] = ['ref', 'auto'];

/** TFLM's published arena sizes for the example models (bytes), with their source. */
const TFLM_ARENA = {
  person_detect: { bytes: 136 * 1024, source: 'tflite-micro examples/person_detection/person_detection_test.cc: tensor_arena_size = 136 * 1024 (352 KiB on Xtensa Vision P6)' },
  micro_speech: {
    bytes: 28584,
    source: 'tflite-micro examples/micro_speech/micro_speech_test.cc: kArenaSize = 28584, the larger arena_used_bytes() of the AudioPreprocessor and MicroSpeech models',
  },
};

const memory: string[] = [];

function load(file: string): Graph {
  return importTflite(readFileSync(path.join(TFLM, file)), file);
}

function bmpAsInt8(file: string): Tensor {
  const b = readFileSync(path.join(TFLM, file));
  const dataOffset = b.readUInt32LE(10), width = b.readInt32LE(18), height = b.readInt32LE(22), bits = b.readUInt16LE(28);
  expect(bits, `${file} is an 8-bit BMP`).toBe(8);
  // A positive height means bottom-up rows; each row is padded to 4 bytes.
  const rowBytes = Math.ceil(width / 4) * 4;
  const t = new Tensor('int8', [1, Math.abs(height), width, 1]);
  const d = t.data as Int8Array;
  for (let y = 0; y < Math.abs(height); y++) {
    const src = dataOffset + (height > 0 ? height - 1 - y : y) * rowBytes;
    for (let x = 0; x < width; x++) d[y * width + x] = (b[src + x]! << 24) >> 24;
  }
  return t;
}

function run(g: Graph, feeds: Record<string, Tensor>, backend: BackendChoice, int8Arithmetic: Int8Arithmetic): Tensor {
  const out = new Session(g, { backend, int8Arithmetic }).runSync(feeds);
  return out[g.outputs[0]!]!.clone();
}

const bytes = (t: Tensor) => [...(t.data as Int8Array)];

describe.skipIf(!haveTflm)('TFLM example models', () => {
  afterAll(() => { if (memory.length) console.log(`session.memory vs TFLM:\n  ${memory.join('\n  ')}`); });

  it('person_detect: person.bmp scores person, no_person.bmp scores no person, in both modes and on ref and auto', async () => {
    const g = load('person_detect.tflite');
    const input = g.inputs[0]!;
    const images = { person: bmpAsInt8('person.bmp'), noPerson: bmpAsInt8('no_person.bmp') };
    const written = writeTflite(g);
    const litert = {
      person: (await runLiteRt(written, [images.person]))[0]!,
      noPerson: (await runLiteRt(written, [images.noPerson]))[0]!,
    };
    // Output [no_person, person] (TFLM's kNotAPersonIndex = 0, kPersonIndex = 1).
    for (const mode of modes) {
      for (const backend of backends) {
        const p = bytes(run(g, { [input]: images.person }, backend, mode));
        const n = bytes(run(g, { [input]: images.noPerson }, backend, mode));
        expect(p[1]!, `${mode}/${backend} person.bmp ${p}`).toBeGreaterThan(p[0]!);
        expect(n[0]!, `${mode}/${backend} no_person.bmp ${n}`).toBeGreaterThan(n[1]!);
        if (mode === 'tflite-xnnpack') {
          expect(p, `person.bmp vs LiteRT.js (${backend})`).toEqual(bytes(litert.person));
          expect(n, `no_person.bmp vs LiteRT.js (${backend})`).toEqual(bytes(litert.noPerson));
        }
      }
    }
    const s = new Session(g, { backend: 'ref', inputShapes: { [input]: [1, 96, 96, 1] } });
    const m = s.memory;
    expect(m.arenaBytes).toBeGreaterThan(0);
    memory.push(`person_detect: arena ${m.arenaBytes} B, scratch ${m.scratchBytes} B, weights ${m.weightBytes} B; TFLM arena ${TFLM_ARENA.person_detect.bytes} B (${TFLM_ARENA.person_detect.source})`);
    // cloudless's plan holds activations only, TFLM's arena also holds tensor metadata and scratch: ours must not be larger.
    expect(m.arenaBytes).toBeLessThanOrEqual(TFLM_ARENA.person_detect.bytes);
  });

  it('hello_world int8 and float give sin(x); int8 is bit-exact with LiteRT.js in tflite-xnnpack mode', async () => {
    const gi = load('hello_world_int8.tflite'), gf = load('hello_world_float.tflite');
    const inQ = gi.value(gi.inputs[0]!).quant!, outQ = gi.value(gi.outputs[0]!).quant!;
    const written = writeTflite(gi);
    for (let k = 0; k <= 20; k++) {
      const x = (k / 20) * 2 * Math.PI;
      const yf = (run(gf, { [gf.inputs[0]!]: Tensor.fromNumbers('float32', [1, 1], [x]) }, 'ref', 'tflite-xnnpack').data as Float32Array)[0]!;
      // TFLM's hello_world_test allows 0.05 for the float model on its checks; the model fits sin within about 0.1 over [0, 2π].
      expect(Math.abs(yf - Math.sin(x)), `float sin(${x})`).toBeLessThan(0.15);
      const q = Math.max(-128, Math.min(127, Math.round(x / inQ.scale[0]! + inQ.zeroPoint[0]!)));
      const xi = new Tensor('int8', [1, 1], Int8Array.of(q));
      const [lit] = await runLiteRt(written, [xi]);
      for (const mode of modes) {
        for (const backend of backends) {
          const y = run(gi, { [gi.inputs[0]!]: xi }, backend, mode);
          const yv = outQ.scale[0]! * ((y.data as Int8Array)[0]! - outQ.zeroPoint[0]!);
          expect(Math.abs(yv - Math.sin(x)), `int8 ${mode}/${backend} sin(${x})`).toBeLessThan(0.2);
          if (mode === 'tflite-xnnpack') expect(bytes(y), `vs LiteRT.js at q=${q} (${backend})`).toEqual(bytes(lit!));
        }
      }
    }
  });

  it('micro_speech_quantized: bit-exact with LiteRT.js on the original file in tflite-xnnpack mode; memory', async () => {
    const file = 'micro_speech_quantized.tflite';
    const g = load(file);
    const original = readFileSync(path.join(TFLM, file));
    const info = g.value(g.inputs[0]!);
    const shape = info.shape as number[];
    for (const seed of [1, 2, 3]) {
      let s = seed;
      const x = new Tensor('int8', shape);
      const d = x.data as Int8Array;
      for (let i = 0; i < d.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; d[i] = (s >>> 24) - 128; }
      const [lit] = await runLiteRt(original, [x]);
      for (const backend of backends) {
        expect(bytes(run(g, { [g.inputs[0]!]: x }, backend, 'tflite-xnnpack')), `seed ${seed} (${backend})`).toEqual(bytes(lit!));
        const r = bytes(run(g, { [g.inputs[0]!]: x }, backend, 'tflite-reference'));
        expect(r.length).toBe(bytes(lit!).length);
        bytes(lit!).forEach((v, i) => expect(Math.abs(v - r[i]!)).toBeLessThanOrEqual(2));
      }
    }
    const pre = load('audio_preprocessor_int8.tflite');
    const mSpeech = new Session(g, { backend: 'ref', inputShapes: { [g.inputs[0]!]: shape } }).memory;
    const preShape = (pre.value(pre.inputs[0]!).shape as (number | string | null)[]).map((dim) => (typeof dim === 'number' && dim > 0 ? dim : 1));
    const mPre = new Session(pre, { backend: 'ref', inputShapes: { [pre.inputs[0]!]: preShape } }).memory;
    const larger = Math.max(mSpeech.arenaBytes, mPre.arenaBytes);
    memory.push(`micro_speech: arena ${mSpeech.arenaBytes} B (audio_preprocessor_int8 ${mPre.arenaBytes} B), larger ${larger} B; TFLM arena ${TFLM_ARENA.micro_speech.bytes} B (${TFLM_ARENA.micro_speech.source})`);
    expect(larger).toBeLessThanOrEqual(TFLM_ARENA.micro_speech.bytes);
  });
});

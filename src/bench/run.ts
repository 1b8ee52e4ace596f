import { stat } from 'node:fs/promises';
import nodePath from 'node:path';
import { CloudlessError, Tensor, type DType, type Graph } from '../ir/index.js';
import { exportOnnx, type ExportOnnxOptions } from '../formats/onnx/export.js';
import { writeTflite } from '../formats/tflite/writer.js';
import { prepareForQuantization } from '../passes/quantize-prep.js';
import { Calibrator } from '../quantize/calibrate.js';
import { quantizeGraph } from '../quantize/quantize.js';
import { detectFormat, readModel } from '../runtime/load.js';
import { seededRandom } from './model-builders.js';
import {
  BENCH_BACKENDS, BackendUnavailable, readBytes, readTfjsParts,
  type BenchBackend, type BenchDtype, type BenchModel, type OnnxCandidate, type PreparedBackend,
} from './backends.js';
import { COLD_BACKENDS, coldStart, type ColdBackend } from './cold-start.js';
import { latencyStats, median, type LatencyStats } from './stats.js';

export interface BenchOptions {
  backends: string[];
  /** Variants to run; default: the model's own dtype. A float model is quantized here for int8 and 16x8. */
  dtypes?: BenchDtype[];
  runs: number;
  warmup: number;
  threads: number;
  /** Stop a backend's timed runs once this much time is spent (at least 3 runs are kept). */
  budgetMs?: number;
  /** Shapes for inputs with symbolic dimensions. */
  inputShapes?: Record<string, number[]>;
  /** Random inputs the int8 variant is calibrated on (default 4). */
  calibrationSamples?: number;
  /** Backends by name (default BENCH_BACKENDS). */
  registry?: Record<string, BenchBackend>;
  /**
   * Also measure each backend's cold start (load to first output) in a fresh
   * child process, after the timed runs (see cold-start.ts).
   */
  coldStart?: boolean;
  /** The Node binary the cold-start children run (default: this one). */
  node?: string;
  /** Called before each backend starts, and after each run (warm-up included) with the steps done of all. */
  onProgress?: (p: { backend: string; dtype: BenchDtype; done: number; total: number }) => void;
}

export interface BenchResult extends Partial<LatencyStats> {
  backend: string;
  dtype: BenchDtype;
  arenaBytes?: number;
  /** Resident set size of the whole process once this backend was prepared and warmed up. */
  rssBytes?: number;
  /** Median latency over the fastest row's (1.0 for the fastest). */
  ratio?: number;
  /**
   * Median over the rounds of this backend's time over that of the backend
   * with the lowest median for the same dtype in the same round (1.0 for that
   * one): the ratio to quote on a shared machine (see pairedRatios).
   */
  pairedRatio?: number;
  /** Load to first output in a fresh process (coldStart option), wall-clock ms. */
  coldStartMs?: number;
  /** The same in CPU ms of the child process (all its threads): the figure to quote on a loaded machine. */
  coldCpuMs?: number;
  /** Its phases, CPU ms (see cold-start.ts: wasm, modules, threads, read, parse, passes, plan, pack, first; a peer's import, load, first). */
  coldPhases?: Record<string, number>;
  /** Why the cold start was not measured, when it was asked for. */
  coldError?: string;
  /** The timed runs in order; run i of every backend and dtype of the model belongs to round i. */
  samplesMs?: number[];
  note?: string;
  /** Why there is no measurement: `unavailable: ...` (peer missing), `n/a: ...` (cannot read this variant), or the failure. */
  error?: string;
}

export interface BenchReport {
  model: string;
  threads: number;
  inputShapes: Record<string, number[]>;
  results: BenchResult[];
}

/** Random inputs of the graph's declared shapes (symbolic dimensions as given or 1), from a fixed seed. */
export function benchFeeds(graph: Graph, shapes: Record<string, number[]> = {}, seed = 42): Record<string, Tensor> {
  const rand = seededRandom(seed);
  const feeds: Record<string, Tensor> = {};
  for (const name of graph.inputs) {
    const v = graph.value(name);
    const shape = shapes[name] ?? (v.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const t = new Tensor(v.dtype as DType, shape, undefined, v.quant);
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      const r = rand();
      if (d instanceof BigInt64Array) d[i] = BigInt(Math.floor(r * 4));
      else if (v.dtype === 'float32' || v.dtype === 'float64') d[i] = r * 2 - 1;
      else if (v.dtype === 'int8') d[i] = Math.floor(r * 256) - 128;
      else d[i] = Math.floor(r * 4);
    }
    feeds[name] = t;
  }
  return feeds;
}

/** 16x8 or int8 when the graph computes on quantized tensors (int16 ones make it 16x8). */
export function graphDtype(graph: Graph): BenchDtype {
  for (const v of graph.values.values()) if (v.quant && v.dtype === 'int16') return '16x8';
  for (const v of graph.values.values()) if (v.quant && v.dtype === 'int8') return 'int8';
  return 'float32';
}

/** The same feeds keyed by another graph's input names, matched by position (the writers keep the input order). */
function feedsFor(graph: Graph, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const values = Object.values(feeds);
  return Object.fromEntries(graph.inputs.map((n, i) => [n, values[i]!]));
}

/**
 * int8 graphs go to onnxruntime as QDQ with uint8 activations and weights
 * (the same real numbers as our int8 ones), the form its x86 kernels take:
 * it then fuses every conv, gemm and add into QLinear kernels, where int8
 * activations leave residual blocks unfused and uint8 activations with int8
 * weights saturate on x86 CPUs without VNNI (see exportOnnx's options).
 */
const ONNX_INT8: ExportOnnxOptions = { activations: 'uint8', weights: 'uint8' };

/** The graph as cloudless exports it to ONNX, built on first call. */
function exportedOnnx(graph: Graph, inputShapes: Record<string, number[]>, note: string): () => OnnxCandidate {
  let candidate: OnnxCandidate | undefined;
  return () => (candidate ??= {
    bytes: exportOnnx(graph, { inputShapes, ...(graphDtype(graph) === 'int8' ? ONNX_INT8 : {}) }),
    note,
  });
}

/**
 * Post-training int8 of a float model with the project's quantizer, calibrated
 * on seeded random inputs (a latency benchmark needs plausible ranges, not
 * accuracy). cloudless runs the quantized graph, LiteRT.js the .tflite and
 * onnxruntime the ONNX written from it: the same model, without a second trip
 * through an importer.
 */
async function quantizedVariant(source: string, float: BenchModel, shapes: Record<string, number[]>, samples: number, dtype: 'int8' | '16x8'): Promise<BenchModel> {
  const graph = await readModel(source);
  prepareForQuantization(graph);
  const calibrator = new Calibrator(graph);
  for (let i = 0; i < samples; i++) calibrator.observe(benchFeeds(graph, shapes, 100 + i));
  const q = quantizeGraph(graph, calibrator.result(), { activations: dtype === '16x8' ? 'int16' : 'int8' });
  let bytes: Uint8Array | undefined;
  const written = () => (bytes ??= writeTflite(q.graph, { description: `${dtype} of ${nodePath.basename(source)} by cloudless bench`, inputShapes: shapes }));
  return {
    path: source, format: float.format, dtype, graph: q.graph, feeds: feedsFor(q.graph, float.feeds),
    tflite: () => [{ bytes: written(), note: 'quantized by cloudless' }],
    get source() { return { bytes: written(), ext: '.tflite' }; },
    onnx: exportedOnnx(q.graph, shapes, 'quantized and exported (QDQ) by cloudless'),
  };
}

interface Variants {
  inputShapes: Record<string, number[]>;
  models: Map<BenchDtype, BenchModel | Error>;
}

/** Reads the model once and builds each dtype variant asked for; a variant that cannot be built holds the reason. */
export async function loadVariants(source: string, dtypes: readonly BenchDtype[] | undefined, opts: Pick<BenchOptions, 'inputShapes' | 'calibrationSamples'> = {}): Promise<Variants> {
  const isDir = (await stat(source).catch(() => undefined))?.isDirectory() ?? false;
  const file = isDir ? nodePath.join(source, 'model.json') : source;
  const bytes = await readBytes(file);
  const format = detectFormat(bytes, file);
  const graph = await readModel(file);
  const own = graphDtype(graph);
  const feeds = benchFeeds(graph, opts.inputShapes);
  const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.shape]]));
  let written: Uint8Array | undefined;
  const rewritten = () => (written ??= writeTflite(graph, { inputShapes }));
  const base: BenchModel = {
    path: source, format, dtype: own, graph, feeds, source: { file },
    onnx: format === 'onnx' ? () => ({ bytes }) : exportedOnnx(graph, inputShapes, `exported from ${format} by cloudless`),
    tfjs: format === 'tfjs' ? await readTfjsParts(file) : undefined,
    tflite: () => format === 'tflite'
      ? [{ bytes }, { bytes: rewritten(), note: 'as written back by cloudless (the file as given was refused)' }]
      : [{ bytes: rewritten(), note: `converted from ${format} by cloudless` }],
  };
  const models = new Map<BenchDtype, BenchModel | Error>();
  for (const dtype of dtypes ?? [own]) {
    if (dtype === own) models.set(dtype, base);
    else if (own !== 'float32') models.set(dtype, new Error(`n/a: the model is ${own}; there is no ${dtype} variant of it`));
    else if (dtype !== 'float32') {
      try {
        models.set(dtype, await quantizedVariant(file, base, inputShapes, opts.calibrationSamples ?? 4, dtype));
      } catch (err) {
        models.set(dtype, new Error(`quantization failed: ${(err as Error).message.split('\n')[0]}`));
      }
    }
  }
  return { inputShapes, models };
}

function failure(err: unknown): string {
  const msg = err instanceof BackendUnavailable
    ? `${err.reason === 'missing' ? 'unavailable' : 'n/a'}: ${err.message}`
    : err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!;
}

interface Contender {
  name: string;
  dtype: BenchDtype;
  prepared: PreparedBackend;
  rssBytes: number;
  samples: number[];
  spentMs: number;
  finished: boolean;
  error?: string;
}

/** Median over the rounds both ran of a's time over b's (undefined with fewer than 3 shared rounds). */
export function pairedRatio(a: readonly number[], b: readonly number[]): number | undefined {
  const n = Math.min(a.length, b.length);
  return n < 3 ? undefined : median(Array.from({ length: n }, (_, i) => a[i]! / b[i]!));
}

/**
 * Each contender's time over the time of the one with the lowest median, run
 * by run within the same round (rounds interleave the backends), the median
 * of those ratios: a slow spell of a shared machine lengthens both runs of a
 * round and cancels out, where a ratio of medians keeps whichever backend the
 * spell happened to hit more. Contenders with fewer than 3 runs are left out.
 */
function pairedRatios(contenders: Contender[]): Map<Contender, number> {
  const timed = contenders.filter((c) => !c.error && c.samples.length >= 3);
  const out = new Map<Contender, number>();
  if (timed.length === 0) return out;
  const medians = timed.map((c) => median(c.samples));
  const base = timed[medians.indexOf(Math.min(...medians))]!;
  for (const c of timed) {
    const r = pairedRatio(c.samples, base.samples);
    if (r !== undefined) out.set(c, r);
  }
  return out;
}

/**
 * Runs one model through each backend and dtype variant, in this process:
 * every one is prepared and warmed up, then the timed runs are interleaved in
 * rounds (one run of each per round), so that a change in the machine's load
 * during the benchmark hits every backend alike. `ratio` is to the fastest
 * median; `pairedRatio` (per round, see pairedRatios) is the figure to quote
 * on a shared, noisy machine.
 */
export async function benchModel(source: string, opts: BenchOptions): Promise<BenchReport> {
  const registry = opts.registry ?? BENCH_BACKENDS;
  for (const name of opts.backends) {
    if (!registry[name]) {
      throw new CloudlessError('E_CONFIG', `unknown backend "${name}"`, { hint: `backends: ${Object.keys(registry).join(', ')}` });
    }
  }
  const { inputShapes, models } = await loadVariants(source, opts.dtypes, opts);
  const budget = opts.budgetMs ?? Infinity;
  const total = models.size * opts.backends.length * (opts.warmup + opts.runs);
  let done = 0;
  const tick = (backend: string, dtype: BenchDtype, steps = 1) => {
    done += steps;
    opts.onProgress?.({ backend, dtype, done, total });
  };
  const results: BenchResult[] = [];
  // Every variant and backend is prepared and warmed up first, then the timed runs go round by round over all
  // of them, so round i of float32 and of int8 share the machine's state too (the int8 speed-up pairs as well).
  const errors = new Map<string, string>();
  const contenders: Contender[] = [];
  const key = (dtype: BenchDtype, name: string) => `${dtype}/${name}`;
  try {
    for (const [dtype, model] of models) {
      for (const name of opts.backends) {
        tick(name, dtype, 0);
        if (model instanceof Error) {
          errors.set(key(dtype, name), model.message);
          tick(name, dtype, opts.warmup + opts.runs);
          continue;
        }
        let prepared: PreparedBackend | undefined;
        let warmed = 0;
        try {
          prepared = await registry[name]!.prepare(model, opts.threads);
          for (; warmed < opts.warmup; warmed++) {
            await prepared.run();
            tick(name, dtype);
          }
          contenders.push({ name, dtype, prepared, rssBytes: process.memoryUsage().rss, samples: [], spentMs: 0, finished: false });
        } catch (err) {
          errors.set(key(dtype, name), failure(err));
          await prepared?.dispose?.();
          tick(name, dtype, opts.warmup - warmed + opts.runs);
        }
      }
    }
    for (let round = 0; round < opts.runs; round++) {
      for (const c of contenders) {
        if (c.finished) continue;
        try {
          const t0 = performance.now();
          await c.prepared.run();
          const dt = performance.now() - t0;
          c.samples.push(dt);
          c.spentMs += dt;
          tick(c.name, c.dtype);
          if (c.spentMs > budget && c.samples.length >= 3) {
            c.finished = true;
            tick(c.name, c.dtype, opts.runs - c.samples.length);
          }
        } catch (err) {
          c.error = failure(err);
          c.finished = true;
          tick(c.name, c.dtype, opts.runs - c.samples.length);
        }
      }
    }
  } finally {
    for (const c of contenders) await c.prepared.dispose?.();
  }
  // Cold starts, one child process each, once this process holds no model any more.
  const cold = new Map<Contender, { ms?: number; cpu?: number; phases?: Record<string, number>; error?: string }>();
  if (opts.coldStart) {
    for (const c of contenders) {
      const file = c.prepared.coldFile;
      if (!(COLD_BACKENDS as readonly string[]).includes(c.name) || !file) continue;
      const model = models.get(c.dtype) as BenchModel;
      const inputs = model.graph.inputs.map((n) => [n, model.feeds[n]!] as [string, Tensor]);
      try {
        const r = await coldStart(c.name as ColdBackend, opts.threads, 'file' in file ? { file: file.file } : file, inputs, { node: opts.node });
        cold.set(c, { ms: r.totalMs, cpu: r.cpuMs, phases: r.phases });
      } catch (err) {
        cold.set(c, { error: (err as Error).message.split('\n')[0] });
      }
    }
  }
  for (const dtype of models.keys()) {
    const ofDtype = contenders.filter((c) => c.dtype === dtype);
    const paired = pairedRatios(ofDtype);
    for (const name of opts.backends) {
      const c = ofDtype.find((x) => x.name === name);
      const error = errors.get(key(dtype, name)) ?? c?.error;
      if (error !== undefined || !c) {
        results.push({ backend: name, dtype, error: error ?? 'not run' });
        continue;
      }
      results.push({
        backend: name, dtype, ...latencyStats(c.samples), arenaBytes: c.prepared.arenaBytes, rssBytes: c.rssBytes,
        ...(paired.has(c) ? { pairedRatio: paired.get(c)! } : {}), samplesMs: c.samples,
        ...(cold.get(c)?.ms !== undefined ? { coldStartMs: cold.get(c)!.ms, coldCpuMs: cold.get(c)!.cpu, coldPhases: cold.get(c)!.phases } : {}),
        ...(cold.get(c)?.error ? { coldError: cold.get(c)!.error } : {}),
        ...(c.prepared.note ? { note: c.prepared.note } : {}),
      });
    }
  }
  const fastest = Math.min(...results.map((r) => r.medianMs ?? Infinity));
  for (const r of results) if (r.medianMs !== undefined) r.ratio = r.medianMs / fastest;
  return { model: source, threads: opts.threads, inputShapes, results };
}

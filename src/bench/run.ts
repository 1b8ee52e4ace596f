import { CloudlessError, Tensor, type DType } from '../ir/index.js';
import { detectFormat, readModel } from '../runtime/load.js';
import { seededRandom } from './model-builders.js';
import { BENCH_BACKENDS, BackendUnavailable, readBytes, type BenchModel, type PreparedBackend } from './backends.js';
import { latencyStats, timeRuns, type LatencyStats } from './stats.js';

export interface BenchOptions {
  backends: string[];
  runs: number;
  warmup: number;
  threads: number;
  /** Shapes for inputs with symbolic dimensions. */
  inputShapes?: Record<string, number[]>;
  /** Called before each backend starts (for progress display). */
  onBackend?: (name: string, index: number, count: number) => void;
}

export interface BenchResult extends Partial<LatencyStats> {
  backend: string;
  dtype: string;
  arenaBytes?: number;
  rssBytes?: number;
  /** Median latency over the fastest backend's (1.0 for the fastest). */
  ratio?: number;
  error?: string;
}

export interface BenchReport {
  model: string;
  threads: number;
  inputShapes: Record<string, number[]>;
  results: BenchResult[];
}

/** Random inputs of the model's declared shapes (symbolic dimensions as given or 1), from a fixed seed. */
export function benchFeeds(model: Omit<BenchModel, 'feeds'>, shapes: Record<string, number[]> = {}): Record<string, Tensor> {
  const rand = seededRandom(42);
  const feeds: Record<string, Tensor> = {};
  for (const name of model.graph.inputs) {
    const v = model.graph.value(name);
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

/** The dtype a benchmark row is labelled with: int8 when the graph computes on quantized tensors. */
function graphDtype(model: BenchModel): string {
  for (const v of model.graph.values.values()) if (v.quant && v.dtype === 'int8') return 'int8';
  return 'float32';
}

/**
 * Runs one model through each backend in turn, in this process: warm-up, then
 * timed runs. Ratios are to the fastest median, which is the figure to quote on a
 * shared, noisy machine.
 */
export async function benchModel(path: string, opts: BenchOptions): Promise<BenchReport> {
  const bytes = await readBytes(path);
  const format = detectFormat(bytes, path);
  const graph = await readModel(path);
  const base = { path, format, bytes, graph };
  const feeds = benchFeeds(base, opts.inputShapes);
  const model: BenchModel = { ...base, feeds };
  const dtype = graphDtype(model);
  const results: BenchResult[] = [];
  for (const [i, name] of opts.backends.entries()) {
    opts.onBackend?.(name, i, opts.backends.length);
    const backend = BENCH_BACKENDS[name];
    if (!backend) {
      throw new CloudlessError('E_CONFIG', `unknown backend "${name}"`, { hint: `backends: ${Object.keys(BENCH_BACKENDS).join(', ')}` });
    }
    if (!backend.formats.includes(format)) {
      results.push({ backend: name, dtype, error: `reads ${backend.formats.join('/')}, not ${format}` });
      continue;
    }
    let prepared: PreparedBackend | undefined;
    try {
      prepared = await backend.prepare(model, opts.threads);
      const samples = await timeRuns(() => prepared!.run(), { warmup: opts.warmup, runs: opts.runs });
      results.push({ backend: name, dtype, ...latencyStats(samples), arenaBytes: prepared.arenaBytes, rssBytes: process.memoryUsage().rss });
    } catch (err) {
      const msg = err instanceof BackendUnavailable ? `unavailable: ${err.message}` : err instanceof Error ? err.message : String(err);
      results.push({ backend: name, dtype, error: msg.split('\n')[0] });
    } finally {
      await prepared?.dispose?.();
    }
  }
  const fastest = Math.min(...results.map((r) => r.medianMs ?? Infinity));
  for (const r of results) if (r.medianMs !== undefined) r.ratio = r.medianMs / fastest;
  const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.shape]]));
  return { model: path, threads: opts.threads, inputShapes, results };
}

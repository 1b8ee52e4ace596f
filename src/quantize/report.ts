/**
 * What quantization cost and bought, measured on held-out samples: each
 * output's error against the float model (cosine similarity and largest
 * absolute difference, after dequantizing), top-1 accuracy of both when labels
 * are given, and latency of both measured side by side in this process
 * (alternating runs, so a busy machine slows both alike). Model sizes come from
 * the caller, who knows the files.
 */
import { CloudlessError, type Tensor } from '../ir/index.js';
import type { Session } from '../runtime/session.js';
import type { Sample } from '../runtime/session.js';

export interface OutputError {
  name: string;
  /** Cosine similarity of float and int8 outputs: mean and worst over the samples. */
  meanCosine: number;
  minCosine: number;
  /** Largest |float − int8| over all elements and samples. */
  maxAbs: number;
}

export interface QualityReport {
  metric: 'top1-accuracy';
  samples: number;
  /** In percent. */
  float: number;
  int8: number;
}

export interface LatencyReport {
  runs: number;
  /** Median single-run latency in milliseconds. */
  floatMs: number;
  int8Ms: number;
  /** floatMs / int8Ms. */
  speedup: number;
}

export interface ComparisonReport {
  samples: number;
  outputs: OutputError[];
  quality?: QualityReport;
  latency: LatencyReport;
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

export function argMax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A tensor as float32 values (a copy): int8 outputs dequantized. */
export function asFloat(t: Tensor): Float32Array {
  return t.dtype === 'float32' && !t.quant ? (t.data as Float32Array).slice() : t.toFloat32();
}

export interface CompareOptions {
  /** Class index per sample; accuracy is the argmax of output `labelOutput` (default: the first output). */
  labels?: readonly number[];
  labelOutput?: string;
  /** Timed runs of each model (default: one per sample, at least 10, at most 200). */
  latencyRuns?: number;
  onSample?: (done: number, total: number) => void;
  /** The int8 model's feeds for a sample when they differ from the float model's (an int8 interface). */
  int8Feeds?: (s: Sample) => Record<string, Tensor>;
}

/** Runs both sessions on the samples and compares them (see the file comment). */
export function compareSessions(floatSession: Session, int8Session: Session, samples: readonly Sample[], options: CompareOptions = {}): ComparisonReport {
  if (samples.length === 0) throw new CloudlessError('E_INPUT', 'comparing float and int8 needs at least one held-out sample');
  const names = floatSession.outputs.map((o) => o.name);
  for (const n of names) {
    if (!int8Session.outputs.some((o) => o.name === n)) throw new CloudlessError('E_GRAPH', `the int8 model has no output "${n}"`);
  }
  const labelOutput = options.labelOutput ?? names[0]!;
  const acc = new Map(names.map((n) => [n, { sum: 0, min: Infinity, maxAbs: 0 }]));
  let floatCorrect = 0, int8Correct = 0;
  const int8Feeds = options.int8Feeds ?? ((s: Sample) => s.feeds);
  samples.forEach((s, k) => {
    const f = floatSession.runSync(s.feeds);
    const fOut = new Map(names.map((n) => [n, asFloat(f[n]!)]));
    const q = int8Session.runSync(int8Feeds(s));
    for (const n of names) {
      const a = fOut.get(n)!, b = asFloat(q[n]!);
      const e = acc.get(n)!;
      const c = cosineSimilarity(a, b);
      e.sum += c;
      e.min = Math.min(e.min, c);
      for (let i = 0; i < a.length; i++) e.maxAbs = Math.max(e.maxAbs, Math.abs(a[i]! - b[i]!));
      if (options.labels && n === labelOutput) {
        if (argMax(a) === options.labels[k]) floatCorrect++;
        if (argMax(b) === options.labels[k]) int8Correct++;
      }
    }
    options.onSample?.(k + 1, samples.length);
  });
  const outputs = names.map((n) => {
    const e = acc.get(n)!;
    return { name: n, meanCosine: e.sum / samples.length, minCosine: e.min, maxAbs: e.maxAbs };
  });
  const quality: QualityReport | undefined = options.labels
    ? { metric: 'top1-accuracy', samples: samples.length, float: (100 * floatCorrect) / samples.length, int8: (100 * int8Correct) / samples.length }
    : undefined;
  return { samples: samples.length, outputs, quality, latency: measureLatency(floatSession, int8Session, samples, options.latencyRuns, int8Feeds) };
}

/** Median latency of both sessions, alternating float and int8 runs after one warm-up run each. */
export function measureLatency(floatSession: Session, int8Session: Session, samples: readonly Sample[], runs?: number,
  int8Feeds: (s: Sample) => Record<string, Tensor> = (s) => s.feeds): LatencyReport {
  const n = runs ?? Math.min(200, Math.max(10, samples.length));
  const feeds = samples.map((s) => ({ float: s.feeds, int8: int8Feeds(s) }));
  floatSession.runSync(feeds[0]!.float);
  int8Session.runSync(feeds[0]!.int8);
  const tf: number[] = [], tq: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = feeds[i % feeds.length]!;
    // Swap the order every run so neither model always runs on a warm cache after the other.
    const order: [Session, Record<string, Tensor>, number[]][] = i % 2
      ? [[int8Session, f.int8, tq], [floatSession, f.float, tf]]
      : [[floatSession, f.float, tf], [int8Session, f.int8, tq]];
    for (const [s, x, times] of order) {
      const t0 = performance.now();
      s.runSync(x);
      times.push(performance.now() - t0);
    }
  }
  const floatMs = median(tf), int8Ms = median(tq);
  return { runs: n, floatMs, int8Ms, speedup: floatMs / int8Ms };
}

/**
 * Calibration: runs the float graph over sample inputs and records, for every
 * float32 activation (graph inputs and node outputs), its minimum and maximum
 * and a histogram, from which the quantizer takes each value's range.
 *
 * Every intermediate value is made a graph output of a private copy of the
 * graph, so the ordinary Session runs it with its planned kernels and hands all
 * of them back after each run (the arena then keeps them all alive, which costs
 * memory, not correctness). Values folded at plan time are constants and need
 * no range.
 *
 * Two ways to turn what was seen into a range:
 *  - `minmax`: the extremes over all samples, widened to include 0 (real 0 must
 *    be exactly representable: zero padding and ReLU depend on it);
 *  - `percentile`: the p-th and (100 − p)-th percentiles of the histogram, so a
 *    few outliers do not stretch the scale of the whole tensor.
 *
 * Each value's per-channel mean (over its last axis) is kept too: the
 * quantizer uses it to correct the bias that weight rounding adds to a layer's
 * output.
 *
 * With `weightHessians`, it also accumulates for every Conv, DepthwiseConv and
 * FullyConnected node the Hessian Σ x xᵀ of its input patches, from which the
 * quantizer can round weights by GPTQ (see gptq.ts).
 *
 * The histogram has a fixed number of bins [k·w, (k+1)·w) on both sides of 0.
 * When a sample falls outside, the bin width doubles and bins merge pairwise
 * (bin k goes to ⌊k/2⌋), which is exact: a bin edge is always a multiple of the
 * new width. So one pass over the samples is enough, whatever their order.
 */
import { CloudlessError, Graph, Tensor, shapeToString, type Int8Arithmetic, type ValueInfo } from '../ir/index.js';
import { Session, type BackendChoice } from '../runtime/session.js';
import { GPTQ_OPS, HessianAccumulator, type WeightHessian } from './gptq.js';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface CalibrationOptions {
  method?: CalibrationMethod;
  /** For `percentile`: the share of values, in percent, the range keeps on each side (default 99.99). */
  percentile?: number;
  backend?: BackendChoice;
  int8Arithmetic?: Int8Arithmetic;
  /**
   * Also accumulate each weighted node's input Hessian, for `weightRounding: 'gptq'`
   * (default false: it costs several times the float run, about five times on
   * CenterNet-512, and columns² doubles of memory per node).
   */
  weightHessians?: boolean;
}

/** Bins on each side of zero. */
const HALF_BINS = 1024;

export class RangeHistogram {
  /** counts[HALF_BINS + k] counts the values in [k·width, (k+1)·width), k in [−HALF_BINS, HALF_BINS). */
  readonly counts = new Float64Array(2 * HALF_BINS);
  width = 0;
  total = 0;

  add(data: Float32Array, absMax: number): void {
    if (this.width === 0) this.width = absMax > 0 ? absMax / (HALF_BINS - 1) : 0;
    if (this.width === 0) {
      // Every value so far is 0: count them in bin 0 until a nonzero value sets a width.
      this.counts[HALF_BINS]! += data.length;
      this.total += data.length;
      return;
    }
    while (absMax >= HALF_BINS * this.width) this.grow();
    const c = this.counts, inv = 1 / this.width;
    for (let i = 0; i < data.length; i++) {
      const k = Math.floor(data[i]! * inv);
      c[HALF_BINS + Math.min(HALF_BINS - 1, Math.max(-HALF_BINS, k))]! += 1;
    }
    this.total += data.length;
  }

  private grow(): void {
    const merged = new Float64Array(2 * HALF_BINS);
    for (let k = -HALF_BINS; k < HALF_BINS; k++) merged[HALF_BINS + Math.floor(k / 2)]! += this.counts[HALF_BINS + k]!;
    this.counts.set(merged);
    this.width *= 2;
  }

  /** The edges that keep `p` percent of the values below the upper and above the lower one. */
  percentileRange(p: number): [number, number] {
    const tail = this.total * (1 - p / 100);
    let lo = -HALF_BINS, acc = 0;
    while (lo < HALF_BINS - 1 && acc + this.counts[HALF_BINS + lo]! <= tail) acc += this.counts[HALF_BINS + lo++]!;
    let hi = HALF_BINS - 1;
    acc = 0;
    while (hi > lo && acc + this.counts[HALF_BINS + hi]! <= tail) acc += this.counts[HALF_BINS + hi--]!;
    return [lo * this.width, (hi + 1) * this.width];
  }
}

export interface ValueStats {
  name: string;
  shape: number[];
  min: number;
  max: number;
  histogram: RangeHistogram;
  /** Sum over all samples and positions of each channel (the last axis), for the quantizer's bias correction. */
  channelSum: Float64Array;
  /** How many values each channel's sum holds. */
  channelCount: number;
  /** Largest |value| of each channel, for cross-layer equalization. */
  channelAbsMax: Float64Array;
}

export interface ValueRange {
  min: number;
  max: number;
}

/** What calibration learned about a graph's float activations. */
export class CalibrationResult {
  constructor(
    readonly stats: ReadonlyMap<string, ValueStats>,
    /** dtype and shape of every graph input and node output, as planned for the calibration inputs. */
    readonly infos: ReadonlyMap<string, ValueInfo>,
    readonly samples: number,
    readonly method: CalibrationMethod,
    readonly percentile: number,
    /** Per weighted node name, the Hessian of its input patches (only with `weightHessians`). */
    readonly hessians: ReadonlyMap<string, WeightHessian> = new Map(),
  ) {}

  /** The same statistics read with another method (the histograms are always kept, so this is free). */
  withMethod(method: CalibrationMethod, percentile = this.percentile): CalibrationResult {
    return new CalibrationResult(this.stats, this.infos, this.samples, method, percentile, this.hessians);
  }

  /** The range the quantizer should cover for a value (always containing 0), or undefined if never seen. */
  range(name: string): ValueRange | undefined {
    const s = this.stats.get(name);
    if (!s) return undefined;
    let min = s.min, max = s.max;
    if (this.method === 'percentile' && s.histogram.total > 0 && s.histogram.width > 0) {
      const [lo, hi] = s.histogram.percentileRange(this.percentile);
      min = Math.max(min, lo);
      max = Math.min(max, hi);
    }
    return { min: Math.min(min, 0), max: Math.max(max, 0) };
  }

  info(name: string): ValueInfo | undefined {
    return this.infos.get(name);
  }

  /** The largest |value| of each channel (last axis) of a value over all samples, or undefined if never seen. */
  channelAbsMax(name: string): Float64Array | undefined {
    const s = this.stats.get(name);
    return s && s.channelCount > 0 ? s.channelAbsMax : undefined;
  }

  /** The mean of each channel (last axis) of a value over all samples, or undefined if never seen. */
  channelMean(name: string): Float64Array | undefined {
    const s = this.stats.get(name);
    if (!s || s.channelCount === 0) return undefined;
    return s.channelSum.map((v) => v / s.channelCount);
  }
}

/**
 * Runs samples through the float graph one at a time and accumulates the
 * statistics. Use `observe` per sample (to drive a progress bar) and `result()`
 * at the end. The first sample fixes the input shapes: the graph is planned
 * once with them to learn every intermediate value's dtype and shape (importers
 * need not declare intermediate values), then a copy of the graph that outputs
 * all of them is run.
 */
export class Calibrator {
  private session?: Session;
  private readonly stats = new Map<string, ValueStats>();
  private readonly infos = new Map<string, ValueInfo>();
  private readonly hessians: HessianAccumulator[] = [];
  private count = 0;

  constructor(private readonly graph: Graph, private readonly options: CalibrationOptions = {}) {
    const p = options.percentile ?? 99.99;
    if (!(p > 50 && p <= 100)) throw new CloudlessError('E_CONFIG', `percentile must be in (50, 100], got ${p}`);
    if (options.weightHessians) {
      for (const node of graph.nodes) {
        const w = node.inputs[1] ? graph.values.get(node.inputs[1])?.constant : undefined;
        if (GPTQ_OPS.has(node.op) && w?.dtype === 'float32') this.hessians.push(new HessianAccumulator(node, w.shape));
      }
    }
  }

  private probe(feeds: Record<string, Tensor>): Session {
    const graph = this.graph;
    const opts = { backend: this.options.backend, int8Arithmetic: this.options.int8Arithmetic };
    const inputShapes: Record<string, number[]> = {};
    for (const name of graph.inputs) if (feeds[name]) inputShapes[name] = [...feeds[name]!.shape];
    const plain = new Session(graph, { ...opts, inputShapes });
    if (!plain.currentPlan) plain.runSync(feeds);
    for (const [name, info] of plain.currentPlan!.values) {
      if (!graph.inputs.includes(name)) this.infos.set(name, { dtype: info.dtype, shape: [...info.shape] });
    }
    // Only its plan was needed: its arena goes back now rather than at garbage collection.
    plain.dispose();
    const probe = new Graph(`${graph.name}/calibration`, { ...graph.meta });
    for (const v of graph.values.values()) probe.setValue(v);
    const outs = new Set<string>();
    for (const [name, info] of this.infos) {
      if (!probe.values.has(name)) probe.setValue({ name, dtype: info.dtype, shape: info.shape });
      if (info.dtype === 'float32') outs.add(name);
    }
    for (const o of graph.outputs) outs.add(o);
    probe.nodes = graph.nodes;
    probe.inputs = [...graph.inputs];
    probe.outputs = [...outs];
    return new Session(probe, { ...opts, inputShapes });
  }

  /** Runs one sample; `label` names it in errors (e.g. the file it came from). */
  observe(feeds: Record<string, Tensor>, label = `sample ${this.count + 1}`): void {
    let out: Record<string, Tensor>;
    try {
      this.session ??= this.probe(feeds);
      out = this.session.runSync(feeds);
    } catch (err) {
      if (err instanceof CloudlessError) throw new CloudlessError(err.code, `calibration on ${label}: ${err.message}`, { hint: err.hint, node: err.node, cause: err });
      throw err;
    }
    for (const name of this.graph.inputs) {
      const t = feeds[name];
      if (!t) continue;
      if (!this.infos.has(name)) this.infos.set(name, { dtype: t.dtype, shape: [...t.shape] });
      if (t.dtype === 'float32') this.record(name, t);
    }
    for (const [name, t] of Object.entries(out)) if (t.dtype === 'float32') this.record(name, t);
    for (const h of this.hessians) {
      const name = h.node.inputs[0]!;
      const x = feeds[name] ?? out[name];
      if (x?.dtype === 'float32') h.add(x);
    }
    this.count++;
  }

  private record(name: string, t: Tensor): void {
    const d = t.data as Float32Array;
    let min = Infinity, max = -Infinity;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (d.length > 0 && !(Number.isFinite(min) && Number.isFinite(max))) {
      throw new CloudlessError('E_INPUT', `calibration: value "${name}" ${shapeToString(t.shape)} holds NaN or infinity`, {
        hint: 'check the calibration inputs and their preprocessing',
      });
    }
    let s = this.stats.get(name);
    const channels = t.rank > 0 ? t.shape[t.rank - 1]! : 1;
    if (!s) {
      s = { name, shape: [...t.shape], min, max, histogram: new RangeHistogram(), channelSum: new Float64Array(channels), channelCount: 0, channelAbsMax: new Float64Array(channels) };
      this.stats.set(name, s);
    }
    s.min = Math.min(s.min, min);
    s.max = Math.max(s.max, max);
    if (s.channelSum.length === channels && channels > 0) {
      const sum = s.channelSum, absMax = s.channelAbsMax;
      for (let i = 0; i < d.length; i += channels) {
        for (let c = 0; c < channels; c++) {
          const v = d[i + c]!;
          sum[c]! += v;
          if (Math.abs(v) > absMax[c]!) absMax[c] = Math.abs(v);
        }
      }
      s.channelCount += d.length / channels;
    }
    if (d.length > 0) s.histogram.add(d, Math.max(Math.abs(min), Math.abs(max)));
  }

  get samples(): number {
    return this.count;
  }

  result(): CalibrationResult {
    if (this.count === 0) throw new CloudlessError('E_INPUT', 'calibration needs at least one sample');
    const hessians = new Map<string, WeightHessian>();
    for (const h of this.hessians) if (h.hessian) hessians.set(h.node.name, h.hessian);
    return new CalibrationResult(this.stats, this.infos, this.count, this.options.method ?? 'minmax', this.options.percentile ?? 99.99, hessians);
  }
}

/** Calibrates over a list of samples in one call. */
export function calibrate(graph: Graph, samples: Iterable<Record<string, Tensor>>, options: CalibrationOptions = {}): CalibrationResult {
  const c = new Calibrator(graph, options);
  for (const s of samples) c.observe(s);
  return c.result();
}

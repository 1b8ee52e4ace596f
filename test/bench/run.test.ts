import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BENCH_BACKENDS, importPeer, type BenchBackend } from '../../src/bench/backends.js';
import { mobileNetV1, toOnnxBytes } from '../../src/bench/model-builders.js';
import { benchModel, loadVariants, pairedRatio, type BenchReport } from '../../src/bench/run.js';
import { CloudlessError } from '../../src/ir/index.js';
import { runCli } from '../cli/helpers.js';

let model: string;

beforeAll(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-bench-'));
  model = path.join(dir, 'tiny.onnx');
  writeFileSync(model, toOnnxBytes(mobileNetV1({ size: 32, alpha: 0.25, blocks: 2, classes: 10 })));
});

/** A peer whose package is not installed. */
const ghost: BenchBackend = {
  name: 'ghost',
  family: 'onnxruntime',
  async prepare() {
    await importPeer('cloudless-no-such-peer-package', 'npm install it');
    throw new Error('unreachable: the import above must fail');
  },
};

describe('cloudless bench', () => {
  let report: BenchReport;

  beforeAll(async () => {
    report = await benchModel(model, {
      backends: ['cloudless', 'cloudless-ref', 'onnxruntime-node', 'litert', 'tfjs-wasm', 'ghost'],
      dtypes: ['float32', 'int8'], runs: 2, warmup: 1, threads: 1, calibrationSamples: 2,
      registry: { ...BENCH_BACKENDS, ghost },
    });
  }, 60_000);

  const row = (backend: string, dtype: string) => report.results.find((r) => r.backend === backend && r.dtype === dtype)!;

  it('has one row per backend and dtype, in order', () => {
    expect(report.results.map((r) => `${r.backend}/${r.dtype}`)).toEqual([
      'cloudless/float32', 'cloudless-ref/float32', 'onnxruntime-node/float32', 'litert/float32', 'tfjs-wasm/float32', 'ghost/float32',
      'cloudless/int8', 'cloudless-ref/int8', 'onnxruntime-node/int8', 'litert/int8', 'tfjs-wasm/int8', 'ghost/int8',
    ]);
    expect(report.inputShapes).toEqual({ input: [1, 3, 32, 32] });
  });

  it('measures cloudless, onnxruntime-node and LiteRT.js on the float model', () => {
    for (const b of ['cloudless', 'cloudless-ref', 'onnxruntime-node', 'litert']) {
      const r = row(b, 'float32');
      expect(r.error, b).toBeUndefined();
      expect(r.runs).toBe(2);
      expect(r.minMs).toBeLessThanOrEqual(r.medianMs!);
      expect(r.medianMs).toBeLessThanOrEqual(r.p90Ms!);
      expect(r.fps).toBeCloseTo(1000 / r.medianMs!, 6);
      expect(r.rssBytes).toBeGreaterThan(0);
    }
    expect(row('cloudless', 'float32').arenaBytes).toBeGreaterThan(0);
    expect(row('onnxruntime-node', 'float32').arenaBytes).toBeUndefined();
    expect(row('litert', 'float32').note).toBe('converted from onnx by cloudless');
  });

  it('quantizes the float model for int8 and runs it in cloudless and LiteRT.js', () => {
    expect(row('cloudless', 'int8').error).toBeUndefined();
    expect(row('cloudless', 'int8').arenaBytes).toBeGreaterThan(0);
    expect(row('litert', 'int8').error).toBeUndefined();
    expect(row('litert', 'int8').note).toBe('quantized by cloudless');
    expect(row('onnxruntime-node', 'int8').error).toBeUndefined();
    expect(row('onnxruntime-node', 'int8').note).toBe('quantized and exported (QDQ) by cloudless');
  });

  it('reports peers that cannot read the model, or are not installed, without failing', () => {
    expect(row('tfjs-wasm', 'float32').error).toBe('n/a: tfjs-wasm reads TF.js graph models only');
    expect(row('ghost', 'float32').error).toMatch(/^unavailable: cloudless-no-such-peer-package is not installed/);
    expect(row('ghost', 'float32').medianMs).toBeUndefined();
  });

  it('gives ratios to the fastest median', () => {
    const ratios = report.results.filter((r) => r.ratio !== undefined).map((r) => r.ratio!);
    expect(Math.min(...ratios)).toBe(1);
    for (const r of report.results) if (r.medianMs !== undefined) expect(r.ratio).toBeGreaterThanOrEqual(1);
  });
});

describe('bench scheduling', () => {
  function fake(name: string, log: string[], opts: { ms?: number; failAt?: number } = {}): BenchBackend {
    return {
      name, family: 'cloudless',
      async prepare() {
        let calls = 0;
        return {
          async run() {
            calls++;
            if (calls === opts.failAt) throw new Error(`${name} broke on call ${calls}\nsecond line`);
            log.push(name);
            if (opts.ms) await new Promise((r) => setTimeout(r, opts.ms));
          },
        };
      },
    };
  }

  it('warms every backend up, then interleaves the timed runs round by round', async () => {
    const log: string[] = [];
    const progress: number[] = [];
    const r = await benchModel(model, {
      backends: ['a', 'b'], runs: 3, warmup: 1, threads: 1,
      registry: { a: fake('a', log), b: fake('b', log) },
      onProgress: (p) => { progress.push(p.done); expect(p.total).toBe(8); },
    });
    expect(log).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(r.results.map((x) => x.runs)).toEqual([3, 3]);
    expect(progress.at(-1)).toBe(8);
  });

  it('interleaves the dtype variants too: round i of float32 and of int8 run one after the other', async () => {
    const log: string[] = [];
    const tagged = (name: string): BenchBackend => ({
      name, family: 'cloudless',
      async prepare(m) { return { async run() { log.push(`${name}:${m.dtype}`); } }; },
    });
    const r = await benchModel(model, {
      backends: ['a', 'b'], dtypes: ['float32', 'int8'], runs: 2, warmup: 1, threads: 1, calibrationSamples: 1,
      registry: { a: tagged('a'), b: tagged('b') },
    });
    const round = ['a:float32', 'b:float32', 'a:int8', 'b:int8'];
    expect(log).toEqual([...round, ...round, ...round]);
    expect(r.results.map((x) => `${x.backend}:${x.dtype}:${x.runs}`)).toEqual(['a:float32:2', 'b:float32:2', 'a:int8:2', 'b:int8:2']);
  }, 30_000);

  it('stops a slow backend at its budget after 3 runs, and reports one that fails mid-way', async () => {
    const log: string[] = [];
    const r = await benchModel(model, {
      backends: ['slow', 'broken', 'quick'], runs: 6, warmup: 0, threads: 1, budgetMs: 1,
      registry: { slow: fake('slow', log, { ms: 3 }), broken: fake('broken', log, { failAt: 2 }), quick: fake('quick', log) },
    });
    expect(r.results[0]!.runs).toBe(3);
    expect(r.results[1]!.error).toBe('broken broke on call 2');
    expect(r.results[2]!.runs).toBe(6);
  });
});

describe('paired ratios', () => {
  it('take the median of per-round ratios, so a slow spell hitting both backends of a round cancels', () => {
    // b is 10 % slower every round; rounds 3-6 run 2-3x slower for both (a noisy neighbour).
    const a = [10, 10, 10, 25, 30, 28, 22, 10, 10];
    const b = a.map((x) => x * 1.1);
    expect(pairedRatio(b, a)).toBeCloseTo(1.1, 12);
    expect(pairedRatio(a, b)).toBeCloseTo(1 / 1.1, 12);
    expect(pairedRatio([1, 2], [1, 2])).toBeUndefined();
    // Only rounds both ran count (a backend stopped at its budget has fewer runs).
    expect(pairedRatio([2, 2, 2], [1, 1, 1, 9, 9])).toBe(2);
  });

  it('are reported per backend against the backend with the lowest median, with the samples', async () => {
    const r = await benchModel(model, {
      backends: ['cloudless', 'cloudless-ref'], runs: 3, warmup: 1, threads: 1,
    });
    const [wasm, ref] = r.results;
    expect(wasm!.pairedRatio).toBe(1);
    expect(ref!.pairedRatio).toBeGreaterThan(1);
    expect(wasm!.samplesMs).toHaveLength(3);
    expect(ref!.pairedRatio).toBeCloseTo(pairedRatio(ref!.samplesMs!, wasm!.samplesMs!)!, 12);
  }, 60_000);
});

describe('bench inputs and options', () => {
  it('feeds every variant the same input values', async () => {
    const v = await loadVariants(model, ['float32', 'int8'], { calibrationSamples: 1 });
    const f = v.models.get('float32'), q = v.models.get('int8');
    if (f instanceof Error || q instanceof Error || !f || !q) throw new Error('variants missing');
    expect(q.feeds.input).toBe(f.feeds.input);
    const again = await loadVariants(model, undefined);
    const g = again.models.get('float32') as typeof f;
    expect(Array.from(g.feeds.input!.data as Float32Array)).toEqual(Array.from(f.feeds.input!.data as Float32Array));
  }, 30_000);

  it('refuses an unknown backend by name', async () => {
    await expect(benchModel(model, { backends: ['cloudless', 'nope'], runs: 1, warmup: 0, threads: 1 }))
      .rejects.toThrow(CloudlessError);
  });
});

describe('cloudless bench --json', () => {
  it('prints the model and one result object per backend with the documented fields', async () => {
    const { code, stdout } = await runCli(['bench', model, '--json', '--backends', 'cloudless,onnxruntime-node', '--runs', '2', '--warmup', '0']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { model: string; results: Record<string, unknown>[] };
    expect(out.model).toBe(model);
    expect(out.results).toHaveLength(2);
    for (const r of out.results) {
      expect(r).toMatchObject({ dtype: 'float32' });
      for (const k of ['backend', 'medianMs', 'minMs', 'p90Ms', 'fps']) expect(typeof r[k], k).toMatch(/string|number/);
    }
    expect(typeof out.results[0]!.arenaBytes).toBe('number');
  }, 30_000);
});

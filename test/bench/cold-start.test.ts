import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { coldStart, outputsHash } from '../../src/bench/cold-start.js';
import { liteRtThreadsUnavailable } from '../../src/bench/litert.js';
import { mobileNetV1, toOnnxBytes } from '../../src/bench/model-builders.js';
import { benchFeeds } from '../../src/bench/run.js';
import type { Tensor } from '../../src/ir/index.js';
import { load } from '../../src/runtime/load.js';

let dir: string;
let model: string;
let inputs: [string, Tensor][];
let expected: string;

beforeAll(async () => {
  // The child runs the sources (through tsx), not a dist/ that may be older than them.
  process.env.CLOUDLESS_COLD_FROM_SRC = '1';
  dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-cold-test-'));
  model = path.join(dir, 'tiny.onnx');
  writeFileSync(model, toOnnxBytes(mobileNetV1({ size: 32, alpha: 0.25, blocks: 2, classes: 10 })));
  const session = await load(model);
  const feeds = benchFeeds(session.graph);
  inputs = session.graph.inputs.map((n) => [n, feeds[n]!]);
  const out = session.runSync(feeds);
  expected = await outputsHash(session.graph.outputs.map((n) => out[n]!));
});

describe('cold start in a child process', () => {
  it('times cloudless phase by phase and computes the outputs of a warm session', async () => {
    const r = await coldStart('cloudless', 1, { file: model }, inputs);
    expect(Object.keys(r.phases)).toEqual(['startup', 'wasm', 'modules', 'threads', 'read', 'parse', 'passes', 'plan', 'pack', 'first']);
    for (const [k, v] of Object.entries(r.phases)) expect(v, k).toBeGreaterThanOrEqual(0);
    // The phases split the CPU time to the first output, nothing more and nothing less.
    const sum = Object.values(r.phases).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(r.cpuMs, 3);
    expect(r.totalMs).toBeGreaterThan(0);
    expect(r.rssBytes).toBeGreaterThan(0);
    expect(r.outputHash).toBe(expected);
  }, 120_000);

  it('writes a model given as bytes, and times a peer', async () => {
    const { readFileSync } = await import('node:fs');
    const r = await coldStart('onnxruntime-node', 1, { bytes: new Uint8Array(readFileSync(model)), ext: '.onnx' }, inputs);
    expect(Object.keys(r.phases)).toEqual(['startup', 'import', 'load', 'first']);
    expect(Object.values(r.phases).reduce((a, b) => a + b, 0)).toBeCloseTo(r.cpuMs, 3);
  }, 120_000);

  it('reports what the child failed on', async () => {
    await expect(coldStart('cloudless', 1, { bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), ext: '.onnx' }, inputs)).rejects.toThrow(/onnx|protobuf|model/i);
  }, 120_000);

  it.skipIf(liteRtThreadsUnavailable() === undefined)('refuses LiteRT.js threads where its loader does (no relaxed SIMD), saying why', async () => {
    // Refused when LiteRT.js loads, before any model is read.
    await expect(coldStart('litert', 2, { file: model }, inputs)).rejects.toThrow(/relaxed SIMD/);
  }, 120_000);
});

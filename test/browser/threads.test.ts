/**
 * The thread pool in Chromium: a cross-origin isolated page (COOP same-origin,
 * COEP require-corp) loads the shared-memory kernels, and a session with
 * threads: 2 runs its large ops on a Web Worker (cloudless-pool-worker.js)
 * beside the page's main thread, giving the same output bytes as threads: 1
 * (and, for int8, as the Node engine). A page that is not isolated has no
 * SharedArrayBuffer: the same session runs on one thread and
 * threadsUnavailable() says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { load, readModel } from '../../src/runtime/load.js';
import { mobileNetV1, mobileNetV2, seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { type BrowserHarness, chromiumMissing, leakingRequests, startBrowser } from './harness.js';

interface PageThreads {
  isolated: boolean;
  ready: boolean;
  unavailable: string | null;
  workers: number;
  /** Ops split over the pool during the threads: 2 run. */
  parallelRuns: number;
  /** Whether threads 1 and 2 gave the same bytes on every output. */
  same: boolean;
  /** The threads: 2 outputs, as byte arrays. */
  outputs: number[][];
}

function randomInput(dtype: 'float32' | 'int8', shape: number[], seed: number, quant?: Tensor['quant']): Tensor {
  const r = seededRandom(seed);
  const t = new Tensor(dtype, shape, undefined, quant);
  for (let i = 0; i < t.size; i++) (t.data as Float32Array | Int8Array)[i] = dtype === 'int8' ? Math.floor(r() * 256) - 128 : r() * 2 - 1;
  return t;
}

/** In the page: the model at `url` with threads 1 and 2 on the same input; the pool's figures and whether the bytes agree. */
function runInPage(h: BrowserHarness, url: string, input: Tensor): Promise<PageThreads> {
  h.serve(`${url}.input`, new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength).slice());
  return h.page.evaluate(async ({ url, dtype, shape, quant }) => {
    const cl = (globalThis as any).cl;
    const status = await (globalThis as any).clReady;
    const raw = await (await fetch(`${url}.input`)).arrayBuffer();
    const x = new cl.Tensor(dtype, shape, dtype === 'int8' ? new Int8Array(raw) : new Float32Array(raw));
    if (quant) x.quant = cl.perTensorQuant(quant[0], quant[1]);
    const bytesOf = (t: any) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const outputsOf = (threads: number) => cl.loadModel(url, { threads }).then((s: any) => {
      const got = s.runSync({ [s.inputs[0].name]: x });
      return Object.keys(got).sort().map((k) => bytesOf(got[k]));
    });
    const one = await outputsOf(1);
    const before = cl.threadStats().parallelRuns;
    const two = await outputsOf(2);
    const same = one.length === two.length && one.every((o: number[], i: number) => o.length === two[i].length && o.every((b, j) => b === two[i][j]));
    return {
      isolated: (globalThis as any).crossOriginIsolated === true, ready: status.ready, unavailable: cl.threadsUnavailable() ?? null,
      workers: cl.threadStats().workers, parallelRuns: cl.threadStats().parallelRuns - before, same, outputs: two,
    };
  }, { url, dtype: input.dtype, shape: [...input.shape], quant: input.quant ? [input.quant.scale[0], input.quant.zeroPoint[0]] : null });
}

/** An int8 MobileNet-v1 96 (TFLite bytes) whose large convs are above the pool's split threshold. */
async function int8MobileNet(): Promise<Uint8Array> {
  const g = await readModel(toOnnxBytes(mobileNetV1({ size: 96, alpha: 0.5, classes: 10, blocks: 5 })), 'onnx');
  prepareForQuantization(g);
  const shape = g.value(g.inputs[0]!).shape as number[];
  const calib = calibrate(g, [0, 1].map((s) => ({ [g.inputs[0]!]: randomInput('float32', shape, 200 + s) })));
  return writeTflite(quantizeGraph(g, calib, { io: 'int8' }).graph);
}

describe.skipIf(!!chromiumMissing)('the wasm thread pool on Web Workers in Chromium', () => {
  let isolated: BrowserHarness;
  let plain: BrowserHarness;
  beforeAll(async () => {
    isolated = await startBrowser([], { isolated: true });
    plain = await startBrowser();
  }, 120_000);
  afterAll(async () => {
    await isolated?.close();
    await plain?.close();
  });

  it('int8 MobileNet-v1 at threads 2 on a cross-origin isolated page: split over a Web Worker, the bytes of threads 1 and of Node', async () => {
    const bytes = await int8MobileNet();
    isolated.serve('/models/m8.tflite', bytes);
    const s = await load(bytes);
    const info = s.inputs[0]!;
    const x = randomInput('int8', info.shape as number[], 5, s.graph.value(info.name).quant);
    const r = await runInPage(isolated, '/models/m8.tflite', x);
    expect(r.isolated).toBe(true);
    expect(r.ready).toBe(true);
    expect(r.unavailable).toBeNull();
    expect(r.workers).toBe(1);
    expect(r.parallelRuns).toBeGreaterThan(0);
    expect(r.same).toBe(true);
    const node = s.runSync({ [info.name]: x });
    const want = Object.keys(node).sort().map((k) => Array.from(new Uint8Array(node[k]!.data.buffer, node[k]!.data.byteOffset, node[k]!.data.byteLength)));
    expect(r.outputs).toEqual(want);
    expect(leakingRequests(isolated)).toEqual([]);
  }, 120_000);

  it('float32 MobileNet-v2 224 at threads 2: split, the same bytes as threads 1', async () => {
    isolated.serve('/models/m2.onnx', toOnnxBytes(mobileNetV2()));
    const r = await runInPage(isolated, '/models/m2.onnx', randomInput('float32', [1, 3, 224, 224], 6));
    expect(r.parallelRuns).toBeGreaterThan(10);
    expect(r.same).toBe(true);
  }, 120_000);

  it('a page that is not cross-origin isolated runs threads 2 on one thread and says why', async () => {
    plain.serve('/models/m2.onnx', toOnnxBytes(mobileNetV1({ size: 48, alpha: 0.25, classes: 10, blocks: 3 })));
    const r = await runInPage(plain, '/models/m2.onnx', randomInput('float32', [1, 3, 48, 48], 7));
    expect(r.isolated).toBe(false);
    expect(r.ready).toBe(true);
    expect(r.workers).toBe(0);
    expect(r.parallelRuns).toBe(0);
    expect(r.same).toBe(true);
    expect(r.unavailable).toMatch(/unshared memory/);
  }, 120_000);
});

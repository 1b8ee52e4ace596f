/**
 * Speed in the browser (CLOUDLESS_SLOW): the cloudless bundle against
 * onnxruntime-web (its wasm backend, one thread, served from this test's
 * server, never a CDN) on the same float MobileNet-v2 224 ONNX model, in turn
 * in one Chromium page. The figure is the median over rounds of the paired
 * ratio cloudless / onnxruntime-web; nothing is asserted about it (a shared
 * machine), only that both ran and agree on the output.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileNetV2, toOnnxBytes } from '../../src/bench/model-builders.js';
import { npmModel } from '../helpers/data.js';
import { type BrowserHarness, chromiumMissing, leakingRequests, startBrowser } from './harness.js';

const ortDist = npmModel('onnxruntime-web/dist');
const why = !process.env.CLOUDLESS_SLOW ? 'set CLOUDLESS_SLOW=1 to run the browser bench' : chromiumMissing ?? (!ortDist ? 'onnxruntime-web is not installed' : undefined);

describe.skipIf(!!why)('browser bench: cloudless vs onnxruntime-web in one Chromium', () => {
  let h: BrowserHarness;
  beforeAll(async () => {
    h = await startBrowser();
    for (const f of readdirSync(ortDist!)) {
      if (!/\.(mjs|wasm)$/.test(f)) continue;
      h.serve(`/ort/${f}`, new Uint8Array(readFileSync(path.join(ortDist!, f))), f.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    }
    h.serve('/models/mobilenet_v2.onnx', toOnnxBytes(mobileNetV2({ size: 224 })));
  });
  afterAll(async () => { await h?.close(); });

  it('MobileNet-v2 224 float32: paired ratio reported', async () => {
    const r = await h.page.evaluate(async () => {
      const cl = (globalThis as any).cl;
      await (globalThis as any).clReady;
      // Written as a Function so that vitest does not rewrite the page's dynamic import.
      const ort = await (new Function('u', 'return import(u)'))('/ort/ort.min.mjs');
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = 1;
      const bytes = new Uint8Array(await (await fetch('/models/mobilenet_v2.onnx')).arrayBuffer());
      const ours = await cl.loadModel(bytes);
      const theirs = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const x = new Float32Array(3 * 224 * 224);
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 0.5;
      const inName = ours.inputs[0].name;
      const feedsOurs = { [inName]: new cl.Tensor('float32', [1, 3, 224, 224], x) };
      const feedsTheirs = { [theirs.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) };
      const runOurs = () => ours.runSync(feedsOurs);
      const runTheirs = () => theirs.run(feedsTheirs);
      for (let i = 0; i < 3; i++) { runOurs(); await runTheirs(); }
      const a: number[] = [], b: number[] = [];
      for (let i = 0; i < 15; i++) {
        let t = performance.now(); runOurs(); a.push(performance.now() - t);
        t = performance.now(); await runTheirs(); b.push(performance.now() - t);
      }
      const o = Object.values(runOurs())[0] as { data: Float32Array };
      const p = (Object.values(await runTheirs())[0] as { data: Float32Array }).data;
      let maxDiff = 0;
      for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(o.data[i]! - p[i]!));
      const median = (v: number[]) => [...v].sort((m, n) => m - n)[Math.floor(v.length / 2)]!;
      return { cloudlessMs: median(a), ortMs: median(b), ratio: median(a.map((v, i) => v / b[i]!)), maxDiff, n: p.length };
    });
    console.log(`browser bench MobileNet-v2 224 float32 (1 thread, loaded machine): cloudless ${r.cloudlessMs.toFixed(1)} ms, onnxruntime-web ${r.ortMs.toFixed(1)} ms, paired ratio cloudless/ort ${r.ratio.toFixed(2)}; max |diff| ${r.maxDiff.toExponential(2)} over ${r.n}`);
    expect(r.n).toBe(1000);
    expect(r.maxDiff).toBeLessThan(1e-3);
    expect(leakingRequests(h)).toEqual([]);
  });
});

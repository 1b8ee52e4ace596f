import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fashionDataDir, fashionInput, fashionModelPath, loadFashionSplit } from '../../scripts/fashion-mnist.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { Calibrator } from '../../src/quantize/calibrate.js';
import { quantizeGraph } from '../../src/quantize/quantize.js';
import { compareSessions } from '../../src/quantize/report.js';
import { Session } from '../../src/runtime/session.js';

const dataDir = fashionDataDir();
const ready = dataDir !== undefined && existsSync(fashionModelPath);
const why = !dataDir
  ? 'Fashion-MNIST is absent: run node scripts/setup-data.mjs fashion'
  : 'the trained CNN is absent: run npx tsx scripts/train-fashion-mnist.ts';
if (!ready) console.warn(`fashion-mnist quantization test skipped: ${why}`);

/** The whole test set: about 1 ms per image for both models on the reference kernels. */
const EVAL = 10000;
const CALIBRATION = 200;

describe.skipIf(!ready)('quantizing the Fashion-MNIST CNN', () => {
  it('loses at most 1 point of top-1 accuracy', () => {
    const bytes = new Uint8Array(readFileSync(fashionModelPath));
    const floatSession = new Session(importTflite(bytes, fashionModelPath));
    const graph = importTflite(bytes, fashionModelPath);
    prepareForQuantization(graph);
    const train = loadFashionSplit(dataDir!, 'train');
    const test = loadFashionSplit(dataDir!, 't10k');
    const calibrator = new Calibrator(graph);
    // Calibrate on training images the CNN was not trained on (it saw the first 4,000 at most).
    for (let i = 0; i < CALIBRATION; i++) calibrator.observe({ image: fashionInput(train, train.count - 1 - i) });
    const q = quantizeGraph(graph, calibrator.result());
    expect(q.fallback).toEqual([]);
    const int8Session = new Session(importTflite(writeTflite(q.graph), 'fashion-int8.tflite'));
    const samples = Array.from({ length: EVAL }, (_, i) => ({ name: `t10k[${i}]`, file: 't10k', feeds: { image: fashionInput(test, i) } }));
    const labels = Array.from(test.labels.subarray(0, EVAL));
    const report = compareSessions(floatSession, int8Session, samples, { labels, latencyRuns: 20 });
    const { float, int8 } = report.quality!;
    console.log(`Fashion-MNIST top-1 on ${EVAL} test images: float ${float.toFixed(2)} %, int8 ${int8.toFixed(2)} %; ` +
      `cosine mean ${report.outputs[0]!.meanCosine.toFixed(5)}; latency float ${report.latency.floatMs.toFixed(2)} ms, int8 ${report.latency.int8Ms.toFixed(2)} ms`);
    expect(float).toBeGreaterThan(65);
    expect(float - int8).toBeLessThanOrEqual(1);
  });
});

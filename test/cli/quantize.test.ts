import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCnnGraph } from '../../scripts/fashion-mnist.js';
import { seededRandom, toOnnxBytes } from '../../src/bench/model-builders.js';
import { printQuantizeSummary, runQuantize, type QuantizeCommandOptions } from '../../src/cli/quantize.js';
import { serializeNpy } from '../../src/formats/npy.js';
import { importTflite } from '../../src/formats/tflite/import.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Tensor } from '../../src/ir/index.js';
import { readModel } from '../../src/runtime/load.js';
import { Session } from '../../src/runtime/session.js';
import { runLiteRt } from '../helpers/litert.js';
import { loadLabels, loadSampleFolder, preprocessSpecFor } from '../../src/tasks/samples.js';
import { opencvPhotosDir } from '../helpers/data.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-quantize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cnnModel(): string {
  const r = seededRandom(21);
  const v = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const file = path.join(dir, 'cnn.tflite');
  writeFileSync(file, writeTflite(buildCnnGraph({
    conv1: { kernel: v(9 * 8, 0.5), bias: v(8, 0.1), cout: 8 },
    conv2: { kernel: v(9 * 8 * 16, 0.2), bias: v(16, 0.1), cout: 16 },
    dense: { kernel: v(784 * 10, 0.05), bias: v(10, 0.1), inputs: 784, outputs: 10 },
  })));
  return file;
}

function calibFolder(name: string, count: number): string {
  const folder = path.join(dir, name);
  const r = seededRandom(count);
  const t = new Tensor('float32', [count, 28, 28, 1], Float32Array.from({ length: count * 784 }, () => r()));
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'batch.npy'), serializeNpy(t));
  writeFileSync(path.join(folder, 'README.txt'), 'random images');
  return folder;
}

const base: Omit<QuantizeCommandOptions, 'calib' | 'out'> = {
  method: 'minmax', percentile: 99.99, io: 'float32', backend: 'ref', int8Arithmetic: 'tflite-xnnpack', progress: false,
};

describe('cloudless quantize', () => {
  const model = cnnModel();

  it('writes a .tflite that loads back, and reports size, error, accuracy and latency', async () => {
    const calib = calibFolder('calib', 10);
    writeFileSync(path.join(dir, 'labels.txt'), Array.from({ length: 10 }, (_, i) => String(i % 10)).join('\n'));
    const out = path.join(dir, 'cnn-int8.tflite');
    const s = await runQuantize(model, { ...base, calib, out, labels: path.join(dir, 'labels.txt') });
    expect(s.calibration).toEqual({ method: 'minmax', samples: 8, skipped: ['README.txt'], rounding: 'nearest' });
    expect(s.evaluation).toEqual({ samples: 2, heldOut: true });
    expect(s.fallback).toEqual([]);
    expect(s.size.int8Bytes).toBeLessThan(s.size.floatBytes / 2.5);
    expect(s.comparison.outputs[0]!.minCosine).toBeGreaterThan(0.99);
    expect(s.comparison.quality!.samples).toBe(2);
    expect(s.comparison.latency.int8Ms).toBeGreaterThan(0);
    const g = importTflite(new Uint8Array(readFileSync(out)), out);
    expect(g.nodes.filter((n) => n.op === 'Conv').every((n) => g.value(n.inputs[1]!).dtype === 'int8')).toBe(true);
  });

  it('percentile calibration and an int8 interface', async () => {
    const out = path.join(dir, 'cnn-int8-io.tflite');
    const s = await runQuantize(model, { ...base, calib: calibFolder('calib2', 6), out, method: 'percentile', percentile: 99.9, io: 'int8', sensitivity: 3 });
    expect(s.calibration.percentile).toBe(99.9);
    // --sensitivity 3: the three layers int8 hurts most, worst first.
    expect(s.sensitivity!.length).toBe(3);
    expect(s.sensitivity!.every((l, i, all) => i === 0 || all[i - 1]!.minCosine <= l.minCosine)).toBe(true);
    expect(s.sensitivity!.every((l) => l.minCosine > 0.9 && l.minCosine <= 1)).toBe(true);
    expect(s.quantizeNodes + s.dequantizeNodes).toBe(0);
    expect(s.comparison.outputs[0]!.meanCosine).toBeGreaterThan(0.98);
  });

  it('--activations int16 writes a 16x8 .tflite: int16 activations, int8 weights, int64 biases, closer to float than int8, bit-exact with LiteRT.js', async () => {
    const calib = calibFolder('calib16', 10);
    const out8 = path.join(dir, 'cnn-8.tflite'), out16 = path.join(dir, 'cnn-16x8.tflite');
    const s8 = await runQuantize(model, { ...base, calib, out: out8 });
    const s16 = await runQuantize(model, { ...base, calib, out: out16, activations: 'int16' });
    expect(s16.activations).toBe('int16');
    // Softmax is 16x8 too (src/kernels/ref/int16/softmax.ts): nothing stays float.
    expect(s16.fallback).toEqual([]);
    expect(printQuantizeSummary(s16)).toMatch(/\d+ 16x8 \(int16 activations, int8 weights\) nodes/);
    const g = importTflite(new Uint8Array(readFileSync(out16)), out16);
    for (const n of g.nodes.filter((m) => m.op === 'Conv' || m.op === 'FullyConnected')) {
      expect([g.value(n.inputs[0]!).dtype, g.value(n.inputs[1]!).dtype, g.value(n.inputs[2]!).dtype, g.value(n.outputs[0]!).dtype]).toEqual(['int16', 'int8', 'int64', 'int16']);
    }
    // 16-bit activations take the error of 8-bit ones down.
    const err = (x: typeof s8) => x.comparison.outputs[0]!.maxAbs;
    expect(err(s16)).toBeLessThan(err(s8) / 4);
    // Up to the logits the model is all 16x8, and LiteRT.js runs the written file to the same values as cloudless.
    const outLogits = path.join(dir, 'cnn-16x8-logits.tflite');
    const sLogits = await runQuantize(model, { ...base, calib, out: outLogits, activations: 'int16', outputs: ['logits'] });
    expect(sLogits.fallback).toEqual([]);
    const gl = importTflite(new Uint8Array(readFileSync(outLogits)), outLogits);
    const x = new Tensor('float32', [1, 28, 28, 1], Float32Array.from({ length: 784 }, (_, i) => ((i * 37) % 101) / 100));
    const [want] = await runLiteRt(new Uint8Array(readFileSync(outLogits)), [x]);
    const got = new Session(gl, { backend: 'ref' }).runSync({ [gl.inputs[0]!]: x })[gl.outputs[0]!]!;
    expect(Array.from(got.toFloat32())).toEqual(Array.from(want!.toFloat32()));
    await expect(runQuantize(model, { ...base, calib, out: path.join(dir, 'cnn-16x8.onnx'), activations: 'int16' })).rejects.toThrow(/16x8 models .* are written as \.tflite only/);
    // --keep-float-first 1: the stem (here the first conv) stays float, by request.
    const stem = await runQuantize(model, { ...base, calib, out: path.join(dir, 'cnn-16x8-stem.tflite'), activations: 'int16', keepFloatFirst: 1 });
    expect(stem.fallback.find((f) => f.node === 'conv1')?.reason).toBe('kept in float by request');
  });

  it('--method auto quantizes with both methods and keeps the one closer to float on the evaluation samples', async () => {
    const out = path.join(dir, 'auto.tflite');
    writeFileSync(path.join(dir, 'labels.txt'), Array.from({ length: 10 }, (_, i) => String(i % 10)).join('\n'));
    const s = await runQuantize(model, { ...base, calib: calibFolder('calib-auto', 10), out, method: 'auto', labels: path.join(dir, 'labels.txt') });
    const c = s.calibration.candidates!;
    expect(c.map((x) => x.method)).toEqual(['minmax', 'percentile']);
    const best = c.reduce((a, b) => (b.score > a.score ? b : a));
    expect(s.calibration.method).toBe(best.method);
    // With labels the score is the int8 top-1 accuracy of the kept model.
    expect(s.comparison.quality!.int8).toBe(best.score);
    expect(existsSync(out)).toBe(true);
    const text = printQuantizeSummary(s);
    expect(text).toMatch(/--method auto kept (minmax|percentile): minmax [\d.]+, percentile [\d.]+ \(top-1 %/);
    // A poor output cosine earns a warning with what to try.
    const poor = { ...s, comparison: { ...s.comparison, outputs: s.comparison.outputs.map((o) => ({ ...o, minCosine: 0.5 })) } };
    expect(printQuantizeSummary(poor)).toMatch(/warning: an output's cosine to float falls to 0\.500.*--keep-float/s);
    expect(text.includes('warning:')).toBe(s.comparison.outputs.some((o) => o.minCosine < 0.95));
  });

  it('--rounding gptq: the same grid, different int8 weights, an output at least as close to float', async () => {
    const calib = calibFolder('calib3', 10);
    const near = await runQuantize(model, { ...base, calib, out: path.join(dir, 'near.tflite') });
    const gptq = await runQuantize(model, { ...base, calib, out: path.join(dir, 'gptq.tflite'), rounding: 'gptq' });
    expect(gptq.calibration.rounding).toBe('gptq');
    const weights = (file: string) => {
      const g = importTflite(new Uint8Array(readFileSync(file)), file);
      return g.nodes.filter((n) => n.op === 'Conv').map((n) => g.value(n.inputs[1]!).constant!);
    };
    const [a, b] = [weights(path.join(dir, 'near.tflite')), weights(path.join(dir, 'gptq.tflite'))];
    expect(a.map((t) => Array.from(t.quant!.scale))).toEqual(b.map((t) => Array.from(t.quant!.scale)));
    expect(a.some((t, i) => t.data.some((v, j) => v !== b[i]!.data[j]))).toBe(true);
    // Held-out samples: GPTQ fits the calibration ones, so allow a hair either way.
    expect(gptq.comparison.outputs[0]!.meanCosine).toBeGreaterThan(near.comparison.outputs[0]!.meanCosine - 1e-3);
  });

  it('refuses broken calibration files by name and writes nothing', async () => {
    const calib = calibFolder('broken', 3);
    writeFileSync(path.join(calib, 'zz-truncated.npy'), serializeNpy(new Tensor('float32', [1, 28, 28, 1])).subarray(0, 100));
    const out = path.join(dir, 'never.tflite');
    await expect(runQuantize(model, { ...base, calib, out })).rejects.toThrow(/zz-truncated\.npy/);
    expect(existsSync(out)).toBe(false);
  });

  it('reads a calibration folder of symbolic links as the files they point to, and skips dangling ones', async () => {
    const src = calibFolder('link-target', 3);
    const links = path.join(dir, 'links');
    rmSync(links, { recursive: true, force: true });
    mkdirSync(links);
    symlinkSync(path.join(src, 'batch.npy'), path.join(links, 'batch.npy'));
    symlinkSync(path.join(src, 'missing.npy'), path.join(links, 'dangling.npy'));
    const g = importTflite(new Uint8Array(readFileSync(model)), model);
    const input = { name: g.inputs[0]!, dtype: 'float32' as const, shape: [1, 28, 28, 1] };
    const folder = await loadSampleFolder(links, [input]);
    expect(folder.samples.length).toBe(3);
  });

  it('refuses an .npy of the wrong shape and an output that is neither .tflite nor .onnx', async () => {
    const calib = calibFolder('shape', 2);
    copyFileSync(path.join(calib, 'batch.npy'), path.join(calib, 'a.npy'));
    writeFileSync(path.join(calib, 'b.npy'), serializeNpy(new Tensor('float32', [3, 3])));
    await expect(runQuantize(model, { ...base, calib, out: path.join(dir, 'x.tflite') })).rejects.toThrow(/b\.npy: shape \[3, 3\] does not fit input "image"/);
    await expect(runQuantize(model, { ...base, calib, out: path.join(dir, 'x.pb') })).rejects.toThrow(/\.tflite \(int8 TFLite\) or \.onnx/);
  });

  it('writes QDQ ONNX for -o *.onnx, and keeps only the --outputs asked for', async () => {
    const out = path.join(dir, 'cnn-int8.onnx');
    const g = importTflite(new Uint8Array(readFileSync(model)), model);
    // The logits before Softmax: the graph is cut there and quantized without the Softmax.
    const softmax = g.nodes.find((n) => n.op === 'Softmax')!;
    const s = await runQuantize(model, { ...base, calib: calibFolder('calib3', 6), out, outputs: [softmax.inputs[0]!] });
    expect(s.format).toBe('onnx');
    expect(s.comparison.outputs.map((o) => o.name)).toEqual([softmax.inputs[0]!]);
    expect(s.comparison.outputs[0]!.minCosine).toBeGreaterThan(0.99);
    const back = await readModel(new Uint8Array(readFileSync(out)), 'onnx');
    expect(back.nodes.some((n) => n.op === 'Softmax')).toBe(false);
    // Loaded back through the QDQ folding, it is the int8 graph again: every layer on int8 kernels, no Transpose left
    // (the Identity names the output, and costs nothing: the planner makes it a view).
    expect(back.nodes.map((n) => n.op)).toEqual(['Quantize', 'Conv', 'MaxPool', 'Conv', 'MaxPool', 'Reshape', 'FullyConnected', 'Dequantize', 'Identity']);
    expect(back.nodes.filter((n) => n.op === 'Conv').every((n) => back.values.get(n.inputs[1]!)?.constant?.dtype === 'int8')).toBe(true);
    await expect(runQuantize(model, { ...base, calib: calibFolder('calib4', 2), out, outputs: ['no-such-value'] })).rejects.toThrow(/no value "no-such-value"/);
  });
});

describe('cloudless quantize on a model with symbolic input sizes', () => {
  /** Conv → Relu → ConvTranspose (×2) → Sigmoid over an input [N, 3, H, W]: a segmentation head in miniature. */
  function dynamicModel(): string {
    const r = seededRandom(5);
    const t = (shape: number[], scale: number) => new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * scale));
    const file = path.join(dir, 'dynamic.onnx');
    writeFileSync(file, toOnnxBytes({
      graph: {
        name: 'dynamic',
        nodes: [
          { op: 'Conv', name: 'down', inputs: ['x', 'w0', 'b0'], outputs: ['c0'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
          { op: 'Relu', name: 'relu', inputs: ['c0'], outputs: ['r0'] },
          { op: 'ConvTranspose', name: 'up', inputs: ['r0', 'w1', 'b1'], outputs: ['logits'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
          { op: 'Sigmoid', name: 'prob', inputs: ['logits'], outputs: ['y'] },
        ],
        initializers: { w0: t([6, 3, 3, 3], 0.5), b0: t([6], 0.1), w1: t([6, 1, 2, 2], 0.5), b1: t([1], 0.1) },
        inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1, 'H', 'W'] }],
      },
    }));
    return file;
  }

  it('writes .tflite and .onnx with the calibration samples\' static shapes', async () => {
    const model = dynamicModel();
    const calib = path.join(dir, 'dyn-calib');
    mkdirSync(calib, { recursive: true });
    const r = seededRandom(9);
    writeFileSync(path.join(calib, 'x.npy'), serializeNpy(new Tensor('float32', [6, 3, 24, 40], Float32Array.from({ length: 6 * 3 * 24 * 40 }, () => r() * 2 - 1))));
    for (const out of [path.join(dir, 'dyn.tflite'), path.join(dir, 'dyn.onnx')]) {
      const s = await runQuantize(model, { ...base, calib, out });
      expect(s.fallback).toEqual([]);
      expect(s.comparison.outputs[0]!.meanCosine).toBeGreaterThan(0.99);
      const g = await readModel(new Uint8Array(readFileSync(out)), out.endsWith('.onnx') ? 'onnx' : 'tflite');
      const shape = g.value(g.inputs[0]!).shape;
      expect(shape?.length === 4 && shape.every((d) => typeof d === 'number')).toBe(true);
    }
  });
});

describe('calibration samples', () => {
  it('reads labels by file name or in order, and refuses non-class labels', async () => {
    const samples = [{ name: 'a.jpg', file: 'a.jpg', feeds: {} }, { name: 'b.jpg', file: 'b.jpg', feeds: {} }];
    writeFileSync(path.join(dir, 'named.txt'), 'b.jpg 3\na.jpg 1\n');
    expect(await loadLabels(path.join(dir, 'named.txt'), samples)).toEqual([1, 3]);
    writeFileSync(path.join(dir, 'bad.txt'), '1\n-2\n');
    await expect(loadLabels(path.join(dir, 'bad.txt'), samples)).rejects.toThrow(/label 2 \(-2\)/);
  });

  it.skipIf(!opencvPhotosDir())('preprocesses a folder of photos for an image model', async () => {
    const photos = path.join(dir, 'photos');
    mkdirSync(photos, { recursive: true });
    for (const f of ['fruits.jpg', 'orange.jpg']) copyFileSync(path.join(opencvPhotosDir()!, f), path.join(photos, f));
    const input = { name: 'image', dtype: 'float32' as const, shape: [1, 28, 28, 1] };
    expect(preprocessSpecFor(input)).toMatchObject({ width: 28, height: 28, layout: 'NHWC', channels: 'GRAY', normalize: 'zero-one' });
    const { samples } = await loadSampleFolder(photos, [input]);
    expect(samples.map((s) => s.name)).toEqual(['fruits.jpg', 'orange.jpg']);
    const t = samples[0]!.feeds.image!;
    expect(t.shape).toEqual([1, 28, 28, 1]);
    expect(Math.max(...t.toFloat32())).toBeLessThanOrEqual(1);
  });
});

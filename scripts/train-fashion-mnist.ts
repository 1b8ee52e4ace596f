/**
 * Trains the small Fashion-MNIST CNN once with TF.js (pure JS CPU backend) and
 * caches it as a float .tflite written by cloudless's own writer, for the
 * quantizer's accuracy test (test/quantize/fashion-mnist.test.ts). The model and
 * data stay in .cache/ and are never committed.
 *
 *   node scripts/setup-data.mjs fashion
 *   npx tsx scripts/train-fashion-mnist.ts [--train 4000] [--epochs 1]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeTflite } from '../src/formats/tflite/writer.js';
import { buildCnnGraph, fashionDataDir, fashionModelPath, loadFashionSplit, type FashionSplit } from './fashion-mnist.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * tfjs-backend-cpu's Conv2DBackpropFilter spends about 3 s of a 64-image batch here (tf.profile:
 * 90 % of the training time), so the training registers a plain NHWC loop for it: the same sum,
 * dW[ky,kx,ci,co] = Σ x[n, oy·s+ky−top, ox·s+kx−left, ci] · dy[n,oy,ox,co], on typed arrays.
 */
function registerFastFilterGradient(): void {
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid'; dataFormat: string; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
      if (a.dataFormat !== 'NHWC') throw new Error(`train-fashion-mnist: Conv2DBackpropFilter in ${a.dataFormat} is not handled`);
      const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
      const cpu = backend as unknown as { data: { get(id: unknown): { values: Float32Array } }; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
      const xv = cpu.data.get(x.dataId).values, dyv = cpu.data.get(dy.dataId).values;
      const { batchSize: n, inHeight: ih, inWidth: iw, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
      const top = info.padInfo.top, left = info.padInfo.left;
      const dw = new Float32Array(kh * kw * ci * co);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const dyBase = ((b * oh + oy) * ow + ox) * co;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh + ky - top;
              if (iy < 0 || iy >= ih) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw + kx - left;
                if (ix < 0 || ix >= iw) continue;
                const xBase = ((b * ih + iy) * iw + ix) * ci;
                const wBase = (ky * kw + kx) * ci * co;
                for (let c = 0; c < ci; c++) {
                  const xval = xv[xBase + c]!;
                  if (xval === 0) continue;
                  const row = wBase + c * co;
                  for (let o = 0; o < co; o++) dw[row + o]! += xval * dyv[dyBase + o]!;
                }
              }
            }
          }
        }
      }
      return cpu.makeTensorInfo(a.filterShape, 'float32', dw);
    },
  });
}

function tensors(split: FashionSplit, n: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const px = new Float32Array(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = split.images[i]! / 255;
  return {
    x: tf.tensor4d(px, [n, 28, 28, 1]),
    y: tf.oneHot(tf.tensor1d(Array.from(split.labels.subarray(0, n)), 'int32'), 10).toFloat() as tf.Tensor2D,
  };
}

async function main(): Promise<void> {
  const dir = fashionDataDir();
  if (!dir) {
    console.error('train-fashion-mnist: Fashion-MNIST is missing; run node scripts/setup-data.mjs fashion');
    process.exit(1);
  }
  await tf.setBackend('cpu');
  registerFastFilterGradient();
  const trainCount = arg('train', 4000), epochs = arg('epochs', 1);
  const train = loadFashionSplit(dir, 'train');
  const test = loadFashionSplit(dir, 't10k');
  const { x, y } = tensors(train, Math.min(trainCount, train.count));

  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(0.002), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

  const t0 = Date.now();
  await model.fit(x, y, {
    epochs, batchSize: 64, shuffle: true,
    callbacks: {
      onBatchEnd: (b) => { if (b % 25 === 0) console.log(`  batch ${b} (${((Date.now() - t0) / 1000).toFixed(0)} s)`); },
      onEpochEnd: (e, logs) => console.log(`epoch ${e + 1}/${epochs}: loss ${logs?.loss?.toFixed(4)} accuracy ${logs?.acc?.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`) },
  });

  const [k1, b1, k2, b2, kd, bd] = model.getWeights().map((t) => t.dataSync() as Float32Array);
  const graph = buildCnnGraph({
    conv1: { kernel: k1!, bias: b1!, cout: 8 },
    conv2: { kernel: k2!, bias: b2!, cout: 16 },
    dense: { kernel: kd!, bias: bd!, inputs: 7 * 7 * 16, outputs: 10 },
  });
  mkdirSync(path.dirname(fashionModelPath), { recursive: true });
  writeFileSync(fashionModelPath, writeTflite(graph, { description: 'Fashion-MNIST CNN trained by scripts/train-fashion-mnist.ts' }));
  console.log(`wrote ${fashionModelPath}`);

  // Batches of 1,000 keep the activations of the evaluation within a few tens of MB.
  let correct = 0;
  for (let start = 0; start < test.count; start += 1000) {
    const n = Math.min(1000, test.count - start);
    const part = { images: test.images.subarray(start * 784), labels: test.labels.subarray(start), count: n };
    const { x: xs } = tensors(part, n);
    const pred = tf.tidy(() => (model.predict(xs) as tf.Tensor2D).argMax(-1).dataSync());
    xs.dispose();
    for (let i = 0; i < n; i++) if (pred[i] === test.labels[start + i]) correct++;
  }
  console.log(`TF.js float accuracy on the ${test.count} test images: ${(100 * correct / test.count).toFixed(2)} %`);
}

await main();

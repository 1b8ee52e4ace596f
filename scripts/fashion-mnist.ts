/**
 * Fashion-MNIST for the quantization accuracy check: the idx files of Debian's
 * `dataset-fashion-mnist` (fetched by `node scripts/setup-data.mjs fashion`), and
 * the small CNN that scripts/train-fashion-mnist.ts trains, written as a
 * canonical graph so that it is stored as a float .tflite by our own writer.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { CloudlessError, Graph, Tensor } from '../src/ir/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.CLOUDLESS_CACHE ?? path.join(root, '.cache');

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The trained float model, cached and never committed. */
export const fashionModelPath = path.join(cache, 'models', 'fashion-mnist-cnn.tflite');

export function fashionDataDir(): string | undefined {
  const candidates = [
    path.join(cache, 'data/dataset-fashion-mnist/usr/share/datasets/fashion-mnist'),
    '/usr/share/datasets/fashion-mnist',
  ];
  return candidates.find((d) => existsSync(path.join(d, 't10k-labels-idx1-ubyte.gz')) || existsSync(path.join(d, 't10k-labels-idx1-ubyte')));
}

/**
 * Reads an idx file (the MNIST container: a 4-byte magic whose third byte is the
 * element type, 0x08 = unsigned byte, and whose fourth is the rank; then one
 * big-endian uint32 per dimension; then the data). Gzipped files are inflated.
 */
export function readIdx(file: string): { shape: number[]; data: Uint8Array } {
  let bytes: Uint8Array = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const fail = (why: string): never => { throw new CloudlessError('E_FORMAT', `${file}: not an idx file: ${why}`, { file }); };
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) fail('bad magic');
  if (bytes[2] !== 0x08) fail(`element type 0x${bytes[2]!.toString(16)} is not unsigned byte`);
  const rank = bytes[3]!;
  if (bytes.length < 4 + 4 * rank) fail('truncated header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start < count) fail(`expected ${count} data bytes, found ${bytes.length - start}`);
  return { shape, data: bytes.subarray(start, start + count) };
}

export interface FashionSplit {
  /** [n, 28, 28] pixel bytes. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export function loadFashionSplit(dir: string, split: 'train' | 't10k'): FashionSplit {
  const find = (base: string) => {
    const f = [path.join(dir, `${base}.gz`), path.join(dir, base)].find((p) => existsSync(p));
    if (!f) throw new CloudlessError('E_FILE', `Fashion-MNIST file ${base}(.gz) is missing in ${dir}`, { hint: 'run node scripts/setup-data.mjs fashion' });
    return f;
  };
  const images = readIdx(find(`${split}-images-idx3-ubyte`));
  const labels = readIdx(find(`${split}-labels-idx1-ubyte`));
  if (images.shape[0] !== labels.shape[0] || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new CloudlessError('E_FORMAT', `Fashion-MNIST ${split}: images ${JSON.stringify(images.shape)} do not match labels ${JSON.stringify(labels.shape)}`);
  }
  return { images: images.data, labels: labels.data, count: labels.shape[0]! };
}

/** Image i of a split as the model's input: [1, 28, 28, 1] float32 in 0..1. */
export function fashionInput(split: FashionSplit, i: number): Tensor {
  const t = new Tensor('float32', [1, 28, 28, 1]);
  const d = t.data as Float32Array;
  const px = split.images.subarray(i * 784, (i + 1) * 784);
  for (let k = 0; k < 784; k++) d[k] = px[k]! / 255;
  return t;
}

/** Trained weights in TF.js layer layouts: conv kernels [kh, kw, cin, cout], dense kernel [in, out]. */
export interface CnnWeights {
  conv1: { kernel: Float32Array; bias: Float32Array; cout: number };
  conv2: { kernel: Float32Array; bias: Float32Array; cout: number };
  dense: { kernel: Float32Array; bias: Float32Array; inputs: number; outputs: number };
}

/** [kh, kw, cin, cout] → OHWI [cout, kh, kw, cin]. */
function hwioToOhwi(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Tensor {
  const t = new Tensor('float32', [cout, kh, kw, cin]);
  const d = t.data as Float32Array;
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) {
    d[((o * kh + y) * kw + x) * cin + i] = k[((y * kw + x) * cin + i) * cout + o]!;
  }
  return t;
}

/**
 * conv3x3(8, relu) → maxpool 2 → conv3x3(16, relu) → maxpool 2 → flatten → dense(10) → softmax,
 * NHWC like TF.js, so the flatten order (h, w, c) is the same in both.
 */
export function buildCnnGraph(w: CnnWeights): Graph {
  const g = new Graph('fashion_mnist_cnn', { format: 'cloudless', producer: 'scripts/train-fashion-mnist.ts' });
  const c1 = w.conv1.cout, c2 = w.conv2.cout;
  g.setValue({ name: 'image', dtype: 'float32', shape: [1, 28, 28, 1] });
  g.inputs = ['image'];
  const constant = (name: string, t: Tensor) => g.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  constant('conv1/w', hwioToOhwi(w.conv1.kernel, 3, 3, 1, c1));
  constant('conv1/b', new Tensor('float32', [c1], w.conv1.bias.slice()));
  constant('conv2/w', hwioToOhwi(w.conv2.kernel, 3, 3, c1, c2));
  constant('conv2/b', new Tensor('float32', [c2], w.conv2.bias.slice()));
  const { inputs: k, outputs: o } = w.dense;
  const fc = new Tensor('float32', [o, k]);
  const fd = fc.data as Float32Array;
  for (let i = 0; i < k; i++) for (let j = 0; j < o; j++) fd[j * k + i] = w.dense.kernel[i * o + j]!;
  constant('dense/w', fc);
  constant('dense/b', new Tensor('float32', [o], w.dense.bias.slice()));
  constant('flatten/shape', new Tensor('int64', [2], BigInt64Array.of(1n, BigInt(k))));
  const conv = { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], activation: 'relu' };
  const pool = { kernel_shape: [2, 2], strides: [2, 2] };
  g.addNode({ name: 'conv1', op: 'Conv', inputs: ['image', 'conv1/w', 'conv1/b'], outputs: ['conv1'], attrs: conv });
  g.addNode({ name: 'pool1', op: 'MaxPool', inputs: ['conv1'], outputs: ['pool1'], attrs: pool });
  g.addNode({ name: 'conv2', op: 'Conv', inputs: ['pool1', 'conv2/w', 'conv2/b'], outputs: ['conv2'], attrs: conv });
  g.addNode({ name: 'pool2', op: 'MaxPool', inputs: ['conv2'], outputs: ['pool2'], attrs: pool });
  g.addNode({ name: 'flatten', op: 'Reshape', inputs: ['pool2', 'flatten/shape'], outputs: ['flat'], attrs: {} });
  g.addNode({ name: 'dense', op: 'FullyConnected', inputs: ['flat', 'dense/w', 'dense/b'], outputs: ['logits'], attrs: {} });
  g.addNode({ name: 'softmax', op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attrs: { axis: -1 } });
  for (const [name, shape] of [['conv1', [1, 28, 28, c1]], ['pool1', [1, 14, 14, c1]], ['conv2', [1, 14, 14, c2]], ['pool2', [1, 7, 7, c2]], ['flat', [1, k]], ['logits', [1, o]], ['probabilities', [1, o]]] as const) {
    g.setValue({ name, dtype: 'float32', shape: [...shape] });
  }
  g.outputs = ['probabilities'];
  return g;
}

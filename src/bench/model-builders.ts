/**
 * Builders of benchmark and test models with random weights: MobileNet-v1 and
 * MobileNet-v2 style classifiers written as ONNX (NCHW, opset 17), so that the
 * same graph runs in cloudless and in the peers. Weights come from a seeded PRNG:
 * the same options always give the same bytes.
 */
import { Tensor } from '../ir/index.js';
import { writeOnnx, type OnnxModelSpec, type OnnxNodeSpec } from '../formats/onnx/writer.js';

export interface MobileNetOptions {
  /** Input height and width (default 224). */
  size?: number;
  /** Width multiplier (default 1.0). */
  alpha?: number;
  classes?: number;
  /** Use only the first n blocks of the standard configuration (for small test models). */
  blocks?: number;
  /** Keep BatchNormalization nodes after convolutions instead of folding them into the weights. */
  batchNorm?: boolean;
  seed?: number;
}

import { seededRandom } from '../ir/random.js';

export { seededRandom };

class Builder {
  readonly nodes: OnnxNodeSpec[] = [];
  readonly initializers: Record<string, Tensor> = {};
  private n = 0;
  constructor(private readonly rand: () => number, private readonly batchNorm: boolean) {}

  name(base: string): string { return `${base}_${this.n++}`; }

  weight(shape: number[], fanIn: number): string {
    const name = this.name('w');
    const bound = Math.sqrt(6 / fanIn); // He-uniform keeps activations in a sane range through many layers
    const t = new Tensor('float32', shape);
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = (this.rand() * 2 - 1) * bound * 0.5;
    this.initializers[name] = t;
    return name;
  }

  vector(n: number, lo: number, hi: number): string {
    const name = this.name('v');
    const t = new Tensor('float32', [n]);
    const d = t.data as Float32Array;
    for (let i = 0; i < n; i++) d[i] = lo + this.rand() * (hi - lo);
    this.initializers[name] = t;
    return name;
  }

  conv(x: string, cin: number, cout: number, k: number, stride: number, group: number, act: 'relu6' | 'none'): string {
    const w = this.weight([cout, cin / group, k, k], (cin / group) * k * k);
    const b = this.vector(cout, -0.1, 0.1);
    let y = this.name('conv');
    const pad = (k - 1) >> 1;
    this.nodes.push({ op: 'Conv', inputs: [x, w, b], outputs: [y], name: y, attrs: { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group } });
    if (this.batchNorm) {
      const out = this.name('bn');
      this.nodes.push({ op: 'BatchNormalization', name: out, outputs: [out], attrs: { epsilon: { f: 1e-3 } },
        inputs: [y, this.vector(cout, 0.8, 1.2), this.vector(cout, -0.1, 0.1), this.vector(cout, -0.1, 0.1), this.vector(cout, 0.8, 1.2)] });
      y = out;
    }
    if (act === 'relu6') {
      const out = this.name('relu6');
      this.nodes.push({ op: 'Clip', inputs: [y, 'six_min', 'six_max'], outputs: [out], name: out });
      y = out;
    }
    return y;
  }

  add(a: string, b: string): string {
    const y = this.name('add');
    this.nodes.push({ op: 'Add', inputs: [a, b], outputs: [y], name: y });
    return y;
  }
}

function finish(b: Builder, x: string, channels: number, classes: number, name: string, size: number): OnnxModelSpec {
  const pooled = b.name('pool');
  b.nodes.push({ op: 'GlobalAveragePool', inputs: [x], outputs: [pooled], name: pooled });
  const flat = b.name('flatten');
  b.nodes.push({ op: 'Flatten', inputs: [pooled], outputs: [flat], name: flat, attrs: { axis: 1 } });
  const w = b.weight([classes, channels], channels);
  const bias = b.vector(classes, -0.1, 0.1);
  const logits = b.name('logits');
  b.nodes.push({ op: 'Gemm', inputs: [flat, w, bias], outputs: [logits], name: logits, attrs: { transB: 1 } });
  b.nodes.push({ op: 'Softmax', inputs: [logits], outputs: ['probabilities'], name: 'softmax', attrs: { axis: -1 } });
  b.initializers.six_min = Tensor.scalar('float32', 0);
  b.initializers.six_max = Tensor.scalar('float32', 6);
  return {
    opset: 17,
    producer: 'cloudless model-builders',
    graph: {
      name,
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: [{ name: 'input', dtype: 'float32', shape: [1, 3, size, size] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [1, classes] }],
    },
  };
}

const scaled = (c: number, alpha: number) => Math.max(8, Math.round((c * alpha) / 8) * 8);

/** MobileNet-v1 style: conv, then depthwise-separable blocks, global pool, gemm, softmax. */
export function mobileNetV1(opts: MobileNetOptions = {}): OnnxModelSpec {
  const { size = 224, alpha = 1, classes = 1000, seed = 1, batchNorm = false } = opts;
  const config: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]];
  const blocks = config.slice(0, opts.blocks ?? config.length);
  const b = new Builder(seededRandom(seed), batchNorm);
  let c = scaled(32, alpha);
  let x = b.conv('input', 3, c, 3, 2, 1, 'relu6');
  for (const [out, stride] of blocks) {
    const co = scaled(out, alpha);
    x = b.conv(x, c, c, 3, stride, c, 'relu6');
    x = b.conv(x, c, co, 1, 1, 1, 'relu6');
    c = co;
  }
  return finish(b, x, c, classes, 'mobilenet_v1_random', size);
}

/** MobileNet-v2 style: inverted residual blocks (expand 1x1, depthwise 3x3, project 1x1, residual add). */
export function mobileNetV2(opts: MobileNetOptions = {}): OnnxModelSpec {
  const { size = 224, alpha = 1, classes = 1000, seed = 2, batchNorm = false } = opts;
  // [expansion t, channels c, repeats n, first stride s], the standard MobileNetV2 table.
  const table: [number, number, number, number][] = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  const blocks: [number, number, number][] = [];
  for (const [t, ch, n, s] of table) for (let i = 0; i < n; i++) blocks.push([t, ch, i === 0 ? s : 1]);
  const used = blocks.slice(0, opts.blocks ?? blocks.length);
  const b = new Builder(seededRandom(seed), batchNorm);
  let c = scaled(32, alpha);
  let x = b.conv('input', 3, c, 3, 2, 1, 'relu6');
  for (const [t, ch, stride] of used) {
    const co = scaled(ch, alpha);
    const hidden = c * t;
    let y = t === 1 ? x : b.conv(x, c, hidden, 1, 1, 1, 'relu6');
    y = b.conv(y, hidden, hidden, 3, stride, hidden, 'relu6');
    y = b.conv(y, hidden, co, 1, 1, 1, 'none');
    x = stride === 1 && c === co ? b.add(x, y) : y;
    c = co;
  }
  const last = alpha > 1 ? scaled(1280, alpha) : 1280;
  x = b.conv(x, c, last, 1, 1, 1, 'relu6');
  return finish(b, x, last, classes, 'mobilenet_v2_random', size);
}

export function toOnnxBytes(spec: OnnxModelSpec): Uint8Array {
  return writeOnnx(spec);
}

import { Tensor } from '../../../src/ir/index.js';
import { writeOnnx, type OnnxModelSpec } from '../../../src/formats/onnx/writer.js';

/** Deterministic pseudo-random numbers in [-0.5, 0.5) (Park–Miller), so fixtures are the same on every run. */
export function randomSource(seed = 1): () => number {
  let s = seed;
  return () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
}

export function randomTensor(shape: number[], rnd: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers('float32', shape, Array.from({ length: n }, rnd));
}

/**
 * A small MobileNet-style NCHW net: strided conv, depthwise conv with ReLU6
 * (Clip), pointwise conv, a residual Add, a per-channel Mul, global pooling and
 * a classifier — every pattern the importer and the layout pass must handle.
 */
export function mobilenetSpec(seed = 1): OnnxModelSpec {
  const rnd = randomSource(seed);
  const T = (shape: number[]) => randomTensor(shape, rnd);
  return {
    opset: 13,
    graph: {
      name: 'tiny_mobilenet',
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2], kernel_shape: [3, 3] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Conv', inputs: ['r1', 'wd', 'bd'], outputs: ['c2'], attrs: { pads: [1, 1, 1, 1], group: 8 } },
        { op: 'Clip', inputs: ['c2', 'lo', 'hi'], outputs: ['r2'] },
        { op: 'Conv', inputs: ['r2', 'wp'], outputs: ['c3'] },
        { op: 'BatchNormalization', inputs: ['c3', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], outputs: ['n3'], attrs: { epsilon: { f: 1e-3 } } },
        { op: 'Add', inputs: ['n3', 'r1'], outputs: ['a3'] },
        { op: 'Mul', inputs: ['a3', 'sc'], outputs: ['m3'] },
        { op: 'GlobalAveragePool', inputs: ['m3'], outputs: ['g'] },
        { op: 'Flatten', inputs: ['g'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'wf', 'bf'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      initializers: {
        w1: T([8, 3, 3, 3]), b1: T([8]), wd: T([8, 1, 3, 3]), bd: T([8]), wp: T([8, 8, 1, 1]), sc: T([8, 1, 1]),
        bn_s: T([8]), bn_b: T([8]), bn_m: T([8]), bn_v: Tensor.fromNumbers('float32', [8], Array.from({ length: 8 }, () => 1 + rnd())),
        lo: Tensor.scalar('float32', 0), hi: Tensor.scalar('float32', 6), wf: T([5, 8]), bf: T([5]),
      },
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 16, 16] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 5] }],
    },
  };
}

export function mobilenetBytes(seed = 1): Uint8Array {
  return writeOnnx(mobilenetSpec(seed));
}

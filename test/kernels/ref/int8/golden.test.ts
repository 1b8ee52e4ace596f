/**
 * `tflite-reference` against golden int8 vectors transcribed (numbers only)
 * from TensorFlow Lite Micro's kernel tests (tensorflow/tflite-micro,
 * tensorflow/lite/micro/kernels/*_test.cc, Apache-2.0). Each case names its
 * source test. Where a test gives float data with quantization parameters, the
 * values are quantized the way TFLM's test helpers do (round half away from
 * zero of v / scale, plus the zero point; per-channel weights symmetric with
 * scale max|w_c| / 127 in float; bias with scale s_x · s_w[c]).
 * Softmax's golden (softmax_test.cc) is in int8.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type Node } from '../../../../src/ir/index.js';
import { q8, quantizeValues, runInt8 } from './helpers.js';

const fl = Math.fround;
const roundAway = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);

function pool(op: 'AveragePool' | 'MaxPool', values: number[], scale: number, zp: number, strides: [number, number], activation: string): number[] {
  const x = q8([1, 2, 4, 1], values, scale, zp);
  const attrs: Node['attrs'] = { kernel_shape: [2, 2], strides, auto_pad: 'VALID', activation };
  return runInt8(op, [x], perTensorQuant(scale, zp), { attrs }).toNumbers();
}

describe('tflite-reference vs TFLM kernel-test goldens', () => {
  // pooling_test.cc: input [1, 2, 4, 1], 2x2 window, VALID, scale 0.25 (1.0 / 0.5 for max), zero point 0; goldens are int8 as given.
  const avgInput = [0, -24, 8, 16, 12, 8, -40, 28];
  it('AveragePool: SimpleAveragePoolTestInt8PaddingValidStride2ActNone', () => {
    expect(pool('AveragePool', avgInput, 0.25, 0, [2, 2], 'none')).toEqual([-1, 3]);
  });
  it('AveragePool: SimpleAveragePoolTestInt8PaddingValidStride1Stride2Relu (stride h 2, w 1)', () => {
    expect(pool('AveragePool', avgInput, 0.25, 0, [2, 1], 'relu')).toEqual([0, 0, 3]);
  });
  it('AveragePool: SimpleAveragePoolTestInt8PaddingValidStride2Stride1ReluN1To1 (stride h 1, w 2)', () => {
    expect(pool('AveragePool', avgInput, 0.25, 0, [1, 2], 'relu_n1_to_1')).toEqual([-1, 3]);
  });
  it('AveragePool: SimpleAveragePoolTestInt8PaddingValidStride2Relu6', () => {
    expect(pool('AveragePool', [12, -24, 32, 16, 12, 8, 40, 28], 0.25, 0, [2, 2], 'relu6')).toEqual([2, 24]);
  });
  it('MaxPool: SimpleMaxPoolTestInt8ActNone', () => {
    expect(pool('MaxPool', [0, 6, 2, 4, 3, 2, 10, 7], 1, 0, [2, 2], 'none')).toEqual([6, 10]);
  });
  it('MaxPool: MaxPoolTestInt8ActRelu', () => {
    expect(pool('MaxPool', [-3, -12, 4, 8, -6, -4, 20, 14], 0.5, 0, [2, 2], 'relu')).toEqual([0, 20]);
  });
  it('MaxPool: MaxPoolTestInt8ActReluN1To1', () => {
    expect(pool('MaxPool', [-2, -6, -2, -4, -3, -2, 10, 7], 1, 0, [2, 2], 'relu_n1_to_1')).toEqual([-1, 1]);
  });

  it('FullyConnected: fully_connected_test.cc SimpleTestQuantizedInt8 (2017 version, exact comparison)', () => {
    // Ranges [-63.5, 64] give scale 0.5 and zero point -1 (F2QS(v) = 2v - 1); the output range [-127, 128] gives scale 1, zero point -1.
    const input = [1, 2, 3, 4, 5, 6, 7, 8, -9, -10, 1, 2, 3, 4, 5, 6, 7, -8, 9, -10];
    const weights = Array.from({ length: 30 }, (_, i) => (i % 10) + 1);
    const x = q8([2, 10], input.map((v) => 2 * v - 1), 0.5, -1);
    const w = q8([3, 10], weights.map((v) => 2 * v - 1), 0.5, -1);
    // Bias F2Q32(v, 0.25) = 4v.
    const b = new Tensor('int32', [3], Int32Array.of(4, 8, 12), perTensorQuant(0.25, 0));
    const y = runInt8('FullyConnected', [x, w, b], perTensorQuant(1, -1));
    expect(y.toNumbers()).toEqual([24, 25, 26, 58, 59, 60].map((v) => v - 1));
  });

  it('Conv: conv_test.cc SimpleTestQuantizedPerChannel (input scale 0.5, output scale 1, stride 2, VALID)', () => {
    const input = [1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 3, 4, 1, 2, 3, 4];
    const filter = [1, 2, 3, 4, -1, 1, -1, 1, -1, -1, 1, 1];
    const bias = [1, 2, 3];
    const golden = [18, 2, 5, 18, 2, 5, 17, 4, 3, 37, 4, 3];
    const sx = 0.5;
    // CreateSymmetricPerChannelQuantizedTensor along the output channels, then the bias with s_x · s_w[c].
    const sw = [0, 1, 2].map((c) => fl(Math.max(...filter.slice(4 * c, 4 * c + 4).map(Math.abs)) / 127));
    const wq = filter.map((v, i) => roundAway(fl(v / sw[Math.floor(i / 4)]!)));
    const bq = bias.map((v, c) => roundAway(fl(v / fl(sx * sw[c]!))));
    const x = q8([2, 2, 4, 1], quantizeValues(input, sx, 0), sx, 0);
    const w = new Tensor('int8', [3, 2, 2, 1], Int8Array.from(wq), { scale: Float32Array.from(sw), zeroPoint: new Int32Array(3), axis: 0 });
    const b = new Tensor('int32', [3], Int32Array.from(bq), { scale: Float32Array.from(sw, (s) => fl(sx * s)), zeroPoint: new Int32Array(3), axis: 0 });
    const y = runInt8('Conv', [x, w, b], perTensorQuant(1, 0), { attrs: { strides: [2, 2], auto_pad: 'VALID' } }).toNumbers();
    // TFLM compares with a tolerance of 1; ours matches the quantized golden exactly.
    expect(y).toEqual(quantizeValues(golden, 1, 0));
  });
});

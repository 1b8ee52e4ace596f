import { describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type Node, type QuantParams } from '../../../src/ir/index.js';
import { evalNode, runOp } from '../../../src/runtime/index.js';


function quantize(x: Tensor, to: string, q: QuantParams, int8Arithmetic: 'tflite-xnnpack' | 'tflite-reference' = 'tflite-xnnpack'): number[] {
  const node: Node = { name: 'q', op: 'Quantize', inputs: ['x'], outputs: ['y'], attrs: { to } };
  return evalNode(node, [x], { outputQuant: [q], ctx: { int8Arithmetic } })[0]!.toNumbers();
}

describe('Dequantize', () => {
  it('computes s·(q − z) per tensor', () => {
    const x = new Tensor('int8', [4], Int8Array.of(-128, -1, 0, 127), perTensorQuant(0.5, -1));
    expect([...runOp('Dequantize', [x])[0]!.data]).toEqual([-63.5, 0, 0.5, 64]);
  });

  it('uses one scale and zero point per slice along the axis', () => {
    const q: QuantParams = { scale: Float32Array.of(1, 0.25), zeroPoint: Int32Array.of(0, 2), axis: 1 };
    const x = new Tensor('int16', [2, 2], Int16Array.of(3, 6, -3, 2), q);
    expect([...runOp('Dequantize', [x])[0]!.data]).toEqual([3, 1, -3, 0]);
  });

  it('refuses an input without quantization parameters', () => {
    expect(() => runOp('Dequantize', [new Tensor('int8', [1])])).toThrow(/quantization/);
  });
});

describe('Quantize', () => {
  const x = new Tensor('float32', [7], Float32Array.of(-1000, -0.75, -0.25, 0.25, 0.75, 1.25, 1000));

  it('rounds ties to even in tflite-xnnpack mode and clamps to the type', () => {
    // x / 0.5 = [-2000, -1.5, -0.5, 0.5, 1.5, 2.5, 2000]
    expect(quantize(x, 'int8', perTensorQuant(0.5, 3))).toEqual([-128, 1, 3, 3, 5, 5, 127]);
  });

  it('rounds ties away from zero in tflite-reference mode', () => {
    expect(quantize(x, 'int8', perTensorQuant(0.5, 3), 'tflite-reference')).toEqual([-128, 1, 2, 4, 5, 6, 127]);
  });

  it('quantizes to uint8 and int16', () => {
    expect(quantize(x, 'uint8', perTensorQuant(0.5, 128))).toEqual([0, 126, 128, 128, 130, 130, 255]);
    expect(quantize(x, 'int16', perTensorQuant(0.25, 0))).toEqual([-4000, -3, -1, 1, 3, 5, 4000]);
  });

  it('quantizes per axis', () => {
    const q: QuantParams = { scale: Float32Array.of(1, 0.1), zeroPoint: Int32Array.of(0, 0), axis: 1 };
    const t = new Tensor('float32', [2, 2], Float32Array.of(2, 2, -3, -0.3));
    expect(quantize(t, 'int8', q)).toEqual([2, 20, -3, -3]);
  });

  it('requantizes a quantized input (int16 → int8)', () => {
    const t = new Tensor('int16', [3], Int16Array.of(-400, 100, 1000), perTensorQuant(0.01, 0));
    expect(quantize(t, 'int8', perTensorQuant(0.05, -10))).toEqual([-90, 10, 127]);
  });

  it('round-trips through Dequantize within half a step', () => {
    const q = perTensorQuant(0.037, -5);
    const vals = Float32Array.from({ length: 50 }, (_, i) => -4 + i * 0.17);
    const node: Node = { name: 'q', op: 'Quantize', inputs: ['x'], outputs: ['y'], attrs: { to: 'int8' } };
    const qx = evalNode(node, [new Tensor('float32', [50], vals)], { outputQuant: [q] })[0]!;
    const back = runOp('Dequantize', [qx])[0]!.data as Float32Array;
    for (let i = 0; i < vals.length; i++) expect(Math.abs(back[i]! - vals[i]!)).toBeLessThanOrEqual(0.037 / 2 + 1e-6);
  });

  it('refuses an output type that is not quantized', () => {
    expect(() => quantize(x, 'float32', perTensorQuant(1, 0))).toThrow(/"to"/);
  });
});

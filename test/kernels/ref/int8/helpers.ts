/**
 * Runs one int8 kernel from int8Kernels directly: shape inference through the
 * op's schema (unless the output shape is given), the output quantization
 * attached to the output info that prepare() sees, and the chosen arithmetic.
 */
import { getSchema, perTensorQuant, Tensor, type Int8Arithmetic, type Node, type QuantParams, type ValueInfo } from '../../../../src/ir/index.js';
import { int8Kernels } from '../../../../src/kernels/ref/int8/index.js';
import '../../../../src/runtime/builtins.js';

export interface RunInt8Options {
  arithmetic?: Int8Arithmetic;
  outShape?: number[];
  attrs?: Node['attrs'];
}

export function runInt8(op: string, inputs: (Tensor | undefined)[], outQuant: QuantParams, opts: RunInt8Options = {}): Tensor {
  const node: Node = { name: `${op}_test`, op, inputs: inputs.map((t, i) => (t ? `in${i}` : '')), outputs: ['out0'], attrs: opts.attrs ?? {} };
  const infos: (ValueInfo | undefined)[] = inputs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant } : undefined));
  let shape = opts.outShape;
  if (!shape) {
    const schema = getSchema(op)!;
    shape = schema.infer({ node, inputs: infos, value: (i) => inputs[i]!, hasValue: (i) => inputs[i] !== undefined })[0]!.shape;
  }
  const outInfo: ValueInfo = { dtype: 'int8', shape, quant: outQuant };
  const kernel = int8Kernels.find((k) => k.op === op && !k.check?.(node, infos, [outInfo]));
  if (!kernel) {
    const reasons = int8Kernels.filter((k) => k.op === op).map((k) => k.check?.(node, infos, [outInfo]));
    throw new Error(`no int8 kernel for ${op}: ${reasons.join('; ')}`);
  }
  const ctx = { int8Arithmetic: opts.arithmetic ?? 'tflite-reference' } as const;
  const out = new Tensor('int8', shape, undefined, outQuant);
  const prepared = kernel.prepare?.({ node, inputs: infos.map((inf, i) => (inf ? { ...inf, constant: inputs[i] } : undefined)), outputs: [outInfo], ctx });
  kernel.run(inputs, [out], node, prepared?.state, ctx);
  return out;
}

export function q8(shape: number[], values: number[], scale: number, zeroPoint: number): Tensor {
  return new Tensor('int8', shape, Int8Array.from(values), perTensorQuant(scale, zeroPoint));
}

/** TFLite's test-helper quantization: round half away from zero of v / scale, plus the zero point, clamped. */
export function quantizeValues(values: number[], scale: number, zeroPoint: number): number[] {
  return values.map((v) => {
    const r = v / scale;
    const q = Math.sign(r) * Math.floor(Math.abs(r) + 0.5) + zeroPoint;
    return Math.max(-128, Math.min(127, q));
  });
}

/**
 * TFLite Micro's test-helper Quantize exactly: the division v / scale happens
 * in float32 (both operands are floats in C), then round half away from zero,
 * plus the zero point, clamped to int8.
 */
export function quantizeF32(values: number[], scale: number, zeroPoint: number): number[] {
  return values.map((v) => {
    const r = Math.fround(Math.fround(v) / Math.fround(scale));
    const q = Math.sign(r) * Math.floor(Math.abs(r) + 0.5) + zeroPoint;
    return Math.max(-128, Math.min(127, q));
  });
}

/**
 * int8 reference kernel for Softmax over the last axis (TFLite's SOFTMAX,
 * beta = 1), output quantized with scale 1/256 and zero point −128.
 *
 * tflite-reference follows TFLite's reference integer softmax: differences to
 * the row maximum are scaled into a Q5.26 fixed-point value, exponentiated
 * with gemmlowp's exp_on_negative_values, summed in Q12.19, and each
 * exponential is multiplied by the fixed-point reciprocal of the sum.
 * Differences below `diffMin` (where exp underflows) give the minimum output.
 *
 * tflite-xnnpack is a float computation (INT8.md formula 6, observed on all
 * tested outputs, not a spec): dequantize, subtract the row maximum, exp,
 * sum in float32 in order, divide, and round half away from zero.
 */
import { attrInt, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor } from '../../../ir/index.js';
import { expOnNegativeValues, reciprocal, reciprocalShift } from './fixedpoint.js';
import {
  INT8_MAX, INT8_MIN, clampInt, fl, missingQuant, quantizeMultiplier, roundHalfAway, roundingDivideByPOT,
  saturatingRoundingDoublingHighMul, tensorQuant,
} from './requantize.js';

const SCALED_DIFF_INTEGER_BITS = 5;
const ACCUMULATION_INTEGER_BITS = 12;

interface SoftmaxState {
  reference: boolean;
  depth: number;
  /** Reference: the input-difference multiplier and left shift, and the cut-off. */
  multiplier: number;
  leftShift: number;
  diffMin: number;
  /** xnnpack: input quantization, 1/output scale, output zero point, and a float32 row of exponentials. */
  sx: number;
  zx: number;
  invSy: number;
  zy: number;
  exps: Float32Array;
}

function prepareSoftmax({ node, inputs, outputs, ctx }: PrepareArgs): { state: SoftmaxState; scratchBytes: number } {
  const x = inputs[0]!;
  const xq = tensorQuant(node, x, 'X'), yq = tensorQuant(node, outputs[0], 'the output');
  const depth = x.shape[x.shape.length - 1]!;
  // PreprocessSoftmaxScaling: beta · s_x as a Q5.26 multiplier, capped below 2^31.
  const real = Math.min(xq.scale * 2 ** (31 - SCALED_DIFF_INTEGER_BITS), 2 ** 31 - 1);
  const { multiplier, shift } = quantizeMultiplier(real);
  // CalculateInputRadius: the largest difference that does not saturate after scaling.
  const diffMin = -Math.floor(((2 ** SCALED_DIFF_INTEGER_BITS - 1) * 2 ** (31 - SCALED_DIFF_INTEGER_BITS)) / 2 ** shift);
  const exps = new Float32Array(depth);
  return {
    state: {
      reference: ctx.int8Arithmetic === 'tflite-reference', depth, multiplier, leftShift: shift, diffMin,
      sx: xq.scale, zx: xq.zeroPoint, invSy: fl(1 / yq.scale), zy: yq.zeroPoint, exps,
    },
    scratchBytes: exps.byteLength,
  };
}

function scaledDiff(diff: number, st: SoftmaxState): number {
  return saturatingRoundingDoublingHighMul(Math.imul(diff, 1 << st.leftShift), st.multiplier);
}

function referenceRow(x: Int8Array, y: Int8Array, base: number, st: SoftmaxState): void {
  const { depth, diffMin } = st;
  let max = INT8_MIN;
  for (let c = 0; c < depth; c++) if (x[base + c]! > max) max = x[base + c]!;
  let sum = 0;
  for (let c = 0; c < depth; c++) {
    const diff = x[base + c]! - max;
    if (diff >= diffMin) {
      const e = expOnNegativeValues(scaledDiff(diff, st), SCALED_DIFF_INTEGER_BITS);
      sum = (sum + roundingDivideByPOT(e, ACCUMULATION_INTEGER_BITS)) | 0;
    }
  }
  const bitsOverUnit = reciprocalShift(sum, ACCUMULATION_INTEGER_BITS);
  const scale = reciprocal(sum);
  for (let c = 0; c < depth; c++) {
    const diff = x[base + c]! - max;
    if (diff >= diffMin) {
      const e = expOnNegativeValues(scaledDiff(diff, st), SCALED_DIFF_INTEGER_BITS);
      const unsat = roundingDivideByPOT(saturatingRoundingDoublingHighMul(scale, e), bitsOverUnit + 31 - 8);
      y[base + c] = clampInt(unsat + INT8_MIN, INT8_MIN, INT8_MAX);
    } else {
      y[base + c] = INT8_MIN;
    }
  }
}

function xnnpackRow(x: Int8Array, y: Int8Array, base: number, st: SoftmaxState): void {
  const { depth, sx, zx, invSy, zy, exps } = st;
  let max = -Infinity;
  for (let c = 0; c < depth; c++) {
    const v = fl(sx * (x[base + c]! - zx));
    if (v > max) max = v;
  }
  let sum = 0;
  for (let c = 0; c < depth; c++) {
    const e = fl(Math.exp(fl(fl(sx * (x[base + c]! - zx)) - max)));
    exps[c] = e;
    sum = fl(sum + e);
  }
  for (let c = 0; c < depth; c++) {
    y[base + c] = clampInt(roundHalfAway(fl(fl(exps[c]! / sum) * invSy)) + zy, INT8_MIN, INT8_MAX);
  }
}

function runSoftmax(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: SoftmaxState): void {
  const x = inputs[0]!.data as Int8Array, y = outputs[0]!.data as Int8Array;
  for (let base = 0; base < x.length; base += st.depth) {
    if (st.reference) referenceRow(x, y, base, st); else xnnpackRow(x, y, base, st);
  }
}

export const int8SoftmaxKernels: readonly KernelDef[] = [
  defineKernel<SoftmaxState>({
    op: 'Softmax', backend: 'ref', dtypes: ['int8'],
    check(node, inputs, outputs) {
      const missing = missingQuant([inputs[0], outputs[0]], ['X', 'the output']);
      if (missing) return missing;
      const rank = inputs[0]!.shape.length;
      const axis = attrInt(node, 'axis', -1);
      if (axis !== -1 && axis !== rank - 1) return `int8 Softmax runs over the last axis only, not axis ${axis}`;
      const yq = outputs[0]!.quant!;
      if (yq.scale[0] !== fl(1 / 256) || yq.zeroPoint[0] !== -128) {
        return `int8 Softmax needs the output quantized with scale 1/256 and zero point -128 (TFLite's), got ${yq.scale[0]} and ${yq.zeroPoint[0]}`;
      }
      return undefined;
    },
    prepare: prepareSoftmax,
    run: runSoftmax,
  }),
];

/**
 * Reference kernels of Quantize and Dequantize (TFLite semantics, per-tensor or
 * per-axis parameters).
 *
 * Dequantize: y = fl(s · (q − z)). The product of a float32 scale and an integer
 * below 2^24 is exact in a double, so the single rounding to float32 on store
 * equals TFLite's `static_cast<float>(scale * (q - zero_point))`.
 *
 * Quantize from float, per int8 arithmetic:
 * - `tflite-reference`: q = clamp(round_half_away(fl(x / s)) + z), TFLite's
 *   reference AffineQuantize (TfLiteRound is std::round) and TFLM.
 * - `tflite-xnnpack`: q = clamp(rne(fl(x · fl(1/s))) + z), the form of XNNPACK's
 *   f32→qs8 convert (it is given the reciprocal scale and rounds to nearest even).
 *   Derived from XNNPACK's convert kernel, not yet measured against LiteRT.js.
 * - float → int16 in `tflite-xnnpack`: q = clamp(round_half_away(x / s) + z)
 *   with the division in double. XNNPACK takes no int16, so LiteRT.js runs
 *   TFLite's optimized AffineQuantize, which divides by a double scale
 *   (measured bit-exact with LiteRT.js 2.5.3; 40 % of the test values sit on
 *   exact ties, and the float forms above missed 10–15 % of all values).
 *   `tflite-reference` keeps the float division of TFLite's reference
 *   AffineQuantize, which TFLM runs.
 * The zero point is added in double, where the sum is exact, and the result is
 * then clamped to the output type's range.
 *
 * Quantize from a quantized input with int16 on either side (int16 → int8,
 * int16 → int16, int8 → int16; one scale each) is TFLite's Requantize in both
 * arithmetics: m = QuantizeMultiplier(s_in / s_out) in double, then
 * q = clamp(MultiplyByQuantizedMultiplier(q_in − z_in, m) + z_out) (measured
 * bit-exact with LiteRT.js 2.5.3, power-of-two ratios included; the former
 * dequantize-and-quantize missed up to 12 % of int16 → int16 values). TFLM's
 * quantize_common.cc requantizes the same way, and also int8 → int8, so
 * `tflite-reference` runs int8 → int8 through it too. In `tflite-xnnpack`,
 * int8 → int8 with s_in / s_out in [2^-8, 2^7] is XNNPACK's qs8 convert
 * instead: m = lrintf(256 · fl(s_in / s_out)), q = clamp(((q_in − z_in) · m
 * + 128) >> 8 (arithmetic) + z_out); outside that range TFLite's Requantize
 * runs (measured bit-exact with LiteRT.js, the range's ends included:
 * test/oracle/int16-elementwise-litert.test.ts). Per-axis quantized inputs
 * still dequantize exactly in double and quantize the result as above.
 *
 * Dequantize of int16 needed no change: measured bit-exact with LiteRT.js.
 */
import {
  CloudlessError, defineKernel, integerRange, sizeOf,
  type KernelDef, type NumberArray, type QuantParams, type Tensor,
} from '../../ir/index.js';
import { QUANTIZED_DTYPES } from '../../ir/ops/quant.js';
import { xnnpackConvertMultiplier } from '../../ir/quant-math.js';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from './int8/requantize.js';

/** Per-element parameter lookup: element i uses slice `Math.floor(i / inner) % channels`. */
interface AxisLayout {
  channels: number;
  inner: number;
}

function layoutOf(q: QuantParams, shape: readonly number[], what: string): AxisLayout {
  if (q.scale.length === 1) return { channels: 1, inner: 1 };
  const axis = q.axis ?? 0;
  if (axis < 0 || axis >= shape.length || shape[axis] !== q.scale.length) {
    throw new CloudlessError('E_SHAPE', `${what}: ${q.scale.length} quantization scales do not match axis ${axis} of shape [${shape.join(', ')}]`);
  }
  return { channels: q.scale.length, inner: sizeOf(shape.slice(axis + 1)) };
}

function requireQuant(t: Tensor | { quant?: QuantParams }, what: string): QuantParams {
  if (!t.quant) throw new CloudlessError('E_DTYPE', `${what} has no quantization parameters`);
  return t.quant;
}

function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const dequantizeKernel = defineKernel<undefined>({
  op: 'Dequantize',
  backend: 'ref',
  dtypes: ['int8', 'uint8', 'int16', 'int32'],
  check(node, inputs) {
    return inputs[0]?.quant ? undefined : `input of ${node.name} has no quantization parameters`;
  },
  run(inputs, outputs, node) {
    const x = inputs[0]!;
    const q = requireQuant(x, `node ${node.name} (Dequantize) input`);
    const { channels, inner } = layoutOf(q, x.shape, `node ${node.name} (Dequantize)`);
    const src = x.data as NumberArray;
    const dst = outputs[0]!.data as Float32Array;
    for (let i = 0; i < src.length; i++) {
      const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
      dst[i] = q.scale[c]! * (src[i]! - q.zeroPoint[c]!);
    }
  },
});

const quantizeKernel = defineKernel<undefined>({
  op: 'Quantize',
  backend: 'ref',
  dtypes: ['float32', 'int8', 'uint8', 'int16'],
  // The output's quantization parameters are read from the output tensor at run
  // time: eager evaluation (evalNode) attaches them to the tensor only.
  check(node, inputs, outputs) {
    if (inputs[0]?.dtype !== 'float32' && !inputs[0]?.quant) return `quantized input of ${node.name} has no quantization parameters`;
    return outputs[0] && QUANTIZED_DTYPES.includes(outputs[0].dtype) ? undefined : `cannot quantize to ${outputs[0]?.dtype}`;
  },
  run(inputs, outputs, node, _state, ctx) {
    const x = inputs[0]!;
    const y = outputs[0]!;
    const qy = requireQuant(y, `node ${node.name} (Quantize) output`);
    const out = layoutOf(qy, y.shape, `node ${node.name} (Quantize) output`);
    const [lo, hi] = integerRange(y.dtype);
    const src = x.data as NumberArray;
    const dst = y.data as NumberArray;
    const qx = x.dtype === 'float32' ? undefined : requireQuant(x, `node ${node.name} (Quantize) input`);
    const inp = qx ? layoutOf(qx, x.shape, `node ${node.name} (Quantize) input`) : undefined;
    const reference = ctx.int8Arithmetic === 'tflite-reference';
    // int8 → int8 in tflite-xnnpack, one scale each: XNNPACK's qs8 convert (see the header).
    if (qx && !reference && x.dtype === 'int8' && y.dtype === 'int8' && qx.scale.length === 1 && qy.scale.length === 1) {
      const m = xnnpackConvertMultiplier(qx.scale[0]!, qy.scale[0]!);
      if (m !== undefined) {
        const zx = qx.zeroPoint[0]!, zy = qy.zeroPoint[0]!;
        for (let i = 0; i < src.length; i++) {
          const q = (((src[i]! - zx) * m + 128) >> 8) + zy;
          dst[i] = q < lo ? lo : q > hi ? hi : q;
        }
        return;
      }
    }
    // int16 in or out, one scale each: TFLite's Requantize, in both arithmetics (see the header).
    if (qx && requantizes(x.dtype, y.dtype) && qx.scale.length === 1 && qy.scale.length === 1) {
      const { multiplier, shift } = quantizeMultiplier(qx.scale[0]! / qy.scale[0]!);
      const zx = qx.zeroPoint[0]!, zy = qy.zeroPoint[0]!;
      for (let i = 0; i < src.length; i++) {
        const q = multiplyByQuantizedMultiplier(src[i]! - zx, multiplier, shift) + zy;
        dst[i] = q < lo ? lo : q > hi ? hi : q;
      }
      return;
    }
    // float → int16 in tflite-xnnpack: TFLite's optimized AffineQuantize divides by the scale in double.
    const doubleDivide = !reference && !qx && y.dtype === 'int16';
    for (let i = 0; i < src.length; i++) {
      let v = src[i]!;
      if (qx && inp) {
        const c = inp.channels === 1 ? 0 : Math.floor(i / inp.inner) % inp.channels;
        v = qx.scale[c]! * (v - qx.zeroPoint[c]!);
      }
      const c = out.channels === 1 ? 0 : Math.floor(i / out.inner) % out.channels;
      let r: number;
      if (doubleDivide) {
        r = roundHalfAway(v / qy.scale[c]!);
      } else if (reference) {
        r = roundHalfAway(Math.fround(v / qy.scale[c]!));
      } else {
        r = roundHalfEven(Math.fround(v * Math.fround(1 / qy.scale[c]!)));
      }
      const q = r + qy.zeroPoint[c]!;
      dst[i] = q < lo ? lo : q > hi ? hi : q;
    }
  },
});

/** The quantized pairs TFLite quantizes with its fixed-point Requantize (one scale on each side). */
function requantizes(from: string, to: string): boolean {
  return from === 'int16' || to === 'int16' || (from === 'int8' && to === 'int8');
}

export const quantKernels: readonly KernelDef[] = [quantizeKernel, dequantizeKernel];

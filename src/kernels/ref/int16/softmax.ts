/**
 * 16x8 Softmax over the last axis: int16 input with one scale and zero point
 * 0, int16 output with TFLite's fixed quantization, scale 1/32768 and zero
 * point 0 (INT16_SOFTMAX_OUTPUT). This is TFLite's builtin int16 SOFTMAX
 * (reference_ops::SoftmaxInt16, which both the builtin and the *_REF
 * registrations call, so the two int8 arithmetics compute the same here; XNNPACK
 * takes no int16).
 *
 * The arithmetic runs on two 513-entry Q0.15 tables that TFLite builds in
 * prepare (LUTPopulate, in double): exp(x) for x in [−10, 0] and 1/(1 + x) for
 * x in [0, 1], each sampled at 512 steps with a correction of half the
 * midpoint error, and read by linear interpolation between neighbours ("table
 * lookup" below: the top 9 bits of a value pick the entry, the low 7 the
 * weight). Per row:
 *  1. d = x − max(row) is scaled with a fixed-point multiplier for
 *     beta · s_x / (10/65535), so that d = −10 (real) maps to −65535, and
 *     recentred by +32767 into the exp table's int16 input: e = exp(d) in Q0.15.
 *  2. The sum of e in int32 (Q16.15) is normalized to 16 significant bits and
 *     recentred so that the 1/(1 + x) table gives r = 1/sum, normalized.
 *  3. y = (e · r) shifted back by the normalization, rounded half up, clamped
 *     to [0, 32767].
 *
 * Step 1 depends on d only, so prepare() evaluates it once for each of the
 * 65,536 possible differences into a table (a cache: every entry is what the
 * element's own arithmetic gives).
 *
 * The output scale is not used by the arithmetic: TFLite accepts any scale
 * within 0.1% of 1/32768 (zero point 0) and its values are Q0.15 whatever the
 * scale. The input scale is free; from about 5 up, d · 2^shift wraps in int32
 * as in the C code (LiteRT.js's wraps the same way). Rows are limited to
 * 65,536 elements, where the int32 sum of exponentials cannot overflow. Some
 * TFLite versions refuse int16 SOFTMAX above rank 4; LiteRT.js 2.5.3 runs rank
 * 5 (measured), and so does this kernel (any rank ≥ 1).
 *
 * Every generation of TFLite's table builder (gen_lut with a std::function,
 * gen_lut<double>, LUTPopulate<double>) gives the same two tables. TFLite
 * Micro builds them in float (gen_lut<float>): computed with float
 * arithmetic, its 1/(1 + x) table differs by one in entries 160 and 294
 * (24966 and 20816 for 24967 and 20815), so TFLite Micro's int16 Softmax can
 * differ by an LSB where the normalized sum falls in those two segments. Not
 * reproduced here (no TFLite Micro oracle): `tflite-reference` is TFLite's
 * SOFTMAX_REF, which equals the builtin kernel.
 */
import { attrInt, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor } from '../../../ir/index.js';
import {
  INT16_MAX, INT16_MIN, clampInt, fl, int16QuantRefusal, multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway,
} from '../int8/requantize.js';
import { opTraits } from '../../../ir/ops/traits.js';

/** TFLite's fixed int16 SOFTMAX output quantization (checked in SoftmaxPrepare). */
export const INT16_SOFTMAX_OUTPUT: Readonly<{ scale: number; zeroPoint: number }> = Object.freeze({
  scale: opTraits('Softmax').fixedOutput!.int16![0], zeroPoint: opTraits('Softmax').fixedOutput!.int16![1],
});

/** The longest row whose int32 sum of exponentials (each ≤ 32767) cannot overflow. */
const MAX_DEPTH = 65536;

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/**
 * TFLite's LUTPopulate for int16 in double: `f` over the real range of an
 * int16 input quantized with (inputScale, inputZeroPoint), output quantized
 * with (outputScale, outputZeroPoint), in 512 steps plus the end point.
 * Each entry is f at the step's start, moved by half the error that linear
 * interpolation would make at the step's midpoint (rounded), so that the
 * lookup's error is spread over both ends. Rounding is half away from zero
 * (std::round); every operation is a double operation, as in the C code.
 */
function lutPopulate(inputScale: number, inputZeroPoint: number, outputScale: number, outputZeroPoint: number, f: (x: number) => number): Int16Array {
  const inputMin = inputScale * (INT16_MIN - inputZeroPoint);
  const inputMax = inputScale * (INT16_MAX - inputZeroPoint);
  const outputMin = outputScale * (INT16_MIN - outputZeroPoint);
  const outputMax = outputScale * (INT16_MAX - outputZeroPoint);
  const steps = 512;
  const step = (inputMax - inputMin) / steps;
  const halfStep = step / 2;
  const toOutput = 65536 / (outputMax - outputMin);
  const round = roundHalfAway;
  const lut = new Int16Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const val = f(inputMin + i * step);
    const valMidpoint = f(inputMin + i * step + halfStep);
    const valNext = f(inputMin + (i + 1) * step);
    const sample = round(val * toOutput);
    const midpointInterpolated = round((valNext * toOutput + round(val * toOutput)) / 2);
    const midpointError = midpointInterpolated - round(valMidpoint * toOutput);
    const bias = round(midpointError / 2);
    lut[i] = clampInt(sample - bias, INT16_MIN, INT16_MAX);
  }
  lut[steps] = clampInt(round(f(inputMax) * toOutput), INT16_MIN, INT16_MAX);
  return lut;
}

/** int16 range as TFLite's SoftmaxPrepare counts it (max − min). */
const RANGE = INT16_MAX - INT16_MIN;

/** exp(x) for x in [−10, 0]: input −32768 … 32767 (zero point 32767), output Q0.15 (scale 2/65535 over [−1, 1]). */
const EXP_LUT = lutPopulate(10 / RANGE, INT16_MAX, 2 / RANGE, 0, Math.exp);
/** 1/(1 + x) for x in [0, 1]: input −32768 … 32767 (zero point −32768), output as for exp. */
const ONE_OVER_ONE_PLUS_X_LUT = lutPopulate(1 / RANGE, INT16_MIN, 2 / RANGE, 0, (x) => 1 / (1 + x));

/**
 * TFLite's int16 LUTLookup: entry `256 + (v >> 7)` plus the slope to the next
 * entry times the low 7 bits of v, rounded half up (an arithmetic shift by 7);
 * the slope and the sum are int16 in the C code.
 */
function lutLookup(v: number, lut: Int16Array): number {
  const index = 256 + (v >> 7);
  const base = lut[index]!;
  const slope = ((lut[index + 1]! - base) << 16) >> 16;
  const delta = (slope * (v & 0x7f) + 64) >> 7;
  return ((base + delta) << 16) >> 16;
}

// ---------------------------------------------------------------------------
// Kernel
// ---------------------------------------------------------------------------

interface SoftmaxState {
  depth: number;
  /** exp(d) in Q0.15 for d = 0, −1, … −65535 (index −d). */
  expOfDiff: Int16Array;
  /** The 1/(1 + x) table (shared, read-only), for the C generator, which folds it. */
  reciprocalLut: Int16Array;
  /** What expOfDiff is built from, for the C generator, which computes it: the exp LUT and the input's multiplier. */
  expLut: Int16Array;
  expMultiplier: number;
  expShift: number;
}

function prepareSoftmax({ inputs }: PrepareArgs): { state: SoftmaxState; scratchBytes: number } {
  const x = inputs[0]!;
  const depth = x.shape[x.shape.length - 1]!;
  // beta · s_x / (10/65535) in double, beta · s_x a float product (beta is 1: cloudless's Softmax has none).
  const beta = 1;
  const { multiplier, shift } = quantizeMultiplier(fl(x.quant!.scale[0]! * beta) / (10 / 65535));
  const expOfDiff = new Int16Array(65536);
  for (let k = 0; k < 65536; k++) {
    const scaled = multiplyByQuantizedMultiplier(-k, multiplier, shift);
    // Recentred into the table's input; the addition wraps in int32 like the C code's.
    const v = clampInt((scaled + 32767) | 0, INT16_MIN, INT16_MAX);
    expOfDiff[k] = lutLookup(v, EXP_LUT);
  }
  return {
    state: { depth, expOfDiff, reciprocalLut: ONE_OVER_ONE_PLUS_X_LUT, expLut: EXP_LUT, expMultiplier: multiplier, expShift: shift },
    scratchBytes: expOfDiff.byteLength,
  };
}

function softmaxRow(x: Int16Array, y: Int16Array, base: number, st: SoftmaxState): void {
  const { depth, expOfDiff } = st;
  let max = INT16_MIN;
  for (let c = 0; c < depth; c++) if (x[base + c]! > max) max = x[base + c]!;
  // The exponentials are kept in y until the last step, as TFLite does; their sum is Q16.15.
  let sum = 0;
  for (let c = 0; c < depth; c++) {
    const e = expOfDiff[max - x[base + c]!]!;
    y[base + c] = e;
    sum = (sum + e) | 0;
  }
  // Normalize the sum to [2^30, 2^31), keep its top 17 bits (rounded): 1 + x with x in
  // [0, 1] as 65536 … 131072, recentred into the 1/(1 + x) table's input.
  const headroomPlusOne = Math.clz32(sum);
  const shiftedSum = Math.floor((sum * 2 ** (headroomPlusOne - 1) + (1 << 13)) / (1 << 14));
  const reciprocal = lutLookup(clampInt(shiftedSum - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX), ONE_OVER_ONE_PLUS_X_LUT);
  // e · r is Q0.30 over the normalized sum: shift by 31 − headroomPlusOne, rounding half up.
  const rightShift = 31 - headroomPlusOne;
  const round = 2 ** (rightShift - 1), divisor = 2 ** rightShift;
  for (let c = 0; c < depth; c++) {
    y[base + c] = clampInt(Math.floor((y[base + c]! * reciprocal + round) / divisor), 0, INT16_MAX);
  }
}

function runSoftmax(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: SoftmaxState): void {
  const x = inputs[0]!.data as Int16Array, y = outputs[0]!.data as Int16Array;
  for (let base = 0; base < x.length; base += st.depth) softmaxRow(x, y, base, st);
}

/**
 * TFLite's SoftmaxPrepare for int16: output zero point 0 and
 * |s_y − 1/32768| ≤ 0.001 · 1/32768 in float arithmetic.
 */
function outputRefusal(scale: number, zeroPoint: number): string | undefined {
  const want = fl(1 / 32768);
  const delta = scale > want ? fl(scale - want) : fl(want - scale);
  if (zeroPoint !== 0 || delta > fl(fl(0.001) / 32768)) {
    return `int16 Softmax needs the output quantized with scale 1/32768 (within 0.1%) and zero point 0 (TFLite's SOFTMAX), got ${scale} and ${zeroPoint}`;
  }
  return undefined;
}

export const int16SoftmaxKernels: readonly KernelDef[] = [
  defineKernel<SoftmaxState>({
    op: 'Softmax', backend: 'ref', dtypes: ['int16'],
    check(node, inputs, outputs) {
      const refusal = int16QuantRefusal(inputs[0], 'X') ?? int16QuantRefusal(outputs[0], 'the output');
      if (refusal) return refusal;
      const shape = inputs[0]!.shape, rank = shape.length;
      if (rank === 0) return 'int16 Softmax needs an input of rank 1 or more (TFLite\'s SOFTMAX)';
      const axis = attrInt(node, 'axis', -1);
      if (axis !== -1 && axis !== rank - 1) return `int16 Softmax runs over the last axis only, not axis ${axis}`;
      if (shape[rank - 1]! > MAX_DEPTH) {
        return `int16 Softmax takes rows of at most ${MAX_DEPTH} elements (TFLite's int32 sum of exponentials overflows beyond), got ${shape[rank - 1]}`;
      }
      const yq = outputs[0]!.quant!;
      return outputRefusal(yq.scale[0]!, yq.zeroPoint[0] ?? 0);
    },
    prepare: prepareSoftmax,
    run: runSoftmax,
  }),
];

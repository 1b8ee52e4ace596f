/**
 * 16x8 reference kernels for pooling, ReduceMean, Resize, Concat and Pad on
 * quantized int16 values (one scale, zero point 0).
 *
 * XNNPACK takes none of these in int16, so LiteRT.js (`tflite-xnnpack`) runs
 * TFLite's builtin kernels, which share most of their code with the int8 ones:
 * - AVERAGE_POOL_2D, MAX_POOL_2D: the int8 integer code on int16 values (sum
 *   over the in-bounds taps divided rounding half away from zero; maximum
 *   started at −32768); the fused activation is quantized with the output's scale.
 * - RESIZE_BILINEAR: ResizeBilinearInteger (Q10 coordinates, Q20 blend rounded
 *   half away from zero), which is the int8 kernel's `tflite-reference` path,
 *   in both arithmetics. RESIZE_NEAREST_NEIGHBOR: the int8 float index rule.
 * - CONCATENATION, PAD: raw copies; PAD fills with the output zero point (0)
 *   or an int16 constant_value.
 * - MEAN: see int16Mean below; the one op whose two arithmetics differ
 *   (TFLite Micro truncates S/N when the scales are equal).
 *
 * TFLite checks that int16 zero points are 0, but not that a pool, resize,
 * concat or pad keeps its input's scale: it moves raw values whatever the
 * scales say. Those kernels here require the output quantized like every
 * input (check() says why otherwise), since anything else would change the
 * real values the graph means.
 *
 * Transpose, Reshape, Squeeze, Unsqueeze, Flatten, Slice and friends move raw
 * values and run on the all-dtype shape kernels, which keep the quantization
 * the graph gives their outputs.
 */
import {
  attrString, defineKernel, sizeOf, type KernelDef, type Node, type PrepareArgs, type ValueInfo,
} from '../../../ir/index.js';
import { prepareConcat, preparePad, runConcat, runPad, type ConcatState, type PadState } from '../int8/data.js';
import {
  type MeanState, countIncludePadReason, meanConstants, poolKernels, prepareMeanWith, preparePool,
} from '../int8/pool.js';
import { checkResizeGeometry, prepareResize, runResize, type ResizeState } from '../int8/resize.js';
import {
  INT16_MAX, INT16_MIN, clampInt, int16QuantRefusal, missingInt16Quant, multiplyByQuantizedMultiplier,
} from '../int8/requantize.js';

const INT16_RANGE = [INT16_MIN, INT16_MAX] as const;

/** A `check()` reason for the raw-moving ops: X and the output quantized int16 alike. */
function checkSameInt16(op: string, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined {
  const missing = missingInt16Quant([inputs[0], outputs[0]], ['X', 'the output']);
  if (missing) return missing;
  if (inputs[0]!.quant!.scale[0] !== outputs[0]!.quant!.scale[0]) {
    return `int16 ${op} moves raw values: X and the output must share one scale (TFLite would reinterpret them)`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// AveragePool, MaxPool
// ---------------------------------------------------------------------------

function checkPool(node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined {
  return checkSameInt16(node.op, inputs, outputs) ?? countIncludePadReason(node, 'int16');
}

const preparePool16 = (args: PrepareArgs) => preparePool(args, INT16_RANGE);

// ---------------------------------------------------------------------------
// ReduceMean
// ---------------------------------------------------------------------------

/**
 * The int16 mean of N values (S, the sum of the raw int16 values, in; one
 * int16 out). Both arithmetics use the multiplier of TFLite Micro's
 * QuantizedMeanOrSum, which the int8 kernel's reference mode also takes
 * (meanConstants): s_x/s_y as M·2^shift, with 1/N folded in as M·2^k / N
 * (integer division) and shift − k; y = MBQM(S, M', shift') clamped.
 * - tflite-xnnpack: LiteRT.js's builtin int16 MEAN computes this for every
 *   form tested (4-D H,W with and without keepdims, one axis, three axes,
 *   ranks 2 to 4), equal scales included; the older reduce.cc paths (a rounded
 *   S/N after MBQM for 4-D H,W keepdims, a truncated S/N for equal scales, a
 *   float path elsewhere) each disagree with it on some outputs.
 * - tflite-reference, TFLite Micro's EvalIntegerMean<int16_t>: the same,
 *   except that equal input and output scales take reference_ops::Mean, S / N
 *   truncated toward zero (C's integer division), which can be 1 LSB below.
 */
function int16Mean(reference: boolean, sx: number, sy: number, n: number): (sum: number) => number {
  const c = meanConstants(sx, 0, sy, 0, n);
  if (reference && c.truncating) return (sum) => Math.trunc(sum / n);
  return (sum) => clampInt(multiplyByQuantizedMultiplier(sum | 0, c.multiplier, c.shift), INT16_MIN, INT16_MAX);
}

function prepareMean(args: PrepareArgs): { state: MeanState; scratchBytes: number } {
  const reference = args.ctx.int8Arithmetic === 'tflite-reference';
  return prepareMeanWith(args, (n, xq, yq) => int16Mean(reference, xq.scale, yq.scale, n), (n, xq, yq) => {
    const c = meanConstants(xq.scale, 0, yq.scale, 0, n);
    return { ...c, n, zx: 0, zy: 0, lo: INT16_MIN, hi: INT16_MAX, truncating: reference && c.truncating, float: false };
  });
}

// ---------------------------------------------------------------------------
// Resize
// ---------------------------------------------------------------------------

function checkResize(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  return checkSameInt16('Resize', inputs, outputs) ?? checkResizeGeometry(node, inputs, outputs);
}

/** Bilinear is TFLite's ResizeBilinearInteger in both arithmetics (XNNPACK has no int16 resize). */
const prepareResize16 = (args: PrepareArgs) => prepareResize(args, true);

// ---------------------------------------------------------------------------
// Concat, Pad
// ---------------------------------------------------------------------------

/**
 * TFLite's int16 CONCATENATION checks only that every zero point is 0 and
 * then copies raw values, never rescaling (unlike uint8's
 * ConcatenationWithScaling): inputs quantized unlike the output would be
 * reinterpreted, so they are refused here.
 */
function checkConcat(_node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  const refused = int16QuantRefusal(outputs[0], 'the output');
  if (refused) return refused;
  const scale = outputs[0]!.quant!.scale[0];
  for (let i = 0; i < inputs.length; i++) {
    const v = inputs[i];
    if (v === undefined) continue;
    const input = int16QuantRefusal(v, `input ${i}`);
    if (input) return input;
    if (v.quant!.scale[0] !== scale) {
      return `input ${i} is quantized unlike the output: TFLite's int16 CONCATENATION copies raw values without rescaling, so the inputs must share the output's scale`;
    }
  }
  return undefined;
}

function checkPad(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  const reason = checkSameInt16('Pad', inputs, outputs);
  if (reason) return reason;
  if (attrString(node, 'mode', 'constant') !== 'constant') return 'reflect/edge/wrap padding moves raw values: the all-dtype Pad kernel runs it';
  const cv = inputs[2];
  if (cv && sizeOf(cv.shape) > 0 && cv.dtype !== 'int16') return `16x8 Pad needs an int16 constant_value, got ${cv.dtype}`;
  return undefined;
}

export const int16DataKernels: readonly KernelDef[] = [
  ...poolKernels('int16', checkPool, preparePool16, prepareMean),
  defineKernel<ResizeState>({ op: 'Resize', backend: 'ref', dtypes: ['int16'], check: checkResize, prepare: prepareResize16, run: runResize }),
  defineKernel<ConcatState>({ op: 'Concat', backend: 'ref', dtypes: ['int16'], check: checkConcat, prepare: prepareConcat, run: runConcat }),
  defineKernel<PadState>({ op: 'Pad', backend: 'ref', dtypes: ['int16'], check: checkPad, prepare: preparePad, run: runPad }),
];

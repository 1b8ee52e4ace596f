/**
 * 16x8 Conv, DepthwiseConv, FullyConnected and ConvTranspose: the int8 reference loops
 * (ref/int8/conv.ts) over int16 activations with zero point 0, int8 weights
 * (symmetric, per output channel or per tensor) and an int64 bias of scale
 * s_x · s_w. The accumulator is TFLite's int64 one (|acc| < 2^47 by TFLite's
 * own bound; doubles hold it exactly) and the epilogue is the wide
 * MultiplyByQuantizedMultiplier (requantize.ts), in both arithmetics: with an
 * int64 bias TFLite and LiteRT.js run reference_integer_ops' 16x8 kernels,
 * and XNNPACK takes no int16.
 */
import type { KernelDef } from '../../../ir/index.js';
import { weightedKernels } from '../int8/conv.js';

export const int16ConvKernels: readonly KernelDef[] = weightedKernels('int16');

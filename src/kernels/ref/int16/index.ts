/**
 * 16x8 reference kernels: TFLite's int16 activation scheme (symmetric int16
 * activations, zero point 0; int8 weights per output channel; int64 bias).
 * XNNPACK has no int16 path, so LiteRT.js and TFLite run these ops on their
 * builtin kernels in both of cloudless's int8 arithmetics; where TFLite's
 * reference kernels (and TFLite Micro) compute otherwise, the kernel says so.
 * Each kernel refuses, through check(), int16 values without quantization
 * parameters, so plain int16 integer math still reaches the generic kernels.
 */
import type { KernelDef } from '../../../ir/index.js';
import { int16ActivationKernels } from './activation.js';
import { int16ConvKernels } from './conv.js';
import { int16DataKernels } from './data.js';
import { int16ElementwiseKernels } from './elementwise.js';
import { int16SoftmaxKernels } from './softmax.js';

export const int16Kernels: readonly KernelDef[] = [
  ...int16ConvKernels,
  ...int16ElementwiseKernels,
  ...int16ActivationKernels,
  ...int16DataKernels,
  ...int16SoftmaxKernels,
];

/**
 * int8 reference kernels (TFLite's int8 scheme) in the two named arithmetics,
 * `tflite-xnnpack` and `tflite-reference` (docs/int8.md). Each kernel refuses,
 * through check(), int8 values without quantization parameters, so plain int8
 * integer math still reaches the all-integer kernels: register this list before
 * the other reference kernels so that quantized nodes find these first.
 */
import type { KernelDef } from '../../../ir/index.js';
import { int8ConvKernels } from './conv.js';
import { int8DataKernels } from './data.js';
import { int8ElementwiseKernels } from './elementwise.js';
import { int8PoolKernels } from './pool.js';
import { int8ResizeKernels } from './resize.js';
import { int8SoftmaxKernels } from './softmax.js';

export const int8Kernels: readonly KernelDef[] = [
  ...int8ConvKernels,
  ...int8ElementwiseKernels,
  ...int8PoolKernels,
  ...int8SoftmaxKernels,
  ...int8DataKernels,
  ...int8ResizeKernels,
];

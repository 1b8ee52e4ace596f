import type { KernelDef } from '../../../ir/index.js';

export const int16ElementwiseKernels: readonly KernelDef[] = [];

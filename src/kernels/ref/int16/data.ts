import type { KernelDef } from '../../../ir/index.js';

export const int16DataKernels: readonly KernelDef[] = [];

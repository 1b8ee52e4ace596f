import type { KernelDef } from '../../ir/index.js';
export const elementwiseKernels: readonly KernelDef[] = [];

import type { KernelDef } from '../../ir/index.js';
export const nnKernels: readonly KernelDef[] = [];

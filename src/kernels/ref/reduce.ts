import type { KernelDef } from '../../ir/index.js';
export const reduceKernels: readonly KernelDef[] = [];

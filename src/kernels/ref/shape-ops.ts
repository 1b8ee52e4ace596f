import type { KernelDef } from '../../ir/index.js';
export const shapeOpKernels: readonly KernelDef[] = [];

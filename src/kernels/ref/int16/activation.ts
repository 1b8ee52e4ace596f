import type { KernelDef } from '../../../ir/index.js';

export const int16ActivationKernels: readonly KernelDef[] = [];

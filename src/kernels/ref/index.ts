import type { KernelDef } from '../../ir/index.js';
import { elementwiseKernels } from './elementwise.js';
import { reduceKernels } from './reduce.js';
import { nnKernels } from './nn.js';
import { shapeOpKernels } from './shape-ops.js';
import { quantKernels } from './quant.js';

/** Every reference kernel. */
export const refKernels: readonly KernelDef[] = [
  ...elementwiseKernels,
  ...reduceKernels,
  ...nnKernels,
  ...shapeOpKernels,
  ...quantKernels,
];

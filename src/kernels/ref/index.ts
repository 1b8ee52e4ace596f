import type { KernelDef } from '../../ir/index.js';
import { elementwiseKernels } from './elementwise.js';
import { reduceKernels } from './reduce.js';
import { nnKernels } from './nn.js';
import { shapeOpKernels } from './shape-ops.js';
import { quantKernels } from './quant.js';
import { int8Kernels } from './int8/index.js';
import { int16Kernels } from './int16/index.js';
import { signalKernels } from './signal.js';
import { recurrentKernels } from './recurrent.js';
import { qlinearKernels } from './qlinear.js';
import { mlKernels } from './ml.js';

/** Every reference kernel. */
export const refKernels: readonly KernelDef[] = [
  // Quantized int8 and int16 kernels first: the generic kernels of the same ops also take int8 and int16 (as plain integers).
  ...int8Kernels,
  ...int16Kernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...nnKernels,
  ...shapeOpKernels,
  ...quantKernels,
  ...signalKernels,
  ...recurrentKernels,
  ...qlinearKernels,
  ...mlKernels,
];

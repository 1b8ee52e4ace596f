import type { KernelDef } from '../../ir/index.js';
import { convKernels } from './conv.js';
import { matmulKernels } from './matmul.js';
import { normKernels } from './norm.js';
import { padKernels } from './pad.js';
import { poolKernels } from './pool.js';
import { resizeKernels } from './resize.js';

/** Reference kernels of the neural-network ops (docs/ops.md): convolutions, pools, normalizations, matrix products, Resize, Pad, depth/space shuffles. */
export const nnKernels: readonly KernelDef[] = [
  ...convKernels,
  ...matmulKernels,
  ...poolKernels,
  ...normKernels,
  ...resizeKernels,
  ...padKernels,
];

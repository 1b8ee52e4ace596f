import { registerSchemas, getSchema } from '../ir/index.js';
import { allSchemas } from '../ir/ops/index.js';
import { refKernels } from '../kernels/ref/index.js';
import { KernelRegistry } from './registry.js';

let registered = false;

/** Registers the built-in op schemas once per process. */
export function ensureSchemas(): void {
  if (registered) return;
  registered = true;
  registerSchemas(allSchemas.filter((s) => !getSchema(s.op)));
}

/** The process-wide registry with every built-in kernel. */
export const defaultRegistry = new KernelRegistry();
defaultRegistry.registerAll(refKernels);
ensureSchemas();

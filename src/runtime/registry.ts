/** The kernel registry lives in ir/ (passes and kernels take one); re-exported for the runtime's users. */
export { KernelRegistry } from '../ir/registry.js';

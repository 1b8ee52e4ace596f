/**
 * The WebAssembly SIMD kernels. `wasmKernels` is empty when the engine lacks
 * SIMD or kernels.wasm was not built, so sessions fall back to 'ref';
 * `wasmUnavailable` says why.
 */
import type { KernelDef } from '../../ir/index.js';
import { wasmFloatKernels } from './f32.js';
import { wasmInt16Kernels } from './int16.js';
import { wasmInt16OpKernels } from './int16ops.js';
import { wasmInt8Kernels } from './int8.js';
import { wasmInt8OpKernels } from './int8ops.js';
import { wasmFloatOpKernels } from './ops.js';
import { wasmAvailable } from './heap.js';

export { wasmUnavailable, wasmAvailable } from './heap.js';
export { simdSupported } from './features.js';
export { wasmArenaHost } from './place.js';

export const wasmKernels: readonly KernelDef[] = wasmAvailable() ? [...wasmInt8Kernels, ...wasmInt8OpKernels, ...wasmInt16Kernels, ...wasmInt16OpKernels, ...wasmFloatKernels, ...wasmFloatOpKernels] : [];

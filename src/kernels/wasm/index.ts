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

export { wasmUnavailable, wasmAvailable, installWasmModule, wasmTier, type WasmTier } from './heap.js';
export { simdSupported, sharedMemorySupported, relaxedSimdSupported } from './features.js';
export { beginRun, closeThreadPool, threadsUnavailable } from './threads.js';
export { wasmArenaHost } from './place.js';

/** Every wasm kernel, whether or not the module is loaded (they call wasmHeap() when prepared). */
export const allWasmKernels: readonly KernelDef[] = [
  ...wasmInt8Kernels, ...wasmInt8OpKernels, ...wasmInt16Kernels, ...wasmInt16OpKernels, ...wasmFloatKernels, ...wasmFloatOpKernels,
];

/** The wasm kernels usable at import: all of them when the module loaded then (Node), else none. */
export const wasmKernels: readonly KernelDef[] = wasmAvailable() ? allWasmKernels : [];

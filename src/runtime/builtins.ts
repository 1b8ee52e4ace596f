import { refKernels } from '../kernels/ref/index.js';
import { allWasmKernels, beginRun, wasmArenaHost, wasmAvailable } from '../kernels/wasm/index.js';
import { controlKernels } from '../kernels/ref/control-flow.js';
import { KernelRegistry } from './registry.js';

/** The process-wide registry with every built-in kernel. */
export const defaultRegistry = new KernelRegistry();
defaultRegistry.registerAll(refKernels);
// If/Loop/Scan plan their bodies with the planner that prepares them (PrepareArgs.planner).
defaultRegistry.registerAll(controlKernels);

let wasmRegistered = false;

/**
 * Registers the wasm kernels and their arena host in the default registry once
 * the module is loaded: at import in Node, after initWasm() in a page. Returns
 * whether they are registered.
 */
export function enableWasmKernels(): boolean {
  if (wasmRegistered) return true;
  if (!wasmAvailable()) return false;
  wasmRegistered = true;
  defaultRegistry.registerAll(allWasmKernels);
  defaultRegistry.setArenaHost('wasm', wasmArenaHost());
  defaultRegistry.setRunScope('wasm', beginRun);
  return true;
}
enableWasmKernels();

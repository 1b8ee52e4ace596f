/**
 * Loading the SIMD kernels in a page: fetch kernels.wasm from the page's own
 * origin (by default the file beside the bundle), compile it asynchronously
 * (browsers refuse large synchronous compiles on the main thread), install it
 * as the kernels' heap and register the kernels. Without SIMD, or if the file
 * cannot be fetched, sessions run on the reference kernels and `wasmStatus()`
 * says why.
 */
import { installWasmModule, wasmUnavailable } from '../kernels/wasm/heap.js';
import { enableWasmKernels } from '../runtime/builtins.js';
import { simdSupported } from '../kernels/wasm/features.js';
import { sameOriginUrl } from './origin.js';

export interface WasmStatus {
  /** Whether sessions with backend 'auto' or 'wasm' run on the SIMD kernels. */
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

let pending: Promise<WasmStatus> | undefined;

/**
 * Fetches and installs kernels.wasm once; later calls return the first result.
 * `url` defaults to kernels.wasm beside the bundle; it must be same-origin.
 */
export function initWasm(url?: string | URL): Promise<WasmStatus> {
  pending ??= install(url);
  return pending;
}

async function install(url?: string | URL): Promise<WasmStatus> {
  if (!simdSupported()) return { ready: false, reason: wasmUnavailable ?? 'this browser does not run WebAssembly SIMD' };
  let module: WebAssembly.Module;
  try {
    const target = sameOriginUrl(url ?? new URL('./kernels.wasm', import.meta.url), 'kernels.wasm');
    const res = await fetch(target);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${target.pathname}`);
    module = await WebAssembly.compile(await res.arrayBuffer());
  } catch (err) {
    return { ready: false, reason: `kernels.wasm could not be loaded: ${(err as Error).message}` };
  }
  if (!installWasmModule(module) || !enableWasmKernels()) return { ready: false, reason: wasmUnavailable ?? 'the wasm kernels did not install' };
  return { ready: true };
}

/** The current state, without loading anything. */
export function wasmStatus(): WasmStatus {
  return wasmUnavailable === undefined ? { ready: true } : { ready: false, reason: wasmUnavailable };
}

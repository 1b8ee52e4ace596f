/**
 * Loading the SIMD kernels in a page: fetch kernels.wasm from the page's own
 * origin (by default the file beside the bundle; kernels-relaxed.wasm, the
 * relaxed-SIMD build, where the browser validates relaxed SIMD; the -threads
 * build of the tier, over a shared memory, where the page is cross-origin
 * isolated, so that sessions with `threads` > 1 run on a pool of Web Workers:
 * see thread-host.browser.ts), compile it asynchronously
 * (browsers refuse large synchronous compiles on the main thread), install it
 * as the kernels' heap and register the kernels. Without SIMD, or if the file
 * cannot be fetched, sessions run on the reference kernels and `wasmStatus()`
 * says why.
 */
import { installWasmModule, wasmUnavailable, type WasmTier } from '../kernels/wasm/heap.js';
import { enableWasmKernels } from '../runtime/builtins.js';
import { relaxedSimdSupported, sharedMemorySupported, simdSupported } from '../kernels/wasm/features.js';
import { kernelFile } from '../kernels/wasm/heap.js';
import { sameOriginUrl } from './origin.js';

export interface WasmStatus {
  /** Whether sessions with backend 'auto' or 'wasm' run on the SIMD kernels. */
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

let pending: Promise<WasmStatus> | undefined;

export interface InitWasmOptions {
  /**
   * 'simd' loads the plain build even where relaxed SIMD is available;
   * 'auto' (the default) loads kernels-relaxed.wasm where the browser
   * validates relaxed SIMD. With an explicit `url`, the file at `url` is
   * taken as the tier chosen here.
   */
  tier?: 'auto' | WasmTier;
  /**
   * 'auto' (the default) loads the tier's shared-memory build (kernels-threads.wasm or
   * kernels-relaxed-threads.wasm) where the page can share a memory (cross-origin isolated),
   * so that sessions may run on several threads; false always loads the unshared build.
   */
  shared?: 'auto' | false;
}

/**
 * Fetches and installs kernels.wasm (or kernels-relaxed.wasm) once; later
 * calls return the first result. `url` defaults to the file beside the
 * bundle; it must be same-origin.
 */
export function initWasm(url?: string | URL, options: InitWasmOptions = {}): Promise<WasmStatus> {
  pending ??= install(url, options);
  return pending;
}

async function install(url: string | URL | undefined, options: InitWasmOptions): Promise<WasmStatus> {
  if (!simdSupported()) return { ready: false, reason: wasmUnavailable ?? 'this browser does not run WebAssembly SIMD' };
  const wanted = options.tier ?? 'auto';
  const tier: WasmTier = wanted === 'simd' || (wanted === 'auto' && !relaxedSimdSupported()) ? 'simd' : 'relaxed';
  if (tier === 'relaxed' && !relaxedSimdSupported()) return { ready: false, reason: 'tier "relaxed" was asked for, but this browser does not validate WebAssembly relaxed SIMD' };
  const file = kernelFile(tier, options.shared !== false && !url && sharedMemorySupported());
  let module: WebAssembly.Module;
  try {
    const target = sameOriginUrl(url ?? new URL(`./${file}`, import.meta.url), file);
    const res = await fetch(target);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${target.pathname}`);
    module = await WebAssembly.compile(await res.arrayBuffer());
  } catch (err) {
    return { ready: false, reason: `${file} could not be loaded: ${(err as Error).message}` };
  }
  if (!installWasmModule(module, tier) || !enableWasmKernels()) return { ready: false, reason: wasmUnavailable ?? 'the wasm kernels did not install' };
  return { ready: true };
}

/** The current state, without loading anything. */
export function wasmStatus(): WasmStatus {
  return wasmUnavailable === undefined ? { ready: true } : { ready: false, reason: wasmUnavailable };
}

/**
 * The browser bundle's stand-in for module-source.ts: a page cannot read a file
 * synchronously, so nothing is loaded at import; the page fetches kernels.wasm
 * from its own origin, compiles it and installs it (src/browser/wasm.ts).
 */
export function readKernelModule(_name?: 'kernels.wasm' | 'kernels-relaxed.wasm'): Uint8Array | string {
  return 'kernels.wasm is not loaded yet: await initWasm() from cloudless/browser first';
}

/// <reference types="node" />
/**
 * Node's way to find kernels.wasm (or another build of the same sources,
 * named by kernelFile() in heap.ts): next to heap.ts under generated/ when the
 * sources run (tests), or dist/wasm/ in the built package (heap.js is then
 * dist/kernels/wasm/heap.js). The browser bundle replaces this file with
 * module-source.browser.ts (scripts/build-browser.mjs), which reads nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// ../wasm/: from dist/node/, the bundles of cloudless and cloudless/runtime (scripts/build-node-bundle.mjs).
const DIRS = ['./generated/', '../../wasm/', '../wasm/'];

/** The bytes of `file` (kernels.wasm, kernels-threads.wasm, kernels-relaxed.wasm or kernels-relaxed-threads.wasm), or why there are none. */
export function readKernelModule(file = 'kernels.wasm'): Uint8Array | string {
  for (const dir of DIRS) {
    const path = fileURLToPath(new URL(dir + file, import.meta.url));
    if (existsSync(path)) return readFileSync(path);
  }
  return `${file} is missing: run \`node scripts/build-wasm.mjs\` (part of \`npm run build\`)`;
}

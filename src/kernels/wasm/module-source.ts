/// <reference types="node" />
/**
 * Node's way to find kernels.wasm: next to heap.ts under generated/ when the
 * sources run (tests), or dist/wasm/ in the built package (heap.js is then
 * dist/kernels/wasm/heap.js). The browser bundle replaces this file with
 * module-source.browser.ts (scripts/build-browser.mjs), which reads nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['./generated/kernels.wasm', '../../wasm/kernels.wasm'];

/** The module's bytes, or why there are none. */
export function readKernelModule(): Uint8Array | string {
  for (const rel of CANDIDATES) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return readFileSync(file);
  }
  return 'kernels.wasm is missing: run `node scripts/build-wasm.mjs` (part of `npm run build`)';
}

#!/usr/bin/env node
/**
 * Compiles the AssemblyScript kernels (src/kernels/wasm/assembly/*.as.ts) into
 * one SIMD module, written to dist/wasm/ (for the built package) and to
 * src/kernels/wasm/generated/ (for tests that run the TypeScript sources).
 * Both outputs are build artefacts and git-ignored. The stub runtime is used
 * because the kernels never allocate: the TypeScript binding owns memory.
 *
 * A second build, kernels-threads.wasm, is the same sources with threads
 * enabled and the memory imported as shared (env.memory, SHARED_PAGES
 * initial, 65536 maximum: a shared memory must declare its maximum), so that
 * a pool of workers can instantiate it over one WebAssembly.Memory
 * (src/kernels/wasm/threads.ts). The heap takes it when the engine has
 * SharedArrayBuffer, else the single-thread build.
 */
import { mkdirSync, readdirSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/kernels/wasm/assembly');
const generated = join(root, 'src/kernels/wasm/generated');
const distDir = join(root, 'dist/wasm');
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.as.ts')).sort().map((f) => join(srcDir, f));
if (sources.length === 0) {
  console.error(`build-wasm: no *.as.ts sources in ${srcDir}`);
  process.exit(1);
}

mkdirSync(generated, { recursive: true });
mkdirSync(distDir, { recursive: true });
const out = join(generated, 'kernels.wasm');
const { error, stderr } = await asc.main([
  ...sources,
  '--outFile', out,
  '--enable', 'simd',
  '--runtime', 'stub',
  '-O3',
  '--noAssert',
]);
if (error) {
  console.error(stderr.toString());
  console.error(`build-wasm: ${error.message}`);
  process.exit(1);
}
copyFileSync(out, join(distDir, 'kernels.wasm'));
console.log(`build-wasm: ${sources.length} sources -> ${out}, ${join(distDir, 'kernels.wasm')}`);

/** Initial pages of the shared memory; heap.ts creates the memory with the same number (SHARED_INITIAL_PAGES). */
const SHARED_PAGES = 16;
const outThreads = join(generated, 'kernels-threads.wasm');
const threaded = await asc.main([
  ...sources,
  '--outFile', outThreads,
  '--enable', 'simd',
  '--enable', 'threads',
  '--importMemory',
  '--sharedMemory',
  '--zeroFilledMemory',
  '--initialMemory', String(SHARED_PAGES),
  '--maximumMemory', '65536',
  '--runtime', 'stub',
  '-O3',
  '--noAssert',
]);
if (threaded.error) {
  console.error(threaded.stderr.toString());
  console.error(`build-wasm: ${threaded.error.message}`);
  process.exit(1);
}
copyFileSync(outThreads, join(distDir, 'kernels-threads.wasm'));
console.log(`build-wasm: ${sources.length} sources -> ${outThreads}, ${join(distDir, 'kernels-threads.wasm')}`);

// The relaxed-SIMD tier: the same sources with relaxed SIMD enabled
// (ASC_FEATURE_RELAXED_SIMD, see assembly/fma.ts and assembly/i8.as.ts), loaded
// instead of kernels.wasm where the engine validates relaxed SIMD
// (src/kernels/wasm/features.ts). Everything not written for it compiles to
// the same code as in kernels.wasm.
const relaxedOut = join(generated, 'kernels-relaxed.wasm');
const relaxed = await asc.main([
  ...sources,
  '--outFile', relaxedOut,
  '--enable', 'simd,relaxed-simd',
  '--runtime', 'stub',
  '-O3',
  '--noAssert',
]);
if (relaxed.error) {
  console.error(relaxed.stderr.toString());
  console.error(`build-wasm: ${relaxed.error.message}`);
  process.exit(1);
}
copyFileSync(relaxedOut, join(distDir, 'kernels-relaxed.wasm'));
console.log(`build-wasm: relaxed SIMD -> ${relaxedOut}, ${join(distDir, 'kernels-relaxed.wasm')}`);

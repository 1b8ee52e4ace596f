#!/usr/bin/env node
/**
 * Compiles the AssemblyScript kernels (src/kernels/wasm/assembly/*.as.ts) into
 * four builds of the same sources, written to dist/wasm/ (for the built
 * package) and to src/kernels/wasm/generated/ (for tests that run the
 * TypeScript sources). All are build artefacts and git-ignored. The stub
 * runtime is used because the kernels never allocate: the TypeScript binding
 * owns memory.
 *
 * The builds are two tiers × two memories:
 *
 * | file                         | SIMD                 | memory                  |
 * | ---------------------------- | -------------------- | ----------------------- |
 * | kernels.wasm                 | SIMD128              | its own                 |
 * | kernels-threads.wasm         | SIMD128              | imported, shared        |
 * | kernels-relaxed.wasm         | SIMD128+relaxed SIMD | its own                 |
 * | kernels-relaxed-threads.wasm | SIMD128+relaxed SIMD | imported, shared        |
 *
 * - The relaxed tier compiles the same sources with ASC_FEATURE_RELAXED_SIMD
 *   set (see assembly/fma.ts): f32x4.relaxed_madd in the float GEMM and
 *   depthwise kernels. Everything not written for it compiles to the same
 *   code as in the SIMD128 tier.
 * - A shared build enables threads and imports its memory as shared
 *   (env.memory, SHARED_PAGES initial, 65536 maximum: a shared memory must
 *   declare its maximum), so that a pool of workers can instantiate it over
 *   one WebAssembly.Memory (src/kernels/wasm/threads.ts).
 *
 * src/kernels/wasm/heap.ts picks one: the relaxed tier where the engine
 * validates relaxed SIMD (features.ts), the shared memory where it has
 * SharedArrayBuffer (Node); the browser bundle loads the unshared ones
 * (src/browser/wasm.ts).
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

/** Initial pages of the shared memory; heap.ts creates the memory with the same number (SHARED_INITIAL_PAGES). */
const SHARED_PAGES = 16;
const TIERS = [
  { suffix: '', features: 'simd' },
  { suffix: '-relaxed', features: 'simd,relaxed-simd' },
];
const MEMORIES = [
  { suffix: '', flags: [] },
  {
    suffix: '-threads',
    flags: ['--enable', 'threads', '--importMemory', '--sharedMemory', '--zeroFilledMemory',
      '--initialMemory', String(SHARED_PAGES), '--maximumMemory', '65536'],
  },
];

mkdirSync(generated, { recursive: true });
mkdirSync(distDir, { recursive: true });
for (const tier of TIERS) {
  for (const mem of MEMORIES) {
    const file = `kernels${tier.suffix}${mem.suffix}.wasm`;
    const out = join(generated, file);
    const { error, stderr } = await asc.main([
      ...sources,
      '--outFile', out,
      '--enable', tier.features,
      ...mem.flags,
      '--runtime', 'stub',
      '-O3',
      '--noAssert',
    ]);
    if (error) {
      console.error(stderr.toString());
      console.error(`build-wasm: ${file}: ${error.message}`);
      process.exit(1);
    }
    copyFileSync(out, join(distDir, file));
    console.log(`build-wasm: ${sources.length} sources (${tier.features}${mem.suffix ? ', shared memory' : ''}) -> ${out}, ${join(distDir, file)}`);
  }
}

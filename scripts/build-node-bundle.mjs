/**
 * node scripts/build-node-bundle.mjs
 *
 * Bundles the package's two Node entries, `cloudless` (src/index.ts) and
 * `cloudless/runtime` (src/runtime/entry.ts), with everything they import
 * (npm packages left external) into dist/node/index.js and
 * dist/node/runtime.js, in one esbuild build with code splitting: the
 * modules both entries use go into shared chunks (dist/node/chunk-*.js), so
 * a program that imports both gets one copy of the classes (Tensor,
 * CloudlessError, Session) and one wasm heap. One file per entry instead of
 * about 200 ES modules is most of a cold start's module loading. The wasm
 * kernels stay in dist/wasm/ (module-source.ts finds them from dist/node/
 * too). Part of `npm run build`, after tsc (whose dist/**\/*.d.ts give the
 * types).
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildNodeBundle(outdir = join(root, 'dist/node')) {
  rmSync(outdir, { recursive: true, force: true });
  return esbuild.build({
    entryPoints: { index: join(root, 'src/index.ts'), runtime: join(root, 'src/runtime/entry.ts') },
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: false,
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildNodeBundle();
  console.log('build-node-bundle: dist/node/index.js, dist/node/runtime.js (+ shared chunks)');
}

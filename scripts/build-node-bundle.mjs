/**
 * node scripts/build-node-bundle.mjs
 *
 * Bundles `cloudless/runtime` (src/runtime/entry.ts and everything it imports,
 * npm packages left external) into dist/runtime/bundle.js: one ES module
 * instead of about 200, which is most of a cold start's module loading. The
 * wasm kernels stay in dist/wasm/ (module-source.ts finds them from
 * dist/runtime/ too). Part of `npm run build`, after tsc.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildNodeBundle(outfile = join(root, 'dist/runtime/bundle.js')) {
  return esbuild.build({
    entryPoints: [join(root, 'src/runtime/entry.ts')],
    outfile,
    bundle: true,
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
  console.log('build-node-bundle: dist/runtime/bundle.js');
}

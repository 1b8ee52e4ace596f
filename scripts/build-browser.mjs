#!/usr/bin/env node
/**
 * Bundles the browser entry (src/browser/index.ts → dist/browser/cloudless.js,
 * one ES module) and copies kernels.wasm beside it, where initWasm() looks by
 * default. Two rules make the bundle a page's own code:
 *   - module-source.ts (Node's synchronous read of kernels.wasm) is replaced by
 *     module-source.browser.ts, which reads nothing, and thread-host.ts (Node's
 *     worker_threads) by thread-host.browser.ts, which starts no worker;
 *   - any other `node:` import, or a Node-only package (sharp, better-sqlite3),
 *     fails the build, naming the file that brought it in.
 * `browserBuildOptions()` is exported so that a test can build to a temporary
 * folder and inspect the metafile.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_ONLY_PACKAGES = ['sharp', 'better-sqlite3', 'mqtt', 'fastify', 'commander'];

/** esbuild plugin: the browser's module-source, and a clear refusal of Node-only imports. */
export const browserOnly = {
  name: 'cloudless-browser-only',
  setup(build) {
    build.onResolve({ filter: /(^|\/)module-source\.js$/ }, (args) => ({
      path: join(args.resolveDir, 'module-source.browser.ts'),
    }));
    build.onResolve({ filter: /(^|\/)thread-host\.js$/ }, (args) => ({
      path: join(args.resolveDir, 'thread-host.browser.ts'),
    }));
    const nodeOnly = new RegExp(`^(node:|(${NODE_ONLY_PACKAGES.join('|')})($|/))`);
    build.onResolve({ filter: nodeOnly }, (args) => ({
      errors: [{ text: `${args.path} is Node-only and may not reach the browser bundle (imported by ${args.importer})` }],
    }));
  },
};

export function browserBuildOptions(outdir = join(root, 'dist/browser')) {
  return {
    absWorkingDir: root,
    entryPoints: { cloudless: join(root, 'src/browser/index.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // WebAssembly SIMD needs Chrome 91 / Firefox 89 / Safari 16.4; ES2022 is older than all three.
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [browserOnly],
  };
}

/** Builds the bundle into `outdir` and puts kernels.wasm beside it; returns esbuild's result (with its metafile). */
export async function buildBrowser(outdir = join(root, 'dist/browser')) {
  const wasm = join(root, 'src/kernels/wasm/generated/kernels.wasm');
  if (!existsSync(wasm)) throw new Error(`build-browser: ${wasm} is missing; run \`node scripts/build-wasm.mjs\` first`);
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build(browserBuildOptions(outdir));
  copyFileSync(wasm, join(outdir, 'kernels.wasm'));
  const relaxedWasm = join(root, 'src/kernels/wasm/generated/kernels-relaxed.wasm');
  if (existsSync(relaxedWasm)) copyFileSync(relaxedWasm, join(outdir, 'kernels-relaxed.wasm'));
  return result;
}

/**
 * Bundles the dashboard's pages (src/server/pages/main.ts, which includes the
 * browser engine for the Try page) into `outdir`/dashboard.js with its CSS and
 * kernels.wasm beside it.
 */
export async function buildDashboardPages(outdir = join(root, 'dist/dashboard')) {
  mkdirSync(outdir, { recursive: true });
  const opts = browserBuildOptions(outdir);
  const result = await esbuild.build({ ...opts, entryPoints: { dashboard: join(root, 'src/server/pages/main.ts') }, minify: true });
  copyFileSync(join(root, 'src/kernels/wasm/generated/kernels.wasm'), join(outdir, 'kernels.wasm'));
  const relaxedWasm = join(root, 'src/kernels/wasm/generated/kernels-relaxed.wasm');
  if (existsSync(relaxedWasm)) copyFileSync(relaxedWasm, join(outdir, 'kernels-relaxed.wasm'));
  copyFileSync(join(root, 'src/server/pages/dashboard.css'), join(outdir, 'dashboard.css'));
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await buildDashboardPages();
    const result = await buildBrowser();
    const out = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('cloudless.js'));
    console.log(`build-browser: dist/browser/cloudless.js (${out ? Math.round(out[1].bytes / 1024) : '?'} KiB) + kernels.wasm; dist/dashboard/`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

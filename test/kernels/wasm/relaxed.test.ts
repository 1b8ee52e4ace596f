/**
 * The relaxed-SIMD build in the default suite: the float32 and int8 wasm kernel
 * tests (and tier.test.ts, which fails if the relaxed module did not load) run
 * again in a child vitest with CLOUDLESS_WASM_TIER=relaxed, on this Node with
 * --experimental-wasm-relaxed-simd (Node 20) or as it is (Node 22+, where
 * relaxed SIMD is on). `npm run test:relaxed` runs every wasm test this way,
 * on Node 22 too (scripts/test-relaxed.mjs).
 */
import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported } from '../../../src/kernels/wasm/features.js';
// @ts-expect-error: a plain .mjs script without declarations
import { hasRelaxedFlag, runRelaxed } from '../../../scripts/test-relaxed.mjs';

const FILES = ['test/kernels/wasm/tier.test.ts', 'test/kernels/wasm/f32.test.ts', 'test/kernels/wasm/int8.test.ts'];
const native = relaxedSimdSupported();
const flag = !native && (hasRelaxedFlag as () => boolean)();

describe.skipIf(!native && !flag)(`the relaxed-SIMD build (${native ? 'native' : '--experimental-wasm-relaxed-simd'}) passes the float32 and int8 kernel tests`, () => {
  it(FILES.join(', '), () => {
    const r = (runRelaxed as (n: string, a: string[], f: string[], e: object) => { status: number; output: string })(
      process.execPath, flag ? ['--experimental-wasm-relaxed-simd'] : [], FILES, { CLOUDLESS_SKIP_SETUP: '1' });
    if (r.status !== 0) throw new Error(`the relaxed-tier run failed:\n${r.output.slice(-6000)}`);
    expect(r.output).toMatch(/Tests\s+\d+ passed/);
    // The relaxed module loaded (tier.test.ts), and none of its tests skipped for want of it.
    expect(r.output).toMatch(/✓ .*CLOUDLESS_WASM_TIER=relaxed is the tier that loaded/);
    expect(r.output).not.toMatch(/↓ .*(match the reference|bit-exact)/);
  }, 600_000);
});

/**
 * Which build of the kernels this process runs (one of the two tiers,
 * SIMD128 or relaxed SIMD, unshared or with a shared memory), and that the
 * relaxed build really is the relaxed one. scripts/test-relaxed.mjs runs the wasm tests with
 * CLOUDLESS_WASM_TIER=relaxed; then this file fails if the relaxed module did
 * not load (the other files would otherwise skip or test the plain build).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported, sharedMemorySupported, simdSupported, wasmApi } from '../../../src/kernels/wasm/features.js';
import { chooseWasmTier, kernelFile, wasmAvailable, wasmHeap, wasmTier, wasmUnavailable } from '../../../src/kernels/wasm/heap.js';

const requested = process.env.CLOUDLESS_WASM_TIER;

/** Whether the CPU has fused multiply-add (x86 `fma` flag; ARM64 always has it). */
function cpuHasFma(): boolean {
  if (process.arch === 'arm64') return true;
  try { return /\bfma\b/.test(readFileSync('/proc/cpuinfo', 'utf8')); } catch { return false; }
}

/** gemm_f32 of one row, one channel and K = 1: bias + x·w, clamped to ±Infinity (no clamp). */
function oneMultiplyAdd(x: number, w: number, b: number): number {
  const heap = wasmHeap();
  const at = heap.alloc(4 * (1 + 8 + 8 + 8));
  const f32 = heap.f32, base = at >> 2;
  f32.fill(0, base, base + 25);
  f32[base] = x;
  f32[base + 1] = w; // packed weights: one block of 8 channels, K = 1
  f32[base + 9] = b; // bias padded to 8
  heap.exports.gemm_f32(at, 1, 1, 1, at + 4, at + 36, 1, at + 68, 1, -Infinity, Infinity);
  const y = heap.f32[base + 17]!;
  heap.release(at);
  return y;
}

describe('the kernels build in use', () => {
  it.skipIf(!requested)(`CLOUDLESS_WASM_TIER=${requested ?? ''} is the tier that loaded`, () => {
    expect(wasmUnavailable).toBeUndefined();
    expect(wasmTier()).toBe(requested);
  });

  it('auto picks relaxed exactly where the engine validates relaxed SIMD', () => {
    if (!simdSupported()) return expect(wasmAvailable()).toBe(false);
    const chosen = chooseWasmTier();
    if (requested === 'simd') expect(chosen).toBe('simd');
    else if (requested === 'relaxed') expect(chosen).toEqual(relaxedSimdSupported() ? 'relaxed' : expect.stringContaining('does not validate relaxed SIMD'));
    else expect(chosen).toBe(relaxedSimdSupported() ? 'relaxed' : 'simd');
    expect(wasmTier()).toBe(chosen === 'simd' || chosen === 'relaxed' ? chosen : undefined);
  });

  it.skipIf(!wasmAvailable())('the shared-memory build of the tier loaded wherever the engine shares a memory', () => {
    const shared = process.env.CLOUDLESS_WASM_SHARED !== '0' && sharedMemorySupported();
    expect(wasmHeap().shared).toBe(shared);
    // The module in use imports a memory exactly when it is a shared build; with the fused
    // multiply-add test below, that shows the relaxed tier loaded with threads (kernels-relaxed-threads.wasm).
    const imports = wasmApi()!.Module.imports(wasmHeap().module);
    expect(imports.some((i) => i.kind === 'memory')).toBe(shared);
    expect(kernelFile(wasmTier()!, shared)).toMatch(wasmTier() === 'relaxed' ? /^kernels-relaxed/ : /^kernels(-threads)?\.wasm$/);
  });

  // x = w = 1 + 2^-12: x·w = 1 + 2^-11 + 2^-24 exactly, which float32 rounds
  // (a tie, to even) to 1 + 2^-11; with b = −(1 + 2^-11) the unfused sum is 0
  // and the fused one 2^-24.
  const x = 1 + 2 ** -12, b = -(1 + 2 ** -11);
  it.skipIf(!wasmAvailable() || wasmTier() !== 'simd')('the plain build rounds the product, then the sum', () => {
    expect(oneMultiplyAdd(x, x, b)).toBe(0);
  });
  it.skipIf(!wasmAvailable() || wasmTier() !== 'relaxed' || !cpuHasFma())('the relaxed build fuses the multiply-add on a CPU with FMA', () => {
    expect(oneMultiplyAdd(x, x, b)).toBe(2 ** -24);
  });
});

/**
 * The one place where the two builds of the kernels differ for float32
 * (scripts/build-wasm.mjs compiles the same sources twice: kernels.wasm with
 * `--enable simd`, kernels-relaxed.wasm with `--enable simd,relaxed-simd`).
 * ASC_FEATURE_RELAXED_SIMD is a compile-time constant, so each build keeps
 * one branch only. Not an entry of the build (no `.as.ts`).
 *
 * `c + a·b` per lane. The plain build rounds twice (fl(c + fl(a·b))); the
 * relaxed build emits f32x4.relaxed_madd, which an engine may lower to a
 * fused multiply-add (one rounding, fl(c + a·b)) or to the same two
 * roundings (the relaxed-SIMD spec lets the engine pick, e.g. by CPU:
 * FMA on x86 with the FMA extension and on ARM). The summation order is the same in both builds, so a sum of
 * K products plus a bias is within γ_K·(|b| + Σ|a·b|) of the exact sum
 * with a fused lowering and within γ_(K+1)·(…) otherwise (γ_n = n·u/(1 − n·u),
 * u = 2^-24; Higham, Accuracy and Stability of Numerical Algorithms, §3.1).
 * test/kernels/wasm/relaxed.test.ts checks the bound on both builds.
 */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

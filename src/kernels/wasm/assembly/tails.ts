/**
 * Partial stores of the last vector of a row, shared by the *.as.ts kernels.
 * Not an entry of the build (no `.as.ts`), so nothing here becomes a wasm
 * export.
 */

/** Stores the first n (1..3) float32 lanes of v at p. */
@inline export function storeLanesF32(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Stores the first min(n, 8) bytes of b's low half at p. */
@inline export function storeLow8(p: usize, b: v128, n: i32): void {
  if (n >= 8) {
    v128.store64_lane(p, b, 0);
    return;
  }
  let bits = i64x2.extract_lane(b, 0);
  for (let t = 0; t < n; t++) {
    store<u8>(p + <usize>t, <u8>bits);
    bits >>= 8;
  }
}

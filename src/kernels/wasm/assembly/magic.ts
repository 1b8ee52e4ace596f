/**
 * Rounding float32 to an integer and clamping it by the bits of f + 1.5·2^23,
 * shared by the int8 kernels' epilogues. Not an entry of the build (no
 * `.as.ts`), so nothing here becomes a wasm export.
 *
 * For a float32 f with |f| < 2^22, f + 1.5·2^23 lies in [2^23, 2^24), where
 * the spacing is 1: the sum rounds f to an integer r (ties to even) and its
 * bits are MAGIC_BITS + r. Outside that range the bits still grow with f (a
 * negative sum has the sign bit set, so its bits lie below every bound here),
 * so integer max/min against MAGIC_BITS + bound clamp exactly, and
 * subtracting MAGIC_BITS − zy gives clamp(r, lo − zy, hi − zy) + zy: rounding,
 * clamping and the zero point in three integer operations, no float min/max
 * or saturating truncation.
 */
export const MAGIC = <f32>12582912.0, MAGIC_BITS = 0x4b400000;

/** rne(f) + zy, at least lo: blo = MAGIC_BITS + lo − zy, bz = MAGIC_BITS − zy (the upper clamp left to the caller). */
@inline export function roundClampLow4(f: v128, blo: v128, bz: v128): v128 {
  return i32x4.sub(i32x4.max_s(f32x4.add(f, f32x4.splat(MAGIC)), blo), bz);
}

/** rne(f) + zy clamped to [lo, hi]: blo, bhi = MAGIC_BITS + lo − zy, + hi − zy; bz = MAGIC_BITS − zy. */
@inline export function roundClamp4(f: v128, blo: v128, bhi: v128, bz: v128): v128 {
  return i32x4.sub(i32x4.min_s(i32x4.max_s(f32x4.add(f, f32x4.splat(MAGIC)), blo), bhi), bz);
}

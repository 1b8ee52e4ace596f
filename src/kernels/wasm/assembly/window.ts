/**
 * Window clipping shared by the conv and pool kernels of every *.as.ts file
 * (the AssemblyScript twin of firstTap/endTap in src/ir/window.ts). Not an entry
 * of the build (no `.as.ts`), so nothing here becomes a wasm export.
 *
 * A window starts at input coordinate `start` (negative in the padding) and has
 * `k` taps `d` apart; taps outside [0, size) are skipped.
 */

/** The first tap whose input coordinate is >= 0 (k when none is). */
@inline export function firstTap(start: i32, k: i32, d: i32): i32 {
  let t = 0;
  while (t < k && start + t * d < 0) t++;
  return t;
}

/** One past the last tap whose input coordinate is < size (never below `first`). */
@inline export function endTap(start: i32, k: i32, d: i32, size: i32, first: i32): i32 {
  let t = k;
  while (t > first && start + (t - 1) * d >= size) t--;
  return t;
}

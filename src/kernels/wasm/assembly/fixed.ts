/**
 * TFLite's fixed-point requantization (gemmlowp), shared by the int8 kernels
 * of i8.as.ts and i8ops.as.ts. Not an entry of the build (no `.as.ts`), so
 * nothing here becomes a wasm export. Each function matches its namesake in
 * src/kernels/ref/int8/requantize.ts bit for bit: the 64-bit product is exact
 * and i64 division truncates like C.
 */

/** gemmlowp's SaturatingRoundingDoublingHighMul: high half of 2ab, ties away from zero. */
@inline export function srdhm(a: i32, b: i32): i32 {
  if (a == i32.MIN_VALUE && b == i32.MIN_VALUE) return i32.MAX_VALUE;
  const ab = <i64>a * <i64>b;
  const nudge: i64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30);
  return <i32>((ab + nudge) / (<i64>1 << 31));
}

/** gemmlowp's RoundingDivideByPOT: x / 2^e, ties away from zero. */
@inline export function roundingDivideByPOT(x: i32, e: i32): i32 {
  if (e == 0) return x;
  const mask = e >= 31 ? 0x7fffffff : (1 << e) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/** TFLite's MultiplyByQuantizedMultiplier; a positive shift wraps as an int32 left shift, as the C code does. */
@inline export function requantRef(acc: i32, m: i32, shift: i32): i32 {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(srdhm(acc << left, m), right);
}

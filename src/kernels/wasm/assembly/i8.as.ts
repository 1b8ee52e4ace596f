/**
 * int8 SIMD kernels (TFLite int8 scheme) with exact int32 accumulation.
 *
 * The input zero point is folded into the bias at prepare time
 * (bias' = bias − z_x·Σ w, wrapping like the int32 accumulator: every
 * reordering of an int32 sum gives the same bits), so activations are used
 * raw, only sign-extended to int16; padded taps must then hold x = z_x
 * (im2col writes it; the depthwise edge path keeps x − z_x and the plain bias
 * instead). Weights meet the activations as int16 (w − z_w, in [−255, 255]):
 * products are below 2^16 and `i32x4.dot_i16x8_s` adds two of them into an
 * int32 lane exactly.
 *
 * Packed GEMM weights: int16, or int8 when the weights are symmetric (z_w =
 * 0, every Conv; wload widens them, so the kernels are the same but for the
 * load and half the memory), in blocks of 8 output channels, K rounded up to 8 with
 * zero weights (activations past K are then read but meet 0); per group of
 * 8 k, four steps of two int16 vectors (channels 0–3, 4–7) whose lane l at
 * step s holds channel l's k-pair (l + s) mod 4. Biases are int32, padded to
 * a multiple of 8.
 *
 * Requantization (the only place the two arithmetics differ) follows
 * src/kernels/ref/int8/requantize.ts exactly:
 * - xnnpack (mode 0): clamp(rne(fl(fl(acc) · scale[c])) + z_y). f32x4.convert
 *   rounds like fl, f32x4.mul is one float32 rounding, adding 1.5·2^23 rounds
 *   to an integer with ties to even; clamping in float before the rounding is
 *   the same as clamping after because the bounds are integers and rounding
 *   is monotonic.
 * - reference (mode 1): TFLite's MultiplyByQuantizedMultiplier with 64-bit
 *   products, per lane.
 * Per-channel epilogue arrays (scale f32, multiplier i32, shift i32) are
 * padded like the bias.
 *
 * Why the relaxed-SIMD builds use this same dot_i16x8 GEMM, and not
 * i32x4.relaxed_dot_i8x16_i7x16_add_s (issue 18, measured with
 * scripts/relaxed-dot/):
 * - The relaxed dot's result is defined on every lowering only when its
 *   second operand is in [0, 127]. On x64, Node 22's V8 lowers it to
 *   pmaddubsw (second operand unsigned, pairs saturated to int16) +
 *   pmaddwd + paddd even on a CPU with AVX-VNNI (this one); Node 24's V8
 *   to vpdpbusd there (second operand unsigned, no saturation; both seen
 *   with --print-wasm-code); an ARM engine may use sdot (both operands
 *   signed). An exact form for any int8
 *   activation x and weight w ∈ [−127, 127] packs w + 127 as two halves
 *   a = min(w + 127, 127) and b = w + 127 − a, both in [0, 127], and takes
 *   Σ x·w = dot(x, a) + dot(x, b) − 127·Σ x (a row sum, per row and not per
 *   channel; w = −128 would need offset 128, possible per layer when it has
 *   no +127). No pair saturates on pmaddubsw: |x·a| ≤ 128·127, so a pair
 *   is within ±32512 < 32767. That form is exact on Node 22 (pmaddubsw) and
 *   Node 24 (vpdpbusd) in the probe, but it costs two relaxed dots per 16
 *   products where this kernel costs two dot_i16x8 + two adds. Node 22's V8
 *   emits five instructions per relaxed dot on x64 (it rematerializes the
 *   pmaddwd ones vector each time), so the split loses before any overhead:
 *   callgrind of the tile loop on two MobileNet-v2-like 1×1 convs
 *   (rows × K × channels), in M instructions per GEMM:
 *
 *   | GEMM           | engine     | dot_i16x8 | split | usdot        |
 *   | -------------- | ---------- | --------: | ----: | -----------: |
 *   | 784 × 96 × 576 | Node 22.23 |      25.0 |  38.1 | 22.2 (wrong) |
 *   | 784 × 96 × 576 | Node 24.22 |      22.6 |  36.3 |         20.9 |
 *   | 196 × 576 × 96 | Node 22.23 |       6.5 |  17.3 |  6.6 (wrong) |
 *   | 196 × 576 × 96 | Node 24.22 |       7.4 |  14.0 |          5.8 |
 *
 *   Even with vpdpbusd (Node 24), two dots per 16 products plus twice the
 *   weight loads and the row sums exceed dot_i16x8.
 * - XNNPACK does not use the [0, 127] form: at start-up it runs the relaxed
 *   dot on out-of-range inputs and keeps a "wasmsdot" kernel (both operands
 *   signed, where the engine lowers to sdot) or a "wasmusdot" one (x ^ 0x80
 *   as an unsigned second operand, 128·Σw folded into the bias, where it
 *   lowers to vpdpbusd), else the SIMD128 kernels. That scheme is one dot per
 *   16 products, 8–22 % fewer instructions than dot_i16x8 on Node 24, but on
 *   Node 22 pmaddubsw saturates and most outputs are wrong (the "usdot"
 *   column), so it is only ever safe behind such a probe; a candidate for
 *   a later tier, not this one.
 */
import { endTap, firstTap } from './window';
import { requantRef } from './fixed';
import { MAGIC_BITS, roundClampLow4 } from './magic';
import { storeLow8 } from './tails';

/**
 * Requantizes four int32 accumulators of channels c..c+3 (epilogue arrays at
 * byte offset `off`) to int32 lanes at least lo; values above hi are clamped
 * by storeBytes8 (the reference mode clamps both ends here). The xnnpack
 * mode's constant vectors are built once per kernel call: flo is the bits of
 * 1.5·2^23 + lo − z_y, fz those of 1.5·2^23 − z_y, fhi sixteen int8 hi.
 */
@inline function requant4(acc: v128, mode: i32, scales: usize, mults: usize, shifts: usize, off: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128): v128 {
  if (mode == 0) {
    // The rounding and lower clamp of magic.ts; the upper clamp waits for storeBytes8, after the saturating narrowing.
    return roundClampLow4(f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load(scales + off)), flo, fz);
  }
  return requant4Ref(acc, mults + off, shifts + off, zy, lo, hi);
}

/**
 * requant4's reference mode, a function of its own: four scalar 64-bit
 * requantizations are several hundred bytes of code, and inlined into every
 * tile epilogue they made gemm_i8 and depthwise_i8 bodies so big that V8's
 * optimising compile of them took much of a cold start's first run.
 */
function requant4Ref(acc: v128, m: usize, s: usize, zy: i32, lo: i32, hi: i32): v128 {
  let r = i32x4.splat(0);
  r = i32x4.replace_lane(r, 0, requantRef(i32x4.extract_lane(acc, 0), load<i32>(m), load<i32>(s)));
  r = i32x4.replace_lane(r, 1, requantRef(i32x4.extract_lane(acc, 1), load<i32>(m, 4), load<i32>(s, 4)));
  r = i32x4.replace_lane(r, 2, requantRef(i32x4.extract_lane(acc, 2), load<i32>(m, 8), load<i32>(s, 8)));
  r = i32x4.replace_lane(r, 3, requantRef(i32x4.extract_lane(acc, 3), load<i32>(m, 12), load<i32>(s, 12)));
  r = i32x4.add(r, i32x4.splat(zy));
  return i32x4.min_s(i32x4.max_s(r, i32x4.splat(lo)), i32x4.splat(hi));
}

/** Stores min(n, 8) int8 values made of two int32x4 vectors, the int8 lanes clamped to at most `top`. */
@inline function storeBytes8(p: usize, v0: v128, v1: v128, n: i32, top: v128): void {
  storeLow8(p, i8x16.min_s(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(v0, v1), i16x8.splat(0)), top), n);
}

/**
 * One weight vector of a packed GEMM block: eight int16 lanes, stored as int16
 * (W = i16: weights minus a zero point span [−255, 255]) or as int8 and
 * widened on load (W = i8: symmetric weights, half the memory and bandwidth).
 */
@inline function wload<W>(p: usize): v128 {
  if (sizeof<W>() == 1) return v128.load8x8_s(p);
  return v128.load(p);
}

/** Rotates the four 32-bit lanes (k-pairs) of x by one: lane l takes lane l + 1. */
@inline function rot(x: v128): v128 {
  return i32x4.shuffle(x, x, 1, 2, 3, 0);
}

/**
 * One 4-row × 8-channel tile of gemm_i8: rows a0 + t·lda, packed block `w`,
 * epilogue lanes at byte offset `off`, output at yo (row stride ldy, n valid
 * channels). Per 8 k each row's activations are loaded once (four int16
 * k-pairs) and rotated by one lane per step against four pre-rotated weight
 * vector pairs (lane l of step s holds k-pair (l + s) mod 4), so all pairs
 * meet every channel lane without broadcasts.
 */
@inline function tile4<W>(
  a0: usize, lda: usize, k8: usize, wb: usize, bias: usize, off: usize, yo: usize, ldy: usize, n: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const WS = <usize>sizeof<W>();
  const a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
  let w = wb;
  let c00 = v128.load(bias + off), c01 = v128.load(bias + off, 16);
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  for (let i: usize = 0; i < k8; i += 8) {
    let x0 = v128.load8x8_s(a0 + i), x1 = v128.load8x8_s(a1 + i), x2 = v128.load8x8_s(a2 + i), x3 = v128.load8x8_s(a3 + i);
    let w0 = wload<W>(w), w1 = wload<W>(w + 8 * WS);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
    x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
    w0 = wload<W>(w + 16 * WS); w1 = wload<W>(w + 24 * WS);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
    x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
    w0 = wload<W>(w + 32 * WS); w1 = wload<W>(w + 40 * WS);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
    x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
    w0 = wload<W>(w + 48 * WS); w1 = wload<W>(w + 56 * WS);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
    w += 64 * WS;
  }
  storeBytes8(yo, requant4(c00, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c01, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + ldy, requant4(c10, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c11, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + 2 * ldy, requant4(c20, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c21, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + 3 * ldy, requant4(c30, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c31, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
}

/** One row × 8 channels, the rows left over by tile4. */
@inline function tile1<W>(
  a0: usize, k8: usize, wb: usize, bias: usize, off: usize, yo: usize, n: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const WS = <usize>sizeof<W>();
  let w = wb;
  let c00 = v128.load(bias + off), c01 = v128.load(bias + off, 16);
  for (let i: usize = 0; i < k8; i += 8) {
    let x0 = v128.load8x8_s(a0 + i);
    for (let s = 0; s < 4; s++) {
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, wload<W>(w)));
      c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, wload<W>(w + 8 * WS)));
      x0 = rot(x0);
      w += 16 * WS;
    }
  }
  storeBytes8(yo, requant4(c00, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c01, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
}

/** Pre-rotated int16 activations (gemm_i8 with k8 ≤ ROT_K8): groups of four rows, 8·k8 bytes per row; static, so the module's data ends past it (heap_base), per instance (set_scratch_i8). */
const ROT_K8: usize = 2048;
const ROT_BYTES: usize = 128 * 1024;
let ROTATED: usize = memory.data(<i32>ROT_BYTES, 16);

/**
 * Points this instance's ROTATED at `p` (ROT_BYTES, 16-byte aligned). A wasm
 * global belongs to its instance, so each worker of the thread pool, sharing
 * one memory, gives its own instance a region of its own (threads.ts); the
 * calling thread keeps the static one.
 */
export function set_scratch_i8(p: usize): void {
  ROTATED = p;
}

/** Bytes set_scratch_i8 needs. */
export function scratch_bytes_i8(): usize {
  return ROT_BYTES;
}

/**
 * Writes rows a0 + t·lda (t < 4) as int16 k-groups of 8 with their four
 * rotations: vector (t, g, s) at ROTATED + ((g·4 + t)·4 + s)·16.
 */
@inline function rotateRows(a0: usize, lda: usize, k8: usize, dst: usize): void {
  for (let t: usize = 0; t < 4; t++) {
    const a = a0 + t * lda;
    for (let i: usize = 0; i < k8; i += 8) {
      const at = dst + (((i >> 3) * 4 + t) << 6);
      let x = v128.load8x8_s(a + i);
      v128.store(at, x); x = rot(x);
      v128.store(at, x, 16); x = rot(x);
      v128.store(at, x, 32); x = rot(x);
      v128.store(at, x, 48);
    }
  }
}

/** tile4 over rows rotated by rotateRows: activations come from L1 already widened and rotated. */
@inline function tile4r<W>(
  src: usize, k8: usize, wb: usize, bias: usize, off: usize, yo: usize, ldy: usize, n: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const WS = <usize>sizeof<W>();
  let w = wb, xr = src;
  let c00 = v128.load(bias + off), c01 = v128.load(bias + off, 16);
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  for (let i: usize = 0; i < k8; i += 8) {
    for (let s: usize = 0; s < 64; s += 16) {
      const w0 = wload<W>(w + s * WS), w1 = wload<W>(w + (s + 8) * WS);
      let x = v128.load(xr + s);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x, w1));
      x = v128.load(xr + s, 64);
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x, w1));
      x = v128.load(xr + s, 128);
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x, w1));
      x = v128.load(xr + s, 192);
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x, w1));
    }
    w += 64 * WS;
    xr += 256;
  }
  storeBytes8(yo, requant4(c00, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c01, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + ldy, requant4(c10, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c11, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + 2 * ldy, requant4(c20, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c21, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
  storeBytes8(yo + 3 * ldy, requant4(c30, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz), requant4(c31, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
}

/** Bytes of activation and output rows a panel of gemm_i8 keeps in cache while it cycles through the weight blocks. */
const PANEL_BYTES = 96 * 1024;

/** Packed weights small enough to stay in L1 while rows stream past them (gemm_i8 then goes row group by row group). */
const SMALL_WEIGHTS: usize = 24 * 1024;

/**
 * Y[r, o] = requant(bias[o] + Σ_k A[r, k] · W[o, k]) with A raw int8 rows
 * (stride lda bytes; k8 bytes readable in each, the ones past K meet zero
 * weights) and Y int8 rows of stride ldy. The bias has the input zero point
 * folded in, so activations are only sign-extended.
 *
 * Activations are widened to int16 and rotated (the four k-pair
 * rotations tile4 needs) once into ROTATED when k8 ≤ ROT_K8 and there are
 * more than two blocks of channels (with one or two, writing the rotations
 * costs what reading them saves: 4–8 % slower), so every block
 * of channels reads ready vectors instead of widening and rotating the same
 * rows again (tile4r; V8 spills tile4's registers either way). Measured in
 * an interleaved A/B of 1×1 convs: −17 to −24 % with K = 16–32, −9 to −16 %
 * with K = 96–1024.
 * - All packed weights in L1 (SMALL_WEIGHTS): each group of 4 rows meets
 *   every block in turn.
 * - Otherwise, k8 ≤ ROT_K8: panels of rows that fill ROTATED, each block over
 *   the whole panel (its weights stay in L1).
 * - Otherwise: panels small enough for their int8 activations and outputs to
 *   stay in cache, each block over the panel's rows with tile4.
 */
function gemm_i8<W>(
  a: usize, lda: i32, rows: i32, k8: i32, wp: usize, bias: usize, cout: i32, y: usize, ldy: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const blocks = (cout + 7) >> 3;
  const aStride = <usize>lda, yStride = <usize>ldy;
  const blockBytes = (<usize>k8 << 3) * <usize>sizeof<W>();
  if (<usize>blocks * blockBytes <= SMALL_WEIGHTS) {
    // All weights fit in L1: each group of rows meets every block at once, so
    // activations are read once and output rows are written whole.
    let r = 0;
    if (<usize>k8 <= ROT_K8 && blocks > 2) {
      for (; r + 4 <= rows; r += 4) {
        const ar = a + <usize>r * aStride, yr = y + <usize>r * yStride;
        rotateRows(ar, aStride, <usize>k8, ROTATED);
        for (let j = 0; j < blocks; j++) {
          tile4r<W>(ROTATED, <usize>k8, wp + <usize>j * blockBytes, bias, <usize>j << 5, yr + (<usize>j << 3), yStride, cout - (j << 3),
            mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
        }
      }
    }
    for (; r + 4 <= rows; r += 4) {
      const ar = a + <usize>r * aStride, yr = y + <usize>r * yStride;
      for (let j = 0; j < blocks; j++) {
        tile4<W>(ar, aStride, <usize>k8, wp + <usize>j * blockBytes, bias, <usize>j << 5, yr + (<usize>j << 3), yStride, cout - (j << 3),
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
    }
    for (; r < rows; r++) {
      const ar = a + <usize>r * aStride, yr = y + <usize>r * yStride;
      for (let j = 0; j < blocks; j++) {
        tile1<W>(ar, <usize>k8, wp + <usize>j * blockBytes, bias, <usize>j << 5, yr + (<usize>j << 3), cout - (j << 3),
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
    }
    return;
  }
  if (<usize>k8 <= ROT_K8 && blocks > 2) {
    // Panels of rows pre-rotated into ROTATED, each block of channels over all of them.
    const group = <usize>k8 << 5;
    const panelR = <i32>(ROT_BYTES / group) << 2;
    for (let p = 0; p + 4 <= rows; p += panelR) {
      const end = p + min(panelR, (rows - p) & ~3);
      for (let r = p; r < end; r += 4) rotateRows(a + <usize>r * aStride, aStride, <usize>k8, ROTATED + <usize>((r - p) >> 2) * group);
      for (let j = 0; j < blocks; j++) {
        const w = wp + <usize>j * blockBytes;
        for (let r = p; r < end; r += 4) {
          tile4r<W>(ROTATED + <usize>((r - p) >> 2) * group, <usize>k8, w, bias, <usize>j << 5, y + <usize>r * yStride + (<usize>j << 3), yStride, cout - (j << 3),
            mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
        }
      }
    }
    for (let r = rows & ~3; r < rows; r++) {
      for (let j = 0; j < blocks; j++) {
        tile1<W>(a + <usize>r * aStride, <usize>k8, wp + <usize>j * blockBytes, bias, <usize>j << 5, y + <usize>r * yStride + (<usize>j << 3), cout - (j << 3),
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
    }
    return;
  }
  const panel = max(4, (PANEL_BYTES / (k8 + cout)) & ~3);
  for (let p = 0; p < rows; p += panel) {
    const end = min(rows, p + panel);
    for (let j = 0; j < blocks; j++) {
      const w = wp + <usize>j * blockBytes;
      const off = <usize>j << 5;
      const n = cout - (j << 3);
      let r = p;
      for (; r + 4 <= end; r += 4) {
        tile4<W>(a + <usize>r * aStride, aStride, <usize>k8, w, bias, off, y + <usize>r * yStride + (<usize>j << 3), yStride, n,
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
      for (; r < end; r++) {
        tile1<W>(a + <usize>r * aStride, <usize>k8, w, bias, off, y + <usize>r * yStride + (<usize>j << 3), n,
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
    }
  }
}

/**
 * Copies n bytes sixteen at a time: may read up to 15 bytes past src and
 * write up to 15 past dst (callers write in increasing address order, so the
 * spill is overwritten, and leave 16 bytes of slack after both buffers).
 */
@inline function copyBytes(dst: usize, src: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 16) v128.store(dst + i, v128.load(src + i));
}

/**
 * Gathers the receptive fields of output row (n, oh) as raw int8 rows of k8
 * bytes: kH·kW·Cin taps in (kh, kw, ci) order, z_x for padded taps (the
 * folded bias expects every tap to hold an activation, and x = z_x is what
 * padding means). Bytes past K are left as they are: their weights are 0.
 */
export function im2col_row_i8(
  x: usize, inH: i32, inW: i32, cin: i32, n: i32, oh: i32, outW: i32,
  kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32, col: usize, k8: i32,
): void {
  const tap = <usize>cin;
  const span = <usize>kW * tap;
  const z = <u8>zx;
  let row = col;
  for (let ow = 0; ow < outW; ow++) {
    let dst = row;
    const w0 = ow * sW - pW;
    // With dilation 1 and the whole window row inside the input, its kW taps are contiguous.
    const contiguous = dW == 1 && w0 >= 0 && w0 + kW <= inW;
    for (let kh = 0; kh < kH; kh++) {
      const ih = oh * sH - pH + kh * dH;
      if (ih < 0 || ih >= inH) {
        memory.fill(dst, z, span);
        dst += span;
        continue;
      }
      const xRow = x + <usize>(n * inH + ih) * <usize>inW * tap;
      if (contiguous) {
        copyBytes(dst, xRow + <usize>w0 * tap, span);
        dst += span;
        continue;
      }
      for (let kw = 0; kw < kW; kw++) {
        const iw = w0 + kw * dW;
        if (iw < 0 || iw >= inW) memory.fill(dst, z, tap);
        else copyBytes(dst, xRow + <usize>iw * tap, tap);
        dst += tap;
      }
    }
    row += <usize>k8;
  }
}

/**
 * int8 2-D convolution, one group. A 1×1 window with stride 1 and no padding
 * is one GEMM straight over X (its rows are the pixels); otherwise im2col one
 * output row at a time into `col` (outW · k8 bytes), then gemm_i8.
 */
export function conv_i8(
  x: usize, batch: i32, inH: i32, inW: i32, cin: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32,
  wp: usize, w8: bool, bias: usize, cout: i32, y: usize, col: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const flo = i32x4.splat(MAGIC_BITS + lo - zy), fhi = i8x16.splat(<i8>hi), fz = i32x4.splat(MAGIC_BITS - zy);
  const k8 = (kH * kW * cin + 7) & ~7;
  if (kH == 1 && kW == 1 && sH == 1 && sW == 1 && pH == 0 && pW == 0 && outH == inH && outW == inW) {
    if (w8) gemm_i8<i8>(x, cin, batch * inH * inW, k8, wp, bias, cout, y, cout, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
    else gemm_i8<i16>(x, cin, batch * inH * inW, k8, wp, bias, cout, y, cout, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
    return;
  }
  const yRow = <usize>outW * <usize>cout;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      im2col_row_i8(x, inH, inW, cin, n, oh, outW, kH, kW, sH, sW, dH, dW, pH, pW, zx, col, k8);
      if (w8) gemm_i8<i8>(col, k8, outW, k8, wp, bias, cout, yo, cout, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      else gemm_i8<i16>(col, k8, outW, k8, wp, bias, cout, yo, cout, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      yo += yRow;
    }
  }
}

/** FullyConnected: one GEMM straight over X's rows of K int8 (the bias has z_x folded in). */
export function fully_connected_i8(
  x: usize, rows: i32, k: i32, wp: usize, w8: bool, bias: usize, cout: i32, y: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  gemm_rows_i8(x, k, rows, k, wp, w8, bias, cout, y, cout, mode, scales, mults, shifts, zy, lo, hi);
}

/**
 * gemm_i8 over `rows` rows of X `lda` bytes apart (K int8 each, z_x folded
 * into the bias), output row r at y + r·ldy: the transposed convolution's
 * phases write every s-th output pixel.
 */
export function gemm_rows_i8(
  x: usize, lda: i32, rows: i32, k: i32, wp: usize, w8: bool, bias: usize, cout: i32, y: usize, ldy: i32,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const flo = i32x4.splat(MAGIC_BITS + lo - zy), fhi = i8x16.splat(<i8>hi), fz = i32x4.splat(MAGIC_BITS - zy);
  if (w8) gemm_i8<i8>(x, lda, rows, (k + 7) & ~7, wp, bias, cout, y, ldy, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
  else gemm_i8<i16>(x, lda, rows, (k + 7) & ~7, wp, bias, cout, y, ldy, mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
}

/**
 * The interior pixels [owLo, owHi) of one output row of a 3×3 window lying
 * wholly inside the input, one block of 8 channels at a time so the nine
 * tap weights stay in registers across the row: raw activations (z_x is
 * folded into biasF), products summed by pairs in int16 (raw x in [−128, 127]
 * times w in [−127, 127] is at most 16256 in magnitude, so two fit) and widened into two
 * int32x4 accumulators. Two pixels per pass (independent accumulator
 * chains), then the odd one. `xr` is the input at the window's top row,
 * `rs`/`cs` the byte steps between tap rows/columns, `ps` between output
 * pixels.
 */
@inline function dw3x3Row(
  xr: usize, rs: usize, cs: usize, ps: usize, c: i32, owLo: i32, owHi: i32, wp: usize, wt: usize, biasF: usize, yr: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const pix = <usize>c;
  const cs2 = cs << 1;
  for (let cb = 0; cb < c; cb += 8) {
    const w = wp + (<usize>cb << 1);
    const w0 = v128.load(w), w1 = v128.load(w + wt), w2 = v128.load(w + 2 * wt);
    const w3 = v128.load(w + 3 * wt), w4 = v128.load(w + 4 * wt), w5 = v128.load(w + 5 * wt);
    const w6 = v128.load(w + 6 * wt), w7 = v128.load(w + 7 * wt), w8 = v128.load(w + 8 * wt);
    const off = <usize>cb << 2;
    const n = c - cb;
    let p = xr + <usize>owLo * ps + <usize>cb;
    let yo = yr + <usize>owLo * pix + <usize>cb;
    let ow = owLo;
    for (; ow + 2 <= owHi; ow += 2) {
      const q = p + rs, r = q + rs;
      const pb = p + ps, qb = q + ps, rb = r + ps;
      let a0 = v128.load(biasF + off), a1 = v128.load(biasF + off, 16);
      let b0 = a0, b1 = a1;
      let t = i16x8.add(i16x8.mul(v128.load8x8_s(p), w0), i16x8.mul(v128.load8x8_s(p + cs), w1));
      let u = i16x8.add(i16x8.mul(v128.load8x8_s(pb), w0), i16x8.mul(v128.load8x8_s(pb + cs), w1));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(p + cs2), w2), i16x8.mul(v128.load8x8_s(q), w3));
      u = i16x8.add(i16x8.mul(v128.load8x8_s(pb + cs2), w2), i16x8.mul(v128.load8x8_s(qb), w3));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(q + cs), w4), i16x8.mul(v128.load8x8_s(q + cs2), w5));
      u = i16x8.add(i16x8.mul(v128.load8x8_s(qb + cs), w4), i16x8.mul(v128.load8x8_s(qb + cs2), w5));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(r), w6), i16x8.mul(v128.load8x8_s(r + cs), w7));
      u = i16x8.add(i16x8.mul(v128.load8x8_s(rb), w6), i16x8.mul(v128.load8x8_s(rb + cs), w7));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
      t = i16x8.mul(v128.load8x8_s(r + cs2), w8);
      u = i16x8.mul(v128.load8x8_s(rb + cs2), w8);
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
      storeBytes8(yo, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
      storeBytes8(yo + pix, requant4(b0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(b1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
      p += ps << 1;
      yo += pix << 1;
    }
    for (; ow < owHi; ow++) {
      const q = p + rs, r = q + rs;
      let a0 = v128.load(biasF + off), a1 = v128.load(biasF + off, 16);
      let t = i16x8.add(i16x8.mul(v128.load8x8_s(p), w0), i16x8.mul(v128.load8x8_s(p + cs), w1));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(p + cs2), w2), i16x8.mul(v128.load8x8_s(q), w3));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(q + cs), w4), i16x8.mul(v128.load8x8_s(q + cs2), w5));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      t = i16x8.add(i16x8.mul(v128.load8x8_s(r), w6), i16x8.mul(v128.load8x8_s(r + cs), w7));
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      t = i16x8.mul(v128.load8x8_s(r + cs2), w8);
      a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
      storeBytes8(yo, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
      p += ps;
      yo += pix;
    }
  }
}

/**
 * dw3x3Row for any window: interior pixels [owLo, owHi) of one output row,
 * 8 channels per block, raw activations against biasF, products of two taps
 * of a tap row summed in int16 (a row's odd last tap alone), two pixels per
 * pass. Weights are re-read per tap (a 5×5 window has too many to keep in
 * registers); they stay in L1 across the row.
 */
@inline function dwAnyRow(
  xr: usize, rs: usize, cs: usize, ps: usize, c: i32, owLo: i32, owHi: i32, kH: i32, kW: i32, wp: usize, wt: usize, biasF: usize, yr: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  const pix = <usize>c;
  const rowW = <usize>kW * wt;
  for (let cb = 0; cb < c; cb += 8) {
    const off = <usize>cb << 2;
    const n = c - cb;
    const wc = wp + (<usize>cb << 1);
    let p = xr + <usize>owLo * ps + <usize>cb;
    let yo = yr + <usize>owLo * pix + <usize>cb;
    let ow = owLo;
    for (; ow + 2 <= owHi; ow += 2) {
      let a0 = v128.load(biasF + off), a1 = v128.load(biasF + off, 16);
      let b0 = a0, b1 = a1;
      const pb = p + ps;
      for (let kh = 0; kh < kH; kh++) {
        const ra = p + <usize>kh * rs, rb = pb + <usize>kh * rs, wr = wc + <usize>kh * rowW;
        let kw = 0;
        for (; kw + 2 <= kW; kw += 2) {
          const w0 = v128.load(wr + <usize>kw * wt), w1 = v128.load(wr + <usize>(kw + 1) * wt);
          const xo = <usize>kw * cs;
          const t = i16x8.add(i16x8.mul(v128.load8x8_s(ra + xo), w0), i16x8.mul(v128.load8x8_s(ra + xo + cs), w1));
          const u = i16x8.add(i16x8.mul(v128.load8x8_s(rb + xo), w0), i16x8.mul(v128.load8x8_s(rb + xo + cs), w1));
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
          b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
        }
        if (kw < kW) {
          const w0 = v128.load(wr + <usize>kw * wt);
          const xo = <usize>kw * cs;
          const t = i16x8.mul(v128.load8x8_s(ra + xo), w0), u = i16x8.mul(v128.load8x8_s(rb + xo), w0);
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
          b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(u)); b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(u));
        }
      }
      storeBytes8(yo, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
      storeBytes8(yo + pix, requant4(b0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(b1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
      p += ps << 1;
      yo += pix << 1;
    }
    if (ow < owHi) {
      let a0 = v128.load(biasF + off), a1 = v128.load(biasF + off, 16);
      for (let kh = 0; kh < kH; kh++) {
        const ra = p + <usize>kh * rs, wr = wc + <usize>kh * rowW;
        let kw = 0;
        for (; kw + 2 <= kW; kw += 2) {
          const xo = <usize>kw * cs;
          const t = i16x8.add(i16x8.mul(v128.load8x8_s(ra + xo), v128.load(wr + <usize>kw * wt)),
            i16x8.mul(v128.load8x8_s(ra + xo + cs), v128.load(wr + <usize>(kw + 1) * wt)));
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
        }
        if (kw < kW) {
          const t = i16x8.mul(v128.load8x8_s(ra + <usize>kw * cs), v128.load(wr + <usize>kw * wt));
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(t)); a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(t));
        }
      }
      storeBytes8(yo, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
        requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), n, fhi);
    }
  }
}

/**
 * One output pixel over all channels, any window: only taps inside the input
 * are summed, with x − z_x (padding contributes nothing) and the plain bias.
 * Sixteen, then eight channels per step, products widened to int32 with
 * extmul. The last vector may read up to 7 bytes past channel C.
 */
@inline function dwGenericPixel(
  xPix: usize, pix: usize, inW: i32, c: i32, h0: i32, w0: i32, kh0: i32, kh1: i32, kw0: i32, kw1: i32, kW: i32, dH: i32, dW: i32,
  z: v128, wp: usize, wTapBytes: usize, bias: usize, yo: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32, flo: v128, fhi: v128, fz: v128,
): void {
  let cb = 0;
  for (; cb + 16 <= c; cb += 16) {
    const off = <usize>cb << 2;
    let a0 = v128.load(bias + off), a1 = v128.load(bias + off, 16), a2 = v128.load(bias + off, 32), a3 = v128.load(bias + off, 48);
    for (let kh = kh0; kh < kh1; kh++) {
      const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
      const wRow = wp + <usize>(kh * kW) * wTapBytes + (<usize>cb << 1);
      for (let kw = kw0; kw < kw1; kw++) {
        const xb = v128.load(xRow + <usize>(w0 + kw * dW) * pix);
        const xl = i16x8.sub(i16x8.extend_low_i8x16_s(xb), z);
        const xh = i16x8.sub(i16x8.extend_high_i8x16_s(xb), z);
        const wq = wRow + <usize>kw * wTapBytes;
        const wl = v128.load(wq), wh = v128.load(wq, 16);
        a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xl, wl));
        a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xl, wl));
        a2 = i32x4.add(a2, i32x4.extmul_low_i16x8_s(xh, wh));
        a3 = i32x4.add(a3, i32x4.extmul_high_i16x8_s(xh, wh));
      }
    }
    storeBytes8(yo + <usize>cb, requant4(a0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
      requant4(a1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), 8, fhi);
    storeBytes8(yo + <usize>cb + 8, requant4(a2, mode, scales, mults, shifts, off + 32, zy, lo, hi, flo, fhi, fz),
      requant4(a3, mode, scales, mults, shifts, off + 48, zy, lo, hi, flo, fhi, fz), 8, fhi);
  }
  for (; cb < c; cb += 8) {
    const off = <usize>cb << 2;
    let acc0 = v128.load(bias + off), acc1 = v128.load(bias + off, 16);
    for (let kh = kh0; kh < kh1; kh++) {
      const xRow = xPix + <usize>((h0 + kh * dH) * inW) * pix + <usize>cb;
      const wRow = wp + <usize>(kh * kW) * wTapBytes + (<usize>cb << 1);
      for (let kw = kw0; kw < kw1; kw++) {
        const xv = i16x8.sub(v128.load8x8_s(xRow + <usize>(w0 + kw * dW) * pix), z);
        const wv = v128.load(wRow + <usize>kw * wTapBytes);
        acc0 = i32x4.add(acc0, i32x4.extmul_low_i16x8_s(xv, wv));
        acc1 = i32x4.add(acc1, i32x4.extmul_high_i16x8_s(xv, wv));
      }
    }
    storeBytes8(yo + <usize>cb, requant4(acc0, mode, scales, mults, shifts, off, zy, lo, hi, flo, fhi, fz),
      requant4(acc1, mode, scales, mults, shifts, off + 16, zy, lo, hi, flo, fhi, fz), c - cb, fhi);
  }
}

/**
 * int8 depthwise convolution, depth multiplier 1 (the binding repeats input
 * channels for larger multipliers). Weights are packed [taps][Cpad8] int16,
 * biases padded to Cpad8.
 *
 * With `biasF` non-zero (weights in [−127, 127], and biasF = bias −
 * z_x·Σ_taps w), pixels whose window lies wholly inside the input take
 * dw3x3Row (3×3 windows) or dwAnyRow (others); the remaining pixels, and all
 * of them without biasF, take dwGenericPixel. Vectors of 8 channels may read up to 7 bytes past channel C
 * (the binding leaves slack after X).
 */
export function depthwise_i8(
  x: usize, batch: i32, inH: i32, inW: i32, c: i32,
  outH: i32, outW: i32, kH: i32, kW: i32, sH: i32, sW: i32, dH: i32, dW: i32, pH: i32, pW: i32, zx: i32,
  wp: usize, bias: usize, biasF: usize, y: usize,
  mode: i32, scales: usize, mults: usize, shifts: usize, zy: i32, lo: i32, hi: i32,
): void {
  const flo = i32x4.splat(MAGIC_BITS + lo - zy), fhi = i8x16.splat(<i8>hi), fz = i32x4.splat(MAGIC_BITS - zy);
  const z = i16x8.splat(<i16>zx);
  const cpad = (c + 7) & ~7;
  const pix = <usize>c;
  const wTapBytes = <usize>cpad << 1;
  const fast = biasF != 0;
  const three = kH == 3 && kW == 3;
  // Output columns whose window lies wholly inside the input: [owLo, owHi).
  let owLo = 0;
  while (owLo < outW && owLo * sW - pW < 0) owLo++;
  let owHi = owLo;
  while (owHi < outW && owHi * sW - pW + (kW - 1) * dW < inW) owHi++;
  const rs = <usize>dH * <usize>inW * pix, cs = <usize>dW * pix;
  let yo = y;
  for (let n = 0; n < batch; n++) {
    const xPix = x + <usize>(n * inH) * <usize>inW * pix;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sH - pH;
      const kh0 = firstTap(h0, kH, dH), kh1 = endTap(h0, kH, dH, inH, kh0);
      const rowInside = fast && h0 >= 0 && h0 + (kH - 1) * dH < inH;
      const inside = rowInside && owHi > owLo;
      if (inside && three) {
        dw3x3Row(xPix + <usize>h0 * <usize>inW * pix - <usize>pW * pix, rs, cs, <usize>sW * pix, c, owLo, owHi, wp, wTapBytes, biasF, yo,
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      } else if (inside) {
        dwAnyRow(xPix + <usize>h0 * <usize>inW * pix - <usize>pW * pix, rs, cs, <usize>sW * pix, c, owLo, owHi, kH, kW, wp, wTapBytes, biasF, yo,
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
      for (let ow = 0; ow < outW; ow++) {
        if (inside && ow >= owLo && ow < owHi) continue;
        const w0 = ow * sW - pW;
        const kw0 = firstTap(w0, kW, dW), kw1 = endTap(w0, kW, dW, inW, kw0);
        dwGenericPixel(xPix, pix, inW, c, h0, w0, kh0, kh1, kw0, kw1, kW, dH, dW, z, wp, wTapBytes, bias, yo + <usize>ow * pix,
          mode, scales, mults, shifts, zy, lo, hi, flo, fhi, fz);
      }
      yo += <usize>outW * pix;
    }
  }
}

/**
 * y[i·m + j] = x[i] for i < n, j < m: the input of a depthwise convolution
 * with depth multiplier m, each channel repeated so the kernel sees
 * multiplier 1. Whole vectors: writes up to 15 bytes past y[n·m] (the
 * binding leaves slack) and each spill is overwritten by the next element.
 */
export function repeat_i8(x: usize, y: usize, n: i32, m: i32): void {
  const step = <usize>m;
  let dst = y;
  for (let i = 0; i < n; i++) {
    const v = i8x16.splat(load<i8>(x + <usize>i));
    for (let j: usize = 0; j < step; j += 16) v128.store(dst + j, v);
    dst += step;
  }
}

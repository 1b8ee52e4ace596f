/**
 * Three int8 GEMM inner loops for one question: does
 * i32x4.relaxed_dot_i8x16_i7x16_add_s make the int8 GEMM faster, on the
 * engines at hand? (scripts/relaxed-dot/probe.ts compiles this file, checks
 * each against a plain JS sum and counts instructions.) Y[r, o] = bias[o] +
 * Σ_k A[r, k]·W[o, k] as int32, rows a multiple of 4, cout of 8, the same
 * 4-row × 8-channel tile and k-pair rotation as tile4 in
 * src/kernels/wasm/assembly/i8.as.ts, so only the dot product differs:
 *
 * - i16: tile4's loop: activations and weights widened to int16,
 *   i32x4.dot_i16x8_s + i32x4.add, 8 k a step (the kernel in use).
 * - split: exact on every lowering. Weights w ∈ [−127, 127] are packed as
 *   two i7 halves, a = min(w + 127, 127) and b = w + 127 − a (both in
 *   [0, 127]); Σ x·w = dot(x, a) + dot(x, b) − 127·Σ x, the row sum
 *   computed once per 16 k with a third dot against ones. Two relaxed dots
 *   per 16 products into one accumulator.
 * - usdot: XNNPACK's "wasmusdot" scheme: activations x ^ 0x80 = x + 128
 *   (0…255) as the second operand, weights as the signed first; Σ x·w =
 *   dot(w, x + 128) − 128·Σ w (folded into the bias). One relaxed dot per
 *   16 products, but exact only where the engine treats the second operand
 *   as unsigned without saturating pairs (x86 AVX-VNNI vpdpbusd); XNNPACK
 *   takes it only after a probe at start-up says so.
 */

@inline function rot(x: v128): v128 {
  return i32x4.shuffle(x, x, 1, 2, 3, 0);
}

@inline function store8(y: usize, c0: v128, c1: v128): void {
  v128.store(y, c0);
  v128.store(y, c1, 16);
}

/** Weights: per block of 8 channels, per 8 k, 4 steps × 2 vectors of 8 int8 (channels 0–3, 4–7), lane l of step s = k-pair (l + s) mod 4. */
export function gemm_i16(a: usize, rows: i32, k: i32, wp: usize, bias: usize, cout: i32, y: usize): void {
  const blocks = cout >> 3;
  const lda = <usize>k, ldy = <usize>cout << 2;
  for (let r = 0; r < rows; r += 4) {
    const a0 = a + <usize>r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * (<usize>k << 3);
      let c00 = v128.load(bias + (<usize>j << 5)), c01 = v128.load(bias + (<usize>j << 5), 16);
      let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
      for (let i: usize = 0; i < <usize>k; i += 8) {
        let x0 = v128.load8x8_s(a0 + i), x1 = v128.load8x8_s(a1 + i), x2 = v128.load8x8_s(a2 + i), x3 = v128.load8x8_s(a3 + i);
        for (let s = 0; s < 4; s++) {
          const w0 = v128.load8x8_s(w), w1 = v128.load8x8_s(w + 8);
          c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
          c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
          c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
          c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
          x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
          w += 16;
        }
      }
      const yo = y + <usize>r * ldy + (<usize>j << 5);
      store8(yo, c00, c01); store8(yo + ldy, c10, c11); store8(yo + 2 * ldy, c20, c21); store8(yo + 3 * ldy, c30, c31);
    }
  }
}

/** Horizontal sum of the four lanes, in every lane. */
@inline function hsum(v: v128): v128 {
  const t = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.add(t, i32x4.shuffle(t, t, 1, 0, 3, 2));
}

/**
 * Weights: per block, per 16 k, 4 steps × 2 channel quads × {a, b}, 16 int8
 * each (lane l of step s = k-quad (l + s) mod 4 of channel quad·4 + l).
 */
export function gemm_split(a: usize, rows: i32, k: i32, wp: usize, bias: usize, cout: i32, y: usize): void {
  const blocks = cout >> 3;
  const lda = <usize>k, ldy = <usize>cout << 2;
  const ones = i8x16.splat(1), off = i32x4.splat(127);
  for (let r = 0; r < rows; r += 4) {
    const a0 = a + <usize>r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    // Row sums once per row group, −127·Σx in every lane.
    let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (let i: usize = 0; i < <usize>k; i += 16) {
      s0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a0 + i), ones, s0);
      s1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a1 + i), ones, s1);
      s2 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a2 + i), ones, s2);
      s3 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a3 + i), ones, s3);
    }
    const m0 = i32x4.mul(hsum(s0), off), m1 = i32x4.mul(hsum(s1), off), m2 = i32x4.mul(hsum(s2), off), m3 = i32x4.mul(hsum(s3), off);
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * (<usize>k << 4);
      const b0 = v128.load(bias + (<usize>j << 5)), b1 = v128.load(bias + (<usize>j << 5), 16);
      let c00 = i32x4.sub(b0, m0), c01 = i32x4.sub(b1, m0), c10 = i32x4.sub(b0, m1), c11 = i32x4.sub(b1, m1);
      let c20 = i32x4.sub(b0, m2), c21 = i32x4.sub(b1, m2), c30 = i32x4.sub(b0, m3), c31 = i32x4.sub(b1, m3);
      for (let i: usize = 0; i < <usize>k; i += 16) {
        let x0 = v128.load(a0 + i), x1 = v128.load(a1 + i), x2 = v128.load(a2 + i), x3 = v128.load(a3 + i);
        for (let s = 0; s < 4; s++) {
          const p0 = v128.load(w), q0 = v128.load(w, 16), p1 = v128.load(w, 32), q1 = v128.load(w, 48);
          c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, q0, i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, p0, c00));
          c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, q1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, p1, c01));
          c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, q0, i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, p0, c10));
          c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, q1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, p1, c11));
          c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, q0, i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, p0, c20));
          c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, q1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x2, p1, c21));
          c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, q0, i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, p0, c30));
          c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, q1, i32x4.relaxed_dot_i8x16_i7x16_add_s(x3, p1, c31));
          x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
          w += 64;
        }
      }
      const yo = y + <usize>r * ldy + (<usize>j << 5);
      store8(yo, c00, c01); store8(yo + ldy, c10, c11); store8(yo + 2 * ldy, c20, c21); store8(yo + 3 * ldy, c30, c31);
    }
  }
}

/** Weights: per block, per 16 k, 4 steps × 2 channel quads, 16 int8 each; the bias already holds −128·Σw. */
export function gemm_usdot(a: usize, rows: i32, k: i32, wp: usize, bias: usize, cout: i32, y: usize): void {
  const blocks = cout >> 3;
  const lda = <usize>k, ldy = <usize>cout << 2;
  const sign = i8x16.splat(-128);
  for (let r = 0; r < rows; r += 4) {
    const a0 = a + <usize>r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    for (let j = 0; j < blocks; j++) {
      let w = wp + <usize>j * (<usize>k << 3);
      let c00 = v128.load(bias + (<usize>j << 5)), c01 = v128.load(bias + (<usize>j << 5), 16);
      let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
      for (let i: usize = 0; i < <usize>k; i += 16) {
        let x0 = v128.xor(v128.load(a0 + i), sign), x1 = v128.xor(v128.load(a1 + i), sign);
        let x2 = v128.xor(v128.load(a2 + i), sign), x3 = v128.xor(v128.load(a3 + i), sign);
        for (let s = 0; s < 4; s++) {
          const w0 = v128.load(w), w1 = v128.load(w, 16);
          c00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x0, c00); c01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x0, c01);
          c10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x1, c10); c11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x1, c11);
          c20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x2, c20); c21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x2, c21);
          c30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, x3, c30); c31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, x3, c31);
          x0 = rot(x0); x1 = rot(x1); x2 = rot(x2); x3 = rot(x3);
          w += 32;
        }
      }
      const yo = y + <usize>r * ldy + (<usize>j << 5);
      store8(yo, c00, c01); store8(yo + ldy, c10, c11); store8(yo + 2 * ldy, c20, c21); store8(yo + 3 * ldy, c30, c31);
    }
  }
}

/**
 * The C kernel library of the NN emitter, as source pieces: each piece is one
 * plain function (or a group of helpers) in TFLite Micro's reference style, with
 * its params struct apart from the data, the arithmetic spelled out and the
 * overflow argument in a comment. A package gets only the pieces its nodes use
 * (and what those pieces need), in `cloudless_kernels.{h,c}`.
 *
 * The arithmetic is the one of the TypeScript reference kernels with
 * `int8Arithmetic: 'tflite-reference'` (src/kernels/ref/int8/, docs/int8.md),
 * which are bit-exact with TFLite Micro; every helper names the TS function it
 * mirrors, and the emitter fills the params from the prepared state of those
 * kernels, so multipliers and shifts are computed once, by the same code.
 *
 * The code relies on two properties every C compiler for our targets has
 * (gcc, clang, arm-none-eabi-gcc): `>>` of a negative int32 is arithmetic, and
 * converting an out-of-range uint32 to int32 wraps. TFLite Micro relies on the
 * same.
 */

import { SIGNAL_PIECES } from './c-signal.js';

/** One piece of the library: its declarations (header), its definitions, and the pieces it needs. */
export interface CPiece {
  id: string;
  needs: string[];
  header: string;
  source: string;
}

const FIXEDPOINT: CPiece = {
  id: 'fixedpoint',
  needs: [],
  header: `
/* Fixed-point helpers of TFLite's integer kernels (gemmlowp), on int32 raw values. */
int32_t cl_srdhm(int32_t a, int32_t b);
int32_t cl_rdbpot(int32_t x, int32_t exponent);
int32_t cl_mbqm(int32_t x, int32_t multiplier, int32_t shift);
int32_t cl_clamp_i32(int64_t v, int32_t lo, int32_t hi);
`,
  source: `
/*
 * SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b, rounded to
 * nearest with ties away from zero (a nudge, then a truncating division). The
 * product of two int32 fits int64; only INT32_MIN * INT32_MIN saturates.
 * (requantize.ts saturatingRoundingDoublingHighMul)
 */
int32_t cl_srdhm(int32_t a, int32_t b) {
  int64_t ab;
  int64_t nudge;
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^exponent, rounded to nearest, ties away from zero. (requantize.ts roundingDivideByPOT) */
int32_t cl_rdbpot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * MultiplyByQuantizedMultiplier: x * m * 2^(shift - 31) with two roundings. A
 * positive shift is an int32 left shift before the high multiply (it wraps,
 * as TFLite's does; the prepared shifts keep it in range), a negative one a
 * rounding right shift after it. (requantize.ts multiplyByQuantizedMultiplier)
 */
int32_t cl_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t shifted = (int32_t)((uint32_t)x << left);
  return cl_rdbpot(cl_srdhm(shifted, multiplier), right);
}

/* Clamps an int64 (a requantized value plus its zero point, which int32 may not hold) to [lo, hi]. */
int32_t cl_clamp_i32(int64_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : (int32_t)v;
}
`,
};

const GEMMLOWP_EXP: CPiece = {
  id: 'gemmlowp_exp',
  needs: ['fixedpoint'],
  header: `
/* gemmlowp's fixed-point exp and reciprocal (fixedpoint.ts). */
int32_t cl_exp_on_negative_values(int32_t a, int32_t integer_bits);
int32_t cl_one_over_one_plus_x_for_x_in_01(int32_t a);
int32_t cl_clz32(uint32_t x);
`,
  source: `
/* Additions of raw values wrap like int32 (the TS code's "| 0"); the callers keep them in range. */
static int32_t cl_add_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t cl_sub_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* x * 2^exponent, saturating for exponent > 0, rounding for exponent < 0. */
static int32_t cl_srmbpot(int32_t x, int32_t exponent) {
  int32_t threshold;
  if (exponent == 0) return x;
  if (exponent < 0) return cl_rdbpot(x, -exponent);
  threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), 0 integer bits: a Taylor polynomial around -1/8. */
static int32_t cl_exp_on_interval(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t one_third = 715827883;
  const int32_t x = cl_add_wrap(a, (int32_t)1 << 28);
  const int32_t x2 = cl_srdhm(x, x);
  const int32_t x3 = cl_srdhm(x2, x);
  const int32_t x4 = cl_srdhm(x2, x2);
  const int32_t x4_over_4 = cl_srmbpot(x4, -2);
  const int32_t poly = cl_srmbpot(cl_add_wrap(cl_srdhm(cl_add_wrap(x4_over_4, x3), one_third), x2), -1);
  return cl_add_wrap(constant_term, cl_srdhm(constant_term, cl_add_wrap(x, poly)));
}

/* exp(-2^k) for k = -2 ... 4, 0 integer bits (the barrel shifter's constants). */
static const int32_t cl_exp_barrel_exponent[7] = { -2, -1, 0, 1, 2, 3, 4 };
static const int32_t cl_exp_barrel_multiplier[7] = { 1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242 };

/* exp(a) for a <= 0 with integer_bits integer bits; the result has 0 integer bits. */
int32_t cl_exp_on_negative_values(int32_t a, int32_t integer_bits) {
  const int32_t fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t a_mod_quarter_minus_quarter = cl_sub_wrap(a & (one_quarter - 1), one_quarter);
  int32_t result = cl_exp_on_interval(cl_srmbpot(a_mod_quarter_minus_quarter, integer_bits));
  const int32_t remainder = cl_sub_wrap(a_mod_quarter_minus_quarter, a);
  int i;
  for (i = 0; i < 7; i++) {
    const int32_t e = cl_exp_barrel_exponent[i];
    if (integer_bits > e && (remainder & ((int32_t)1 << (fractional_bits + e))) != 0) {
      result = cl_srdhm(result, cl_exp_barrel_multiplier[i]);
    }
  }
  if (integer_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
    if (a < clamp) result = 0;
  }
  return a == 0 ? INT32_MAX : result;
}

/* RoundingHalfSum: (a + b) / 2 rounded away from zero, in int64 (the sum may pass int32). */
static int32_t cl_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) for a in [0, 1), both with 0 integer bits: three Newton-Raphson steps from 48/17 - 32/17 x. */
int32_t cl_one_over_one_plus_x_for_x_in_01(int32_t a) {
  const int32_t half_denominator = cl_rounding_half_sum(a, INT32_MAX);
  const int32_t c48_over_17 = 1515870810;
  const int32_t cneg32_over_17 = -1010580540;
  int32_t x = cl_add_wrap(c48_over_17, cl_srdhm(half_denominator, cneg32_over_17));
  int i;
  for (i = 0; i < 3; i++) {
    const int32_t half_denominator_times_x = cl_srdhm(half_denominator, x);
    const int32_t one_minus = cl_sub_wrap((int32_t)1 << 29, half_denominator_times_x);
    x = cl_add_wrap(x, cl_srmbpot(cl_srdhm(x, one_minus), 2));
  }
  return cl_srmbpot(x, 1);
}

/* Leading zero bits of a 32-bit value (32 for 0), without compiler builtins. */
int32_t cl_clz32(uint32_t x) {
  int32_t n = 0;
  if (x == 0) return 32;
  while ((x & 0x80000000u) == 0) { x <<= 1; n++; }
  return n;
}
`,
};


const FLOAT_EPILOGUE: CPiece = {
  id: 'float_epilogue',
  needs: [],
  header: `
/* The tflite-xnnpack epilogue (INT8.md formula 1): clamp(rne(fl(fl(acc) * scale)) + zero_point, lo, hi). */
int32_t cl_rne_f32(float v);
int32_t cl_requant_float(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi);
`,
  source: `
/*
 * Round to nearest, ties to even, without libm: for |v| < 2^22 the sum
 * v + 1.5 * 2^23 lies where float's step is 1, so the addition itself rounds
 * v to an integer in the default rounding mode, and 1.5 * 2^23 is even, so
 * ties go to the even neighbour. Larger magnitudes saturate at +-2^22 (every
 * caller clamps to int16 or narrower); NaN gives 0, as the engine stores it.
 */
int32_t cl_rne_f32(float v) {
  const float magic = 12582912.0f;
  if (!(v == v)) return 0;
  if (v >= 4194304.0f) return 4194304;
  if (v <= -4194304.0f) return -4194304;
  return (int32_t)((v + magic) - magic);
}

int32_t cl_requant_float(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  const float v = (float)acc * scale;
  const int32_t q = cl_rne_f32(v) + zero_point;
  return q < lo ? lo : q > hi ? hi : q;
}
`,
};

const REQUANT_PARAMS = `
/* The per-channel epilogue: y = clamp(MBQM(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max). */
`;

/*
 * The Cortex-M DSP path of the int8 multiply-accumulate loops (Conv,
 * DepthwiseConv, FullyConnected). Where the compiler targets a core with the
 * DSP extension (Armv7E-M / Armv8-M Mainline with DSP: Cortex-M4, M7, M33,
 * M55; ACLE defines __ARM_FEATURE_DSP and __ARM_FEATURE_SIMD32), the inner
 * loops read four int8 values per 32-bit load, widen them to two pairs of
 * int16 lanes and multiply-accumulate a pair per instruction (SMLAD,
 * SMLABB/SMLATT). Elsewhere (Cortex-M0/M0+/M3, the host), and when the package
 * is compiled with -DCL_NO_DSP, the plain loops run. Both paths form the same
 * int32 sums term for term, only grouped differently; integer addition is
 * associative, so the outputs are the same bit for bit.
 */
const MAC_S8: CPiece = {
  id: 'mac_s8',
  needs: ['fixedpoint', 'float_epilogue'],
  header: '',
  source: `
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN) && !defined(CL_NO_DSP)
#define CL_DSP 1
#include <arm_acle.h>
#else
#define CL_DSP 0
#endif

#if CL_DSP
#if defined(__GNUC__)
#define CL_MEMCPY __builtin_memcpy
#else
#include <string.h>
#define CL_MEMCPY memcpy
#endif

/* Four int8 from any address as one word (byte 0 lowest). The cores with DSP allow unaligned LDR, so this is one load. */
static uint32_t cl_load4(const int8_t *p) {
  uint32_t v;
  CL_MEMCPY(&v, p, 4);
  return v;
}

/* Bytes 1 and 3 moved to where SXTB16 reads (bytes 0 and 2). */
static uint32_t cl_ror8(uint32_t v) { return (v >> 8) | (v << 24); }

/* An int16 value in both lanes. */
static int16x2_t cl_pair(int32_t v) { return (int16x2_t)(((uint32_t)v & 0xFFFFu) | ((uint32_t)v << 16)); }

/*
 * __sxtab16(o, v): bytes 0 and 2 of v sign-extended to int16 lanes, plus o's
 * lanes, modulo 2^16 per lane. An int8 plus an offset -z with z in [-128, 127]
 * lies in [-255, 255], so no lane wraps: the lanes hold x + offset exactly.
 */
#endif

/* The epilogue of output channel c (see REQUANT_PARAMS; the float factor in tflite-xnnpack). */
static int8_t cl_output_s8(int32_t acc, const float *scale, const int32_t *multiplier, const int32_t *shift, int32_t c,
                           int32_t output_offset, int32_t act_min, int32_t act_max) {
  return (int8_t)(scale
    ? cl_requant_float(acc, scale[c], output_offset, act_min, act_max)
    : cl_clamp_i32((int64_t)cl_mbqm(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max));
}
`,
};

/** The C types of a weighted kernel over int8 (int8) or int16 (16x8) activations: input/output, accumulator, bias. */
function macTypes(e: Elem): { t: string; acc: string; bias: string } {
  return e === 's8' ? { t: 'int8_t', acc: 'int32_t', bias: 'int32_t' } : { t: 'int16_t', acc: 'int64_t', bias: 'int64_t' };
}

const TAPS: CPiece = {
  id: 'taps',
  needs: [],
  header: '',
  source: `
/* The taps of one output pixel inside the input: rows x cols, and the steps between them (in elements) in the input and the filter. */
typedef struct {
  int32_t rows, cols, x_row, x_col, w_row, w_col, x_offset;
} cl_taps;

/* The kernel taps [*k0, *k1) of a window starting at start (stride and padding applied) with this dilation that fall inside [0, size). */
static void cl_window(int32_t start, int32_t dilation, int32_t k, int32_t size, int32_t *k0, int32_t *k1) {
  *k0 = start < 0 ? (dilation - 1 - start) / dilation : 0;
  *k1 = start >= size ? 0 : (size - start + dilation - 1) / dilation;
  if (*k1 > k) *k1 = k;
}
`,
};

/*
 * The 16x8 epilogues in the int8 epilogue's shape (cl_output_s8): the
 * convolutions' 15-bit-multiplier rounding and FullyConnected's full
 * multiplier with ties away from zero (see FIXEDPOINT_WIDE). 16x8 has no
 * float epilogue (XNNPACK takes no int16), so `scale` is always 0 here.
 */
const MAC_S16: CPiece = {
  id: 'mac_s16',
  needs: ['fixedpoint', 'fixedpoint_wide'],
  // Not static: a package may use one of the two, and an unused static function fails -Werror.
  header: ['reduced', 'away'].map((r) => `int16_t cl_output_s16_${r}(int64_t acc, const float *scale, const int32_t *multiplier, const int32_t *shift, int32_t c, int32_t output_offset, int32_t act_min, int32_t act_max);
`).join(''),
  source: ['reduced', 'away'].map((r) => `
int16_t cl_output_s16_${r}(int64_t acc, const float *scale, const int32_t *multiplier, const int32_t *shift, int32_t c,
                          int32_t output_offset, int32_t act_min, int32_t act_max) {
  (void)scale;
  return (int16_t)cl_clamp_i32(cl_mbqm_${r}(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max);
}
`).join(''),
};

/**
 * The tap loops of DepthwiseConv (one channel; four channels side by side;
 * four output channels of one input channel), per activation type. Only the
 * int8 lanes loop has a DSP path: int16 activations do not pack four to a word.
 */
function tapsPiece(e: Elem): CPiece {
  const { t, acc } = macTypes(e);
  const dsp = e === 's8';
  return {
    id: `taps_${e}`,
    needs: ['taps', `mac_${e}`],
    header: '',
    source: `
/* acc + the sum over the taps of (x + x_offset) * w, one channel. */
static ${acc} cl_taps1_${e}(const cl_taps *t, const ${t} *x, const int8_t *w, ${acc} acc) {
  int32_t r, c;
  for (r = 0; r < t->rows; r++) {
    const ${t} *xr = x + r * t->x_row;
    const int8_t *wr = w + r * t->w_row;
    for (c = 0; c < t->cols; c++, xr += t->x_col, wr += t->w_col) acc += ((int32_t)*xr + t->x_offset) * (int32_t)*wr;
  }
  return acc;
}

/*
 * Four channels side by side (depth multiplier 1: input channel c + j feeds
 * output channel c + j): acc[j] += sum over the taps of (x[j] + x_offset) * w[j].${dsp ? `
 * DSP path: one load brings the four inputs and one the four weights;
 * __sxtab16 widens (x0, x2) and (x1, x3) with the offset added (each in
 * [-255, 255], no lane wraps), __sxtb16 the weights, and SMLABB/SMLATT
 * multiply one lane pair each into that channel's accumulator (a product below
 * 2^15, an ordinary int32 addition: exactly the plain loop's terms).` : ''}
 */
static void cl_taps4_lanes_${e}(const cl_taps *t, const ${t} *x, const int8_t *w, ${acc} *acc) {
  ${acc} a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t r, c;${dsp ? `
#if CL_DSP
  const int16x2_t xo = cl_pair(t->x_offset);
#endif` : ''}
  for (r = 0; r < t->rows; r++) {
    const ${t} *xr = x + r * t->x_row;
    const int8_t *wr = w + r * t->w_row;
    for (c = 0; c < t->cols; c++, xr += t->x_col, wr += t->w_col) {${dsp ? `
#if CL_DSP
      const uint32_t xv = cl_load4(xr), wv = cl_load4(wr);
      const int16x2_t x02 = __sxtab16(xo, (int8x4_t)xv), x13 = __sxtab16(xo, (int8x4_t)cl_ror8(xv));
      const int16x2_t w02 = __sxtb16((int8x4_t)wv), w13 = __sxtb16((int8x4_t)cl_ror8(wv));
      a0 = __smlabb(x02, w02, a0);
      a2 = __smlatt(x02, w02, a2);
      a1 = __smlabb(x13, w13, a1);
      a3 = __smlatt(x13, w13, a3);
#else` : ''}
      a0 += ((int32_t)xr[0] + t->x_offset) * (int32_t)wr[0];
      a1 += ((int32_t)xr[1] + t->x_offset) * (int32_t)wr[1];
      a2 += ((int32_t)xr[2] + t->x_offset) * (int32_t)wr[2];
      a3 += ((int32_t)xr[3] + t->x_offset) * (int32_t)wr[3];${dsp ? `
#endif` : ''}
    }
  }
  acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

/*
 * Four output channels of one input channel (a depth multiplier that is a
 * multiple of 4): acc[j] += sum over the taps of (x + x_offset) * w[j]. The
 * one input is read once per tap; plain multiply-accumulates are as short
 * here as the DSP instructions would be, so every build runs this loop.
 */
static void cl_taps4_shared_${e}(const cl_taps *t, const ${t} *x, const int8_t *w, ${acc} *acc) {
  ${acc} a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t r, c;
  for (r = 0; r < t->rows; r++) {
    const ${t} *xr = x + r * t->x_row;
    const int8_t *wr = w + r * t->w_row;
    for (c = 0; c < t->cols; c++, xr += t->x_col, wr += t->w_col) {
      const int32_t xv = (int32_t)*xr + t->x_offset;
      a0 += xv * (int32_t)wr[0];
      a1 += xv * (int32_t)wr[1];
      a2 += xv * (int32_t)wr[2];
      a3 += xv * (int32_t)wr[3];
    }
  }
  acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}
`,
  };
}

/** The dot product of Conv and FullyConnected, per activation type (the DSP path for int8 only). */
function dotPiece(e: Elem): CPiece {
  const { t, acc } = macTypes(e);
  return {
    id: `dot_${e}`,
    needs: [`mac_${e}`],
    header: '',
    source: `
/*
 * acc + sum over i < n of (x[i] + x_offset) * (w[i] + w_offset).${e === 's8' ? `
 * DSP path: per four bytes, the pairs (x0, x2) and (x1, x3) with the offset
 * added (each in [-255, 255], see __sxtab16 above) meet (w0, w2) and (w1, w3);
 * __smlad(a, b, acc) = acc + a.lo * b.lo + a.hi * b.hi. Each product is below
 * 2^16 in magnitude and is exact in the instruction; the two additions are
 * done modulo 2^32 (SMLAD only sets the Q flag, it does not saturate), so the
 * result is the exact integer sum whenever that sum fits int32 -- the same
 * condition the plain loop needs (the callers' bounds). The tail (n mod 4)
 * and the plain path add one term at a time.` : `
 * Each product of an int16 and an int8 (plus offsets) is below 2^24 in
 * magnitude and exact in int32; the sum is int64.`}
 */
static ${acc} cl_dot_${e}(const ${t} *x, const int8_t *w, int32_t n, int32_t x_offset, int32_t w_offset, ${acc} acc) {
  int32_t i = 0;${e === 's8' ? `
#if CL_DSP
  const int16x2_t xo = cl_pair(x_offset), wo = cl_pair(w_offset);
  for (; i + 4 <= n; i += 4) {
    const uint32_t xv = cl_load4(x + i), wv = cl_load4(w + i);
    acc = __smlad(__sxtab16(xo, (int8x4_t)xv), __sxtab16(wo, (int8x4_t)wv), acc);
    acc = __smlad(__sxtab16(xo, (int8x4_t)cl_ror8(xv)), __sxtab16(wo, (int8x4_t)cl_ror8(wv)), acc);
  }
#endif` : ''}
  for (; i < n; i++) acc += ((int32_t)x[i] + x_offset) * ((int32_t)w[i] + w_offset);
  return acc;
}
`,
  };
}

const CONV_PARAMS: CPiece = {
  id: 'conv_params',
  needs: [],
  header: `
typedef struct {
  int32_t batch, in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t input_offset;  /* -z_x */
  int32_t output_offset; /* z_y */
  int32_t act_min, act_max;
  const int32_t *multiplier, *shift; /* per output channel */
  const float *scale; /* tflite-xnnpack: per-channel float factors used instead of multiplier/shift (0 in tflite-reference and 16x8) */
} cl_conv_s8_params;
${REQUANT_PARAMS}`,
  source: '',
};

/** What the 16x8 header of a weighted kernel says of its types. */
const SIXTEEN_BY_EIGHT = 'int16 input and output (zero point 0), int8 weights, int64 bias and accumulator (TFLite bounds 16x8 accumulators by 2^47)';

/** The output function of a weighted kernel: int8's epilogue, or a 16x8 one (`wide`). */
const outputFn = (e: Elem, wide: 'reduced' | 'away') => (e === 's8' ? 'cl_output_s8' : `cl_output_s16_${wide}`);

function convPiece(e: Elem): CPiece {
  const { t, bias } = macTypes(e);
  const { acc } = macTypes(e);
  return {
    id: `conv_${e}`,
    needs: ['conv_params', `dot_${e}`],
    header: `
/* ${e === 's8' ? 'int8' : `16x8 (${SIXTEEN_BY_EIGHT})`} Conv, NHWC input, OHWI weights, one group. */
void cl_conv_${e}(const cl_conv_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output);
`,
    source: `
/*
 * acc = bias[c] + sum over the taps inside the input of (x + input_offset) * w.${e === 's8' ? `
 * |x - z_x| <= 255 and |w| <= 127, so each product is below 2^15; with a bias
 * below 2^30 a window of up to 2^15 taps cannot overflow int32 (TFLite Micro
 * relies on the same bound).` : ''} Taps in the padding are skipped: a padded x equals
 * z_x and would contribute nothing.
 * Without dilation along x, the taps of one kernel row that lie inside the
 * input are contiguous in both the NHWC input and the OHWI filter
 * ((kx1 - kx0) * in_c values), so each row is one dot product; with dilation
 * each tap is one (in_c values).
 */
void cl_conv_${e}(const cl_conv_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output) {
  int32_t b, oy, ox, oc, ky, kx;
  for (b = 0; b < p->batch; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        /* The kernel columns inside the input when dilation_w is 1: [kx0, kx1). */
        const int32_t kx0 = in_x0 < 0 ? -in_x0 : 0;
        const int32_t kx1 = in_x0 + p->k_w > p->in_w ? p->in_w - in_x0 : p->k_w;
        ${t} *y = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (oc = 0; oc < p->out_c; oc++) {
          ${acc} acc = bias ? bias[oc] : 0;
          for (ky = 0; ky < p->k_h; ky++) {
            const int32_t in_y = in_y0 + ky * p->dilation_h;
            const ${t} *x_row;
            const int8_t *w_row;
            if (in_y < 0 || in_y >= p->in_h) continue;
            x_row = input + (b * p->in_h + in_y) * p->in_w * p->in_c;
            w_row = filter + (oc * p->k_h + ky) * p->k_w * p->in_c;
            if (p->dilation_w == 1) {
              if (kx1 > kx0) acc = cl_dot_${e}(x_row + (in_x0 + kx0) * p->in_c, w_row + kx0 * p->in_c, (kx1 - kx0) * p->in_c, p->input_offset, 0, acc);
              continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
              const int32_t in_x = in_x0 + kx * p->dilation_w;
              if (in_x < 0 || in_x >= p->in_w) continue;
              acc = cl_dot_${e}(x_row + in_x * p->in_c, w_row + kx * p->in_c, p->in_c, p->input_offset, 0, acc);
            }
          }
          y[oc] = ${outputFn(e, 'reduced')}(acc, p->scale, p->multiplier, p->shift, oc, p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}
`,
  };
}

const DEPTHWISE_PARAMS: CPiece = {
  id: 'depthwise_conv_params',
  needs: [],
  header: `
typedef struct {
  int32_t batch, in_h, in_w, in_c, depth_multiplier;
  int32_t out_h, out_w;  /* output channels: in_c * depth_multiplier */
  int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t input_offset, output_offset, act_min, act_max;
  const int32_t *multiplier, *shift;
  const float *scale; /* tflite-xnnpack: per-channel float factors used instead of multiplier/shift (0 in tflite-reference and 16x8) */
} cl_depthwise_conv_s8_params;
`,
  source: '',
};

function depthwisePiece(e: Elem): CPiece {
  const { t, acc, bias } = macTypes(e);
  return {
    id: `depthwise_conv_${e}`,
    needs: ['depthwise_conv_params', `taps_${e}`],
    header: `
/* ${e === 's8' ? 'int8' : `16x8 (${SIXTEEN_BY_EIGHT})`} DepthwiseConv, NHWC input, 1HWO weights; output channel c*M + m reads input channel c. */
void cl_depthwise_conv_${e}(const cl_depthwise_conv_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output);
`,
    source: `
/*
 * One input channel per output channel: at most k_h * k_w products${e === 's8' ? ' below 2^15\n * each, far inside int32' : ''}. The window of each output pixel is clipped to the
 * input once (cl_window: a padded x equals z_x and would contribute nothing),
 * so the tap loops run without bounds checks.
 */
void cl_depthwise_conv_${e}(const cl_depthwise_conv_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output) {
  const int32_t out_c = p->in_c * p->depth_multiplier;
  cl_taps t;
  int32_t b, oy, ox, oc, ky0, ky1, kx0, kx1;
  t.x_col = p->dilation_w * p->in_c;
  t.x_row = p->dilation_h * p->in_w * p->in_c;
  t.w_col = out_c;
  t.w_row = p->k_w * out_c;
  t.x_offset = p->input_offset;
  for (b = 0; b < p->batch; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      cl_window(in_y0, p->dilation_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        ${t} *y = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
        const ${t} *x = input;
        const int8_t *w = filter;
        cl_window(in_x0, p->dilation_w, p->k_w, p->in_w, &kx0, &kx1);
        t.rows = ky1 > ky0 && kx1 > kx0 ? ky1 - ky0 : 0;
        t.cols = kx1 - kx0;
        if (t.rows > 0) {
          x = input + ((b * p->in_h + in_y0 + ky0 * p->dilation_h) * p->in_w + in_x0 + kx0 * p->dilation_w) * p->in_c;
          w = filter + (ky0 * p->k_w + kx0) * out_c;
        }
        for (oc = 0; oc < out_c;) {
          const int32_t ic = oc / p->depth_multiplier;
          ${acc} acc[4];
          int32_t j, n;
          if (p->depth_multiplier == 1 && oc + 4 <= out_c) {
            n = 4;
            for (j = 0; j < 4; j++) acc[j] = bias ? bias[oc + j] : 0;
            cl_taps4_lanes_${e}(&t, x + ic, w + oc, acc);
          } else if (p->depth_multiplier % 4 == 0) {
            n = 4;
            for (j = 0; j < 4; j++) acc[j] = bias ? bias[oc + j] : 0;
            cl_taps4_shared_${e}(&t, x + ic, w + oc, acc);
          } else {
            n = 1;
            acc[0] = cl_taps1_${e}(&t, x + ic, w + oc, bias ? bias[oc] : 0);
          }
          for (j = 0; j < n; j++, oc++) y[oc] = ${outputFn(e, 'reduced')}(acc[j], p->scale, p->multiplier, p->shift, oc, p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}
`,
  };
}

const FULLY_CONNECTED_PARAMS: CPiece = {
  id: 'fully_connected_params',
  needs: [],
  header: `
typedef struct {
  int32_t rows, depth, units;  /* x: rows x depth, w: units x depth */
  int32_t input_offset;        /* -z_x */
  int32_t filter_offset;       /* -z_w (0 for per-channel weights) */
  int32_t output_offset, act_min, act_max;
  const int32_t *multiplier, *shift; /* one per unit (all equal for per-tensor weights) */
  const float *scale; /* tflite-xnnpack: per-channel float factors used instead of multiplier/shift (0 in tflite-reference and 16x8) */
} cl_fully_connected_s8_params;
`,
  source: '',
};

function fullyConnectedPiece(e: Elem): CPiece {
  const { t, acc, bias } = macTypes(e);
  return {
    id: `fully_connected_${e}`,
    needs: ['fully_connected_params', `dot_${e}`],
    header: `
/* ${e === 's8' ? 'int8' : `16x8 (${SIXTEEN_BY_EIGHT})`} FullyConnected: y[r][u] = requant(bias[u] + sum_i (x[r][i] - z_x) * (w[u][i] - z_w)). */
void cl_fully_connected_${e}(const cl_fully_connected_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output);
`,
    source: `
/*${e === 's8' ? ' Each product is below 2^16 (a weight zero point may widen w - z_w to 255), so up to 2^14 terms fit int32 with the bias.' : ' The full multiplier with ties away from zero (as LiteRT.js measured).'} */
void cl_fully_connected_${e}(const cl_fully_connected_s8_params *p, const ${t} *input, const int8_t *filter, const ${bias} *bias, ${t} *output) {
  int32_t r, u;
  for (r = 0; r < p->rows; r++) {
    const ${t} *x = input + r * p->depth;
    for (u = 0; u < p->units; u++) {
      const ${acc} acc = cl_dot_${e}(x, filter + u * p->depth, p->depth, p->input_offset, p->filter_offset, bias ? bias[u] : 0);
      output[r * p->units + u] = ${outputFn(e, 'away')}(acc, p->scale, p->multiplier, p->shift, u, p->output_offset, p->act_min, p->act_max);
    }
  }
}
`,
  };
}

const POOL_PARAMS: CPiece = {
  id: 'pool_params',
  needs: ['pool_clamp'],
  header: `
typedef struct {
  int32_t batch, in_h, in_w, channels, out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
  int32_t act_min, act_max;
} cl_pool_s8_params;
`,
  source: `
/* The window of output pixel (oy, ox) clipped to the input: taps [*k0, *k1). */
static void cl_pool_clip(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t size, int32_t *k0, int32_t *k1) {
  const int32_t start = o * stride - pad;
  *k0 = start < 0 ? -start : 0;
  *k1 = start + k > size ? size - start : k;
}
`,
};

/**
 * AveragePool and MaxPool on raw values of one element type (TFLite's int8
 * pools, and its int16 pools, which are the same code on int16 values:
 * ref/int8/pool.ts). The params struct keeps its int8 name for both.
 */
function poolPiece(e: Elem): CPiece {
  const t = C_ELEM[e]!;
  const lowest = e === 's8' ? '-128' : '-32768';
  return {
    id: `pool_${e}`,
    needs: ['pool_params'],
    header: `
/* ${e === 's8' ? 'int8' : '16x8 (int16)'} AveragePool and MaxPool (input and output share their quantization, as TFLite requires). */
void cl_average_pool_${e}(const cl_pool_s8_params *p, const ${t} *input, ${t} *output);
void cl_max_pool_${e}(const cl_pool_s8_params *p, const ${t} *input, ${t} *output);
`,
    source: `
/*
 * The raw sum over the taps inside the input divided by their count, rounding
 * half away from zero (C's truncating division of a nudged sum). A sum of up
 * to 2^${e === 's8' ? 23 : 15} ${e === 's8' ? 'int8' : 'int16'} values fits int32.
 */
void cl_average_pool_${e}(const cl_pool_s8_params *p, const ${t} *input, ${t} *output) {
  int32_t b, oy, ox, c, ky, kx, ky0, ky1, kx0, kx1;
  for (b = 0; b < p->batch; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      cl_pool_clip(oy, p->stride_h, p->pad_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        cl_pool_clip(ox, p->stride_w, p->pad_w, p->k_w, p->in_w, &kx0, &kx1);
        for (c = 0; c < p->channels; c++) {
          int32_t sum = 0, count, avg;
          for (ky = ky0; ky < ky1; ky++) {
            for (kx = kx0; kx < kx1; kx++) {
              const int32_t iy = oy * p->stride_h - p->pad_h + ky, ix = ox * p->stride_w - p->pad_w + kx;
              sum += input[((b * p->in_h + iy) * p->in_w + ix) * p->channels + c];
            }
          }
          count = (ky1 > ky0 && kx1 > kx0) ? (ky1 - ky0) * (kx1 - kx0) : 0;
          if (count == 0) avg = 0;
          else avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
          output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] = (${t})cl_pool_clamp(avg, p->act_min, p->act_max);
        }
      }
    }
  }
}

/* The maximum over the taps inside the input, starting from ${lowest} (TFLite's integer MaxPool). */
void cl_max_pool_${e}(const cl_pool_s8_params *p, const ${t} *input, ${t} *output) {
  int32_t b, oy, ox, c, ky, kx, ky0, ky1, kx0, kx1;
  for (b = 0; b < p->batch; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      cl_pool_clip(oy, p->stride_h, p->pad_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        cl_pool_clip(ox, p->stride_w, p->pad_w, p->k_w, p->in_w, &kx0, &kx1);
        for (c = 0; c < p->channels; c++) {
          int32_t max = ${lowest};
          for (ky = ky0; ky < ky1; ky++) {
            for (kx = kx0; kx < kx1; kx++) {
              const int32_t iy = oy * p->stride_h - p->pad_h + ky, ix = ox * p->stride_w - p->pad_w + kx;
              const int32_t v = input[((b * p->in_h + iy) * p->in_w + ix) * p->channels + c];
              if (v > max) max = v;
            }
          }
          output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] = (${t})cl_pool_clamp(max, p->act_min, p->act_max);
        }
      }
    }
  }
}
`,
  };
}

const SOFTMAX_S8: CPiece = {
  id: 'softmax_s8',
  needs: ['fixedpoint', 'gemmlowp_exp'],
  header: `
typedef struct {
  int32_t rows, depth;
  int32_t input_multiplier;  /* beta * s_x as a Q5.26 multiplier */
  int32_t input_left_shift;
  int32_t diff_min;          /* differences below it give exp = 0 */
} cl_softmax_s8_params;

/* int8 Softmax over the last axis, output scale 1/256 and zero point -128 (TFLite's reference integer softmax). */
void cl_softmax_s8(const cl_softmax_s8_params *p, const int8_t *input, int8_t *output);
`,
  source: `
/*
 * Differences to the row maximum become Q5.26 values, exp runs in fixed point,
 * the sum accumulates in Q12.19 (at most 2^12 terms below 1.0 each: it cannot
 * overflow for depth < 4096), and every exp is multiplied by the reciprocal of
 * the sum, normalised to [0.5, 1]. (softmax.ts referenceRow)
 */
void cl_softmax_s8(const cl_softmax_s8_params *p, const int8_t *input, int8_t *output) {
  int32_t r, c;
  for (r = 0; r < p->rows; r++) {
    const int8_t *x = input + r * p->depth;
    int8_t *y = output + r * p->depth;
    int32_t max = -128, sum = 0, headroom, bits_over_unit, shifted_minus_one, scale;
    for (c = 0; c < p->depth; c++) if (x[c] > max) max = x[c];
    for (c = 0; c < p->depth; c++) {
      const int32_t diff = (int32_t)x[c] - max;
      if (diff >= p->diff_min) {
        const int32_t scaled = cl_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
        sum = (int32_t)((uint32_t)sum + (uint32_t)cl_rdbpot(cl_exp_on_negative_values(scaled, 5), 12));
      }
    }
    headroom = cl_clz32((uint32_t)sum);
    bits_over_unit = 12 - headroom;
    shifted_minus_one = (int32_t)(((uint32_t)sum << headroom) - 0x80000000u);
    scale = cl_one_over_one_plus_x_for_x_in_01(shifted_minus_one);
    for (c = 0; c < p->depth; c++) {
      const int32_t diff = (int32_t)x[c] - max;
      if (diff >= p->diff_min) {
        const int32_t scaled = cl_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
        const int32_t e = cl_exp_on_negative_values(scaled, 5);
        const int32_t unsat = cl_rdbpot(cl_srdhm(scale, e), bits_over_unit + 31 - 8);
        const int32_t v = unsat - 128;
        y[c] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
      } else {
        y[c] = -128;
      }
    }
  }
}
`,
};

const FULLY_CONNECTED_F32: CPiece = {
  id: 'fully_connected_f32',
  needs: [],
  header: `
typedef struct {
  int32_t rows, depth, units;
  int32_t has_min, has_max;  /* the fused activation's bounds, when finite */
  float act_min, act_max;
} cl_fully_connected_f32_params;

/* float FullyConnected: y[r][u] = act(sum_i x[r][i] * w[u][i] + bias[u]). */
void cl_fully_connected_f32(const cl_fully_connected_f32_params *p, const float *input, const float *filter, const float *bias, float *output);
`,
  source: `
/*
 * Sums in double and rounds once to float at the store, as the reference
 * kernels do (src/kernels/ref/conv.ts rowsTimesWeights): a float product is
 * exact in double, so the result is independent of how a compiler schedules it.
 */
void cl_fully_connected_f32(const cl_fully_connected_f32_params *p, const float *input, const float *filter, const float *bias, float *output) {
  int32_t r, u, i;
  for (r = 0; r < p->rows; r++) {
    const float *x = input + r * p->depth;
    for (u = 0; u < p->units; u++) {
      const float *w = filter + u * p->depth;
      double acc = 0.0;
      for (i = 0; i < p->depth; i++) acc += (double)x[i] * (double)w[i];
      if (bias) acc += (double)bias[u];
      if (p->has_min && acc < (double)p->act_min) acc = (double)p->act_min;
      else if (p->has_max && acc > (double)p->act_max) acc = (double)p->act_max;
      output[r * p->units + u] = (float)acc;
    }
  }
}
`,
};

const LUT_S8: CPiece = {
  id: 'lut_s8',
  needs: [],
  header: `
/* An int8 unary op as a 256-entry table folded at compile time (Relu, Clip, LeakyRelu, HardSwish, Sigmoid, Tanh). */
void cl_lut_s8(int32_t size, const int8_t *table, const int8_t *input, int8_t *output);
`,
  source: `
/* y = table[x + 128]: the table holds the op's exact int8 result for every int8 input. */
void cl_lut_s8(int32_t size, const int8_t *table, const int8_t *input, int8_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = table[(int32_t)input[i] + 128];
}
`,
};

const POOL_CLAMP: CPiece = {
  id: 'pool_clamp',
  needs: [],
  header: '',
  source: `
static int32_t cl_pool_clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }
`,
};


// ---------------------------------------------------------------------------
// Elementwise binary ops, Concat, Pad, Mean, ConvTranspose, Quantize, Dequantize
// ---------------------------------------------------------------------------

/** The largest rank the shape-generic kernels walk (shapes are padded to it with leading 1s). */
export const C_MAX_RANK = 6;

const ODOMETER: CPiece = {
  id: 'odometer',
  needs: [],
  header: `
#define CL_MAX_RANK ${C_MAX_RANK}
/* Advances a row-major index over dims[CL_MAX_RANK] by one; *offset follows with strides. Returns 0 after the last index. */
int32_t cl_odometer_next(int32_t *index, const int32_t *dims, const int32_t *strides, int32_t *offset);
`,
  source: `
int32_t cl_odometer_next(int32_t *index, const int32_t *dims, const int32_t *strides, int32_t *offset) {
  int32_t d;
  for (d = CL_MAX_RANK - 1; d >= 0; d--) {
    index[d]++;
    *offset += strides[d];
    if (index[d] < dims[d]) return 1;
    *offset -= strides[d] * dims[d];
    index[d] = 0;
  }
  return 0;
}
`,
};

type Elem = 's8' | 's16';
const ctypeOf = (e: Elem) => (e === 's8' ? 'int8_t' : 'int16_t');

const BINARY_PARAMS: CPiece = {
  id: 'binary_params',
  needs: ['fixedpoint', 'odometer'],
  header: `
/*
 * A quantized Add, Sub or Mul with numpy broadcasting: the output walks
 * out_dims; a_strides / b_strides are each input's strides seen through the
 * broadcast (0 along a repeated dimension).
 * Add/Sub (TFLite's reference ADD): both inputs, less their zero points, are
 * shifted up by left_shift (20 for int8, 15 for int16) and brought to a common
 * scale by their multipliers; the sum (b negated for Sub) is requantized by the
 * output multiplier. Mul: the product of the offset inputs is requantized.
 */
typedef struct {
  int32_t size;
  int32_t out_dims[CL_MAX_RANK], a_strides[CL_MAX_RANK], b_strides[CL_MAX_RANK];
  int32_t a_offset, b_offset;  /* -z_a, -z_b */
  int32_t output_offset;       /* z_y */
  int32_t left_shift, sign;    /* Add/Sub only; sign -1 for Sub */
  int32_t a_multiplier, a_shift, b_multiplier, b_shift;  /* Add/Sub only */
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
} cl_binary_params;
`,
  source: '',
};

function binaryPiece(op: 'add' | 'mul', e: Elem): CPiece {
  const t = ctypeOf(e);
  const fn = `cl_${op}_${e}`;
  const body = op === 'add'
    ? `      const int32_t a = (int32_t)((uint32_t)((int32_t)input_a[ai] + p->a_offset) << p->left_shift);
      const int32_t b = (int32_t)((uint32_t)((int32_t)input_b[bi] + p->b_offset) << p->left_shift);
      const int32_t sa = cl_mbqm(a, p->a_multiplier, p->a_shift);
      const int32_t sb = cl_mbqm(b, p->b_multiplier, p->b_shift);
      const int32_t raw = cl_mbqm(p->sign > 0 ? sa + sb : sa - sb, p->output_multiplier, p->output_shift);`
    : `      const int32_t raw = cl_mbqm(((int32_t)input_a[ai] + p->a_offset) * ((int32_t)input_b[bi] + p->b_offset),
                                  p->output_multiplier, p->output_shift);`;
  const why = op === 'add'
    ? (e === 's8'
      ? '/* |x - z| <= 255, shifted by 20 stays below 2^28; each rescaled input is at most half that, so the sum fits int32. */'
      : '/* |x| <= 2^15, shifted by 15 stays within 2^30; each rescaled input is at most half that, so the sum fits int32. */')
    : `/* The product of two offset ${e === 's8' ? 'int8 values is below 2^16' : 'int16 values is at most 2^30'}: int32. */`;
  return {
    id: `${op}_${e}`,
    needs: ['binary_params'],
    header: `
/* ${e === 's8' ? 'int8' : 'int16 (16x8)'} ${op === 'add' ? 'Add and Sub' : 'Mul'} with broadcasting. */
void ${fn}(const cl_binary_params *p, const ${t} *input_a, const ${t} *input_b, ${t} *output);
`,
    source: `
${why}
void ${fn}(const cl_binary_params *p, const ${t} *input_a, const ${t} *input_b, ${t} *output) {
  int32_t index[CL_MAX_RANK] = {0};
  int32_t ai = 0, bi = 0, i, d;
  for (i = 0; i < p->size; i++) {
    {
${body}
      output[i] = (${t})cl_clamp_i32((int64_t)raw + p->output_offset, p->act_min, p->act_max);
    }
    /* The next output index, and the elements of a and b it reads. */
    for (d = CL_MAX_RANK - 1; d >= 0; d--) {
      index[d]++;
      ai += p->a_strides[d];
      bi += p->b_strides[d];
      if (index[d] < p->out_dims[d]) break;
      ai -= p->a_strides[d] * p->out_dims[d];
      bi -= p->b_strides[d] * p->out_dims[d];
      index[d] = 0;
    }
  }
}
`,
  };
}

function concatPiece(e: Elem): CPiece {
  const t = ctypeOf(e);
  const table = e === 's8';
  return {
    id: `concat_${e}`,
    needs: [],
    header: `
/*
 * One input of a Concat: each of \`outer\` blocks of \`block\` elements goes to
 * output + o * out_block + start.${table ? ' An input quantized unlike the output goes\n * through its 256-entry requantization table (index x + 128; TFLite\'s\n * ConcatenationWithScaling, folded at compile time); table 0 copies.' : ''}
 */
void cl_concat_part_${e}(int32_t outer, int32_t block, int32_t out_block, int32_t start, ${table ? 'const int8_t *table, ' : ''}const ${t} *input, ${t} *output);
`,
    source: `
void cl_concat_part_${e}(int32_t outer, int32_t block, int32_t out_block, int32_t start, ${table ? 'const int8_t *table, ' : ''}const ${t} *input, ${t} *output) {
  int32_t o, i;
  for (o = 0; o < outer; o++) {
    const ${t} *x = input + o * block;
    ${t} *y = output + o * out_block + start;
    ${table ? 'if (table) for (i = 0; i < block; i++) y[i] = table[(int32_t)x[i] + 128];\n    else ' : ''}for (i = 0; i < block; i++) y[i] = x[i];
  }
}
`,
  };
}

function padPiece(e: Elem): CPiece {
  const t = ctypeOf(e);
  return {
    id: `pad_${e}`,
    needs: ['odometer'],
    header: `
typedef struct {
  int32_t size;  /* output elements */
  int32_t out_dims[CL_MAX_RANK], in_dims[CL_MAX_RANK];
  int32_t begin[CL_MAX_RANK];  /* leading pad per dimension (negative crops) */
} cl_pad_params;

/* Constant Pad: an output element maps to input coordinate (index - begin); outside the input it is \`value\` (the output zero point unless the model gives one). */
void cl_pad_${e}(const cl_pad_params *p, ${t} value, const ${t} *input, ${t} *output);
`,
    source: `
void cl_pad_${e}(const cl_pad_params *p, ${t} value, const ${t} *input, ${t} *output) {
  static const int32_t no_strides[CL_MAX_RANK] = {0};
  int32_t index[CL_MAX_RANK] = {0};
  int32_t unused = 0, i, d;
  for (i = 0; i < p->size; i++) {
    int32_t offset = 0, inside = 1;
    for (d = 0; d < CL_MAX_RANK; d++) {
      const int32_t c = index[d] - p->begin[d];
      if (c < 0 || c >= p->in_dims[d]) { inside = 0; break; }
      offset = offset * p->in_dims[d] + c;
    }
    output[i] = inside ? input[offset] : value;
    cl_odometer_next(index, p->out_dims, no_strides, &unused);
  }
}
`,
  };
}

const MEAN_PARAMS: CPiece = {
  id: 'mean_params',
  needs: ['fixedpoint', 'odometer', 'float_epilogue'],
  header: `
/*
 * A quantized ReduceMean: the input's dimensions split into kept ones (the
 * output, in order) and reduced ones, each with the input's strides. The raw
 * sum S of a group of n values becomes, as TFLite Micro's EvalIntegerMean:
 *   truncating (input and output quantized alike): S / n, C's division;
 *   else MBQM(S - z_x * n, multiplier, shift) + z_y, where the multiplier of
 *   s_x / s_y already holds 1/n (QuantizedMeanOrSum).
 */
typedef struct {
  int32_t out_size;
  int32_t kept_dims[CL_MAX_RANK], kept_strides[CL_MAX_RANK];
  int32_t reduced_dims[CL_MAX_RANK], reduced_strides[CL_MAX_RANK];
  int32_t n, truncating;
  int32_t input_zero_times_n;  /* z_x * n */
  int32_t multiplier, shift, output_offset, act_min, act_max;
  /* tflite-xnnpack (INT8.md formula 4): y = clamp(rne(fl(fl(fl(S) * scale) + bias))), used when use_float is 1 */
  int32_t use_float;
  float scale, bias;
} cl_mean_params;
`,
  source: '',
};

function meanPiece(e: Elem): CPiece {
  const t = ctypeOf(e);
  return {
    id: `mean_${e}`,
    needs: ['mean_params'],
    header: `
void cl_mean_${e}(const cl_mean_params *p, const ${t} *input, ${t} *output);
`,
    source: `
/* A group of fewer than ${e === 's8' ? '2^23 int8' : '2^16 int16'} values sums within int32. */
void cl_mean_${e}(const cl_mean_params *p, const ${t} *input, ${t} *output) {
  int32_t kept[CL_MAX_RANK] = {0};
  int32_t base = 0, o;
  for (o = 0; o < p->out_size; o++) {
    int32_t reduced[CL_MAX_RANK] = {0};
    int32_t offset = 0, sum = 0;
    int64_t v;
    do { sum += input[base + offset]; } while (cl_odometer_next(reduced, p->reduced_dims, p->reduced_strides, &offset));
    if (p->use_float) v = cl_rne_f32((float)sum * p->scale + p->bias);
    else if (p->truncating) v = sum / p->n;
    else v = (int64_t)cl_mbqm((int32_t)((uint32_t)sum - (uint32_t)p->input_zero_times_n), p->multiplier, p->shift) + p->output_offset;
    output[o] = (${t})cl_clamp_i32(v, p->act_min, p->act_max);
    cl_odometer_next(kept, p->kept_dims, p->kept_strides, &base);
  }
}
`,
  };
}

const CONV_TRANSPOSE_S8: CPiece = {
  id: 'conv_transpose_s8',
  needs: ['fixedpoint', 'float_epilogue'],
  header: `
typedef struct {
  int32_t batch, in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  int32_t input_offset, output_offset, act_min, act_max;
  const int32_t *multiplier, *shift;
  const float *scale; /* tflite-xnnpack: per-channel float factors used instead of multiplier/shift (0 in tflite-reference) */
} cl_conv_transpose_s8_params;

/* int8 ConvTranspose (TFLite's TRANSPOSE_CONV), NHWC input, IHWO weights, one group. */
void cl_conv_transpose_s8(const cl_conv_transpose_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias, int8_t *output);
`,
  source: `
/*
 * Written as a gather: output pixel (oy, ox) takes tap (ky, kx) of input pixel
 * (iy, ix) when oy + pad_h - ky * dilation_h = iy * stride_h (and likewise in
 * x). The products and the int32 bound are those of cl_conv_s8.
 */
void cl_conv_transpose_s8(const cl_conv_transpose_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias, int8_t *output) {
  const int32_t taps = p->k_h * p->k_w;
  int32_t b, oy, ox, oc, ky, kx, ic;
  for (b = 0; b < p->batch; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      for (ox = 0; ox < p->out_w; ox++) {
        for (oc = 0; oc < p->out_c; oc++) {
          int32_t acc = bias ? bias[oc] : 0;
          for (ky = 0; ky < p->k_h; ky++) {
            const int32_t ny = oy + p->pad_h - ky * p->dilation_h;
            if (ny < 0 || ny % p->stride_h != 0 || ny / p->stride_h >= p->in_h) continue;
            for (kx = 0; kx < p->k_w; kx++) {
              const int32_t nx = ox + p->pad_w - kx * p->dilation_w;
              const int8_t *x;
              if (nx < 0 || nx % p->stride_w != 0 || nx / p->stride_w >= p->in_w) continue;
              x = input + ((b * p->in_h + ny / p->stride_h) * p->in_w + nx / p->stride_w) * p->in_c;
              for (ic = 0; ic < p->in_c; ic++) {
                acc += ((int32_t)x[ic] + p->input_offset) * (int32_t)filter[(ic * taps + ky * p->k_w + kx) * p->out_c + oc];
              }
            }
          }
          output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = (int8_t)(p->scale
            ? cl_requant_float(acc, p->scale[oc], p->output_offset, p->act_min, p->act_max)
            : cl_clamp_i32((int64_t)cl_mbqm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset, p->act_min, p->act_max));
        }
      }
    }
  }
}
`,
};

const QUANTIZE: CPiece = {
  id: 'quantize',
  needs: [],
  header: `
/*
 * float -> int8/int16 (TFLite's reference AffineQuantize, as TFLite Micro):
 * q = clamp(round_half_away(x / scale) + zero_point), the division in float.
 * int -> float: y = (float)(scale * (q - zero_point)), the product in double
 * (exact for |q - z| < 2^24), rounded once.
 */
void cl_quantize_f32_s8(int32_t size, float scale, int32_t zero_point, const float *input, int8_t *output);
void cl_quantize_f32_s16(int32_t size, float scale, int32_t zero_point, const float *input, int16_t *output);
void cl_dequantize_s8_f32(int32_t size, float scale, int32_t zero_point, const int8_t *input, float *output);
void cl_dequantize_s16_f32(int32_t size, float scale, int32_t zero_point, const int16_t *input, float *output);
`,
  source: `
/*
 * round_half_away(x / scale) + zero_point clamped to [lo, hi]. The quotient is
 * first bounded (far outside any int16) so that the cast to int64 is defined;
 * q + 0.5 is exact in double. NaN gives 0, as the engine's typed arrays store it.
 */
static int32_t cl_quantize_one(float x, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  const float q = x / scale;
  double r;
  if (!(q == q)) return 0;
  r = (double)q;
  if (r > 1e12) r = 1e12;
  if (r < -1e12) r = -1e12;
  r = r < 0 ? -(double)(int64_t)(-r + 0.5) : (double)(int64_t)(r + 0.5);
  r += (double)zero_point;
  return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

void cl_quantize_f32_s8(int32_t size, float scale, int32_t zero_point, const float *input, int8_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = (int8_t)cl_quantize_one(input[i], scale, zero_point, -128, 127);
}

void cl_quantize_f32_s16(int32_t size, float scale, int32_t zero_point, const float *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = (int16_t)cl_quantize_one(input[i], scale, zero_point, -32768, 32767);
}

void cl_dequantize_s8_f32(int32_t size, float scale, int32_t zero_point, const int8_t *input, float *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = (float)((double)scale * (double)((int32_t)input[i] - zero_point));
}

void cl_dequantize_s16_f32(int32_t size, float scale, int32_t zero_point, const int16_t *input, float *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = (float)((double)scale * (double)((int32_t)input[i] - zero_point));
}
`,
};

/** The (input, output) element pairs of the Requantize piece: int16 on at least one side. */
export const REQUANTIZE_PAIRS: readonly [string, string][] = [['s8', 's16'], ['s16', 's8'], ['s16', 's16'], ['s8', 's8']];
const C_ELEM: Record<string, string> = { s8: 'int8_t', s16: 'int16_t' };

/* Requantize with int16 on a side: TFLite's Requantize (quantize.ts in the reference kernels). */
const REQUANTIZE: CPiece = {
  id: 'requantize',
  needs: ['fixedpoint'],
  header: `
/*
 * Quantize from a quantized input (TFLite's Requantize, as TFLite Micro's
 * quantize_common.cc; int8 -> int8 in tflite-reference):
 * q = clamp(MultiplyByQuantizedMultiplier(x - input_zero_point, m, shift) + output_zero_point),
 * m and shift being QuantizeMultiplier(input_scale / output_scale).
 */
${REQUANTIZE_PAIRS.map(([a, b]) => `void cl_requantize_${a}_${b}(int32_t size, int32_t multiplier, int32_t shift, int32_t input_zero_point, int32_t output_zero_point, const ${C_ELEM[a]} *input, ${C_ELEM[b]} *output);`).join('\n')}
`,
  source: REQUANTIZE_PAIRS.map(([a, b]) => `
void cl_requantize_${a}_${b}(int32_t size, int32_t multiplier, int32_t shift, int32_t input_zero_point, int32_t output_zero_point, const ${C_ELEM[a]} *input, ${C_ELEM[b]} *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    /* |x - z| < 2^17: the int32 difference is exact; the sum with the zero point is formed in int64. */
    output[i] = (${C_ELEM[b]})cl_clamp_i32((int64_t)cl_mbqm((int32_t)input[i] - input_zero_point, multiplier, shift) + output_zero_point, ${b === 's8' ? '-128, 127' : '-32768, 32767'});
  }
}
`).join(''),
};

// ---------------------------------------------------------------------------
// 16x8: int16 activations, int8 weights, int64 bias and accumulator
// ---------------------------------------------------------------------------

const FIXEDPOINT_WIDE: CPiece = {
  id: 'fixedpoint_wide',
  needs: [],
  header: `
/* The 16x8 epilogues of an int64 accumulator (requantize.ts). */
int64_t cl_mbqm_reduced(int64_t x, int32_t multiplier, int32_t shift);
int64_t cl_mbqm_away(int64_t x, int32_t multiplier, int32_t shift);
`,
  source: `
/*
 * TFLite's MultiplyByQuantizedMultiplier for int64 (16x8 Conv and
 * DepthwiseConv): the multiplier is first rounded to 15 bits, then
 * (x * m' + 2^(t-1)) >> t with t = 15 - shift, an arithmetic shift (ties
 * toward +inf). |x| < 2^47 and m' < 2^15: the product fits int64. The emitter
 * refuses shifts that leave t outside 1..62. (multiplyByQuantizedMultiplierWide)
 */
int64_t cl_mbqm_reduced(int64_t x, int32_t multiplier, int32_t shift) {
  const int64_t m = multiplier < 0x7fff0000 ? ((int64_t)multiplier + 32768) >> 16 : 0x7fff;
  const int32_t t = 15 - shift;
  return (x * m + ((int64_t)1 << (t - 1))) >> t;
}

/*
 * x * multiplier * 2^(shift - 31) rounded once, ties away from zero, with the
 * full 31-bit multiplier (16x8 FullyConnected). |x| * multiplier reaches 2^78,
 * so the magnitude is formed as a 128-bit pair of uint64 halves.
 * (multiplyByQuantizedMultiplierAway)
 */
int64_t cl_mbqm_away(int64_t x, int32_t multiplier, int32_t shift) {
  const int32_t t = 31 - shift;
  const uint64_t ax = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
  const uint64_t m = (uint64_t)(uint32_t)multiplier;
  const uint64_t low_part = (ax & 0xffffffffu) * m;  /* < 2^63 */
  const uint64_t mid = (ax >> 32) * m;               /* < 2^46 */
  uint64_t lo = low_part + (mid << 32);
  uint64_t hi = (mid >> 32) + (lo < low_part ? 1u : 0u);
  const uint64_t half = (uint64_t)1 << (t - 1);
  uint64_t r;
  lo += half;
  if (lo < half) hi++;
  r = t >= 64 ? hi >> (t - 64) : (hi << (64 - t)) | (lo >> t);
  return x < 0 ? -(int64_t)r : (int64_t)r;
}
`,
};

const LUT_S16: CPiece = {
  id: 'lut_s16',
  needs: [],
  header: `
/* A 16x8 unary op as the reference kernel's 65,536-entry table (index x + 32768), folded at compile time: 128 KiB of flash per op. */
void cl_lut_s16(int32_t size, const int16_t *table, const int16_t *input, int16_t *output);
`,
  source: `
void cl_lut_s16(int32_t size, const int16_t *table, const int16_t *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = table[(int32_t)input[i] + 32768];
}
`,
};

/*
 * The 16x8 unary ops computed instead of tabled (a few hundred bytes of code
 * and 512 B of shared table instead of 128 KiB per op): TFLite's int16
 * QuantizedReluX (Relu, Clip), LEAKY_RELU, and the reference LOGISTIC/TANH on
 * the 256-entry sigmoid table. Same arithmetic as src/kernels/ref/int16/activation.ts.
 */
const ACTIVATION_S16: CPiece = {
  id: 'activation_s16',
  needs: ['fixedpoint'],
  header: `
/* 16x8 Relu/Clip: clamp(MultiplyByQuantizedMultiplier(x, m, shift), lo, hi). */
void cl_relux_s16(int32_t size, int32_t multiplier, int32_t shift, int32_t lo, int32_t hi, const int16_t *input, int16_t *output);
/* 16x8 LeakyRelu: one multiplier from zero up, one (alpha's) below. */
void cl_leaky_relu_s16(int32_t size, int32_t multiplier, int32_t shift, int32_t alpha_multiplier, int32_t alpha_shift, const int16_t *input, int16_t *output);
/* 16x8 Sigmoid/Tanh (TFLite's reference kernels): input (x*m + round) >> shift, then the sigmoid table
   (uint16 entries stored as int16 bits) interpolated; output scale 2^-15. */
void cl_logistic_s16(int32_t size, int32_t multiplier, int32_t shift, const int16_t *sigmoid_table, const int16_t *input, int16_t *output);
void cl_tanh_s16(int32_t size, int32_t multiplier, int32_t shift, const int16_t *sigmoid_table, const int16_t *input, int16_t *output);
`,
  source: `
void cl_relux_s16(int32_t size, int32_t multiplier, int32_t shift, int32_t lo, int32_t hi, const int16_t *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) output[i] = (int16_t)cl_clamp_i32(cl_mbqm(input[i], multiplier, shift), lo, hi);
}

void cl_leaky_relu_s16(int32_t size, int32_t multiplier, int32_t shift, int32_t alpha_multiplier, int32_t alpha_shift, const int16_t *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    const int32_t x = input[i];
    const int32_t v = x >= 0 ? cl_mbqm(x, multiplier, shift) : cl_mbqm(x, alpha_multiplier, alpha_shift);
    output[i] = (int16_t)cl_clamp_i32(v, INT16_MIN, INT16_MAX);
  }
}

/* The LUT input stage: int32 arithmetic that wraps as TFLite's does (done in uint32, then read back). */
static int32_t cl_lut_input_s16(int32_t x, int32_t multiplier, int32_t shift) {
  const uint32_t round = shift > 0 ? ((uint32_t)1 << (shift - 1)) : 0u;
  return (int32_t)((uint32_t)x * (uint32_t)multiplier + round) >> shift;
}

/* Entry abs >> frac of the table and the next one, interpolated by the low frac bits; -1 past the last entry. */
static int32_t cl_sigmoid_table_at(uint32_t abs, int32_t frac, const int16_t *table) {
  uint32_t uh;
  int32_t ua, ub;
  if (abs >= ((uint32_t)255 << frac)) return -1;
  uh = abs >> frac;
  ua = (uint16_t)table[uh];
  ub = (uint16_t)table[uh + 1];
  return ua * ((int32_t)1 << frac) + (int32_t)(abs & (((uint32_t)1 << frac) - 1)) * (ub - ua);
}

void cl_logistic_s16(int32_t size, int32_t multiplier, int32_t shift, const int16_t *sigmoid_table, const int16_t *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    const int32_t v = cl_lut_input_s16(input[i], multiplier, shift);
    const uint32_t abs = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    int32_t r = cl_sigmoid_table_at(abs, 9, sigmoid_table);
    if (r < 0) r = (int32_t)0x7fff << 10;
    /* Round to Q0.15; a negative input mirrors the table (sigmoid(-x) = 1 - sigmoid(x)). */
    output[i] = (int16_t)((v >= 0 ? r + 512 : ((int32_t)1 << 25) - r + 511) >> 10);
  }
}

void cl_tanh_s16(int32_t size, int32_t multiplier, int32_t shift, const int16_t *sigmoid_table, const int16_t *input, int16_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    const int32_t v = cl_lut_input_s16(input[i], multiplier, shift);
    const uint32_t abs = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    int32_t r = cl_sigmoid_table_at(abs, 8, sigmoid_table);
    if (r < 0) r = (int32_t)0xffff << 8;
    /* tanh(x) = 2 sigmoid(2x) - 1, rounded to Q0.15 (an arithmetic shift of a possibly negative sum). */
    output[i] = (int16_t)((v >= 0 ? r - ((int32_t)1 << 23) + (1 << 7) : -r + ((int32_t)1 << 23) + (1 << 7) - 1) >> 8);
  }
}
`,
};

/** The element types the data-movement kernels copy (by C type, so no pointer is read through another type). */
export const STRIDED_TYPES: Readonly<Record<string, string>> = { s8: 'int8_t', u8: 'uint8_t', s16: 'int16_t', s32: 'int32_t', s64: 'int64_t', f32: 'float' };

function stridedPiece(suffix: string): CPiece {
  const t = STRIDED_TYPES[suffix]!;
  return {
    id: `strided_${suffix}`,
    needs: ['strided_params'],
    header: `void cl_strided_copy_${suffix}(const cl_strided_params *p, const ${t} *input, ${t} *output);\n`,
    source: `
void cl_strided_copy_${suffix}(const cl_strided_params *p, const ${t} *input, ${t} *output) {
  int32_t index[CL_MAX_RANK] = {0};
  int32_t offset = p->offset, i;
  for (i = 0; i < p->size; i++) {
    output[i] = input[offset];
    cl_odometer_next(index, p->dims, p->strides, &offset);
  }
}
`,
  };
}

const STRIDED_PARAMS: CPiece = {
  id: 'strided_params',
  needs: ['odometer'],
  header: `
/*
 * Transpose, Slice, Expand, Tile: the output, walked in row-major order over
 * dims, reads the input at offset + sum(index[d] * strides[d]) (the reference
 * kernels' strided plan, folded at compile time).
 */
typedef struct {
  int32_t size, offset;
  int32_t dims[CL_MAX_RANK], strides[CL_MAX_RANK];
} cl_strided_params;
`,
  source: '',
};

const SOFTMAX_S16: CPiece = {
  id: 'softmax_s16',
  needs: ['gemmlowp_exp', 'fixedpoint'],
  header: `
typedef struct {
  int32_t rows, depth;
  int32_t exp_multiplier, exp_shift; /* x - max in the exp table's input steps (10/65535) */
  const int16_t *exp_lut;      /* TFLite's 513-entry exp table over [-10, 0] */
  const int16_t *reciprocal;   /* TFLite's 513-entry 1/(1 + x) table */
} cl_softmax_s16_params;

/* 16x8 Softmax over the last axis, output Q0.15 (TFLite's reference SoftmaxInt16). */
void cl_softmax_s16(const cl_softmax_s16_params *p, const int16_t *input, int16_t *output);
`,
  source: `
/* TFLite's int16 LUT lookup: entry 256 + (v >> 7) plus the slope to the next entry times the low 7 bits, rounded half up; int16 wrap-around as in TFLite. */
static int16_t cl_lut_lookup_s16(int32_t v, const int16_t *lut) {
  const int32_t index = 256 + (v >> 7);
  const int32_t base = lut[index];
  const int32_t slope = (int16_t)(lut[index + 1] - base);
  const int32_t delta = (slope * (v & 0x7f) + 64) >> 7;
  return (int16_t)(base + delta);
}

/*
 * Per row: e = exp(x - max) read from the exp LUT at the rescaled difference
 * (recentred by 32767, the int32 addition wrapping as TFLite's), kept in the output; their int32
 * sum (at most 65536 * 32767) is normalized to [2^30, 2^31), its top bits
 * index the 1/(1 + x) table, and y = (e * r) >> (31 - headroom) rounded half up.
 * (ref/int16/softmax.ts softmaxRow)
 */
void cl_softmax_s16(const cl_softmax_s16_params *p, const int16_t *input, int16_t *output) {
  int32_t r, c;
  for (r = 0; r < p->rows; r++) {
    const int16_t *x = input + r * p->depth;
    int16_t *y = output + r * p->depth;
    int32_t max = -32768, sum = 0, headroom, shifted_sum, v, reciprocal, right_shift;
    for (c = 0; c < p->depth; c++) if (x[c] > max) max = x[c];
    for (c = 0; c < p->depth; c++) {
      const int32_t scaled = cl_mbqm(x[c] - max, p->exp_multiplier, p->exp_shift);
      const int32_t u = (int32_t)((uint32_t)scaled + 32767u);
      y[c] = cl_lut_lookup_s16(u < -32768 ? -32768 : u > 32767 ? 32767 : u, p->exp_lut);
      sum = (int32_t)((uint32_t)sum + (uint32_t)y[c]);
    }
    headroom = cl_clz32((uint32_t)sum);
    shifted_sum = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
    v = shifted_sum - ((1 << 15) + (1 << 16));
    reciprocal = cl_lut_lookup_s16(v < -32768 ? -32768 : v > 32767 ? 32767 : v, p->reciprocal);
    right_shift = 31 - headroom;
    for (c = 0; c < p->depth; c++) {
      const int64_t prod = (int64_t)y[c] * reciprocal;
      const int64_t q = right_shift > 0 ? (prod + ((int64_t)1 << (right_shift - 1))) >> right_shift : prod;
      y[c] = (int16_t)(q < 0 ? 0 : q > 32767 ? 32767 : q);
    }
  }
}
`,
};

const BINARY_XNNPACK: CPiece = {
  id: 'binary_xnnpack_s8',
  needs: ['fixedpoint', 'float_epilogue', 'odometer'],
  header: `
/*
 * int8 Add, Sub and Mul in the tflite-xnnpack arithmetic (INT8.md formulas 2
 * and 3), broadcasting as cl_binary_params:
 * Add/Sub: y = clamp(((k + a_mult * a + b_mult * b) >> shift) + z_y), 21-bit
 * multipliers on one shift with the zero points folded into k (b_mult < 0
 * for Sub), an arithmetic shift (ties toward +inf).
 * Mul: y = clamp(rne(fl(fl((a - z_a)(b - z_b)) * scale)) + z_y).
 */
typedef struct {
  int32_t size;
  int32_t out_dims[CL_MAX_RANK], a_strides[CL_MAX_RANK], b_strides[CL_MAX_RANK];
  int32_t a_offset, b_offset, output_offset;  /* Mul: -z_a, -z_b; both: z_y */
  int32_t a_mult, b_mult, shift;              /* Add/Sub */
  int64_t k;                                  /* Add/Sub */
  float scale;                                /* Mul */
  int32_t act_min, act_max;
} cl_binary_xnnpack_params;

void cl_add_s8_xnnpack(const cl_binary_xnnpack_params *p, const int8_t *input_a, const int8_t *input_b, int8_t *output);
void cl_mul_s8_xnnpack(const cl_binary_xnnpack_params *p, const int8_t *input_a, const int8_t *input_b, int8_t *output);
`,
  source: `
/* The next output index of a broadcast walk, and the elements of a and b it reads. */
static void cl_broadcast_next(int32_t *index, const int32_t *dims, const int32_t *a_strides, const int32_t *b_strides, int32_t *ai, int32_t *bi) {
  int32_t d;
  for (d = CL_MAX_RANK - 1; d >= 0; d--) {
    index[d]++;
    *ai += a_strides[d];
    *bi += b_strides[d];
    if (index[d] < dims[d]) return;
    *ai -= a_strides[d] * dims[d];
    *bi -= b_strides[d] * dims[d];
    index[d] = 0;
  }
}

/* k + a_mult * a + b_mult * b stays below 2^31 + 2 * 2^28 in magnitude: it is formed in int64. */
void cl_add_s8_xnnpack(const cl_binary_xnnpack_params *p, const int8_t *input_a, const int8_t *input_b, int8_t *output) {
  int32_t index[CL_MAX_RANK] = {0};
  int32_t ai = 0, bi = 0, i;
  for (i = 0; i < p->size; i++) {
    const int64_t sum = p->k + (int64_t)p->a_mult * input_a[ai] + (int64_t)p->b_mult * input_b[bi];
    output[i] = (int8_t)cl_clamp_i32((sum >> p->shift) + p->output_offset, p->act_min, p->act_max);
    cl_broadcast_next(index, p->out_dims, p->a_strides, p->b_strides, &ai, &bi);
  }
}

void cl_mul_s8_xnnpack(const cl_binary_xnnpack_params *p, const int8_t *input_a, const int8_t *input_b, int8_t *output) {
  int32_t index[CL_MAX_RANK] = {0};
  int32_t ai = 0, bi = 0, i;
  for (i = 0; i < p->size; i++) {
    const int32_t prod = ((int32_t)input_a[ai] + p->a_offset) * ((int32_t)input_b[bi] + p->b_offset);
    output[i] = (int8_t)cl_requant_float(prod, p->scale, p->output_offset, p->act_min, p->act_max);
    cl_broadcast_next(index, p->out_dims, p->a_strides, p->b_strides, &ai, &bi);
  }
}
`,
};

const QUANTIZE_XNNPACK: CPiece = {
  id: 'quantize_xnnpack',
  needs: ['float_epilogue'],
  header: `
/* float -> int8 in tflite-xnnpack (XNNPACK's convert): q = clamp(rne(fl(x * inv_scale)) + zero_point), inv_scale = fl(1 / scale). */
void cl_quantize_f32_s8_xnnpack(int32_t size, float inv_scale, int32_t zero_point, const float *input, int8_t *output);
/*
 * int8 -> int8 in tflite-xnnpack where s_in / s_out is in [2^-8, 2^7] (XNNPACK's qs8 convert):
 * q = clamp(((x - input_zero_point) * multiplier + 128) >> 8 + output_zero_point),
 * multiplier = lrintf(256 * fl(s_in / s_out)), folded at compile time (1 .. 32768).
 */
void cl_convert_s8_s8_xnnpack(int32_t size, int32_t multiplier, int32_t input_zero_point, int32_t output_zero_point, const int8_t *input, int8_t *output);
`,
  source: `
void cl_quantize_f32_s8_xnnpack(int32_t size, float inv_scale, int32_t zero_point, const float *input, int8_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    const float v = input[i] * inv_scale;
    int32_t q;
    if (!(v == v)) { output[i] = 0; continue; }
    q = cl_rne_f32(v) + zero_point;
    output[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
  }
}

void cl_convert_s8_s8_xnnpack(int32_t size, int32_t multiplier, int32_t input_zero_point, int32_t output_zero_point, const int8_t *input, int8_t *output) {
  int32_t i;
  for (i = 0; i < size; i++) {
    /* |x - z| <= 255 and multiplier <= 2^15: the product fits int32. >> of a negative int32 is arithmetic on every compiler we target (GCC documents it). */
    const int32_t q = ((((int32_t)input[i] - input_zero_point) * multiplier + 128) >> 8) + output_zero_point;
    output[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
  }
}
`,
};

/*
 * int8 and int16 Resize (TFLite's RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR;
 * ref/int8/resize.ts runResize): raw values moved or blended, no requantizing.
 * The output walks [outer, out_y, mid, out_x, inner]; each resized axis has its
 * per-output taps (lower index, upper index, weight of the upper one) folded at
 * compile time. An axis that is not resized has one tap at 0.
 */
const RESIZE_PARAMS: CPiece = {
  id: 'resize_params',
  needs: [],
  header: `
typedef struct {
  int32_t outer, out_y, mid, out_x, inner;
  int32_t stride_outer, stride_y, stride_mid, stride_x;  /* input strides in elements */
  int32_t linear;     /* 0: nearest (lo taps only) */
  int32_t reference;  /* bilinear blend: 1 TFLite's ResizeBilinearInteger (Q10 weights, Q20 sum rounded half away), 0 XNNPACK's (Q11, floor of sum + 2^21 >> 22) */
  const int32_t *lo_y, *hi_y, *w_y, *lo_x, *hi_x, *w_x;
} cl_resize_params;
`,
  source: `
/* The four taps blended in the configured arithmetic (ref/int8/resize.ts blendReference, blendXnnpack). */
static int32_t cl_resize_blend(const cl_resize_params *p, int32_t tl, int32_t tr, int32_t bl, int32_t br, int32_t wx, int32_t wy) {
  if (p->reference) {
    const int64_t s = (int64_t)tl * (1024 - wy) * (1024 - wx) + (int64_t)bl * wy * (1024 - wx)
      + (int64_t)tr * (1024 - wy) * wx + (int64_t)br * wy * wx;
    return (int32_t)((s + (s > 0 ? 524288 : -524288)) / 1048576);
  } else {
    const int64_t top = (int64_t)tl * 2048 + (int64_t)(tr - tl) * wx;
    const int64_t bottom = (int64_t)bl * 2048 + (int64_t)(br - bl) * wx;
    return (int32_t)((top * 2048 + (bottom - top) * wy + 2097152) >> 22);
  }
}
`,
};

function resizePiece(e: Elem): CPiece {
  const t = ctypeOf(e);
  return {
    id: `resize_${e}`,
    needs: ['resize_params'],
    header: `void cl_resize_${e}(const cl_resize_params *p, const ${t} *input, ${t} *output);
`,
    source: `
void cl_resize_${e}(const cl_resize_params *p, const ${t} *input, ${t} *output) {
  int32_t o, oy, m, ox, c;
  for (o = 0; o < p->outer; o++) {
    for (oy = 0; oy < p->out_y; oy++) {
      const int32_t y0 = p->lo_y[oy] * p->stride_y, y1 = p->hi_y[oy] * p->stride_y, wy = p->w_y[oy];
      for (m = 0; m < p->mid; m++) {
        const ${t} *base = input + o * p->stride_outer + m * p->stride_mid;
        for (ox = 0; ox < p->out_x; ox++) {
          const int32_t x0 = p->lo_x[ox] * p->stride_x, x1 = p->hi_x[ox] * p->stride_x, wx = p->w_x[ox];
          for (c = 0; c < p->inner; c++) {
            const ${t} *b = base + c;
            *output++ = p->linear ? (${t})cl_resize_blend(p, b[y0 + x0], b[y0 + x1], b[y1 + x0], b[y1 + x1], wx, wy) : b[y0 + x0];
          }
        }
      }
    }
  }
}
`,
  };
}

const MORE_PIECES: CPiece[] = [
  BINARY_XNNPACK, QUANTIZE_XNNPACK,
  STRIDED_PARAMS, SOFTMAX_S16, ...Object.keys(STRIDED_TYPES).map(stridedPiece),
  FIXEDPOINT_WIDE, MAC_S16, TAPS, CONV_PARAMS, DEPTHWISE_PARAMS, FULLY_CONNECTED_PARAMS, LUT_S16, ACTIVATION_S16,
  ODOMETER, BINARY_PARAMS, MEAN_PARAMS, CONV_TRANSPOSE_S8, QUANTIZE, REQUANTIZE,
  RESIZE_PARAMS,
  ...(['s8', 's16'] as Elem[]).flatMap((e) => [tapsPiece(e), dotPiece(e), convPiece(e), depthwisePiece(e), fullyConnectedPiece(e), poolPiece(e), binaryPiece('add', e), binaryPiece('mul', e), concatPiece(e), padPiece(e), meanPiece(e), resizePiece(e)]),
];

export const C_PIECES: ReadonlyMap<string, CPiece> = new Map(
  [FIXEDPOINT, GEMMLOWP_EXP, FLOAT_EPILOGUE, POOL_CLAMP, LUT_S8, MAC_S8, POOL_PARAMS, SOFTMAX_S8, FULLY_CONNECTED_F32, ...MORE_PIECES, ...SIGNAL_PIECES].map((p) => [p.id, p]),
);

/** The pieces `ids` need, each once, dependencies first. */
export function closePieces(ids: Iterable<string>): CPiece[] {
  const out: CPiece[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const p = C_PIECES.get(id);
    if (!p) throw new Error(`no C piece ${id}`);
    for (const n of p.needs) visit(n);
    out.push(p);
  };
  for (const id of ids) visit(id);
  return out;
}

/** cloudless_kernels.h and .c holding exactly `pieces`. */
export function kernelFiles(pieces: CPiece[]): { header: string; source: string } {
  const header = `/* cloudless_kernels.h: the kernels this package uses (generated by cloudless; TFLite Micro reference arithmetic). */
#ifndef CLOUDLESS_KERNELS_H
#define CLOUDLESS_KERNELS_H
#include <stdint.h>
${pieces.map((p) => p.header).join('')}
#endif
`;
  const source = `/* cloudless_kernels.c (generated by cloudless). */
#include "cloudless_kernels.h"
${pieces.map((p) => p.source).join('')}`;
  return { header, source };
}

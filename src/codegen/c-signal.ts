/**
 * C pieces of the TFLite Micro "Signal" ops (the audio preprocessor of
 * micro_speech) and of the plain int32/int64 tensor ops around them (Cast,
 * Add, Mul, Div, Min, Max, Concat of int32). c-kernels.ts adds them to its
 * library; a package gets them only when its graph has those nodes.
 *
 * The arithmetic is src/ir/signal.ts's, step for step (each function names the
 * one it mirrors); there the JS reproduces TFLM's C integer types with typed
 * array stores, here they are the C types themselves. Conversions of an
 * out-of-range value to int16_t/int32_t wrap, as on every compiler for our
 * targets (the same assumption as c-kernels.ts). uint32/uint64 tensors of the
 * TFLite file are int64 in cloudless: the kernels take int64_t arrays and use
 * their low 32 bits, as the reference kernels do.
 */
import { LOG_COEFF, LOG_LUT, PCAN_OUTPUT_BITS, PCAN_SNR_BITS } from '../ir/signal.js';
import type { CPiece } from './c-kernels.js';

const BITS: CPiece = {
  id: 'signal_bits',
  needs: [],
  header: `
/* Bits needed to hold x; 32 for x = 0 (TFLM's MostSignificantBit32 on GCC). (signal.ts mostSignificantBit32) */
int32_t cl_msb32(uint32_t x);
`,
  source: `
int32_t cl_msb32(uint32_t x) {
  int32_t n = 0;
  if (x == 0u) return 32;
  if (x >= 0x10000u) { n += 16; x >>= 16; }
  if (x >= 0x100u) { n += 8; x >>= 8; }
  if (x >= 0x10u) { n += 4; x >>= 4; }
  if (x >= 0x4u) { n += 2; x >>= 2; }
  if (x >= 0x2u) { n += 1; x >>= 1; }
  return n + (int32_t)x;
}
`,
};

const WINDOW: CPiece = {
  id: 'signal_window',
  needs: [],
  header: `
/* SignalWindow: y = sat16((x * w) >> shift) per row of len samples; |x * w| < 2^30. (signal.ts applyWindow) */
void cl_signal_window(int32_t rows, int32_t len, int32_t shift, const int16_t *x, const int16_t *w, int16_t *y);
`,
  source: `
void cl_signal_window(int32_t rows, int32_t len, int32_t shift, const int16_t *x, const int16_t *w, int16_t *y) {
  int32_t r, i;
  for (r = 0; r < rows; r++) {
    for (i = 0; i < len; i++) {
      const int32_t v = ((int32_t)x[r * len + i] * (int32_t)w[i]) >> shift;
      y[r * len + i] = (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
    }
  }
}
`,
};

const FFT_AUTO_SCALE: CPiece = {
  id: 'signal_fft_auto_scale',
  needs: ['signal_bits'],
  header: `
/*
 * SignalFftAutoScale: shifts the frame up so its largest magnitude uses 15
 * bits; *shift_out gets the shift. The running maximum is int16, so a -32768
 * sample wraps it negative and the shift becomes 0, as in TFLM. (signal.ts fftAutoScale)
 */
void cl_signal_fft_auto_scale(int32_t n, const int16_t *x, int16_t *y, int32_t *shift_out);
`,
  source: `
void cl_signal_fft_auto_scale(int32_t n, const int16_t *x, int16_t *y, int32_t *shift_out) {
  int16_t max = 0;
  int32_t i, bits;
  for (i = 0; i < n; i++) {
    const int32_t v = x[i];
    if (v > max) max = (int16_t)v;
    else if (-v > max) max = (int16_t)(-v);
  }
  bits = 16 - cl_msb32((uint32_t)(int32_t)max) - 1;
  if (bits <= 0) bits = 0;
  for (i = 0; i < n; i++) y[i] = (int16_t)((int32_t)x[i] * ((int32_t)1 << bits));
  *shift_out = bits;
}
`,
};

const RFFT: CPiece = {
  id: 'signal_rfft',
  needs: [],
  header: `
/*
 * SignalRfft: KISS FFT's 16-bit fixed-point real FFT (FIXED_POINT=16), as
 * TFLM runs it: a complex FFT of n = fft_length / 2 points over the samples
 * packed as (re, im), radix-4 stages then one radix-2, each input divided by
 * the radix first; then the split step. Products are int32 rounded by
 * (p + 2^14) >> 15; sums are stored to int16. Rows of in_len samples are
 * zero-padded to fft_length; each gives out_len = fft_length + 2 int16s
 * (fft_length / 2 + 1 bins, re and im). buf_r / buf_i are n-element scratch.
 * (signal.ts RfftInt16)
 */
typedef struct {
  int32_t rows, in_len, out_len, n;
  int32_t factors[32]; /* (radix, remaining length) per stage */
  const int16_t *tw_r, *tw_i;       /* n twiddles */
  const int16_t *super_r, *super_i; /* n / 2 split twiddles */
  int16_t *buf_r, *buf_i;
} cl_signal_rfft_params;
void cl_signal_rfft(const cl_signal_rfft_params *p, const int16_t *input, int16_t *output);
`,
  source: `
#define CL_FFT_MUL(a, b) ((int32_t)(a) * (int32_t)(b))
#define CL_FFT_ROUND(x) ((int16_t)(((x) + 16384) >> 15))
/* Division by 2 and by 4 as KISS FFT's C_FIXDIV: x * floor(32767 / p), rounded. */
#define CL_FIXDIV2(x) ((int16_t)(((int32_t)(x) * 16383 + 16384) >> 15))
#define CL_FIXDIV4(x) ((int16_t)(((int32_t)(x) * 8191 + 16384) >> 15))

static void cl_rfft_butterfly2(const cl_signal_rfft_params *p, int32_t off, int32_t fstride, int32_t m) {
  int16_t *r = p->buf_r, *im = p->buf_i;
  int32_t k, tw;
  for (k = 0, tw = 0; k < m; k++, tw += fstride) {
    const int32_t a = off + k, b = a + m;
    const int16_t ar = CL_FIXDIV2(r[a]), ai = CL_FIXDIV2(im[a]);
    const int16_t br = CL_FIXDIV2(r[b]), bi = CL_FIXDIV2(im[b]);
    const int16_t wr = p->tw_r[tw], wi = p->tw_i[tw];
    const int16_t tr = CL_FFT_ROUND(CL_FFT_MUL(br, wr) - CL_FFT_MUL(bi, wi));
    const int16_t ti = CL_FFT_ROUND(CL_FFT_MUL(br, wi) + CL_FFT_MUL(bi, wr));
    r[b] = (int16_t)(ar - tr); im[b] = (int16_t)(ai - ti);
    r[a] = (int16_t)(ar + tr); im[a] = (int16_t)(ai + ti);
  }
}

static void cl_rfft_butterfly4(const cl_signal_rfft_params *p, int32_t off, int32_t fstride, int32_t m) {
  int16_t *r = p->buf_r, *im = p->buf_i;
  const int16_t *twr = p->tw_r, *twi = p->tw_i;
  int32_t k;
  for (k = 0; k < m; k++) {
    const int32_t a = off + k, b = a + m, c = a + 2 * m, d = a + 3 * m;
    const int32_t t1 = k * fstride, t2 = 2 * t1, t3 = 3 * t1;
    const int16_t ar = CL_FIXDIV4(r[a]), ai = CL_FIXDIV4(im[a]);
    const int16_t br = CL_FIXDIV4(r[b]), bi = CL_FIXDIV4(im[b]);
    const int16_t cr = CL_FIXDIV4(r[c]), ci = CL_FIXDIV4(im[c]);
    const int16_t dr = CL_FIXDIV4(r[d]), di = CL_FIXDIV4(im[d]);
    /* KISS FFT's scratch[0..5] */
    const int16_t s0r = CL_FFT_ROUND(CL_FFT_MUL(br, twr[t1]) - CL_FFT_MUL(bi, twi[t1]));
    const int16_t s0i = CL_FFT_ROUND(CL_FFT_MUL(br, twi[t1]) + CL_FFT_MUL(bi, twr[t1]));
    const int16_t s1r = CL_FFT_ROUND(CL_FFT_MUL(cr, twr[t2]) - CL_FFT_MUL(ci, twi[t2]));
    const int16_t s1i = CL_FFT_ROUND(CL_FFT_MUL(cr, twi[t2]) + CL_FFT_MUL(ci, twr[t2]));
    const int16_t s2r = CL_FFT_ROUND(CL_FFT_MUL(dr, twr[t3]) - CL_FFT_MUL(di, twi[t3]));
    const int16_t s2i = CL_FFT_ROUND(CL_FFT_MUL(dr, twi[t3]) + CL_FFT_MUL(di, twr[t3]));
    const int16_t s5r = (int16_t)(ar - s1r), s5i = (int16_t)(ai - s1i);
    const int16_t a1r = (int16_t)(ar + s1r), a1i = (int16_t)(ai + s1i);
    const int16_t s3r = (int16_t)(s0r + s2r), s3i = (int16_t)(s0i + s2i);
    const int16_t s4r = (int16_t)(s0r - s2r), s4i = (int16_t)(s0i - s2i);
    r[c] = (int16_t)(a1r - s3r); im[c] = (int16_t)(a1i - s3i);
    r[a] = (int16_t)(a1r + s3r); im[a] = (int16_t)(a1i + s3i);
    r[b] = (int16_t)(s5r + s4i); im[b] = (int16_t)(s5i - s4r);
    r[d] = (int16_t)(s5r - s4i); im[d] = (int16_t)(s5i + s4r);
  }
}

/* KISS FFT's recursive decimation in time; samples past in_len are the zero padding. */
static void cl_rfft_work(const cl_signal_rfft_params *p, const int16_t *x, int32_t out_off, int32_t in_off, int32_t fstride, int32_t fi) {
  const int32_t radix = p->factors[fi], m = p->factors[fi + 1];
  int32_t q;
  if (m == 1) {
    for (q = 0; q < radix; q++) {
      const int32_t c = in_off + q * fstride;
      p->buf_r[out_off + q] = 2 * c < p->in_len ? x[2 * c] : 0;
      p->buf_i[out_off + q] = 2 * c + 1 < p->in_len ? x[2 * c + 1] : 0;
    }
  } else {
    for (q = 0; q < radix; q++) cl_rfft_work(p, x, out_off + q * m, in_off + q * fstride, fstride * radix, fi + 2);
  }
  if (radix == 4) cl_rfft_butterfly4(p, out_off, fstride, m);
  else cl_rfft_butterfly2(p, out_off, fstride, m);
}

void cl_signal_rfft(const cl_signal_rfft_params *p, const int16_t *input, int16_t *output) {
  const int32_t n = p->n;
  const int16_t *r = p->buf_r, *im = p->buf_i;
  int32_t row, k;
  for (row = 0; row < p->rows; row++) {
    int16_t *out = output + row * p->out_len;
    int16_t dr, di;
    cl_rfft_work(p, input + row * p->in_len, 0, 0, 1, 0);
    /* DC and Nyquist from the packed bin 0, each halved first. */
    dr = CL_FIXDIV2(r[0]); di = CL_FIXDIV2(im[0]);
    out[0] = (int16_t)(dr + di); out[1] = 0;
    out[2 * n] = (int16_t)(dr - di); out[2 * n + 1] = 0;
    for (k = 1; k <= n / 2; k++) {
      const int16_t ar = CL_FIXDIV2(r[k]), ai = CL_FIXDIV2(im[k]);
      const int16_t br = CL_FIXDIV2(r[n - k]), bi = CL_FIXDIV2((int16_t)(-im[n - k]));
      const int16_t f1r = (int16_t)(ar + br), f1i = (int16_t)(ai + bi);
      const int16_t f2r = (int16_t)(ar - br), f2i = (int16_t)(ai - bi);
      const int16_t wr = p->super_r[k - 1], wi = p->super_i[k - 1];
      const int16_t tr = CL_FFT_ROUND(CL_FFT_MUL(f2r, wr) - CL_FFT_MUL(f2i, wi));
      const int16_t ti = CL_FFT_ROUND(CL_FFT_MUL(f2r, wi) + CL_FFT_MUL(f2i, wr));
      out[2 * k] = (int16_t)(((int32_t)f1r + tr) >> 1);
      out[2 * k + 1] = (int16_t)(((int32_t)f1i + ti) >> 1);
      out[2 * (n - k)] = (int16_t)(((int32_t)f1r - tr) >> 1);
      out[2 * (n - k) + 1] = (int16_t)(((int32_t)ti - f1i) >> 1);
    }
  }
}
`,
};

const ENERGY: CPiece = {
  id: 'signal_energy',
  needs: [],
  header: `
/* SignalEnergy: y[k] = re^2 + im^2 (uint32; at most 2^31) for start <= k < end, 0 for the other bins. (signal.ts spectrumToEnergy) */
void cl_signal_energy(int32_t bins, int32_t start, int32_t end, const int16_t *spectrum, int64_t *y);
`,
  source: `
void cl_signal_energy(int32_t bins, int32_t start, int32_t end, const int16_t *spectrum, int64_t *y) {
  int32_t k;
  for (k = 0; k < bins; k++) {
    uint32_t e = 0u;
    if (k >= start && k < end) {
      const int32_t re = spectrum[2 * k], im = spectrum[2 * k + 1];
      e = (uint32_t)(re * re) + (uint32_t)(im * im);
    }
    y[k] = (int64_t)e;
  }
}
`,
};

const FILTER_BANK: CPiece = {
  id: 'signal_filter_bank',
  needs: [],
  header: `
/*
 * SignalFilterBank: triangular mel filters. Each bin's energy (the low 32 bits
 * of the input) goes to two adjacent channels, weighted by weights[] and
 * unweights[]; num_channels + 1 uint64 accumulations, slot 0 being scratch.
 * The int16 weights are widened to uint64 before the product (mod 2^64, as in
 * TFLM). (signal.ts filterBankAccumulate)
 */
typedef struct {
  int32_t num_channels;
  const int16_t *weights, *unweights;
  const int16_t *channel_frequency_starts, *channel_weight_starts, *channel_widths;
} cl_signal_filter_bank_params;
void cl_signal_filter_bank(const cl_signal_filter_bank_params *p, const int64_t *energy, int64_t *y);
`,
  source: `
void cl_signal_filter_bank(const cl_signal_filter_bank_params *p, const int64_t *energy, int64_t *y) {
  uint64_t w_acc = 0u, u_acc = 0u;
  int32_t i, j;
  for (i = 0; i <= p->num_channels; i++) {
    const int32_t f0 = p->channel_frequency_starts[i], w0 = p->channel_weight_starts[i], width = p->channel_widths[i];
    for (j = 0; j < width; j++) {
      const uint64_t e = (uint64_t)(uint32_t)energy[f0 + j];
      w_acc += (uint64_t)(int64_t)p->weights[w0 + j] * e;
      u_acc += (uint64_t)(int64_t)p->unweights[w0 + j] * e;
    }
    if (i > 0) y[i - 1] = (int64_t)w_acc;
    w_acc = u_acc;
    u_acc = 0u;
  }
}
`,
};

const SQRT: CPiece = {
  id: 'signal_sqrt',
  needs: ['signal_bits'],
  header: `
/*
 * SignalFilterBankSquareRoot: y = sqrt(x) >> scale_bits[0], the square root
 * rounded to nearest by the bit-by-bit method, on 32 bits when x's high word
 * is clear and on 64 bits otherwise (as TFLM). (signal.ts sqrt32, sqrt64, filterBankSqrt)
 */
uint32_t cl_sqrt32(uint32_t x);
uint32_t cl_sqrt64(uint64_t x);
void cl_signal_filter_bank_sqrt(int32_t n, const int64_t *x, const int32_t *scale_bits, int64_t *y);
`,
  source: `
uint32_t cl_sqrt32(uint32_t x) {
  uint32_t res = 0u, bit;
  int32_t max_bit, it;
  if (x == 0u) return 0u;
  max_bit = (32 - cl_msb32(x)) | 1;
  bit = (uint32_t)1 << (31 - max_bit);
  for (it = ((31 - max_bit) >> 1) + 1; it > 0; it--) {
    const uint32_t trial = res + bit;
    if (x >= trial) { x -= trial; res = (res >> 1) + bit; }
    else res >>= 1;
    bit >>= 2;
  }
  if (x > res && res != 0xFFFFu) res++;
  return res;
}

uint32_t cl_sqrt64(uint64_t x) {
  uint64_t res = 0u, bit;
  int32_t msb, max_bit, it;
  const uint32_t hi = (uint32_t)(x >> 32);
  if (hi == 0u) return cl_sqrt32((uint32_t)x);
  msb = 32 + cl_msb32(hi);
  max_bit = (64 - msb) | 1;
  bit = (uint64_t)1 << (63 - max_bit);
  for (it = ((63 - max_bit) >> 1) + 1; it > 0; it--) {
    const uint64_t trial = res + bit;
    if (x >= trial) { x -= trial; res = (res >> 1) + bit; }
    else res >>= 1;
    bit >>= 2;
  }
  if (x > res && res != 0xFFFFFFFFu) res++;
  return (uint32_t)res;
}

void cl_signal_filter_bank_sqrt(int32_t n, const int64_t *x, const int32_t *scale_bits, int64_t *y) {
  const uint32_t bits = (uint32_t)scale_bits[0] & 31u;
  int32_t i;
  for (i = 0; i < n; i++) y[i] = (int64_t)(cl_sqrt64((uint64_t)x[i]) >> bits);
}
`,
};

const SPECTRAL_SUBTRACTION: CPiece = {
  id: 'signal_spectral_subtraction',
  needs: [],
  header: `
/*
 * SignalFilterBankSpectralSubtraction: a per-channel noise floor tracked by a
 * one-pole low-pass (odd channels may use the alternate coefficients) and
 * subtracted, keeping at least min_signal_remaining of the signal.
 * noise_estimate[num_channels] is the state carried from one invoke to the
 * next (the package's reset() zeroes it). Outputs: the signal, and the noise
 * estimate after this frame. (signal.ts spectralSubtraction)
 */
typedef struct {
  int32_t num_channels;
  uint32_t smoothing, one_minus_smoothing, alternate_smoothing, alternate_one_minus_smoothing;
  uint32_t min_signal_remaining;
  int32_t smoothing_bits, spectral_subtraction_bits, clamping;
  uint32_t *noise_estimate;
} cl_signal_spectral_subtraction_params;
void cl_signal_spectral_subtraction(const cl_signal_spectral_subtraction_params *p, const int64_t *x, int64_t *y, int64_t *noise_out);
`,
  source: `
void cl_signal_spectral_subtraction(const cl_signal_spectral_subtraction_params *p, const int64_t *x, int64_t *y, int64_t *noise_out) {
  uint32_t *noise = p->noise_estimate;
  int32_t i;
  for (i = 0; i < p->num_channels; i++) {
    const int odd = (i & 1) != 0;
    const uint32_t smoothing = odd ? p->alternate_smoothing : p->smoothing;
    const uint32_t one_minus = odd ? p->alternate_one_minus_smoothing : p->one_minus_smoothing;
    const uint32_t in = (uint32_t)x[i];
    const uint32_t signal_up = in << p->smoothing_bits;
    uint32_t estimate_up, floor, subtracted;
    noise[i] = (uint32_t)(((uint64_t)signal_up * smoothing + (uint64_t)noise[i] * one_minus) >> p->spectral_subtraction_bits);
    estimate_up = noise[i];
    if (estimate_up > signal_up) {
      estimate_up = signal_up;
      if (p->clamping) noise[i] = estimate_up;
    }
    floor = (uint32_t)(((uint64_t)in * p->min_signal_remaining) >> p->spectral_subtraction_bits);
    subtracted = (signal_up - estimate_up) >> p->smoothing_bits;
    y[i] = (int64_t)(subtracted > floor ? subtracted : floor);
    noise_out[i] = (int64_t)noise[i];
  }
}
`,
};

const PCAN: CPiece = {
  id: 'signal_pcan',
  needs: ['signal_bits'],
  header: `
/*
 * SignalPCAN: per-channel automatic gain control. gain = a piecewise quadratic
 * of the noise estimate (lut: 4 int16 coefficients per power-of-two interval,
 * int32 arithmetic), widened to uint32; snr = (signal * gain) >> snr_shift;
 * then shrink: x^2 / 4 below 2, x - 1 above (Q${PCAN_SNR_BITS} in, Q${PCAN_OUTPUT_BITS} out).
 * (signal.ts wideDynamicFunction, pcanShrink, pcanAutoGainControl)
 */
void cl_signal_pcan(int32_t n, const int16_t *lut, int32_t snr_shift, const int64_t *signal, const int64_t *noise, int64_t *y);
`,
  source: `
static int16_t cl_pcan_gain(uint32_t x, const int16_t *lut) {
  int32_t interval, base, frac, result;
  if (x <= 2u) return lut[x];
  interval = cl_msb32(x);
  base = 4 * interval - 6;
  frac = (int32_t)((interval < 11 ? (x << (11 - interval)) : (x >> (interval - 11))) & 0x3FFu);
  result = ((int32_t)lut[base + 2] * frac) >> 5;
  result = (int32_t)((uint32_t)result + ((uint32_t)(int32_t)lut[base + 1] << 5));
  result = (int32_t)((uint32_t)result * (uint32_t)frac);
  result = (int32_t)((uint32_t)result + (1u << 14)) >> 15;
  result = (int32_t)((uint32_t)result + (uint32_t)(int32_t)lut[base]);
  return (int16_t)result;
}

static uint32_t cl_pcan_shrink(uint32_t x) {
  if (x < ((uint32_t)2 << ${PCAN_SNR_BITS})) return (x * x) >> (2 + 2 * ${PCAN_SNR_BITS} - ${PCAN_OUTPUT_BITS});
  return (x >> (${PCAN_SNR_BITS} - ${PCAN_OUTPUT_BITS})) - ((uint32_t)1 << ${PCAN_OUTPUT_BITS});
}

void cl_signal_pcan(int32_t n, const int16_t *lut, int32_t snr_shift, const int64_t *signal, const int64_t *noise, int64_t *y) {
  int32_t i;
  for (i = 0; i < n; i++) {
    const uint32_t gain = (uint32_t)(int32_t)cl_pcan_gain((uint32_t)noise[i], lut);
    const uint32_t snr = (uint32_t)(((uint64_t)(uint32_t)signal[i] * gain) >> snr_shift);
    y[i] = (int64_t)cl_pcan_shrink(snr);
  }
}
`,
};

const LOG: CPiece = {
  id: 'signal_log',
  needs: ['signal_bits'],
  header: `
/*
 * SignalFilterBankLog: y = min(ln(x << correction_bits) * output_scale, 32767),
 * 0 where the shifted value is at most 1. log2's fraction is interpolated in
 * TFLM's 128-segment correction table; ln = log2 * ln(2) (${LOG_COEFF} / 2^16).
 * (signal.ts log32, filterBankLog)
 */
void cl_signal_filter_bank_log(int32_t n, uint32_t output_scale, int32_t correction_bits, const int64_t *x, int16_t *y);
`,
  source: `
static const uint16_t cl_log_lut[${LOG_LUT.length}] = {${Array.from(LOG_LUT).join(', ')}};

static uint32_t cl_log32(uint32_t x, uint32_t out_scale) {
  const int32_t integer = cl_msb32(x) - 1;
  int32_t frac = (int32_t)(x - ((uint32_t)1 << integer));
  int32_t seg, c0, c1, rel;
  uint32_t log2, loge;
  frac = integer < 16 ? frac << (16 - integer) : frac >> (integer - 16);
  seg = frac >> 9;
  c0 = cl_log_lut[seg]; c1 = cl_log_lut[seg + 1];
  rel = ((c1 - c0) * (frac - 512 * seg)) >> 16;
  log2 = (uint32_t)(integer * 65536 + frac + c0 + rel);
  loge = (uint32_t)(((uint64_t)${LOG_COEFF}u * log2 + 32768u) >> 16);
  return (out_scale * loge + 32768u) >> 16;
}

void cl_signal_filter_bank_log(int32_t n, uint32_t output_scale, int32_t correction_bits, const int64_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < n; i++) {
    const uint32_t v = (uint32_t)x[i] << correction_bits;
    uint32_t l = 0u;
    if (v > 1u) { l = cl_log32(v, output_scale); if (l > 32767u) l = 32767u; }
    y[i] = (int16_t)l;
  }
}
`,
};

// ---------------------------------------------------------------- int32 / int64 tensor ops

/** C element types of the plain integer ops, by the suffix of their functions. */
export const INT_TYPES: Readonly<Record<string, string>> = { s8: 'int8_t', s16: 'int16_t', s32: 'int32_t', s64: 'int64_t' };

function castPiece(from: string, to: string): CPiece {
  const tf = INT_TYPES[from]!, tt = INT_TYPES[to]!;
  return {
    id: `cast_${from}_${to}`,
    needs: [],
    header: `
/* Cast ${tf} -> ${tt}: ${to === 's64' ? 'exact' : 'keeps the low bits (wraps), as the reference Cast'}. (elementwise.ts castInto) */
void cl_cast_${from}_${to}(int32_t n, const ${tf} *x, ${tt} *y);
`,
    source: `
void cl_cast_${from}_${to}(int32_t n, const ${tf} *x, ${tt} *y) {
  int32_t i;
  for (i = 0; i < n; i++) y[i] = (${tt})x[i];
}
`,
  };
}

/* Cast of an integer type to float32: nearest (exact for int8 and int16), as the reference Cast (elementwise.ts castInto). */
function castToFloatPiece(from: string): CPiece {
  const tf = INT_TYPES[from]!;
  return {
    id: `cast_${from}_f32`,
    needs: [],
    header: `
/* Cast ${tf} -> float: ${from === 's32' ? 'the nearest float (ties to even), as the reference Cast' : 'exact'}. (elementwise.ts castInto) */
void cl_cast_${from}_f32(int32_t n, const ${tf} *x, float *y);
`,
    source: `
void cl_cast_${from}_f32(int32_t n, const ${tf} *x, float *y) {
  int32_t i;
  for (i = 0; i < n; i++) y[i] = (float)x[i];
}
`,
  };
}

/** Integer types whose Cast to float32 is emitted: their values are exact in a double, so the engine's fround rounds once, as C's conversion does. */
export const CAST_TO_FLOAT = ['s8', 's16', 's32'] as const;

const BINARY_F32: CPiece = {
  id: 'binary_f32',
  needs: [],
  header: `
/*
 * float Add, Sub, Mul with one operand of size 1 or both of the output's size (a_step / b_step 0 or 1). Each is one IEEE single operation,
 * rounded once; the reference kernels compute the exact double result of two
 * floats and round it to float, which is the same value for these
 * operations. (Div is left out: on Cortex-M4 a subnormal quotient differed.) (elementwise.ts ARITHMETIC)
 */
#define CL_F32_ADD 0
#define CL_F32_SUB 1
#define CL_F32_MUL 2
void cl_binary_f32(int32_t op, int32_t n, const float *a, int32_t a_step, const float *b, int32_t b_step, float *y);
`,
  source: `
void cl_binary_f32(int32_t op, int32_t n, const float *a, int32_t a_step, const float *b, int32_t b_step, float *y) {
  int32_t i;
  for (i = 0; i < n; i++) {
    const float x = a[i * a_step], z = b[i * b_step];
    y[i] = op == CL_F32_ADD ? x + z : op == CL_F32_SUB ? x - z : x * z;
  }
}
`,
};

const BINARY_S32: CPiece = {
  id: 'binary_s32',
  needs: [],
  header: `
/*
 * int32 Add, Sub, Mul, Div (truncating), Min, Max with one operand of size 1
 * or both of the output's size (a_step / b_step 0 or 1). Add, Sub and Mul
 * wrap mod 2^32; Div by 0 gives 0 and INT32_MIN / -1 wraps, as the reference
 * kernels. (elementwise.ts ARITHMETIC, Max, Min)
 */
#define CL_S32_ADD 0
#define CL_S32_SUB 1
#define CL_S32_MUL 2
#define CL_S32_DIV 3
#define CL_S32_MIN 4
#define CL_S32_MAX 5
void cl_binary_s32(int32_t op, int32_t n, const int32_t *a, int32_t a_step, const int32_t *b, int32_t b_step, int32_t *y);
`,
  source: `
void cl_binary_s32(int32_t op, int32_t n, const int32_t *a, int32_t a_step, const int32_t *b, int32_t b_step, int32_t *y) {
  int32_t i;
  for (i = 0; i < n; i++) {
    const int32_t x = a[i * a_step], z = b[i * b_step];
    int32_t v;
    switch (op) {
      case CL_S32_ADD: v = (int32_t)((uint32_t)x + (uint32_t)z); break;
      case CL_S32_SUB: v = (int32_t)((uint32_t)x - (uint32_t)z); break;
      case CL_S32_MUL: v = (int32_t)((uint32_t)x * (uint32_t)z); break;
      case CL_S32_DIV: v = z == 0 ? 0 : z == -1 ? (int32_t)(0u - (uint32_t)x) : x / z; break;
      case CL_S32_MIN: v = x < z ? x : z; break;
      default: v = x > z ? x : z; break;
    }
    y[i] = v;
  }
}
`,
};

function concatPartPiece(suffix: 's32' | 's64'): CPiece {
  const t = INT_TYPES[suffix]!;
  return {
    id: `concat_${suffix}`,
    needs: [],
    header: `
/* One input of a ${t} Concat: each of \`outer\` blocks of \`block\` elements goes to output + o * out_block + start. */
void cl_concat_part_${suffix}(int32_t outer, int32_t block, int32_t out_block, int32_t start, const ${t} *input, ${t} *output);
`,
    source: `
void cl_concat_part_${suffix}(int32_t outer, int32_t block, int32_t out_block, int32_t start, const ${t} *input, ${t} *output) {
  int32_t o, i;
  for (o = 0; o < outer; o++) for (i = 0; i < block; i++) output[o * out_block + start + i] = input[o * block + i];
}
`,
  };
}

const INT_SUFFIXES = Object.keys(INT_TYPES);

export const SIGNAL_PIECES: readonly CPiece[] = [
  BITS, WINDOW, FFT_AUTO_SCALE, RFFT, ENERGY, FILTER_BANK, SQRT, SPECTRAL_SUBTRACTION, PCAN, LOG,
  BINARY_S32, BINARY_F32, concatPartPiece('s32'), concatPartPiece('s64'), ...CAST_TO_FLOAT.map(castToFloatPiece),
  ...INT_SUFFIXES.flatMap((f) => INT_SUFFIXES.filter((t) => t !== f).map((t) => castPiece(f, t))),
];

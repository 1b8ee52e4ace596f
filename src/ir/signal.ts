/**
 * The integer arithmetic of the TFLite Micro "Signal" ops (window, FFT auto
 * scale, real FFT, energy, mel filter bank, square root, spectral subtraction,
 * PCAN auto gain control, log) on plain typed arrays, shared by their reference
 * kernels (src/kernels/ref/signal.ts) and the streaming audio front end
 * (src/tasks/audio/features.ts), so the two cannot drift apart.
 *
 * Everything here is integer arithmetic chosen to give the same bits as TFLM's
 * C code on a 32-bit or 64-bit CPU: C's wrapping stores into int16/uint32 are
 * reproduced by storing into Int16Array/Uint32Array, and every intermediate
 * that TFLM keeps in 64 bits is shown below to stay under 2^53 (exact in a
 * double) or is computed with BigInt.
 */
import { CloudlessError } from './errors.js';

// ---------------------------------------------------------------- bit helpers

/** 2^32: `v % UINT32_RANGE` is C's conversion of a non-negative integer below 2^53 to uint32. */
const UINT32_RANGE = 4294967296;

/** Bits needed to hold x (x as uint32); TFLM's GCC path answers 32 for x = 0. */
export function mostSignificantBit32(x: number): number {
  const u = x >>> 0;
  return u === 0 ? 32 : 32 - Math.clz32(u);
}

// ---------------------------------------------------------------- window

/** out[i] = sat16((in[i] · w[i]) >> shift). |in·w| < 2^30, so the int32 product is exact. */
export function applyWindow(input: ArrayLike<number>, window: ArrayLike<number>, shift: number, out: Int16Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const raw = (input[i]! * window[i]!) >> shift;
    out[i] = raw < -32768 ? -32768 : raw > 32767 ? 32767 : raw;
  }
}

// ---------------------------------------------------------------- FFT auto scale

/**
 * Shifts the frame left so its largest magnitude uses all 15 bits, which keeps
 * the fixed-point FFT's per-stage divisions from eating the signal. Returns the
 * shift. MaxAbs16 keeps its running maximum in int16, so a −32768 sample makes
 * the maximum −32768 and the shift 0, as in TFLM.
 */
export function fftAutoScale(input: ArrayLike<number>, out: Int16Array, n: number): number {
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = input[i]!;
    if (v > max) max = v;
    else if (-v > max) max = (-v << 16) >> 16;
  }
  let bits = 16 - mostSignificantBit32(max) - 1;
  if (bits <= 0) bits = 0;
  const mul = 1 << bits;
  for (let i = 0; i < n; i++) out[i] = input[i]! * mul;
  return bits;
}

// ---------------------------------------------------------------- real FFT (int16)

/**
 * The 16-bit fixed-point real FFT TFLM runs: KISS FFT (FIXED_POINT=16), a
 * complex FFT of half the length over the even/odd samples packed as
 * (re, im), then the split step that separates the two real spectra.
 *
 * Arithmetic, per KISS FFT's fixed-point macros (Q15, products in int32):
 * - multiply: round(a·b / 2^15) as (a·b + 2^14) >> 15, stored to int16;
 * - divide by the radix p before each butterfly: x = (x·⌊32767/p⌋ + 2^14) >> 15,
 *   so the output is the DFT scaled by 1/N and cannot overflow;
 * - twiddles: ⌊0.5 + 32767·cos(φ)⌋, ⌊0.5 + 32767·sin(φ)⌋ with φ = −2πi/N;
 * - sums and differences are stored to int16 (wrapping, as C's conversion does).
 * Radix 4 stages first, then one radix 2 stage: lengths must be powers of two.
 */
export class RfftInt16 {
  readonly fftLength: number;
  private readonly n: number;
  private readonly factors: number[] = [];
  private readonly twR: Int16Array;
  private readonly twI: Int16Array;
  private readonly superR: Int16Array;
  private readonly superI: Int16Array;
  private readonly bufR: Int16Array;
  private readonly bufI: Int16Array;

  constructor(fftLength: number) {
    if (!Number.isInteger(fftLength) || fftLength < 4 || (fftLength & (fftLength - 1)) !== 0) {
      throw new CloudlessError('E_UNSUPPORTED', `int16 RFFT of length ${fftLength}: only powers of two from 4 are supported`);
    }
    this.fftLength = fftLength;
    const n = fftLength >> 1;
    this.n = n;
    for (let rest = n; rest > 1;) {
      const p = rest % 4 === 0 ? 4 : 2;
      rest /= p;
      this.factors.push(p, rest);
    }
    this.twR = new Int16Array(n);
    this.twI = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const phase = (-2 * Math.PI * i) / n;
      this.twR[i] = Math.floor(0.5 + 32767 * Math.cos(phase));
      this.twI[i] = Math.floor(0.5 + 32767 * Math.sin(phase));
    }
    this.superR = new Int16Array(n >> 1);
    this.superI = new Int16Array(n >> 1);
    for (let i = 0; i < n >> 1; i++) {
      const phase = -Math.PI * ((i + 1) / n + 0.5);
      this.superR[i] = Math.floor(0.5 + 32767 * Math.cos(phase));
      this.superI[i] = Math.floor(0.5 + 32767 * Math.sin(phase));
    }
    this.bufR = new Int16Array(n);
    this.bufI = new Int16Array(n);
  }

  /** The plan and tables, for code generators that must run the same arithmetic (src/codegen/c-signal.ts). */
  tables(): { factors: readonly number[]; twR: Int16Array; twI: Int16Array; superR: Int16Array; superI: Int16Array } {
    return { factors: this.factors, twR: this.twR, twI: this.twI, superR: this.superR, superI: this.superI };
  }

  /**
   * `input`: fftLength int16 samples (zero-padded by the caller); `out`:
   * fftLength/2 + 1 complex bins interleaved (re, im).
   */
  apply(input: ArrayLike<number>, out: Int16Array, outOffset = 0): void {
    const n = this.n;
    this.work(input, 0, 0, 1, 0);
    const r = this.bufR, im = this.bufI;
    // DC and Nyquist from the packed bin 0, each halved first.
    const dr = fixDiv2(r[0]!), di = fixDiv2(im[0]!);
    out[outOffset] = dr + di;
    out[outOffset + 1] = 0;
    out[outOffset + 2 * n] = dr - di;
    out[outOffset + 2 * n + 1] = 0;
    for (let k = 1; k <= n >> 1; k++) {
      // fpk/2, conj(tmp[n-k])/2, their sum f1k and difference f2k, and f2k twiddled: int16 locals as in C.
      const ar = fixDiv2(r[k]!), ai = fixDiv2(im[k]!);
      const br = fixDiv2(r[n - k]!), bi = fixDiv2(wrap16(-im[n - k]!));
      const f1r = wrap16(ar + br), f1i = wrap16(ai + bi);
      const f2r = wrap16(ar - br), f2i = wrap16(ai - bi);
      const wr = this.superR[k - 1]!, wi = this.superI[k - 1]!;
      const tr = wrap16((f2r * wr - f2i * wi + 16384) >> 15);
      const ti = wrap16((f2r * wi + f2i * wr + 16384) >> 15);
      out[outOffset + 2 * k] = (f1r + tr) >> 1;
      out[outOffset + 2 * k + 1] = (f1i + ti) >> 1;
      out[outOffset + 2 * (n - k)] = (f1r - tr) >> 1;
      out[outOffset + 2 * (n - k) + 1] = (ti - f1i) >> 1;
    }
  }

  /** KISS FFT's recursive decimation in time: gather with stride, then butterfly this stage. */
  private work(input: ArrayLike<number>, outOff: number, inOff: number, fstride: number, fi: number): void {
    const p = this.factors[fi]!, m = this.factors[fi + 1]!;
    if (m === 1) {
      for (let q = 0; q < p; q++) {
        const c = inOff + q * fstride;
        this.bufR[outOff + q] = input[2 * c]!;
        this.bufI[outOff + q] = input[2 * c + 1]!;
      }
    } else {
      for (let q = 0; q < p; q++) this.work(input, outOff + q * m, inOff + q * fstride, fstride * p, fi + 2);
    }
    if (p === 4) this.butterfly4(outOff, fstride, m);
    else this.butterfly2(outOff, fstride, m);
  }

  private butterfly2(off: number, fstride: number, m: number): void {
    const r = this.bufR, im = this.bufI;
    for (let k = 0, tw = 0; k < m; k++, tw += fstride) {
      const a = off + k, b = a + m;
      const ar = fixDiv2(r[a]!), ai = fixDiv2(im[a]!);
      const br = fixDiv2(r[b]!), bi = fixDiv2(im[b]!);
      const wr = this.twR[tw]!, wi = this.twI[tw]!;
      const tr = wrap16((br * wr - bi * wi + 16384) >> 15);
      const ti = wrap16((br * wi + bi * wr + 16384) >> 15);
      r[b] = ar - tr; im[b] = ai - ti;
      r[a] = ar + tr; im[a] = ai + ti;
    }
  }

  private butterfly4(off: number, fstride: number, m: number): void {
    const r = this.bufR, im = this.bufI, twR = this.twR, twI = this.twI;
    for (let k = 0; k < m; k++) {
      const a = off + k, b = a + m, c = a + 2 * m, d = a + 3 * m;
      const ar = fixDiv4(r[a]!), ai = fixDiv4(im[a]!);
      const br = fixDiv4(r[b]!), bi = fixDiv4(im[b]!);
      const cr = fixDiv4(r[c]!), ci = fixDiv4(im[c]!);
      const dr = fixDiv4(r[d]!), di = fixDiv4(im[d]!);
      const t1 = k * fstride, t2 = 2 * t1, t3 = 3 * t1;
      // KISS FFT's scratch[0..5], int16 like its kiss_fft_cpx variables.
      const s0r = wrap16((br * twR[t1]! - bi * twI[t1]! + 16384) >> 15);
      const s0i = wrap16((br * twI[t1]! + bi * twR[t1]! + 16384) >> 15);
      const s1r = wrap16((cr * twR[t2]! - ci * twI[t2]! + 16384) >> 15);
      const s1i = wrap16((cr * twI[t2]! + ci * twR[t2]! + 16384) >> 15);
      const s2r = wrap16((dr * twR[t3]! - di * twI[t3]! + 16384) >> 15);
      const s2i = wrap16((dr * twI[t3]! + di * twR[t3]! + 16384) >> 15);
      const s5r = wrap16(ar - s1r), s5i = wrap16(ai - s1i);
      const a1r = wrap16(ar + s1r), a1i = wrap16(ai + s1i);
      const s3r = wrap16(s0r + s2r), s3i = wrap16(s0i + s2i);
      const s4r = wrap16(s0r - s2r), s4i = wrap16(s0i - s2i);
      r[c] = a1r - s3r; im[c] = a1i - s3i;
      r[a] = a1r + s3r; im[a] = a1i + s3i;
      r[b] = s5r + s4i; im[b] = s5i - s4r;
      r[d] = s5r - s4i; im[d] = s5i + s4r;
    }
  }
}

/** C's conversion of an int to short. */
function wrap16(x: number): number {
  return (x << 16) >> 16;
}

const FIXDIV2 = (32767 / 2) | 0, FIXDIV4 = (32767 / 4) | 0;
const fixDiv2 = (x: number) => (x * FIXDIV2 + 16384) >> 15;
const fixDiv4 = (x: number) => (x * FIXDIV4 + 16384) >> 15;

// ---------------------------------------------------------------- energy

/** |X[k]|² for start ≤ k < end as uint32 (re² + im² ≤ 2^31 fits); other bins are left as they are. */
export function spectrumToEnergy(spectrum: ArrayLike<number>, start: number, end: number, out: Uint32Array): void {
  for (let k = start; k < end; k++) {
    const re = spectrum[2 * k]!, im = spectrum[2 * k + 1]!;
    out[k] = re * re + im * im;
  }
}

// ---------------------------------------------------------------- filter bank

export interface FilterBankConfig {
  numChannels: number;
  weights: ArrayLike<number>;
  unweights: ArrayLike<number>;
  channelFrequencyStarts: ArrayLike<number>;
  channelWeightStarts: ArrayLike<number>;
  channelWidths: ArrayLike<number>;
}

/**
 * Triangular mel filters: each FFT bin's energy goes to two adjacent channels,
 * weighted by w and 1 − w (both Q12 in the preprocessor). There are
 * numChannels + 1 accumulation slots, slot 0 being scratch; `out` receives the
 * numChannels real ones as uint64.
 *
 * A weighted sum may pass 2^53, so each energy is split in 16-bit halves:
 * each partial product is below 2^16 · 2^15, so the partial sums stay exact in
 * a double for any total filter width under 2^22 bins, and are joined with
 * BigInt. The result is taken mod 2^64 as C's uint64 arithmetic does.
 */
export function filterBankAccumulate(cfg: FilterBankConfig, energy: ArrayLike<number>, out: BigInt64Array, outOffset = 0): void {
  let wHi = 0, wLo = 0, uHi = 0, uLo = 0;
  for (let i = 0; i <= cfg.numChannels; i++) {
    const f0 = cfg.channelFrequencyStarts[i]!, w0 = cfg.channelWeightStarts[i]!, width = cfg.channelWidths[i]!;
    for (let j = 0; j < width; j++) {
      const e = energy[f0 + j]!;
      const hi = Math.floor(e / 65536), lo = e - hi * 65536;
      const w = cfg.weights[w0 + j]!, u = cfg.unweights[w0 + j]!;
      wHi += w * hi; wLo += w * lo;
      uHi += u * hi; uLo += u * lo;
    }
    if (i > 0) out[outOffset + i - 1] = BigInt.asUintN(64, BigInt(wHi) * 65536n + BigInt(wLo));
    wHi = uHi; wLo = uLo;
    uHi = 0; uLo = 0;
  }
}

/**
 * filterBankAccumulate's sums as doubles, for the streaming front end: each
 * product is below 2^16 · 2^32 and the sums only grow when weights are
 * non-negative, so a sum that ends in [0, 2^53) was exact all along. Returns
 * false when a channel's sum leaves that range (the caller then uses the
 * BigInt version); `out` is then incomplete.
 */
export function filterBankAccumulateDouble(cfg: FilterBankConfig, energy: ArrayLike<number>, out: Float64Array): boolean {
  let w = 0, u = 0;
  for (let i = 0; i <= cfg.numChannels; i++) {
    const f0 = cfg.channelFrequencyStarts[i]!, w0 = cfg.channelWeightStarts[i]!, width = cfg.channelWidths[i]!;
    for (let j = 0; j < width; j++) {
      const e = energy[f0 + j]!;
      w += cfg.weights[w0 + j]! * e;
      u += cfg.unweights[w0 + j]! * e;
    }
    if (i > 0) {
      if (!(w >= 0 && w <= Number.MAX_SAFE_INTEGER)) return false;
      out[i - 1] = w;
    }
    w = u;
    u = 0;
  }
  return true;
}

// ---------------------------------------------------------------- square root

/** Integer square root of a uint32, rounded to nearest (bit-by-bit method, result ≤ 65535). */
export function sqrt32(num: number): number {
  let x = num >>> 0;
  if (x === 0) return 0;
  let res = 0;
  const maxBit = (32 - mostSignificantBit32(x)) | 1;
  // res < 2^16 and bit ≤ 2^30, so res + bit stays a small int; x is compared as a double.
  let bit = 1 << (31 - maxBit);
  for (let it = ((31 - maxBit) >> 1) + 1; it > 0; it--) {
    const trial = res + bit;
    if (x >= trial) {
      x -= trial;
      res = (res >>> 1) + bit;
    } else {
      res >>>= 1;
    }
    bit >>>= 2;
  }
  if (x > res && res !== 0xffff) res++;
  return res;
}

/**
 * Square root of a uint64. TFLM takes the 32-bit path when the high word is
 * clear (slightly off near 2^32, kept for bit-exactness) and otherwise runs
 * the same method on 64 bits, here in BigInt.
 */
export function sqrt64(num: bigint): number {
  if (num <= BigInt(Number.MAX_SAFE_INTEGER)) return sqrtSafe(Number(num));
  let x = num, res = 0n;
  const msb = 64 - clz64(x);
  const maxBit = (64 - msb) | 1;
  let bit = 1n << BigInt(63 - maxBit);
  for (let it = ((63 - maxBit) >> 1) + 1; it > 0; it--) {
    if (x >= res + bit) {
      x -= res + bit;
      res = (res >> 1n) + bit;
    } else {
      res >>= 1n;
    }
    bit >>= 2n;
  }
  if (x > res && res !== 0xffffffffn) res++;
  return Number(BigInt.asUintN(32, res));
}

/**
 * sqrt64 of an integer below 2^53 without BigInt. Above 2^32 the bit-by-bit
 * method yields ⌊√x⌋ and the remainder x − ⌊√x⌋², then adds one when the
 * remainder exceeds ⌊√x⌋; both are exact in doubles here, and Math.sqrt's
 * correctly rounded result is at most one off ⌊√x⌋.
 */
export function sqrtSafe(num: number): number {
  if (num < UINT32_RANGE) return sqrt32(num);
  let res = Math.floor(Math.sqrt(num));
  if (res * res > num) res--;
  else if ((res + 1) * (res + 1) <= num) res++;
  return num - res * res > res ? res + 1 : res;
}

function clz64(x: bigint): number {
  const hi = Number(x >> 32n);
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(Number(x & 0xffffffffn));
}

/** out[i] = sqrt64(in[i]) >> scaleBits: undoes the FFT auto scale in the magnitude domain. */
export function filterBankSqrt(input: BigInt64Array, inOffset: number, n: number, scaleBits: number, out: Uint32Array): void {
  for (let i = 0; i < n; i++) out[i] = sqrt64(BigInt.asUintN(64, input[inOffset + i]!)) >>> scaleBits;
}

/** filterBankSqrt over sums held exactly as doubles (see filterBankAccumulateDouble). */
export function filterBankSqrtDouble(input: Float64Array, n: number, scaleBits: number, out: Uint32Array): void {
  for (let i = 0; i < n; i++) out[i] = sqrtSafe(input[i]!) >>> scaleBits;
}

// ---------------------------------------------------------------- spectral subtraction

export interface SpectralSubtractionConfig {
  numChannels: number;
  smoothing: number;
  oneMinusSmoothing: number;
  alternateSmoothing: number;
  alternateOneMinusSmoothing: number;
  minSignalRemaining: number;
  smoothingBits: number;
  spectralSubtractionBits: number;
  clamping: boolean;
}

/**
 * Tracks a per-channel noise floor with a one-pole low-pass (odd channels may
 * use the alternate coefficient) and subtracts it, keeping at least
 * min_signal_remaining of the signal. `noiseEstimate` is the state carried from
 * frame to frame. The smoothing product is < 2^32 · 2^14 = 2^46 per term, so
 * the uint64 sum is exact in a double; stores into Uint32Array wrap like C.
 */
export function spectralSubtraction(cfg: SpectralSubtractionConfig, input: Uint32Array, output: Uint32Array, noiseEstimate: Uint32Array): void {
  const sBits = cfg.smoothingBits, ssScale = 2 ** cfg.spectralSubtractionBits, up = 2 ** sBits;
  for (let i = 0; i < cfg.numChannels; i++) {
    const odd = (i & 1) === 1;
    const smoothing = odd ? cfg.alternateSmoothing : cfg.smoothing;
    const oneMinus = odd ? cfg.alternateOneMinusSmoothing : cfg.oneMinusSmoothing;
    const signalUp = (input[i]! * up) % UINT32_RANGE;
    noiseEstimate[i] = Math.floor((signalUp * smoothing + noiseEstimate[i]! * oneMinus) / ssScale);
    let estimateUp = noiseEstimate[i]!;
    if (estimateUp > signalUp) {
      estimateUp = signalUp;
      if (cfg.clamping) noiseEstimate[i] = estimateUp;
    }
    const floor = Math.floor((input[i]! * cfg.minSignalRemaining) / ssScale) >>> 0;
    const subtracted = Math.floor((signalUp - estimateUp) / up);
    output[i] = subtracted > floor ? subtracted : floor;
  }
}

// ---------------------------------------------------------------- PCAN

export const PCAN_SNR_BITS = 12;
export const PCAN_OUTPUT_BITS = 6;

/**
 * The PCAN gain as a function of the noise estimate: a piecewise quadratic in
 * a lookup table, 4 int16 coefficients per power-of-two interval, evaluated in
 * int32 (Math.imul where the C product may wrap).
 */
export function wideDynamicFunction(x: number, lut: ArrayLike<number>): number {
  if (x <= 2) return lut[x]!;
  const interval = mostSignificantBit32(x);
  const base = 4 * interval - 6;
  const frac = (interval < 11 ? (x << (11 - interval)) : (x >>> (interval - 11))) & 0x3ff;
  let result = (lut[base + 2]! * frac) >> 5;
  result = (result + (lut[base + 1]! << 5)) | 0;
  result = Math.imul(result, frac);
  result = (result + (1 << 14)) >> 15;
  result += lut[base]!;
  return (result << 16) >> 16;
}

/** shrink(x) = x²/4 below 2, x − 1 above, from Q12 (SNR) to Q6 (output). */
export function pcanShrink(x: number): number {
  if (x < 2 << PCAN_SNR_BITS) return Math.floor((x * x) / 2 ** (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS));
  return (x >>> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS);
}

/**
 * Per-channel automatic gain control: snr = (signal · gain(noise)) >> snr_shift,
 * then the shrink function. The gain is int16 widened to uint32 (a negative
 * table value would become huge, as in C, and then takes the BigInt path).
 */
export function pcanAutoGainControl(lut: ArrayLike<number>, snrShift: number, noise: Uint32Array, signal: Uint32Array, n: number): void {
  const div = 2 ** snrShift;
  for (let i = 0; i < n; i++) {
    const gain = wideDynamicFunction(noise[i]!, lut) >>> 0;
    const snr = gain < 2 ** 21
      ? Math.floor((signal[i]! * gain) / div) % UINT32_RANGE
      : Number(BigInt.asUintN(32, (BigInt(signal[i]!) * BigInt(gain)) >> BigInt(snrShift)));
    signal[i] = pcanShrink(snr);
  }
}

// ---------------------------------------------------------------- log

/**
 * log2's fractional part by linear interpolation in a 128-segment table of
 * the correction log2(1 + f) − f, scaled by 2^16. These are TFLM's values
 * (needed as they are for bit-exact features).
 */
export const LOG_LUT = Uint16Array.of(
  0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163,
  2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848,
  3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934,
  5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
  5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633,
  5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370,
  5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762,
  4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
  3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659,
  2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224,
  1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
);
/** ln(2) · 2^16, rounded. */
export const LOG_COEFF = 45426;

/** ln(x) · outScale for x ≥ 2 (uint32), in TFLM's fixed point. */
export function log32(x: number, outScale: number): number {
  const integer = mostSignificantBit32(x) - 1;
  let frac = (x - 2 ** integer) | 0;
  frac = integer < 16 ? frac << (16 - integer) : frac >> (integer - 16);
  const seg = frac >> 9;
  const c0 = LOG_LUT[seg]!, c1 = LOG_LUT[seg + 1]!;
  const rel = ((c1 - c0) * (frac - 512 * seg)) >> 16;
  const log2 = integer * 65536 + frac + c0 + rel;
  const loge = Math.floor((LOG_COEFF * log2 + 32768) / 65536);
  return Math.floor((((outScale * loge) % UINT32_RANGE + 32768) % UINT32_RANGE) / 65536);
}

/** out[i] = min(ln(in[i] << correctionBits) · outScale, 32767), 0 where the shifted input is ≤ 1. */
export function filterBankLog(input: Uint32Array, n: number, outScale: number, correctionBits: number, out: Int16Array, outOffset = 0): void {
  const up = 2 ** correctionBits;
  for (let i = 0; i < n; i++) {
    const v = (input[i]! * up) % UINT32_RANGE;
    out[outOffset + i] = v > 1 ? Math.min(log32(v, outScale), 32767) : 0;
  }
}

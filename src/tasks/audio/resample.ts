/**
 * Sample-rate conversion by band-limited interpolation: each output sample is
 * a Hann-windowed sinc sum over the input around its position. The cutoff is
 * 0.95 of the lower Nyquist frequency, so going down (48 kHz → 16 kHz) filters
 * out what would alias, and going up adds nothing above the source's band.
 * 16 zero crossings per side are plenty for speech features (stop-band around
 * −50 dB).
 *
 * Positions are exact: output j sits at input position j·from/to, kept as an
 * integer index and a phase (a numerator over to/gcd), so the kernel's
 * weights depend only on the phase. For the usual rate pairs (48 → 16 kHz has
 * one phase, 44.1 → 16 kHz 160) the weights are computed once into a table
 * and each output costs one multiply-add per tap; pairs whose table would
 * pass TABLE_LIMIT compute the weights per output instead. Either way the
 * cost is O(output × taps), and the taps per output are bounded by the rate
 * range wav.ts accepts.
 */
import { CloudlessError } from '../../ir/index.js';

const ZERO_CROSSINGS = 16;
/** Weights (float64) a phase table may hold: 2 MiB. */
const TABLE_LIMIT = 1 << 18;

interface Kernel {
  fromRate: number;
  toRate: number;
  /** Input samples per output sample = step / den (the rates over their gcd). */
  step: number;
  den: number;
  /** Cutoff in cycles per input sample. */
  cutoff: number;
  halfWidth: number;
  /** Per phase: the first tap's offset from the integer position, and how many taps. */
  firstOffset: Int32Array;
  taps: Int32Array;
  /** Weights per phase, `width` apart, when the table fits TABLE_LIMIT. */
  table?: Float64Array;
  width: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function weight(k: Kernel, t: number): number {
  const x = 2 * k.cutoff * t;
  const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
  return sinc * (0.5 + 0.5 * Math.cos((Math.PI * t) / k.halfWidth));
}

const kernels = new Map<string, Kernel>();

function kernelFor(fromRate: number, toRate: number): Kernel {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || !(fromRate > 0) || !(toRate > 0)) {
    throw new CloudlessError('E_AUDIO', `cannot resample from ${fromRate} Hz to ${toRate} Hz: rates must be positive integers`);
  }
  const key = `${fromRate}/${toRate}`;
  const cached = kernels.get(key);
  if (cached) return cached;
  const g = gcd(fromRate, toRate);
  const step = fromRate / g, den = toRate / g;
  const cutoff = 0.5 * Math.min(1, toRate / fromRate) * 0.95;
  const halfWidth = ZERO_CROSSINGS / (2 * cutoff);
  const firstOffset = new Int32Array(den), taps = new Int32Array(den);
  let width = 0;
  for (let p = 0; p < den; p++) {
    const frac = p / den;
    firstOffset[p] = Math.ceil(frac - halfWidth);
    taps[p] = Math.floor(frac + halfWidth) - firstOffset[p]! + 1;
    width = Math.max(width, taps[p]!);
  }
  const k: Kernel = { fromRate, toRate, step, den, cutoff, halfWidth, firstOffset, taps, width };
  if (den * width <= TABLE_LIMIT) {
    const table = new Float64Array(den * width);
    for (let p = 0; p < den; p++) {
      for (let i = 0; i < taps[p]!; i++) table[p * width + i] = weight(k, firstOffset[p]! + i - p / den);
    }
    k.table = table;
  }
  if (kernels.size > 64) kernels.clear();
  kernels.set(key, k);
  return k;
}

/**
 * The output sample at input position n + phase/den, from input[0, length)
 * (input[0] being position 0). Taps outside the input are left
 * out, and dividing by the weights' sum keeps DC gain 1 there too.
 */
function interpolate(input: Float32Array, length: number, n: number, phase: number, k: Kernel): number {
  const off = k.firstOffset[phase]!;
  const first = Math.max(0, n + off);
  const last = Math.min(length - 1, n + off + k.taps[phase]! - 1);
  let acc = 0, norm = 0;
  if (k.table) {
    const base = phase * k.width - n - off;
    for (let i = first; i <= last; i++) {
      const w = k.table[base + i]!;
      acc += input[i]! * w;
      norm += w;
    }
  } else {
    const frac = phase / k.den;
    for (let i = first; i <= last; i++) {
      const w = weight(k, i - n - frac);
      acc += input[i]! * w;
      norm += w;
    }
  }
  return norm !== 0 ? acc / norm : 0;
}

/** How many output samples `inputLength` input samples give (floor(length · to / from)). */
function outputCount(inputLength: number, k: Kernel): number {
  return Math.floor((inputLength * k.den) / k.step);
}

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  const k = kernelFor(fromRate, toRate);
  if (fromRate === toRate) return input;
  const out = new Float32Array(outputCount(input.length, k));
  let n = 0, phase = 0;
  for (let j = 0; j < out.length; j++) {
    out[j] = interpolate(input, input.length, n, phase, k);
    phase += k.step;
    n += Math.floor(phase / k.den);
    phase %= k.den;
  }
  return out;
}

/**
 * resample() over a stream given in chunks: the same output as resampling the
 * whole stream at once, except that the last half kernel (about 1 ms) waits
 * for the next chunk (flush() gives it at the end). Memory: the kernel's span
 * of input plus one chunk; work: O(taps) per output sample, as resample().
 */
export class StreamResampler {
  private readonly k: Kernel;
  private buf = new Float32Array(0);
  private outBuf = new Float32Array(0);
  private filled = 0;
  /** Output samples produced since the stream started. */
  private produced = 0;
  /** The next output's position: input index `n` (since the stream started) plus phase / den. */
  private n = 0;
  private phase = 0;
  /** Input samples dropped from the front of buf since the stream started. */
  private dropped = 0;

  constructor(readonly fromRate: number, readonly toRate: number) {
    this.k = kernelFor(fromRate, toRate);
  }

  /** Input samples held between pushes (the kernel's span plus the last chunk). */
  get heldSamples(): number { return this.buf.length + this.outBuf.length; }

  private advance(): void {
    this.produced++;
    this.phase += this.k.step;
    this.n += Math.floor(this.phase / this.k.den);
    this.phase %= this.k.den;
  }

  /** The output for `input` (a new array). */
  push(input: Float32Array): Float32Array {
    return this.pushView(input).slice();
  }

  /**
   * push() into a reused buffer: the returned view is overwritten by the next
   * pushView() (for callers that use each output at once and keep nothing).
   */
  pushView(input: Float32Array): Float32Array {
    if (this.filled + input.length > this.buf.length) {
      const grown = new Float32Array(this.filled + input.length);
      grown.set(this.buf.subarray(0, this.filled));
      this.buf.fill(0);
      this.buf = grown;
    }
    this.buf.set(input, this.filled);
    this.filled += input.length;
    const total = this.dropped + this.filled;
    const k = this.k;
    // Outputs whose whole kernel has arrived (the stream's start is a real edge, its end not yet).
    let count = 0;
    for (let n = this.n, phase = this.phase; n + k.firstOffset[phase]! + k.taps[phase]! - 1 <= total - 1; count++) {
      phase += k.step;
      n += Math.floor(phase / k.den);
      phase %= k.den;
    }
    if (this.outBuf.length < count) { this.outBuf.fill(0); this.outBuf = new Float32Array(count); }
    const out = this.outBuf.subarray(0, count);
    for (let j = 0; j < count; j++) {
      out[j] = interpolate(this.buf, this.filled, this.n - this.dropped, this.phase, k);
      this.advance();
    }
    // Keep from the next output's first tap on.
    const keepFrom = Math.max(0, this.n + k.firstOffset[this.phase]! - this.dropped);
    this.buf.copyWithin(0, keepFrom, this.filled);
    this.buf.fill(0, this.filled - keepFrom, this.filled);
    this.filled -= keepFrom;
    this.dropped += keepFrom;
    return out;
  }

  /**
   * Ends the stream: the outputs still owed, with the kernel cut at the
   * stream's end exactly as resample() cuts it, so push()es of any sizes
   * followed by flush() give resample()'s output sample for sample. The
   * resampler is then reset.
   */
  flush(): Float32Array {
    const count = outputCount(this.dropped + this.filled, this.k);
    const out = new Float32Array(Math.max(0, count - this.produced));
    for (let j = 0; this.produced < count; j++) {
      out[j] = interpolate(this.buf, this.filled, this.n - this.dropped, this.phase, this.k);
      this.advance();
    }
    this.reset();
    return out;
  }

  /** Forgets the stream (and zeroes the samples held). */
  reset(): void {
    this.buf.fill(0);
    this.outBuf.fill(0);
    this.filled = 0;
    this.produced = 0;
    this.n = 0;
    this.phase = 0;
    this.dropped = 0;
  }
}

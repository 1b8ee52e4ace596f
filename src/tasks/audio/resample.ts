/**
 * Sample-rate conversion by band-limited interpolation: each output sample is
 * a Hann-windowed sinc sum over the input around its position. The cutoff is
 * 0.95 of the lower Nyquist frequency, so going down (48 kHz → 16 kHz) filters
 * out what would alias, and going up adds nothing above the source's band.
 * Cost is O(output × taps); 16 zero crossings per side are plenty for speech
 * features (stop-band around −50 dB).
 */
import { CloudlessError } from '../../ir/index.js';

const ZERO_CROSSINGS = 16;

interface Kernel { ratio: number; cutoff: number; halfWidth: number }

function kernelFor(fromRate: number, toRate: number): Kernel {
  if (!(fromRate > 0) || !(toRate > 0)) {
    throw new CloudlessError('E_AUDIO', `cannot resample from ${fromRate} Hz to ${toRate} Hz`);
  }
  const ratio = toRate / fromRate;
  // Cutoff relative to the input rate (cycles per input sample).
  const cutoff = 0.5 * Math.min(1, ratio) * 0.95;
  return { ratio, cutoff, halfWidth: ZERO_CROSSINGS / (2 * cutoff) };
}

/** The output sample at input position `center`, from input[0, length). */
function interpolate(input: Float32Array, length: number, center: number, k: Kernel): number {
  const first = Math.max(0, Math.ceil(center - k.halfWidth));
  const last = Math.min(length - 1, Math.floor(center + k.halfWidth));
  let acc = 0, norm = 0;
  for (let i = first; i <= last; i++) {
    const t = i - center;
    const x = 2 * k.cutoff * t;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const w = sinc * (0.5 + 0.5 * Math.cos((Math.PI * t) / k.halfWidth));
    acc += input[i]! * w;
    norm += w;
  }
  // Dividing by the kernel's sum keeps DC gain 1, also where the kernel is cut at the edges.
  return norm !== 0 ? acc / norm : 0;
}

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  const k = kernelFor(fromRate, toRate);
  if (fromRate === toRate) return input;
  const out = new Float32Array(Math.floor(input.length * k.ratio));
  for (let j = 0; j < out.length; j++) out[j] = interpolate(input, input.length, j / k.ratio, k);
  return out;
}

/**
 * resample() over a stream given in chunks: the same output as resampling the
 * whole stream at once, except that the last half kernel (about 1 ms) waits
 * for the next chunk. Memory: the kernel's span of input plus one chunk.
 */
export class StreamResampler {
  private readonly k: Kernel;
  private buf = new Float32Array(0);
  private filled = 0;
  /** Index of the next output sample since the stream started. */
  private produced = 0;
  /** Input samples dropped from the front of buf since the stream started. */
  private dropped = 0;

  constructor(readonly fromRate: number, readonly toRate: number) {
    this.k = kernelFor(fromRate, toRate);
  }

  push(input: Float32Array): Float32Array {
    if (this.filled + input.length > this.buf.length) {
      const grown = new Float32Array(this.filled + input.length);
      grown.set(this.buf.subarray(0, this.filled));
      this.buf.fill(0);
      this.buf = grown;
    }
    this.buf.set(input, this.filled);
    this.filled += input.length;
    const total = this.dropped + this.filled;
    const out: number[] = [];
    for (;;) {
      const center = this.produced / this.k.ratio;
      // Only samples whose whole kernel has arrived (the stream's start is a real edge, its end not yet).
      if (Math.floor(center + this.k.halfWidth) > total - 1) break;
      out.push(interpolate(this.buf, this.filled, center - this.dropped, this.k));
      this.produced++;
    }
    const keepFrom = Math.max(0, Math.ceil(this.produced / this.k.ratio - this.k.halfWidth) - this.dropped);
    this.buf.copyWithin(0, keepFrom, this.filled);
    this.buf.fill(0, this.filled - keepFrom, this.filled);
    this.filled -= keepFrom;
    this.dropped += keepFrom;
    return Float32Array.from(out);
  }

  /** Forgets the stream (and zeroes the samples held). */
  reset(): void {
    this.buf.fill(0);
    this.filled = 0;
    this.produced = 0;
    this.dropped = 0;
  }
}

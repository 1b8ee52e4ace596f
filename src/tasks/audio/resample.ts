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

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0)) {
    throw new CloudlessError('E_AUDIO', `cannot resample from ${fromRate} Hz to ${toRate} Hz`);
  }
  if (fromRate === toRate) return input;
  const ratio = toRate / fromRate;
  const outLength = Math.floor(input.length * ratio);
  const out = new Float32Array(outLength);
  // Cutoff relative to the input rate (cycles per input sample).
  const cutoff = 0.5 * Math.min(1, ratio) * 0.95;
  const halfWidth = ZERO_CROSSINGS / (2 * cutoff);
  for (let j = 0; j < outLength; j++) {
    const center = j / ratio;
    const first = Math.max(0, Math.ceil(center - halfWidth));
    const last = Math.min(input.length - 1, Math.floor(center + halfWidth));
    let acc = 0, norm = 0;
    for (let i = first; i <= last; i++) {
      const t = i - center;
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.5 + 0.5 * Math.cos((Math.PI * t) / halfWidth);
      const k = sinc * w;
      acc += input[i]! * k;
      norm += k;
    }
    // Dividing by the kernel's sum keeps DC gain 1, also where the kernel is cut at the edges.
    out[j] = norm !== 0 ? acc / norm : 0;
  }
  return out;
}

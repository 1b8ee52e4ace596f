import { describe, expect, it } from 'vitest';
import {
  RfftInt16, fftAutoScale, filterBankAccumulate, filterBankAccumulateDouble, log32, sqrt32, sqrt64, sqrtSafe, spectralSubtraction,
  wideDynamicFunction,
} from '../../src/ir/signal.js';

// The fixed-point DSP arithmetic of TFLM's signal library (src/ir/signal.ts), shared by the Signal
// kernels (test/kernels/ref/signal.test.ts), the audio front end and the C emitter.
describe('signal arithmetic', () => {
  it('sqrt32 and sqrt64 round to nearest like the bit-by-bit method', () => {
    for (const v of [0, 1, 2, 3, 4, 15, 16, 17, 1000, 65535, 2 ** 31]) {
      const r = sqrt32(v);
      expect(Math.abs(r - Math.sqrt(v))).toBeLessThanOrEqual(0.5 + 1e-9);
    }
    // Saturates at 0xFFFF just below 2^32 (TFLM accepts the off-by-one there).
    expect(sqrt32(2 ** 32 - 1)).toBe(65535);
    for (const v of [2n ** 32n, 2n ** 40n + 12345n, 2n ** 62n]) {
      expect(Math.abs(sqrt64(v) - Math.sqrt(Number(v)))).toBeLessThanOrEqual(0.5 + 1e-6);
    }
  });

  it('sqrt64 between 2^32 and 2^53 (the double path) equals the BigInt bit-by-bit result at perfect-square edges', () => {
    // ⌊√x⌋ by BigInt Newton, then TFLM's rounding: one more when the remainder exceeds it.
    const reference = (x: bigint) => {
      let r = BigInt(Math.floor(Math.sqrt(Number(x))));
      while (r * r > x) r--;
      while ((r + 1n) * (r + 1n) <= x) r++;
      return Number(x - r * r > r ? r + 1n : r);
    };
    for (const k of [65537n, 65538n, 1234567n, 50_000_000n, 94_906_265n]) {
      for (const x of [k * k - 1n, k * k, k * k + k, k * k + k + 1n, k * k + 2n * k]) {
        expect(sqrt64(x)).toBe(reference(x));
        expect(sqrtSafe(Number(x))).toBe(reference(x));
      }
    }
    expect(sqrt64(2n ** 53n + 3n)).toBe(reference(2n ** 53n + 3n));
  });

  it('the double filter bank equals the uint64 one, and declines sums of 2^53 or more', () => {
    const cfg = {
      numChannels: 2, weights: [4096, 2048, 1000, 0], unweights: [0, 2048, 3096, 4096],
      channelFrequencyStarts: [0, 1, 2], channelWeightStarts: [0, 1, 2], channelWidths: [1, 1, 2],
    };
    const energy = [4294967295, 123456789, 2 ** 31 - 1, 7];
    const wide = new BigInt64Array(2), dbl = new Float64Array(2);
    filterBankAccumulate(cfg, energy, wide);
    expect(filterBankAccumulateDouble(cfg, energy, dbl)).toBe(true);
    expect([...dbl].map(BigInt)).toEqual([...wide]);
    // Four bins of 2^32 − 1 weighted 2^30 sum past 2^53: the double path must refuse rather than round.
    const overflow = {
      numChannels: 1, weights: new Array(4).fill(2 ** 30), unweights: new Array(4).fill(0),
      channelFrequencyStarts: [0, 0], channelWeightStarts: [0, 0], channelWidths: [0, 4],
    };
    expect(filterBankAccumulateDouble(overflow, new Array(4).fill(2 ** 32 - 1), dbl)).toBe(false);
  });

  it('log32 is ln(x) scaled, within the table interpolation error', () => {
    for (const x of [2, 3, 10, 1000, 123456, 2 ** 31 + 5]) {
      expect(Math.abs(log32(x, 64) - 64 * Math.log(x))).toBeLessThan(1.01);
    }
  });

  it('fft auto scale uses all 15 bits, and a -32768 sample disables it as in TFLM', () => {
    const out = new Int16Array(3);
    expect(fftAutoScale([100, -200, 50], out, 3)).toBe(7);
    expect(Array.from(out)).toEqual([12800, -25600, 6400]);
    expect(fftAutoScale([-32768, 0, 0], out, 3)).toBe(0);
  });

  it('the int16 RFFT is the DFT scaled by 1/N within fixed-point error', () => {
    const n = 512;
    const x = new Int16Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.round(12000 * Math.sin((2 * Math.PI * 17 * i) / n) + 6000 * Math.cos((2 * Math.PI * 60 * i) / n));
    const out = new Int16Array(n + 2);
    new RfftInt16(n).apply(x, out);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < n; i++) { re += x[i]! * Math.cos((2 * Math.PI * k * i) / n); im -= x[i]! * Math.sin((2 * Math.PI * k * i) / n); }
      expect(Math.abs(out[2 * k]! - re / n)).toBeLessThan(4);
      expect(Math.abs(out[2 * k + 1]! - im / n)).toBeLessThan(4);
    }
  });

  it('spectral subtraction tracks the noise floor and keeps the minimum signal', () => {
    const cfg = { numChannels: 2, smoothing: 409, oneMinusSmoothing: 15975, alternateSmoothing: 983, alternateOneMinusSmoothing: 15401,
      minSignalRemaining: 819, smoothingBits: 10, spectralSubtractionBits: 14, clamping: false };
    const noise = new Uint32Array(2), out = new Uint32Array(2);
    spectralSubtraction(cfg, Uint32Array.of(1000, 1000), out, noise);
    // noise = (1000·2^10·smoothing) >> 14; the output is what is left above it, never below 1000·819/2^14.
    expect(Array.from(noise)).toEqual([Math.floor((1000 * 1024 * 409) / 16384), Math.floor((1000 * 1024 * 983) / 16384)]);
    expect(out[0]).toBe(Math.floor((1000 * 1024 - noise[0]!) / 1024));
    for (let i = 0; i < 200; i++) spectralSubtraction(cfg, Uint32Array.of(1000, 1000), out, noise);
    expect(out[0]).toBe(Math.floor((1000 * 819) / 16384));
  });

  it('the PCAN gain table lookup returns the table at 0..2', () => {
    const lut = Int16Array.from({ length: 125 }, (_, i) => i * 3);
    expect(wideDynamicFunction(2, lut)).toBe(6);
  });
});

/**
 * 16x8 Conv, DepthwiseConv, FullyConnected and ConvTranspose are bit-exact with LiteRT.js:
 * randomized single-op graphs with int16 activations (zero point 0), int8
 * weights (per channel or per tensor), int64 biases, SAME/VALID padding,
 * strides, dilations, depth multipliers and fused activations; scales drawn
 * log-uniformly, or powers of two so that a share of the accumulators land
 * exactly on .5 (the wide epilogue rounds those up); accumulators past 2^31
 * (the reason TFLite keeps an int64 one). Written by our .tflite writer, run
 * in LiteRT.js (its builtin kernels: XNNPACK takes no int16) and in cloudless
 * on the reference kernels in both arithmetics, which agree for 16x8. The
 * convolutions round with TFLite's 15-bit multiplier (ties up), FULLY_CONNECTED
 * with the full one, ties away from zero (requantize.ts).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, type AttrValue } from '../../src/ir/index.js';
import { multiplyByQuantizedMultiplierWide } from '../../src/kernels/ref/int8/requantize.js';
import { Int16Case, Tally, firstDiffs, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

type Op = 'Conv' | 'DepthwiseConv' | 'FullyConnected' | 'ConvTranspose';
const RUNS = 60;
const tally = new Tally();

function weightedCase(op: Op, seed: number, ties: boolean): Int16Case {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const logScale = (lo: number, hi: number) => Math.fround(2 ** (lo + r() * (hi - lo)));
  if (op === 'ConvTranspose') return transposeCase(seed, ties);
  const fcOp = op === 'FullyConnected';
  const h = fcOp ? 1 : int(2, 8), w = fcOp ? 1 : int(2, 8);
  const cin = fcOp ? int(1, 40) : int(1, 6);
  const mult = op === 'DepthwiseConv' ? int(1, 2) : 1;
  const cout = op === 'DepthwiseConv' ? cin * mult : int(1, 7);
  const k = fcOp ? [1, 1] : [int(1, 3), int(1, 3)];
  const dil = fcOp ? [1, 1] : [pick([1, 1, 2]), pick([1, 1, 2])];
  const pad = pick(['SAME_UPPER', 'VALID'] as const);
  if (pad === 'VALID') for (let i = 0; i < 2; i++) while ((k[i]! - 1) * dil[i]! + 1 > [h, w][i]!) { dil[i] = 1; k[i] = k[i]! - 1; }
  const strides = fcOp ? [1, 1] : [int(1, 2), int(1, 2)];
  const perChannel = r() < 0.7;
  const taps = k[0]! * k[1]! * (op === 'DepthwiseConv' ? 1 : cin);
  const big = !ties && r() < 0.25;
  const channels = perChannel ? cout : 1;
  let sx: number, sw: Float32Array, sy: number;
  if (ties) {
    sx = 2 ** -int(8, 12);
    const ey = -int(6, 10);
    // s_x·s_w/s_y = 2^-k exactly: accumulators that are odd multiples of 2^(k−1) sit on a tie.
    sw = Float32Array.from({ length: channels }, () => 2 ** (ey - Math.log2(sx) - int(1, 6)));
    sy = 2 ** ey;
  } else {
    sx = logScale(-12, -6);
    sw = Float32Array.from({ length: channels }, () => logScale(-9, -5));
    const typicalAcc = big ? 2 ** 33 : 16000 * 64 * Math.sqrt(taps);
    sy = Math.fround((sx * sw[0]!) / (logScale(-1.5, 1.5) * (3000 / typicalAcc)));
  }
  const act = pick(['none', 'relu', 'relu6', 'relu_n1_to_1'] as const);
  const c = new Int16Case(`${op} ${h}x${w}x${cin}→${cout} k${k} s${strides} d${dil} ${pad} ${act} ${perChannel ? 'per-channel' : 'per-tensor'}${big ? ' |acc|>2^31' : ''}${ties ? ' ties' : ''}`);
  const xShape = fcOp ? [int(1, 3), cin] : [1, h, w, cin];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const lim = ties ? 64 : 32767;
  const x = c.input('x', new Tensor('int16', xShape, int16Data(size(xShape), r, -lim - 1, lim), int16Quant(sx)));
  const wShape = op === 'Conv' ? [cout, k[0]!, k[1]!, cin] : op === 'DepthwiseConv' ? [1, k[0]!, k[1]!, cout] : [cout, cin];
  const wLim = ties ? 16 : 127;
  const wt = c.constant('w', new Tensor('int8', wShape, Int8Array.from({ length: size(wShape) }, () => int(-wLim, wLim)),
    { scale: sw, zeroPoint: new Int32Array(channels), axis: op === 'DepthwiseConv' ? 3 : 0 }));
  const biasSpan = big ? 2 ** 40 : ties ? 2 ** 10 : 2 ** 28;
  const bias = new Tensor('int64', [cout], BigInt64Array.from({ length: cout }, () => BigInt(Math.floor((r() * 2 - 1) * biasSpan))),
    // One bias scale per weight scale: TFLite's per-tensor FULLY_CONNECTED checks the bias scale against s_x·s_w.
    { scale: Float32Array.from(sw, (s) => Math.fround(sx * s)), zeroPoint: new Int32Array(channels), axis: 0 });
  const b = c.constant('b', bias);
  const attrs: Record<string, AttrValue> = fcOp ? { activation: act } : { strides, dilations: dil, auto_pad: pad, activation: act };
  return c.node(op, [x, wt, b], int16Quant(sy), attrs);
}

/** TRANSPOSE_CONV in the forms the writer expresses (VALID, SAME, explicit pads written as a crop), IHWO weights along O. */
function transposeCase(seed: number, ties: boolean): Int16Case {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const h = int(1, 5), w = int(1, 5), k = [int(1, 4), int(1, 4)], strides = [int(1, 3), int(1, 3)];
  const fits = k[0]! >= strides[0]! && k[1]! >= strides[1]!;
  const form = fits ? (['VALID', 'SAME_UPPER', 'pads'] as const)[int(0, 2)] : (['VALID', 'pads'] as const)[int(0, 1)];
  const attrs: Record<string, AttrValue> = { strides, activation: (['none', 'relu', 'relu6'] as const)[int(0, 2)]! };
  if (form === 'pads') {
    const p = [0, 1].map((i) => int(0, Math.min(k[i]! - 1, Math.floor((strides[i]! * ([h, w][i]! - 1) + k[i]! - 1) / 2))));
    attrs.pads = [p[0]!, p[1]!, p[0]!, p[1]!];
  } else {
    attrs.auto_pad = form!;
  }
  const cin = int(1, 5), cout = int(1, 6);
  const sx = ties ? 2 ** -10 : Math.fround(2 ** (-12 + 6 * r()));
  const sw = Float32Array.from({ length: cout }, () => (ties ? 2 ** (-int(1, 4)) : Math.fround(2 ** (-9 + 4 * r()))));
  const sy = ties ? 2 ** -10 : Math.fround((sx * sw[0]!) / (2 ** (3 * r() - 1.5) * (3000 / (16000 * 64 * Math.sqrt(cin * 2)))));
  const c = new Int16Case(`ConvTranspose ${h}x${w}x${cin}→${cout} k${k} s${strides} ${form === 'pads' ? `pads ${attrs.pads}` : form} ${attrs.activation}${ties ? ' ties' : ''}`);
  const lim = ties ? 64 : 32767;
  const x = c.input('x', new Tensor('int16', [1, h, w, cin], int16Data(h * w * cin, r, -lim - 1, lim), int16Quant(sx)));
  const wShape = [cin, k[0]!, k[1]!, cout];
  const wt = c.constant('w', new Tensor('int8', wShape, Int8Array.from({ length: cin * k[0]! * k[1]! * cout }, () => int(-127, 127)),
    { scale: sw, zeroPoint: new Int32Array(cout), axis: 3 }));
  const b = c.constant('b', new Tensor('int64', [cout], BigInt64Array.from({ length: cout }, () => BigInt(Math.floor((r() * 2 - 1) * 2 ** 24))),
    { scale: Float32Array.from(sw, (s) => Math.fround(sx * s)), zeroPoint: new Int32Array(cout), axis: 0 }));
  return c.node('ConvTranspose', [x, wt, b], int16Quant(sy), attrs);
}

describe('16x8 weighted ops vs LiteRT.js', () => {
  afterAll(() => {
    console.log(tally.report('16x8 bit-exact with LiteRT.js (both arithmetics)'));
  });

  for (const op of ['Conv', 'DepthwiseConv', 'FullyConnected', 'ConvTranspose'] as const) {
    it(`${op}: every output value equal`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), async (seed, ties) => {
        const c = weightedCase(op, seed, ties);
        const want = (await runLiteRtCase(c)).data as Int16Array;
        // Backend auto: the 16x8 WebAssembly kernels (src/kernels/wasm/int16.ts) for Conv, DepthwiseConv, FullyConnected.
        for (const backend of ['ref', 'auto'] as const) {
          for (const mode of ['tflite-xnnpack', 'tflite-reference'] as const) {
            const got = runOurs(c, mode, backend).data as Int16Array;
            expect(got.length, c.name).toBe(want.length);
            expect(got.every((v, i) => v === want[i]), `${c.name}, ${mode}, ${backend}: ${firstDiffs(want, got)}`).toBe(true);
          }
        }
        tally.count(op, want.length);
      }), { numRuns: RUNS });
    });
  }
});

describe('the wide epilogue', () => {
  it('equals the int64 formula computed with BigInt, across the accumulator and shift ranges', () => {
    const r = lcg(99);
    for (let i = 0; i < 20000; i++) {
      const x = Math.floor((r() * 2 - 1) * 2 ** (47 * r()));
      const m = 2 ** 30 + Math.floor(r() * 2 ** 30);
      const shift = -31 + Math.floor(r() * 38);
      const reduced = m < 0x7fff0000 ? (BigInt(m) + 32768n) >> 16n : 0x7fffn;
      const t = BigInt(15 - shift);
      const want = Number((BigInt(x) * reduced + (1n << (t - 1n))) >> t);
      if (Math.abs(want) > 2 ** 31) continue;
      expect(multiplyByQuantizedMultiplierWide(x, m, shift), `x=${x} m=${m} shift=${shift}`).toBe(want);
    }
  });
});

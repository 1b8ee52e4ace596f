/**
 * int16 Softmax (16x8) is bit-exact with LiteRT.js: randomized single-op
 * graphs (test/helpers/int16-cases.ts) over the last axis, rows of 1 to 300
 * elements in tensors of rank 1 to 4 (and 5, which LiteRT.js 2.5.3 runs),
 * input scales drawn log-uniformly over 2^-16 … 2^4 or as exact powers of two
 * (from 2^-16 to 2^4, where TFLite's scaled difference wraps in int32), output
 * scales at 1/32768 or elsewhere within TFLite's 0.1% tolerance, and data over
 * the full int16 range, in a narrow band, or constant along a row. Every
 * difference max − x (0 … 65535) is also compared at a few scales, in rows of
 * two.
 *
 * Beta: cloudless's Softmax has no beta and the .tflite writer writes beta 1,
 * so beta 1 is the only one compared.
 *
 * XNNPACK takes no int16, so LiteRT.js runs TFLite's builtin SOFTMAX, which
 * calls reference_ops::SoftmaxInt16 like SOFTMAX_REF: `tflite-xnnpack` and
 * `tflite-reference` are the same arithmetic here, and both are compared with
 * LiteRT.js on every case. The last tests check the refusals against
 * LiteRT.js's own.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type QuantParams } from '../../src/ir/index.js';
import { INT16_FIXED_OUTPUT } from '../../src/kernels/ref/int16/activation.js';
import { INT16_SOFTMAX_OUTPUT } from '../../src/kernels/ref/int16/softmax.js';
import { Int16Case, firstDiffs, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

const RUNS = 40;
const Y_QUANT = int16Quant(INT16_SOFTMAX_OUTPUT.scale);

/** Cases and outputs compared, printed at the end (the report's counts). */
const tally = { cases: 0, outputs: 0 };

function softmaxCase(name: string, shape: number[], x: Int16Array, xq: QuantParams, yq: QuantParams = Y_QUANT, axis = -1): Int16Case {
  const c = new Int16Case(name);
  c.node('Softmax', [c.input('x', new Tensor('int16', shape, x, xq))], yq, { axis });
  return c;
}

/** Draws one randomized case from a seed. */
function randomCase(seed: number): Int16Case {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  // Rank 1–4 (sometimes 5), the last axis 1–300 (often short), a few rows.
  const rank = r() < 0.1 ? 5 : int(1, 4);
  const depth = r() < 0.3 ? int(1, 8) : int(1, 300);
  const shape = [...Array.from({ length: rank - 1 }, () => int(1, 3)), depth];
  const n = shape.reduce((a, b) => a * b, 1);
  // Input scale: log-uniform over 2^-16 … 2^4, or an exact power of two.
  const sx = r() < 0.7 ? Math.fround(2 ** (-16 + r() * 20)) : 2 ** int(-16, 4);
  // Output scale: 1/32768, or anywhere within TFLite's tolerance (the values do not depend on it).
  const sy = r() < 0.8 ? INT16_SOFTMAX_OUTPUT.scale : Math.fround((1 + (r() * 2 - 1) * 0.0009) / 32768);
  // Data: full range, a narrow band somewhere (a few LSB to a few thousand), or rows held constant.
  const kind = int(0, 2);
  let x: Int16Array;
  if (kind === 0) {
    x = int16Data(n, r);
    for (const v of [-32768, 32767, 0]) if (r() < 0.3) x[int(0, n - 1)] = v;
  } else if (kind === 1) {
    const width = Math.round(2 ** (r() * 12));
    const lo = int(-32768, 32767 - width);
    x = int16Data(n, r, lo, lo + width);
  } else {
    x = new Int16Array(n);
    for (let base = 0; base < n; base += depth) x.fill(int(-32768, 32767), base, base + depth);
  }
  return softmaxCase(`softmax seed ${seed} sx ${sx} sy ${sy} shape [${shape}] data ${['full', 'narrow', 'constant'][kind]}`, shape, x, int16Quant(sx), int16Quant(sy));
}

/** Compares both arithmetics with LiteRT.js on `c`. */
async function expectSame(c: Int16Case): Promise<void> {
  const want = (await runLiteRtCase(c)).data as Int16Array;
  for (const arithmetic of ['tflite-xnnpack', 'tflite-reference'] as const) {
    const got = runOurs(c, arithmetic).data as Int16Array;
    expect(got.length, c.name).toBe(want.length);
    expect(got.every((v, i) => v === want[i]), `${c.name} (${arithmetic}): ${firstDiffs(want, got)}`).toBe(true);
  }
  tally.cases++;
  tally.outputs += want.length;
}

describe('int16 Softmax: cloudless (both arithmetics) vs LiteRT.js (TFLite builtin SOFTMAX)', () => {
  afterAll(() => {
    console.log(`int16 Softmax bit-exact with LiteRT.js: ${tally.cases} cases, ${tally.outputs} outputs (each in tflite-xnnpack and tflite-reference)`);
  });

  it('every output equal on random shapes, scales and data', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
      await expectSame(randomCase(seed));
    }), { numRuns: RUNS });
  });

  // Rows [a, a − k] for k = 0 … 65535: each difference through the exp table once, with the
  // reciprocal of 1 + exp(−k·s) — at scales where the table's [−10, 0] is reached at
  // differences of ~65535, ~6553 and ~8, a power of two, and a scale where d·2^shift wraps.
  for (const sx of [1.5259e-4, 0.0015, 2 ** -10, 1.3, 16]) {
    it(`every difference 0 … 65535 at input scale ${sx}`, async () => {
      const x = new Int16Array(2 * 65536);
      for (let k = 0; k < 65536; k++) {
        const a = 32767 - (k >> 1);
        x[2 * k] = a;
        x[2 * k + 1] = a - k;
      }
      await expectSame(softmaxCase(`all differences sx ${sx}`, [65536, 2], x, int16Quant(sx)));
    });
  }

  it('uniform and one-hot rows, 1-element rows, and 65,536-element rows', async () => {
    const r = lcg(99);
    // 300 equal values: each output is 1/300 of 32768 in TFLite's arithmetic.
    await expectSame(softmaxCase('uniform 300', [1, 300], new Int16Array(300).fill(1234), int16Quant(0.001)));
    // One large value among small ones: ~32767 and ~0.
    const hot = int16Data(300, r, -200, 200);
    hot[17] = 30000;
    await expectSame(softmaxCase('one-hot 300', [1, 300], hot, int16Quant(0.001)));
    // A 1-element row is exp(0)/exp(0) in fixed point, at any scale.
    await expectSame(softmaxCase('depth 1', [7, 1], int16Data(7, r), int16Quant(0.37)));
    // The longest row taken (65,536 elements, the int32 sum just below 2^31 when all are equal).
    await expectSame(softmaxCase('65536 equal', [1, 65536], new Int16Array(65536).fill(-77), int16Quant(0.001)));
    await expectSame(softmaxCase('65536 random', [1, 65536], int16Data(65536, r, -40, 40), int16Quant(0.01)));
  });
});

describe('int16 Softmax: what TFLite refuses, and check()', () => {
  const x = Int16Array.from([-300, 0, 1200, 5, -32768, 32767]);

  it('the quantizer takes the fixed output quantization from INT16_FIXED_OUTPUT', () => {
    expect(INT16_FIXED_OUTPUT.Softmax).toEqual({ scale: 1 / 32768, zeroPoint: 0 });
  });

  it('an output scale 0.2% off 1/32768, an output or input zero point other than 0: refused by LiteRT.js and by check()', async () => {
    const cases: [string, QuantParams, QuantParams, RegExp, RegExp][] = [
      ['sy 1.002/32768', int16Quant(0.001), int16Quant(1.002 / 32768), /scale not near 1.f \/ 32768/, /scale 1\/32768 \(within 0\.1%\) and zero point 0/],
      ['sy 0.998/32768', int16Quant(0.001), int16Quant(0.998 / 32768), /scale not near 1.f \/ 32768/, /scale 1\/32768 \(within 0\.1%\) and zero point 0/],
      ['y zero point 1', int16Quant(0.001), perTensorQuant(1 / 32768, 1), /zero_point != 0/, /the output to have zero point 0/],
      ['x zero point 1', perTensorQuant(0.001, 1), Y_QUANT, /zero_point != 0/, /X to have zero point 0/],
    ];
    for (const [name, xq, yq, theirs, ours] of cases) {
      const c = softmaxCase(name, [2, 3], x, xq, yq);
      await expect(runLiteRtCase(c), name).rejects.toThrow(theirs);
      expect(() => runOurs(c), name).toThrow(ours);
    }
  });

  it('refuses int16 without quantization, an axis other than the last, and rows beyond 65,536 elements', () => {
    expect(() => runOurs(softmaxCase('plain', [2, 3], x, undefined as never, undefined as never))).toThrow(/int16/);
    expect(() => runOurs(softmaxCase('axis 0', [2, 3], x, int16Quant(0.001), Y_QUANT, 0))).toThrow(/last axis only/);
    const long = new Int16Array(65537);
    expect(() => runOurs(softmaxCase('long row', [1, 65537], long, int16Quant(0.001)))).toThrow(/at most 65536 elements/);
  });
});

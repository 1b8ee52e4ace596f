/**
 * int16 activations (16x8) are bit-exact with LiteRT.js: randomized
 * single-op graphs (test/helpers/int16-cases.ts) of Relu, Clip (RELU6, RELU),
 * LeakyRelu, Sigmoid and Tanh, with shapes of rank 1–4, input scales drawn
 * log-uniformly over 2^-16 … 2^4 or as exact powers of two (and powers of two
 * nudged by a few ulps, which TFLite's CheckedLog2 still takes as powers of
 * two), output scales around the input's (fixed at 2^-15 for Sigmoid and
 * Tanh), and full-range int16 data. Sigmoid and Tanh are also compared on all
 * 65,536 inputs at a few scales, the other ops at one each.
 *
 * XNNPACK takes no int16, so LiteRT.js runs TFLite's builtin kernels; that is
 * what `tflite-xnnpack` matches. `tflite-reference` (TFLite's *_REF kernels,
 * TFLite Micro) computes the same except Sigmoid at input scale 2^-12 and Tanh
 * at 2^-12 and 2^-11, where the builtin kernels run gemmlowp's 16-bit
 * fixed-point functions and the reference ones the 256-entry table with the
 * input times 3 (6 for Tanh at 2^-11). The last tests pin that difference
 * down and check the reference path against LiteRT.js where it runs the same
 * table. TFLite has no int16 HARD_SWISH, RELU_N1_TO_1 or RELU_0_TO_1 kernel;
 * the writer refuses them (last tests), as does check() what TFLite refuses.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type AttrValue } from '../../src/ir/index.js';
import { INT16_FIXED_OUTPUT } from '../../src/kernels/ref/int16/activation.js';
import { Int16Case, Tally, firstDiffs, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

const RUNS_PER_OP = 40;
type Op = 'Relu' | 'Relu6' | 'ClipRelu' | 'LeakyRelu' | 'Sigmoid' | 'Tanh';
const OPS: Op[] = ['Relu', 'Relu6', 'ClipRelu', 'LeakyRelu', 'Sigmoid', 'Tanh'];

/** Cases and outputs compared per op, printed at the end (the report's counts). */
const tally = new Tally();

/** The Int16Case of `op` on raw data `x` at input scale `sx`, output scale `sy`. */
function activationCase(op: Op, name: string, shape: number[], x: Int16Array, sx: number, sy: number, alpha = 0.2): Int16Case {
  const c = new Int16Case(name);
  const inputs = [c.input('x', new Tensor('int16', shape, x, int16Quant(sx)))];
  let cop = op as string;
  const attrs: Record<string, AttrValue> = {};
  if (op === 'Relu6' || op === 'ClipRelu') {
    cop = 'Clip';
    inputs.push(c.constant('min', Tensor.fromNumbers('float32', [], [0])));
    // Clip to [0, ∞) is written as RELU: a max bound of +Infinity.
    inputs.push(c.constant('max', Tensor.fromNumbers('float32', [], [op === 'Relu6' ? 6 : Infinity])));
  }
  if (op === 'LeakyRelu') attrs.alpha = alpha;
  c.node(cop, inputs, int16Quant(sy), attrs);
  return c;
}

/** Draws one randomized case from a seed. */
function randomCase(op: Op, seed: number): Int16Case {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const rank = int(1, 4);
  const shape = Array.from({ length: rank }, () => int(1, 6));
  const n = shape.reduce((a, b) => a * b, 1);
  // Input scale: log-uniform, an exact power of two, or a power of two nudged by a few float32 ulps.
  const kind = int(0, 3);
  const e = int(-16, 3);
  const sx = kind <= 1 ? Math.fround(2 ** (-16 + r() * 20)) : kind === 2 ? 2 ** e : Math.fround(2 ** e * (1 + (int(1, 64) * (r() < 0.5 ? -1 : 1)) * 2 ** -23));
  const fixed = INT16_FIXED_OUTPUT[op];
  const sy = fixed ? fixed.scale : r() < 0.25 ? sx : Math.fround(sx * 2 ** (-2 + 4 * r()));
  // Full-range data with the extremes and zero mixed in.
  const x = int16Data(n, r);
  for (const v of [-32768, 32767, 0, -1, 1]) if (r() < 0.3) x[int(0, n - 1)] = v;
  const alpha = [0.01, 0.1, 0.2, 0.3, -0.5, 1.5, Math.fround(r() * 2 - 1)][int(0, 6)]!;
  return activationCase(op, `${op} seed ${seed} sx ${sx} sy ${sy} shape [${shape}]${op === 'LeakyRelu' ? ` alpha ${alpha}` : ''}`, shape, x, sx, sy, alpha);
}

/** Whether TFLite's reference kernels differ from the builtin ones for this op and input scale (see the header). */
function potPath(op: Op, sx: number): boolean {
  if (op !== 'Sigmoid' && op !== 'Tanh') return false;
  const log2 = Math.log2(sx);
  const k = Math.round(log2);
  return Math.abs(log2 - k) < 1e-3 && (k === -12 || (op === 'Tanh' && k === -11));
}

async function expectSame(c: Int16Case, op: Op): Promise<Int16Array> {
  const want = (await runLiteRtCase(c)).data as Int16Array;
  const got = runOurs(c, 'tflite-xnnpack').data as Int16Array;
  expect(got.length, c.name).toBe(want.length);
  expect(got.every((v, i) => v === want[i]), `${c.name}: ${firstDiffs(want, got)}`).toBe(true);
  tally.count(op, want.length);
  return want;
}

const ALL = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

describe('int16 activations: tflite-xnnpack (TFLite builtin kernels) vs LiteRT.js', () => {
  afterAll(() => {
    console.log(tally.report('int16 activations bit-exact with LiteRT.js'));
  });

  for (const op of OPS) {
    it(`${op}: every output equal on random shapes, scales and data; tflite-reference equal off the power-of-two path`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const c = randomCase(op, seed);
        const want = await expectSame(c, op);
        const sx = c.graph.value('x').quant!.scale[0]!;
        if (!potPath(op, sx)) {
          const ref = runOurs(c, 'tflite-reference').data as Int16Array;
          expect(ref.every((v, i) => v === want[i]), `${c.name} (tflite-reference): ${firstDiffs(want, ref)}`).toBe(true);
        }
      }), { numRuns: RUNS_PER_OP });
    });
  }

  // All 65,536 inputs: the table paths (non-power-of-two scales, tiny and large ones where the
  // rescale multiplier wraps in int32), the gemmlowp paths (2^-12, 2^-11, and a scale CheckedLog2
  // rounds to 2^-12), and powers of two that TFLite rescales (2^-10, 2^-15).
  const lutScales = [0.001, 2 ** -12, Math.fround(2 ** -12 * (1 + 2 ** -12)), 2 ** -11, 2 ** -10, 2 ** -15, 0.0123, 3, 8, 1e-6];
  for (const op of ['Sigmoid', 'Tanh'] as const) {
    it(`${op}: all 65,536 inputs at input scales ${lutScales.map((s) => s.toPrecision(3)).join(', ')}`, async () => {
      for (const sx of lutScales) await expectSame(activationCase(op, `${op} all inputs sx ${sx}`, [65536], ALL, sx, 1 / 32768), op);
    });
  }

  it('Relu, Relu6, LeakyRelu: all 65,536 inputs at one scale pair each', async () => {
    await expectSame(activationCase('Relu', 'Relu all inputs', [65536], ALL, 0.00071, 0.00043), 'Relu');
    await expectSame(activationCase('Relu6', 'Relu6 all inputs', [65536], ALL, 0.00031, 0.00019), 'Relu6');
    await expectSame(activationCase('LeakyRelu', 'LeakyRelu all inputs', [65536], ALL, 0.0011, 0.0007, 0.1), 'LeakyRelu');
  });
});

describe('int16 activations: tflite-reference (TFLite reference kernels)', () => {
  it('Sigmoid at 2^-12, Tanh at 2^-12 and 2^-11: the reference table path differs from the builtin gemmlowp path', () => {
    const diffs: string[] = [];
    for (const [op, sx] of [['Sigmoid', 2 ** -12], ['Tanh', 2 ** -12], ['Tanh', 2 ** -11]] as const) {
      const c = activationCase(op, `${op} pot ${sx}`, [65536], ALL, sx, 1 / 32768);
      const builtin = runOurs(c, 'tflite-xnnpack').data as Int16Array;
      const ref = runOurs(c, 'tflite-reference').data as Int16Array;
      let n = 0, max = 0;
      for (let i = 0; i < ALL.length; i++) {
        const d = Math.abs(builtin[i]! - ref[i]!);
        if (d) n++;
        max = Math.max(max, d);
      }
      diffs.push(`${op} at 2^${Math.log2(sx)}: ${n} of 65536 outputs differ, by at most ${max}`);
      // Two approximations of the same function: many outputs differ, by a few LSB of 2^-15.
      expect(n).toBeGreaterThan(0);
      expect(max).toBeLessThan(64);
    }
    console.log(`int16 reference vs builtin at power-of-two input scales:\n  ${diffs.join('\n  ')}`);
  });

  it('the reference path at 2^-12 (2^-11) equals LiteRT.js on the table path at a scale just off the power of two', async () => {
    // At s' = 1.0008·2^k CheckedLog2 fails (log2 1.0008 > 10^-3), so TFLite rescales with
    // m = 24595 over 2^13 (2^12 for Tanh at 2^-11): x·m/2^13 rounds to 3x (6x) for |x| ≤ 215 (107),
    // exactly the reference path's input stage at 2^k.
    for (const [op, k, lim] of [['Sigmoid', -12, 215], ['Tanh', -12, 215], ['Tanh', -11, 107]] as const) {
      const x = Int16Array.from({ length: 2 * lim + 1 }, (_, i) => i - lim);
      const near = activationCase(op, `${op} near 2^${k}`, [x.length], x, Math.fround(2 ** k * 1.0008), 1 / 32768);
      const want = (await runLiteRtCase(near)).data as Int16Array;
      const got = runOurs(activationCase(op, `${op} at 2^${k}`, [x.length], x, 2 ** k, 1 / 32768), 'tflite-reference').data as Int16Array;
      expect(got.every((v, i) => v === want[i]), `${op} 2^${k}: ${firstDiffs(want, got)}`).toBe(true);
    }
  });
});

describe('int16 activations: what TFLite refuses, and check()', () => {
  it('no int16 HardSwish, and the writer refuses what TFLite cannot run (HARD_SWISH, RELU_N1_TO_1, RELU_0_TO_1 on int16)', async () => {
    // Written anyway, LiteRT.js 2.5.3 fails at invoke on each: "Only float32, uint8 and int8 are supported currently, got INT16".
    const hs = new Int16Case('hardswish');
    hs.node('HardSwish', [hs.input('x', new Tensor('int16', [4], Int16Array.from([-3, 0, 3, 9]), int16Quant(0.001)))], int16Quant(0.001));
    await expect(runLiteRtCase(hs)).rejects.toThrow(/no int16 HARD_SWISH kernel/);
    expect(() => runOurs(hs)).toThrow(/HardSwish/);
    for (const [lo, hi, builtin] of [[-1, 1, 'RELU_N1_TO_1'], [0, 1, 'RELU_0_TO_1']] as const) {
      const c = new Int16Case(builtin);
      const x = c.input('x', new Tensor('int16', [4], Int16Array.from([-3000, 0, 300, 9000]), int16Quant(0.001)));
      c.node('Clip', [x, c.constant('min', Tensor.fromNumbers('float32', [], [lo])), c.constant('max', Tensor.fromNumbers('float32', [], [hi]))], int16Quant(0.001));
      await expect(runLiteRtCase(c)).rejects.toThrow(new RegExp(`no int16 ${builtin} kernel`));
      // cloudless runs it with QuantizedReluX's arithmetic: same scale, so a plain clamp to ±1000 (0, 1000).
      expect(Array.from(runOurs(c).data as Int16Array)).toEqual(lo === -1 ? [-1000, 0, 300, 1000] : [0, 0, 300, 1000]);
    }
  });

  it('refuses int16 without quantization, a nonzero zero point, and Sigmoid/Tanh outputs not at 2^-15', () => {
    const build = (op: string, xq: ReturnType<typeof int16Quant> | undefined, yq: ReturnType<typeof int16Quant> | undefined) => {
      const c = new Int16Case(op);
      c.node(op, [c.input('x', new Tensor('int16', [2], Int16Array.from([1, 2]), xq))], yq);
      return c;
    };
    expect(() => runOurs(build('Sigmoid', int16Quant(0.01), int16Quant(1 / 16384)))).toThrow(/1\/32768/);
    expect(() => runOurs(build('Tanh', int16Quant(0.01), int16Quant(0.001)))).toThrow(/1\/32768/);
    expect(() => runOurs(build('LeakyRelu', perTensorQuant(0.01, 3), int16Quant(0.01)))).toThrow(/zero point 0/);
    // Plain int16 (no quantization) is not taken by these kernels: Relu falls through to the generic integer kernel.
    const plain = runOurs(build('Relu', undefined, undefined));
    expect(Array.from(plain.data as Int16Array)).toEqual([1, 2]);
    expect(() => runOurs(build('Sigmoid', undefined, undefined))).toThrow(/int16/);
  });
});

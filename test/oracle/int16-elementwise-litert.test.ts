/**
 * 16x8 Add, Sub, Mul and the int16 Quantize/Dequantize are bit-exact with
 * LiteRT.js: randomized single-op graphs written by our .tflite writer (ADD and
 * SUB with pot_scale_int16 = false), run in LiteRT.js (its builtin kernels:
 * XNNPACK takes no int16) and in cloudless on backend 'ref'.
 *
 * Binary cases draw shapes of rank 0–4 with numpy broadcasting (same shapes,
 * broadcast rows and columns, a scalar or a small constant operand), scales
 * log-uniformly or as powers of two (every factor then is a power of two and a
 * share of the outputs lands exactly on a rounding tie), the four fused
 * activations, and full-range int16 data with the extremes mixed in.
 *
 * `tflite-xnnpack` must equal LiteRT.js byte for byte. `tflite-reference`
 * (TFLite Micro) equals it for ADD; for SUB and MUL TFLite Micro rounds the
 * real factors differently (float32 vs double, see
 * src/kernels/ref/int16/elementwise.ts), so the test states the exact
 * difference: where both arithmetics quantize the factors to the same
 * multipliers the bytes are equal, and otherwise every output is within 1 LSB.
 * The random cases are too small to tell the two factor roundings apart (a
 * 31-bit multiplier off in its low bits moves ~1 output in 10^4), so a second
 * test runs 2^15-element tensors where they do differ: LiteRT.js must match
 * `tflite-xnnpack` exactly and not the other rounding.
 *
 * Quantize float → int16, Dequantize int16 → float and the requantizations
 * int16 → int8, int16 → int16, int8 → int16 are compared on large tensors
 * with a share of exact ties (float inputs at (k + ½)·s, power-of-two ratios).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type DType, type Node } from '../../src/ir/index.js';
import { int16BinaryArithmetic } from '../../src/kernels/ref/int16/elementwise.js';
import { Int16Case, Tally, firstDiffs, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

type BinaryOp = 'Add' | 'Sub' | 'Mul';
const RUNS = 40;
const tally = new Tally();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Full-range int16 data with -32768, 32767, 0 and ±1 sprinkled in. */
function data(n: number, r: () => number): Int16Array {
  const d = int16Data(n, r);
  const special = [-32768, 32767, 0, 1, -1];
  for (let i = 0; i < n; i++) if (r() < 0.08) d[i] = special[Math.floor(r() * special.length)]!;
  return d;
}

/** Two broadcast-compatible shapes, and whether B (or A) is a constant. */
function shapes(r: () => number): { a: number[]; b: number[]; constant: 'none' | 'a' | 'b' } {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const rank = int(1, 4);
  const full = Array.from({ length: rank }, () => int(1, 6));
  switch (int(0, 5)) {
    case 0: return { a: full, b: [...full], constant: 'none' };
    // Each dimension of B kept or set to 1, trailing dimensions only sometimes.
    case 1: return { a: full, b: full.slice(int(0, rank - 1)).map((d) => (r() < 0.5 ? 1 : d)), constant: 'none' };
    case 2: return { a: full.map((d) => (r() < 0.5 ? 1 : d)), b: full.map((d) => (r() < 0.5 ? 1 : d)), constant: 'none' };
    case 3: return { a: full, b: [], constant: 'b' }; // a scalar constant
    case 4: return { a: [], b: full, constant: 'a' }; // a scalar constant first
    default: return { a: full, b: [full[rank - 1]!], constant: 'b' }; // a per-channel constant row
  }
}

function binaryCase(op: BinaryOp, seed: number, pot: boolean): { c: Int16Case; sa: number; sb: number; sy: number } {
  const r = lcg(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const logScale = (lo: number, hi: number) => Math.fround(2 ** (lo + r() * (hi - lo)));
  const pow = (lo: number, hi: number) => 2 ** int(lo, hi);
  let sa: number, sb: number, sy: number;
  if (op === 'Mul') {
    sa = pot ? pow(-14, -4) : logScale(-14, -4);
    sb = pot ? pow(-14, -4) : logScale(-14, -4);
    // s_a·s_b/s_y between 2^-20 and 2^2 (products reach 2^30; 2^-15 maps them onto the int16 range).
    sy = pot ? Math.fround((sa * sb) / pow(-20, 2)) : Math.fround((sa * sb) / logScale(-20, 2));
  } else {
    sa = pot ? pow(-14, -2) : logScale(-14, -2);
    sb = r() < 0.15 ? sa : pot ? pow(-14, -2) : logScale(-14, -2);
    // max(s_a, s_b)/s_y in [2^-4, 2^12]: TFLite needs 2·max/(2^15·s_y) < 1.
    const m = Math.max(sa, sb);
    sy = pot ? m / pow(-4, 12) : Math.fround(m / logScale(-4, 12));
  }
  const act = (['none', 'relu', 'relu6', 'relu_n1_to_1'] as const)[int(0, 3)]!;
  const s = shapes(r);
  const c = new Int16Case(`${op} [${s.a}]${s.constant === 'a' ? ' const' : ''} · [${s.b}]${s.constant === 'b' ? ' const' : ''} ${act}${pot ? ' pot' : ''} s=${sa},${sb}→${sy}`);
  const ta = new Tensor('int16', s.a, data(size(s.a), r), int16Quant(sa));
  const tb = new Tensor('int16', s.b, data(size(s.b), r), int16Quant(sb));
  const a = s.constant === 'a' ? c.constant('a', ta) : c.input('a', ta);
  const b = s.constant === 'b' ? c.constant('b', tb) : c.input('b', tb);
  c.node(op, [a, b], int16Quant(sy), { activation: act });
  return { c, sa: Math.fround(sa), sb: Math.fround(sb), sy: Math.fround(sy) };
}

/** Whether both arithmetics prepare the same multipliers for these scales. */
function sameMultipliers(op: BinaryOp, sa: number, sb: number, sy: number): boolean {
  const node = { name: 'n', op } as Node;
  return JSON.stringify(int16BinaryArithmetic(node, op, false, sa, sb, sy)) === JSON.stringify(int16BinaryArithmetic(node, op, true, sa, sb, sy));
}

afterAll(() => {
  console.log(tally.report('int16 elementwise and Quantize/Dequantize vs LiteRT.js'));
});

describe('16x8 Add, Sub, Mul vs LiteRT.js', () => {
  for (const op of ['Add', 'Sub', 'Mul'] as const) {
    it(`${op}: tflite-xnnpack equals LiteRT.js byte for byte; tflite-reference equals it or (Sub, Mul) differs only as stated`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), async (seed, pot) => {
        const { c, sa, sb, sy } = binaryCase(op, seed, pot);
        const want = (await runLiteRtCase(c)).data as Int16Array;
        const got = runOurs(c, 'tflite-xnnpack').data as Int16Array;
        expect(got.length, c.name).toBe(want.length);
        expect(got.every((v, i) => v === want[i]), `${c.name}, tflite-xnnpack: ${firstDiffs(want, got)}`).toBe(true);
        tally.count(`${op} tflite-xnnpack`, want.length);

        const ref = runOurs(c, 'tflite-reference').data as Int16Array;
        if (op === 'Add' || sameMultipliers(op, sa, sb, sy)) {
          expect(ref.every((v, i) => v === want[i]), `${c.name}, tflite-reference: ${firstDiffs(want, ref)}`).toBe(true);
          tally.count(`${op} tflite-reference (same multipliers: equal)`, want.length);
        } else {
          expect(ref.every((v, i) => Math.abs(v - want[i]!) <= 1), `${c.name}, tflite-reference: ${firstDiffs(want, ref)}`).toBe(true);
          tally.count(`${op} tflite-reference (other multipliers: within 1 LSB)`, want.length);
        }
      }), { numRuns: RUNS });
    });
  }

  it('large tensors tell the factor roundings apart: LiteRT.js follows tflite-xnnpack, not TFLite Micro', async () => {
    const r = lcg(7);
    for (const op of ['Add', 'Sub', 'Mul'] as const) {
      let refDiffs = 0;
      for (let trial = 0; trial < 3; trial++) {
        const sa = Math.fround(2 ** (-14 + r() * 10)), sb = Math.fround(2 ** (-14 + r() * 10));
        // Unclamped outputs: Mul factors near 2^-16 (|a·b| < 2^30), Add/Sub inputs within ±8000.
        const sy = op === 'Mul' ? Math.fround((sa * sb) / 2 ** (-16 + r())) : Math.fround(Math.max(sa, sb) / 2 ** r());
        const lim = op === 'Mul' ? 32767 : 8000, n = 1 << 15;
        const c = new Int16Case(`${op} 2^15 elements s=${sa},${sb}→${sy}`);
        const a = c.input('a', new Tensor('int16', [n], int16Data(n, r, -lim, lim), int16Quant(sa)));
        const b = c.input('b', new Tensor('int16', [n], int16Data(n, r, -lim, lim), int16Quant(sb)));
        c.node(op, [a, b], int16Quant(sy));
        const want = (await runLiteRtCase(c)).data as Int16Array;
        const got = runOurs(c, 'tflite-xnnpack').data as Int16Array;
        expect(got.every((v, i) => v === want[i]), `${c.name}, tflite-xnnpack: ${firstDiffs(want, got)}`).toBe(true);
        const ref = runOurs(c, 'tflite-reference').data as Int16Array;
        expect(ref.every((v, i) => Math.abs(v - want[i]!) <= 1), c.name).toBe(true);
        refDiffs += ref.filter((v, i) => v !== want[i]).length;
        tally.count(`${op} 2^15-element tensors, tflite-xnnpack`, n);
      }
      // Add: TFLite Micro prepares ADD exactly as TFLite; Sub, Mul: its other rounding shows.
      if (op === 'Add') expect(refDiffs).toBe(0);
      else expect(refDiffs).toBeGreaterThan(0);
    }
  });

  it('Mul with a factor ≥ 1 wraps (−32768)² like LiteRT.js (its int32 left shift before the high multiply)', async () => {
    for (const f of [0.75, 1.5, 3]) {
      const c = new Int16Case(`Mul factor ${f}`);
      const a = c.input('a', new Tensor('int16', [4], new Int16Array([-32768, -32768, 32767, 100]), int16Quant(2 ** -8)));
      const b = c.input('b', new Tensor('int16', [4], new Int16Array([-32768, 32767, 32767, 100]), int16Quant(2 ** -8)));
      c.node('Mul', [a, b], int16Quant(2 ** -16 / f));
      const want = (await runLiteRtCase(c)).data as Int16Array;
      for (const mode of ['tflite-xnnpack', 'tflite-reference'] as const) expect([...runOurs(c, mode).data as Int16Array], `${c.name}, ${mode}`).toEqual([...want]);
    }
  });

  it('power-of-two scales give the same multipliers in both arithmetics', () => {
    for (const op of ['Add', 'Sub', 'Mul'] as const) expect(sameMultipliers(op, 2 ** -7, 2 ** -9, 2 ** -12)).toBe(true);
    // A scale set where TFLite's float32 factor and TFLite Micro's double one quantize differently.
    expect(sameMultipliers('Mul', Math.fround(0.0123), Math.fround(0.00071), Math.fround(3.3e-7))).toBe(false);
  });

  it('an output scale too small for the inputs (2·max/(2^15·s_y) ≥ 1) is refused, as TFLite refuses it', () => {
    const c = new Int16Case('Add too small output scale');
    const a = c.input('a', new Tensor('int16', [4], new Int16Array([1, 2, 3, 4]), int16Quant(1)));
    const b = c.input('b', new Tensor('int16', [4], new Int16Array([1, 2, 3, 4]), int16Quant(1)));
    c.node('Add', [a, b], int16Quant(2 ** -15));
    expect(() => runOurs(c)).toThrow(/needs it in \(0, 1\)/);
  });
});

describe('int16 Quantize and Dequantize vs LiteRT.js', () => {
  const n = 20000;

  it('float → int16: tflite-xnnpack equals LiteRT.js (round half away of x / s in double)', async () => {
    const r = lcg(11);
    for (let trial = 0; trial < 4; trial++) {
      const s = Math.fround(2 ** (-14 + 12 * r()));
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const k = Math.floor((r() * 2 - 1) * 40000); // past the int16 range too
        const kind = r();
        x[i] = kind < 0.4 ? Math.fround((k + 0.5) * s) : kind < 0.6 ? Math.fround(k * s) : Math.fround((r() * 2 - 1) * 33000 * s);
      }
      const c = new Int16Case(`Quantize float→int16 s=${s}`);
      c.node('Quantize', [c.input('x', new Tensor('float32', [n], x))], int16Quant(s), { to: 'int16' });
      const want = (await runLiteRtCase(c)).data as Int16Array;
      const got = runOurs(c, 'tflite-xnnpack').data as Int16Array;
      expect(got.every((v, i) => v === want[i]), `${c.name}: ${firstDiffs(want, got)}`).toBe(true);
      tally.count('Quantize float→int16, tflite-xnnpack', n);
    }
  });

  it('int16 → float: both arithmetics equal LiteRT.js', async () => {
    const r = lcg(12);
    for (let trial = 0; trial < 3; trial++) {
      const s = Math.fround(2 ** (-14 + 12 * r()));
      const c = new Int16Case(`Dequantize int16→float s=${s}`);
      c.node('Dequantize', [c.input('x', new Tensor('int16', [n], data(n, r), int16Quant(s)))], undefined, {}, 'float32');
      const want = (await runLiteRtCase(c)).data as Float32Array;
      for (const mode of ['tflite-xnnpack', 'tflite-reference'] as const) {
        const got = runOurs(c, mode).data as Float32Array;
        expect(got.every((v, i) => Object.is(v, want[i])), `${c.name}, ${mode}: ${firstDiffs(want, got)}`).toBe(true);
      }
      tally.count('Dequantize int16→float, both arithmetics', n);
    }
  });

  for (const [from, to] of [['int16', 'int8'], ['int16', 'int16'], ['int8', 'int16']] as const satisfies readonly (readonly [DType, DType])[]) {
    it(`${from} → ${to} (requantize): both arithmetics equal LiteRT.js`, async () => {
      const r = lcg(13 + from.length + to.length);
      for (let trial = 0; trial < 4; trial++) {
        const pot = trial >= 2; // power-of-two ratios: many exact ties
        const si = Math.fround(2 ** (-14 + 8 * r()));
        const ratio = to === 'int8' ? (pot ? 2 ** 7 : 2 ** (5 + 6 * r())) : pot ? 2 ** (from === 'int8' ? -3 : 1) : 2 ** (-3 + 6 * r());
        const so = Math.fround(si * ratio);
        const zi = from === 'int8' ? Math.floor(r() * 40) - 20 : 0, zo = to === 'int8' ? Math.floor(r() * 40) - 20 : 0;
        const x = from === 'int16' ? data(n, r) : Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
        const c = new Int16Case(`Quantize ${from}→${to} s=${si}→${so} z=${zi}→${zo}`);
        c.node('Quantize', [c.input('x', new Tensor(from, [n], x as never, perTensorQuant(si, zi)))], perTensorQuant(so, zo), { to }, to);
        const want = (await runLiteRtCase(c)).data as Int8Array | Int16Array;
        for (const mode of ['tflite-xnnpack', 'tflite-reference'] as const) {
          const got = runOurs(c, mode).data as Int8Array | Int16Array;
          expect(got.every((v, i) => v === want[i]), `${c.name}, ${mode}: ${firstDiffs(want, got)}`).toBe(true);
        }
        tally.count(`Quantize ${from}→${to}, both arithmetics`, n);
      }
    });
  }
  /*
   * int8 → int8: LiteRT.js runs XNNPACK's qs8 convert where s_in / s_out is in
   * [2^-8, 2^7] (tflite-xnnpack's arithmetic) and TFLite's fixed-point
   * Requantize outside it, which is also TFLM's (tflite-reference) everywhere.
   * Inside the range only tflite-xnnpack is compared; outside both are.
   */
  it('int8 → int8 (requantize): tflite-xnnpack equals LiteRT.js inside XNNPACK\'s range, both outside', async () => {
    const r = lcg(29);
    const ratios = [2 ** (-3 + 6 * r()), 2 ** (-7 + 13 * r()), 2, 0.5, 2 ** -8, 2 ** 7, 2 ** -9.5, 2 ** -12, 2 ** 7.5, 2 ** 9];
    for (const [trial, ratio] of ratios.entries()) {
      const si = Math.fround(2 ** (-10 + 6 * r()));
      const so = Math.fround(si / ratio);
      const zi = Math.floor(r() * 40) - 20, zo = Math.floor(r() * 40) - 20;
      const x = Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
      const c = new Int16Case(`Quantize int8→int8 #${trial} s=${si}→${so} z=${zi}→${zo}`);
      c.node('Quantize', [c.input('x', new Tensor('int8', [n], x, perTensorQuant(si, zi)))], perTensorQuant(so, zo), { to: 'int8' }, 'int8');
      const want = (await runLiteRtCase(c)).data as Int8Array;
      const inside = Math.fround(si / so) >= 2 ** -8 && Math.fround(si / so) <= 2 ** 7;
      for (const mode of inside ? (['tflite-xnnpack'] as const) : (['tflite-xnnpack', 'tflite-reference'] as const)) {
        const got = runOurs(c, mode).data as Int8Array;
        expect(got.every((v, i) => v === want[i]), `${c.name}, ${mode}: ${firstDiffs(want, got)}`).toBe(true);
      }
      tally.count(`Quantize int8→int8, ${inside ? 'tflite-xnnpack (XNNPACK convert)' : 'both arithmetics (Requantize)'}`, n);
    }
  });
});

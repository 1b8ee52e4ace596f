/**
 * 16x8 reference kernels for the binary ops Add, Sub and Mul: int16 inputs and
 * output, each quantized symmetrically (one scale, zero point 0), numpy
 * broadcasting (a constant or scalar operand included), and the fused
 * activations of the int8 kernels (attr `activation`).
 *
 * XNNPACK takes no int16, so LiteRT.js runs TFLite's builtin kernels for these
 * in both of cloudless's arithmetics, and `tflite-xnnpack` reproduces them:
 * - ADD and SUB take TFLite's general int16 path (AddOptions/SubOptions
 *   pot_scale_int16 = false, which our .tflite writer sets): the int8 scheme of
 *   reference_ops' AddElementwise with 15 bits of headroom instead of 20. Both
 *   inputs are brought to a common scale, twice the larger input scale, by
 *   multipliers below one (in double, then QuantizeMultiplier), summed (or
 *   subtracted) in int32 and requantized to the output: three double-rounding
 *   fixed-point multiplies (multiplyByQuantizedMultiplier, ties away from zero).
 *   The scalar loops LiteRT.js runs (WebAssembly: no NEON, no AVX2) compute
 *   exactly this; TFLite's NEON and AVX2 int16 loops fold the 2^15 into the
 *   multiplier's shift and can round differently (not measured).
 * - MUL: MultiplyByQuantizedMultiplier(a · b, m) with the real factor
 *   s_a · s_b / s_y computed in float32 (mul.cc multiplies float scales in C
 *   float arithmetic) and turned into a 31-bit multiplier in double.
 *
 * `tflite-reference` is TFLite Micro, whose prepare code differs from TFLite's
 * in where it rounds the real factors (the element loops are the same
 * reference_ops/reference_integer_ops ones):
 * - ADD: identical (double factors).
 * - SUB: the three factors are float32 quotients, fl(s_a / fl(2·max)),
 *   fl(s_b / fl(2·max)) and fl(fl(2·max) / fl(2^15 · s_y)), where TFLite
 *   divides in double.
 * - MUL: the real factor is a double, (double)s_a · (double)s_b / (double)s_y,
 *   where TFLite rounds to float32 after each operation.
 * Where the float32 and double factors quantize to the same 31-bit multiplier
 * (always for power-of-two scales) both arithmetics give the same bytes;
 * otherwise the multiplier differs in its low bits and an output can move by
 * 1 LSB (test/oracle/int16-elementwise-litert.test.ts checks both statements).
 *
 * Both TFLite and TFLite Micro refuse factors their code cannot represent:
 * an ADD/SUB output factor 2·max(s_a, s_b) / (2^15 · s_y) of 1 or more (TFLite
 * aborts in QuantizeMultiplierSmallerThanOneExp, or for SUB shifts by a
 * negative amount), so prepare() throws E_UNSUPPORTED for it.
 */
import {
  CloudlessError, defineKernel, type KernelDef, type Node, type PrepareArgs,
} from '../../../ir/index.js';
import { binaryState, runBinary, type BinaryState } from '../int8/elementwise.js';
import {
  INT16_MAX, INT16_MIN, activationRangeQuantized, clampInt, fl, int16QuantRefusal, multiplyByQuantizedMultiplier, quantizeMultiplier,
  tensorQuant, type QuantizedMultiplier,
} from '../int8/requantize.js';

/** TFLite's headroom for int16 ADD/SUB: 65535 · 2^15 still fits an int32 sum. */
const LEFT_SHIFT = 15;

/**
 * The constants of one int16 Add, Sub or Mul in one arithmetic:
 * - `add` (ADD and SUB, `sign` −1 for SUB): input multipliers `ma`, `mb` (each
 *   below one: s / (2·max(s_a, s_b))) and the output multiplier `my`
 *   (2·max(s_a, s_b) / (2^15 · s_y)).
 * - `mul`: the one multiplier of s_a · s_b / s_y (any magnitude).
 */
export type Int16BinaryArithmetic =
  | { kind: 'add'; sign: 1 | -1; ma: QuantizedMultiplier; mb: QuantizedMultiplier; my: QuantizedMultiplier }
  | { kind: 'mul'; m: QuantizedMultiplier };

/**
 * TFLite's QuantizeMultiplierSmallerThanOneExp: a factor in (0, 1) as a 31-bit
 * multiplier with a right shift. Factors of 1 or more are refused, as TFLite
 * refuses them (its CHECK aborts the interpreter).
 */
function multiplierBelowOne(node: Node, real: number, what: string): QuantizedMultiplier {
  if (!(real > 0 && real < 1)) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): the int16 kernel's ${what} is ${real}; TFLite's int16 ${node.op === 'Sub' ? 'SUB' : 'ADD'} needs it in (0, 1)`, {
      node: node.name, hint: 'the output scale is too small for the input scales: 2·max(s_a, s_b) / (2^15 · s_y) must be below 1',
    });
  }
  const qm = quantizeMultiplier(real);
  if (qm.shift > 0) {
    // A factor just below 1 whose multiplier rounds up to 2^31 becomes 2^30 · 2^1: TFLite CHECKs the shift too.
    throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): the int16 kernel's ${what} ${real} rounds to 1`, { node: node.name });
  }
  return qm;
}

/** The constants of `op` on the given scales; `reference` selects TFLite Micro's prepare arithmetic (see the header). */
export function int16BinaryArithmetic(node: Node, op: 'Add' | 'Sub' | 'Mul', reference: boolean, sa: number, sb: number, sy: number): Int16BinaryArithmetic {
  if (op === 'Mul') {
    // TFLite: float32 operations on float32 scales; TFLite Micro: the same in double.
    const real = reference ? (sa * sb) / sy : fl(fl(sa * sb) / sy);
    return { kind: 'mul', m: quantizeMultiplier(real) };
  }
  const twiceMax = 2 * Math.max(sa, sb); // exact in float32 and double
  const floatFactors = reference && op === 'Sub';
  const ra = floatFactors ? fl(sa / twiceMax) : sa / twiceMax;
  const rb = floatFactors ? fl(sb / twiceMax) : sb / twiceMax;
  const ry = floatFactors ? fl(twiceMax / fl(2 ** LEFT_SHIFT * sy)) : twiceMax / (2 ** LEFT_SHIFT * sy);
  return {
    kind: 'add',
    sign: op === 'Add' ? 1 : -1,
    ma: multiplierBelowOne(node, ra, 'input 0 factor'),
    mb: multiplierBelowOne(node, rb, 'input 1 factor'),
    my: multiplierBelowOne(node, ry, 'output factor 2·max(s_a, s_b) / (2^15 · s_y)'),
  };
}

/** The raw output of two raw int16 inputs under `c`, before the clamp (zero points are all 0). */
function int16BinaryFn(c: Int16BinaryArithmetic): (a: number, b: number) => number {
  if (c.kind === 'mul') {
    const { multiplier, shift } = c.m;
    // |a·b| ≤ 2^30 fits int32; a positive shift wraps like TFLite's int32 left shift (Math.imul).
    return (a, b) => multiplyByQuantizedMultiplier(a * b, multiplier, shift);
  }
  const { ma, mb, my, sign } = c;
  const headroom = 2 ** LEFT_SHIFT;
  return (a, b) => {
    const va = multiplyByQuantizedMultiplier(a * headroom, ma.multiplier, ma.shift);
    const vb = multiplyByQuantizedMultiplier(b * headroom, mb.multiplier, mb.shift);
    return multiplyByQuantizedMultiplier(va + sign * vb, my.multiplier, my.shift);
  };
}

function int16BinaryKernel(op: 'Add' | 'Sub' | 'Mul'): KernelDef {
  return defineKernel<BinaryState>({
    op,
    backend: 'ref',
    dtypes: ['int16'],
    check: (_n, inputs, outputs) =>
      int16QuantRefusal(inputs[0], 'A') ?? int16QuantRefusal(inputs[1], 'B') ?? int16QuantRefusal(outputs[0], 'the output'),
    prepare({ node, inputs, outputs, ctx }: PrepareArgs) {
      const a = tensorQuant(node, inputs[0], 'A'), b = tensorQuant(node, inputs[1], 'B'), y = tensorQuant(node, outputs[0], 'the output');
      const [lo, hi] = activationRangeQuantized(node, y.scale, 0, [INT16_MIN, INT16_MAX]);
      const c = int16BinaryArithmetic(node, op, ctx.int8Arithmetic === 'tflite-reference', a.scale, b.scale, y.scale);
      const raw = int16BinaryFn(c);
      const { state } = binaryState(inputs, outputs, (va, vb) => clampInt(raw(va, vb), lo, hi));
      return { state: { ...state, constants: { arithmetic: c, za: 0, zb: 0, zy: 0, lo, hi } } };
    },
    run: runBinary,
  });
}

export const int16ElementwiseKernels: readonly KernelDef[] = [
  int16BinaryKernel('Add'),
  int16BinaryKernel('Sub'),
  int16BinaryKernel('Mul'),
];

/**
 * 16x8 activation kernels: Relu, Clip, LeakyRelu, Sigmoid and Tanh on int16
 * values with one scale and zero point 0 (TFLite's builtin int16 RELU, RELU6,
 * LEAKY_RELU, LOGISTIC and TANH, as LiteRT.js 2.5.3 runs them).
 *
 * A unary int16 op has 65,536 possible inputs, so prepare() evaluates the
 * op's integer arithmetic once per input into a table (128 KiB) and run()
 * looks each element up. As for int8, the table is a cache, not an
 * approximation: every entry is what the element's own arithmetic gives.
 *
 * - Relu and Clip (RELU, RELU6): requantize from the input to the output scale
 *   with a fixed-point multiplier, clamp to the bounds quantized with the
 *   output scale (TFLite's QuantizedReluX, as for int8).
 * - LeakyRelu: one fixed-point multiplier for x ≥ 0, one for alpha·x below.
 * - Sigmoid and Tanh: the output quantization is fixed, scale 2^-15, zero
 *   point 0 (INT16_FIXED_OUTPUT). The input scale is free: TFLite rescales the
 *   input to steps of 1/(3·4096) and interpolates a 256-entry table of
 *   sigmoid(i/24) ("LUT" below). Only a power-of-two input scale of 2^-12
 *   (Sigmoid) or 2^-12, 2^-11 (Tanh) takes another path in TFLite's builtin
 *   kernel: gemmlowp's 16-bit fixed-point logistic/tanh on the raw value read
 *   as Q3.12. TFLite's reference kernels (Register_LOGISTIC_REF / _TANH_REF,
 *   which TFLite Micro shares) use the LUT there too, with the input times 3
 *   (times 6 for Tanh at 2^-11): that is the one place where the two
 *   arithmetics differ for these ops.
 *
 * Neither arithmetic mode reaches XNNPACK here (it takes no int16), so
 * `tflite-xnnpack` means TFLite's builtin (optimized) kernels.
 *
 * TFLite has no int16 kernel for HARD_SWISH, RELU_N1_TO_1 or RELU_0_TO_1
 * (LiteRT.js 2.5.3 fails at invoke: "Only float32, uint8 and int8 are
 * supported currently, got INT16"; the writer's noTfliteInt16Kernel), so there is no
 * arithmetic to match: there is no int16 HardSwish kernel here, and the
 * .tflite writer refuses an int16 HardSwish and an int16 Clip to [-1, 1] or
 * [0, 1]. The Clip kernel still runs any bounds with QuantizedReluX's
 * arithmetic (what TFLite's int8 RELU_N1_TO_1 does), for graphs that stay in
 * cloudless.
 */
import {
  attrFloat, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor, type ValueInfo,
} from '../../../ir/index.js';
import {
  INT16_MAX, INT16_MIN, clampInt, fl, int16QuantRefusal, multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway, roundingDivideByPOT,
} from '../int8/requantize.js';
import { clipBound, quantizeBound } from '../int8/elementwise.js';
import { opTraits, opsWith } from '../../../ir/ops/traits.js';


/**
 * The output quantization TFLite imposes on int16 outputs: LOGISTIC checks
 * scale == 1/32768 exactly and zero point 0; TANH checks zero point 0 and a
 * scale whose CheckedLog2 is −15 (within 10^-3 of log2 = −15, computed as
 * exactly 2^-15). Every int16 activation also needs input and output zero
 * point 0. Read from the op traits (src/ir/ops/traits.ts), the one home of these.
 */
export const INT16_FIXED_OUTPUT: Readonly<Record<string, { scale: number; zeroPoint: number }>> = Object.freeze(Object.fromEntries(
  [...opsWith((t) => !!t.fixedOutput?.int16)].map((op) => {
    const [scale, zeroPoint] = opTraits(op).fixedOutput!.int16!;
    return [op, Object.freeze({ scale, zeroPoint })];
  }),
));

type Quant = { scale: number; zeroPoint: number };

// ---------------------------------------------------------------------------
// Quantization parameters
// ---------------------------------------------------------------------------

function quantOf(info: ValueInfo | undefined): Quant {
  return { scale: info!.quant!.scale[0]!, zeroPoint: 0 };
}

/**
 * TFLite's CheckedLog2: log2 of a float scale in float arithmetic
 * (logf(x) · (1/logf(2))), rounded half away from zero; the scale counts as
 * a power of two when the fractional part is below 10^-3 in magnitude.
 */
function checkedLog2(x: number): { log2: number; pot: boolean } {
  const log2 = fl(fl(Math.log(x)) * fl(1 / fl(Math.log(2))));
  const rounded = roundHalfAway(log2);
  return { log2: rounded, pot: Math.abs(fl(log2 - rounded)) < fl(1e-3) };
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/**
 * The arithmetic behind a table, for code generators that would rather compute
 * than hold 128 KiB (src/codegen): the fixed-point constants of Relu/Clip and
 * LeakyRelu, or the LUT input stage of Sigmoid/Tanh with TFLite's 256-entry
 * sigmoid table (its uint16 entries as int16 bits, what its integer arithmetic
 * reads). Absent where the table is
 * the only form kept (gemmlowp's 16-bit path of the builtin kernels).
 */
export type Int16UnarySpec =
  | { kind: 'relux'; multiplier: number; shift: number; lo: number; hi: number }
  | { kind: 'leaky'; multiplier: number; shift: number; alphaMultiplier: number; alphaShift: number }
  | { kind: 'sigmoid' | 'tanh'; multiplier: number; shift: number; sigmoidTableBits: Int16Array };

interface TableState { table: Int16Array; spec?: Int16UnarySpec }
interface Built { table: Int16Array; spec?: Int16UnarySpec }

/** Fills a table with `f` of every int16 input (index = input + 32768). */
function tableOf(f: (x: number) => number): Int16Array {
  const t = new Int16Array(65536);
  for (let x = INT16_MIN; x <= INT16_MAX; x++) t[x + 32768] = f(x);
  return t;
}

function runTable(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: TableState): void {
  const x = inputs[0]!.data as Int16Array, y = outputs[0]!.data as Int16Array, t = st.table;
  for (let i = 0; i < x.length; i++) y[i] = t[x[i]! + 32768]!;
}

function unaryKernel(
  op: string, build: (args: PrepareArgs, xq: Quant, yq: Quant, reference: boolean) => Built,
  extraCheck?: (xq: Quant, yq: Quant) => string | undefined,
): KernelDef {
  return defineKernel<TableState>({
    op,
    backend: 'ref',
    dtypes: ['int16'],
    check: (_n, inputs, outputs) => int16QuantRefusal(inputs[0], 'X') ?? int16QuantRefusal(outputs[0], 'the output')
      ?? extraCheck?.(quantOf(inputs[0]), quantOf(outputs[0])),
    prepare(args) {
      const { inputs, outputs, ctx } = args;
      const { table, spec } = build(args, quantOf(inputs[0]), quantOf(outputs[0]), ctx.int8Arithmetic === 'tflite-reference');
      return { state: spec ? { table, spec } : { table }, scratchBytes: table.byteLength };
    },
    run: runTable,
  });
}

// ---------------------------------------------------------------------------
// Relu, Clip, LeakyRelu
// ---------------------------------------------------------------------------

/**
 * TFLite's QuantizedReluX for int16 (RELU, RELU6; the same in the builtin and
 * reference registrations): m = QuantizeMultiplier(fl(s_x / s_y)), then
 * clamp(MultiplyByQuantizedMultiplier(x, m), lo, hi).
 */
function reluXTable(xq: Quant, yq: Quant, lo: number, hi: number): Built {
  const m = quantizeMultiplier(fl(xq.scale / yq.scale));
  return {
    table: tableOf((x) => clampInt(multiplyByQuantizedMultiplier(x, m.multiplier, m.shift), lo, hi)),
    spec: { kind: 'relux', multiplier: m.multiplier, shift: m.shift, lo, hi },
  };
}

/**
 * TFLite's int16 LEAKY_RELU: the builtin kernel (optimized_integer_ops, its
 * scalar loop; LiteRT.js has no AVX2) and the reference one compute the same:
 * QuantizeMultiplier of fl(fl(s_x·alpha)/s_y) below zero and of fl(s_x/s_y)
 * from zero up (float arithmetic: all operands are C floats).
 */
function leakyReluTable(node: Node, xq: Quant, yq: Quant): Built {
  const alpha = fl(attrFloat(node, 'alpha', 0.01));
  const mAlpha = quantizeMultiplier(fl(fl(xq.scale * alpha) / yq.scale));
  const mId = quantizeMultiplier(fl(xq.scale / yq.scale));
  const table = tableOf((x) => {
    const m = x >= 0 ? mId : mAlpha;
    return clampInt(multiplyByQuantizedMultiplier(x, m.multiplier, m.shift), INT16_MIN, INT16_MAX);
  });
  return { table, spec: { kind: 'leaky', multiplier: mId.multiplier, shift: mId.shift, alphaMultiplier: mAlpha.multiplier, alphaShift: mAlpha.shift } };
}

// ---------------------------------------------------------------------------
// Sigmoid and Tanh through TFLite's 256-entry sigmoid table
// ---------------------------------------------------------------------------

/**
 * sigmoid(i/24) in unsigned Q0.16 for i = 0 … 255: TFLite's
 * sigmoid_table_uint16 (also CMSIS-NN's), transcribed. 44 entries differ by
 * one from round(65536·σ(i/24)), so the table cannot be recomputed here.
 */
const SIGMOID_TABLE_U16 = Uint16Array.from([
  32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
  43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
  51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
  57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
  61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
  63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
  64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
  64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
  65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
  65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
  65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
  65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
  65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
  65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
  65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
  65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
]);

/** The same entries as int16 bit patterns (one array, so code generators emit it once). */
const SIGMOID_TABLE_BITS = new Int16Array(SIGMOID_TABLE_U16.buffer);

/**
 * The LUT paths' input stage: (x·m + round) >> k in int32, wrapping like the
 * C code (a large m at shift 0 overflows for scales above ~5.3; TFLite wraps).
 * The result is the input in steps of 1/(3·4096).
 */
function lutInput(x: number, multiplier: number, shift: number): number {
  const round = shift > 0 ? 1 << (shift - 1) : 0;
  return ((Math.imul(x, multiplier) + round) | 0) >> shift;
}

/**
 * The sigmoid table at |v| read with `frac` fraction bits: entry |v| >> frac
 * and the next one, interpolated by the low bits (in units of 2^-frac of an
 * entry), or undefined past the table's last entry.
 */
function sigmoidTableAt(abs: number, frac: number): number | undefined {
  if (abs >= 255 << frac) return undefined;
  const uh = abs >> frac, ua = SIGMOID_TABLE_U16[uh]!, ub = SIGMOID_TABLE_U16[uh + 1]!;
  return ua * (1 << frac) + (abs & ((1 << frac) - 1)) * (ub - ua);
}

/** reference_integer_ops::Logistic (int16) on a rescaled input v: Q0.15 output. */
function sigmoidLut(v: number): number {
  const abs = Math.abs(v); // abs(INT32_MIN) stays 2^31 as a uint32
  const r = sigmoidTableAt(abs, 9) ?? 0x7fff << 10;
  // Round to Q0.15; a negative input mirrors the table (σ(−x) = 1 − σ(x)).
  return (v >= 0 ? r + 512 : (1 << 25) - r + 511) >> 10;
}

/** reference_integer_ops::Tanh (int16) on a rescaled input v: Q0.15 output, tanh(x) = 2σ(2x) − 1. */
function tanhLut(v: number): number {
  const r = sigmoidTableAt(Math.abs(v), 8) ?? 0xffff << 8;
  return (v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1) >> 8;
}

// ---------------------------------------------------------------------------
// gemmlowp's fixed-point logistic and tanh on 16-bit raw values
// ---------------------------------------------------------------------------
//
// TFLite's builtin int16 LOGISTIC/TANH at a power-of-two input scale run
// gemmlowp::logistic / tanh on FixedPoint<int16_t, 3>. fixedpoint.ts holds the
// int32 versions; the 16-bit ones differ in every constant (gemmlowp rounds
// its int32 constants to 16 bits with a rounding shift by 16), in the rounding
// of each product (Q0.15 high multiply), in int16 wraparound of additions, and
// in one saturating addition (exp's last step), so they are spelled out here.

/** int16 wraparound, as a C int16_t assignment does. */
function wrap16(v: number): number {
  return (v << 16) >> 16;
}

/** gemmlowp's constant initializer: an int32 Q0.31 constant rounded to 16 bits. */
function const16(int32Value: number): number {
  return roundingDivideByPOT(int32Value, 16);
}

/** gemmlowp's 16-bit SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^15, truncated. */
function mul16(a: number, b: number): number {
  if (a === INT16_MIN && b === INT16_MIN) return INT16_MAX;
  const ab = a * b;
  return Math.trunc((ab + (ab >= 0 ? 1 << 14 : 1 - (1 << 14))) / 32768);
}

/** x · 2^exponent: saturating for exponent > 0, rounding for exponent < 0 (16-bit). */
function mulPOT16(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = (1 << (15 - exponent)) - 1;
  if (x > threshold) return INT16_MAX;
  if (x < -threshold) return INT16_MIN;
  return x << exponent;
}

const EXP_CONSTANT_TERM = const16(1895147668); // exp(−1/8)
const ONE_THIRD = const16(715827883);
/** exp(−2^k) for k = −2 … 4 with 0 integer bits, rounded to 16 bits. */
const EXP_BARREL16: readonly (readonly [number, number])[] = [
  [-2, const16(1672461947)], [-1, const16(1302514674)], [0, const16(790015084)], [1, const16(290630308)],
  [2, const16(39332535)], [3, const16(720401)], [4, const16(242)],
];
const C48_OVER_17 = const16(1515870810);
const CNEG32_OVER_17 = const16(-1010580540);
const ONE_Q2 = 1 << 13;

/** exp(a) for a in [−1/4, 0), Q0.15. */
function expQuarter16(a: number): number {
  const x = wrap16(a + (1 << 12)); // a + 1/8
  const x2 = mul16(x, x), x3 = mul16(x2, x), x4 = mul16(x2, x2);
  const x4Over4 = mulPOT16(x4, -2);
  const poly = mulPOT16(wrap16(mul16(wrap16(x4Over4 + x3), ONE_THIRD) + x2), -1);
  // The last addition saturates in 16 bits (AddSaturatingIf16Bit).
  return clampInt(EXP_CONSTANT_TERM + mul16(EXP_CONSTANT_TERM, wrap16(x + poly)), INT16_MIN, INT16_MAX);
}

/** exp(a) for a ≤ 0 with `integerBits` integer bits (16-bit raw); Q0.15 result. */
function expNegative16(a: number, integerBits: number): number {
  const fractionalBits = 15 - integerBits;
  const oneQuarter = 1 << (fractionalBits - 2);
  const aModQuarterMinusQuarter = wrap16((a & (oneQuarter - 1)) - oneQuarter);
  let result = expQuarter16(mulPOT16(aModQuarterMinusQuarter, integerBits));
  const remainder = wrap16(aModQuarterMinusQuarter - a);
  for (const [exponent, multiplier] of EXP_BARREL16) {
    if (integerBits > exponent && (remainder & (1 << (fractionalBits + exponent))) !== 0) result = mul16(result, multiplier);
  }
  // integerBits ≤ 4 here, so gemmlowp's clamp below −32 does not apply.
  return a === 0 ? INT16_MAX : result;
}

/** Newton–Raphson for 1/(2·halfDenominator) with 2 integer bits (16-bit raw). */
function reciprocalOfHalfDenominator16(a: number): number {
  // RoundingHalfSum(a, 1.0): (a + 32767 ± 1) / 2, truncated.
  const sum = a + INT16_MAX;
  const halfDenominator = Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
  let x = wrap16(C48_OVER_17 + mul16(halfDenominator, CNEG32_OVER_17));
  for (let i = 0; i < 3; i++) {
    const oneMinus = wrap16(ONE_Q2 - mul16(halfDenominator, x));
    x = wrap16(x + mulPOT16(mul16(x, oneMinus), 2));
  }
  return x;
}

/** gemmlowp::logistic on a 16-bit raw value with `integerBits` integer bits; Q0.15 result. */
function logistic16(a: number, integerBits: number): number {
  if (a === 0) return const16(1 << 30);
  const abs = a > 0 ? a : wrap16(-a); // −(−32768) wraps to itself, as in the C code
  const positive = mulPOT16(reciprocalOfHalfDenominator16(expNegative16(wrap16(-abs), integerBits)), 1);
  return a > 0 ? positive : wrap16(INT16_MAX - positive);
}

/** gemmlowp::tanh on a 16-bit raw value with `integerBits` integer bits; Q0.15 result. */
function tanh16(a: number, integerBits: number): number {
  if (a === 0) return 0;
  const negAbs = a < 0 ? a : wrap16(-a);
  // exp(2·negAbs): the same raw value read with one more integer bit.
  const e = expNegative16(negAbs, integerBits + 1);
  const t = mulPOT16(wrap16(reciprocalOfHalfDenominator16(e) - ONE_Q2), 2);
  return a < 0 ? wrap16(-t) : t;
}

// ---------------------------------------------------------------------------
// Sigmoid and Tanh: prepare
// ---------------------------------------------------------------------------

/**
 * How TFLite's int16 LOGISTIC/TANH prepare an input scale s:
 * - `pot`: CheckedLog2(s) passes and 12 + log2(s) is an allowed left shift
 *   (0 for LOGISTIC, 0 or 1 for TANH); s is then taken as exactly that power
 *   of two, whatever its last bits.
 * - `rescale`: m = s·3·4096 in double, doubled while m ≤ 32767/2 and the shift
 *   ≤ 30 (so at most 31), then truncated to int32; the LUT input is
 *   (x·m + 2^(shift−1)) >> shift.
 */
type InputPlan = { pot: true; leftShift: number } | { pot: false; multiplier: number; shift: number };

function inputPlan(scale: number, maxLeftShift: number): InputPlan {
  const { log2, pot } = checkedLog2(scale);
  const leftShift = 12 + log2;
  if (pot && leftShift >= 0 && leftShift <= maxLeftShift) return { pot: true, leftShift };
  let m = scale * 4096 * 3;
  let shift = 0;
  while (m <= 32767 / 2 && shift <= 30) { shift++; m *= 2; }
  // static_cast<int32_t> truncates; a scale so large that m passes 2^31 is out of TFLite's range too.
  return { pot: false, multiplier: Math.trunc(m) | 0, shift };
}

function lutBuilt(kind: 'sigmoid' | 'tanh', multiplier: number, shift: number): Built {
  const f = kind === 'sigmoid' ? sigmoidLut : tanhLut;
  return { table: tableOf((x) => f(lutInput(x, multiplier, shift))), spec: { kind, multiplier, shift, sigmoidTableBits: SIGMOID_TABLE_BITS } };
}

function sigmoidTable(xq: Quant, reference: boolean): Built {
  const plan = inputPlan(xq.scale, 0);
  if (!plan.pot) return lutBuilt('sigmoid', plan.multiplier, plan.shift);
  // Builtin: gemmlowp on the raw input as Q3.12. Reference: the LUT on 3·x (scale 2^-12 = 3/(3·4096)).
  if (!reference) return { table: tableOf((x) => logistic16(x, 3)) };
  return lutBuilt('sigmoid', 3, 0);
}

function tanhTable(xq: Quant, reference: boolean): Built {
  const plan = inputPlan(xq.scale, 1);
  if (!plan.pot) return lutBuilt('tanh', plan.multiplier, plan.shift);
  const k = plan.leftShift;
  // Builtin: the input is first doubled (saturating) when the scale is 2^-11, then gemmlowp's Q3.12 tanh.
  if (!reference) return { table: tableOf((x) => tanh16(mulPOT16(x, k), 3)) };
  return lutBuilt('tanh', 3 << k, 0);
}

/** check() for Sigmoid: TFLite's LOGISTIC needs output scale exactly 1/32768 (zero points were checked before). */
function sigmoidOutputRefusal(_xq: Quant, yq: Quant): string | undefined {
  if (yq.scale !== INT16_FIXED_OUTPUT.Sigmoid!.scale) {
    return `int16 Sigmoid needs output scale 1/32768 and zero point 0 (TFLite's LOGISTIC), got scale ${yq.scale}; any input scale is taken`;
  }
  return undefined;
}

/** check() for Tanh: TFLite's TANH needs an output scale whose CheckedLog2 is −15 (computed as exactly 2^-15). */
function tanhOutputRefusal(_xq: Quant, yq: Quant): string | undefined {
  const { log2, pot } = checkedLog2(yq.scale);
  if (!pot || log2 !== -15) {
    return `int16 Tanh needs output scale 1/32768 and zero point 0 (TFLite's TANH), got scale ${yq.scale}; any input scale is taken`;
  }
  return undefined;
}

export const int16ActivationKernels: readonly KernelDef[] = [
  unaryKernel('Relu', (_a, xq, yq) => reluXTable(xq, yq, Math.max(INT16_MIN, quantizeBound(0, yq)), INT16_MAX)),
  unaryKernel('Clip', (args, xq, yq) => {
    const lo = clipBound(args, 1, xq, yq), hi = clipBound(args, 2, xq, yq);
    return reluXTable(xq, yq, Math.max(INT16_MIN, lo ?? INT16_MIN), Math.min(INT16_MAX, hi ?? INT16_MAX));
  }),
  unaryKernel('LeakyRelu', ({ node }, xq, yq) => leakyReluTable(node, xq, yq)),
  unaryKernel('Sigmoid', (_a, xq, _yq, reference) => sigmoidTable(xq, reference), sigmoidOutputRefusal),
  unaryKernel('Tanh', (_a, xq, _yq, reference) => tanhTable(xq, reference), tanhOutputRefusal),
];

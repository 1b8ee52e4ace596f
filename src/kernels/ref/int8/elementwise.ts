/**
 * int8 reference kernels for the binary ops Add, Sub, Mul (numpy broadcasting)
 * and the unary ops Relu, Clip, LeakyRelu, HardSwish, Sigmoid and Tanh.
 *
 * A unary int8 op has only 256 possible inputs, so prepare() evaluates the
 * op's arithmetic once per input into a 256-entry table and run() looks each
 * element up. The table is a cache, not an approximation: its entries are
 * computed by exactly the integer (tflite-reference) or float
 * (tflite-xnnpack) path the element itself would take.
 */
import {
  attrFloat, defineKernel, sizeOf, type KernelDef, type Node, type PrepareArgs, type Tensor,
} from '../../../ir/index.js';
import { CloudlessError } from '../../../ir/index.js';
import { forEachRow, planRows, type RowPlan } from '../broadcast.js';
import { tanh as fixedTanh, logistic as fixedLogistic } from './fixedpoint.js';
import {
  INT8_MAX, INT8_MIN, activationRangeQuantized, clampInt, fl, missingQuant, multiplyByQuantizedMultiplier,
  quantizeMultiplier, rne, roundHalfAway, roundingDivideByPOT, tensorQuant,
} from './requantize.js';

// ---------------------------------------------------------------------------
// Add, Sub, Mul
// ---------------------------------------------------------------------------

/**
 * One prepared binary op: `fn(a, b)` maps two raw int8 values to the raw
 * output, with every constant of the chosen arithmetic bound in.
 */
/** A quantized Add, Sub or Mul: the broadcast rows and the raw a, b → raw y function (clamp included). */
export interface BinaryState {
  plan: RowPlan;
  fn: (a: number, b: number) => number;
  /**
   * What `fn` computes, for the C generator (src/codegen folds these constants
   * into its params; it may not import the kernels): the arithmetic (a
   * BinaryArithmetic here, an Int16BinaryArithmetic for 16x8), the zero points
   * and the clamp bounds (z_y already included in them by fn's caller).
   */
  constants?: { arithmetic: BinaryArithmetic | { kind: string }; za: number; zb: number; zy: number; lo: number; hi: number };
}

/** The state of a quantized binary op applying `fn` elementwise with broadcasting (int8 here, int16 in ref/int16/elementwise.ts). */
export function binaryState(inputs: readonly ({ shape: readonly number[] } | undefined)[], outputs: readonly { shape: readonly number[] }[], fn: BinaryState['fn']): { state: BinaryState } {
  return { state: { plan: planRows([inputs[0]!.shape, inputs[1]!.shape], outputs[0]!.shape), fn } };
}

/** Runs a quantized binary op over raw int8 or int16 values. */
export function runBinary(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: BinaryState): void {
  const a = inputs[0]!.data as Int8Array | Int16Array, b = inputs[1]!.data as Int8Array | Int16Array, y = outputs[0]!.data as Int8Array | Int16Array;
  const { plan, fn } = st;
  const as = plan.rowStrides[0]!, bs = plan.rowStrides[1]!, n = plan.rowLength;
  forEachRow(plan, (off, oi) => {
    let ai = off[0]!, bi = off[1]!;
    for (let j = 0; j < n; j++, ai += as, bi += bs) y[oi + j] = fn(a[ai]!, b[bi]!);
  });
}

type Multiplier = { multiplier: number; shift: number };

/**
 * The arithmetic an int8 Add, Sub or Mul runs, with its constants (the wasm
 * kernel builds its tables from the same description):
 * - `radd`, TFLite's reference ADD/SUB: both inputs brought to a common scale
 *   (twice the larger input scale) with 20 bits of headroom (`ma`, `mb`),
 *   summed, and the sum requantized to the output (`my`).
 * - `xadd`, XNNPACK's ADD (INT8.md formula 3): 21-bit multipliers `Ma`, `Mb` on
 *   a shared `shift` chosen from the larger ratio's float32 exponent, the zero
 *   points folded into `K`, and a floor shift: y = ⌊(K + Ma·a + Mb·b) / 2^shift⌋.
 *   SUB is ADD with b's multiplier negated (how XNNPACK builds it; not measured
 *   yet). XNNPACK takes ratios s/s_y in [2^-10, 2^8); outside, TFLite runs `radd`.
 * - `rmul`, TFLite's reference MUL: MBQM((a − z_a)(b − z_b), m).
 * - `xmul`, XNNPACK's MUL: rne(fl(fl((a − z_a)(b − z_b))·fm)) for s_a·s_b/s_y in
 *   [2^-16, 2^8); outside, TFLite runs `rmul`.
 * In every case the result is clamped after adding z_y.
 */
export type BinaryArithmetic =
  | { kind: 'radd'; ma: Multiplier; mb: Multiplier; my: Multiplier; sign: 1 | -1 }
  | { kind: 'xadd'; Ma: number; Mb: number; K: number; shift: number }
  | { kind: 'rmul'; m: Multiplier }
  | { kind: 'xmul'; fm: number };

export function binaryArithmetic(op: 'Add' | 'Sub' | 'Mul', reference: boolean, sa: number, za: number, sb: number, zb: number, sy: number): BinaryArithmetic {
  if (op === 'Mul') {
    const fm = fl(fl(sa * sb) / sy);
    return reference || !(fm >= 2 ** -16 && fm < 2 ** 8) ? { kind: 'rmul', m: quantizeMultiplier((sa * sb) / sy) } : { kind: 'xmul', fm };
  }
  const sign = op === 'Add' ? 1 : -1;
  const ra = fl(sa / sy), rb = fl(sb / sy);
  const inRange = (r: number) => r >= 2 ** -10 && r < 2 ** 8;
  if (reference || !inRange(ra) || !inRange(rb)) {
    const twiceMax = 2 * Math.max(sa, sb);
    return {
      kind: 'radd', sign,
      ma: quantizeMultiplier(sa / twiceMax), mb: quantizeMultiplier(sb / twiceMax), my: quantizeMultiplier(twiceMax / ((1 << 20) * sy)),
    };
  }
  const big = Math.max(ra, rb);
  const e = Math.floor(Math.log2(big));
  // log2 of a float32 power of two is exact, but guard the exponent against rounding anyway.
  const exp = 2 ** e > big ? e - 1 : 2 ** (e + 1) <= big ? e + 1 : e;
  const shift = 20 - exp;
  const pow = 2 ** shift;
  const Ma = rne(ra * pow), Mb = sign * rne(rb * pow);
  return { kind: 'xadd', Ma, Mb, K: 2 ** (shift - 1) - Ma * za - Mb * zb, shift };
}

/** The raw output of two raw int8 inputs under `c`, before z_y and the clamp. */
function binaryFn(c: BinaryArithmetic, za: number, zb: number): (a: number, b: number) => number {
  switch (c.kind) {
    case 'radd': return (a, b) => {
      const va = multiplyByQuantizedMultiplier((a - za) * (1 << 20), c.ma.multiplier, c.ma.shift);
      const vb = multiplyByQuantizedMultiplier((b - zb) * (1 << 20), c.mb.multiplier, c.mb.shift);
      return multiplyByQuantizedMultiplier(va + c.sign * vb, c.my.multiplier, c.my.shift);
    };
    case 'xadd': {
      const pow = 2 ** c.shift;
      return (a, b) => Math.floor((c.K + c.Ma * a + c.Mb * b) / pow);
    }
    case 'rmul': return (a, b) => multiplyByQuantizedMultiplier((a - za) * (b - zb), c.m.multiplier, c.m.shift);
    case 'xmul': return (a, b) => rne(fl(fl((a - za) * (b - zb)) * c.fm));
  }
}

function binaryKernel(op: 'Add' | 'Sub' | 'Mul'): KernelDef {
  return defineKernel<BinaryState>({
    op,
    backend: 'ref',
    dtypes: ['int8'],
    check: (_n, inputs, outputs) => missingQuant([inputs[0], inputs[1], outputs[0]], ['A', 'B', 'the output']),
    prepare({ node, inputs, outputs, ctx }: PrepareArgs) {
      const a = tensorQuant(node, inputs[0], 'A'), b = tensorQuant(node, inputs[1], 'B'), y = tensorQuant(node, outputs[0], 'the output');
      const [lo, hi] = activationRangeQuantized(node, y.scale, y.zeroPoint);
      const c = binaryArithmetic(op, ctx.int8Arithmetic === 'tflite-reference', a.scale, a.zeroPoint, b.scale, b.zeroPoint, y.scale);
      const raw = binaryFn(c, a.zeroPoint, b.zeroPoint), zy = y.zeroPoint;
      const { state } = binaryState(inputs, outputs, (va, vb) => clampInt(raw(va, vb) + zy, lo, hi));
      return { state: { ...state, constants: { arithmetic: c, za: a.zeroPoint, zb: b.zeroPoint, zy, lo, hi } } };
    },
    run: runBinary,
  });
}

// ---------------------------------------------------------------------------
// Unary ops through a 256-entry table
// ---------------------------------------------------------------------------

interface TableState { table: Int8Array }

type Quant = { scale: number; zeroPoint: number };

/** Fills the table with `f` of every int8 input (index = input + 128). */
function tableOf(f: (x: number) => number): Int8Array {
  const t = new Int8Array(256);
  for (let x = INT8_MIN; x <= INT8_MAX; x++) t[x + 128] = f(x);
  return t;
}

/**
 * XNNPACK builds its int8 tables in float: dequantize, apply the function,
 * divide by the output scale, round half to even, add the zero point, clamp.
 */
function floatTable(xq: Quant, yq: Quant, f: (v: number) => number, lo = INT8_MIN, hi = INT8_MAX): Int8Array {
  return tableOf((x) => clampInt(rne(fl(fl(f(fl(xq.scale * (x - xq.zeroPoint)))) / yq.scale)) + yq.zeroPoint, lo, hi));
}

function runTable(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: TableState): void {
  const x = inputs[0]!.data as Int8Array, y = outputs[0]!.data as Int8Array, t = st.table;
  for (let i = 0; i < x.length; i++) y[i] = t[x[i]! + 128]!;
}

function unaryKernel(op: string, build: (args: PrepareArgs, xq: Quant, yq: Quant, reference: boolean) => Int8Array): KernelDef {
  return defineKernel<TableState>({
    op,
    backend: 'ref',
    dtypes: ['int8'],
    check: (_n, inputs, outputs) => missingQuant([inputs[0], outputs[0]], ['X', 'the output']),
    prepare(args) {
      const { node, inputs, outputs, ctx } = args;
      const xq = tensorQuant(node, inputs[0], 'X'), yq = tensorQuant(node, outputs[0], 'the output');
      const table = build(args, xq, yq, ctx.int8Arithmetic === 'tflite-reference');
      return { state: { table }, scratchBytes: table.byteLength };
    },
    run: runTable,
  });
}

/**
 * TFLite's quantized ReluX (RELU, RELU6, RELU_N1_TO_1 and clamps): requantize
 * from the input to the output scale with a fixed-point multiplier, then clamp
 * to the quantized bounds. With equal input and output quantization the
 * multiplier is exactly 1 and this is a plain clamp, which both arithmetics
 * agree on; XNNPACK's handling of differing scales is not measured, so the
 * reference arithmetic is used for both.
 */
function reluXTable(xq: Quant, yq: Quant, lo: number, hi: number): Int8Array {
  const m = quantizeMultiplier(fl(xq.scale / yq.scale));
  return tableOf((x) => clampInt(multiplyByQuantizedMultiplier(x - xq.zeroPoint, m.multiplier, m.shift) + yq.zeroPoint, lo, hi));
}

/** A real bound quantized with the output's scale, as TFLite's QuantizedReluX does (int8 and int16). */
export function quantizeBound(v: number, yq: Quant): number {
  return yq.zeroPoint + roundHalfAway(fl(v / yq.scale));
}

/** Clip's bound i (1 = min, 2 = max) as a raw int8 (or int16) value, or undefined when absent. */
export function clipBound(args: PrepareArgs, i: number, xq: Quant, yq: Quant): number | undefined {
  const v = args.inputs[i];
  if (!v || sizeOf(v.shape) === 0) return undefined;
  const t = v.constant;
  if (!t) {
    throw new CloudlessError('E_UNSUPPORTED', `node ${args.node.name} (Clip): the quantized kernel needs ${i === 1 ? 'min' : 'max'} to be a constant`, { node: args.node.name });
  }
  const raw = Number(t.data[0]!);
  if (t.dtype === 'int8' || t.dtype === 'int16') {
    // A quantized bound is in the input's quantization (ONNX QDQ and TFLite both quantize it with X) unless it carries its own.
    return quantizeBound(fl((raw - (t.quant?.zeroPoint[0] ?? xq.zeroPoint)) * (t.quant?.scale[0] ?? xq.scale)), yq);
  }
  return quantizeBound(raw, yq);
}

/**
 * XNNPACK's int8 LEAKY_RELU (measured against LiteRT.js): the two slopes
 * become 8.8 fixed-point integers, M = rint(256 · r) with r = fl(s_x/s_y) for
 * x ≥ z_x and fl(r · alpha) below, and y = ⌊(M·(x − z_x) + 128) / 256⌋ + z_y
 * (an arithmetic shift, so ties go toward +∞). XNNPACK refuses slopes outside
 * r ∈ [2^-8, 2^7], |r·alpha| ∈ [2^-8, 2^7]; TFLite then runs its integer kernel,
 * and undefined tells the caller to do the same.
 */
function xnnpackLeakyReluTable(xq: Quant, yq: Quant, alpha: number): Int8Array | undefined {
  const positive = fl(xq.scale / yq.scale);
  const negative = fl(positive * alpha);
  if (positive < 2 ** -8 || positive > 2 ** 7) return undefined;
  if (negative > 2 ** 7 || negative < -(2 ** 7 - 2 ** -8) || Math.abs(negative) < 2 ** -8) return undefined;
  const mPos = rne(256 * positive), mNeg = rne(256 * negative);
  return tableOf((x) => {
    const v = x - xq.zeroPoint;
    return clampInt(Math.floor((v * (v >= 0 ? mPos : mNeg) + 128) / 256) + yq.zeroPoint, INT8_MIN, INT8_MAX);
  });
}

/**
 * TFLite's reference int8 HARD_SWISH: the input is moved to a 16-bit "hires"
 * scale (×128), a "reluish" factor relu6(x+3)/6 is formed in Q0.15 with its
 * own 16-bit multiplier, and the product is requantized with a second one.
 */
function referenceHardSwishTable(xq: Quant, yq: Quant): Int8Array {
  const hiresInputScale = fl(fl(1 / 128) * xq.scale);
  const reluishScale = fl(3 / 32768);
  const out = quantizeMultiplier(fl(hiresInputScale / yq.scale));
  const reluish = quantizeMultiplier(fl(hiresInputScale / reluishScale));
  const outM16 = downScaleToInt16(out.multiplier);
  const reluM16 = downScaleToInt16(reluish.multiplier);
  return tableOf((x) => {
    const v = x - xq.zeroPoint;
    const hires = v * 128;
    const preshift = srdhm16(hires, outM16);
    let r = hires;
    if (reluish.shift > 0) r = saturatingLeftShift16(r, reluish.shift - 1);
    r = srdhm16(r, reluM16);
    if (reluish.shift > 0) r = saturatingLeftShift16(r, 1);
    if (reluish.shift < 0) r = roundingDivideByPOT(r, -reluish.shift);
    r = (r + 32768) >> 1;
    const pre = saturatingDoublingHighMul16(r, preshift);
    return clampInt(roundingDivideByPOT(pre, -out.shift) + yq.zeroPoint, INT8_MIN, INT8_MAX);
  });
}

function downScaleToInt16(m: number): number {
  if (m >= 2147483647 - 32768) return 32767;
  return (m + 32768) >> 16;
}

function saturatingLeftShift16(v: number, amount: number): number {
  return clampInt(v * 2 ** amount, -32768, 32767);
}

/** gemmlowp's 16-bit SaturatingRoundingDoublingHighMul. */
function srdhm16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  const ab = a * b;
  return Math.trunc((ab + (ab >= 0 ? 16384 : 1 - 16384)) / 32768);
}

/** TFLite's 16-bit SaturatingDoublingHighMul (no rounding: truncates toward zero). */
function saturatingDoublingHighMul16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  return Math.trunc((a * b) / 32768);
}

function sigmoidFloat(v: number): number {
  return fl(1 / fl(1 + fl(Math.exp(-v))));
}

/**
 * TFLite's reference int8 LOGISTIC / TANH: inputs beyond the range where the
 * result saturates map to the int8 limits; the rest are rescaled to a Q4.27
 * value (4 integer bits) and passed through gemmlowp's fixed-point function.
 */
function fixedPointTable(xq: Quant, f: (q4: number) => number, outShift: number, outZeroPoint: number): Int8Array {
  const inputIntegerBits = 4;
  const real = xq.scale * 2 ** (31 - inputIntegerBits);
  const { multiplier, shift } = quantizeMultiplierRaw(real);
  const radius = Math.floor(((2 ** inputIntegerBits - 1) * 2 ** (31 - inputIntegerBits)) / 2 ** shift);
  return tableOf((x) => {
    const v = x - xq.zeroPoint;
    if (v <= -radius) return INT8_MIN;
    if (v >= radius) return INT8_MAX;
    const q4 = multiplyByQuantizedMultiplier(v, multiplier, shift);
    return clampInt(roundingDivideByPOT(f(q4), outShift) + outZeroPoint, INT8_MIN, INT8_MAX);
  });
}

/**
 * LOGISTIC and TANH prepare their multiplier with frexp and a rounded
 * q · 2^31 cast straight to int32, without QuantizeMultiplier's
 * renormalization of a q that rounds up to 2^31.
 */
function quantizeMultiplierRaw(real: number): { multiplier: number; shift: number } {
  let shift = Math.floor(Math.log2(real)) + 1;
  let q = real / 2 ** shift;
  while (q >= 1) { q /= 2; shift++; }
  while (q < 0.5) { q *= 2; shift--; }
  return { multiplier: roundHalfAway(q * 2147483648) | 0, shift };
}

function requireOutputQuant(op: string, scale: number, zeroPoint: number) {
  return (args: PrepareArgs, yq: Quant): void => {
    if (yq.scale !== fl(scale) || yq.zeroPoint !== zeroPoint) {
      throw new CloudlessError('E_UNSUPPORTED', `node ${args.node.name} (${op}): the tflite-reference int8 kernel needs output scale ${scale} and zero point ${zeroPoint}, got ${yq.scale} and ${yq.zeroPoint}`, {
        node: args.node.name, hint: 'TFLite quantizes int8 LOGISTIC outputs with 1/256, -128 and TANH outputs with 1/128, 0',
      });
    }
  };
}

const sigmoidOutput = requireOutputQuant('Sigmoid', 1 / 256, -128);
const tanhOutput = requireOutputQuant('Tanh', 1 / 128, 0);

export const int8ElementwiseKernels: readonly KernelDef[] = [
  binaryKernel('Add'),
  binaryKernel('Sub'),
  binaryKernel('Mul'),
  unaryKernel('Relu', (_a, xq, yq) => reluXTable(xq, yq, Math.max(INT8_MIN, quantizeBound(0, yq)), INT8_MAX)),
  unaryKernel('Clip', (args, xq, yq) => {
    const lo = clipBound(args, 1, xq, yq), hi = clipBound(args, 2, xq, yq);
    return reluXTable(xq, yq, Math.max(INT8_MIN, lo ?? INT8_MIN), Math.min(INT8_MAX, hi ?? INT8_MAX));
  }),
  unaryKernel('LeakyRelu', ({ node }, xq, yq, reference) => {
    const alpha = fl(attrFloat(node, 'alpha', 0.01));
    const xnnpack = reference ? undefined : xnnpackLeakyReluTable(xq, yq, alpha);
    if (xnnpack) return xnnpack;
    // TFLite's int8 LEAKY_RELU: one multiplier for the identity side, one for alpha (both from float32 scale arithmetic).
    const mAlpha = quantizeMultiplier(fl(fl(xq.scale * alpha) / yq.scale));
    const mId = quantizeMultiplier(fl(xq.scale / yq.scale));
    return tableOf((x) => {
      const v = x - xq.zeroPoint;
      const m = v >= 0 ? mId : mAlpha;
      return clampInt(yq.zeroPoint + multiplyByQuantizedMultiplier(v, m.multiplier, m.shift), INT8_MIN, INT8_MAX);
    });
  }),
  // XNNPACK does not take int8 HARD_SWISH: LiteRT.js runs TFLite's integer kernel, so both modes use it (measured).
  unaryKernel('HardSwish', (_a, xq, yq) => referenceHardSwishTable(xq, yq)),
  unaryKernel('Sigmoid', (args, xq, yq, reference) => {
    if (!reference) return floatTable(xq, yq, sigmoidFloat);
    sigmoidOutput(args, yq);
    return fixedPointTable(xq, (q4) => fixedLogistic(q4, 4), 31 - 8, -128);
  }),
  unaryKernel('Tanh', (args, xq, yq, reference) => {
    if (!reference) return floatTable(xq, yq, (v) => fl(Math.tanh(v)));
    tanhOutput(args, yq);
    return fixedPointTable(xq, (q4) => fixedTanh(q4, 4), 31 - 7, 0);
  }),
];

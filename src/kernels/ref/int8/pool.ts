/**
 * int8 reference kernels for AveragePool, MaxPool (TFLite: input and output
 * share one quantization, so pooling works on raw values) and ReduceMean
 * (requantizes from the input's to the output's quantization).
 */
import {
  attrInt, defineKernel, sizeOf, type KernelDef, type Node, type PrepareArgs, type Tensor, type ValueInfo,
} from '../../../ir/index.js';
import { attrInts } from '../../../ir/attrs.js';
import { resolveReduceAxes } from '../../../ir/ops/reduce.js';
import { forEachRow, planReduction, type RowPlan } from '../broadcast.js';
import { WindowWalk, channelsLastWindow } from '../../../ir/window.js';
import {
  INT8_MAX, INT8_MIN, activationRangeQuantized, clampInt, fl, missingInt16Quant, missingQuant, multiplyByQuantizedMultiplier,
  quantizeMultiplier, rne, tensorQuant,
} from './requantize.js';

// ---------------------------------------------------------------------------
// AveragePool, MaxPool
// ---------------------------------------------------------------------------

/** `lowest` starts a maximum (the element type's lowest value, as TFLite's integer MaxPool starts). */
export interface PoolState { walk: WindowWalk; channels: number; lo: number; hi: number; lowest: number; acc: Int32Array; count: Int32Array }

function checkPool(node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined {
  const missing = missingQuant([inputs[0], outputs[0]], ['X', 'the output']);
  if (missing) return missing;
  const xq = inputs[0]!.quant!, yq = outputs[0]!.quant!;
  if (xq.scale[0] !== yq.scale[0] || xq.zeroPoint[0] !== yq.zeroPoint[0]) {
    return 'int8 pooling needs the output quantized like the input (TFLite requires it)';
  }
  return countIncludePadReason(node, 'int8');
}

/** Why a quantized AveragePool cannot count padded taps (TFLite divides by the taps inside the input), or undefined. */
export function countIncludePadReason(node: Node, dtype: 'int8' | 'int16'): string | undefined {
  if (node.op !== 'AveragePool' || attrInt(node, 'count_include_pad', 0) === 0) return undefined;
  const pads = node.attrs['pads'] === undefined ? [] : attrInts(node, 'pads');
  const autoPad = node.attrs['auto_pad'];
  if (pads.some((p) => p !== 0) || (autoPad !== undefined && autoPad !== 'NOTSET' && autoPad !== 'VALID')) {
    return `${dtype} AveragePool divides by the taps inside the input (TFLite); count_include_pad with padding is not supported`;
  }
  return undefined;
}

/** `range` is the element type's (int8 here; the 16x8 kernels pass int16's). */
export function preparePool(
  { node, inputs, outputs }: PrepareArgs, range: readonly [number, number] = [INT8_MIN, INT8_MAX],
): { state: PoolState; scratchBytes: number } {
  const x = inputs[0]!;
  const { g } = channelsLastWindow(node, x.shape, attrInts(node, 'kernel_shape'), attrInt(node, 'ceil_mode', 0) !== 0);
  const channels = x.shape[x.shape.length - 1]!;
  const yq = tensorQuant(node, outputs[0], 'the output');
  const [lo, hi] = activationRangeQuantized(node, yq.scale, yq.zeroPoint, range);
  const acc = new Int32Array(channels), count = new Int32Array(1);
  return { state: { walk: new WindowWalk(g), channels, lo, hi, lowest: range[0], acc, count }, scratchBytes: acc.byteLength };
}

/** Visits each output pixel: `acc` holds the window's sum (average) or maximum (max) per channel, `count` its in-bounds taps. */
function poolLoop(x: Int8Array | Int16Array, y: Int8Array | Int16Array, st: PoolState, isMax: boolean, finish: (acc: number, taps: number) => number): void {
  const { walk, channels: c, acc } = st;
  let yi = 0;
  for (walk.start(); walk.next(); yi += c) {
    const { kd0, kd1, kh0, kh1, kw0, kw1 } = walk;
    acc.fill(isMax ? st.lowest : 0);
    for (let kd = kd0; kd < kd1; kd++) {
      for (let kh = kh0; kh < kh1; kh++) {
        for (let kw = kw0; kw < kw1; kw++) {
          const xo = walk.inputPixel(kd, kh, kw) * c;
          if (isMax) for (let ch = 0; ch < c; ch++) { const v = x[xo + ch]!; if (v > acc[ch]!) acc[ch] = v; }
          else for (let ch = 0; ch < c; ch++) acc[ch] = acc[ch]! + x[xo + ch]!;
        }
      }
    }
    const taps = walk.taps();
    for (let ch = 0; ch < c; ch++) y[yi + ch] = finish(acc[ch]!, taps);
  }
}

/**
 * TFLite's int8 AVERAGE_POOL_2D (both arithmetics: XNNPACK does not take it):
 * the raw sum over the taps inside the input, divided by their count rounding
 * half away from zero (C's truncating division of a nudged sum). TFLite's
 * int16 AVERAGE_POOL_2D is the same code on int16 values (the 16x8 kernels run this).
 */
export function runAveragePool(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: PoolState): void {
  const { lo, hi } = st;
  poolLoop(inputs[0]!.data as Int8Array | Int16Array, outputs[0]!.data as Int8Array | Int16Array, st, false, (s, n) => {
    const half = (n / 2) | 0;
    return clampInt(Math.trunc(s > 0 ? (s + half) / n : (s - half) / n), lo, hi);
  });
}

export function runMaxPool(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: PoolState): void {
  const { lo, hi } = st;
  poolLoop(inputs[0]!.data as Int8Array | Int16Array, outputs[0]!.data as Int8Array | Int16Array, st, true, (m) => clampInt(m, lo, hi));
}

// ---------------------------------------------------------------------------
// ReduceMean
// ---------------------------------------------------------------------------

export interface MeanState {
  plan: RowPlan;
  n: number;
  sums: Int32Array;
  finish: (sum: number) => number;
  /** The reduced axes of the input (for the C generator). */
  axes?: number[];
  /** What `finish` computes, for the C generator (src/codegen folds it): see meanConstants and the 16x8 int16Mean. */
  constants?: MeanConstants;
}

/**
 * A mean's finishing arithmetic: `truncating`: trunc(S / n); else `float`
 * (XNNPACK): rne(fl(fl(fl(S)·fm) + bias)); else MBQM(S − zx·n, multiplier,
 * shift) + zy; each clamped to [lo, hi].
 */
export interface MeanConstants {
  n: number; zx: number; zy: number; lo: number; hi: number;
  truncating: boolean; float: boolean; multiplier: number; shift: number; fm: number; bias: number;
}

/**
 * The constants of an int8 mean of N values (the sum S of raw int8 values in, one int8 out):
 * - tflite-reference, TFLite Micro's QuantizedMeanOrSum: the input/output
 *   multiplier M·2^shift absorbs 1/N — M is scaled by 2^k (k = ⌊log2 N⌋, capped
 *   so neither overflow nor the shift limit is hit) and divided by N in 64-bit
 *   integers; y = MBQM(S − z_x·N) + z_y. When input and output share scale and
 *   zero point TFLM's EvalIntegerMean takes reference_ops::Mean instead: S / N
 *   in C integers, which truncates toward zero (`truncating`).
 * - tflite-xnnpack, INT8.md formula 4: float32 multiplier `fm` with 1/N folded
 *   in and the zero points folded into one `bias`: y = rne(fl(fl(fl(S)·fm) + bias)).
 * The wasm kernel takes the same constants.
 */
export function meanConstants(sx: number, zx: number, sy: number, zy: number, n: number):
  { multiplier: number; shift: number; truncating: boolean; fm: number; bias: number } {
  const base = quantizeMultiplier(sx / sy);
  let k = Math.floor(Math.log2(n));
  if (2 ** k > n) k--;
  k = Math.min(k, 32, 31 + base.shift);
  const fm = fl(fl(sx / sy) * fl(1 / n));
  return {
    multiplier: Number((BigInt(base.multiplier) << BigInt(k)) / BigInt(n)), shift: base.shift - k,
    truncating: sx === sy && zx === zy,
    fm, bias: fl(zy - fl(fl(n * zx) * fm)),
  };
}

/** The constants the int8 mean of `reference` (or XNNPACK) arithmetic finishes with. */
export function int8MeanConstants(reference: boolean, sx: number, zx: number, sy: number, zy: number, n: number): MeanConstants {
  const c = meanConstants(sx, zx, sy, zy, n);
  return { ...c, n, zx, zy, lo: INT8_MIN, hi: INT8_MAX, truncating: reference && c.truncating, float: !reference };
}

function referenceMean(sx: number, zx: number, sy: number, zy: number, n: number): (sum: number) => number {
  const c = meanConstants(sx, zx, sy, zy, n);
  if (c.truncating) return (sum) => clampInt(Math.trunc(sum / n), INT8_MIN, INT8_MAX);
  return (sum) => clampInt(multiplyByQuantizedMultiplier((sum - zx * n) | 0, c.multiplier, c.shift) + zy, INT8_MIN, INT8_MAX);
}

function xnnpackMean(sx: number, zx: number, sy: number, zy: number, n: number): (sum: number) => number {
  const { fm, bias } = meanConstants(sx, zx, sy, zy, n);
  return (sum) => clampInt(rne(fl(fl(fl(sum) * fm) + bias)), INT8_MIN, INT8_MAX);
}

type MeanQuant = { scale: number; zeroPoint: number };

/**
 * A quantized ReduceMean's reduction plan and sums; `finishOf(n, xq, yq)`
 * gives what turns the sum of a group of n raw values into an output (the
 * int8 arithmetics here, the 16x8 one in ref/int16/data.ts).
 */
export function prepareMeanWith(
  { node, inputs, outputs }: PrepareArgs, finishOf: (n: number, xq: MeanQuant, yq: MeanQuant) => (sum: number) => number,
  constantsOf?: (n: number, xq: MeanQuant, yq: MeanQuant) => MeanConstants,
): { state: MeanState; scratchBytes: number } {
  const x = inputs[0]!;
  const axesInput = inputs[1];
  const axes = resolveReduceAxes(node, x.shape.length, axesInput && sizeOf(axesInput.shape) > 0 ? axesInput.constant : undefined);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  const xq = tensorQuant(node, x, 'X'), yq = tensorQuant(node, outputs[0], 'the output');
  const finish = finishOf(n, xq, yq);
  const sums = new Int32Array(sizeOf(kept));
  return { state: { plan: planReduction(x.shape, kept), n, sums, finish, axes, constants: constantsOf?.(n, xq, yq) }, scratchBytes: sums.byteLength };
}

function prepareMean(args: PrepareArgs): { state: MeanState; scratchBytes: number } {
  const reference = args.ctx.int8Arithmetic === 'tflite-reference';
  return prepareMeanWith(args, (n, xq, yq) => (reference ? referenceMean : xnnpackMean)(xq.scale, xq.zeroPoint, yq.scale, yq.zeroPoint, n),
    (n, xq, yq) => int8MeanConstants(reference, xq.scale, xq.zeroPoint, yq.scale, yq.zeroPoint, n));
}

/** Sums the raw values of each output's group, then `finish` makes each sum an output (int8 or, for the 16x8 kernels, int16). */
export function runMean(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: MeanState): void {
  const x = inputs[0]!.data as Int8Array | Int16Array, y = outputs[0]!.data as Int8Array | Int16Array;
  const { plan, sums, finish } = st;
  sums.fill(0);
  const step = plan.rowStrides[0]!, len = plan.rowLength;
  forEachRow(plan, (off, xi) => {
    let si = off[0]!;
    for (let j = 0; j < len; j++, si += step) sums[si] = sums[si]! + x[xi + j]!;
  });
  for (let i = 0; i < sums.length; i++) y[i] = finish(sums[i]!);
}

/**
 * AveragePool, MaxPool and ReduceMean on quantized `dtype` values: the same
 * runs; the int16 (16x8) kernels bring their own checks and prepares.
 */
export function poolKernels(
  dtype: 'int8' | 'int16',
  checkWindow: KernelDef['check'],
  prepareWindow: (args: PrepareArgs) => { state: PoolState },
  prepareReduce: (args: PrepareArgs) => { state: MeanState; scratchBytes?: number },
): KernelDef[] {
  const missing = dtype === 'int16' ? missingInt16Quant : missingQuant;
  return [
    defineKernel<PoolState>({ op: 'AveragePool', backend: 'ref', dtypes: [dtype], check: checkWindow, prepare: prepareWindow, run: runAveragePool }),
    defineKernel<PoolState>({ op: 'MaxPool', backend: 'ref', dtypes: [dtype], check: checkWindow, prepare: prepareWindow, run: runMaxPool }),
    defineKernel<MeanState>({
      op: 'ReduceMean', backend: 'ref', dtypes: [dtype],
      check: (node, inputs, outputs) => {
        const refused = missing([inputs[0], outputs[0]], ['X', 'the output']);
        if (refused) return refused;
        // TFLite's MEAN imports with noop_with_empty_axes=1 (it reduces nothing for an empty list); with axes given it is moot.
        if (attrInt(node, 'noop_with_empty_axes', 0) !== 0 && (!inputs[1] || sizeOf(inputs[1].shape) === 0)) return `noop_with_empty_axes with empty axes is not supported by the ${dtype === 'int16' ? '16x8' : 'int8'} kernel`;
        return undefined;
      },
      prepare: prepareReduce,
      run: runMean,
    }),
  ];
}

export const int8PoolKernels: readonly KernelDef[] = poolKernels('int8', checkPool, preparePool, prepareMean);

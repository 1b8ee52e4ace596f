/**
 * Bindings of the memory-bound int8 wasm kernels (assembly/i8ops.as.ts) and
 * of Transpose (assembly/data.as.ts): Quantize float32 → int8, Add/Sub/Mul
 * with requantization, the table-driven unary ops (Relu, Clip, LeakyRelu,
 * HardSwish, Sigmoid, Tanh), MaxPool/AveragePool and ReduceMean.
 *
 * Every int8 kernel is bit-exact with its reference kernel in both int8
 * arithmetics: the unary ops reuse the reference's 256-entry tables (built
 * by its prepare()), the others are given the reference's constants. Each
 * kernel takes no more than the reference kernel's check() accepts, minus
 * the shapes below, which fall back to 'ref'.
 */
import {
  CloudlessError, attrInt, attrInts, defineKernel, sizeOf, stridesOf, type KernelDef, type Node, type PrepareArgs, Tensor, type ValueInfo,
} from '../../ir/index.js';
import { windowGeometry } from '../../ir/ops/nn.js';
import { transposePerm } from '../../ir/ops/shape-ops.js';
import { resolveReduceAxes } from '../../ir/ops/reduce.js';
import { binaryArithmetic, int8ElementwiseKernels } from '../ref/int8/elementwise.js';
import { int8PoolKernels, meanConstants } from '../ref/int8/pool.js';
import { int8ResizeKernels } from '../ref/int8/resize.js';
import { int8DataKernels, type ConcatState } from '../ref/int8/data.js';
import {
  INT8_MAX, INT8_MIN, activationRangeQuantized, fl, multiplyByQuantizedMultiplier, tensorQuant,
} from '../ref/int8/requantize.js';
import { geometry3 } from '../../ir/window.js';
import { planStrided } from '../ref/strided-copy.js';
import { regionBytes, spatialRankReason, windowArgs } from './common.js';
import { inHeap, inputAt, outputAt, outputDone } from './place.js';
import { wasmHeap } from './heap.js';
import { MIN_PARALLEL_WORK, chunksFor, runParallel, splitRange, threadsFor, windowRows, type Call } from './threads.js';

/**
 * An elementwise op of n elements in ranges for `threads` threads (inner
 * boundaries multiples of `align`: 64, whole vectors of every path, or rows
 * of a broadcast period), or undefined when it stays on this thread:
 * `call(at, len)` is the range's call. Every element is computed alone, so
 * the ranges give the one thread's bytes. An element costs about what 8
 * multiply-adds of a conv cost (a table lookup against a SIMD int8 MAC), so
 * the op is split from MIN_PARALLEL_WORK / 8 elements on.
 */
function byRanges(n: number, threads: number | undefined, call: (at: number, len: number) => Call, align = 64): Call[][] | undefined {
  const t = threadsFor(threads);
  if (t <= 1 || n < MIN_PARALLEL_WORK / 8) return undefined;
  const cuts = splitRange(n, chunksFor(t), align);
  return cuts.length > 2 ? cuts.slice(1).map((b, s) => [call(cuts[s]!, b - cuts[s]!)]) : undefined;
}

/** The least multiple of 64 and `period`: range boundaries that are whole vectors and whole rows. */
function rowAlign(period: number): number {
  let a = 64, b = period;
  while (b) [a, b] = [b, a % b];
  return (64 / a) * period;
}

import { binaryLayout } from './ops.js';

type Check = NonNullable<KernelDef['check']>;

function refInt8(list: readonly KernelDef[], op: string): KernelDef {
  const k = list.find((d) => d.op === op);
  if (!k) throw new CloudlessError('E_INTERNAL', `no reference int8 ${op} kernel for the wasm kernel to follow`);
  return k;
}

function thenCheck(first: Check | undefined, then: Check): Check {
  return (node, inputs, outputs) => first?.(node, inputs, outputs) ?? then(node, inputs, outputs);
}

/** Per-tensor quantization of the output, or why the wasm kernel cannot use it. */
function perTensorReason(info: ValueInfo | undefined, what: string): string | undefined {
  const q = info?.quant;
  if (!q) return `wasm kernel needs the quantization of ${what} at plan time`;
  return q.scale.length === 1 ? undefined : `wasm kernel takes per-tensor quantization of ${what}, not per-axis`;
}

// ---------------------------------------------------------------------------
// Quantize float32 → int8
// ---------------------------------------------------------------------------

interface QuantizeState { n: number; reference: boolean; s: number; zy: number; yAt: number }

const quantizeKernel = defineKernel<QuantizeState>({
  op: 'Quantize', backend: 'wasm', dtypes: ['float32'],
  check: (node, _inputs, outputs) => (outputs[0]?.dtype === 'int8' ? perTensorReason(outputs[0], `the output of ${node.name}`) : `wasm Quantize writes int8, not ${outputs[0]?.dtype}`),
  prepare({ outputs, ctx }) {
    const n = sizeOf(outputs[0]!.shape);
    const q = outputs[0]!.quant!;
    const reference = ctx.int8Arithmetic === 'tflite-reference';
    const yAt = regionBytes(n, 4);
    wasmHeap().reserveTransient(yAt + regionBytes(n, 1));
    // The reference kernel divides by the scale (reference) or multiplies by fl(1/scale) (xnnpack).
    return { state: { n, reference, s: reference ? q.scale[0]! : fl(1 / q.scale[0]!), zy: q.zeroPoint[0]!, yAt } };
  },
  run(inputs, outputs, _node, st, ctx) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    const r = st.reference ? 1 : 0;
    const parts = byRanges(st.n, ctx.threads, (at, len) => ['quantize_f32_i8', x + at * 4, y + at, len, r, st.s, st.zy, INT8_MIN, INT8_MAX]);
    if (parts) runParallel(parts);
    else heap.exports.quantize_f32_i8(x, y, st.n, r, st.s, st.zy, INT8_MIN, INT8_MAX);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Dequantize int8 → float32
// ---------------------------------------------------------------------------

interface DequantizeState { n: number; zx: number; scale: number; yAt: number }

const dequantizeKernel = defineKernel<DequantizeState>({
  op: 'Dequantize', backend: 'wasm', dtypes: ['int8'],
  check: (node, inputs, outputs) => (outputs[0]?.dtype === 'float32' ? perTensorReason(inputs[0], `the input of ${node.name}`) : `wasm Dequantize writes float32, not ${outputs[0]?.dtype}`),
  prepare({ inputs, outputs }) {
    const n = sizeOf(outputs[0]!.shape);
    const q = inputs[0]!.quant!;
    const yAt = regionBytes(n, 1);
    wasmHeap().reserveTransient(yAt + regionBytes(n, 4));
    return { state: { n, zx: q.zeroPoint[0]!, scale: q.scale[0]!, yAt } };
  },
  run(inputs, outputs, _node, st, ctx) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    const parts = byRanges(st.n, ctx.threads, (at, len) => ['dequantize_i8_f32', x + at, y + at * 4, len, st.zx, st.scale]);
    if (parts) runParallel(parts);
    else heap.exports.dequantize_i8_f32(x, y, st.n, st.zx, st.scale);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Add, Sub, Mul
// ---------------------------------------------------------------------------

const XADD = 0, RADD = 1, RMUL = 2, XMUL = 3;

/** The mode and constants of assembly binary_i8, with the two 256-entry tables (indexed by raw value + 128). */
interface BinaryConstants { mode: number; ta: Int32Array; tb: Int32Array; m: number; shift: number; fm: number }

function tableOf(f: (v: number) => number): Int32Array {
  const t = new Int32Array(256);
  for (let v = INT8_MIN; v <= INT8_MAX; v++) t[v + 128] = f(v);
  return t;
}

/**
 * The reference kernel's arithmetic (binaryArithmetic) as binary_i8's mode,
 * constants and tables: each table holds one operand's share.
 */
function binaryConstants(op: 'Add' | 'Sub' | 'Mul', reference: boolean, sa: number, za: number, sb: number, zb: number, sy: number): BinaryConstants {
  const c = binaryArithmetic(op, reference, sa, za, sb, zb, sy);
  switch (c.kind) {
    case 'rmul': return { mode: RMUL, ta: tableOf((a) => a - za), tb: tableOf((b) => b - zb), m: c.m.multiplier, shift: c.m.shift, fm: 0 };
    case 'xmul': return { mode: XMUL, ta: tableOf((a) => a - za), tb: tableOf((b) => b - zb), m: 0, shift: 0, fm: c.fm };
    case 'radd': return {
      mode: RADD, m: c.my.multiplier, shift: c.my.shift, fm: 0,
      ta: tableOf((a) => multiplyByQuantizedMultiplier((a - za) * (1 << 20), c.ma.multiplier, c.ma.shift)),
      tb: tableOf((b) => c.sign * multiplyByQuantizedMultiplier((b - zb) * (1 << 20), c.mb.multiplier, c.mb.shift)),
    };
    // With the ratios in [2^-10, 2^8) the shift is at most 30 and |Ma|, |Mb| ≤ 2^21, so K + Ma·a stays below 2^31.
    case 'xadd': return { mode: XADD, ta: tableOf((a) => c.K + c.Ma * a), tb: tableOf((b) => c.Mb * b), m: 0, shift: c.shift, fm: 0 };
  }
}

interface BinaryI8State extends BinaryConstants {
  swap: boolean; period: number; n: number; tables: number; bAt: number; yAt: number; zy: number; lo: number; hi: number;
  /** With a constant short operand off the vector paths: `period` tables of 256 outputs, one per position. */
  lut?: number;
  /**
   * A period that is not whole vectors, stretched to lcm(period, 16) bytes:
   * the short operand is repeated that far at bAt, so the kernel runs on the
   * whole-vector path (a channel vector of 24, say, as 48 bytes).
   */
  stretched?: number;
}

/** Longest stretched period (bytes of the repeated short operand). */
const STRETCH_LIMIT = 4096;

/** lcm(period, 16) when that is a stretch worth making for binary_i8's whole-vector path, else undefined. */
function stretchedPeriod(mode: number, period: number, n: number): number | undefined {
  if ((mode !== XADD && mode !== XMUL) || period === 1 || period >= n || period % 16 === 0) return undefined;
  let a = period, b = 16;
  while (b) [a, b] = [b, a % b];
  const p = (period / a) * 16;
  return p <= STRETCH_LIMIT ? p : undefined;
}

/** The short operand's address: with a stretched period, copied to bAt and repeated that far. */
function broadcastOperand(heap: ReturnType<typeof wasmHeap>, t: number, st: BinaryI8State, small: Tensor): number {
  if (st.stretched === undefined) return inputAt(heap, t + st.bAt, small);
  const b = t + st.bAt;
  heap.i8.set(small.data as Int8Array, b);
  for (let at = st.period; at < st.stretched; at += st.period) heap.i8.copyWithin(b + at, b, b + st.period);
  return b;
}

/** Longest constant period looked up in tables rather than computed (64 × 256 B of tables). */
const LUT_PERIOD = 64;

/** Whether binary_i8 takes a vector path for this mode and period (else it computes element by element). */
function vectorPath(mode: number, period: number, n: number): boolean {
  return (mode === XADD || mode === XMUL) &&
    (period === 1 || period === n || period % 16 === 0 || (period >= 16 && n % period === 0) || stretchedPeriod(mode, period, n) !== undefined);
}

/**
 * The output for every int8 value of the full operand at every position of
 * the constant one's period, computed by the reference kernel itself on a
 * [256, period] input: the tables give its bytes by construction.
 */
function lutTables(ref: KernelDef, args: PrepareArgs, swap: boolean, period: number): Int8Array {
  const { node, inputs, outputs, ctx } = args;
  const full = inputs[swap ? 1 : 0]!, small = inputs[swap ? 0 : 1]!;
  const grid = new Tensor('int8', [256, period], Int8Array.from({ length: 256 * period }, (_, i) => Math.floor(i / period) - 128), full.quant);
  const constant = small.constant!;
  const flat = new Tensor('int8', [period], constant.data as Int8Array, constant.quant);
  const synthetic = swap ? [flat, grid] : [grid, flat];
  const infos = synthetic.map((t) => ({ dtype: t.dtype, shape: [...t.shape], quant: t.quant, constant: t }));
  const out = { ...outputs[0]!, shape: [256, period] };
  const prepared = ref.prepare?.({ node, inputs: infos, outputs: [out], ctx });
  const y = new Tensor('int8', [256, period], undefined, outputs[0]!.quant);
  ref.run(synthetic, [y], node, prepared?.state, ctx);
  // Position-major: table j holds the outputs of position j for x = -128..127.
  const t = new Int8Array(256 * period);
  const yd = y.data as Int8Array;
  for (let v = 0; v < 256; v++) for (let j = 0; j < period; j++) t[j * 256 + v] = yd[v * period + j]!;
  return t;
}

function binaryI8Kernel(op: 'Add' | 'Sub' | 'Mul'): KernelDef {
  const ref = refInt8(int8ElementwiseKernels, op);
  return defineKernel<BinaryI8State>({
    op, backend: 'wasm', dtypes: ['int8'],
    check: thenCheck(ref.check, (node, inputs, outputs) => {
      const why = perTensorReason(inputs[0], 'A') ?? perTensorReason(inputs[1], 'B') ?? perTensorReason(outputs[0], 'the output');
      if (why) return why;
      return binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)
        ? undefined : `wasm int8 ${node.op} takes same-shape, scalar or trailing-vector broadcasting`;
    }),
    prepare(args: PrepareArgs) {
      const { node, inputs, outputs, ctx } = args;
      const aq = tensorQuant(node, inputs[0], 'A'), bq = tensorQuant(node, inputs[1], 'B'), yq = tensorQuant(node, outputs[0], 'the output');
      const [lo, hi] = activationRangeQuantized(node, yq.scale, yq.zeroPoint);
      const n = sizeOf(outputs[0]!.shape);
      const { swap, period } = binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)!;
      const c = binaryConstants(op, ctx.int8Arithmetic === 'tflite-reference', aq.scale, aq.zeroPoint, bq.scale, bq.zeroPoint, yq.scale);
      const heap = wasmHeap();
      const tables = heap.alloc(2048);
      // The kernel walks the full-size operand with the first table: a swapped pair swaps the tables.
      heap.i32.set(swap ? c.tb : c.ta, tables >> 2);
      heap.i32.set(swap ? c.ta : c.tb, (tables >> 2) + 256);
      const stretched = stretchedPeriod(c.mode, period, n);
      const bAt = regionBytes(n, 1), yAt = bAt + regionBytes(stretched ?? period, 1);
      heap.reserveTransient(yAt + regionBytes(n, 1));
      const state: BinaryI8State = { ...c, swap, period, n, tables, bAt, yAt, zy: yq.zeroPoint, lo, hi };
      const small = inputs[swap ? 0 : 1]!;
      // A constant scalar is one table lookup per byte (table_i8, sixteen at once), faster than computing it.
      if (small.constant && period <= LUT_PERIOD && period < n && (period === 1 || !vectorPath(c.mode, period, n))) {
        state.lut = heap.alloc(256 * period);
        heap.i8.set(lutTables(ref, args, swap, period), state.lut);
      }
      else if (stretched !== undefined) state.stretched = stretched;
      heap.freeWith(state, state.lut === undefined ? [tables] : [tables, state.lut]);
      return { state, scratchBytes: 2048 + (state.lut === undefined ? 0 : 256 * period) };
    },
    run(inputs, outputs, _node, st, ctx) {
      const heap = wasmHeap();
      const t = heap.transient;
      const [full, small] = st.swap ? [inputs[1]!, inputs[0]!] : [inputs[0]!, inputs[1]!];
      const a = inputAt(heap, t, full), y = outputAt(heap, t + st.yAt, outputs[0]!);
      // Split by ranges: a scalar table, a scalar operand or two of one shape (b advancing with a).
      const lut = st.lut;
      let b0: number | undefined;
      const parts = lut !== undefined
        ? st.period === 1 ? byRanges(st.n, ctx.threads, (at, len) => ['table_i8', a + at, y + at, len, lut])
          // A table per position in the period: ranges of whole periods, each starting at the first table.
          : byRanges(st.n, ctx.threads, (at, len) => ['lut_rows_i8', a + at, y + at, len, st.period, lut], rowAlign(st.period))
        : st.stretched === undefined && (st.period === 1 || st.period === st.n)
          ? byRanges(st.n, ctx.threads, (at, len) => {
            b0 ??= inputAt(heap, t + st.bAt, small);
            return ['binary_i8', st.mode, a + at, b0 + (st.period === 1 ? 0 : at), y + at, len, st.period === 1 ? 1 : len,
              st.tables, st.tables + 1024, st.m, st.shift, st.fm, st.zy, st.lo, st.hi];
          })
          // b repeats every period (stretched to whole vectors or not): ranges of whole periods, b from its start.
          : byRanges(st.n, ctx.threads, (at, len) => {
            b0 ??= broadcastOperand(heap, t, st, small);
            return ['binary_i8', st.mode, a + at, b0, y + at, len, st.stretched ?? st.period,
              st.tables, st.tables + 1024, st.m, st.shift, st.fm, st.zy, st.lo, st.hi];
          }, rowAlign(st.stretched ?? st.period));
      if (parts) runParallel(parts);
      else if (st.lut !== undefined && st.period === 1) heap.exports.table_i8(a, y, st.n, st.lut);
      else if (st.lut !== undefined) heap.exports.lut_rows_i8(a, y, st.n, st.period, st.lut);
      else if (st.stretched !== undefined) {
        const b = broadcastOperand(heap, t, st, small);
        heap.exports.binary_i8(st.mode, a, b, y, st.n, st.stretched, st.tables, st.tables + 1024, st.m, st.shift, st.fm, st.zy, st.lo, st.hi);
      } else heap.exports.binary_i8(st.mode, a, inputAt(heap, t + st.bAt, small), y, st.n, st.period, st.tables, st.tables + 1024, st.m, st.shift, st.fm, st.zy, st.lo, st.hi);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// Unary ops: the reference kernel's table, looked up in wasm
// ---------------------------------------------------------------------------

interface TableI8State { n: number; table: number; yAt: number }

function tableKernel(op: string): KernelDef {
  const ref = refInt8(int8ElementwiseKernels, op);
  return defineKernel<TableI8State>({
    op, backend: 'wasm', dtypes: ['int8'],
    check: ref.check,
    prepare(args) {
      const refTable = (ref.prepare!(args).state as { table: Int8Array }).table;
      const heap = wasmHeap();
      const n = sizeOf(args.outputs[0]!.shape);
      const state: TableI8State = { n, table: heap.alloc(256), yAt: regionBytes(n, 1) };
      heap.freeWith(state, [state.table]);
      heap.i8.set(refTable, state.table);
      heap.reserveTransient(2 * state.yAt);
      return { state, scratchBytes: 256 };
    },
    run(inputs, outputs, _node, st, ctx) {
      const heap = wasmHeap();
      const t = heap.transient;
      const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
      const parts = byRanges(st.n, ctx.threads, (at, len) => ['table_i8', x + at, y + at, len, st.table]);
      if (parts) runParallel(parts);
      else heap.exports.table_i8(x, y, st.n, st.table);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// MaxPool, AveragePool
// ---------------------------------------------------------------------------

export interface PoolWasmState { args: number[]; lo: number; hi: number; yAt: number }

/**
 * prepare() of the wasm pools over NHWC (int8 here, int16 in int16ops.ts):
 * the window as pool_i8/pool_i16 take it, the fused activation's range in
 * the element type, and room for input and output (`bytes` per element).
 */
export function preparePoolWasm({ node, inputs, outputs }: PrepareArgs, bytes: number, range: readonly [number, number]): PoolWasmState {
  const x = inputs[0]!;
  const r = x.shape.length - 2;
  const inSpatial = x.shape.slice(1, r + 1);
  const g = geometry3(x.shape[0]!, inSpatial, windowGeometry(node, inSpatial, attrInts(node, 'kernel_shape'), attrInt(node, 'ceil_mode', 0) !== 0));
  const yq = tensorQuant(node, outputs[0], 'the output');
  const [lo, hi] = activationRangeQuantized(node, yq.scale, yq.zeroPoint, range);
  const yAt = regionBytes(sizeOf(x.shape), bytes);
  wasmHeap().reserveTransient(yAt + regionBytes(sizeOf(outputs[0]!.shape), bytes));
  return { args: [g.batch, g.inH, g.inW, x.shape[x.shape.length - 1]!, ...windowArgs(g)], lo, hi, yAt };
}

type PoolExport = 'pool_i8' | 'pool_i16';

/**
 * run() of the wasm pools: `kernel` is the export for the element type
 * (`bytes` each). With threads, by output rows (windowRows: a piece of image
 * n's rows oh0 … is a one-image pool of those rows whose top padding is
 * pH − oh0·sH); every output element is its own window's, wherever it runs.
 */
export function runPoolWasm(kernel: PoolExport, bytes: number, inputs: readonly (Tensor | undefined)[], outputs: Tensor[], node: Node, st: PoolWasmState,
  threads: number | undefined): void {
  const heap = wasmHeap();
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const [batch, inH, inW, c, outH, outW, kH, kW, sH, sW, dH, dW, pH, pW] = st.args as [number, number, number, number, number, number, number,
    number, number, number, number, number, number, number];
  const isMax = node.op === 'MaxPool' ? 1 : 0;
  const n = threadsFor(threads);
  if (n > 1 && sizeOf(outputs[0]!.shape) * kH * kW >= MIN_PARALLEL_WORK) {
    const inImage = inH * inW * c * bytes, yRow = outW * c * bytes;
    runParallel(windowRows(batch, outH, n, (img, oh0, rows) => [
      kernel, isMax, x + img * inImage, 1, inH, inW, c, rows, outW, kH, kW, sH, sW, dH, dW, pH - oh0 * sH, pW, y + (img * outH + oh0) * yRow, st.lo, st.hi,
    ]));
  } else {
    heap.exports[kernel](isMax, x, batch, inH, inW, c, outH, outW, kH, kW, sH, sW, dH, dW, pH, pW, y, st.lo, st.hi);
  }
  outputDone(heap, y, outputs[0]!);
}

function poolI8Kernel(op: 'MaxPool' | 'AveragePool'): KernelDef {
  const ref = refInt8(int8PoolKernels, op);
  return defineKernel<PoolWasmState>({
    op, backend: 'wasm', dtypes: ['int8'],
    check: thenCheck(ref.check, (_node, inputs) => spatialRankReason(inputs[0])),
    prepare: (args) => ({ state: preparePoolWasm(args, 1, [INT8_MIN, INT8_MAX]) }),
    run: (inputs, outputs, node, st, ctx) => runPoolWasm('pool_i8', 1, inputs, outputs, node, st, ctx.threads),
  });
}

// ---------------------------------------------------------------------------
// ReduceMean
// ---------------------------------------------------------------------------

/**
 * The reduction as X viewed [outer, red, inner], or undefined when the
 * reduced axes (ignoring size-1 axes) are not one contiguous block.
 */
export function reductionBlock(shape: readonly number[], axes: readonly number[]): { outer: number; red: number; inner: number } | undefined {
  const big = shape.map((_d, i) => i).filter((i) => shape[i]! > 1);
  const reduced = big.filter((i) => axes.includes(i));
  if (reduced.length === 0) return undefined;
  const first = big.indexOf(reduced[0]!);
  if (big.slice(first, first + reduced.length).some((i, k) => i !== reduced[k])) return undefined;
  const prod = (l: number[]) => l.reduce((p, i) => p * shape[i]!, 1);
  return { outer: prod(big.slice(0, first)), red: prod(reduced), inner: prod(big.slice(first + reduced.length)) };
}

type MeanI8State =
  | { wasm: true; outer: number; red: number; inner: number; mode: number; m: number; shift: number; fm: number; bias: number; zx: number; zy: number; sumsAt: number; yAt: number }
  | { wasm: false; refState: unknown };

const refMean = refInt8(int8PoolKernels, 'ReduceMean');

/**
 * Constants of the reference kernel's two finishes (src/kernels/ref/int8/pool.ts):
 * TFLite's QuantizedMeanOrSum multiplier with 1/N folded in, or XNNPACK's float
 * multiplier and bias. A reduction whose axes are not one block (rare: the
 * axes are known only at prepare time) runs the reference kernel's loop.
 */
const meanI8Kernel = defineKernel<MeanI8State>({
  op: 'ReduceMean', backend: 'wasm', dtypes: ['int8'],
  check: thenCheck(refMean.check, (node, inputs, outputs) =>
    perTensorReason(inputs[0], 'X') ?? perTensorReason(outputs[0], `the output of ${node.name}`)),
  prepare(args) {
    const { node, inputs, outputs, ctx } = args;
    const x = inputs[0]!;
    const axesInput = inputs[1];
    const axes = resolveReduceAxes(node, x.shape.length, axesInput && sizeOf(axesInput.shape) > 0 ? axesInput.constant : undefined);
    const block = reductionBlock(x.shape, axes);
    // Sums of up to 2^23 int8 values stay exact in int32.
    if (!block || block.red >= 2 ** 23) {
      const p = refMean.prepare!(args);
      return { state: { wasm: false, refState: p.state }, scratchBytes: p.scratchBytes };
    }
    const xq = tensorQuant(node, x, 'X'), yq = tensorQuant(node, outputs[0], 'the output');
    const c = meanConstants(xq.scale, xq.zeroPoint, yq.scale, yq.zeroPoint, block.red);
    const sumsAt = regionBytes(sizeOf(x.shape), 1);
    const yAt = sumsAt + regionBytes(block.inner, 4);
    wasmHeap().reserveTransient(yAt + regionBytes(sizeOf(outputs[0]!.shape), 1));
    return {
      state: {
        wasm: true, ...block,
        mode: ctx.int8Arithmetic !== 'tflite-reference' ? 0 : c.truncating ? 2 : 1,
        m: c.multiplier, shift: c.shift, fm: c.fm, bias: c.bias, zx: xq.zeroPoint, zy: yq.zeroPoint, sumsAt, yAt,
      },
    };
  },
  run(inputs, outputs, node, st, ctx) {
    if (!st.wasm) { refMean.run(inputs, outputs, node, st.refState, ctx); return; }
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.mean_i8(x, st.outer, st.red, st.inner, t + st.sumsAt, y, st.mode, st.m, st.shift, st.fm, st.bias, st.zx, st.zy);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Transpose (1- and 4-byte elements)
// ---------------------------------------------------------------------------

interface TransposeState { bytes: number; dims: number[]; strides: number[]; tiled: boolean; n: number; yAt: number }

const TRANSPOSE_DTYPES = ['float32', 'int32', 'int8', 'uint8', 'bool'] as const;

/** The output shape and input strides of the permutation, simplified and left-padded to four axes, or undefined past four. */
function transposePlan(node: Node, shape: readonly number[]): { dims: number[]; strides: number[] } | undefined {
  const perm = transposePerm(node, shape.length);
  const inStrides = stridesOf(shape);
  const plan = planStrided(perm.map((p) => shape[p]!), perm.map((p) => inStrides[p]!));
  if (plan.shape.length > 4) return undefined;
  const pad = 4 - plan.shape.length;
  return { dims: [...Array(pad).fill(1), ...plan.shape], strides: [...Array(pad).fill(0), ...plan.strides] };
}

const transposeKernel = defineKernel<TransposeState>({
  op: 'Transpose', backend: 'wasm', dtypes: TRANSPOSE_DTYPES,
  check: (node, inputs) => (transposePlan(node, inputs[0]!.shape) ? undefined : 'wasm Transpose takes permutations that simplify to four axes or fewer'),
  prepare({ node, inputs }) {
    const x = inputs[0]!;
    const { dims, strides } = transposePlan(node, x.shape)!;
    const bytes = x.dtype === 'float32' || x.dtype === 'int32' ? 4 : 1;
    const n = sizeOf(x.shape);
    // The last two axes are a matrix transpose of a contiguous block when the input walks them as (1, d2).
    const tiled = strides[2] === 1 && strides[3] === dims[2];
    const yAt = regionBytes(n, bytes);
    wasmHeap().reserveTransient(2 * yAt);
    return { state: { bytes, dims, strides, tiled, n, yAt } };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const t = heap.transient;
    const xp = inputAt(heap, t, inputs[0]!), yp = outputAt(heap, t + st.yAt, outputs[0]!);
    const [d0, d1, d2, d3] = st.dims as [number, number, number, number];
    const [s0, s1, s2, s3] = st.strides as [number, number, number, number];
    heap.exports.transpose(xp, yp, st.bytes, d0, d1, d2, d3, s0, s1, s2, s3, st.tiled ? 1 : 0);
    outputDone(heap, yp, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Resize (nearest, bilinear) over H and W of NHWC
// ---------------------------------------------------------------------------

const refResize = refInt8(int8ResizeKernels, 'Resize');

/** What the reference kernel prepares that this one reads: the resized axes and their tap tables. */
interface RefResizeState { linear: boolean; reference: boolean; axes: number[]; taps: { lo: Int32Array; hi: Int32Array; weight: Int32Array }[] }

/**
 * Copies the reference Resize's tap tables into the wasm heap as the int8 and int16 kernels read
 * them: lo, hi, weight for H, then for W (an axis that is not resized gets the identity taps).
 * Returns the tables' address; they take 12 · (outH + outW) bytes.
 */
export function resizeTapTables(ref: Pick<RefResizeState, 'axes' | 'taps'>, outH: number, outW: number): number {
  const axis = (a: number, out: number) => {
    const k = ref.axes.indexOf(a);
    if (k >= 0) return ref.taps[k]!;
    const id = Int32Array.from({ length: out }, (_, i) => i);
    return { lo: id, hi: id, weight: new Int32Array(out) };
  };
  const h = axis(1, outH), w = axis(2, outW);
  const heap = wasmHeap();
  const tables = heap.alloc(12 * (outH + outW));
  let at = tables >> 2;
  for (const t of [h.lo, h.hi, h.weight, w.lo, w.hi, w.weight]) { heap.i32.set(t, at); at += t.length; }
  return tables;
}

interface ResizeI8State { dims: [number, number, number, number, number, number]; tables: number; mode: number; yAt: number }

const resizeI8Kernel = defineKernel<ResizeI8State>({
  op: 'Resize', backend: 'wasm', dtypes: ['int8'],
  check: thenCheck(refResize.check, (node, inputs, outputs) => {
    const x = inputs[0]!, y = outputs[0]!;
    if (x.shape.length !== 4) return `wasm int8 Resize takes rank-4 NHWC, not rank ${x.shape.length}`;
    return x.shape[0] === y.shape[0] && x.shape[3] === y.shape[3] ? undefined : `wasm int8 Resize resizes H and W only (node ${node.name})`;
  }),
  prepare(args) {
    // The reference kernel computes the taps; this kernel runs the same tables.
    const ref = refResize.prepare!(args).state as RefResizeState;
    const [batch, inH, inW, c] = args.inputs[0]!.shape as [number, number, number, number];
    const [, outH, outW] = args.outputs[0]!.shape as [number, number, number, number];
    const heap = wasmHeap();
    const tables = resizeTapTables(ref, outH, outW);
    const yAt = regionBytes(batch * inH * inW * c, 1);
    heap.reserveTransient(yAt + regionBytes(batch * outH * outW * c, 1));
    const state: ResizeI8State = { dims: [batch, inH, inW, c, outH, outW], tables, mode: !ref.linear ? 0 : ref.reference ? 2 : 1, yAt };
    heap.freeWith(state, [tables]);
    return { state, scratchBytes: 12 * (outH + outW) };
  },
  run(inputs, outputs, _node, st, ctx) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    const [batch, inH, inW, c, outH, outW] = st.dims;
    const hb = st.tables, wb = st.tables + 12 * outH;
    const threads = threadsFor(ctx.threads);
    // With threads, by output rows: a piece of image n's rows oh0 … is a one-image resize of those rows reading the
    // rows' own entries of the H tables (absolute input rows), so every output pixel is computed as on one thread.
    if (threads > 1 && batch * outH * outW * c * 8 >= MIN_PARALLEL_WORK) {
      const inImage = inH * inW * c, yRow = outW * c;
      runParallel(windowRows(batch, outH, threads, (n, oh0, rows) => [
        'resize_i8', x + n * inImage, 1, inH, inW, c, rows, outW, hb + 4 * oh0, hb + 4 * outH + 4 * oh0, hb + 8 * outH + 4 * oh0,
        wb, wb + 4 * outW, wb + 8 * outW, y + (n * outH + oh0) * yRow, st.mode,
      ]));
    } else {
      heap.exports.resize_i8(x, batch, inH, inW, c, outH, outW, hb, hb + 4 * outH, hb + 8 * outH, wb, wb + 4 * outW, wb + 8 * outW, y, st.mode);
    }
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Concat: the reference kernel's requantization tables, rows copied in wasm
// ---------------------------------------------------------------------------

interface ConcatI8State { ref: ConcatState; tables: number[] }

const refConcat = refInt8(int8DataKernels, 'Concat');

/**
 * int8 Concat over the channels (or any axis): inputs quantized like the
 * output are copied row by row, the others go through the 256-entry table the
 * reference kernel builds (so both give the same bytes). Tensors outside the
 * module's memory (a JavaScript arena) take the reference loop: copying them
 * in and out would cost more than the concatenation.
 */
const concatI8Kernel = defineKernel<ConcatI8State>({
  op: 'Concat', backend: 'wasm', dtypes: ['int8'],
  check: refConcat.check,
  prepare(args) {
    const ref = refConcat.prepare!(args).state as ConcatState;
    const heap = wasmHeap();
    const tables = ref.tables.map((t) => {
      if (!t) return 0;
      const at = heap.alloc(256);
      heap.i8.set(t, at);
      return at;
    });
    const state: ConcatI8State = { ref, tables };
    heap.freeWith(state, tables.filter((t) => t !== 0));
    return { state, scratchBytes: 256 * tables.filter((t) => t !== 0).length };
  },
  run(inputs, outputs, node, st, ctx) {
    const heap = wasmHeap();
    const present = inputs.filter((t): t is Tensor => t !== undefined);
    if (!inHeap(heap, outputs[0]!) || !present.every((t) => inHeap(heap, t))) {
      refConcat.run(inputs, outputs, node, st.ref, ctx);
      return;
    }
    const { blocks, outBlock, outer } = st.ref;
    const y = outputs[0]!.data.byteOffset;
    let start = 0;
    present.forEach((t, k) => {
      const block = blocks[k]!;
      if (st.tables[k]) heap.exports.table_rows_i8(y + start, t.data.byteOffset, outer, block, outBlock, block, st.tables[k]!);
      else heap.exports.copy_rows(y + start, t.data.byteOffset, outer, block, outBlock, block);
      start += block;
    });
  },
});

export const wasmInt8OpKernels: readonly KernelDef[] = [
  concatI8Kernel,
  resizeI8Kernel,
  quantizeKernel, dequantizeKernel,
  binaryI8Kernel('Add'), binaryI8Kernel('Sub'), binaryI8Kernel('Mul'),
  ...['Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh'].map(tableKernel),
  poolI8Kernel('MaxPool'), poolI8Kernel('AveragePool'),
  meanI8Kernel,
  transposeKernel,
];


/**
 * Bindings of the 16x8 elementwise wasm kernels (assembly/i16ops.as.ts):
 * Add, Sub and Mul on int16 (same shape, scalar or trailing-vector
 * broadcasting), Quantize float32 → int16, Dequantize int16 → float32
 * (per-tensor, zero point 0) and Resize of H and W in NHWC (the reference's
 * own tap tables). Each takes exactly what its reference kernel
 * takes (ref/int16/elementwise.ts, ref/quant.ts) minus other broadcasts and
 * per-axis quantization, and reuses the reference's prepare-time constants
 * (int16BinaryArithmetic), so the two compute the same bytes.
 */
import { CloudlessError, attrInts, defineKernel, sizeOf, type KernelDef, type PrepareArgs, type Tensor, type ValueInfo } from '../../ir/index.js';
import { int16ActivationKernels } from '../ref/int16/activation.js';
import { int16DataKernels } from '../ref/int16/data.js';
import { int16BinaryArithmetic, int16ElementwiseKernels } from '../ref/int16/elementwise.js';
import type { ConcatState } from '../ref/int8/data.js';
import type { MeanState } from '../ref/int8/pool.js';
import type { ResizeState } from '../ref/int8/resize.js';
import { type PoolWasmState, preparePoolWasm, reductionBlock, resizeTapTables, runPoolWasm } from './int8ops.js';
import { INT16_MAX, INT16_MIN, activationRangeQuantized, tensorQuant } from '../ref/int8/requantize.js';
import { regionBytes, spatialRankReason } from './common.js';
import { wasmHeap } from './heap.js';
import { binaryLayout } from './ops.js';
import { inHeap, inputAt, outputAt, outputDone } from './place.js';

declare module './heap.js' {
  /** The 16x8 kernels of assembly/i16ops.as.ts this file adds (to move into heap.ts's list). */
  interface KernelExports {
    table_i16(x: number, y: number, n: number, table: number): void;
    mean_i16(x: number, outer: number, red: number, inner: number, sums: number, y: number, mode: number, m: number, shift: number): void;
    pool_i16(isMax: number, x: number, batch: number, inH: number, inW: number, c: number,
      outH: number, outW: number, kH: number, kW: number, sH: number, sW: number, dH: number, dW: number, pH: number, pW: number,
      y: number, lo: number, hi: number): void;
  }
}

/** A check() reason unless `info` is per-tensor int16 with zero point 0. */
function symmetricReason(info: ValueInfo | undefined, what: string): string | undefined {
  const q = info?.quant;
  if (!q) return `wasm kernel needs the quantization of ${what} at plan time`;
  if (q.scale.length !== 1) return `wasm kernel takes per-tensor quantization of ${what}, not per-axis`;
  return q.zeroPoint[0] === 0 ? undefined : `wasm 16x8 kernel needs ${what} with zero point 0`;
}

interface BinaryI16State {
  kind: number; swap: boolean; period: number; n: number; bAt: number; yAt: number;
  sign: number; ma: number; sa: number; mb: number; sb: number; my: number; sy: number; lo: number; hi: number;
}

function binaryKernel(op: 'Add' | 'Sub' | 'Mul'): KernelDef {
  const ref = int16ElementwiseKernels.find((k) => k.op === op)!;
  return defineKernel<BinaryI16State>({
    op, backend: 'wasm', dtypes: ['int16'],
    check(node, inputs, outputs) {
      const reason = ref.check?.(node, inputs, outputs);
      if (reason) return reason;
      return binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)
        ? undefined : `wasm int16 ${op} takes same-shape, scalar or trailing-vector broadcasting`;
    },
    prepare({ node, inputs, outputs, ctx }: PrepareArgs) {
      const a = tensorQuant(node, inputs[0], 'A'), b = tensorQuant(node, inputs[1], 'B'), yq = tensorQuant(node, outputs[0], 'the output');
      const [lo, hi] = activationRangeQuantized(node, yq.scale, 0, [INT16_MIN, INT16_MAX]);
      const c = int16BinaryArithmetic(node, op, ctx.int8Arithmetic === 'tflite-reference', a.scale, b.scale, yq.scale);
      const n = sizeOf(outputs[0]!.shape);
      const { swap, period } = binaryLayout(inputs[0]!.shape, inputs[1]!.shape, outputs[0]!.shape)!;
      const bAt = regionBytes(n, 2), yAt = bAt + regionBytes(period, 2);
      wasmHeap().reserveTransient(yAt + regionBytes(n, 2));
      const base = { kind: c.kind === 'add' ? 0 : 1, swap, period, n, bAt, yAt, lo, hi };
      const state: BinaryI16State = c.kind === 'add'
        ? { ...base, sign: c.sign, ma: c.ma.multiplier, sa: c.ma.shift, mb: c.mb.multiplier, sb: c.mb.shift, my: c.my.multiplier, sy: c.my.shift }
        : { ...base, sign: 1, ma: c.m.multiplier, sa: c.m.shift, mb: 0, sb: 0, my: 0, sy: 0 };
      return { state };
    },
    run(inputs, outputs, _node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const big = inputs[st.swap ? 1 : 0]!, small = inputs[st.swap ? 0 : 1]!;
      const a = inputAt(heap, t, big), b = inputAt(heap, t + st.bAt, small);
      const y = outputAt(heap, t + st.yAt, outputs[0]!);
      heap.exports.binary_i16(st.kind, a, b, y, st.n, st.period, st.swap ? 1 : 0, st.sign, st.ma, st.sa, st.mb, st.sb, st.my, st.sy, st.lo, st.hi);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

interface QuantizeI16State { n: number; mode: number; s: number; yAt: number }

const quantizeKernel = defineKernel<QuantizeI16State>({
  op: 'Quantize', backend: 'wasm', dtypes: ['float32'],
  check: (node, _inputs, outputs) => (outputs[0]?.dtype === 'int16' ? symmetricReason(outputs[0], `the output of ${node.name}`) : `wasm 16x8 Quantize writes int16, not ${outputs[0]?.dtype}`),
  prepare({ outputs, ctx }) {
    const n = sizeOf(outputs[0]!.shape);
    const yAt = regionBytes(n, 4);
    wasmHeap().reserveTransient(yAt + regionBytes(n, 2));
    return { state: { n, mode: ctx.int8Arithmetic === 'tflite-reference' ? 1 : 0, s: outputs[0]!.quant!.scale[0]!, yAt } };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.quantize_f32_i16(x, y, st.n, st.mode, st.s);
    outputDone(heap, y, outputs[0]!);
  },
});

interface DequantizeI16State { n: number; s: number; yAt: number }

const dequantizeKernel = defineKernel<DequantizeI16State>({
  op: 'Dequantize', backend: 'wasm', dtypes: ['int16'],
  check: (node, inputs, outputs) => (outputs[0]?.dtype === 'float32' ? symmetricReason(inputs[0], `the input of ${node.name}`) : `wasm Dequantize writes float32, not ${outputs[0]?.dtype}`),
  prepare({ inputs, outputs }) {
    const n = sizeOf(outputs[0]!.shape);
    const yAt = regionBytes(n, 2);
    wasmHeap().reserveTransient(yAt + regionBytes(n, 4));
    return { state: { n, s: inputs[0]!.quant!.scale[0]!, yAt } };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.dequantize_i16_f32(x, y, st.n, st.s);
    outputDone(heap, y, outputs[0]!);
  },
});

interface ResizeI16State { dims: [number, number, number, number, number, number]; tables: number; mode: number; yAt: number }

const refResize = int16DataKernels.find((k) => k.op === 'Resize')!;

const resizeKernel = defineKernel<ResizeI16State>({
  op: 'Resize', backend: 'wasm', dtypes: ['int16'],
  check(node, inputs, outputs) {
    const reason = refResize.check?.(node, inputs, outputs);
    if (reason) return reason;
    const x = inputs[0]!, y = outputs[0]!;
    if (x.shape.length !== 4) return `wasm int16 Resize takes rank-4 NHWC, not rank ${x.shape.length}`;
    return x.shape[0] === y.shape[0] && x.shape[3] === y.shape[3] ? undefined : `wasm int16 Resize resizes H and W only (node ${node.name})`;
  },
  prepare(args) {
    // The reference kernel computes the taps (Q10, ResizeBilinearInteger); this kernel runs the same tables.
    const ref = refResize.prepare!(args).state as ResizeState;
    if (ref.linear && !ref.reference) throw new CloudlessError('E_INTERNAL', 'the int16 reference Resize is expected to blend with Q10 integer weights');
    const [batch, inH, inW, c] = args.inputs[0]!.shape as [number, number, number, number];
    const [, outH, outW] = args.outputs[0]!.shape as [number, number, number, number];
    const heap = wasmHeap();
    const tables = resizeTapTables(ref, outH, outW);
    const yAt = regionBytes(batch * inH * inW * c, 2);
    heap.reserveTransient(yAt + regionBytes(batch * outH * outW * c, 2));
    const state: ResizeI16State = { dims: [batch, inH, inW, c, outH, outW], tables, mode: ref.linear ? 2 : 0, yAt };
    heap.freeWith(state, [tables]);
    return { state, scratchBytes: 12 * (outH + outW) };
  },
  run(inputs, outputs, _node, st) {
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    const [batch, inH, inW, c, outH, outW] = st.dims;
    const hb = st.tables, wb = st.tables + 12 * outH;
    heap.exports.resize_i16(x, batch, inH, inW, c, outH, outW, hb, hb + 4 * outH, hb + 8 * outH, wb, wb + 4 * outW, wb + 8 * outW, y, st.mode);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Unary ops: the reference kernel's 65,536-entry table, looked up in wasm
// ---------------------------------------------------------------------------

interface TableI16State { n: number; table: number; yAt: number }

function tableKernel(op: string): KernelDef {
  const ref = int16ActivationKernels.find((k) => k.op === op)!;
  return defineKernel<TableI16State>({
    op, backend: 'wasm', dtypes: ['int16'],
    check: ref.check,
    prepare(args) {
      const refTable = (ref.prepare!(args).state as { table: Int16Array }).table;
      if (refTable.length !== 65536) throw new CloudlessError('E_INTERNAL', `the int16 reference ${op} is expected to prepare a 65,536-entry table, got ${refTable.length}`);
      const heap = wasmHeap();
      const n = sizeOf(args.outputs[0]!.shape);
      const state: TableI16State = { n, table: heap.alloc(refTable.byteLength), yAt: regionBytes(n, 2) };
      heap.freeWith(state, [state.table]);
      heap.i16.set(refTable, state.table >> 1);
      heap.reserveTransient(2 * state.yAt);
      return { state, scratchBytes: refTable.byteLength };
    },
    run(inputs, outputs, _node, st) {
      const heap = wasmHeap();
      const t = heap.transient;
      const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
      heap.exports.table_i16(x, y, st.n, st.table);
      outputDone(heap, y, outputs[0]!);
    },
  });
}

// ---------------------------------------------------------------------------
// ReduceMean
// ---------------------------------------------------------------------------

type MeanI16State =
  | { wasm: true; outer: number; red: number; inner: number; mode: number; m: number; shift: number; sumsAt: number; yAt: number }
  | { wasm: false; refState: MeanState };

const refMean = int16DataKernels.find((k) => k.op === 'ReduceMean')!;

/**
 * The reference kernel's constants (its prepare runs first: TFLite Micro's
 * QuantizedMeanOrSum multiplier with 1/N folded in, or the truncating S / N
 * of tflite-reference with equal scales), the sums in wasm. Axes that are
 * not one contiguous block keep the reference kernel's loop.
 */
const meanKernel = defineKernel<MeanI16State>({
  op: 'ReduceMean', backend: 'wasm', dtypes: ['int16'],
  check: (node, inputs, outputs) => refMean.check?.(node, inputs, outputs) ?? symmetricReason(inputs[0], 'X') ?? symmetricReason(outputs[0], `the output of ${node.name}`),
  prepare(args) {
    const p = refMean.prepare!(args);
    const ref = p.state as MeanState;
    const x = args.inputs[0]!;
    const block = ref.axes ? reductionBlock(x.shape, ref.axes) : undefined;
    const c = ref.constants;
    if (!block || !c || c.float) return { state: { wasm: false, refState: ref }, scratchBytes: p.scratchBytes };
    const sumsAt = regionBytes(sizeOf(x.shape), 2);
    const yAt = sumsAt + regionBytes(block.inner, 4);
    wasmHeap().reserveTransient(yAt + regionBytes(sizeOf(args.outputs[0]!.shape), 2));
    return { state: { wasm: true, ...block, mode: c.truncating ? 2 : 1, m: c.multiplier, shift: c.shift, sumsAt, yAt } };
  },
  run(inputs, outputs, node, st, ctx) {
    if (!st.wasm) { refMean.run(inputs, outputs, node, st.refState, ctx); return; }
    const heap = wasmHeap();
    const t = heap.transient;
    const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
    heap.exports.mean_i16(x, st.outer, st.red, st.inner, t + st.sumsAt, y, st.mode, st.m, st.shift);
    outputDone(heap, y, outputs[0]!);
  },
});

// ---------------------------------------------------------------------------
// Concat: raw int16 rows (every input shares the output's scale)
// ---------------------------------------------------------------------------

const refConcat = int16DataKernels.find((k) => k.op === 'Concat')!;

/**
 * Rows of each input copied into the output in wasm. Tensors outside the
 * module's memory (a JavaScript arena) take the reference loop, as int8's.
 */
const concatKernel = defineKernel<ConcatState>({
  op: 'Concat', backend: 'wasm', dtypes: ['int16'],
  check: refConcat.check,
  prepare(args) {
    const p = refConcat.prepare!(args);
    const ref = p.state as ConcatState;
    if (ref.tables.some((t) => t !== undefined)) throw new CloudlessError('E_INTERNAL', 'int16 Concat is expected to copy raw values, not rescale them');
    return { state: ref, scratchBytes: p.scratchBytes };
  },
  run(inputs, outputs, node, st, ctx) {
    const heap = wasmHeap();
    const present = inputs.filter((t): t is Tensor => t !== undefined);
    if (!inHeap(heap, outputs[0]!) || !present.every((t) => inHeap(heap, t))) {
      refConcat.run(inputs, outputs, node, st, ctx);
      return;
    }
    const y = outputs[0]!.data.byteOffset;
    let start = 0;
    present.forEach((t, k) => {
      const block = st.blocks[k]!;
      heap.exports.copy_rows(y + 2 * start, t.data.byteOffset, st.outer, 2 * block, 2 * st.outBlock, 2 * block);
      start += block;
    });
  },
});

// ---------------------------------------------------------------------------
// MaxPool, AveragePool: the reference's window and clamp, the loop in wasm
// ---------------------------------------------------------------------------

/** AveragePool windows up to this many taps keep their int32 sums exact in float32 (see pool_i16). */
const AVERAGE_MAX_TAPS = 512;

function poolKernel(op: 'MaxPool' | 'AveragePool'): KernelDef {
  const ref = int16DataKernels.find((k) => k.op === op)!;
  return defineKernel<PoolWasmState>({
    op, backend: 'wasm', dtypes: ['int16'],
    check(node, inputs, outputs) {
      const reason = ref.check?.(node, inputs, outputs) ?? spatialRankReason(inputs[0]);
      if (reason) return reason;
      const taps = attrInts(node, 'kernel_shape').reduce((a, b) => a * b, 1);
      return op === 'AveragePool' && taps > AVERAGE_MAX_TAPS
        ? `wasm int16 AveragePool takes windows of at most ${AVERAGE_MAX_TAPS} taps (float32-exact sums), got ${taps}` : undefined;
    },
    prepare: (args) => ({ state: preparePoolWasm(args, 2, [INT16_MIN, INT16_MAX]) }),
    run: (inputs, outputs, node, st, ctx) => runPoolWasm('pool_i16', 2, inputs, outputs, node, st, ctx.threads),
  });
}

export const wasmInt16OpKernels: readonly KernelDef[] = [
  poolKernel('MaxPool'), poolKernel('AveragePool'),
  binaryKernel('Add'), binaryKernel('Sub'), binaryKernel('Mul'), quantizeKernel, dequantizeKernel, resizeKernel,
  ...['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Tanh'].map(tableKernel), meanKernel, concatKernel,
];

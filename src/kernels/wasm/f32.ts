/**
 * Bindings of the float32 wasm kernels: Conv and ConvTranspose (one group, 1-D/2-D),
 * DepthwiseConv (any whole depth multiplier), FullyConnected, MatMul with a 2-D right-hand
 * side, and Gemm without transA/alpha/general C.
 *
 * prepare() packs the weights once into the module's memory (constant
 * weights; weights computed by the graph are packed again on every run into
 * the same region) and reserves the transient area; run() copies X in, calls
 * the kernel and copies Y out. Everything else falls back to 'ref' through
 * check().
 */
import {
  attrFloat, attrInt, defineKernel, sizeOf, Tensor, type KernelContext, type KernelDef, type Node, type PlannedValue, type PrepareArgs, type ValueInfo,
} from '../../ir/index.js';
import { activationRange } from '../../ir/ops/nn.js';
import type { Geometry3 } from '../../ir/window.js';
import { sameDtypes } from '../ref/nn-common.js';
import {
  convReason, copyInRepeated, depthwiseReason, geometry2, packBlocksF32, packedF32Length, regionBytes, spatialRankReason, tilesOutput,
  tilingRow, transposeGeometry, windowArgs,
} from './common.js';
import { inputAt, outputAt, outputDone } from './place.js';
import { wasmHeap } from './heap.js';
import { MIN_PARALLEL_WORK, chunksFor, ensureThreads, runParallel, splitRange, threadsFor, windowRows, type Call } from './threads.js';

/** A [cout, k] weight matrix packed for gemm_f32, with its padded bias. */
interface PackedF32 {
  wOff: number;
  bOff: number;
  cout: number;
  k: number;
  /** Element strides of W[o][k] in the source tensor (transposed sources for MatMul/Gemm). */
  strideO: number;
  strideK: number;
  /** The source is not constant: pack again on every run. */
  repack: boolean;
  bytes: number;
}

function allocPacked(owner: object, cout: number, k: number, strideO: number, strideK: number, w: PlannedValue, b: PlannedValue | undefined): PackedF32 {
  const heap = wasmHeap();
  const wBytes = packedF32Length(cout, k) * 4;
  const bBytes = Math.ceil(cout / 8) * 32;
  const p: PackedF32 = {
    wOff: heap.alloc(wBytes), bOff: heap.alloc(bBytes), cout, k, strideO, strideK,
    repack: !w.constant || (!!b && sizeOf(b.shape) > 0 && !b.constant), bytes: wBytes + bBytes,
  };
  heap.freeWith(owner, [p.wOff, p.bOff]);
  if (!p.repack) packF32(p, w.constant!, b?.constant);
  return p;
}

/** Bias: one value per output channel, or one value for all (Gemm's scalar C); zeros past cout. */
function packF32(p: PackedF32, w: Tensor, b: Tensor | undefined): void {
  const f32 = wasmHeap().f32;
  packBlocksF32(f32, p.wOff >> 2, w.data as Float32Array, p.cout, p.k, p.strideO, p.strideK);
  const bias = f32.subarray(p.bOff >> 2, (p.bOff >> 2) + Math.ceil(p.cout / 8) * 8);
  bias.fill(0);
  if (b && b.size > 0) {
    const bd = b.data as Float32Array;
    if (bd.length === 1) bias.fill(bd[0]!, 0, p.cout);
    else bias.set(bd.subarray(0, p.cout));
  }
}

// ---------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------

/** colAt is thread 0's column buffer, thread s's is colBytes further on; `threads` were prepared for. */
interface ConvState { g: Geometry3; cin: number; lo: number; hi: number; w: PackedF32; colAt: number; colBytes: number; yAt: number; threads: number }

function prepareConv({ node, inputs, outputs, ctx }: PrepareArgs): { state: ConvState; packedWeightBytes: number } {
  const x = inputs[0]!, w = inputs[1]!;
  const g = geometry2(node, x, w.shape.slice(1, -1));
  const cin = x.shape[x.shape.length - 1]!, cout = w.shape[0]!;
  const k = g.kH * g.kW * cin;
  const [lo, hi] = activationRange(node);
  const state = { g, cin, lo, hi, colAt: 0, yAt: 0, threads: ensureThreads(ctx.threads) } as ConvState;
  state.w = allocPacked(state, cout, k, k, 1, w, inputs[2]);
  const xBytes = regionBytes(sizeOf(x.shape), 4);
  const colBytes = regionBytes(g.outW * k, 4);
  state.colAt = xBytes;
  state.colBytes = colBytes;
  state.yAt = xBytes + colBytes * chunksFor(state.threads);
  wasmHeap().reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
  return { state, packedWeightBytes: state.w.bytes };
}

/**
 * Splits of a float GEMM over threads: by rows (multiples of 4, the tile
 * height) when there are enough, else by blocks of 8 output channels. Each
 * output is summed by the same code from the bias over k in order, so the
 * bits are those of one thread.
 */
function gemmF32Parts(x: number, lda: number, rows: number, w: PackedF32, y: number, ldy: number, lo: number, hi: number, threads: number): Call[][] {
  if (rows >= 8 * threads) {
    const cuts = splitRange(rows, chunksFor(threads), 4);
    return cuts.slice(1).map((b, s) => [['gemm_f32', x + cuts[s]! * lda * 4, lda, b - cuts[s]!, w.k, w.wOff, w.bOff, w.cout, y + cuts[s]! * ldy * 4, ldy, lo, hi]]);
  }
  const cuts = splitRange(w.cout, chunksFor(threads), 8);
  return cuts.slice(1).map((b, s) => {
    const a = cuts[s]!;
    return [['gemm_f32', x, lda, rows, w.k, w.wOff + a * w.k * 4, w.bOff + a * 4, b - a, y + a * 4, ldy, lo, hi]];
  });
}

function runConv(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvState, ctx?: KernelContext): void {
  const heap = wasmHeap();
  if (st.w.repack) packF32(st.w, inputs[1]!, inputs[2]);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g, cin } = st;
  const threads = threadsFor(Math.min(ctx?.threads ?? 1, st.threads));
  if (threads > 1 && sizeOf(outputs[0]!.shape) * st.w.k >= MIN_PARALLEL_WORK) {
    const cout = st.w.cout;
    if (g.kH === 1 && g.kW === 1 && g.sH === 1 && g.sW === 1 && g.pH === 0 && g.pW === 0 && g.outH === g.inH && g.outW === g.inW) {
      runParallel(gemmF32Parts(x, cin, g.batch * g.inH * g.inW, st.w, y, cout, st.lo, st.hi, threads));
    } else {
      // By output rows (windowRows), each thread with its own column buffer.
      const inImage = g.inH * g.inW * cin * 4, yRow = g.outW * cout * 4;
      runParallel(windowRows(g.batch, g.outH, threads, (n, oh0, rows, s) => [
        'conv_f32', x + n * inImage, 1, g.inH, g.inW, cin, rows, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH - oh0 * g.sH, g.pW,
        st.w.wOff, st.w.bOff, cout, y + (n * g.outH + oh0) * yRow, t + st.colAt + s * st.colBytes, st.lo, st.hi,
      ]));
    }
  } else {
    heap.exports.conv_f32(x, g.batch, g.inH, g.inW, cin, ...windowArgs(g) as Args10,
      st.w.wOff, st.w.bOff, st.w.cout, y, t + st.colAt, st.lo, st.hi);
  }
  outputDone(heap, y, outputs[0]!);
}

type Args10 = [number, number, number, number, number, number, number, number, number, number];

// ---------------------------------------------------------------------------
// DepthwiseConv
// ---------------------------------------------------------------------------

/** `c` counts output channels: X is copied in with each channel repeated `multiplier` times. */
interface DepthwiseState {
  g: Geometry3; c: number; multiplier: number; lo: number; hi: number; wOff: number; bOff: number; repack: boolean; yAt: number; threads: number;
}

/** Depthwise weights [1, kh, kw, C] → [taps][Cpad4]; bias padded to Cpad4. */
function packDepthwise(st: DepthwiseState, w: Tensor, b: Tensor | undefined): void {
  const f32 = wasmHeap().f32;
  const cpad = Math.ceil(st.c / 4) * 4;
  const taps = st.g.kH * st.g.kW;
  const wd = w.data as Float32Array;
  const dst = f32.subarray(st.wOff >> 2, (st.wOff >> 2) + taps * cpad);
  dst.fill(0);
  for (let t = 0; t < taps; t++) dst.set(wd.subarray(t * st.c, (t + 1) * st.c), t * cpad);
  const bias = f32.subarray(st.bOff >> 2, (st.bOff >> 2) + cpad);
  bias.fill(0);
  if (b && b.size > 0) bias.set(b.data as Float32Array);
}

function prepareDepthwise({ node, inputs, outputs, ctx }: PrepareArgs): { state: DepthwiseState; packedWeightBytes: number } {
  const heap = wasmHeap();
  const x = inputs[0]!, w = inputs[1]!, b = inputs[2];
  const g = geometry2(node, x, w.shape.slice(1, -1));
  const c = w.shape[w.shape.length - 1]!;
  const multiplier = c / x.shape[x.shape.length - 1]!;
  const cpad = Math.ceil(c / 4) * 4;
  const [lo, hi] = activationRange(node);
  const wBytes = g.kH * g.kW * cpad * 4, bBytes = cpad * 4;
  const state: DepthwiseState = {
    g, c, multiplier, lo, hi, wOff: heap.alloc(wBytes), bOff: heap.alloc(bBytes),
    repack: !w.constant || (!!b && sizeOf(b.shape) > 0 && !b.constant), yAt: regionBytes(sizeOf(x.shape) * multiplier, 4),
    threads: ensureThreads(ctx.threads),
  };
  heap.freeWith(state, [state.wOff, state.bOff]);
  if (!state.repack) packDepthwise(state, w.constant!, b?.constant);
  heap.reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
  return { state, packedWeightBytes: wBytes + bBytes };
}

function runDepthwise(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: DepthwiseState, ctx?: KernelContext): void {
  const heap = wasmHeap();
  if (st.repack) packDepthwise(st, inputs[1]!, inputs[2]);
  const t = heap.transient;
  let x = t;
  if (st.multiplier === 1) x = inputAt(heap, t, inputs[0]!);
  else copyInRepeated(heap, t, inputs[0]!, st.multiplier);
  const y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  const threads = threadsFor(Math.min(ctx?.threads ?? 1, st.threads));
  if (threads > 1 && sizeOf(outputs[0]!.shape) * g.kH * g.kW >= MIN_PARALLEL_WORK) {
    const inImage = g.inH * g.inW * st.c * 4, yRow = g.outW * st.c * 4;
    runParallel(windowRows(g.batch, g.outH, threads, (n, oh0, rows) => [
      'depthwise_f32', x + n * inImage, 1, g.inH, g.inW, st.c, rows, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH - oh0 * g.sH, g.pW,
      st.wOff, st.bOff, y + (n * g.outH + oh0) * yRow, st.lo, st.hi,
    ]));
  } else {
    heap.exports.depthwise_f32(x, g.batch, g.inH, g.inW, st.c, ...windowArgs(g) as Args10, st.wOff, st.bOff, y, st.lo, st.hi);
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------
// ConvTranspose (one group): GEMM against W seen as [Cin] × [taps·Cout], then scatter
// ---------------------------------------------------------------------------

interface ConvTransposeState {
  g: Geometry3; cin: number; cout: number; lo: number; hi: number;
  /** IHWO weight as a [taps·Cout, Cin] matrix (element (o', ic) at ic·taps·Cout + o'), packed with a zero bias. */
  w: PackedF32;
  /** The layer's bias, Cout floats (zeros without one). */
  bOff: number;
  repackBias: boolean;
  colAt: number; yAt: number;
}

/**
 * ConvTranspose whose windows tile the output (stride = kernel, no dilation
 * or padding, constant weights): one matrix per kernel row kh, [kW·Cout, Cin]
 * with the bias repeated per column tap, so each input row times it is output
 * row ih·kH + kh itself — no column buffer, no scatter, bias and clamp in the GEMM.
 */
interface TilingTransposeState {
  g: Geometry3; cin: number; cout: number; lo: number; hi: number; yAt: number;
  tileRows: PackedF32[];
}

/** Kernel row kh of the IHWO weights as a constant [kW·Cout, Cin] matrix (common.ts tilingRow), and the bias repeated kW times. */
function transposeRow(w: Tensor, b: Tensor | undefined, g: Geometry3, kh: number): { w: PlannedValue; b: PlannedValue } {
  const [cin, , , cout] = w.shape as [number, number, number, number];
  const n = g.kW * cout;
  const row = tilingRow(w.data as Float32Array, new Float32Array(n * cin), g, cin, cout, kh);
  const bias = new Float32Array(n);
  if (b && b.size > 0) for (let kw = 0; kw < g.kW; kw++) bias.set(b.data as Float32Array, kw * cout);
  const wt = new Tensor('float32', [n, cin], row), bt = new Tensor('float32', [n], bias);
  return { w: { dtype: 'float32', shape: [n, cin], constant: wt }, b: { dtype: 'float32', shape: [n], constant: bt } };
}

function writeTransposeBias(st: ConvTransposeState, b: Tensor | undefined): void {
  const f32 = wasmHeap().f32;
  const bias = f32.subarray(st.bOff >> 2, (st.bOff >> 2) + st.cout);
  if (b && b.size > 0) bias.set(b.data as Float32Array);
  else bias.fill(0);
}

function prepareConvTranspose({ node, inputs, outputs }: PrepareArgs):
  { state: ConvTransposeState | TilingTransposeState; packedWeightBytes: number } {
  const heap = wasmHeap();
  const x = inputs[0]!, w = inputs[1]!, b = inputs[2];
  const r = x.shape.length - 2;
  const g = transposeGeometry(node, x, w);
  const cin = x.shape[r + 1]!, cout = w.shape[r + 1]!;
  const n2 = g.kH * g.kW * cout;
  const [lo, hi] = activationRange(node);
  const outBytes = regionBytes(sizeOf(outputs[0]!.shape), 4);
  if (r === 2 && tilesOutput(g) && w.constant && (!b || sizeOf(b.shape) === 0 || b.constant)) {
    const state: TilingTransposeState = { g, cin, cout, lo, hi, yAt: regionBytes(sizeOf(x.shape), 4), tileRows: [] };
    for (let kh = 0; kh < g.kH; kh++) {
      const row = transposeRow(w.constant!, b?.constant, g, kh);
      state.tileRows.push(allocPacked(state, g.kW * cout, cin, cin, 1, row.w, row.b));
    }
    heap.reserveTransient(state.yAt + outBytes);
    return { state, packedWeightBytes: state.tileRows.reduce((a, p) => a + p.bytes, 0) };
  }
  const state = {
    g, cin, cout, lo, hi, bOff: heap.alloc(regionBytes(cout, 4)), repackBias: !!b && sizeOf(b.shape) > 0 && !b.constant,
    colAt: regionBytes(sizeOf(x.shape), 4),
  } as ConvTransposeState;
  heap.freeWith(state, [state.bOff]);
  state.w = allocPacked(state, n2, cin, 1, n2, w, undefined);
  state.yAt = state.colAt + regionBytes(g.inW * n2, 4);
  if (!state.repackBias) writeTransposeBias(state, b?.constant);
  heap.reserveTransient(state.yAt + outBytes);
  return { state, packedWeightBytes: state.w.bytes + cout * 4 };
}

function runConvTranspose(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvTransposeState | TilingTransposeState): void {
  if ('tileRows' in st) {
    runTilingTranspose(inputs[0]!, outputs[0]!, st);
    return;
  }
  const heap = wasmHeap();
  if (st.w.repack) packF32(st.w, inputs[1]!, undefined);
  if (st.repackBias) writeTransposeBias(st, inputs[2]);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  heap.exports.conv_transpose_f32(x, g.batch, g.inH, g.inW, st.cin, ...windowArgs(g) as Args10,
    st.w.wOff, st.w.bOff, st.cout, st.bOff, y, t + st.colAt, st.lo, st.hi);
  outputDone(heap, y, outputs[0]!);
}

function runTilingTranspose(input: Tensor, output: Tensor, st: TilingTransposeState): void {
  const heap = wasmHeap();
  const t = heap.transient;
  const x = inputAt(heap, t, input), y = outputAt(heap, t + st.yAt, output);
  const { g, cin, cout } = st;
  const n = g.kW * cout;
  const xRow = g.inW * cin * 4, yRow = g.outW * cout * 4;
  for (let b = 0; b < g.batch; b++) {
    for (let ih = 0; ih < g.inH; ih++) {
      const xr = x + (b * g.inH + ih) * xRow;
      for (let kh = 0; kh < g.kH; kh++) {
        const p = st.tileRows[kh]!;
        heap.exports.gemm_f32(xr, cin, g.inW, cin, p.wOff, p.bOff, n, y + ((b * g.outH) + ih * g.kH + kh) * yRow, n, st.lo, st.hi);
      }
    }
  }
  outputDone(heap, y, output);
}

// ---------------------------------------------------------------------------
// FullyConnected, MatMul, Gemm: Y[rows, cout] = X[rows, k] · Wᵀ + bias
// ---------------------------------------------------------------------------

interface GemmState { rows: number; lo: number; hi: number; w: PackedF32; yAt: number; threads: number }

/** Source strides of W[o][k]: `transposed` means the tensor is [K, N] (MatMul's B, Gemm's B without transB). */
function prepareRowsTimes(args: PrepareArgs, k: number, cout: number, transposed: boolean, bias: PlannedValue | undefined, act: boolean):
  { state: GemmState; packedWeightBytes: number } {
  const { node, inputs, outputs } = args;
  const [lo, hi] = act ? activationRange(node) : [-Infinity, Infinity];
  const rows = sizeOf(inputs[0]!.shape) / k;
  const state = { rows, lo, hi, yAt: regionBytes(rows * k, 4), threads: ensureThreads(args.ctx.threads) } as GemmState;
  state.w = allocPacked(state, cout, k, transposed ? 1 : k, transposed ? cout : 1, inputs[1]!, bias);
  wasmHeap().reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 4));
  return { state, packedWeightBytes: state.w.bytes };
}

function runRowsTimes(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: GemmState, bias: Tensor | undefined, ctx?: KernelContext): void {
  const heap = wasmHeap();
  const { w } = st;
  if (w.repack) packF32(w, inputs[1]!, bias);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const threads = threadsFor(Math.min(ctx?.threads ?? 1, st.threads));
  if (threads > 1 && st.rows * w.k * w.cout >= MIN_PARALLEL_WORK) runParallel(gemmF32Parts(x, w.k, st.rows, w, y, w.cout, st.lo, st.hi, threads));
  else heap.exports.gemm_f32(x, w.k, st.rows, w.k, w.wOff, w.bOff, w.cout, y, w.cout, st.lo, st.hi);
  outputDone(heap, y, outputs[0]!);
}

/** Gemm that is a fully connected layer: no transA, alpha 1, C absent or a per-column (or scalar) bias added with beta 1. */
function gemmReason(node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined {
  if (attrInt(node, 'transA', 0) !== 0) return 'wasm Gemm does not take transA';
  if (attrFloat(node, 'alpha', 1) !== 1) return 'wasm Gemm takes alpha = 1 only';
  const c = inputs[2];
  if (!c || sizeOf(c.shape) === 0) return undefined;
  if (attrFloat(node, 'beta', 1) !== 1) return 'wasm Gemm takes beta = 1 only';
  const n = outputs[0]!.shape[1]!;
  const size = sizeOf(c.shape);
  const perColumn = size === 1 || (size === n && c.shape[c.shape.length - 1] === n);
  return perColumn ? undefined : 'wasm Gemm takes C as a per-column bias only';
}

const float32Only = ['float32'] as const;

export const wasmFloatKernels: readonly KernelDef[] = [
  defineKernel<ConvState>({
    op: 'Conv', backend: 'wasm', dtypes: float32Only,
    check: (node, inputs) => sameDtypes(node, inputs) ?? convReason(node, inputs[0]),
    prepare: prepareConv, run: runConv,
  }),
  defineKernel<DepthwiseState>({
    op: 'DepthwiseConv', backend: 'wasm', dtypes: float32Only,
    check: (node, inputs) => sameDtypes(node, inputs) ?? depthwiseReason(inputs[0], inputs[1]),
    prepare: prepareDepthwise, run: runDepthwise,
  }),
  defineKernel<ConvTransposeState | TilingTransposeState>({
    op: 'ConvTranspose', backend: 'wasm', dtypes: float32Only,
    check: (node, inputs) => sameDtypes(node, inputs) ??
      (attrInt(node, 'group', 1) === 1 ? spatialRankReason(inputs[0]) : `wasm ConvTranspose takes one group, not ${attrInt(node, 'group', 1)}`),
    prepare: prepareConvTranspose, run: runConvTranspose,
  }),
  defineKernel<GemmState>({
    op: 'FullyConnected', backend: 'wasm', dtypes: float32Only, check: sameDtypes,
    prepare: (args) => {
      const w = args.inputs[1]!;
      return prepareRowsTimes(args, w.shape[1]!, w.shape[0]!, false, args.inputs[2], true);
    },
    run: (inputs, outputs, node, st, ctx) => runRowsTimes(inputs, outputs, node, st, inputs[2], ctx),
  }),
  defineKernel<GemmState>({
    op: 'MatMul', backend: 'wasm', dtypes: float32Only,
    check: (node, inputs) => sameDtypes(node, inputs) ??
      (inputs[1]?.shape.length === 2 && (inputs[0]?.shape.length ?? 0) >= 1 ? undefined : 'wasm MatMul takes a 2-D right-hand side only'),
    prepare: (args) => {
      const b = args.inputs[1]!;
      return prepareRowsTimes(args, b.shape[0]!, b.shape[1]!, true, undefined, false);
    },
    run: (inputs, outputs, node, st, ctx) => runRowsTimes(inputs, outputs, node, st, undefined, ctx),
  }),
  defineKernel<GemmState>({
    op: 'Gemm', backend: 'wasm', dtypes: float32Only,
    check: (node, inputs, outputs) => sameDtypes(node, inputs) ?? gemmReason(node, inputs, outputs),
    prepare: (args) => {
      const b = args.inputs[1]!;
      const transB = attrInt(args.node, 'transB', 0) !== 0;
      const [k, n] = transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
      return prepareRowsTimes(args, k, n, !transB, args.inputs[2], false);
    },
    run: (inputs, outputs, node, st, ctx) => runRowsTimes(inputs, outputs, node, st, inputs[2], ctx),
  }),
];

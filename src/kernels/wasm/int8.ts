/**
 * Bindings of the int8 wasm kernels: Conv (one group, 1-D/2-D),
 * DepthwiseConv (any whole depth multiplier), FullyConnected and
 * ConvTranspose (2-D, kernels at least as large as the strides), bit-exact
 * with the reference kernels in both int8 arithmetics.
 *
 * They accept exactly what the reference int8 kernels accept (their check()
 * runs first) minus the shapes above. prepare() builds the same per-channel
 * epilogue as the reference (its prepareRequant: the same real factors) and
 * writes it, the int16-widened weights and the int32 bias into the module's
 * memory, padded to blocks of 8 channels. Conv and FullyConnected get the
 * input zero point folded into their bias (the kernels then read X as it is:
 * no per-run widening, 1×1 convolutions and FullyConnected need no column
 * buffer); DepthwiseConv keeps the plain bias for its edge pixels and a
 * folded one for the interior fast paths.
 */
import {
  CloudlessError, Tensor, defineKernel, sizeOf, type KernelContext, type KernelDef, type Node, type PlannedValue, type PrepareArgs, type ValueInfo,
} from '../../ir/index.js';
import type { Geometry3 } from '../../ir/window.js';
import { int8ConvKernels, prepareRequant } from '../ref/int8/conv.js';
import { tensorQuant } from '../ref/int8/requantize.js';
import {
  convReason, depthwiseReason, geometry2, packBlocksI8, packedI8Length, outputPhases, phaseKernel, regionBytes, tilesOutput, tilingRow, transposeGeometry, windowArgs, type Phase,
} from './common.js';
import { wasmHeap } from './heap.js';
import { inputAt, outputAt, outputDone } from './place.js';
import { MIN_PARALLEL_WORK, chunksFor, ensureThreads, runParallel, splitRange, threadsFor, windowRows, type Call } from './threads.js';

type Args10 = [number, number, number, number, number, number, number, number, number, number];

/** The epilogue of `channels` output channels in the module's memory, padded to `padded` lanes. */
interface Epilogue { mode: number; scales: number; mults: number; shifts: number; zy: number; lo: number; hi: number; bytes: number }

/**
 * The reference kernel's per-channel epilogue (prepareRequant), written into
 * the module's memory `repeat` times in a row (a GEMM whose columns run over
 * kernel taps and then channels).
 */
function writeEpilogue(owner: object, args: PrepareArgs, weightAxis: number, productInFloat: boolean, padded: number, repeat = 1): Epilogue {
  const rq = prepareRequant(args, weightAxis, productInFloat);
  const heap = wasmHeap();
  const bytes = padded * 4;
  const e: Epilogue = {
    mode: rq.reference ? 1 : 0, scales: heap.alloc(bytes), mults: heap.alloc(bytes), shifts: heap.alloc(bytes),
    zy: rq.zeroPoint, lo: rq.lo, hi: rq.hi, bytes: 3 * bytes,
  };
  heap.freeWith(owner, [e.scales, e.mults, e.shifts]);
  const f32 = heap.f32, i32 = heap.i32;
  f32.fill(0, e.scales >> 2, (e.scales >> 2) + padded);
  i32.fill(0, e.mults >> 2, (e.mults >> 2) + padded);
  i32.fill(0, e.shifts >> 2, (e.shifts >> 2) + padded);
  for (let r = 0, at = 0; r < repeat; r++, at += rq.scales.length) {
    f32.set(rq.scales, (e.scales >> 2) + at);
    i32.set(rq.multipliers, (e.mults >> 2) + at);
    i32.set(rq.shifts, (e.shifts >> 2) + at);
  }
  return e;
}

function epilogueArgs(e: Epilogue): [number, number, number, number, number, number, number] {
  return [e.mode, e.scales, e.mults, e.shifts, e.zy, e.lo, e.hi];
}

/** Weights and bias in the module's memory; packed again per run when the graph computes them. */
interface PackedI8 { wOff: number; bOff: number; repack: boolean; bytes: number }

function allocWeights(owner: object, wBytes: number, bBytes: number, w: PlannedValue, b: PlannedValue | undefined): PackedI8 {
  const heap = wasmHeap();
  const p: PackedI8 = {
    wOff: heap.alloc(wBytes), bOff: heap.alloc(bBytes), bytes: wBytes + bBytes,
    repack: !w.constant || (!!b && sizeOf(b.shape) > 0 && !b.constant),
  };
  heap.freeWith(owner, [p.wOff, p.bOff]);
  return p;
}

/**
 * Writes the int32 bias, padded to `padded`, with the input zero point folded
 * in when `sums` (Σ_k w per channel) is given: bias − z_x·Σ_k w, wrapping like
 * the int32 accumulator, so Σ x·w + bias' = Σ (x − z_x)·w + bias exactly and
 * the kernels multiply raw activations.
 */
function writeBias(bOff: number, padded: number, b: Tensor | undefined, zx = 0, sums?: Int32Array): void {
  const i32 = wasmHeap().i32;
  const at = bOff >> 2;
  i32.fill(0, at, at + padded);
  if (b && b.size > 0) i32.set(b.data as Int32Array, at);
  if (sums) for (let o = 0; o < sums.length; o++) i32[at + o] = (i32[at + o]! - Math.imul(zx, sums[o]!)) | 0;
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

// ---------------------------------------------------------------------------
// Conv and FullyConnected: widened GEMM
// ---------------------------------------------------------------------------

interface GemmI8State {
  /** Conv geometry, or undefined for FullyConnected. */
  g?: Geometry3;
  cin: number; k: number; cout: number; rows: number; zx: number; zw: number;
  /** colAt is thread 0's column buffer; thread s has its own colBytes further on. */
  w: PackedI8; e: Epilogue; colAt: number; colBytes: number; yAt: number;
  /** Threads prepared for (pool started, column buffers laid out). */
  threads: number;
}

function packGemm(st: GemmI8State, w: Tensor, b: Tensor | undefined): void {
  const heap = wasmHeap();
  const sums = st.zw === 0
    ? packBlocksI8(heap.i8, st.w.wOff, w.data as Int8Array, st.cout, st.k, 0)
    : packBlocksI8(heap.i16, st.w.wOff >> 1, w.data as Int8Array, st.cout, st.k, st.zw);
  writeBias(st.w.bOff, pad8(st.cout), b, st.zx, sums);
}

function prepareGemmI8(args: PrepareArgs, g: Geometry3 | undefined, k: number, cout: number, productInFloat: boolean):
  { state: GemmI8State; packedWeightBytes: number } {
  const { node, inputs, outputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const k8 = Math.ceil(k / 8) * 8;
  const rows = sizeOf(x.shape) / k;
  const xBytes = regionBytes(sizeOf(x.shape), 1);
  // Conv gathers one output row of columns at a time (int8, k8 per pixel); FullyConnected reads X directly.
  const colBytes = g ? regionBytes(g.outW * k8, 1) : 0;
  const threads = ensureThreads(args.ctx.threads);
  const state = {
    g, cin: x.shape[x.shape.length - 1]!, k, cout, rows,
    zx: tensorQuant(node, x, 'X').zeroPoint, zw: g ? 0 : w.quant!.zeroPoint[0] ?? 0,
    colAt: xBytes, colBytes, yAt: xBytes + colBytes * chunksFor(threads), threads,
  } as GemmI8State;
  // Symmetric weights (z_w = 0, every Conv) fit int8 as packed; W − z_w needs int16.
  state.w = allocWeights(state, packedI8Length(cout, k) * (state.zw === 0 ? 1 : 2), pad8(cout) * 4, w, inputs[2]);
  state.e = writeEpilogue(state, args, 0, productInFloat, pad8(cout));
  if (!state.w.repack) packGemm(state, w.constant!, inputs[2]?.constant);
  wasmHeap().reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 1));
  return { state, packedWeightBytes: state.w.bytes + state.e.bytes };
}

/**
 * The calls of one Conv/FullyConnected over `threads` threads. A 1×1
 * stride-1 Conv and a FullyConnected of many rows split their GEMM by rows
 * (multiples of 4, the tile height); a FullyConnected of few rows by blocks
 * of 8 output channels (weights, bias and epilogue offset to the block);
 * other Convs by output rows (windowRows), each thread with its own column
 * buffer. int32 sums are exact, so every output byte is the one thread's.
 */
function gemmParts(st: GemmI8State, x: number, y: number, t: number, threads: number): Call[][] {
  const { g, cin, cout, k } = st;
  const w8 = st.zw === 0 ? 1 : 0;
  const e = st.e;
  const ep = [e.mode, e.scales, e.mults, e.shifts, e.zy, e.lo, e.hi] as const;
  const pieces = (cuts: number[], make: (s: number, a: number, b: number) => Call[]) => cuts.slice(1).map((b, s) => make(s, cuts[s]!, b));
  if (!g || (g.kH === 1 && g.kW === 1 && g.sH === 1 && g.sW === 1 && g.pH === 0 && g.pW === 0 && g.outH === g.inH && g.outW === g.inW)) {
    const rows = g ? g.batch * g.inH * g.inW : st.rows;
    if (rows >= 8 * threads || g) {
      return pieces(splitRange(rows, chunksFor(threads), 4), (_s, a, b) => [['gemm_rows_i8', x + a * k, k, b - a, k, st.w.wOff, w8, st.w.bOff, cout, y + a * cout, cout, ...ep]]);
    }
    const k8 = Math.ceil(k / 8) * 8, ws = w8 ? 1 : 2;
    return pieces(splitRange(cout, chunksFor(threads), 8), (_s, a, b) => [['gemm_rows_i8', x, k, rows, k, st.w.wOff + a * k8 * ws, w8, st.w.bOff + a * 4, b - a, y + a, cout,
      e.mode, e.scales + a * 4, e.mults + a * 4, e.shifts + a * 4, e.zy, e.lo, e.hi]]);
  }
  const inImage = g.inH * g.inW * cin, yRow = g.outW * cout;
  return windowRows(g.batch, g.outH, threads, (n, oh0, rows, s) => [
    'conv_i8', x + n * inImage, 1, g.inH, g.inW, cin, rows, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH - oh0 * g.sH, g.pW, st.zx,
    st.w.wOff, w8, st.w.bOff, cout, y + (n * g.outH + oh0) * yRow, t + st.colAt + s * st.colBytes, ...ep,
  ]);
}

function runGemmI8(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: GemmI8State, ctx?: KernelContext): void {
  const heap = wasmHeap();
  if (st.w.repack) packGemm(st, inputs[1]!, inputs[2]);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  const threads = threadsFor(Math.min(ctx?.threads ?? 1, st.threads));
  if (threads > 1 && (sizeOf(outputs[0]!.shape) * st.k >= MIN_PARALLEL_WORK)) {
    runParallel(gemmParts(st, x, y, t, threads));
  } else if (g) {
    heap.exports.conv_i8(x, g.batch, g.inH, g.inW, st.cin, ...windowArgs(g) as Args10, st.zx,
      st.w.wOff, st.zw === 0, st.w.bOff, st.cout, y, t + st.colAt, ...epilogueArgs(st.e));
  } else {
    heap.exports.fully_connected_i8(x, st.rows, st.k, st.w.wOff, st.zw === 0, st.w.bOff, st.cout, y, ...epilogueArgs(st.e));
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------
// DepthwiseConv
// ---------------------------------------------------------------------------

/**
 * `c` counts output channels: X is copied in with each channel repeated
 * `multiplier` times. `biasF` holds the bias with z_x folded in for the
 * interior fast path; `fast` says whether the packed weights allow it.
 */
interface DepthwiseI8State {
  g: Geometry3; c: number; multiplier: number; zx: number; w: PackedI8; e: Epilogue; yAt: number; rawAt: number; biasF: number; fast: boolean;
  threads: number;
}

/**
 * [1, kh, kw, C] int8 → [taps][Cpad8] int16; bias and folded bias padded to
 * Cpad8. The interior fast paths need every weight in [−127, 127] (two
 * products must fit int16).
 */
function packDepthwise(st: DepthwiseI8State, w: Tensor, b: Tensor | undefined): void {
  const i16 = wasmHeap().i16;
  const cpad = pad8(st.c), taps = st.g.kH * st.g.kW;
  const wd = w.data as Int8Array;
  const base = st.w.wOff >> 1;
  i16.fill(0, base, base + taps * cpad);
  for (let t = 0; t < taps; t++) i16.set(wd.subarray(t * st.c, (t + 1) * st.c), base + t * cpad);
  writeBias(st.w.bOff, cpad, b);
  st.fast = !wd.includes(-128);
  if (!st.fast) return;
  const sums = new Int32Array(st.c);
  for (let t = 0; t < taps; t++) {
    for (let ch = 0; ch < st.c; ch++) sums[ch] = sums[ch]! + wd[t * st.c + ch]!;
  }
  writeBias(st.biasF, cpad, b, st.zx, sums);
}

function prepareDepthwiseI8(args: PrepareArgs): { state: DepthwiseI8State; packedWeightBytes: number } {
  const { node, inputs, outputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const g = geometry2(node, x, w.shape.slice(1, -1));
  const c = w.shape[w.shape.length - 1]!;
  const multiplier = c / x.shape[x.shape.length - 1]!;
  const cpad = pad8(c);
  const yAt = regionBytes(sizeOf(x.shape) * multiplier, 1);
  // With a multiplier, repeat_i8 spreads X into the area's start (X itself copied after the output when not in the module's memory).
  const rawAt = yAt + regionBytes(sizeOf(outputs[0]!.shape), 1);
  const state = { g, c, multiplier, zx: tensorQuant(node, x, 'X').zeroPoint, yAt, rawAt, threads: ensureThreads(args.ctx.threads) } as DepthwiseI8State;
  state.w = allocWeights(state, g.kH * g.kW * cpad * 2, cpad * 4, w, inputs[2]);
  state.biasF = wasmHeap().alloc(cpad * 4);
  wasmHeap().freeWith(state, [state.biasF]);
  state.w.bytes += cpad * 4;
  state.e = writeEpilogue(state, args, w.shape.length - 1, false, cpad);
  if (!state.w.repack) packDepthwise(state, w.constant!, inputs[2]?.constant);
  wasmHeap().reserveTransient(rawAt + (multiplier > 1 ? regionBytes(sizeOf(x.shape), 1) : 0));
  return { state, packedWeightBytes: state.w.bytes + state.e.bytes };
}

function runDepthwiseI8(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: DepthwiseI8State, ctx?: KernelContext): void {
  const heap = wasmHeap();
  if (st.w.repack) packDepthwise(st, inputs[1]!, inputs[2]);
  const t = heap.transient;
  const xt = inputs[0]!;
  let x = t;
  if (st.multiplier === 1) x = inputAt(heap, t, xt);
  else heap.exports.repeat_i8(inputAt(heap, t + st.rawAt, xt), t, xt.size, st.multiplier);
  const y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  const threads = threadsFor(Math.min(ctx?.threads ?? 1, st.threads));
  if (threads > 1 && sizeOf(outputs[0]!.shape) * g.kH * g.kW >= MIN_PARALLEL_WORK) {
    // By output rows (windowRows): each pixel's sum is the one thread's, in the same order.
    const inImage = g.inH * g.inW * st.c, yRow = g.outW * st.c;
    runParallel(windowRows(g.batch, g.outH, threads, (n, oh0, rows) => [
      'depthwise_i8', x + n * inImage, 1, g.inH, g.inW, st.c, rows, g.outW, g.kH, g.kW, g.sH, g.sW, g.dH, g.dW, g.pH - oh0 * g.sH, g.pW, st.zx,
      st.w.wOff, st.w.bOff, st.fast ? st.biasF : 0, y + (n * g.outH + oh0) * yRow, ...epilogueArgs(st.e),
    ]));
  } else {
    heap.exports.depthwise_i8(x, g.batch, g.inH, g.inW, st.c, ...windowArgs(g) as Args10, st.zx,
      st.w.wOff, st.w.bOff, st.fast ? st.biasF : 0, y, ...epilogueArgs(st.e));
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------
// ConvTranspose whose windows tile the output
// ---------------------------------------------------------------------------

/**
 * Stride = kernel, no padding or dilation: output row ih·kH + kh is input row
 * ih times kernel row kh, a [kW·Cout, Cin] matrix whose columns run over the
 * kernel's column taps and then channels (bias and epilogue repeated kW
 * times, z_x folded into the bias per column). One GEMM per input row and
 * kernel row writes its output row whole.
 */
interface TransposeI8State { g: Geometry3; cin: number; cout: number; zx: number; rows: PackedI8[]; e: Epilogue; yAt: number }

function packTransposeRows(st: TransposeI8State, w: Tensor, b: Tensor | undefined): void {
  const { g, cin, cout } = st;
  const n = g.kW * cout;
  const m = new Int8Array(n * cin);
  const bias = new Int32Array(n);
  if (b && b.size > 0) for (let kw = 0; kw < g.kW; kw++) bias.set(b.data as Int32Array, kw * cout);
  const biasT = new Tensor('int32', [n], bias);
  st.rows.forEach((p, kh) => {
    tilingRow(w.data as Int8Array, m, g, cin, cout, kh);
    writeBias(p.bOff, pad8(n), biasT, st.zx, packBlocksI8(wasmHeap().i8, p.wOff, m, n, cin, 0));
  });
}

function prepareTransposeI8(args: PrepareArgs): { state: TransposeI8State; packedWeightBytes: number } {
  const { node, inputs, outputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const g = transposeGeometry(node, x, w);
  const cin = x.shape[3]!, cout = w.shape[3]!;
  const n = g.kW * cout;
  const state = { g, cin, cout, zx: tensorQuant(node, x, 'X').zeroPoint, rows: [], yAt: regionBytes(sizeOf(x.shape), 1) } as unknown as TransposeI8State;
  for (let kh = 0; kh < g.kH; kh++) state.rows.push(allocWeights(state, packedI8Length(n, cin), pad8(n) * 4, w, inputs[2]));
  state.e = writeEpilogue(state, args, 3, false, pad8(n), g.kW);
  if (!state.rows[0]!.repack) packTransposeRows(state, w.constant!, inputs[2]?.constant);
  wasmHeap().reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 1));
  return { state, packedWeightBytes: state.rows.reduce((a, p) => a + p.bytes, 0) + state.e.bytes };
}

function runTransposeI8(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: TransposeI8State): void {
  const heap = wasmHeap();
  if (st.rows[0]!.repack) packTransposeRows(st, inputs[1]!, inputs[2]);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g, cin, cout } = st;
  const n = g.kW * cout;
  const xRow = g.inW * cin, yRow = g.outW * cout;
  const ep = epilogueArgs(st.e);
  for (let b = 0; b < g.batch; b++) {
    for (let ih = 0; ih < g.inH; ih++) {
      const xr = x + (b * g.inH + ih) * xRow;
      for (let kh = 0; kh < g.kH; kh++) {
        const p = st.rows[kh]!;
        heap.exports.fully_connected_i8(xr, g.inW, cin, p.wOff, true, p.bOff, n, y + (b * g.outH + ih * g.kH + kh) * yRow, ...ep);
      }
    }
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------
// Other ConvTransposes: one stride-1 convolution per output phase (common.ts)
// ---------------------------------------------------------------------------

interface PhaseI8 extends Phase { packed: PackedI8 }
interface PhasesI8State { g: Geometry3; cin: number; cout: number; zx: number; phases: PhaseI8[]; e: Epilogue; colAt: number; yAt: number }

function packPhases(st: PhasesI8State, w: Tensor, b: Tensor | undefined): void {
  const { g, cin, cout } = st;
  const src = w.data as Int8Array;
  for (const ph of st.phases) {
    const m = phaseKernel(src, new Int8Array(cout * ph.k), g, cin, cout, ph);
    writeBias(ph.packed.bOff, pad8(cout), b, st.zx, packBlocksI8(wasmHeap().i8, ph.packed.wOff, m, cout, ph.k, 0));
  }
}

function preparePhasesI8(args: PrepareArgs): { state: PhasesI8State; packedWeightBytes: number } {
  const { node, inputs, outputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const g = transposeGeometry(node, x, w);
  const cin = x.shape[3]!, cout = w.shape[3]!;
  const state = { g, cin, cout, zx: tensorQuant(node, x, 'X').zeroPoint, phases: [] } as unknown as PhasesI8State;
  let colBytes = 0;
  for (const ph of outputPhases(g, cin)) {
    state.phases.push({ ...ph, packed: allocWeights(state, packedI8Length(cout, ph.k), pad8(cout) * 4, w, inputs[2]) });
    colBytes = Math.max(colBytes, ph.w.count * Math.ceil(ph.k / 8) * 8);
  }
  state.e = writeEpilogue(state, args, 3, false, pad8(cout));
  state.colAt = regionBytes(sizeOf(x.shape), 1);
  state.yAt = state.colAt + regionBytes(colBytes, 1);
  if (!state.phases[0]?.packed.repack) packPhases(state, w.constant!, inputs[2]?.constant);
  wasmHeap().reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 1));
  return { state, packedWeightBytes: state.phases.reduce((a, p) => a + p.packed.bytes, 0) + state.e.bytes };
}

function runPhasesI8(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: PhasesI8State): void {
  const heap = wasmHeap();
  if (st.phases[0]?.packed.repack) packPhases(st, inputs[1]!, inputs[2]);
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!), y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g, cin, cout, zx } = st;
  const col = t + st.colAt;
  const ep = epilogueArgs(st.e);
  for (let b = 0; b < g.batch; b++) {
    for (const ph of st.phases) {
      const k8 = Math.ceil(ph.k / 8) * 8;
      for (let q = 0; q < ph.h.count; q++) {
        heap.exports.im2col_row_i8(x, g.inH, g.inW, cin, b, q, ph.w.count, ph.h.taps, ph.w.taps, 1, 1, 1, 1, ph.h.pad, ph.w.pad, zx, col, k8);
        const oh = ph.h.first + q * g.sH;
        heap.exports.gemm_rows_i8(col, k8, ph.w.count, ph.k, ph.packed.wOff, true, ph.packed.bOff, cout,
          y + ((b * g.outH + oh) * g.outW + ph.w.first) * cout, g.sW * cout, ...ep);
      }
    }
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------

type Check = NonNullable<KernelDef['check']>;

/** The reference int8 kernel's check for `op`: the wasm kernel takes no more than it. */
function refCheck(op: string): Check {
  const check = int8ConvKernels.find((d) => d.op === op)?.check;
  if (!check) throw new CloudlessError('E_INTERNAL', `the reference int8 ${op} kernel has no check() for the wasm kernel to extend`);
  return check;
}

function both(first: Check, then: (node: Node, inputs: (ValueInfo | undefined)[]) => string | undefined): Check {
  return (node, inputs, outputs) => first(node, inputs, outputs) ?? then(node, inputs);
}

const int8Only = ['int8'] as const;

export const wasmInt8Kernels: readonly KernelDef[] = [
  defineKernel<GemmI8State>({
    op: 'Conv', backend: 'wasm', dtypes: int8Only,
    check: both(refCheck('Conv'), (node, inputs) => convReason(node, inputs[0])),
    prepare: (args) => {
      const x = args.inputs[0]!, w = args.inputs[1]!;
      const g = geometry2(args.node, x, w.shape.slice(1, -1));
      return prepareGemmI8(args, g, g.kH * g.kW * x.shape[x.shape.length - 1]!, w.shape[0]!, false);
    },
    run: runGemmI8,
  }),
  defineKernel<DepthwiseI8State>({
    op: 'DepthwiseConv', backend: 'wasm', dtypes: int8Only,
    check: both(refCheck('DepthwiseConv'), (_node, inputs) => depthwiseReason(inputs[0], inputs[1])),
    prepare: prepareDepthwiseI8, run: runDepthwiseI8,
  }),
  defineKernel<TransposeI8State | PhasesI8State>({
    op: 'ConvTranspose', backend: 'wasm', dtypes: int8Only,
    check: both(refCheck('ConvTranspose'), (node, inputs) => {
      const x = inputs[0]!, w = inputs[1]!;
      if (x.shape.length !== 4) return 'wasm int8 ConvTranspose takes 2-D windows (rank 4 X)';
      const g = transposeGeometry(node, x, w);
      if (tilesOutput(g)) return undefined;
      if (g.dH !== 1 || g.dW !== 1) return 'wasm int8 ConvTranspose takes no dilation';
      return g.kH >= g.sH && g.kW >= g.sW ? undefined : `wasm int8 ConvTranspose needs kernels at least as large as the strides (${g.kH}x${g.kW}, strides ${g.sH}x${g.sW})`;
    }),
    prepare: (args) => (tilesOutput(transposeGeometry(args.node, args.inputs[0]!, args.inputs[1]!)) ? prepareTransposeI8(args) : preparePhasesI8(args)),
    run: (inputs, outputs, node, st) => ('rows' in st ? runTransposeI8(inputs, outputs, node, st) : runPhasesI8(inputs, outputs, node, st)),
  }),
  defineKernel<GemmI8State>({
    op: 'FullyConnected', backend: 'wasm', dtypes: int8Only,
    check: refCheck('FullyConnected'),
    prepare: (args) => {
      const w = args.inputs[1]!;
      return prepareGemmI8(args, undefined, w.shape[1]!, w.shape[0]!, true);
    },
    run: runGemmI8,
  }),
];

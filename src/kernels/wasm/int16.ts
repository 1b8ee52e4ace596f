/**
 * Bindings of the 16x8 wasm kernels (assembly/i16.as.ts): Conv (one group,
 * 1-D/2-D, a 1×1 stride-1 window as one GEMM), DepthwiseConv (any whole depth
 * multiplier) and FullyConnected with int16 activations, int8 weights and an
 * int64 bias, bit-exact with the 16x8 reference kernels (ref/int16/conv.ts)
 * in both int8 arithmetics.
 *
 * They accept what the reference kernels accept (their check() runs first)
 * minus the shapes above. prepare() takes the reference's own epilogue
 * (prepareRequant with 'int16': the 15-bit multiplier of the convolutions,
 * the full one of FullyConnected) and turns it into the kernels' int64
 * arrays, and proves from the weights that the kernels' int32 partial sums
 * cannot overflow (int16.ts `blockK`, the argument in i16.as.ts's header).
 * Where the kernels cannot be exact it runs the reference kernel instead and
 * says why in the state's `fallback`: a depthwise window whose |w| sum per
 * channel passes 65535, a shift outside the kernels' range, or weights and
 * bias computed by the graph (no proof from values not yet known).
 */
import {
  CloudlessError,
  defineKernel,
  type KernelContext,
  type KernelDef,
  type Node,
  type PlannedValue,
  type PrepareArgs,
  sizeOf,
  type Tensor,
  type ValueInfo,
} from '../../ir/index.js';
import type { Geometry3 } from '../../ir/window.js';
import { prepareRequant } from '../ref/int8/conv.js';
import { int16ConvKernels } from '../ref/int16/conv.js';
import { convReason, depthwiseReason, geometry2, packBlocksI8, packedI8Length, regionBytes, windowArgs } from './common.js';
import { wasmHeap } from './heap.js';
import { inputAt, outputAt, outputDone } from './place.js';

type Args10 = [number, number, number, number, number, number, number, number, number, number];

/** Largest |w| sum of one channel over a run of k for which 32768 · Σ|w| fits an int32. */
export const INT32_SUM_LIMIT = 65535;
/** A block of k that fits whatever the int8 weights: 504 · 128 ≤ 65535. */
export const SAFE_BLOCK = 504;

/**
 * The longest block of k (a multiple of 8, from the start of each row) over
 * which every channel's |w| sum stays ≤ 65535, so the kernels' int32 partial
 * sums are exact: K rounded up to 8 when the whole row fits (the usual case),
 * else halved until it does, at least SAFE_BLOCK. `w` is [cout, k] int8, or
 * undefined when the graph computes it (then SAFE_BLOCK).
 */
export function blockK(w: Int8Array | undefined, cout: number, k: number): number {
  const k8 = Math.ceil(k / 8) * 8;
  if (!w) return Math.min(k8, SAFE_BLOCK);
  const fits = (kb: number): boolean => {
    for (let o = 0; o < cout; o++) {
      for (let s = 0; s < k; s += kb) {
        let sum = 0;
        const end = Math.min(k, s + kb);
        for (let i = s; i < end; i++) sum += Math.abs(w[o * k + i]!);
        if (sum > INT32_SUM_LIMIT) return false;
      }
    }
    return true;
  };
  for (let kb = k8; kb > SAFE_BLOCK; kb = Math.ceil(kb / 16) * 8) if (fits(kb)) return kb;
  return SAFE_BLOCK;
}

/** The 16x8 epilogue in the module's memory (per channel, padded to 8). */
interface WideEpilogue {
  mode: number;
  bias: number;
  biasM: number;
  mults: number;
  shifts: number;
  zy: number;
  lo: number;
  hi: number;
  bytes: number;
}

/**
 * The reference's epilogue as the kernels' arrays: mode 0 (the convolutions)
 * keeps m' = the 15-bit multiplier, t = 15 − shift and biasM = bias·m' +
 * 2^(t−1); mode 1 (FullyConnected) the full multiplier and t = 31 − shift.
 * Returns a reason instead when a t is outside what the kernels shift by.
 */
function writeWideEpilogue(
  owner: object,
  args: PrepareArgs,
  weightAxis: number,
  fc: boolean,
  channels: number,
  b: Tensor | undefined,
  sumAbs?: Int32Array,
): WideEpilogue | string {
  const rq = prepareRequant(args, weightAxis, fc, 'int16');
  const padded = Math.ceil(channels / 8) * 8;
  const heap = wasmHeap();
  const e: WideEpilogue = {
    mode: rq.wide === 'away' ? 1 : 0,
    bias: heap.alloc(padded * 8),
    biasM: heap.alloc(padded * 8),
    mults: heap.alloc(padded * 4),
    shifts: heap.alloc(padded * 4),
    zy: rq.zeroPoint,
    lo: rq.lo,
    hi: rq.hi,
    bytes: padded * 24,
  };
  heap.freeWith(owner, [e.bias, e.biasM, e.mults, e.shifts]);
  const buf = heap.u8.buffer;
  const bias = new BigInt64Array(buf, e.bias, padded),
    biasM = new BigInt64Array(buf, e.biasM, padded);
  const mults = new Int32Array(buf, e.mults, padded),
    shifts = new Int32Array(buf, e.shifts, padded);
  bias.fill(0n);
  biasM.fill(0n);
  mults.fill(0);
  shifts.fill(1);
  const bd = b && b.size > 0 ? (b.data as BigInt64Array) : undefined;
  for (let c = 0; c < channels; c++) {
    const m = rq.multipliers[c]!,
      s = rq.shifts[c]!;
    const bc = bd ? bd[c]! : 0n;
    bias[c] = bc;
    if (e.mode === 0) {
      const mr = m < 0x7fff0000 ? Math.floor((m + 32768) / 65536) : 0x7fff;
      const t = 15 - s;
      if (t < 1 || t > 62) return `channel ${c}'s requantization shift ${s} is outside the 16x8 wasm kernel's range`;
      mults[c] = mr;
      shifts[c] = t;
      biasM[c] = bc * BigInt(mr) + (1n << BigInt(t - 1));
    } else {
      const t = 31 - s;
      if (t < 1 || t > 94) return `channel ${c}'s requantization shift ${s} is outside the 16x8 wasm kernel's range`;
      mults[c] = m;
      shifts[c] = t;
    }
  }
  if (e.mode === 0 && sumAbs) uniformShift(e, channels, mults, shifts, biasM, sumAbs);
  return e;
}

/**
 * Mode 2 (i16.as.ts): one shift T = max t for every channel, channel c's m'
 * and biasM scaled by 2^(T − t_c), when the scaled multipliers fit int32
 * lanes and |biasM·2^d| + 32768·Σ|w|·m'·2^d < 2^63 for every channel (Σ|w|
 * over the one block of K, `sumAbs`), so the kernels' int64 products and sums
 * are exact; mode 3 where moreover |biasM·2^d| + 32768·Σ|w|·m'·2^d < 2^(31+T)
 * and z_y = 0 (the shifted sums fit int32 lanes). Leaves mode 0 otherwise.
 */
function uniformShift(
  e: WideEpilogue,
  channels: number,
  mults: Int32Array,
  shifts: Int32Array,
  biasM: BigInt64Array,
  sumAbs: Int32Array,
): void {
  let top = 0;
  for (let c = 0; c < channels; c++) top = Math.max(top, shifts[c]!);
  const limit = 1n << 63n;
  for (let c = 0; c < channels; c++) {
    const d = BigInt(top - shifts[c]!);
    const m = BigInt(mults[c]!) << d;
    if (m >= 1n << 31n) return;
    const bm = biasM[c]! << d;
    const mag = (bm < 0n ? -bm : bm) + BigInt(32768 * sumAbs[c]!) * m;
    if (mag >= limit) return;
  }
  // Mode 3 when every shifted sum also fits int32: |X| < 2^(31+T) gives ⌊X / 2^T⌋ in [−2^31, 2^31).
  const narrowLimit = 1n << BigInt(31 + top);
  let narrow = e.zy === 0;
  for (let c = 0; c < channels; c++) {
    const d = BigInt(top - shifts[c]!);
    mults[c] = Number(BigInt(mults[c]!) << d);
    biasM[c] = biasM[c]! << d;
    const bm = biasM[c]!;
    if ((bm < 0n ? -bm : bm) + BigInt(32768 * sumAbs[c]!) * BigInt(mults[c]!) >= narrowLimit) narrow = false;
  }
  shifts[0] = top;
  e.mode = narrow ? 3 : 2;
}

/** Σ|w| per output channel of a [cout, k] matrix. */
function rowSumAbs(w: Int8Array, cout: number, k: number): Int32Array {
  const out = new Int32Array(cout);
  for (let o = 0; o < cout; o++) {
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Math.abs(w[o * k + i]!);
    out[o] = sum;
  }
  return out;
}

function epilogueArgs(e: WideEpilogue): [number, number, number, number, number, number, number, number] {
  return [e.mode, e.bias, e.biasM, e.mults, e.shifts, e.zy, e.lo, e.hi];
}

/** The reference 16x8 kernel for `op`, run instead when the wasm kernel cannot be exact. */
function refKernel(op: string): KernelDef {
  const k = int16ConvKernels.find((d) => d.op === op);
  if (!k) throw new CloudlessError('E_INTERNAL', `no reference 16x8 ${op} kernel for the wasm kernel to fall back on`);
  return k;
}

interface Fallback {
  fallback: string;
  ref: KernelDef;
  refState: unknown;
}

function fallBack(op: string, args: PrepareArgs, reason: string): { state: Fallback; scratchBytes?: number } {
  const ref = refKernel(op);
  const prepared = ref.prepare?.(args);
  return { state: { fallback: reason, ref, refState: prepared?.state }, scratchBytes: prepared?.scratchBytes };
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

/** Weights computed by the graph: packed again per run. */
function dynamic(w: PlannedValue, b: PlannedValue | undefined): boolean {
  return !w.constant || (!!b && sizeOf(b.shape) > 0 && !b.constant);
}

// ---------------------------------------------------------------------------
// Conv and FullyConnected
// ---------------------------------------------------------------------------

interface GemmI16State {
  g?: Geometry3;
  cin: number;
  k: number;
  cout: number;
  rows: number;
  kb8: number;
  wOff: number;
  e: WideEpilogue;
  colAt: number;
  yAt: number;
}

function prepareGemmI16(
  args: PrepareArgs,
  g: Geometry3 | undefined,
  k: number,
  cout: number,
  fc: boolean,
): { state: GemmI16State | Fallback; packedWeightBytes?: number; scratchBytes?: number } {
  const { inputs, outputs } = args;
  const x = inputs[0]!,
    w = inputs[1]!,
    b = inputs[2];
  const k8 = pad8(k);
  const xBytes = regionBytes(sizeOf(x.shape), 2);
  const colBytes = g ? regionBytes(g.outW * k8, 2) : 0;
  const op = fc ? 'FullyConnected' : 'Conv';
  if (dynamic(w, b)) return fallBack(op, args, 'the weights or bias are computed by the graph');
  const heap = wasmHeap();
  const state = {
    g,
    cin: x.shape[x.shape.length - 1]!,
    k,
    cout,
    rows: sizeOf(x.shape) / k,
    kb8: blockK(w.constant!.data as Int8Array, cout, k),
    colAt: xBytes,
    yAt: xBytes + colBytes,
  } as GemmI16State;
  const wd = w.constant!.data as Int8Array;
  // The uniform-shift epilogue needs the one block of K its bound is proven over.
  const e = writeWideEpilogue(state, args, 0, fc, cout, b?.constant, state.kb8 >= k8 ? rowSumAbs(wd, cout, k) : undefined);
  if (typeof e === 'string') return fallBack(op, args, e);
  state.e = e;
  state.wOff = heap.alloc(packedI8Length(cout, k));
  heap.freeWith(state, [state.wOff]);
  packBlocksI8(heap.i8, state.wOff, w.constant!.data as Int8Array, cout, k, 0);
  heap.reserveTransient(state.yAt + regionBytes(sizeOf(outputs[0]!.shape), 2));
  return { state, packedWeightBytes: packedI8Length(cout, k) + e.bytes };
}

function runGemmI16(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node, st: GemmI16State | Fallback, ctx: KernelContext): void {
  if ('fallback' in st) {
    st.ref.run(inputs, outputs, node, st.refState, ctx);
    return;
  }
  const heap = wasmHeap();
  const t = heap.transient;
  const x = inputAt(heap, t, inputs[0]!),
    y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  if (g) {
    heap.exports.conv_i16(
      x,
      g.batch,
      g.inH,
      g.inW,
      st.cin,
      ...(windowArgs(g) as Args10),
      st.wOff,
      st.kb8,
      st.cout,
      y,
      t + st.colAt,
      ...epilogueArgs(st.e),
    );
  } else {
    heap.exports.gemm_i16(x, st.k * 2, st.rows, st.k, st.kb8, st.wOff, st.cout, y, st.cout * 2, ...epilogueArgs(st.e));
  }
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------
// DepthwiseConv
// ---------------------------------------------------------------------------

interface DepthwiseI16State {
  g: Geometry3;
  c: number;
  multiplier: number;
  wOff: number;
  e: WideEpilogue;
  yAt: number;
  rawAt: number;
}

/** [1, kh, kw, C] int8 → [taps][Cpad8] int8; the reason when a channel's |w| sum over the window passes 65535. */
function packDepthwise(wOff: number, w: Int8Array, taps: number, c: number): string | undefined {
  const i8 = wasmHeap().i8;
  const cpad = pad8(c);
  i8.fill(0, wOff, wOff + taps * cpad);
  for (let t = 0; t < taps; t++) i8.set(w.subarray(t * c, (t + 1) * c), wOff + t * cpad);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let t = 0; t < taps; t++) sum += Math.abs(w[t * c + ch]!);
    if (sum > INT32_SUM_LIMIT) return `channel ${ch}'s |w| sums to ${sum} over the window: int32 partial sums could overflow`;
  }
  return undefined;
}

function prepareDepthwiseI16(args: PrepareArgs): {
  state: DepthwiseI16State | Fallback;
  packedWeightBytes?: number;
  scratchBytes?: number;
} {
  const { inputs, outputs } = args;
  const x = inputs[0]!,
    w = inputs[1]!,
    b = inputs[2];
  if (dynamic(w, b)) return fallBack('DepthwiseConv', args, 'the weights or bias are computed by the graph');
  const g = geometry2(args.node, x, w.shape.slice(1, -1));
  const c = w.shape[w.shape.length - 1]!;
  const multiplier = c / x.shape[x.shape.length - 1]!;
  const taps = g.kH * g.kW;
  const yAt = regionBytes(sizeOf(x.shape) * multiplier, 2);
  const rawAt = yAt + regionBytes(sizeOf(outputs[0]!.shape), 2);
  const heap = wasmHeap();
  const state = { g, c, multiplier, yAt, rawAt } as DepthwiseI16State;
  state.wOff = heap.alloc(taps * pad8(c));
  heap.freeWith(state, [state.wOff]);
  const overflow = packDepthwise(state.wOff, w.constant!.data as Int8Array, taps, c);
  if (overflow) return fallBack('DepthwiseConv', args, overflow);
  const wd = w.constant!.data as Int8Array;
  const sums = new Int32Array(c);
  for (let i = 0; i < wd.length; i++) sums[i % c] = sums[i % c]! + Math.abs(wd[i]!);
  const e = writeWideEpilogue(state, args, w.shape.length - 1, false, c, b?.constant, sums);
  if (typeof e === 'string') return fallBack('DepthwiseConv', args, e);
  state.e = e;
  heap.reserveTransient(rawAt + (multiplier > 1 ? regionBytes(sizeOf(x.shape), 2) : 0));
  return { state, packedWeightBytes: taps * pad8(c) + e.bytes };
}

function runDepthwiseI16(
  inputs: (Tensor | undefined)[],
  outputs: Tensor[],
  node: Node,
  st: DepthwiseI16State | Fallback,
  ctx: KernelContext,
): void {
  if ('fallback' in st) {
    st.ref.run(inputs, outputs, node, st.refState, ctx);
    return;
  }
  const heap = wasmHeap();
  const t = heap.transient;
  const xt = inputs[0]!;
  let x = t;
  if (st.multiplier === 1) x = inputAt(heap, t, xt);
  else heap.exports.repeat_i16(inputAt(heap, t + st.rawAt, xt), t, xt.size, st.multiplier);
  const y = outputAt(heap, t + st.yAt, outputs[0]!);
  const { g } = st;
  heap.exports.depthwise_i16(x, g.batch, g.inH, g.inW, st.c, ...(windowArgs(g) as Args10), st.wOff, y, ...epilogueArgs(st.e));
  outputDone(heap, y, outputs[0]!);
}

// ---------------------------------------------------------------------------

type Check = NonNullable<KernelDef['check']>;

function both(first: Check | undefined, then: (node: Node, inputs: readonly (ValueInfo | undefined)[]) => string | undefined): Check {
  return (node, inputs, outputs) => first?.(node, inputs, outputs) ?? then(node, inputs);
}

const int16Only = ['int16'] as const;

export const wasmInt16Kernels: readonly KernelDef[] = [
  defineKernel<GemmI16State | Fallback>({
    op: 'Conv',
    backend: 'wasm',
    dtypes: int16Only,
    check: both(refKernel('Conv').check, (node, inputs) => convReason(node, inputs[0])),
    prepare: (args) => {
      const x = args.inputs[0]!,
        w = args.inputs[1]!;
      const g = geometry2(args.node, x, w.shape.slice(1, -1));
      return prepareGemmI16(args, g, g.kH * g.kW * x.shape[x.shape.length - 1]!, w.shape[0]!, false);
    },
    run: runGemmI16,
  }),
  defineKernel<DepthwiseI16State | Fallback>({
    op: 'DepthwiseConv',
    backend: 'wasm',
    dtypes: int16Only,
    check: both(refKernel('DepthwiseConv').check, (_node, inputs) => depthwiseReason(inputs[0], inputs[1])),
    prepare: prepareDepthwiseI16,
    run: runDepthwiseI16,
  }),
  defineKernel<GemmI16State | Fallback>({
    op: 'FullyConnected',
    backend: 'wasm',
    dtypes: int16Only,
    check: refKernel('FullyConnected').check,
    prepare: (args) => {
      const w = args.inputs[1]!;
      return prepareGemmI16(args, undefined, w.shape[1]!, w.shape[0]!, true);
    },
    run: runGemmI16,
  }),
];

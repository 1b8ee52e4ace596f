/**
 * int8 reference kernels for Conv, DepthwiseConv and FullyConnected
 * (TFLite's int8 scheme: asymmetric int8 activations, symmetric int8 weights
 * per output channel or per tensor, int32 bias with scale s_x · s_w).
 *
 * The accumulator of output channel c is
 *     acc = bias[c] + Σ (x − z_x) · w
 * over the taps inside the input: a padded tap contributes x = z_x, i.e.
 * nothing, exactly as TFLite's kernels skip it. |x − z_x| ≤ 255 and |w| ≤ 127,
 * so each product is below 2^15 and a window of up to 2^16 taps stays inside
 * int32 (TFLite relies on the same bound). JS numbers hold it exactly.
 *
 * The epilogue (requantize.ts) is the only place where the two arithmetics
 * differ: prepare() builds one ChannelRequant per node.
 *
 * ConvTranspose (TFLite's TRANSPOSE_CONV) sums the same products over the
 * input pixels whose scattered window covers each output, with the float
 * kernel's gather (ref/conv.ts), one group, weights IHWO quantized along O.
 */
import { attrInt, defineKernel, sizeOf, type KernelDef, type Node, type PrepareArgs, type Tensor, type ValueInfo } from '../../../ir/index.js';
import { WindowWalk, channelsLastWindow } from '../../../ir/window.js';
import { gatherTranspose, prepareConvTranspose, type ConvTransposeState } from '../conv.js';
import {
  INT16_MAX, INT16_MIN, activationRangeQuantized, channelRequant, channelScales, fl, hasTensorQuant, int16QuantRefusal, requantizeChannel, tensorQuant,
  type ChannelRequant,
} from './requantize.js';

/**
 * The activations these kernels take: 'int8' (TFLite's int8 scheme) or
 * 'int16' (its 16x8 scheme: symmetric int16 activations, int8 weights, int64
 * bias, the wide epilogue in both arithmetics).
 */
export type WeightedActivations = 'int8' | 'int16';

/** Shared check: int8 X and output with one scale each, int8 weights quantized symmetrically, int32 bias (int16 X and output with zero point 0 and an int64 bias in 16x8). */
function checkWeighted(weightAxis: (w: ValueInfo) => number, allowWeightZeroPoint: boolean, act: WeightedActivations = 'int8') {
  return (_node: Node, inputs: readonly (ValueInfo | undefined)[], outputs: readonly ValueInfo[]): string | undefined => {
    const x = inputs[0], w = inputs[1], b = inputs[2];
    if (act === 'int16') {
      const refused = int16QuantRefusal(x, 'X') ?? int16QuantRefusal(outputs[0], 'the output');
      if (refused) return refused;
      if (b && sizeOf(b.shape) > 0 && b.dtype !== 'int64') return `bias is ${b.dtype}; 16x8 kernels take an int64 bias`;
      allowWeightZeroPoint = false;
    } else {
      if (!hasTensorQuant(x)) return 'int8 kernel needs X to be int8 with one scale and zero point';
      if (!hasTensorQuant(outputs[0])) return 'int8 kernel needs the output to be int8 with one scale and zero point';
      if (b && sizeOf(b.shape) > 0 && b.dtype !== 'int32') return `bias is ${b.dtype}; int8 kernels take an int32 bias`;
    }
    if (!w || w.dtype !== 'int8' || !w.quant) return 'int8 kernel needs int8 weights with quantization parameters';
    const channels = w.shape[weightAxis(w)]!;
    const n = w.quant.scale.length;
    if (n !== 1 && n !== channels) return `weight has ${n} scales; expected 1 or one per output channel (${channels})`;
    if (n > 1 && w.quant.axis !== undefined && w.quant.axis !== weightAxis(w)) {
      return `weight is quantized along axis ${w.quant.axis}, expected the output-channel axis ${weightAxis(w)}`;
    }
    if (!allowWeightZeroPoint && Array.from(w.quant.zeroPoint).some((z) => z !== 0)) return 'int8 weights must be symmetric (zero point 0)';
    if (n > 1 && Array.from(w.quant.zeroPoint).some((z) => z !== 0)) return 'per-channel int8 weights must have zero point 0';
    return undefined;
  };
}

/** Builds the per-channel epilogue; `productInFloat` mirrors TFLite's per-tensor FULLY_CONNECTED, which multiplies the scales in float. */
export function prepareRequant(args: PrepareArgs, weightAxis: number, productInFloat: boolean, act: WeightedActivations = 'int8'): ChannelRequant {
  const { node, inputs, outputs, ctx } = args;
  const xq = tensorQuant(node, inputs[0], 'X');
  const yq = tensorQuant(node, outputs[0], 'the output');
  const w = inputs[1]!;
  const channels = w.shape[weightAxis]!;
  const ws = channelScales(w.quant!, channels);
  // 16x8: LiteRT.js rounds FULLY_CONNECTED with the full multiplier, ties away from zero, and the convolutions with the 15-bit one.
  const wide = act === 'int16' ? (productInFloat ? 'away' : 'reduced') : false;
  const [lo, hi] = activationRangeQuantized(node, yq.scale, yq.zeroPoint, wide ? [INT16_MIN, INT16_MAX] : undefined);
  const perTensor = w.quant!.scale.length === 1;
  return channelRequant(ctx.int8Arithmetic === 'tflite-reference', xq.scale, ws, yq.scale, yq.zeroPoint, lo, hi,
    (c) => (productInFloat && perTensor ? fl(xq.scale * ws[c]!) / yq.scale : (xq.scale * ws[c]!) / yq.scale), wide);
}

/** The bias as numbers: int32, or int64 (16x8; TFLite bounds the accumulator by 2^47, so every value is exact). */
function biasOf(t: Tensor | undefined): Int32Array | Float64Array | undefined {
  if (!t || t.size === 0) return undefined;
  return t.dtype === 'int64' ? Float64Array.from(t.data as BigInt64Array, Number) : t.data as Int32Array;
}

/** Activations and outputs: int8, or int16 in 16x8. */
type Activations = Int8Array | Int16Array;

// ---------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------

interface ConvState { walk: WindowWalk; cin: number; cout: number; group: number; zx: number; rq: ChannelRequant }

function prepareConv(args: PrepareArgs, act: WeightedActivations = 'int8'): { state: ConvState } {
  const { node, inputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const r = x.shape.length - 2;
  return {
    state: {
      walk: new WindowWalk(channelsLastWindow(node, x.shape, w.shape.slice(1, r + 1)).g),
      cin: x.shape[r + 1]!, cout: w.shape[0]!, group: attrInt(node, 'group', 1),
      zx: tensorQuant(node, x, 'X').zeroPoint,
      rq: prepareRequant(args, 0, false, act),
    },
  };
}

function runConv(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvState): void {
  const x = inputs[0]!.data as Activations;
  const w = inputs[1]!.data as Int8Array;
  const b = biasOf(inputs[2]);
  const y = outputs[0]!.data as Activations;
  const { walk, cin, cout, group, zx, rq } = st;
  const g = walk.g;
  const cinG = cin / group, coutG = cout / group;
  let yi = 0;
  for (walk.start(); walk.next(); yi += cout) {
    const { n, kd0, kd1, kh0, kh1, kw0, kw1, id0, ih0, iw0 } = walk;
    for (let o = 0; o < cout; o++) {
      const cOff = ((o / coutG) | 0) * cinG;
      let acc = b ? b[o]! : 0;
      for (let kd = kd0; kd < kd1; kd++) {
        const id = id0 + kd * g.dD;
        for (let kh = kh0; kh < kh1; kh++) {
          const ih = ih0 + kh * g.dH;
          const xRow = ((n * g.inD + id) * g.inH + ih) * g.inW;
          const wRow = ((o * g.kD + kd) * g.kH + kh) * g.kW;
          for (let kw = kw0; kw < kw1; kw++) {
            const xo = (xRow + iw0 + kw * g.dW) * cin + cOff;
            const wo = (wRow + kw) * cinG;
            for (let ic = 0; ic < cinG; ic++) acc += (x[xo + ic]! - zx) * w[wo + ic]!;
          }
        }
      }
      y[yi + o] = requantizeChannel(rq, o, acc);
    }
  }
}

// ---------------------------------------------------------------------------
// DepthwiseConv
// ---------------------------------------------------------------------------

/** acc: int32 like TFLite's int8 kernel, or (16x8) doubles, which hold its int64 accumulator exactly. */
interface DepthwiseState { walk: WindowWalk; channels: number; multiplier: number; zx: number; rq: ChannelRequant; acc: Int32Array | Float64Array }

function prepareDepthwise(args: PrepareArgs, act: WeightedActivations = 'int8'): { state: DepthwiseState; scratchBytes: number } {
  const { node, inputs } = args;
  const x = inputs[0]!, w = inputs[1]!;
  const r = x.shape.length - 2;
  const { g } = channelsLastWindow(node, x.shape, w.shape.slice(1, r + 1));
  const channels = x.shape[r + 1]!;
  const cm = w.shape[r + 1]!;
  const acc = act === 'int16' ? new Float64Array(cm) : new Int32Array(cm);
  return {
    state: {
      walk: new WindowWalk(g), channels, multiplier: cm / channels,
      zx: tensorQuant(node, x, 'X').zeroPoint, rq: prepareRequant(args, r + 1, false, act), acc,
    },
    scratchBytes: acc.byteLength,
  };
}

/** Output channel c·M + m reads input channel c (TFLite's depth multiplier layout). */
function runDepthwise(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: DepthwiseState): void {
  const x = inputs[0]!.data as Activations;
  const w = inputs[1]!.data as Int8Array;
  const b = biasOf(inputs[2]);
  const y = outputs[0]!.data as Activations;
  const { walk, channels: c, multiplier: m, zx, rq, acc } = st;
  const g = walk.g;
  const cm = c * m;
  let yi = 0;
  for (walk.start(); walk.next(); yi += cm) {
    const { kd0, kd1, kh0, kh1, kw0, kw1 } = walk;
    if (b) acc.set(b); else acc.fill(0);
    for (let kd = kd0; kd < kd1; kd++) {
      for (let kh = kh0; kh < kh1; kh++) {
        for (let kw = kw0; kw < kw1; kw++) {
          const xo = walk.inputPixel(kd, kh, kw) * c;
          const wo = ((kd * g.kH + kh) * g.kW + kw) * cm;
          for (let ch = 0; ch < c; ch++) {
            const xv = x[xo + ch]! - zx;
            const base = ch * m;
            for (let j = 0; j < m; j++) acc[base + j] = acc[base + j]! + xv * w[wo + base + j]!;
          }
        }
      }
    }
    for (let o = 0; o < cm; o++) y[yi + o] = requantizeChannel(rq, o, acc[o]!);
  }
}

// ---------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------

interface ConvTransposeI8State { t: ConvTransposeState; zx: number; rq: ChannelRequant }

function runConvTranspose(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvTransposeI8State): void {
  const y = outputs[0]!.data as Activations;
  const { rq } = st;
  gatherTranspose(st.t, inputs[0]!.data as Activations, st.zx, inputs[1]!.data as Int8Array, biasOf(inputs[2]),
    (i, o, acc) => { y[i] = requantizeChannel(rq, o, acc); });
}

// ---------------------------------------------------------------------------
// FullyConnected
// ---------------------------------------------------------------------------

interface FullyConnectedState { k: number; o: number; zx: number; zw: number; rq: ChannelRequant }

function prepareFullyConnected(args: PrepareArgs, act: WeightedActivations = 'int8'): { state: FullyConnectedState } {
  const { node, inputs } = args;
  const w = inputs[1]!;
  return {
    state: {
      k: w.shape[1]!, o: w.shape[0]!,
      zx: tensorQuant(node, inputs[0], 'X').zeroPoint,
      zw: w.quant!.zeroPoint[0] ?? 0,
      rq: prepareRequant(args, 0, true, act),
    },
  };
}

/** TFLite's int8 FULLY_CONNECTED: acc = bias + Σ (x − z_x)(w − z_w) (z_w is 0 for per-channel weights). */
function runFullyConnected(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: FullyConnectedState): void {
  const x = inputs[0]!.data as Activations;
  const w = inputs[1]!.data as Int8Array;
  const b = biasOf(inputs[2]);
  const y = outputs[0]!.data as Activations;
  const { k, o, zx, zw, rq } = st;
  const rows = x.length / k;
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    for (let j = 0; j < o; j++) {
      const wo = j * k;
      let acc = b ? b[j]! : 0;
      for (let i = 0; i < k; i++) acc += (x[xo + i]! - zx) * (w[wo + i]! - zw);
      y[r * o + j] = requantizeChannel(rq, j, acc);
    }
  }
}

/**
 * Conv, DepthwiseConv, FullyConnected and ConvTranspose over `act` activations: the same
 * loops; int16 (16x8) differs only in its check, its int64 bias and its wide
 * epilogue (TFLite runs 16x8 with an int64 bias on these reference kernels).
 */
export function weightedKernels(act: WeightedActivations): KernelDef[] {
  return [
    defineKernel<ConvState>({ op: 'Conv', backend: 'ref', dtypes: [act], check: checkWeighted(() => 0, false, act), prepare: (a) => prepareConv(a, act), run: runConv }),
    defineKernel<DepthwiseState>({
      op: 'DepthwiseConv', backend: 'ref', dtypes: [act], check: checkWeighted((w) => w.shape.length - 1, false, act),
      prepare: (a) => prepareDepthwise(a, act), run: runDepthwise,
    }),
    defineKernel<FullyConnectedState>({
      op: 'FullyConnected', backend: 'ref', dtypes: [act], check: checkWeighted(() => 0, act === 'int8', act),
      prepare: (a) => prepareFullyConnected(a, act), run: runFullyConnected,
    }),
    defineKernel<ConvTransposeI8State>({
      op: 'ConvTranspose', backend: 'ref', dtypes: [act],
      check: (node, inputs, outputs) => checkWeighted((w) => w.shape.length - 1, false, act)(node, inputs, outputs) ??
        (attrInt(node, 'group', 1) !== 1 ? `quantized ConvTranspose takes one group, not ${attrInt(node, 'group', 1)}` : undefined),
      prepare: (args) => {
        const { state, scratchBytes } = prepareConvTranspose(args);
        const w = args.inputs[1]!;
        return {
          state: { t: state, zx: tensorQuant(args.node, args.inputs[0], 'X').zeroPoint, rq: prepareRequant(args, w.shape.length - 1, false, act) },
          scratchBytes,
        };
      },
      run: runConvTranspose,
    }),
  ];
}

export const int8ConvKernels: readonly KernelDef[] = weightedKernels('int8');

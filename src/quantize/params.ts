/**
 * The parameter arithmetic of post-training quantization: activation scales
 * and zero points from calibrated ranges, per-channel symmetric int8 weights,
 * int32 biases (with the scale floor that keeps them in range, and the bias
 * correction of the rounding error). quantize.ts rewrites graphs with them.
 */
import { Tensor, perTensorQuant, type Node, type QuantParams } from '../ir/index.js';
import { outputChannelAxis } from '../passes/fold-batchnorm.js';
import type { ValueRange } from './calibrate.js';

/** Quantization of an activation range [min, max] (which holds 0): asymmetric int8, or symmetric int16 (16x8). */
export function activationQuant(range: ValueRange, dtype: 'int8' | 'int16' = 'int8'): QuantParams {
  if (dtype === 'int16') {
    const m = Math.max(Math.abs(range.min), Math.abs(range.max));
    return perTensorQuant(m > 0 ? m / 32767 : 1, 0);
  }
  const span = range.max - range.min;
  const scale = span > 0 ? span / 255 : 1;
  const zp = Math.max(-128, Math.min(127, Math.round(-128 - range.min / scale)));
  return perTensorQuant(scale, zp);
}

/**
 * Symmetric per-channel int8 weights along `axis`. `minScale[c]`, when given,
 * is a floor on channel c's scale (see biasScaleFloor).
 */
export function quantizeWeights(w: Tensor, axis: number, minScale?: Float64Array): Tensor {
  const channels = w.shape[axis]!;
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const d = w.data as Float32Array;
  const absMax = new Float64Array(channels);
  for (let i = 0; i < d.length; i++) {
    const c = Math.floor(i / inner) % channels;
    absMax[c] = Math.max(absMax[c]!, Math.abs(d[i]!));
  }
  // An all-zero channel quantizes to zeros whatever the scale; 1/127 keeps its bias scale ordinary.
  const scale = Float32Array.from(absMax, (m, c) => Math.max(m > 0 ? m / 127 : 1 / 127, minScale?.[c] ?? 0));
  const q = new Int8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const c = Math.floor(i / inner) % channels;
    q[i] = Math.max(-127, Math.min(127, Math.round(d[i]! / scale[c]!)));
  }
  return new Tensor('int8', w.shape, q, { scale, zeroPoint: new Int32Array(channels), axis });
}

/**
 * The int32 accumulator holds the bias as b / (s_x · s_w[c]); when the input's
 * range is tiny (a squeeze-excite branch that is nearly dead, say) and the bias
 * is not, that overflows int32. Like TFLite's converter, the weight scale is
 * then raised until the bias fits within half the int32 range (the other half
 * is headroom for the products the accumulator adds); the weights lose
 * resolution where their contribution is smallest against the bias. 16x8
 * passes `accumulatorBits` 48: TFLite bounds its int64 accumulator by 2^47,
 * and CenterNet's dead squeeze-excite branches reach past it.
 */
export function biasScaleFloor(b: Tensor, inputScale: number, channels: number, accumulatorBits = 32): Float64Array {
  const floor = new Float64Array(channels);
  const half = 2 ** (accumulatorBits - 2);
  for (let c = 0; c < channels; c++) floor[c] = Math.abs(b.data[b.size === 1 ? 0 : c] as number) / (inputScale * half);
  return floor;
}

/**
 * Bias correction (Nagel et al. 2019, §4.2, with the input's calibrated
 * mean): rounding the weights to int8 changes each output by δW·x, whose mean
 * over the data is δW·E[x] — not zero when the input's channels have nonzero
 * means, as after a ReLU or on raw 0..255 pixels. BatchNorm-folded depthwise
 * layers multiply such a shift by the sum of their taps, so it grows through a
 * network; subtracting δW·E[x] from the bias removes it at its source. E[x] is
 * taken per input channel over all positions, ignoring that zero padding lowers
 * it at the borders. Returns `bias` itself when the input's mean is unknown.
 */
export function correctedBias(node: Node, bias: Tensor, w: Tensor, wq: Tensor, inputMean: Float64Array | undefined): Tensor {
  const last = w.shape[w.rank - 1]!;
  const axis = outputChannelAxis(node, w);
  if (axis === undefined || !inputMean || bias.size !== w.shape[axis]) return bias;
  const out = w.shape[axis]!;
  const q = wq.data as Int8Array, s = wq.quant!.scale, d = w.data as Float32Array;
  const inputChannels = inputMean.length;
  let channelsOf: (i: number) => [number, number];
  // An output pixel of a ConvTranspose meets on average taps / Π strides of its kernel's taps.
  let share = 1;
  if (node.op === 'ConvTranspose') {
    // IHWO, one group: input channel ⌊i / (taps · O)⌋, output channel i mod O.
    if (w.shape[0] !== inputChannels) return bias;
    const perIn = w.size / w.shape[0]!;
    channelsOf = (i) => [i % last, Math.floor(i / perIn)];
    const strides = node.attrs.strides as number[] | undefined;
    share = 1 / (strides ?? []).reduce((a, b) => a * b, 1);
  } else if (node.op === 'DepthwiseConv') {
    // 1HWO: output channel o reads input channel ⌊o / multiplier⌋.
    const multiplier = last / inputChannels;
    if (!Number.isInteger(multiplier)) return bias;
    channelsOf = (i) => { const o = i % last; return [o, Math.floor(o / multiplier)]; };
  } else {
    // OHWI (Conv, grouped or not) and [O, K] (FullyConnected): the last axis is the input channel within the group.
    const perOut = w.size / w.shape[0]!;
    const groups = inputChannels / last;
    if (!Number.isInteger(groups) || w.shape[0]! % groups !== 0) return bias;
    const outPerGroup = w.shape[0]! / groups;
    channelsOf = (i) => { const o = Math.floor(i / perOut); return [o, Math.floor(o / outPerGroup) * last + (i % last)]; };
  }
  const shift = new Float64Array(out);
  for (let i = 0; i < d.length; i++) {
    const [o, c] = channelsOf(i);
    shift[o]! += (q[i]! * s[s.length === 1 ? 0 : o]! - d[i]!) * inputMean[c]!;
  }
  const b = Float32Array.from(bias.data as Float32Array, (v, o) => v - share * shift[o]!);
  return new Tensor('float32', bias.shape, b);
}

/**
 * int32 bias with scale s_x · s_w[c] (int64 in 16x8, where the accumulator is
 * int64; the values stay below 2^47, TFLite's bound on that accumulator). One
 * scale per weight scale: TFLite's per-tensor FULLY_CONNECTED checks the
 * bias scale against s_x · s_w.
 */
export function quantizeBias(b: Tensor, inputScale: number, weightScales: Float32Array, dtype: 'int32' | 'int64' = 'int32'): Tensor {
  const n = b.size;
  const channels = weightScales.length === 1 ? 1 : n;
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = inputScale * weightScales[c]!;
  const limit = dtype === 'int64' ? 2 ** 47 - 1 : 2147483647;
  const values = Array.from({ length: n }, (_, c) => Math.max(-limit - 1, Math.min(limit, Math.round((b.data[c]! as number) / scale[channels === 1 ? 0 : c]!))));
  const quant: QuantParams = { scale, zeroPoint: new Int32Array(channels) };
  if (channels > 1) quant.axis = 0;
  return dtype === 'int64'
    ? new Tensor('int64', [n], BigInt64Array.from(values, BigInt), quant)
    : new Tensor('int32', [n], Int32Array.from(values), quant);
}

/** Per-tensor int8 (or int16) of a float constant, with given parameters. */
export function quantizeConstant(t: Tensor, q: QuantParams, dtype: 'int8' | 'int16' = 'int8'): Tensor {
  const s = q.scale[0]!, z = q.zeroPoint[0]!;
  const [lo, hi] = dtype === 'int16' ? [-32768, 32767] : [-128, 127];
  const d = t.data as Float32Array;
  const out = dtype === 'int16' ? new Int16Array(d.length) : new Int8Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = Math.max(lo, Math.min(hi, Math.round(d[i]! / s) + z));
  return new Tensor(dtype, t.shape, out, q);
}

export function constantRange(t: Tensor): ValueRange {
  let min = 0, max = 0;
  for (const v of t.data as Float32Array) { if (v < min) min = v; if (v > max) max = v; }
  return { min, max };
}

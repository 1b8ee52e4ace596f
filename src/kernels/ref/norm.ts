/**
 * Reference float kernels for BatchNormalization (inference), InstanceNormalization
 * (channels-last) and LayerNormalization.
 *
 * Statistics are computed in float64 with two passes (mean, then the mean of
 * squared deviations): the one-pass E[x²] - E[x]² loses every digit when the
 * mean is large against the spread, and the second pass costs one more read.
 */
import {
  attrInt, defineKernel, normalizeAxis, sizeOf, stridesOf,
  type KernelDef, type Node, type PrepareArgs, type Tensor,
} from '../../ir/index.js';
import { epsilonOf } from '../../ir/ops/nn.js';
import { FLOATS, sameDtypes, type FloatArray } from './nn-common.js';

// ---------------------------------------------------------------------------
// BatchNormalization: y = (x - mean) / sqrt(var + eps) * scale + B, per channel (last axis)
// ---------------------------------------------------------------------------

interface BatchNormState { channels: number; epsilon: number; mul: Float64Array; add: Float64Array }

function prepareBatchNorm({ node, inputs }: PrepareArgs): { state: BatchNormState; scratchBytes: number } {
  const x = inputs[0]!;
  const channels = x.shape[x.shape.length - 1]!;
  const mul = new Float64Array(channels), add = new Float64Array(channels);
  return { state: { channels, epsilon: epsilonOf(node), mul, add }, scratchBytes: mul.byteLength * 2 };
}

/** mul = scale / √(var + ε) and add = B − mean·mul per channel, computed in float64 (stored as `mul`/`add` hold them). */
export function batchNormAffine(scale: FloatArray, bias: FloatArray, mean: FloatArray, variance: FloatArray, epsilon: number,
  mul: FloatArray, add: FloatArray): void {
  for (let ch = 0; ch < mul.length; ch++) {
    const m = scale[ch]! / Math.sqrt(variance[ch]! + epsilon);
    mul[ch] = m;
    add[ch] = bias[ch]! - mean[ch]! * m;
  }
}

function runBatchNorm(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: BatchNormState): void {
  const x = inputs[0]!.data as FloatArray;
  const scale = inputs[1]!.data as FloatArray, bias = inputs[2]!.data as FloatArray;
  const mean = inputs[3]!.data as FloatArray, variance = inputs[4]!.data as FloatArray;
  const y = outputs[0]!.data as FloatArray;
  const { channels: c, mul, add } = st;
  // The per-channel affine map is recomputed each run: the statistics need not be constants.
  batchNormAffine(scale, bias, mean, variance, st.epsilon, mul, add);
  for (let i = 0; i < x.length; i += c) {
    for (let ch = 0; ch < c; ch++) y[i + ch] = x[i + ch]! * mul[ch]! + add[ch]!;
  }
}

// ---------------------------------------------------------------------------
// InstanceNormalization: per (batch, channel), statistics over the spatial axes
// ---------------------------------------------------------------------------

interface InstanceNormState { batch: number; pixels: number; channels: number; epsilon: number; mean: Float64Array; inv: Float64Array }

function prepareInstanceNorm({ node, inputs }: PrepareArgs): { state: InstanceNormState; scratchBytes: number } {
  const s = inputs[0]!.shape;
  const channels = s[s.length - 1]!;
  const mean = new Float64Array(channels), inv = new Float64Array(channels);
  return {
    state: { batch: s[0]!, pixels: sizeOf(s.slice(1, -1)), channels, epsilon: epsilonOf(node), mean, inv },
    scratchBytes: mean.byteLength * 2,
  };
}

function runInstanceNorm(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: InstanceNormState): void {
  const x = inputs[0]!.data as FloatArray;
  const scale = inputs[1]!.data as FloatArray, bias = inputs[2]!.data as FloatArray;
  const y = outputs[0]!.data as FloatArray;
  const { batch, pixels, channels: c, mean, inv } = st;
  for (let n = 0; n < batch; n++) {
    const base = n * pixels * c;
    const end = base + pixels * c;
    mean.fill(0);
    for (let i = base; i < end; i += c) for (let ch = 0; ch < c; ch++) mean[ch] = mean[ch]! + x[i + ch]!;
    for (let ch = 0; ch < c; ch++) mean[ch] = mean[ch]! / pixels;
    inv.fill(0);
    for (let i = base; i < end; i += c) {
      for (let ch = 0; ch < c; ch++) { const d = x[i + ch]! - mean[ch]!; inv[ch] = inv[ch]! + d * d; }
    }
    for (let ch = 0; ch < c; ch++) inv[ch] = scale[ch]! / Math.sqrt(inv[ch]! / pixels + st.epsilon);
    for (let i = base; i < end; i += c) {
      for (let ch = 0; ch < c; ch++) y[i + ch] = (x[i + ch]! - mean[ch]!) * inv[ch]! + bias[ch]!;
    }
  }
}

// ---------------------------------------------------------------------------
// LayerNormalization: statistics over the axes from `axis` on; Scale and B broadcast onto them
// ---------------------------------------------------------------------------

interface LayerNormState {
  rows: number;
  width: number;
  epsilon: number;
  /** For each position of the normalized block, the element of Scale / B it reads (broadcasting). */
  scaleIndex: Int32Array;
  biasIndex?: Int32Array;
}

function broadcastIndex(shape: readonly number[], target: readonly number[]): Int32Array {
  const out = new Int32Array(sizeOf(target));
  const tStrides = stridesOf(target);
  const full = [...new Array<number>(target.length - shape.length).fill(1), ...shape];
  const sStrides = stridesOf(full);
  for (let i = 0; i < out.length; i++) {
    let rest = i, idx = 0;
    for (let d = 0; d < target.length; d++) {
      const q = Math.floor(rest / tStrides[d]!);
      rest -= q * tStrides[d]!;
      if (full[d] !== 1) idx += q * sStrides[d]!;
    }
    out[i] = idx;
  }
  return out;
}

function prepareLayerNorm({ node, inputs }: PrepareArgs): { state: LayerNormState; scratchBytes: number } {
  const s = inputs[0]!.shape;
  const axis = normalizeAxis(attrInt(node, 'axis', -1), s.length);
  const normShape = s.slice(axis);
  const scaleIndex = broadcastIndex(inputs[1]!.shape, normShape);
  const b = inputs[2];
  const biasIndex = b && sizeOf(b.shape) > 0 ? broadcastIndex(b.shape, normShape) : undefined;
  return {
    state: { rows: sizeOf(s.slice(0, axis)), width: sizeOf(normShape), epsilon: epsilonOf(node), scaleIndex, biasIndex },
    scratchBytes: scaleIndex.byteLength + (biasIndex?.byteLength ?? 0),
  };
}

function runLayerNorm(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node, st: LayerNormState): void {
  const x = inputs[0]!.data as FloatArray;
  const scale = inputs[1]!.data as FloatArray;
  const bias = st.biasIndex ? inputs[2]!.data as FloatArray : undefined;
  const y = outputs[0]!.data as FloatArray;
  // Optional outputs may be skipped with an empty name.
  const meanOut = node.outputs[1] ? outputs[1]?.data as FloatArray | undefined : undefined;
  const invOut = node.outputs[2] ? outputs[2]?.data as FloatArray | undefined : undefined;
  const { rows, width, scaleIndex, biasIndex } = st;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let sum = 0;
    for (let j = 0; j < width; j++) sum += x[base + j]!;
    const mean = sum / width;
    let sq = 0;
    for (let j = 0; j < width; j++) { const d = x[base + j]! - mean; sq += d * d; }
    const inv = 1 / Math.sqrt(sq / width + st.epsilon);
    for (let j = 0; j < width; j++) {
      const v = (x[base + j]! - mean) * inv * scale[scaleIndex[j]!]!;
      y[base + j] = bias ? v + bias[biasIndex![j]!]! : v;
    }
    if (meanOut) meanOut[r] = mean;
    if (invOut) invOut[r] = inv;
  }
}

export const normKernels: readonly KernelDef[] = [
  defineKernel<BatchNormState>({ op: 'BatchNormalization', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareBatchNorm, run: runBatchNorm }),
  defineKernel<InstanceNormState>({ op: 'InstanceNormalization', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareInstanceNorm, run: runInstanceNorm }),
  defineKernel<LayerNormState>({ op: 'LayerNormalization', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareLayerNorm, run: runLayerNorm }),
];

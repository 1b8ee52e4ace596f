/**
 * int8 reference kernels for the data-movement ops whose result depends on
 * quantization: Concat (inputs quantized differently from the output are
 * requantized) and Pad (constant padding is the zero point, not 0).
 * Transpose, Reshape, Squeeze, Slice and friends move raw values and run on
 * the all-dtype shape kernels.
 */
import {
  attrInt, attrString, defineKernel, sizeOf, type KernelDef, type Node, type PrepareArgs, type Tensor,
} from '../../../ir/index.js';
import { CloudlessError } from '../../../ir/index.js';
import { integerValues, padAmounts } from '../../../ir/ops/nn.js';
import { padConstant } from '../pad.js';
import { INT8_MAX, INT8_MIN, clampInt, fl, hasTensorQuant, roundHalfAway, tensorQuant } from './requantize.js';

// ---------------------------------------------------------------------------
// Concat
// ---------------------------------------------------------------------------

export interface ConcatState {
  /** Elements of each input per outer index, and the output's. */
  blocks: number[];
  outBlock: number;
  outer: number;
  /** Per input: requantization table (index raw + 128), or undefined when its quantization equals the output's. */
  tables: (Int8Array | undefined)[];
}

/**
 * TFLite's ConcatenationWithScaling (float32): y = round_half_away(x · s + b) + z_y
 * with s = s_x · (1 / s_y) and b = −z_x · s. Used in both arithmetics.
 */
function requantizeTable(sx: number, zx: number, sy: number, zy: number): Int8Array {
  const scale = fl(sx * fl(1 / sy));
  const bias = fl(-zx * scale);
  const t = new Int8Array(256);
  for (let x = INT8_MIN; x <= INT8_MAX; x++) t[x + 128] = clampInt(roundHalfAway(fl(fl(x * scale) + bias)) + zy, INT8_MIN, INT8_MAX);
  return t;
}

export function prepareConcat({ node, inputs, outputs }: PrepareArgs): { state: ConcatState; scratchBytes: number } {
  const out = outputs[0]!;
  const rank = out.shape.length;
  const raw = attrInt(node, 'axis');
  const axis = raw < 0 ? raw + rank : raw;
  const yq = tensorQuant(node, out, 'the output');
  const inner = sizeOf(out.shape.slice(axis + 1));
  const present = inputs.filter((v) => v !== undefined);
  let scratchBytes = 0;
  const tables = present.map((v, i) => {
    const q = tensorQuant(node, v, `input ${i}`);
    if (q.scale === yq.scale && q.zeroPoint === yq.zeroPoint) return undefined;
    scratchBytes += 256;
    return requantizeTable(q.scale, q.zeroPoint, yq.scale, yq.zeroPoint);
  });
  return {
    state: {
      blocks: present.map((v) => v!.shape[axis]! * inner),
      outBlock: out.shape[axis]! * inner,
      outer: sizeOf(out.shape.slice(0, axis)),
      tables,
    },
    scratchBytes,
  };
}

/** Copies each input's blocks into place (int8, or int16 for the 16x8 kernels, which never need a table). */
export function runConcat(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConcatState): void {
  const y = outputs[0]!.data as Int8Array | Int16Array;
  let k = 0, start = 0;
  for (const t of inputs) {
    if (!t) continue;
    const x = t.data as Int8Array | Int16Array, block = st.blocks[k]!, table = st.tables[k];
    for (let o = 0; o < st.outer; o++) {
      const xo = o * block, yo = o * st.outBlock + start;
      if (table) for (let i = 0; i < block; i++) y[yo + i] = table[x[xo + i]! + 128]!;
      else y.set(x.subarray(xo, xo + block), yo);
    }
    start += block;
    k++;
  }
}

// ---------------------------------------------------------------------------
// Pad
// ---------------------------------------------------------------------------

export interface PadState { begin: number[]; inShape: number[]; outShape: number[] }

export function preparePad({ node, inputs, outputs }: PrepareArgs): { state: PadState } {
  const x = inputs[0]!;
  const pads = inputs[1]?.constant;
  if (!pads) throw new CloudlessError('E_UNSUPPORTED', `node ${node.name} (Pad): the quantized kernel needs constant pads`, { node: node.name });
  const axesT = inputs[3]?.constant;
  const [begin] = padAmounts(node, x.shape.length, integerValues(node, pads, 'pads'), axesT && axesT.size > 0 ? integerValues(node, axesT, 'axes') : undefined);
  return { state: { begin, inShape: [...x.shape], outShape: [...outputs[0]!.shape] } };
}

/**
 * Output elements outside the input get the pad value: an int8 constant_value
 * if given, else the output zero point (real 0), as TFLite's int8 PAD does.
 * Negative pads crop (padConstant copies whole rows either way).
 */
export function runPad(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: PadState): void {
  const cv = inputs[2];
  const fill = cv && cv.size > 0 ? Number(cv.data[0]!) : outputs[0]!.quant!.zeroPoint[0]!;
  padConstant(inputs[0]!.data, outputs[0]!.data, st.inShape, st.outShape, st.begin, fill);
}

export const int8DataKernels: readonly KernelDef[] = [
  defineKernel<ConcatState>({
    op: 'Concat', backend: 'ref', dtypes: ['int8'],
    check: (_n, inputs, outputs) => {
      if (!hasTensorQuant(outputs[0])) return 'int8 Concat needs the output to be int8 with one scale and zero point';
      return inputs.every((v) => v === undefined || hasTensorQuant(v)) ? undefined : 'int8 Concat needs every input to be int8 with one scale and zero point';
    },
    prepare: prepareConcat,
    run: runConcat,
  }),
  defineKernel<PadState>({
    op: 'Pad', backend: 'ref', dtypes: ['int8'],
    check: (node, inputs, outputs) => {
      if (!hasTensorQuant(inputs[0]) || !hasTensorQuant(outputs[0])) return 'int8 Pad needs X and the output to be int8 with one scale and zero point';
      if (attrString(node, 'mode', 'constant') !== 'constant') return 'reflect/edge/wrap padding moves raw values: the all-dtype Pad kernel runs it';
      const cv = inputs[2];
      if (cv && sizeOf(cv.shape) > 0 && cv.dtype !== 'int8') return `int8 Pad needs an int8 constant_value, got ${cv.dtype}`;
      return undefined;
    },
    prepare: preparePad,
    run: runPad,
  }),
];

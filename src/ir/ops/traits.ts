/**
 * Facts about canonical ops that the planner, the passes, the quantizer and the
 * writers all need, in one table: before, each kept a private list. Every op
 * schema carries its traits (`OpSchema.traits`, attached in ./index.ts); code
 * that runs before the schemas are registered reads them with `opTraits`.
 */

/**
 * How an op moves the elements of its first input without computing on them:
 * - `view`: the output is the input's bytes, in order, under another shape
 *   (the planner lets the output share the input's buffer);
 * - `permute`: a permutation of the input's axes;
 * - `copy`: every output element is an input element (or the padding value),
 *   taken in another pattern: slices, gathers, tiles, block rearrangements.
 * All three are exact on int8 data whose output keeps the input's quantization.
 */
export type Movement = 'view' | 'permute' | 'copy';

/** A fixed output quantization: [scale, zero point]. */
export type FixedQuant = readonly [scale: number, zeroPoint: number];

export interface OpTraits {
  movement?: Movement;
  /** Takes a fused activation in attr `activation` (Relu, Relu6, ... applied to its output). */
  fusedActivation?: boolean;
  /** Has weights that the quantizer quantizes per output channel (along outputChannelAxis). */
  weighted?: boolean;
  /** Its int8 kernels requantize the output to the output's own calibrated range. */
  requantizing?: boolean;
  /** Its int8 kernels compute over one quantization shared by input 0 and the outputs. */
  sharedQuant?: boolean;
  /** The output quantization TFLite imposes on its int8 / int16 (16x8) kernels. */
  fixedOutput?: { int8?: FixedQuant; int16?: FixedQuant };
}

/**
 * TFLite's fixed int16 outputs: LOGISTIC checks scale == 1/32768 exactly and
 * zero point 0; TANH zero point 0 and a scale whose CheckedLog2 is -15;
 * SOFTMAX zero point 0 and a scale within 0.1% of 1/32768. int8: LOGISTIC and
 * SOFTMAX 1/256 with zero point -128, TANH 1/128 with zero point 0.
 */
const INT16_UNIT: FixedQuant = Object.freeze([1 / 32768, 0] as const);

const TRAITS: Readonly<Record<string, OpTraits>> = {
  Reshape: { movement: 'view' },
  Flatten: { movement: 'view' },
  Squeeze: { movement: 'view' },
  Unsqueeze: { movement: 'view' },
  Identity: { movement: 'view' },
  // Dropout runs as its inference form: the identity of its first input.
  Dropout: { movement: 'view' },
  Transpose: { movement: 'permute' },
  Slice: { movement: 'copy' },
  Gather: { movement: 'copy' },
  Split: { movement: 'copy' },
  DepthToSpace: { movement: 'copy' },
  SpaceToDepth: { movement: 'copy' },
  Tile: { movement: 'copy' },
  Expand: { movement: 'copy' },
  Pad: { movement: 'copy' },

  Conv: { fusedActivation: true, weighted: true },
  DepthwiseConv: { fusedActivation: true, weighted: true },
  ConvTranspose: { fusedActivation: true, weighted: true },
  FullyConnected: { fusedActivation: true, weighted: true },
  MaxPool: { fusedActivation: true, sharedQuant: true },
  AveragePool: { fusedActivation: true, sharedQuant: true },
  ReduceMax: { sharedQuant: true },
  Resize: { sharedQuant: true },

  Add: { requantizing: true },
  Sub: { requantizing: true },
  Mul: { requantizing: true },
  ReduceMean: { requantizing: true },
  HardSwish: { requantizing: true },
  LeakyRelu: { requantizing: true },
  Relu: { requantizing: true },
  Clip: { requantizing: true },
  Concat: { requantizing: true },

  Softmax: { fixedOutput: { int8: [1 / 256, -128], int16: INT16_UNIT } },
  Sigmoid: { fixedOutput: { int8: [1 / 256, -128], int16: INT16_UNIT } },
  Tanh: { fixedOutput: { int8: [1 / 128, 0], int16: INT16_UNIT } },
};

const NONE: OpTraits = Object.freeze({});

/** The traits of a canonical op (none for an op the table does not name). */
export function opTraits(op: string): OpTraits {
  return TRAITS[op] ?? NONE;
}

/** The ops that have a trait, e.g. `opsWith((t) => t.movement === 'view')`. */
export function opsWith(test: (t: OpTraits) => boolean | undefined): Set<string> {
  return new Set(Object.keys(TRAITS).filter((op) => test(TRAITS[op]!)));
}

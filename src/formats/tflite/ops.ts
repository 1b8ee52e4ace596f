import type { DType } from '../../ir/index.js';
import { ActivationFunctionType, BuiltinOptions, TensorType } from './schema.js';

/**
 * The TFLite ↔ canonical op tables, one of each, read one way by the importer
 * (builtin → op) and the other by the writer (op → builtin). Facts from
 * TFLite's schema.fbs; the mappings are cloudless's.
 */

/** Union indices of option tables the importer does not read (so schema.ts does not list them); from schema.fbs. */
export const MoreOptions = {
  ExpOptions: 33, TopKV2Options: 34, NegOptions: 42, DequantizeOptions: 38, MaximumMinimumOptions: 39, PadOptions: 22, PadV2Options: 43, TransposeOptions: 26,
  QuantizeOptions: 89, HardSwishOptions: 91, ReverseV2Options: 81, LogSoftmaxOptions: 36, SelectV2Options: 98,
  TileOptions: 51, AddNOptions: 82, MirrorPadOptions: 77,
} as const;

/**
 * A builtin that is one canonical op with the same inputs and outputs and no
 * option fields. `options` is the (empty) options table the writer writes.
 * `read: false`: the importer converts the builtin itself; `write: false`: the
 * writer writes the op itself (it checks attributes, or another builtin is the
 * one written).
 */
export interface DirectBuiltin {
  builtin: string;
  op: string;
  options?: number;
  read?: false;
  write?: false;
}

export const DIRECT_BUILTINS: readonly DirectBuiltin[] = [
  { builtin: 'RELU', op: 'Relu' }, { builtin: 'LOGISTIC', op: 'Sigmoid' }, { builtin: 'TANH', op: 'Tanh' },
  { builtin: 'HARD_SWISH', op: 'HardSwish', options: MoreOptions.HardSwishOptions }, { builtin: 'EXP', op: 'Exp', options: MoreOptions.ExpOptions },
  { builtin: 'LOG', op: 'Log' }, { builtin: 'SQRT', op: 'Sqrt' }, { builtin: 'ABS', op: 'Abs' }, { builtin: 'NEG', op: 'Neg' },
  { builtin: 'FLOOR', op: 'Floor' }, { builtin: 'CEIL', op: 'Ceil' }, { builtin: 'ROUND', op: 'Round' },
  { builtin: 'SIN', op: 'Sin' }, { builtin: 'COS', op: 'Cos' }, { builtin: 'POW', op: 'Pow' },
  { builtin: 'PRELU', op: 'PRelu' }, { builtin: 'SIGN', op: 'Sign' },
  { builtin: 'LESS', op: 'Less' }, { builtin: 'LESS_EQUAL', op: 'LessOrEqual' }, { builtin: 'GREATER', op: 'Greater' },
  { builtin: 'GREATER_EQUAL', op: 'GreaterOrEqual' }, { builtin: 'EQUAL', op: 'Equal' },
  { builtin: 'LOGICAL_AND', op: 'And' }, { builtin: 'LOGICAL_OR', op: 'Or' }, { builtin: 'LOGICAL_NOT', op: 'Not' },
  { builtin: 'SELECT_V2', op: 'Where', options: MoreOptions.SelectV2Options }, { builtin: 'SELECT', op: 'Where', write: false },
  { builtin: 'GATHER_ND', op: 'GatherND' },
  { builtin: 'DEQUANTIZE', op: 'Dequantize', options: MoreOptions.DequantizeOptions },
  // The importer reads QUANTIZE's target dtype into the `to` attribute.
  { builtin: 'QUANTIZE', op: 'Quantize', options: MoreOptions.QuantizeOptions, read: false },
  { builtin: 'ADD_N', op: 'Sum', options: MoreOptions.AddNOptions },
  // The writer checks these ops' attributes or turns their inputs into int32 constants.
  { builtin: 'MAXIMUM', op: 'Max', write: false }, { builtin: 'MINIMUM', op: 'Min', write: false },
  { builtin: 'ELU', op: 'Elu', write: false }, { builtin: 'BROADCAST_TO', op: 'Expand', write: false },
  { builtin: 'TILE', op: 'Tile', write: false },
  // FLOOR_MOD is Python-style modulo: canonical Mod with its default fmod=0.
  { builtin: 'FLOOR_MOD', op: 'Mod', write: false },
];

/** Importer: builtin name → the canonical op it is by itself. */
export const OP_OF_BUILTIN: Readonly<Record<string, string>> = Object.fromEntries(DIRECT_BUILTINS.filter((d) => d.read !== false).map((d) => [d.builtin, d.op]));
/** Writer: canonical op → the builtin written for it with no options. */
export const BUILTIN_OF_OP: Readonly<Record<string, DirectBuiltin>> = Object.fromEntries(DIRECT_BUILTINS.filter((d) => d.write !== false).map((d) => [d.op, d]));

/** The elementwise binary builtins with a fused activation in their options (slot 0). */
export const BINARY_BUILTINS: readonly { builtin: string; op: string; options: number }[] = [
  { builtin: 'ADD', op: 'Add', options: BuiltinOptions.AddOptions }, { builtin: 'SUB', op: 'Sub', options: BuiltinOptions.SubOptions },
  { builtin: 'MUL', op: 'Mul', options: BuiltinOptions.MulOptions }, { builtin: 'DIV', op: 'Div', options: BuiltinOptions.DivOptions },
];

/** The reductions (axes as input 1, keep_dims in ReducerOptions): builtin ↔ canonical op. */
export const REDUCE_BUILTINS: readonly { builtin: string; op: string }[] = [
  { builtin: 'MEAN', op: 'ReduceMean' }, { builtin: 'SUM', op: 'ReduceSum' }, { builtin: 'REDUCE_MAX', op: 'ReduceMax' },
  { builtin: 'REDUCE_MIN', op: 'ReduceMin' }, { builtin: 'REDUCE_PROD', op: 'ReduceProd' },
];

/**
 * The clamping builtins, each a canonical Clip to [lo, hi]. RELU is read as Relu
 * (DIRECT_BUILTINS) but is also what the writer writes for Clip(0, ∞).
 */
export const CLAMP_BUILTINS: readonly { builtin: string; lo: number; hi: number; read?: false }[] = [
  { builtin: 'RELU6', lo: 0, hi: 6 }, { builtin: 'RELU_N1_TO_1', lo: -1, hi: 1 }, { builtin: 'RELU_0_TO_1', lo: 0, hi: 1 },
  { builtin: 'RELU', lo: 0, hi: Infinity, read: false },
];

/** The builtin that writes a Clip to [lo, hi] by itself, when one does. */
export function clampBuiltin(lo: number, hi: number): string | undefined {
  return CLAMP_BUILTINS.find((c) => c.lo === lo && c.hi === hi)?.builtin;
}

/** The fused activations cloudless takes, by their `activation` attribute value. */
export const FUSED_ACTIVATIONS = {
  none: ActivationFunctionType.NONE, relu: ActivationFunctionType.RELU,
  relu_n1_to_1: ActivationFunctionType.RELU_N1_TO_1, relu6: ActivationFunctionType.RELU6,
} as const;

export type Activation = keyof typeof FUSED_ACTIVATIONS;

/** The canonical dtype ↔ TFLite tensor type; the importer also widens FLOAT16 constants and UINT32/UINT64 (WIDENED_TYPES). */
export const TENSOR_TYPES: Readonly<Record<DType, number>> = {
  float32: TensorType.FLOAT32, float64: TensorType.FLOAT64, int8: TensorType.INT8, uint8: TensorType.UINT8,
  int16: TensorType.INT16, int32: TensorType.INT32, int64: TensorType.INT64, bool: TensorType.BOOL,
};

/** TFLite types the importer reads as a wider canonical dtype. */
export const WIDENED_TYPES: Readonly<Record<number, DType>> = {
  [TensorType.FLOAT16]: 'float32', [TensorType.UINT32]: 'int64', [TensorType.UINT64]: 'int64',
};

/** The canonical dtype of a TFLite tensor type, or undefined for one cloudless does not read. */
export function dtypeOfTensorType(type: number): DType | undefined {
  for (const [dtype, t] of Object.entries(TENSOR_TYPES)) if (t === type) return dtype as DType;
  return WIDENED_TYPES[type];
}

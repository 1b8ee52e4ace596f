import type { DType } from '../../ir/index.js';

/**
 * ONNX element types (TensorProto.DataType, from onnx.proto) and the cloudless
 * dtypes they map to, both ways: the importer reads dtypeFromOnnx, the
 * exporter and writer ONNX_TYPE_OF.
 */

/** TensorProto.DataType values. */
export const OnnxDataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

const DATA_TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING',
  9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128',
  16: 'BFLOAT16', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4',
  22: 'INT4', 23: 'FLOAT4E2M1',
};

export function onnxDataTypeName(dt: number): string {
  return DATA_TYPE_NAMES[dt] ?? `data type ${dt}`;
}

/**
 * The cloudless dtype an ONNX element type loads as, or undefined when we have none.
 * Narrow types without a dtype of their own are widened losslessly (float16 → float32,
 * uint16 → int32, uint32 → int64).
 */
export function dtypeFromOnnx(dt: number): DType | undefined {
  switch (dt) {
    case OnnxDataType.FLOAT: case OnnxDataType.FLOAT16: return 'float32';
    case OnnxDataType.DOUBLE: return 'float64';
    case OnnxDataType.UINT8: return 'uint8';
    case OnnxDataType.INT8: return 'int8';
    case OnnxDataType.INT16: return 'int16';
    case OnnxDataType.UINT16: case OnnxDataType.INT32: return 'int32';
    case OnnxDataType.UINT32: case OnnxDataType.INT64: return 'int64';
    case OnnxDataType.BOOL: return 'bool';
    default: return undefined;
  }
}

/** The TensorProto.DataType a cloudless dtype is written as. */
export const ONNX_TYPE_OF: Readonly<Record<DType, number>> = {
  float32: OnnxDataType.FLOAT, uint8: OnnxDataType.UINT8, int8: OnnxDataType.INT8, int16: OnnxDataType.INT16,
  int32: OnnxDataType.INT32, int64: OnnxDataType.INT64, bool: OnnxDataType.BOOL, float64: OnnxDataType.DOUBLE,
};

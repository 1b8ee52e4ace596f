/**
 * The .tflite flatbuffer of a model the writer (writer.ts) has turned into
 * tensors, buffers, operator codes and operators. Layout of the file, facts
 * from schema.fbs: file identifier "TFL3", Model version 3, buffer 0 empty (the
 * "no data" buffer every tensor without data points at), one subgraph; each
 * operator code carries the builtin both in the int8 deprecated_builtin_code
 * (saturated at 127) and in the int32 builtin_code. Constant data is 16-byte
 * aligned, like the converter writes it, so that runtimes may map weights in
 * place.
 */
import { Builder, type Offset } from 'flatbuffers';
import type { QuantParams } from '../../ir/index.js';
import {
  BUILTIN_PLACEHOLDER_FOR_GREATER_OP_CODES, BufferSlot, ModelSlot, OperatorCodeSlot, OperatorSlot, QuantizationSlot, SubGraphSlot,
  TFLITE_IDENTIFIER, TensorSlot,
} from './schema.js';

/** One scalar or vector field of an options table, by vtable slot. */
export type OptionField =
  | { slot: number; i32: number } | { slot: number; i8: number } | { slot: number; bool: boolean }
  | { slot: number; f32: number } | { slot: number; ints: readonly number[] };

export interface OperatorSpec {
  opcode: number;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  options: OptionField[];
  customOptions?: Uint8Array;
}

export interface TensorSpec {
  name: string;
  type: number;
  shape: readonly number[];
  buffer: number;
  quant?: QuantParams;
  isVariable: boolean;
}

/** What one .tflite file holds: one subgraph, its tensors (by index) and the model's tables. */
export interface ModelSpec {
  name: string;
  description: string;
  tensors: readonly TensorSpec[];
  buffers: readonly Uint8Array[];
  opcodes: readonly { builtin: number; custom?: string; version: number }[];
  operators: readonly OperatorSpec[];
  inputs: readonly number[];
  outputs: readonly number[];
}

export function serializeModel(m: ModelSpec): Uint8Array {
  const b = new Builder(1024 + m.buffers.reduce((s, d) => s + d.length + 32, 0));
  const int32Vector = (v: readonly number[]): Offset => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i]!);
    return b.endVector();
  };
  const offsetVector = (v: readonly Offset[]): Offset => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]!);
    return b.endVector();
  };
  const floatVector = (v: Float32Array): Offset => {
    b.startVector(4, v.length, 4);
    for (let i = v.length - 1; i >= 0; i--) b.addFloat32(v[i]!);
    return b.endVector();
  };
  const int64Vector = (v: Int32Array): Offset => {
    b.startVector(8, v.length, 8);
    for (let i = v.length - 1; i >= 0; i--) b.addInt64(BigInt(v[i]!));
    return b.endVector();
  };
  const alignedBytes = (data: Uint8Array): Offset => {
    // 16-byte alignment of constant data; pad() reserves the bytes, which are then filled in place.
    b.startVector(1, data.length, 16);
    b.pad(data.length);
    const bb = b.dataBuffer();
    bb.bytes().set(data, bb.capacity() - b.offset());
    return b.endVector();
  };

  const bufferOffsets = m.buffers.map((data) => {
    const dataOffset = data.length ? alignedBytes(data) : 0;
    b.startObject(3);
    if (dataOffset) b.addFieldOffset(BufferSlot.data, dataOffset, 0);
    return b.endObject();
  });

  const tensorOffsets = m.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = int32Vector(t.shape);
    let quant = 0;
    if (t.quant) {
      const scale = floatVector(t.quant.scale);
      const zeroPoint = int64Vector(t.quant.zeroPoint);
      b.startObject(7);
      b.addFieldOffset(QuantizationSlot.scale, scale, 0);
      b.addFieldOffset(QuantizationSlot.zeroPoint, zeroPoint, 0);
      b.addFieldInt32(QuantizationSlot.quantizedDimension, t.quant.scale.length > 1 ? t.quant.axis ?? 0 : 0, null);
      quant = b.endObject();
    }
    b.startObject(6);
    b.addFieldOffset(TensorSlot.shape, shape, 0);
    b.addFieldInt8(TensorSlot.type, t.type, null);
    b.addFieldInt32(TensorSlot.buffer, t.buffer, null);
    b.addFieldOffset(TensorSlot.name, name, 0);
    if (quant) b.addFieldOffset(TensorSlot.quantization, quant, 0);
    if (t.isVariable) b.addFieldInt8(TensorSlot.isVariable, 1, 0);
    return b.endObject();
  });

  const operatorOffsets = m.operators.map((op) => {
    const inputs = int32Vector(op.inputs);
    const outputs = int32Vector(op.outputs);
    const custom = op.customOptions ? b.createByteVector(op.customOptions) : 0;
    let options = 0;
    if (op.optionsType) {
      const vectors = op.options.map((f) => ('ints' in f ? int32Vector(f.ints) : 0));
      const slots = op.options.reduce((m, f) => Math.max(m, f.slot + 1), 0);
      b.startObject(slots);
      op.options.forEach((f, i) => {
        if ('i32' in f) b.addFieldInt32(f.slot, f.i32, null);
        else if ('i8' in f) b.addFieldInt8(f.slot, f.i8, null);
        else if ('bool' in f) b.addFieldInt8(f.slot, f.bool ? 1 : 0, null);
        else if ('f32' in f) b.addFieldFloat32(f.slot, f.f32, null);
        else b.addFieldOffset(f.slot, vectors[i]!, 0);
      });
      options = b.endObject();
    }
    b.startObject(7);
    b.addFieldInt32(OperatorSlot.opcodeIndex, op.opcode, null);
    b.addFieldOffset(OperatorSlot.inputs, inputs, 0);
    b.addFieldOffset(OperatorSlot.outputs, outputs, 0);
    if (op.optionsType) {
      b.addFieldInt8(OperatorSlot.builtinOptionsType, op.optionsType, 0);
      b.addFieldOffset(OperatorSlot.builtinOptions, options, 0);
    }
    if (custom) b.addFieldOffset(OperatorSlot.customOptions, custom, 0);
    return b.endObject();
  });

  const subgraphName = b.createString(m.name);
  const tensors = offsetVector(tensorOffsets);
  const inputs = int32Vector(m.inputs);
  const outputs = int32Vector(m.outputs);
  const operators = offsetVector(operatorOffsets);
  b.startObject(5);
  b.addFieldOffset(SubGraphSlot.tensors, tensors, 0);
  b.addFieldOffset(SubGraphSlot.inputs, inputs, 0);
  b.addFieldOffset(SubGraphSlot.outputs, outputs, 0);
  b.addFieldOffset(SubGraphSlot.operators, operators, 0);
  b.addFieldOffset(SubGraphSlot.name, subgraphName, 0);
  const subgraph = b.endObject();

  const codeOffsets = m.opcodes.map((c) => {
    const custom = c.custom !== undefined ? b.createString(c.custom) : 0;
    b.startObject(4);
    b.addFieldInt8(OperatorCodeSlot.deprecatedBuiltinCode, Math.min(c.builtin, BUILTIN_PLACEHOLDER_FOR_GREATER_OP_CODES), null);
    if (custom) b.addFieldOffset(OperatorCodeSlot.customCode, custom, 0);
    b.addFieldInt32(OperatorCodeSlot.version, c.version, null);
    b.addFieldInt32(OperatorCodeSlot.builtinCode, c.builtin, null);
    return b.endObject();
  });

  const description = b.createString(m.description);
  const codes = offsetVector(codeOffsets);
  const subgraphs = offsetVector([subgraph]);
  const buffers = offsetVector(bufferOffsets);
  b.startObject(5);
  b.addFieldInt32(ModelSlot.version, 3, null);
  b.addFieldOffset(ModelSlot.operatorCodes, codes, 0);
  b.addFieldOffset(ModelSlot.subgraphs, subgraphs, 0);
  b.addFieldOffset(ModelSlot.description, description, 0);
  b.addFieldOffset(ModelSlot.buffers, buffers, 0);
  b.finish(b.endObject(), TFLITE_IDENTIFIER);
  return b.asUint8Array().slice();
}

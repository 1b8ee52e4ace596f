import { Builder } from 'flatbuffers';
import { ModelSlot, OperatorCodeSlot, OperatorSlot, QuantizationSlot, SubGraphSlot, TensorSlot, BufferSlot, TensorType } from '../../../src/formats/tflite/schema.js';

/** A tensor of a test model: float32 unless `type` says otherwise; `data` makes it a constant. */
export interface TinyTensor {
  name: string;
  shape: number[];
  type?: number;
  data?: Uint8Array;
  /** Per-tensor quantization (scale, zero point). */
  quant?: { scale: number; zeroPoint: number };
}

export interface TinyOp {
  code: number;
  inputs: number[];
  outputs: number[];
  /** Union index and a writer of the options table's fields. */
  options?: { type: number; write: (b: Builder) => void; slots: number };
}

export const f32Bytes = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
export const i32Bytes = (v: number[]): Uint8Array => new Uint8Array(Int32Array.from(v).buffer);
export const f16Bytes = (bits: number[]): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

function intVector(b: Builder, v: number[]): number {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i]!);
  return b.endVector();
}

function offsetVector(b: Builder, v: number[]): number {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]!);
  return b.endVector();
}

/** Writes a one-subgraph .tflite model with the given tensors and ops (the test fixture generator). */
export function tinyModel(tensors: TinyTensor[], ops: TinyOp[], inputs: number[], outputs: number[]): Uint8Array {
  const b = new Builder(1024);
  const buffers: number[] = [];
  const emptyBuffer = (): number => { b.startObject(3); return b.endObject(); };
  buffers.push(emptyBuffer());
  const tensorOffsets = tensors.map((t) => {
    let bufferIndex = 0;
    if (t.data) {
      b.startVector(1, t.data.length, 16);
      for (let i = t.data.length - 1; i >= 0; i--) b.addInt8(t.data[i]!);
      const data = b.endVector();
      b.startObject(3);
      b.addFieldOffset(BufferSlot.data, data, 0);
      buffers.push(b.endObject());
      bufferIndex = buffers.length - 1;
    }
    const name = b.createString(t.name);
    const shape = intVector(b, t.shape);
    let quant = 0;
    if (t.quant) {
      b.startVector(4, 1, 4); b.addFloat32(t.quant.scale); const scale = b.endVector();
      b.startVector(8, 1, 8); b.addInt64(BigInt(t.quant.zeroPoint)); const zp = b.endVector();
      b.startObject(7);
      b.addFieldOffset(QuantizationSlot.scale, scale, 0);
      b.addFieldOffset(QuantizationSlot.zeroPoint, zp, 0);
      quant = b.endObject();
    }
    b.startObject(11);
    if (quant) b.addFieldOffset(TensorSlot.quantization, quant, 0);
    b.addFieldOffset(TensorSlot.shape, shape, 0);
    b.addFieldInt8(TensorSlot.type, t.type ?? TensorType.FLOAT32, -1);
    b.addFieldInt32(TensorSlot.buffer, bufferIndex, -1);
    b.addFieldOffset(TensorSlot.name, name, 0);
    return b.endObject();
  });
  const codes = [...new Set(ops.map((o) => o.code))];
  const codeOffsets = codes.map((c) => {
    b.startObject(4);
    b.addFieldInt8(OperatorCodeSlot.deprecatedBuiltinCode, Math.min(c, 127), -1);
    b.addFieldInt32(OperatorCodeSlot.builtinCode, c, -1);
    b.addFieldInt32(OperatorCodeSlot.version, 1, -1);
    return b.endObject();
  });
  const opOffsets = ops.map((o) => {
    let opts = 0;
    if (o.options) { b.startObject(o.options.slots); o.options.write(b); opts = b.endObject(); }
    const ins = intVector(b, o.inputs);
    const outs = intVector(b, o.outputs);
    b.startObject(13);
    b.addFieldInt32(OperatorSlot.opcodeIndex, codes.indexOf(o.code), -1);
    b.addFieldOffset(OperatorSlot.inputs, ins, 0);
    b.addFieldOffset(OperatorSlot.outputs, outs, 0);
    if (o.options) {
      b.addFieldInt8(OperatorSlot.builtinOptionsType, o.options.type, -1);
      b.addFieldOffset(OperatorSlot.builtinOptions, opts, 0);
    }
    return b.endObject();
  });
  const tv = offsetVector(b, tensorOffsets);
  const iv = intVector(b, inputs);
  const ov = intVector(b, outputs);
  const opv = offsetVector(b, opOffsets);
  b.startObject(5);
  b.addFieldOffset(SubGraphSlot.tensors, tv, 0);
  b.addFieldOffset(SubGraphSlot.inputs, iv, 0);
  b.addFieldOffset(SubGraphSlot.outputs, ov, 0);
  b.addFieldOffset(SubGraphSlot.operators, opv, 0);
  const sg = b.endObject();
  const sgv = offsetVector(b, [sg]);
  const cv = offsetVector(b, codeOffsets);
  const bv = offsetVector(b, buffers);
  b.startObject(8);
  b.addFieldInt32(ModelSlot.version, 3, -1);
  b.addFieldOffset(ModelSlot.operatorCodes, cv, 0);
  b.addFieldOffset(ModelSlot.subgraphs, sgv, 0);
  b.addFieldOffset(ModelSlot.buffers, bv, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}

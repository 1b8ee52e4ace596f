import { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Tensor } from '../../../src/ir/index.js';
import { importTflite } from '../../../src/formats/tflite/import.js';
import { ActivationFunctionType, BuiltinOptions, TensorType } from '../../../src/formats/tflite/schema.js';
import { Session } from '../../../src/runtime/session.js';
import { f16Bytes, f32Bytes, i32Bytes, tinyModel } from './tiny-model.js';

const ADD = 0, DEQUANTIZE = 6, PAD = 34, STRIDED_SLICE = 45, CONV_2D = 3, WHILE = 119;

const consts = (g: ReturnType<typeof importTflite>, name: string): number[] => g.value(name).constant!.toNumbers();

describe('TFLite op mapping', () => {
  it('ADD with a fused RELU6 on floats becomes Add then Clip(0, 6), and runs', async () => {
    const bytes = tinyModel(
      [{ name: 'a', shape: [4] }, { name: 'b', shape: [4], data: f32Bytes([1, -1, 5, 0]) }, { name: 'y', shape: [4] }],
      [{ code: ADD, inputs: [0, 1], outputs: [2], options: { type: BuiltinOptions.AddOptions, slots: 2, write: (b: Builder) => b.addFieldInt8(0, ActivationFunctionType.RELU6, 0) } }],
      [0], [2],
    );
    const g = importTflite(bytes, 'add.tflite');
    expect(g.nodes.map((n) => n.op)).toEqual(['Add', 'Clip']);
    const clip = g.nodes[1]!;
    expect([consts(g, clip.inputs[1]!), consts(g, clip.inputs[2]!)]).toEqual([[0], [6]]);
    const out = await new Session(g).run({ a: new Tensor('float32', [4], Float32Array.of(0, 0.5, 3, -2)) });
    expect([...out.y!.data]).toEqual([1, 0, 6, 0]);
  });

  it('an int16 ADD on TFLite\'s power-of-two path (pot_scale_int16 true or absent) is refused by name; false imports and runs', async () => {
    const model = (pot: boolean | undefined) => tinyModel(
      ['a', 'b', 'y'].map((name) => ({ name, shape: [3], type: TensorType.INT16, quant: { scale: 2 ** -8, zeroPoint: 0 } })),
      [{
        code: ADD, inputs: [0, 1], outputs: [2],
        options: { type: BuiltinOptions.AddOptions, slots: 2, write: (b: Builder) => { if (pot !== undefined) b.addFieldInt8(1, pot ? 1 : 0, 1); } },
      }],
      [0, 1], [2],
    );
    for (const pot of [true, undefined]) {
      let err: unknown;
      try { importTflite(model(pot), 'add16.tflite'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(CloudlessError);
      expect((err as CloudlessError).message).toMatch(/add16\.tflite.*int16 ADD with pot_scale_int16 = true .* not implemented/);
    }
    const g = importTflite(model(false), 'add16.tflite');
    const q = { scale: Float32Array.of(2 ** -8), zeroPoint: new Int32Array(1) };
    const out = new Session(g, { backend: 'ref' }).runSync({ a: new Tensor('int16', [3], Int16Array.of(100, -200, 32767), q), b: new Tensor('int16', [3], Int16Array.of(5, 7, 1), q) });
    expect(Array.from(out.y!.data as Int16Array)).toEqual([105, -193, 32767]);
  });

  it('STRIDED_SLICE with masks and shrink_axis becomes Slice + Squeeze', async () => {
    // x[1, ::-1, 0:2] on a [2, 3, 4] tensor: shrink axis 0, begin/end masks on axis 1.
    const bytes = tinyModel(
      [
        { name: 'x', shape: [2, 3, 4] },
        { name: 'begin', shape: [3], type: TensorType.INT32, data: i32Bytes([1, 0, 0]) },
        { name: 'end', shape: [3], type: TensorType.INT32, data: i32Bytes([2, 0, 2]) },
        { name: 'strides', shape: [3], type: TensorType.INT32, data: i32Bytes([1, -1, 1]) },
        { name: 'y', shape: [3, 2] },
      ],
      [{
        code: STRIDED_SLICE, inputs: [0, 1, 2, 3], outputs: [4],
        options: { type: BuiltinOptions.StridedSliceOptions, slots: 6, write: (b: Builder) => { b.addFieldInt32(0, 0b010, 0); b.addFieldInt32(1, 0b010, 0); b.addFieldInt32(4, 0b001, 0); } },
      }],
      [0], [4],
    );
    const g = importTflite(bytes, 'slice.tflite');
    expect(g.nodes.map((n) => n.op)).toEqual(['Slice', 'Squeeze']);
    const [, starts, ends, axes, steps] = g.nodes[0]!.inputs;
    expect(g.value(starts!).constant!.data).toEqual(BigInt64Array.of(1n, 9223372036854775807n, 0n));
    expect(g.value(ends!).constant!.data).toEqual(BigInt64Array.of(2n, -9223372036854775808n, 2n));
    expect(consts(g, axes!)).toEqual([0, 1, 2]);
    expect(consts(g, steps!)).toEqual([1, -1, 1]);
    expect(consts(g, g.nodes[1]!.inputs[1]!)).toEqual([0]);
    const x = Float32Array.from({ length: 24 }, (_, i) => i);
    const out = await new Session(g).run({ x: new Tensor('float32', [2, 3, 4], x) });
    expect(out.y!.shape).toEqual([3, 2]);
    expect([...out.y!.data]).toEqual([20, 21, 16, 17, 12, 13]);
  });

  it('PAD turns [rank, 2] paddings into ONNX pads', () => {
    const bytes = tinyModel(
      [{ name: 'x', shape: [1, 2, 2, 1] }, { name: 'p', shape: [4, 2], type: TensorType.INT32, data: i32Bytes([0, 0, 1, 2, 3, 4, 0, 0]) }, { name: 'y', shape: [1, 5, 9, 1] }],
      [{ code: PAD, inputs: [0, 1], outputs: [2] }],
      [0], [2],
    );
    const g = importTflite(bytes, 'pad.tflite');
    expect(g.nodes[0]!.op).toBe('Pad');
    expect(consts(g, g.nodes[0]!.inputs[1]!)).toEqual([0, 1, 3, 0, 0, 2, 4, 0]);
  });

  it('folds DEQUANTIZE of float16 weights into a float32 constant', () => {
    // 0x3c00 = 1, 0xc000 = -2, 0x3800 = 0.5 in IEEE half precision.
    const bytes = tinyModel(
      [
        { name: 'x', shape: [1, 1, 1, 1] }, { name: 'w16', shape: [3, 1, 1, 1], type: TensorType.FLOAT16, data: f16Bytes([0x3c00, 0xc000, 0x3800]) },
        { name: 'w', shape: [3, 1, 1, 1] }, { name: 'y', shape: [1, 1, 1, 3] },
      ],
      [
        { code: DEQUANTIZE, inputs: [1], outputs: [2] },
        { code: CONV_2D, inputs: [0, 2, -1], outputs: [3], options: { type: BuiltinOptions.Conv2DOptions, slots: 7, write: (b: Builder) => { b.addFieldInt8(0, 1, 0); b.addFieldInt32(1, 1, 0); b.addFieldInt32(2, 1, 0); } } },
      ],
      [0], [3],
    );
    const g = importTflite(bytes, 'f16.tflite');
    expect(g.nodes.map((n) => n.op)).toEqual(['Conv']);
    expect(g.nodes[0]!.inputs).toEqual(['x', 'w']);
    expect(g.value('w').constant!.data).toEqual(Float32Array.of(1, -2, 0.5));
    expect(g.nodes[0]!.attrs).toMatchObject({ auto_pad: 'VALID', strides: [1, 1], dilations: [1, 1] });
  });

  it('passes unknown builtins through as tflite.<NAME>', () => {
    const bytes = tinyModel([{ name: 'x', shape: [1] }, { name: 'y', shape: [1] }], [{ code: WHILE, inputs: [0], outputs: [1] }], [0], [1]);
    expect(importTflite(bytes, 'while.tflite').nodes[0]!.op).toBe('tflite.WHILE');
  });

  it('refuses a fused TANH and names the operator', () => {
    const bytes = tinyModel(
      [{ name: 'a', shape: [1] }, { name: 'b', shape: [1] }, { name: 'y', shape: [1] }],
      [{ code: ADD, inputs: [0, 1], outputs: [2], options: { type: BuiltinOptions.AddOptions, slots: 2, write: (b: Builder) => b.addFieldInt8(0, ActivationFunctionType.TANH, 0) } }],
      [0, 1], [2],
    );
    const err = (() => { try { importTflite(bytes, 'tanh.tflite'); } catch (e) { return e; } })() as CloudlessError;
    expect(err).toBeInstanceOf(CloudlessError);
    expect(err.code).toBe('E_UNSUPPORTED');
    expect(err.message).toMatch(/tanh\.tflite: operator 0 \(ADD → "y"\).*TANH/);
  });

  it('refuses a tensor of an unsupported type, naming it', () => {
    const bytes = tinyModel([{ name: 'words', shape: [1], type: TensorType.STRING }, { name: 'y', shape: [1] }], [{ code: WHILE, inputs: [0], outputs: [1] }], [0], [1]);
    expect(() => importTflite(bytes, 's.tflite')).toThrow(/tensor "words" has element type STRING/);
  });
});

import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Graph, Tensor } from '../../../src/ir/index.js';
import { decodeModel, decodeTensorProto } from '../../../src/formats/onnx/proto.js';
import { importOnnx } from '../../../src/formats/onnx/import.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { mobilenetBytes } from './fixtures.js';

/** Imports bytes and reports how it ended: a Graph or a CloudlessError; anything else fails the test. */
function outcome(bytes: Uint8Array): Graph | CloudlessError {
  try {
    return importOnnx(bytes, 'fuzz.onnx');
  } catch (err) {
    if (err instanceof CloudlessError) return err;
    throw err;
  }
}

describe('ONNX protobuf decoder', () => {
  it('reads back what the writer wrote', () => {
    const bytes = writeOnnx({
      irVersion: 7, opset: { '': 11, 'com.example': 2 }, producer: 'test',
      graph: {
        name: 'g',
        nodes: [{ op: 'Custom', domain: 'com.example', name: 'n0', inputs: ['x', ''], outputs: ['y'],
          attrs: { i: 3, f: 0.5, whole: { f: 2 }, s: 'héllo', ints: [-1, 2 ** 40], floats: [0.25, -1], strings: ['a', 'b'], t: Tensor.fromNumbers('int32', [2], [7, -8]) } }],
        inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 4, null] }],
        outputs: [{ name: 'y', dtype: 'int64' }],
      },
    });
    const m = decodeModel(bytes, 'rt.onnx');
    expect(m.irVersion).toBe(7n);
    expect(m.producerName).toBe('test');
    expect(m.opsetImports).toEqual([{ domain: '', version: 11n }, { domain: 'com.example', version: 2n }]);
    const n = m.graph!.nodes[0]!;
    expect(n).toMatchObject({ name: 'n0', opType: 'Custom', domain: 'com.example', inputs: ['x', ''], outputs: ['y'] });
    const byName = new Map(n.attributes.map((a) => [a.name, a]));
    expect(byName.get('i')!.i).toBe(3n);
    expect(byName.get('f')!.f).toBe(0.5);
    expect(byName.get('whole')!.f).toBe(2);
    expect(new TextDecoder().decode(byName.get('s')!.s)).toBe('héllo');
    expect(byName.get('ints')!.ints).toEqual([-1n, 2n ** 40n]);
    expect(byName.get('floats')!.floats).toEqual([0.25, -1]);
    expect(byName.get('t')!.t!.dims).toEqual([2n]);
    const x = m.graph!.inputs[0]!;
    expect(x.type!.shape!.map((d) => d.value ?? d.param ?? null)).toEqual(['n', 4n, null]);

    const g = importOnnx(bytes, 'rt.onnx');
    expect(g.nodes[0]!.op).toBe('com.example.Custom');
    expect(g.nodes[0]!.attrs).toMatchObject({ i: 3, f: 0.5, whole: 2, s: 'héllo', ints: [-1, 2 ** 40], strings: ['a', 'b'] });
    expect((g.nodes[0]!.attrs['t'] as Tensor).toNumbers()).toEqual([7, -8]);
    expect(g.value('x').shape).toEqual(['n', 4, null]);
    expect(g.value('y').shape).toBeUndefined();
  });

  it('reads packed and unpacked repeated fields alike', () => {
    // TensorProto { dims: 3 (unpacked), data_type: INT64, int64_data: [-1, 5] packed then 2^62 unpacked, float_data unpacked }
    const w = protobuf.Writer.create();
    w.uint32(1 << 3).uint32(3);
    w.uint32(2 << 3).uint32(7);
    w.uint32((7 << 3) | 2).fork().int64(-1).int64(5).ldelim();
    w.uint32(7 << 3).int64('4611686018427387904');
    const tp = decodeTensorProto(w.finish());
    expect(tp.dims).toEqual([3n]);
    expect(tp.int64Data).toEqual([-1n, 5n, 2n ** 62n]);

    const f = protobuf.Writer.create();
    f.uint32((4 << 3) | 5).float(1.5);
    f.uint32((4 << 3) | 2).fork().float(2.5).float(-3).ldelim();
    expect(decodeTensorProto(f.finish()).floatData).toEqual([1.5, 2.5, -3]);
  });

  it('refuses graphs nested past the depth limit', () => {
    // graph { node { attribute { name: "g", g: graph { ... } } } }, 40 levels deep
    let inner = protobuf.Writer.create().finish();
    for (let i = 0; i < 40; i++) {
      const attr = protobuf.Writer.create().uint32((1 << 3) | 2).string('g').uint32((6 << 3) | 2).bytes(inner).finish();
      const node = protobuf.Writer.create().uint32((4 << 3) | 2).string('If').uint32((5 << 3) | 2).bytes(attr).finish();
      inner = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(node).finish();
    }
    const model = protobuf.Writer.create().uint32((7 << 3) | 2).bytes(inner).finish();
    const err = outcome(model);
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_FORMAT');
    expect((err as CloudlessError).message).toMatch(/nested deeper/);
  });

  it('names the file when bytes are not a model', () => {
    expect(() => importOnnx(Uint8Array.of(0x0a, 0xff, 0xff), 'junk.onnx')).toThrowError(/junk\.onnx: not a valid ONNX model/);
    expect(() => importOnnx(new Uint8Array(0), 'empty.onnx')).toThrowError(/empty\.onnx: the ONNX model has no graph/);
  });
});

describe('ONNX reader on corrupt bytes (fuzz)', () => {
  const base = mobilenetBytes();
  // The writer puts opset_import (4 bytes for opset 13) after the graph: cutting before it cuts the graph.
  const graphEnd = base.length - 4;
  const runs = 150;

  it('a truncated model is an E_FORMAT error', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: graphEnd - 1 }), (n) => {
      const r = outcome(base.subarray(0, n));
      expect(r).toBeInstanceOf(CloudlessError);
      expect((r as CloudlessError).code).toBe('E_FORMAT');
      expect((r as CloudlessError).file).toBe('fuzz.onnx');
    }), { numRuns: runs });
  });

  it('bit flips and random bytes end in a Graph or a CloudlessError, never a crash or a hang', () => {
    const flipped = fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
      .map((flips) => {
        const b = base.slice();
        for (const [at, bit] of flips) b[at]! ^= 1 << bit;
        return b;
      });
    const random = fc.uint8Array({ minLength: 0, maxLength: 2048 });
    fc.assert(fc.property(fc.oneof(flipped, random), (bytes) => {
      // A hang or an exponential blow-up fails the test by its timeout below.
      const r = outcome(bytes);
      expect(r instanceof Graph || r instanceof CloudlessError).toBe(true);
    }), { numRuns: runs * 2 });
  }, 30_000);
});

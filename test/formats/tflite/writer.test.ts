/**
 * The TFLite writer: file layout facts (identifier, version, buffer 0, operator
 * codes, per-axis quantization), and round trips — a canonical graph written as
 * .tflite and imported again computes the same outputs through Session (ref
 * backend), and a TFLM model imported, written and imported again has the same
 * nodes, attributes, weights and quantization.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloudlessError, Graph, Tensor, type Value } from '../../../src/ir/index.js';
import { importTflite } from '../../../src/formats/tflite/import.js';
import { readTfliteModel } from '../../../src/formats/tflite/reader.js';
import { ModelSlot, OperatorCodeSlot, TensorType } from '../../../src/formats/tflite/schema.js';
import { writeTflite } from '../../../src/formats/tflite/writer.js';
import { mobileNetV1, mobileNetV2, toOnnxBytes } from '../../../src/bench/model-builders.js';
import { readModel } from '../../../src/runtime/load.js';
import { Session } from '../../../src/runtime/session.js';
import { maxAbsDiff, randomTensor, singleOpCases } from '../../helpers/tflite-cases.js';
import { BUILTIN_OPERATOR_NAMES } from '../../../src/formats/tflite/schema.js';
import { writerCases } from './writer-cases.js';

const TFLM = path.resolve(__dirname, '../../../../shared/models/tflm');

function run(graph: Graph, feeds: Record<string, Tensor>): Tensor[] {
  const out = new Session(graph, { backend: 'ref' }).runSync(feeds);
  return graph.outputs.map((n) => out[n]!.clone());
}

/** FNV-1a over a tensor's bytes: equal contents, equal fingerprints (and short failure messages). */
function fingerprint(t: Tensor): string {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16);
}

/** What a node computes, independent of value names: op, attributes, and each input as a constant's content or a producer position. */
function describeGraph(g: Graph): string[] {
  const producedBy = new Map<string, string>();
  g.inputs.forEach((n, i) => producedBy.set(n, `input${i}`));
  const quantText = (v: Value) => (v.quant ? `q(${[...v.quant.scale].join(',')}|${[...v.quant.zeroPoint].join(',')}|${v.quant.scale.length > 1 ? v.quant.axis : '-'})` : '');
  return g.nodes.map((node, k) => {
    const inputs = node.inputs.map((name) => {
      if (!name) return '-';
      const v = g.value(name);
      if (!v.constant) return `${producedBy.get(name)}${quantText(v)}`;
      // Index operands (shapes, axes) are rewritten as int32 from resolved static values, e.g. a -1 becomes the real size.
      const isIndex = (v.dtype === 'int32' || v.dtype === 'int64') && !v.quant;
      if (isIndex) return `index[${v.constant.shape.join(',')}]`;
      return `const ${v.dtype}[${v.constant.shape.join(',')}]#${fingerprint(v.constant)}${quantText(v)}`;
    });
    node.outputs.forEach((o, i) => producedBy.set(o, `node${k}.${i}`));
    // allowzero only says how a 0 in a shape operand reads; written shapes are resolved and hold no such 0.
    const attrs = Object.entries(node.attrs).filter(([a]) => !(node.op === 'Reshape' && a === 'allowzero')).map(([a, v]) => `${a}=${v instanceof Tensor ? `tensor(${v.toNumbers().join(',')})` : JSON.stringify(v)}`).sort();
    const outQuant = node.outputs.map((o) => quantText(g.value(o))).join(';');
    return `${node.op}(${inputs.join('; ')}) {${attrs.join(', ')}} → ${outQuant}`;
  });
}

describe('writeTflite: file layout', () => {
  const g = new Graph('layout', { format: 'cloudless' });
  g.setValue({ name: 'x', dtype: 'float32', shape: [1, 4] });
  g.setValue({ name: 'w', dtype: 'float32', shape: [3, 4], constant: randomTensor([3, 4], 1) });
  g.setValue({ name: 'h', dtype: 'float32' });
  g.setValue({ name: 'y', dtype: 'float32' });
  g.inputs = ['x'];
  g.outputs = ['y'];
  g.addNode({ name: 'fc', op: 'FullyConnected', inputs: ['x', 'w'], outputs: ['h'], attrs: {} });
  g.addNode({ name: 'gelu', op: 'Gelu', inputs: ['h'], outputs: ['y'], attrs: {} });
  const bytes = writeTflite(g);

  it('has identifier TFL3, version 3, an empty buffer 0 and one subgraph', () => {
    expect(String.fromCharCode(...bytes.subarray(4, 8))).toBe('TFL3');
    const m = readTfliteModel(bytes);
    expect(m.version).toBe(3);
    expect(m.buffers[0]!.data.length).toBe(0);
    expect(m.subgraphs).toHaveLength(1);
    const t = m.subgraphs[0]!.tensors;
    expect(t.map((x) => x.name)).toContain('w');
    expect(t.find((x) => x.name === 'h')!.shape).toEqual([1, 3]);
    const w = t.find((x) => x.name === 'w')!;
    expect(w.type).toBe(TensorType.FLOAT32);
    // Constant data is 16-byte aligned in the file.
    expect(m.buffers[w.buffer]!.data.byteOffset % 16).toBe(0);
  });

  it('writes both operator code fields, saturating the deprecated one at 127', () => {
    const m = readTfliteModel(bytes);
    const r = m.tables;
    const root = r.indirectTable(0, 'Model');
    const codes = r.tableVector(root, ModelSlot.operatorCodes, 'codes').map((c) => [
      r.scalarI8(c, OperatorCodeSlot.deprecatedBuiltinCode, 'd'), r.scalarI32(c, OperatorCodeSlot.builtinCode, 'b'),
    ]);
    expect(codes).toEqual([[9, 9], [127, 150]]); // FULLY_CONNECTED, GELU
  });

  it('refuses an op TFLite cannot express, naming the node', () => {
    const bad = new Graph('bad', { format: 'cloudless' });
    bad.setValue({ name: 'x', dtype: 'float32', shape: [2, 3] });
    bad.setValue({ name: 'y', dtype: 'float32' });
    bad.inputs = ['x'];
    bad.outputs = ['y'];
    bad.addNode({ name: 'the_erf', op: 'Erf', inputs: ['x'], outputs: ['y'], attrs: {} });
    let err: unknown;
    try { writeTflite(bad); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CloudlessError);
    expect((err as CloudlessError).code).toBe('E_UNSUPPORTED_OP');
    expect((err as CloudlessError).node).toBe('the_erf');
    expect((err as CloudlessError).message).toContain('the_erf (Erf)');
  });

  it('needs static input shapes, which inputShapes can supply', () => {
    const sym = new Graph('sym', { format: 'cloudless' });
    sym.setValue({ name: 'x', dtype: 'float32', shape: ['batch', 3] });
    sym.setValue({ name: 'y', dtype: 'float32' });
    sym.inputs = ['x'];
    sym.outputs = ['y'];
    sym.addNode({ name: 'r', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: {} });
    expect(() => writeTflite(sym)).toThrow(/input "x" has shape \[batch, 3\]/);
    const m = readTfliteModel(writeTflite(sym, { inputShapes: { x: [2, 3] } }));
    expect(m.subgraphs[0]!.tensors.map((t) => t.shape)).toEqual([[2, 3], [2, 3]]);
  });
});

describe('writeTflite: round trips through the importer', () => {
  for (const c of singleOpCases()) {
    it(c.name, () => {
      const back = importTflite(writeTflite(c.graph), c.name);
      const want = run(c.graph, c.feeds);
      const got = run(back, c.feeds);
      got.forEach((t, i) => {
        expect(t.shape).toEqual(want[i]!.shape);
        expect(maxAbsDiff(t, want[i]!)).toBeLessThanOrEqual(1e-6);
      });
    });
  }

  const mobilenets = [
    { name: 'MobileNet-v1 (4 blocks, BatchNormalization kept)', spec: mobileNetV1({ size: 32, alpha: 0.25, classes: 10, blocks: 4, batchNorm: true }) },
    { name: 'MobileNet-v2 (5 blocks, residual adds)', spec: mobileNetV2({ size: 32, alpha: 0.35, classes: 10, blocks: 5 }) },
  ];
  for (const m of mobilenets) {
    it(`${m.name}: ONNX → import → .tflite → import gives the same outputs`, async () => {
      const graph = await readModel(toOnnxBytes(m.spec), 'onnx');
      const bytes = writeTflite(graph);
      const back = importTflite(bytes, m.name);
      const input = randomTensor([1, 3, 32, 32], 9);
      const [want] = run(graph, { input });
      const [got] = run(back, { input });
      expect(got!.shape).toEqual([1, 10]);
      expect(maxAbsDiff(got!, want!)).toBeLessThanOrEqual(1e-6);
      // The stride-2 convolutions pad (1, 1), which TFLite's SAME would put at the end only: they get a PAD.
      expect(back.nodes.filter((n) => n.op === 'Pad').length).toBeGreaterThan(0);
    });
  }
});

describe('writeTflite: chains for ops without one TFLite builtin', () => {
  for (const c of writerCases()) {
    it(c.name, () => {
      const bytes = writeTflite(c.graph);
      const m = readTfliteModel(bytes);
      const ops = m.subgraphs[0]!.operators.map((o) => BUILTIN_OPERATOR_NAMES[m.operatorCodes[o.opcodeIndex]!.builtinCode]);
      expect(ops.filter((o) => o !== 'TRANSPOSE')).toEqual(c.builtins);
      if (!c.importable) return;
      const back = importTflite(bytes, c.name);
      const want = run(c.graph, c.feeds);
      const got = run(back, c.feeds);
      got.forEach((t, i) => {
        expect(t.dtype).toBe(want[i]!.dtype);
        expect(t.shape).toEqual(want[i]!.shape);
        expect(maxAbsDiff(t, want[i]!)).toBeLessThanOrEqual(1e-6);
      });
    });
  }

  it('TopK\'s index Cast, absorbed into TOPK_V2, is imported back as the same TopK + Cast', () => {
    const c = writerCases().find((w) => w.name.startsWith('TopK whose indices'))!;
    const back = importTflite(writeTflite(c.graph), c.name);
    expect(back.nodes.map((n) => n.op)).toEqual(['TopK', 'Cast']);
    expect(importTflite(writeTflite(back)).nodes.map((n) => n.op)).toEqual(['TopK', 'Cast']);
  });

  it('refuses what TFLite cannot express, naming the node', () => {
    const cases = writerCases();
    const refuse = (name: string, patch: (g: Graph) => void, message: RegExp) => {
      const g = cases.find((w) => w.name.startsWith(name))!.graph;
      patch(g);
      expect(() => writeTflite(g)).toThrow(message);
    };
    refuse('TopK k=3', (g) => { g.nodes[0]!.attrs.axis = 1; }, /topk_0 \(TopK\): TopK over axis 1/);
    refuse('Mod of TopK', (g) => { g.nodes[2]!.attrs.fmod = 1; }, /mod_2 \(Mod\): fmod 1/);
    refuse('ConvTranspose kernel 2', (g) => { g.nodes[0]!.attrs.dilations = [2, 2]; }, /convtranspose_0 \(ConvTranspose\): dilations/);
    refuse('ConvTranspose kernel 3', (g) => { g.nodes[0]!.attrs.pads = [2, 0, 0, 0]; }, /reach past the full output/);
  });
});

describe('writeTflite: TFLM models', () => {
  const present = existsSync(TFLM);
  if (!present) {
    it.skip(`TFLM models not found at ${TFLM} (they live in ../shared/models/tflm)`, () => {});
    return;
  }
  const files = readdirSync(TFLM).filter((f) => f.endsWith('.tflite')).sort();

  for (const f of files) {
    it(`${f}: import → write → import keeps nodes, attributes, weights and quantization`, () => {
      const g = importTflite(readFileSync(path.join(TFLM, f)), f);
      const back = importTflite(writeTflite(g), f);
      expect(describeGraph(back)).toEqual(describeGraph(g));
      expect(back.inputs.map((n) => back.value(n).shape)).toEqual(g.inputs.map((n) => g.value(n).shape));
    });
  }

  it('person_detect.tflite: bias quantized_dimension 3 on rank-1 tensors is written back as 0', () => {
    const g = importTflite(readFileSync(path.join(TFLM, 'person_detect.tflite')), 'person_detect.tflite');
    expect(g.meta.warnings!.join(' ')).toContain('quantized_dimension outside their shape');
    const m = readTfliteModel(writeTflite(g));
    const t = m.subgraphs[0]!.tensors;
    for (const x of t) {
      const q = x.quantization;
      if (q?.scale && q.scale.length > 1) expect(q.quantizedDimension).toBeLessThan(x.shape.length);
    }
    // Depthwise weights [1, kh, kw, C] are quantized per channel along their last axis.
    const dw = t.find((x) => x.name.endsWith('depthwise_weights') || (x.shape.length === 4 && x.shape[0] === 1 && (x.quantization?.scale?.length ?? 0) > 1));
    expect(dw?.quantization?.quantizedDimension).toBe(3);
    expect(importTflite(writeTflite(g)).meta.warnings).toEqual([]);
  });

  it('hello_world_float.tflite: the written model computes what the original does', () => {
    const g = importTflite(readFileSync(path.join(TFLM, 'hello_world_float.tflite')));
    const back = importTflite(writeTflite(g));
    const x = Tensor.fromNumbers('float32', [1, 1], [1.25]);
    const feeds = { [g.inputs[0]!]: x };
    expect(maxAbsDiff(run(back, { [back.inputs[0]!]: x })[0]!, run(g, feeds)[0]!)).toBe(0);
  });
});

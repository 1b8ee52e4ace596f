/**
 * Test-only reader of ONNX backend node tests (Debian libonnx-testdata): the
 * one node of model.onnx (op, attributes, opset) and the TensorProtos of
 * test_data_set_0. Field numbers are those of onnx.proto. It reads just what
 * the kernel tests need; the real importer lives in src/formats/onnx.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pb from 'protobufjs/minimal.js';
import { expect } from 'vitest';
import { Tensor, type AttrValue, type DType } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { onnxNodeTestsDir } from '../../helpers/data.js';

export const NODE_TEST_ROOT = onnxNodeTestsDir() ?? '/nonexistent/libonnx-testdata';

/** ONNX TensorProto.DataType → our dtype, for the types we hold. */
const ONNX_DTYPES: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

type Reader = pb.Reader;

function toBig(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  const l = v as { low: number; high: number };
  return (BigInt(l.high) << 32n) | BigInt(l.low >>> 0);
}

/** Reads a repeated scalar field that may be packed (wire type 2) or not. */
function repeated<T>(r: Reader, wire: number, one: () => T, into: T[]): void {
  if (wire !== 2) { into.push(one()); return; }
  const end = r.uint32() + r.pos;
  while (r.pos < end) into.push(one());
}

export function decodeTensor(bytes: Uint8Array): { name: string; tensor: Tensor } {
  const r = pb.Reader.create(bytes);
  const dims: bigint[] = [];
  let dataType = 0, name = '';
  let raw: Uint8Array | undefined;
  const floats: number[] = [], ints: number[] = [], longs: bigint[] = [], doubles: number[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3, wire = tag & 7;
    switch (field) {
      case 1: repeated(r, wire, () => toBig(r.int64()), dims); break;
      case 2: dataType = r.int32(); break;
      case 4: repeated(r, wire, () => r.float(), floats); break;
      case 5: repeated(r, wire, () => r.int32(), ints); break;
      case 7: repeated(r, wire, () => toBig(r.int64()), longs); break;
      case 8: name = r.string(); break;
      case 9: raw = r.bytes(); break;
      case 10: repeated(r, wire, () => r.double(), doubles); break;
      default: r.skipType(wire);
    }
  }
  const dtype = ONNX_DTYPES[dataType];
  if (!dtype) throw new Error(`tensor ${name}: ONNX data type ${dataType} is not handled by this test reader`);
  const shape = dims.map(Number);
  const t = new Tensor(dtype, shape);
  if (raw) {
    const copy = new Uint8Array(raw); // a real copy: Buffer#slice would be a view into a pooled buffer
    const view = new DataView(copy.buffer);
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      switch (dtype) {
        case 'float32': d[i] = view.getFloat32(i * 4, true); break;
        case 'float64': d[i] = view.getFloat64(i * 8, true); break;
        case 'int64': d[i] = view.getBigInt64(i * 8, true); break;
        case 'int32': d[i] = view.getInt32(i * 4, true); break;
        case 'int16': d[i] = view.getInt16(i * 2, true); break;
        case 'int8': d[i] = view.getInt8(i); break;
        case 'uint8': case 'bool': d[i] = view.getUint8(i); break;
      }
    }
  } else if (dtype === 'int64') {
    (t.data as BigInt64Array).set(longs);
  } else {
    (t.data as Exclude<typeof t.data, BigInt64Array>).set(dtype === 'float32' ? floats : dtype === 'float64' ? doubles : ints);
  }
  return { name, tensor: t };
}

export interface NodeTest {
  op: string;
  opset: number;
  attrs: Record<string, AttrValue>;
  /** Input names of the node ('' for an absent optional input). */
  nodeInputs: string[];
  inputs: Tensor[];
  outputs: Tensor[];
}

function decodeAttribute(bytes: Uint8Array): [string, AttrValue] {
  const r = pb.Reader.create(bytes);
  let name = '', type = 0;
  let f = 0, i = 0, s = '';
  const floats: number[] = [], ints: number[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3, wire = tag & 7;
    switch (field) {
      case 1: name = r.string(); break;
      case 2: f = r.float(); break;
      case 3: i = Number(toBig(r.int64())); break;
      case 4: s = new TextDecoder().decode(r.bytes()); break;
      case 7: repeated(r, wire, () => r.float(), floats); break;
      case 8: repeated(r, wire, () => Number(toBig(r.int64())), ints); break;
      case 20: type = r.int32(); break;
      default: r.skipType(wire);
    }
  }
  switch (type) {
    case 1: return [name, f];
    case 2: return [name, i];
    case 3: return [name, s];
    case 6: return [name, floats];
    case 7: return [name, ints];
    default: throw new Error(`attribute ${name}: type ${type} is not handled by this test reader`);
  }
}

/** The node test `name`, or undefined when the test data is not on this machine. */
export function loadNodeTest(name: string): NodeTest | undefined {
  const dir = join(NODE_TEST_ROOT, name);
  if (!existsSync(dir)) return undefined;
  const model = pb.Reader.create(readFileSync(join(dir, 'model.onnx')));
  let graph: Uint8Array | undefined;
  let opset = 0;
  while (model.pos < model.len) {
    const tag = model.uint32();
    if (tag >>> 3 === 7) graph = model.bytes();
    else if (tag >>> 3 === 8) {
      const o = pb.Reader.create(model.bytes());
      let domain = '', version = 0;
      while (o.pos < o.len) {
        const t = o.uint32();
        if (t >>> 3 === 1) domain = o.string();
        else if (t >>> 3 === 2) version = Number(toBig(o.int64()));
        else o.skipType(t & 7);
      }
      if (domain === '' || domain === 'ai.onnx') opset = version;
    } else model.skipType(tag & 7);
  }
  if (!graph) throw new Error(`${name}: model has no graph`);
  const g = pb.Reader.create(graph);
  let nodeBytes: Uint8Array | undefined;
  while (g.pos < g.len) {
    const tag = g.uint32();
    if (tag >>> 3 === 1 && !nodeBytes) nodeBytes = g.bytes();
    else g.skipType(tag & 7);
  }
  if (!nodeBytes) throw new Error(`${name}: graph has no node`);
  const n = pb.Reader.create(nodeBytes);
  let op = '';
  const nodeInputs: string[] = [];
  const attrs: Record<string, AttrValue> = {};
  while (n.pos < n.len) {
    const tag = n.uint32();
    switch (tag >>> 3) {
      case 1: nodeInputs.push(n.string()); break;
      case 4: op = n.string(); break;
      case 5: { const [k, v] = decodeAttribute(n.bytes()); attrs[k] = v; break; }
      default: n.skipType(tag & 7);
    }
  }
  const set = join(dir, 'test_data_set_0');
  const read = (prefix: string): Tensor[] => {
    const out: Tensor[] = [];
    for (let i = 0; existsSync(join(set, `${prefix}_${i}.pb`)); i++) out.push(decodeTensor(readFileSync(join(set, `${prefix}_${i}.pb`))).tensor);
    return out;
  };
  return { op, opset, attrs, nodeInputs, inputs: read('input'), outputs: read('output') };
}

/**
 * Runs node test `name` through runOp and compares every output (floats to
 * rtol 1e-5 / atol 1e-6, everything else exactly). Older-opset attributes that
 * the importer turns into inputs (ReduceX axes) and Cast's enum `to` are
 * converted here the same way. Returns false when the test data is absent.
 */
export function checkNodeTest(name: string): boolean {
  const t = loadNodeTest(name);
  if (!t) return false;
  const attrs = { ...t.attrs };
  const pending = [...t.inputs];
  const inputs: (Tensor | undefined)[] = t.nodeInputs.map((n) => (n === '' ? undefined : pending.shift()));
  if (t.op.startsWith('Reduce') && Array.isArray(attrs.axes)) {
    const axes = attrs.axes as number[];
    delete attrs.axes;
    inputs[1] = Tensor.fromNumbers('int64', [axes.length], axes);
  }
  if (t.op === 'Cast' && typeof attrs.to === 'number') attrs.to = ONNX_DTYPES[attrs.to]!;
  const outs = runOp(t.op, inputs, attrs, t.outputs.length);
  t.outputs.forEach((want, i) => {
    const got = outs[i]!;
    expect(got.dtype, `${name} output ${i} dtype`).toBe(want.dtype);
    expect([...got.shape], `${name} output ${i} shape`).toEqual([...want.shape]);
    if (want.dtype === 'float32' || want.dtype === 'float64') {
      const g = got.toNumbers(), w = want.toNumbers();
      for (let k = 0; k < w.length; k++) {
        const ok = Object.is(g[k], w[k]) || (Number.isNaN(w[k]!) && Number.isNaN(g[k]!)) || Math.abs(g[k]! - w[k]!) <= 1e-6 + 1e-5 * Math.abs(w[k]!);
        if (!ok) expect.fail(`${name} output ${i}[${k}]: got ${g[k]}, want ${w[k]}`);
      }
    } else {
      expect([...got.data], `${name} output ${i}`).toEqual([...want.data]);
    }
  });
  return true;
}

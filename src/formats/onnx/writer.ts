/**
 * Encoder of a plain description of an ONNX model into ModelProto bytes (field
 * numbers from onnx.proto), on protobufjs's `Writer`. Tests and benchmarks use
 * it to build models that both onnxruntime and cloudless can run.
 */
import protobuf from 'protobufjs/minimal.js';
import { CloudlessError, Tensor, type DType, type Dim } from '../../ir/index.js';
import { ONNX_TYPE_OF } from './dtypes.js';

/** An attribute whose ONNX type is spelled out (a JS number cannot say whether it is an INT or a FLOAT). */
export type OnnxAttrTyped =
  | { f: number } | { i: number } | { s: string } | { t: Tensor }
  | { floats: number[] } | { ints: number[] } | { strings: string[] };

/**
 * An attribute: integer numbers (and lists of them) are written as INT(S), other
 * numbers as FLOAT(S), strings as STRING(S), tensors as TENSOR. Use the typed
 * form for a float that happens to be whole (`{ f: 1 }`).
 */
export type OnnxAttrSpec = number | string | number[] | string[] | Tensor | OnnxAttrTyped;

export interface OnnxNodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, OnnxAttrSpec>;
}

export interface OnnxValueSpec {
  name: string;
  dtype: DType;
  /** Dimensions; a string is a symbolic dim_param, null an unknown dim. Omit for unknown rank. */
  shape?: Dim[];
}

/** A tensor written as a reference to an external file (for tests of models that cloudless refuses). */
export interface OnnxExternalTensorSpec {
  name: string;
  dtype: DType;
  dims: number[];
  location: string;
}

export interface OnnxModelSpec {
  /** Default 8. */
  irVersion?: number;
  /** Default-domain opset (default 17), or a map from domain to version. */
  opset?: number | Record<string, number>;
  producer?: string;
  graph: {
    name?: string;
    nodes: OnnxNodeSpec[];
    initializers?: Record<string, Tensor>;
    externalInitializers?: OnnxExternalTensorSpec[];
    inputs: OnnxValueSpec[];
    outputs: OnnxValueSpec[];
    valueInfo?: OnnxValueSpec[];
  };
}

type Writer = protobuf.Writer;

const WIRE_VARINT = 0, WIRE_LDELIM = 2, WIRE_FIXED32 = 5;

function tag(w: Writer, field: number, wire: number): void {
  w.uint32((field << 3) | wire);
}

/** A varint of a signed 64-bit value (negative values take ten bytes, as protobuf's int64 does). */
function varint64(w: Writer, v: bigint): void {
  let u = BigInt.asUintN(64, v);
  const bytes: number[] = [];
  do {
    let b = Number(u & 0x7fn);
    u >>= 7n;
    if (u) b |= 0x80;
    bytes.push(b);
  } while (u);
  w.raw(Uint8Array.from(bytes));
}

function int64Field(w: Writer, field: number, v: number | bigint): void {
  tag(w, field, WIRE_VARINT);
  varint64(w, typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
}

function stringField(w: Writer, field: number, s: string): void {
  tag(w, field, WIRE_LDELIM);
  w.string(s);
}

function bytesField(w: Writer, field: number, b: Uint8Array): void {
  tag(w, field, WIRE_LDELIM);
  w.bytes(b);
}

/** Writes a sub-message built by `body` as a length-delimited field. */
function messageField(w: Writer, field: number, body: (w: Writer) => void): void {
  tag(w, field, WIRE_LDELIM);
  w.fork();
  body(w);
  w.ldelim();
}

function packedInt64s(w: Writer, field: number, values: readonly number[]): void {
  messageField(w, field, (m) => { for (const v of values) varint64(m, BigInt(Math.trunc(v))); });
}

function tensorBody(w: Writer, name: string, t: Tensor): void {
  for (const d of t.shape) int64Field(w, 1, d);
  int64Field(w, 2, ONNX_TYPE_OF[t.dtype]);
  if (name) stringField(w, 8, name);
  // raw_data is little-endian; typed arrays are in host order, which Node's platforms all make little-endian.
  const d = t.data;
  bytesField(w, 9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

function externalTensorBody(w: Writer, spec: OnnxExternalTensorSpec): void {
  for (const d of spec.dims) int64Field(w, 1, d);
  int64Field(w, 2, ONNX_TYPE_OF[spec.dtype]);
  stringField(w, 8, spec.name);
  messageField(w, 13, (e) => { stringField(e, 1, 'location'); stringField(e, 2, spec.location); });
  int64Field(w, 14, 1);
}

function valueInfoBody(w: Writer, v: OnnxValueSpec): void {
  stringField(w, 1, v.name);
  messageField(w, 2, (type) => messageField(type, 1, (tt) => {
    int64Field(tt, 1, ONNX_TYPE_OF[v.dtype]);
    if (v.shape) {
      messageField(tt, 2, (shape) => {
        for (const d of v.shape!) {
          messageField(shape, 1, (dim) => {
            if (typeof d === 'number') int64Field(dim, 1, d);
            else if (typeof d === 'string') stringField(dim, 2, d);
          });
        }
      });
    }
  }));
}

function attrBody(w: Writer, name: string, a: OnnxAttrSpec, node: string): void {
  stringField(w, 1, name);
  const bad = () => new CloudlessError('E_ATTR', `writeOnnx: node ${node}: attribute "${name}" has a value ONNX cannot hold`);
  let typed: OnnxAttrTyped;
  if (a instanceof Tensor) typed = { t: a };
  else if (typeof a === 'number') typed = Number.isInteger(a) ? { i: a } : { f: a };
  else if (typeof a === 'string') typed = { s: a };
  else if (Array.isArray(a)) {
    if (a.every((x) => typeof x === 'string')) typed = { strings: a as string[] };
    else if (a.every((x) => typeof x === 'number')) typed = (a as number[]).every(Number.isInteger) ? { ints: a as number[] } : { floats: a as number[] };
    else throw bad();
  } else typed = a;

  if ('f' in typed) { tag(w, 2, WIRE_FIXED32); w.float(typed.f); int64Field(w, 20, 1); }
  else if ('i' in typed) { int64Field(w, 3, typed.i); int64Field(w, 20, 2); }
  else if ('s' in typed) { stringField(w, 4, typed.s); int64Field(w, 20, 3); }
  else if ('t' in typed) { messageField(w, 5, (t) => tensorBody(t, '', typed.t)); int64Field(w, 20, 4); }
  else if ('floats' in typed) { tag(w, 7, WIRE_LDELIM); w.fork(); for (const f of typed.floats) w.float(f); w.ldelim(); int64Field(w, 20, 6); }
  else if ('ints' in typed) { packedInt64s(w, 8, typed.ints); int64Field(w, 20, 7); }
  else if ('strings' in typed) { for (const s of typed.strings) stringField(w, 9, s); int64Field(w, 20, 8); }
  else throw bad();
}

function nodeBody(w: Writer, n: OnnxNodeSpec, index: number): void {
  const name = n.name ?? `${n.op}_${index}`;
  for (const i of n.inputs) stringField(w, 1, i);
  for (const o of n.outputs) stringField(w, 2, o);
  stringField(w, 3, name);
  stringField(w, 4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) messageField(w, 5, (a) => attrBody(a, k, v, name));
  if (n.domain) stringField(w, 7, n.domain);
}

/** Encodes the model as ONNX ModelProto bytes. */
export function writeOnnx(model: OnnxModelSpec): Uint8Array {
  const w = protobuf.Writer.create();
  int64Field(w, 1, model.irVersion ?? 8);
  stringField(w, 2, model.producer ?? 'cloudless');
  const g = model.graph;
  messageField(w, 7, (gw) => {
    g.nodes.forEach((n, i) => messageField(gw, 1, (nw) => nodeBody(nw, n, i)));
    stringField(gw, 2, g.name ?? 'main');
    for (const [name, t] of Object.entries(g.initializers ?? {})) messageField(gw, 5, (tw) => tensorBody(tw, name, t));
    for (const e of g.externalInitializers ?? []) messageField(gw, 5, (tw) => externalTensorBody(tw, e));
    for (const v of g.inputs) messageField(gw, 11, (vw) => valueInfoBody(vw, v));
    for (const v of g.outputs) messageField(gw, 12, (vw) => valueInfoBody(vw, v));
    for (const v of g.valueInfo ?? []) messageField(gw, 13, (vw) => valueInfoBody(vw, v));
  });
  const opsets = typeof model.opset === 'object' ? model.opset : { '': model.opset ?? 17 };
  for (const [domain, version] of Object.entries(opsets)) {
    messageField(w, 8, (o) => { if (domain) stringField(o, 1, domain); int64Field(o, 2, version); });
  }
  return w.finish();
}

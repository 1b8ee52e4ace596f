/**
 * Decoder of the ONNX protobuf messages cloudless needs, by field number
 * (numbers from onnx.proto). Built on protobufjs's `Reader` for tags, lengths
 * and scalars; 64-bit integers are decoded here into BigInt so that values such
 * as INT64_MAX (Slice's "to the end") survive exactly.
 *
 * Corrupt input must never crash or hang the process: every length is checked
 * against the bytes that remain (protobufjs throws RangeError past the end,
 * which `decodeModel` turns into E_FORMAT), message nesting is bounded, and
 * group wire types, which ONNX never uses, are refused instead of skipped.
 */
import protobuf from 'protobufjs/minimal.js';
import { CloudlessError } from '../../ir/index.js';

type Reader = protobuf.Reader;

/** Deepest nesting of graphs inside attributes (If inside Loop inside ...). */
const MAX_GRAPH_DEPTH = 32;
/** Deepest nesting of TypeProto (sequence of optional of ...). */
const MAX_TYPE_DEPTH = 16;

export interface OnnxStringEntry { key: string; value: string }

export interface OnnxTensorProto {
  name: string;
  dims: bigint[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: bigint[];
  doubleData: number[];
  uint64Data: bigint[];
  stringData: Uint8Array[];
  rawData?: Uint8Array;
  externalData: OnnxStringEntry[];
  /** 0 DEFAULT, 1 EXTERNAL. */
  dataLocation: number;
  hasSegment: boolean;
}

export interface OnnxSparseTensorProto {
  values?: OnnxTensorProto;
  indices?: OnnxTensorProto;
  dims: bigint[];
}

export interface OnnxDim { value?: bigint; param?: string }

export interface OnnxTypeProto {
  kind: 'tensor' | 'sequence' | 'map' | 'optional' | 'sparse_tensor' | 'unknown';
  /** For tensor and sparse_tensor types. */
  elemType?: number;
  /** Undefined when the type carries no shape (rank unknown). */
  shape?: OnnxDim[];
}

export interface OnnxValueInfo { name: string; type?: OnnxTypeProto }

/** AttributeProto.AttributeType values. */
export const AttrType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
  TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export interface OnnxAttribute {
  name: string;
  type: number;
  refAttrName?: string;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: OnnxTensorProto;
  g?: OnnxGraphProto;
  sparseTensor?: OnnxSparseTensorProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: OnnxTensorProto[];
  graphs: OnnxGraphProto[];
  sparseTensors: number;
  typeProtos: number;
  hasTypeProto: boolean;
}

export interface OnnxNodeProto {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraphProto {
  name: string;
  nodes: OnnxNodeProto[];
  initializers: OnnxTensorProto[];
  sparseInitializers: OnnxSparseTensorProto[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxOpsetId { domain: string; version: bigint }

export interface OnnxModelProto {
  irVersion: bigint;
  producerName: string;
  producerVersion: string;
  opsetImports: OnnxOpsetId[];
  graph?: OnnxGraphProto;
  metadata: OnnxStringEntry[];
  functionCount: number;
}

const WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LDELIM = 2, WIRE_FIXED32 = 5;

function formatError(message: string): CloudlessError {
  return new CloudlessError('E_FORMAT', message);
}

/** Reads a varint of up to 64 bits as a signed (two's complement) BigInt. */
function readVarint64(r: Reader): bigint {
  let lo = 0, hi = 0;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= r.len) throw formatError(`truncated varint at byte ${r.pos}`);
    const b = r.buf[r.pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) { lo |= (b & 0x0f) << 28; hi |= (b & 0x7f) >> 4; }
    else hi |= (b & 0x7f) << (7 * i - 32);
    if (b < 0x80) return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  }
  throw formatError(`varint longer than 10 bytes at byte ${r.pos}`);
}

/** A sub-reader over the next length-delimited field (bounds-checked by protobufjs). */
function subReader(r: Reader): Reader {
  const bytes = r.bytes();
  return protobuf.Reader.create(bytes);
}

function skipField(r: Reader, wire: number): void {
  switch (wire) {
    case WIRE_VARINT: r.skip(); return;
    case WIRE_FIXED64: r.skip(8); return;
    case WIRE_LDELIM: r.skip(r.uint32()); return;
    case WIRE_FIXED32: r.skip(4); return;
    default: throw formatError(`unexpected wire type ${wire} at byte ${r.pos}`);
  }
}

/** Iterates the fields of a message: calls `field(number, wireType)` which must consume the field or return false to skip it. */
function readMessage(r: Reader, field: (num: number, wire: number) => boolean): void {
  while (r.pos < r.len) {
    const tag = r.uint32();
    const num = tag >>> 3, wire = tag & 7;
    if (num === 0) throw formatError(`field number 0 at byte ${r.pos}`);
    if (!field(num, wire)) skipField(r, wire);
  }
}

function expectWire(wire: number, want: number, what: string): void {
  if (wire !== want) throw formatError(`${what} has wire type ${wire}, expected ${want}`);
}

/** Repeated varint field, packed or not. */
function readVarints(r: Reader, wire: number, into: bigint[]): void {
  if (wire === WIRE_LDELIM) {
    const sub = subReader(r);
    while (sub.pos < sub.len) into.push(readVarint64(sub));
  } else {
    expectWire(wire, WIRE_VARINT, 'integer field');
    into.push(readVarint64(r));
  }
}

function readInt32s(r: Reader, wire: number, into: number[]): void {
  if (wire === WIRE_LDELIM) {
    const sub = subReader(r);
    while (sub.pos < sub.len) into.push(Number(BigInt.asIntN(32, readVarint64(sub))));
  } else {
    expectWire(wire, WIRE_VARINT, 'int32 field');
    into.push(Number(BigInt.asIntN(32, readVarint64(r))));
  }
}

function readFloats(r: Reader, wire: number, into: number[]): void {
  if (wire === WIRE_LDELIM) {
    const sub = subReader(r);
    if (sub.len % 4 !== 0) throw formatError(`packed float field of ${sub.len} bytes is not a multiple of 4`);
    while (sub.pos < sub.len) into.push(sub.float());
  } else {
    expectWire(wire, WIRE_FIXED32, 'float field');
    into.push(r.float());
  }
}

function readDoubles(r: Reader, wire: number, into: number[]): void {
  if (wire === WIRE_LDELIM) {
    const sub = subReader(r);
    if (sub.len % 8 !== 0) throw formatError(`packed double field of ${sub.len} bytes is not a multiple of 8`);
    while (sub.pos < sub.len) into.push(sub.double());
  } else {
    expectWire(wire, WIRE_FIXED64, 'double field');
    into.push(r.double());
  }
}

function readString(r: Reader, wire: number): string {
  expectWire(wire, WIRE_LDELIM, 'string field');
  return r.string();
}

function readBytes(r: Reader, wire: number): Uint8Array {
  expectWire(wire, WIRE_LDELIM, 'bytes field');
  return r.bytes();
}

function readSub(r: Reader, wire: number, what: string): Reader {
  expectWire(wire, WIRE_LDELIM, what);
  return subReader(r);
}

function decodeStringEntry(r: Reader): OnnxStringEntry {
  const e: OnnxStringEntry = { key: '', value: '' };
  readMessage(r, (num, wire) => {
    if (num === 1) e.key = readString(r, wire);
    else if (num === 2) e.value = readString(r, wire);
    else return false;
    return true;
  });
  return e;
}

export function decodeTensor(r: Reader): OnnxTensorProto {
  const t: OnnxTensorProto = {
    name: '', dims: [], dataType: 0, floatData: [], int32Data: [], int64Data: [], doubleData: [],
    uint64Data: [], stringData: [], externalData: [], dataLocation: 0, hasSegment: false,
  };
  readMessage(r, (num, wire) => {
    switch (num) {
      case 1: readVarints(r, wire, t.dims); break;
      case 2: expectWire(wire, WIRE_VARINT, 'TensorProto.data_type'); t.dataType = Number(readVarint64(r)); break;
      case 3: expectWire(wire, WIRE_LDELIM, 'TensorProto.segment'); r.skip(r.uint32()); t.hasSegment = true; break;
      case 4: readFloats(r, wire, t.floatData); break;
      case 5: readInt32s(r, wire, t.int32Data); break;
      case 6: t.stringData.push(readBytes(r, wire)); break;
      case 7: readVarints(r, wire, t.int64Data); break;
      case 8: t.name = readString(r, wire); break;
      case 9: t.rawData = readBytes(r, wire); break;
      case 10: readDoubles(r, wire, t.doubleData); break;
      case 11: readVarints(r, wire, t.uint64Data); break;
      case 13: t.externalData.push(decodeStringEntry(readSub(r, wire, 'TensorProto.external_data'))); break;
      case 14: expectWire(wire, WIRE_VARINT, 'TensorProto.data_location'); t.dataLocation = Number(readVarint64(r)); break;
      default: return false;
    }
    return true;
  });
  return t;
}

function decodeSparseTensor(r: Reader): OnnxSparseTensorProto {
  const s: OnnxSparseTensorProto = { dims: [] };
  readMessage(r, (num, wire) => {
    if (num === 1) s.values = decodeTensor(readSub(r, wire, 'SparseTensorProto.values'));
    else if (num === 2) s.indices = decodeTensor(readSub(r, wire, 'SparseTensorProto.indices'));
    else if (num === 3) readVarints(r, wire, s.dims);
    else return false;
    return true;
  });
  return s;
}

function decodeDim(r: Reader): OnnxDim {
  const d: OnnxDim = {};
  readMessage(r, (num, wire) => {
    if (num === 1) { expectWire(wire, WIRE_VARINT, 'Dimension.dim_value'); d.value = readVarint64(r); }
    else if (num === 2) d.param = readString(r, wire);
    else return false;
    return true;
  });
  return d;
}

function decodeShape(r: Reader): OnnxDim[] {
  const dims: OnnxDim[] = [];
  readMessage(r, (num, wire) => {
    if (num !== 1) return false;
    dims.push(decodeDim(readSub(r, wire, 'TensorShapeProto.dim')));
    return true;
  });
  return dims;
}

/** TypeProto.Tensor and TypeProto.SparseTensor share elem_type=1, shape=2. */
function decodeTensorType(r: Reader, kind: 'tensor' | 'sparse_tensor'): OnnxTypeProto {
  const t: OnnxTypeProto = { kind };
  readMessage(r, (num, wire) => {
    if (num === 1) { expectWire(wire, WIRE_VARINT, 'TypeProto.Tensor.elem_type'); t.elemType = Number(readVarint64(r)); }
    else if (num === 2) t.shape = decodeShape(readSub(r, wire, 'TypeProto.Tensor.shape'));
    else return false;
    return true;
  });
  return t;
}

function decodeType(r: Reader, depth: number): OnnxTypeProto {
  if (depth > MAX_TYPE_DEPTH) throw formatError(`TypeProto nested deeper than ${MAX_TYPE_DEPTH}`);
  let t: OnnxTypeProto = { kind: 'unknown' };
  readMessage(r, (num, wire) => {
    switch (num) {
      case 1: t = decodeTensorType(readSub(r, wire, 'TypeProto.tensor_type'), 'tensor'); break;
      // The element types of sequences, maps and optionals do not matter to us: we refuse them by kind.
      case 4: readSub(r, wire, 'TypeProto.sequence_type'); t = { kind: 'sequence' }; break;
      case 5: readSub(r, wire, 'TypeProto.map_type'); t = { kind: 'map' }; break;
      case 8: t = decodeTensorType(readSub(r, wire, 'TypeProto.sparse_tensor_type'), 'sparse_tensor'); break;
      case 9: readSub(r, wire, 'TypeProto.optional_type'); t = { kind: 'optional' }; break;
      default: return false;
    }
    return true;
  });
  return t;
}

function decodeValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '' };
  readMessage(r, (num, wire) => {
    if (num === 1) v.name = readString(r, wire);
    else if (num === 2) v.type = decodeType(readSub(r, wire, 'ValueInfoProto.type'), 0);
    else return false;
    return true;
  });
  return v;
}

function decodeAttribute(r: Reader, depth: number): OnnxAttribute {
  const a: OnnxAttribute = {
    name: '', type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [],
    sparseTensors: 0, typeProtos: 0, hasTypeProto: false,
  };
  readMessage(r, (num, wire) => {
    switch (num) {
      case 1: a.name = readString(r, wire); break;
      case 2: expectWire(wire, WIRE_FIXED32, 'AttributeProto.f'); a.f = r.float(); break;
      case 3: expectWire(wire, WIRE_VARINT, 'AttributeProto.i'); a.i = readVarint64(r); break;
      case 4: a.s = readBytes(r, wire); break;
      case 5: a.t = decodeTensor(readSub(r, wire, 'AttributeProto.t')); break;
      case 6: a.g = decodeGraph(readSub(r, wire, 'AttributeProto.g'), depth + 1); break;
      case 7: readFloats(r, wire, a.floats); break;
      case 8: readVarints(r, wire, a.ints); break;
      case 9: a.strings.push(readBytes(r, wire)); break;
      case 10: a.tensors.push(decodeTensor(readSub(r, wire, 'AttributeProto.tensors'))); break;
      case 11: a.graphs.push(decodeGraph(readSub(r, wire, 'AttributeProto.graphs'), depth + 1)); break;
      case 14: readSub(r, wire, 'AttributeProto.tp'); a.hasTypeProto = true; break;
      case 15: readSub(r, wire, 'AttributeProto.type_protos'); a.typeProtos++; break;
      case 20: expectWire(wire, WIRE_VARINT, 'AttributeProto.type'); a.type = Number(readVarint64(r)); break;
      case 21: a.refAttrName = readString(r, wire); break;
      case 22: a.sparseTensor = decodeSparseTensor(readSub(r, wire, 'AttributeProto.sparse_tensor')); break;
      case 23: readSub(r, wire, 'AttributeProto.sparse_tensors'); a.sparseTensors++; break;
      default: return false;
    }
    return true;
  });
  return a;
}

function decodeNode(r: Reader, depth: number): OnnxNodeProto {
  const n: OnnxNodeProto = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  readMessage(r, (num, wire) => {
    switch (num) {
      case 1: n.inputs.push(readString(r, wire)); break;
      case 2: n.outputs.push(readString(r, wire)); break;
      case 3: n.name = readString(r, wire); break;
      case 4: n.opType = readString(r, wire); break;
      case 5: n.attributes.push(decodeAttribute(readSub(r, wire, 'NodeProto.attribute'), depth)); break;
      case 7: n.domain = readString(r, wire); break;
      default: return false;
    }
    return true;
  });
  return n;
}

function decodeGraph(r: Reader, depth: number): OnnxGraphProto {
  if (depth > MAX_GRAPH_DEPTH) throw formatError(`graphs nested deeper than ${MAX_GRAPH_DEPTH}`);
  const g: OnnxGraphProto = { name: '', nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [] };
  readMessage(r, (num, wire) => {
    switch (num) {
      case 1: g.nodes.push(decodeNode(readSub(r, wire, 'GraphProto.node'), depth)); break;
      case 2: g.name = readString(r, wire); break;
      case 5: g.initializers.push(decodeTensor(readSub(r, wire, 'GraphProto.initializer'))); break;
      case 11: g.inputs.push(decodeValueInfo(readSub(r, wire, 'GraphProto.input'))); break;
      case 12: g.outputs.push(decodeValueInfo(readSub(r, wire, 'GraphProto.output'))); break;
      case 13: g.valueInfo.push(decodeValueInfo(readSub(r, wire, 'GraphProto.value_info'))); break;
      case 15: g.sparseInitializers.push(decodeSparseTensor(readSub(r, wire, 'GraphProto.sparse_initializer'))); break;
      default: return false;
    }
    return true;
  });
  return g;
}

function decodeOpset(r: Reader): OnnxOpsetId {
  const o: OnnxOpsetId = { domain: '', version: 0n };
  readMessage(r, (num, wire) => {
    if (num === 1) o.domain = readString(r, wire);
    else if (num === 2) { expectWire(wire, WIRE_VARINT, 'OperatorSetIdProto.version'); o.version = readVarint64(r); }
    else return false;
    return true;
  });
  return o;
}

/** Runs a decoder, turning any failure into an E_FORMAT error naming `source`. */
function decodeOrFail<T>(bytes: Uint8Array, source: string, what: string, decode: (r: Reader) => T): T {
  try {
    return decode(protobuf.Reader.create(bytes));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CloudlessError('E_FORMAT', `${source}: not a valid ONNX ${what} (${why})`, {
      file: source,
      cause: err,
      hint: `the file is truncated or corrupt, or is not an ONNX ${what}`,
    });
  }
}

/** Decodes a serialized TensorProto (the .pb files of the ONNX backend tests). */
export function decodeTensorProto(bytes: Uint8Array, source = 'ONNX tensor'): OnnxTensorProto {
  return decodeOrFail(bytes, source, 'TensorProto', decodeTensor);
}

/**
 * Decodes a ModelProto. Any failure (truncation, bad wire type, nesting) is an
 * E_FORMAT CloudlessError naming `source`.
 */
export function decodeModel(bytes: Uint8Array, source = 'ONNX model'): OnnxModelProto {
  return decodeOrFail(bytes, source, 'model', (r) => {
    const m: OnnxModelProto = { irVersion: 0n, producerName: '', producerVersion: '', opsetImports: [], metadata: [], functionCount: 0 };
    readMessage(r, (num, wire) => {
      switch (num) {
        case 1: expectWire(wire, WIRE_VARINT, 'ModelProto.ir_version'); m.irVersion = readVarint64(r); break;
        case 2: m.producerName = readString(r, wire); break;
        case 3: m.producerVersion = readString(r, wire); break;
        case 7: m.graph = decodeGraph(readSub(r, wire, 'ModelProto.graph'), 0); break;
        case 8: m.opsetImports.push(decodeOpset(readSub(r, wire, 'ModelProto.opset_import'))); break;
        case 14: m.metadata.push(decodeStringEntry(readSub(r, wire, 'ModelProto.metadata_props'))); break;
        case 25: readSub(r, wire, 'ModelProto.functions'); m.functionCount++; break;
        default: return false;
      }
      return true;
    });
    return m;
  });
}

import { ByteBuffer } from 'flatbuffers';
import { CloudlessError } from '../../ir/index.js';
import {
  BufferSlot, MetadataSlot, ModelSlot, OperatorCodeSlot, OperatorSlot, QuantizationSlot, SubGraphSlot,
  TFLITE_IDENTIFIER, TensorSlot,
} from './schema.js';

/**
 * A .tflite file decoded into plain objects. Only the fields the importer uses
 * are read; every offset is checked against the file before it is followed, so a
 * corrupt or truncated file gives E_FORMAT instead of reading garbage. Nothing
 * loops on data other than vector lengths, and those are bounded by the file
 * size, so no input can make the reader hang.
 */

export interface TfliteQuantization {
  min?: Float32Array;
  max?: Float32Array;
  scale?: Float32Array;
  zeroPoint?: BigInt64Array;
  quantizedDimension: number;
  /** Non-zero when the tensor uses a QuantizationDetails union (custom schemes). */
  detailsType: number;
}

export interface TfliteTensor {
  shape: number[];
  type: number;
  buffer: number;
  name: string;
  quantization?: TfliteQuantization;
  isVariable: boolean;
  hasSparsity: boolean;
  shapeSignature?: number[];
}

export interface TfliteOperator {
  opcodeIndex: number;
  /** Tensor indices; -1 marks an absent optional input. */
  inputs: number[];
  outputs: number[];
  intermediates: number[];
  builtinOptionsType: number;
  /** Table position of the builtin options in the file, or 0 when absent. */
  builtinOptions: number;
  builtinOptions2Type: number;
  customOptions?: Uint8Array;
}

export interface TfliteOperatorCode {
  /** The effective BuiltinOperator: the larger of deprecated_builtin_code and builtin_code. */
  builtinCode: number;
  customCode?: string;
  version: number;
}

export interface TfliteSubGraph {
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
  name: string;
}

export interface TfliteBuffer {
  /** A view into the file's bytes (not a copy); empty when the buffer holds nothing. */
  data: Uint8Array;
}

export interface TfliteMetadata {
  name: string;
  buffer: number;
}

export interface TfliteModel {
  version: number;
  operatorCodes: TfliteOperatorCode[];
  subgraphs: TfliteSubGraph[];
  description: string;
  buffers: TfliteBuffer[];
  metadata: TfliteMetadata[];
  /** The reader over the file, for the builtin-options tables decoded per op by the importer. */
  tables: FlatTableReader;
}

/**
 * Bounds-checked access to flatbuffer tables on top of the flatbuffers
 * package's ByteBuffer. Positions are absolute byte offsets into the file.
 */
/** FlatBuffers are little-endian; on such a host a typed-array view reads them as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class FlatTableReader {
  readonly bb: ByteBuffer;
  private readonly size: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, readonly file: string) {
    // A plain Uint8Array view, so that slices of it are copies even when the caller passed a
    // Node Buffer (whose slice() shares memory).
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bb = new ByteBuffer(this.bytes);
    this.size = bytes.length;
  }

  fail(what: string): never {
    throw new CloudlessError('E_FORMAT', `${this.file}: not a valid .tflite file (${what})`, {
      file: this.file,
      hint: 'the file may be truncated or corrupt; download it again or re-export it with the TFLite converter',
    });
  }

  private need(pos: number, bytes: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + bytes > this.size) this.fail(`${what} at byte ${pos} lies outside the ${this.size}-byte file`);
  }

  u8(pos: number, what: string): number { this.need(pos, 1, what); return this.bb.readUint8(pos); }
  i8(pos: number, what: string): number { this.need(pos, 1, what); return this.bb.readInt8(pos); }
  u16(pos: number, what: string): number { this.need(pos, 2, what); return this.bb.readUint16(pos); }
  i32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readInt32(pos); }
  u32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readUint32(pos); }
  f32(pos: number, what: string): number { this.need(pos, 4, what); return this.bb.readFloat32(pos); }
  i64(pos: number, what: string): bigint { this.need(pos, 8, what); return this.bb.readInt64(pos); }
  u64(pos: number, what: string): bigint { this.need(pos, 8, what); return this.bb.readUint64(pos); }

  /** The position of the table a uoffset at `pos` points to, with its vtable validated. */
  indirectTable(pos: number, what: string): number {
    const table = pos + this.u32(pos, what);
    this.checkTable(table, what);
    return table;
  }

  /** Validates the vtable of the table at `table`: inside the file, even-sized, at least 4 bytes. */
  checkTable(table: number, what: string): void {
    const vtable = table - this.i32(table, `${what} vtable offset`);
    const vtSize = this.u16(vtable, `${what} vtable`);
    if (vtSize < 4 || vtSize % 2 !== 0) this.fail(`${what} has a vtable of ${vtSize} bytes`);
    this.need(vtable, vtSize, `${what} vtable`);
    const objSize = this.u16(vtable + 2, `${what} vtable`);
    this.need(table, Math.max(objSize, 4), what);
  }

  /** The absolute position of a field, or 0 when the field is absent (default value). */
  field(table: number, slot: number, what: string): number {
    const vtable = table - this.bb.readInt32(table);
    const entry = 4 + 2 * slot;
    if (entry >= this.bb.readUint16(vtable)) return 0;
    const off = this.bb.readUint16(vtable + entry);
    if (off === 0) return 0;
    const objSize = this.bb.readUint16(vtable + 2);
    if (off >= objSize) this.fail(`${what}: field ${slot} at offset ${off} lies beyond its ${objSize}-byte table`);
    return table + off;
  }

  scalarU8(table: number, slot: number, what: string, fallback = 0): number {
    const p = this.field(table, slot, what);
    return p ? this.u8(p, what) : fallback;
  }
  scalarI8(table: number, slot: number, what: string, fallback = 0): number {
    const p = this.field(table, slot, what);
    return p ? this.i8(p, what) : fallback;
  }
  scalarI32(table: number, slot: number, what: string, fallback = 0): number {
    const p = this.field(table, slot, what);
    return p ? this.i32(p, what) : fallback;
  }
  scalarU32(table: number, slot: number, what: string, fallback = 0): number {
    const p = this.field(table, slot, what);
    return p ? this.u32(p, what) : fallback;
  }
  scalarU64(table: number, slot: number, what: string): bigint {
    const p = this.field(table, slot, what);
    return p ? this.u64(p, what) : 0n;
  }
  scalarF32(table: number, slot: number, what: string, fallback = 0): number {
    const p = this.field(table, slot, what);
    return p ? this.f32(p, what) : fallback;
  }
  scalarBool(table: number, slot: number, what: string, fallback = false): boolean {
    const p = this.field(table, slot, what);
    return p ? this.u8(p, what) !== 0 : fallback;
  }

  /** A vector field: the position of its first element and its length, or undefined when absent. */
  vector(table: number, slot: number, elemSize: number, what: string): { start: number; length: number } | undefined {
    const p = this.field(table, slot, what);
    if (!p) return undefined;
    const vec = p + this.u32(p, what);
    const length = this.u32(vec, `${what} length`);
    const start = vec + 4;
    if (length * elemSize > this.size - start) this.fail(`${what}: ${length} elements at byte ${start} run past the end of the file`);
    return { start, length };
  }

  int32Vector(table: number, slot: number, what: string): number[] | undefined {
    const v = this.vector(table, slot, 4, what);
    if (!v) return undefined;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.bb.readInt32(v.start + 4 * i);
    return out;
  }

  float32Vector(table: number, slot: number, what: string): Float32Array | undefined {
    const v = this.vector(table, slot, 4, what);
    if (!v) return undefined;
    const at = this.bytes.byteOffset + v.start;
    // On a little-endian host an aligned vector is the array's own bytes: one copy (a cold start reads thousands).
    if (LITTLE_ENDIAN && at % 4 === 0) return new Float32Array(this.bytes.buffer, at, v.length).slice();
    const out = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.bb.readFloat32(v.start + 4 * i);
    return out;
  }

  int64Vector(table: number, slot: number, what: string): BigInt64Array | undefined {
    const v = this.vector(table, slot, 8, what);
    if (!v) return undefined;
    const at = this.bytes.byteOffset + v.start;
    if (LITTLE_ENDIAN && at % 8 === 0) return new BigInt64Array(this.bytes.buffer, at, v.length).slice();
    const out = new BigInt64Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.bb.readInt64(v.start + 8 * i);
    return out;
  }

  bytesVector(table: number, slot: number, what: string): Uint8Array | undefined {
    const v = this.vector(table, slot, 1, what);
    return v ? this.bytes.subarray(v.start, v.start + v.length) : undefined;
  }

  string(table: number, slot: number, what: string): string | undefined {
    const b = this.bytesVector(table, slot, what);
    return b ? this.decoder.decode(b) : undefined;
  }

  /** The validated table positions of a vector of tables. */
  tableVector(table: number, slot: number, what: string): number[] {
    const v = this.vector(table, slot, 4, what);
    if (!v) return [];
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.indirectTable(v.start + 4 * i, `${what}[${i}]`);
    return out;
  }

  /** The validated position of a sub-table field, or 0 when absent. */
  subTable(table: number, slot: number, what: string): number {
    const p = this.field(table, slot, what);
    return p ? this.indirectTable(p, what) : 0;
  }
}

function readQuantization(r: FlatTableReader, q: number, what: string): TfliteQuantization {
  return {
    min: r.float32Vector(q, QuantizationSlot.min, `${what}.min`),
    max: r.float32Vector(q, QuantizationSlot.max, `${what}.max`),
    scale: r.float32Vector(q, QuantizationSlot.scale, `${what}.scale`),
    zeroPoint: r.int64Vector(q, QuantizationSlot.zeroPoint, `${what}.zero_point`),
    detailsType: r.scalarU8(q, QuantizationSlot.detailsType, `${what}.details_type`),
    quantizedDimension: r.scalarI32(q, QuantizationSlot.quantizedDimension, `${what}.quantized_dimension`),
  };
}

function readTensor(r: FlatTableReader, t: number, what: string): TfliteTensor {
  const q = r.subTable(t, TensorSlot.quantization, `${what}.quantization`);
  return {
    shape: r.int32Vector(t, TensorSlot.shape, `${what}.shape`) ?? [],
    type: r.scalarI8(t, TensorSlot.type, `${what}.type`),
    buffer: r.scalarU32(t, TensorSlot.buffer, `${what}.buffer`),
    name: r.string(t, TensorSlot.name, `${what}.name`) ?? '',
    quantization: q ? readQuantization(r, q, `${what}.quantization`) : undefined,
    isVariable: r.scalarBool(t, TensorSlot.isVariable, `${what}.is_variable`),
    hasSparsity: r.field(t, TensorSlot.sparsity, `${what}.sparsity`) !== 0,
    shapeSignature: r.int32Vector(t, TensorSlot.shapeSignature, `${what}.shape_signature`),
  };
}

function readOperator(r: FlatTableReader, o: number, what: string): TfliteOperator {
  const largeSize = r.scalarU64(o, OperatorSlot.largeCustomOptionsSize, `${what}.large_custom_options_size`);
  if (largeSize > 1n) {
    throw new CloudlessError('E_UNSUPPORTED', `${r.file}: ${what} keeps its custom options outside the flatbuffer (a >2 GB model), which cloudless does not read`, { file: r.file });
  }
  return {
    opcodeIndex: r.scalarU32(o, OperatorSlot.opcodeIndex, `${what}.opcode_index`),
    inputs: r.int32Vector(o, OperatorSlot.inputs, `${what}.inputs`) ?? [],
    outputs: r.int32Vector(o, OperatorSlot.outputs, `${what}.outputs`) ?? [],
    intermediates: r.int32Vector(o, OperatorSlot.intermediates, `${what}.intermediates`) ?? [],
    builtinOptionsType: r.scalarU8(o, OperatorSlot.builtinOptionsType, `${what}.builtin_options_type`),
    builtinOptions: r.subTable(o, OperatorSlot.builtinOptions, `${what}.builtin_options`),
    builtinOptions2Type: r.scalarU8(o, OperatorSlot.builtinOptions2Type, `${what}.builtin_options_2_type`),
    customOptions: r.bytesVector(o, OperatorSlot.customOptions, `${what}.custom_options`),
  };
}

function readSubGraph(r: FlatTableReader, g: number, what: string): TfliteSubGraph {
  return {
    tensors: r.tableVector(g, SubGraphSlot.tensors, `${what}.tensors`).map((t, i) => readTensor(r, t, `${what}.tensors[${i}]`)),
    inputs: r.int32Vector(g, SubGraphSlot.inputs, `${what}.inputs`) ?? [],
    outputs: r.int32Vector(g, SubGraphSlot.outputs, `${what}.outputs`) ?? [],
    operators: r.tableVector(g, SubGraphSlot.operators, `${what}.operators`).map((o, i) => readOperator(r, o, `${what}.operators[${i}]`)),
    name: r.string(g, SubGraphSlot.name, `${what}.name`) ?? '',
  };
}

function readOperatorCode(r: FlatTableReader, c: number, what: string): TfliteOperatorCode {
  // Old files only set the int8 field; new files set both (the int8 one saturated at
  // PLACEHOLDER_FOR_GREATER_OP_CODES), so the larger of the two is the real code.
  const deprecated = r.scalarI8(c, OperatorCodeSlot.deprecatedBuiltinCode, `${what}.deprecated_builtin_code`);
  const extended = r.scalarI32(c, OperatorCodeSlot.builtinCode, `${what}.builtin_code`);
  return {
    builtinCode: Math.max(deprecated, extended),
    customCode: r.string(c, OperatorCodeSlot.customCode, `${what}.custom_code`),
    version: r.scalarI32(c, OperatorCodeSlot.version, `${what}.version`, 1),
  };
}

function readBuffer(r: FlatTableReader, b: number, what: string): TfliteBuffer {
  const offset = r.scalarU64(b, BufferSlot.offset, `${what}.offset`);
  if (offset > 1n) {
    throw new CloudlessError('E_UNSUPPORTED', `${r.file}: ${what} is stored outside the flatbuffer (a >2 GB model), which cloudless does not read`, { file: r.file });
  }
  return { data: r.bytesVector(b, BufferSlot.data, `${what}.data`) ?? new Uint8Array(0) };
}

/** Decodes the tables of a .tflite file. Throws E_FORMAT naming `file` when the bytes are not a valid model. */
export function readTfliteModel(bytes: Uint8Array, file = '<bytes>'): TfliteModel {
  const r = new FlatTableReader(bytes, file);
  if (bytes.length < 8) r.fail(`only ${bytes.length} bytes`);
  const ident = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!);
  if (ident !== TFLITE_IDENTIFIER) r.fail(`file identifier is ${JSON.stringify(ident)}, expected "${TFLITE_IDENTIFIER}"`);
  const root = r.indirectTable(0, 'Model');
  return {
    version: r.scalarU32(root, ModelSlot.version, 'Model.version'),
    operatorCodes: r.tableVector(root, ModelSlot.operatorCodes, 'Model.operator_codes')
      .map((c, i) => readOperatorCode(r, c, `operator_codes[${i}]`)),
    subgraphs: r.tableVector(root, ModelSlot.subgraphs, 'Model.subgraphs').map((g, i) => readSubGraph(r, g, `subgraphs[${i}]`)),
    description: r.string(root, ModelSlot.description, 'Model.description') ?? '',
    buffers: r.tableVector(root, ModelSlot.buffers, 'Model.buffers').map((b, i) => readBuffer(r, b, `buffers[${i}]`)),
    metadata: r.tableVector(root, ModelSlot.metadata, 'Model.metadata').map((m, i) => ({
      name: r.string(m, MetadataSlot.name, `metadata[${i}].name`) ?? '',
      buffer: r.scalarU32(m, MetadataSlot.buffer, `metadata[${i}].buffer`),
    })),
    tables: r,
  };
}

/**
 * Reads fields of one builtin-options table by slot, with defaults for absent
 * fields (flatbuffers omits fields equal to their default). `table` is 0 when the
 * operator has no options, and then every read returns the default.
 */
export class OptionsReader {
  constructor(private readonly r: FlatTableReader, private readonly table: number, private readonly what: string) {}

  get present(): boolean { return this.table !== 0; }

  int(slot: number, fallback = 0): number {
    return this.table ? this.r.scalarI32(this.table, slot, this.what, fallback) : fallback;
  }
  byte(slot: number, fallback = 0): number {
    return this.table ? this.r.scalarI8(this.table, slot, this.what, fallback) : fallback;
  }
  bool(slot: number, fallback = false): boolean {
    return this.table ? this.r.scalarBool(this.table, slot, this.what, fallback) : fallback;
  }
  float(slot: number, fallback = 0): number {
    return this.table ? this.r.scalarF32(this.table, slot, this.what, fallback) : fallback;
  }
  ints(slot: number): number[] | undefined {
    return this.table ? this.r.int32Vector(this.table, slot, this.what) : undefined;
  }
}

/** A flexbuffer value the importer keeps as an attribute. */
export type FlexScalarOrVector = number | boolean | string | number[];

/**
 * Reads a flexbuffer whose root is a map of scalars, strings and typed numeric
 * vectors — the shape of TFLM custom-op options (e.g. the Signal library's
 * `{"num_channels": 40, ...}`). Entries of other kinds are skipped. Written
 * here rather than with the flatbuffers package's flexbuffers module because
 * these bytes come from the file: this reader visits each byte a bounded
 * number of times and checks every offset, so a crafted buffer cannot make it
 * run away. Returns undefined when the bytes are not such a map.
 */
export function readFlexbufferMap(bytes: Uint8Array): Record<string, FlexScalarOrVector> | undefined {
  const n = bytes.length;
  if (n < 3) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inside = (pos: number, size: number): boolean => Number.isInteger(pos) && pos >= 0 && pos + size <= n;
  const readUInt = (pos: number, width: number): number | undefined => {
    if (!inside(pos, width)) return undefined;
    switch (width) {
      case 1: return view.getUint8(pos);
      case 2: return view.getUint16(pos, true);
      case 4: return view.getUint32(pos, true);
      case 8: { const v = view.getBigUint64(pos, true); return v > BigInt(n) ? n + 1 : Number(v); }
      default: return undefined;
    }
  };
  const readInt = (pos: number, width: number): number | undefined => {
    if (!inside(pos, width)) return undefined;
    switch (width) {
      case 1: return view.getInt8(pos);
      case 2: return view.getInt16(pos, true);
      case 4: return view.getInt32(pos, true);
      case 8: return Number(view.getBigInt64(pos, true));
      default: return undefined;
    }
  };
  const readFloat = (pos: number, width: number): number | undefined => {
    if (!inside(pos, width)) return undefined;
    if (width === 4) return view.getFloat32(pos, true);
    if (width === 8) return view.getFloat64(pos, true);
    return undefined;
  };
  // Offsets in a flexbuffer point backwards from where they are stored.
  const target = (pos: number, width: number): number | undefined => {
    const off = readUInt(pos, width);
    return off === undefined || off > pos ? undefined : pos - off;
  };
  const cString = (pos: number): string | undefined => {
    if (!inside(pos, 1)) return undefined;
    const end = bytes.indexOf(0, pos);
    return end < 0 ? undefined : new TextDecoder().decode(bytes.subarray(pos, end));
  };

  // Value types from flexbuffers.h (facts of the format).
  const INT = 1, UINT = 2, FLOAT = 3, STRING = 5, INDIRECT_INT = 6, INDIRECT_UINT = 7, INDIRECT_FLOAT = 8, MAP = 9;
  const VECTOR_INT = 11, VECTOR_UINT = 12, VECTOR_FLOAT = 13, BOOL = 26, VECTOR_BOOL = 36;

  const value = (pos: number, parentWidth: number, packed: number): FlexScalarOrVector | undefined => {
    const type = packed >> 2;
    const childWidth = 1 << (packed & 3);
    switch (type) {
      case INT: return readInt(pos, parentWidth);
      case UINT: return readUInt(pos, parentWidth);
      case FLOAT: return readFloat(pos, parentWidth);
      case BOOL: { const v = readUInt(pos, parentWidth); return v === undefined ? undefined : v !== 0; }
      case INDIRECT_INT: case INDIRECT_UINT: case INDIRECT_FLOAT: {
        const p = target(pos, parentWidth);
        if (p === undefined) return undefined;
        return type === INDIRECT_INT ? readInt(p, childWidth) : type === INDIRECT_UINT ? readUInt(p, childWidth) : readFloat(p, childWidth);
      }
      case STRING: {
        const p = target(pos, parentWidth);
        const len = p === undefined ? undefined : readUInt(p - childWidth, childWidth);
        if (p === undefined || len === undefined || !inside(p, len)) return undefined;
        return new TextDecoder().decode(bytes.subarray(p, p + len));
      }
      case VECTOR_INT: case VECTOR_UINT: case VECTOR_FLOAT: case VECTOR_BOOL: {
        const p = target(pos, parentWidth);
        const len = p === undefined ? undefined : readUInt(p - childWidth, childWidth);
        if (p === undefined || len === undefined || !inside(p, len * childWidth)) return undefined;
        const out: number[] = [];
        for (let i = 0; i < len; i++) {
          const at = p + i * childWidth;
          const v = type === VECTOR_INT ? readInt(at, childWidth) : type === VECTOR_FLOAT ? readFloat(at, childWidth) : readUInt(at, childWidth);
          if (v === undefined) return undefined;
          out.push(v);
        }
        return out;
      }
      default: return undefined;
    }
  };

  const rootWidth = bytes[n - 1]!;
  const rootPacked = bytes[n - 2]!;
  if (rootPacked >> 2 !== MAP) return undefined;
  const map = target(n - 2 - rootWidth, rootWidth);
  const width = 1 << (rootPacked & 3);
  if (map === undefined) return undefined;
  const length = readUInt(map - width, width);
  const keysAt = map - 3 * width;
  const keys = target(keysAt, width);
  const keyWidth = readUInt(map - 2 * width, width);
  if (length === undefined || keys === undefined || keyWidth === undefined || !inside(map, length * width + length)) return undefined;
  const out: Record<string, FlexScalarOrVector> = {};
  for (let i = 0; i < length; i++) {
    const keyPos = target(keys + i * keyWidth, keyWidth);
    const key = keyPos === undefined ? undefined : cString(keyPos);
    if (key === undefined) return undefined;
    const v = value(map + i * width, width, bytes[map + length * width + i]!);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * TF.js graph-model files, decoded: the structure of `model.json`, its weight
 * shards as tensors, and typed reads of node attributes. The op mapping is
 * ops.ts; the entry points are import.ts.
 */
import { CloudlessError, Tensor, sizeOf, type AttrValue, type DType, type Dim, type Graph } from '../../ir/index.js';

/** Prefix of the op name given to TF ops that have no canonical mapping. */
export const TFJS_UNSUPPORTED_PREFIX = 'tfjs.';

/** Distinct `tfjs.<Op>` ops of a graph imported from TF.js: the ops cloudless cannot run. */
export function unsupportedTfjsOps(graph: Graph): string[] {
  return [...new Set(graph.nodes.filter((n) => n.op.startsWith(TFJS_UNSUPPORTED_PREFIX)).map((n) => n.op))].sort();
}

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;

// ---------------------------------------------------------------------------------------------
// model.json structure

export interface RawAttr {
  i?: string | number;
  f?: number | string;
  b?: boolean;
  s?: string;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  list?: { i?: (string | number)[]; f?: (number | string)[]; s?: string[]; type?: string[]; b?: boolean[] };
  tensor?: unknown;
}

export interface RawNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, RawAttr>;
}

export interface RawModel {
  signature?: { inputs?: Record<string, { name?: string }>; outputs?: Record<string, { name?: string }> };
  modelTopology?: { node?: unknown[] };
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

export interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

export function formatError(source: string, message: string, node?: string, hint?: string): CloudlessError {
  return new CloudlessError('E_FORMAT', `${source}: ${message}`, { file: source, node, hint });
}

export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw formatError(source, `not valid JSON (${(err as Error).message})`, undefined, 'a TF.js graph model is a model.json written by tensorflowjs_converter');
  }
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function readNodes(json: unknown, source: string): RawNode[] {
  if (!isObject(json)) throw formatError(source, 'model.json must hold a JSON object');
  if (json.format !== undefined && json.format !== 'graph-model') {
    throw new CloudlessError('E_UNSUPPORTED', `${source}: TF.js format ${JSON.stringify(json.format)} is not supported`, {
      file: source, hint: 'only graph models (tensorflowjs_converter --output_format=tfjs_graph_model) are supported; convert Keras layers models first',
    });
  }
  const topo = json.modelTopology;
  if (!isObject(topo) || !Array.isArray(topo.node)) throw formatError(source, 'modelTopology.node is missing: not a TF.js graph model');
  return topo.node.map((raw, k) => {
    if (!isObject(raw) || typeof raw.name !== 'string' || typeof raw.op !== 'string' || raw.name === '') {
      throw formatError(source, `modelTopology.node[${k}] needs a string "name" and "op"`);
    }
    const input = raw.input ?? [];
    if (!Array.isArray(input) || input.some((i) => typeof i !== 'string')) {
      throw formatError(source, `node ${raw.name} (${raw.op}): "input" must be a list of strings`, raw.name);
    }
    const attr = raw.attr ?? {};
    if (!isObject(attr) || Object.values(attr).some((a) => !isObject(a))) {
      throw formatError(source, `node ${raw.name} (${raw.op}): "attr" must map names to attribute objects`, raw.name);
    }
    return { name: raw.name, op: raw.op, input: input as string[], attr: attr as Record<string, RawAttr> };
  });
}

export function readManifest(json: unknown, source: string): ManifestGroup[] {
  if (!isObject(json)) throw formatError(source, 'model.json must hold a JSON object');
  const m = json.weightsManifest ?? [];
  if (!Array.isArray(m)) throw formatError(source, 'weightsManifest must be a list');
  return m.map((g, gi) => {
    if (!isObject(g) || !Array.isArray(g.paths) || g.paths.some((p) => typeof p !== 'string') || !Array.isArray(g.weights)) {
      throw formatError(source, `weightsManifest[${gi}] needs "paths" (strings) and "weights" (a list)`);
    }
    const weights = g.weights.map((w, wi): WeightSpec => {
      if (!isObject(w) || typeof w.name !== 'string' || typeof w.dtype !== 'string' || !Array.isArray(w.shape) ||
          w.shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
        throw formatError(source, `weightsManifest[${gi}].weights[${wi}] needs "name", "dtype" and a "shape" of non-negative integers`);
      }
      let quantization: WeightSpec['quantization'];
      if (w.quantization !== undefined) {
        const q = w.quantization;
        if (!isObject(q) || typeof q.dtype !== 'string') throw formatError(source, `weight ${w.name}: "quantization" needs a "dtype"`);
        if ((q.dtype === 'uint8' || q.dtype === 'uint16') && (typeof q.min !== 'number' || typeof q.scale !== 'number')) {
          throw formatError(source, `weight ${w.name}: ${q.dtype} quantization needs numeric "min" and "scale"`);
        }
        quantization = { dtype: q.dtype, min: q.min as number | undefined, scale: q.scale as number | undefined };
      }
      return { name: w.name, shape: w.shape as number[], dtype: w.dtype, quantization };
    });
    return { paths: g.paths as string[], weights };
  });
}

// ---------------------------------------------------------------------------------------------
// weights

/** A decoded weight: a tensor, or the reason it cannot be one (strings, complex numbers). */
export type DecodedWeight = { tensor: Tensor } | { unsupported: string };

let halfTable: Float32Array | undefined;

/** All 65536 half-precision values widened once: decoding a model's float16 weights is then a lookup. */
export function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    t[h] = exp === 0 ? sign * frac * 2 ** -24
      : exp === 0x1f ? (frac ? NaN : sign * Infinity)
        : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (halfTable = t);
}

export function storedBytesPerValue(spec: WeightSpec, source: string): number {
  const q = spec.quantization;
  if (q) {
    if (q.dtype === 'uint8') return 1;
    if (q.dtype === 'uint16' || q.dtype === 'float16') return 2;
    throw formatError(source, `weight ${spec.name}: unknown quantization dtype "${q.dtype}" (expected uint8, uint16 or float16)`);
  }
  switch (spec.dtype) {
    case 'float32': case 'int32': return 4;
    case 'bool': return 1;
    case 'complex64': return 8;
    default: throw formatError(source, `weight ${spec.name}: unknown dtype "${spec.dtype}"`);
  }
}

/** Copies `n` little-endian elements starting at `offset` into an aligned array (shards are not aligned). */
export function alignedCopy(data: Uint8Array, offset: number, byteLength: number): ArrayBuffer {
  const buf = new ArrayBuffer(byteLength);
  new Uint8Array(buf).set(data.subarray(offset, offset + byteLength));
  return buf;
}

export function decodeWeights(manifest: ManifestGroup[], data: Uint8Array, source: string, shardNames?: string[]): Map<string, DecodedWeight> {
  const out = new Map<string, DecodedWeight>();
  let offset = 0;
  const shardText = () => (shardNames && shardNames.length > 0 ? ` (shards ${shardNames.join(', ')})` : '');
  for (const spec of manifest.flatMap((g) => g.weights)) {
    const size = sizeOf(spec.shape);
    let byteLength: number;
    if (spec.dtype === 'string' && !spec.quantization) {
      // Each string is a uint32 length then its bytes, so the size is only known by walking them.
      byteLength = 0;
      for (let i = 0; i < size; i++) {
        if (offset + byteLength + 4 > data.length) break;
        const len = new DataView(data.buffer, data.byteOffset + offset + byteLength, 4).getUint32(0, true);
        byteLength += 4 + len;
      }
    } else {
      byteLength = size * storedBytesPerValue(spec, source);
    }
    if (offset + byteLength > data.length) {
      throw formatError(source, `weight data${shardText()} holds ${data.length} bytes but weight ${spec.name} needs bytes ${offset}..${offset + byteLength}: the .bin files are truncated or do not belong to this model.json`, undefined,
        'copy the model again: model.json and its .bin shards must come from the same conversion');
    }
    out.set(spec.name, decodeWeight(spec, data, offset, byteLength, size, source));
    offset += byteLength;
  }
  if (offset !== data.length) {
    throw formatError(source, `weight data${shardText()} holds ${data.length} bytes but the weightsManifest describes ${offset}`, undefined,
      'model.json and its .bin shards must come from the same conversion');
  }
  return out;
}

export function decodeWeight(spec: WeightSpec, data: Uint8Array, offset: number, byteLength: number, size: number, source: string): DecodedWeight {
  const q = spec.quantization;
  if (q) {
    const stored = q.dtype === 'uint8'
      ? data.subarray(offset, offset + size)
      : new Uint16Array(alignedCopy(data, offset, byteLength));
    if (q.dtype === 'float16') {
      if (spec.dtype !== 'float32') throw formatError(source, `weight ${spec.name}: float16 quantization needs dtype float32, not ${spec.dtype}`);
      const table = halfToFloatTable();
      const v = new Float32Array(size);
      for (let i = 0; i < size; i++) v[i] = table[stored[i]!]!;
      return { tensor: new Tensor('float32', spec.shape, v) };
    }
    const scale = q.scale!, min = q.min!;
    if (spec.dtype === 'float32') {
      const v = new Float32Array(size);
      for (let i = 0; i < size; i++) v[i] = stored[i]! * scale + min;
      return { tensor: new Tensor('float32', spec.shape, v) };
    }
    if (spec.dtype === 'int32') {
      const v = new Int32Array(size);
      for (let i = 0; i < size; i++) v[i] = Math.round(stored[i]! * scale + min);
      return { tensor: new Tensor('int32', spec.shape, v) };
    }
    throw formatError(source, `weight ${spec.name}: ${q.dtype} quantization of dtype ${spec.dtype} is not defined`);
  }
  switch (spec.dtype) {
    case 'float32': return { tensor: new Tensor('float32', spec.shape, new Float32Array(alignedCopy(data, offset, byteLength))) };
    case 'int32': return { tensor: new Tensor('int32', spec.shape, new Int32Array(alignedCopy(data, offset, byteLength))) };
    case 'bool': return { tensor: new Tensor('bool', spec.shape, data.slice(offset, offset + byteLength)) };
    default: return { unsupported: `weight ${spec.name} has dtype ${spec.dtype}, which cloudless tensors cannot hold` };
  }
}

// ---------------------------------------------------------------------------------------------
// attributes

export function decodeBase64(s: string, source: string, node: RawNode, attr: string): string {
  // Decoders that skip invalid characters would turn corruption into a wrong padding mode: check first.
  const bad = () => formatError(source, `node ${node.name} (${node.op}): attribute "${attr}" is not valid base64`, node.name);
  // Padding, when present, must complete a 4-character group ("Tkw==" is refused by atob).
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1 || (s.endsWith('=') && s.length % 4 !== 0)) throw bad();
  // atob (Node and browsers alike) takes the standard alphabet; TF writes the URL-safe one at times.
  let binary: string;
  try {
    binary = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    throw bad();
  }
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** TF's DataType enum names → the dtype TF.js uses for them (TF.js keeps every integer as int32). */
export function tfDtype(t: string | undefined): DType | undefined {
  switch (t) {
    case 'DT_FLOAT': case 'DT_HALF': case 'DT_DOUBLE': case 'DT_BFLOAT16': return 'float32';
    case 'DT_INT32': case 'DT_INT64': case 'DT_INT16': case 'DT_INT8': case 'DT_UINT8': case 'DT_UINT16': case 'DT_UINT32': return 'int32';
    case 'DT_BOOL': return 'bool';
    default: return undefined;
  }
}

/** JSON numbers and numeric strings (protobuf-JSON writes int64 as strings); NaN for anything else. */
export function jsonNumber(x: unknown): number {
  return typeof x === 'number' || typeof x === 'string' ? Number(x) : NaN;
}

/** Raised while mapping one node when it has a form cloudless has no canonical op for. */
export class Unmappable extends Error {}

/** Typed reads of one node's attributes; malformed values are E_FORMAT naming the node. */
export class Attrs {
  constructor(private readonly node: RawNode, private readonly source: string) {}

  private bad(name: string, want: string): never {
    throw formatError(this.source, `node ${this.node.name} (${this.node.op}): attribute "${name}" must be ${want}`, this.node.name);
  }

  int(name: string, fallback: number): number {
    const a = this.node.attr[name];
    if (a === undefined || a.i === undefined) return fallback;
    const v = jsonNumber(a.i);
    if (!Number.isInteger(v)) this.bad(name, 'an integer');
    return v;
  }

  float(name: string, fallback: number): number {
    const a = this.node.attr[name];
    if (a === undefined || a.f === undefined) return fallback;
    const v = jsonNumber(a.f);
    if (Number.isNaN(v) && a.f !== 'NaN') this.bad(name, 'a number');
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const a = this.node.attr[name];
    if (a === undefined || a.b === undefined) return fallback;
    if (typeof a.b !== 'boolean') this.bad(name, 'a boolean');
    return a.b;
  }

  string(name: string, fallback: string): string {
    const a = this.node.attr[name];
    if (a === undefined || a.s === undefined) return fallback;
    if (typeof a.s !== 'string') this.bad(name, 'a base64 string');
    return decodeBase64(a.s, this.source, this.node, name);
  }

  ints(name: string): number[] {
    const l = this.node.attr[name]?.list?.i;
    if (l === undefined) return [];
    if (!Array.isArray(l)) this.bad(name, 'a list of integers');
    return l.map((x) => {
      const v = jsonNumber(x);
      if (!Number.isInteger(v)) this.bad(name, 'a list of integers');
      return v;
    });
  }

  strings(name: string): string[] {
    const l = this.node.attr[name]?.list?.s;
    if (l === undefined) return [];
    if (!Array.isArray(l) || l.some((x) => typeof x !== 'string')) this.bad(name, 'a list of base64 strings');
    return l.map((s) => decodeBase64(s, this.source, this.node, name));
  }

  type(name: string): string | undefined {
    const t = this.node.attr[name]?.type;
    if (t !== undefined && typeof t !== 'string') this.bad(name, 'a DataType name');
    return t;
  }

  /** Dims of a shape attribute; undefined for an unknown rank. -1 (unknown size) becomes null. */
  shape(name: string): Dim[] | undefined {
    const s: unknown = this.node.attr[name]?.shape;
    if (s === undefined) return undefined;
    if (!isObject(s)) this.bad(name, 'a shape');
    if (s.unknownRank) return undefined;
    const dims = s.dim ?? [];
    if (!Array.isArray(dims)) this.bad(name, 'a shape');
    return dims.map((d: unknown) => {
      if (!isObject(d)) this.bad(name, 'a shape');
      const v = jsonNumber(d.size ?? 0);
      if (!Number.isInteger(v)) this.bad(name, 'a shape of integers');
      return v < 0 ? null : v;
    });
  }

  /** Every attribute in plain form, for the attrs of an unsupported node. */
  all(): Record<string, AttrValue> {
    const out: Record<string, AttrValue> = {};
    for (const [k, a] of Object.entries(this.node.attr)) {
      if (a.i !== undefined) out[k] = this.int(k, 0);
      else if (a.f !== undefined) out[k] = this.float(k, 0);
      else if (a.b !== undefined) out[k] = this.bool(k, false);
      else if (a.s !== undefined) out[k] = this.string(k, '');
      else if (a.type !== undefined) out[k] = this.type(k) ?? '';
      else if (a.list?.i) out[k] = this.ints(k);
      else if (a.list?.s) out[k] = this.strings(k);
      else if (Array.isArray(a.list?.f)) out[k] = a.list.f.map(jsonNumber);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// constant helpers

export function int64Tensor(values: readonly (number | bigint)[], shape: readonly number[] = [values.length]): Tensor {
  return new Tensor('int64', shape, BigInt64Array.from(values, (v) => BigInt(v)));
}

export const ACTIVATION_ATTR: Record<string, string> = { relu: 'relu', relu6: 'relu6' };

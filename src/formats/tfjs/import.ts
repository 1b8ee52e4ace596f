/**
 * TF.js graph-model importer: `model.json` (format "graph-model") plus its weight
 * shards → a canonical cloudless Graph.
 *
 * How a TF.js graph model is laid out:
 *   - `modelTopology.node[]` is a TensorFlow GraphDef in protobuf-JSON form: each node has
 *     `name`, `op`, `input` ("node", "node:1" for output 1, "^node" for a control edge) and
 *     `attr`, where every attribute is a one-key wrapper ({i: "int64 as string"}, {f}, {b},
 *     {s: base64}, {type: "DT_FLOAT"}, {shape}, {list: {i|f|s|type: [...]}}, {tensor}).
 *   - Const nodes carry no data in the json: their values are the weights of the same name in
 *     `weightsManifest`, whose groups' shards are one byte stream read in manifest order.
 *
 * TF is already NHWC, so layout-sensitive ops map onto canonical ops without transposes; only
 * weights change layout (Conv2D HWIO → OHWI, depthwise HWCM → 1HW(C·M)). TF.js has no int64:
 * like TF.js, every integer tensor here is int32, and int64 results of canonical ops (TopK
 * indices, Shape, ArgMax) are cast back to int32 so that later TF arithmetic sees one dtype.
 *
 * A TF op with no mapping still imports, as op `tfjs.<Op>`, so that `cloudless info` can list
 * it; a Session refuses such a graph (see `unsupportedTfjsOps`).
 */
import {
  CloudlessError, Graph, Tensor, sizeOf, stridesOf,
  type AttrValue, type DType, type Dim, checkGraphInputDims } from '../../ir/index.js';
import { transposeTensor } from '../../ir/tensor-ops.js';

/** Prefix of the op name given to TF ops that have no canonical mapping. */
export const TFJS_UNSUPPORTED_PREFIX = 'tfjs.';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;


/**
 * Imports a TF.js graph model from the text of its `model.json`, fetching each
 * weight shard through `readShard` (given the manifest's path, URI-decoded):
 * the file system in Node (read-file.ts), same-origin URLs or dropped files in
 * a page. `source` names the model in errors.
 */
export async function importTfjsText(text: string, readShard: (shardPath: string) => Promise<Uint8Array>, source = 'model.json'): Promise<Graph> {
  const json = parseJson(text, source);
  const manifest = readManifest(json, source);
  const shards: Uint8Array[] = [];
  const shardNames: string[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      try {
        shards.push(await readShard(decodeURIComponent(p)));
      } catch (err) {
        throw new CloudlessError('E_FORMAT', `${source}: weight shard ${p} cannot be read (${(err as Error).message})`, {
          file: source, cause: err, hint: 'a TF.js graph model needs every .bin file of its weightsManifest next to model.json',
        });
      }
      shardNames.push(p);
    }
  }
  const total = shards.reduce((n, s) => n + s.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const s of shards) { data.set(s, off); off += s.length; }
  return importTfjsFromParts(json, data, source, shardNames);
}

/**
 * Imports a parsed `model.json` with its weight shards already concatenated in manifest order.
 * `source` names the model in errors; `shardNames` (optional) name the shards when sizes do not fit.
 */
export function importTfjsFromParts(modelJson: unknown, weightData: Uint8Array, source = 'model.json', shardNames?: string[]): Graph {
  const nodes = readNodes(modelJson, source);
  const manifest = readManifest(modelJson, source);
  const weights = decodeWeights(manifest, weightData, source, shardNames);
  const importer = new TfjsImporter(modelJson as RawModel, nodes, weights, source);
  const graph = importer.run();
  checkGraphInputDims(graph, source);
  return graph;
}

/** Distinct `tfjs.<Op>` ops of a graph imported from TF.js: the ops cloudless cannot run. */
export function unsupportedTfjsOps(graph: Graph): string[] {
  return [...new Set(graph.nodes.filter((n) => n.op.startsWith(TFJS_UNSUPPORTED_PREFIX)).map((n) => n.op))].sort();
}

// ---------------------------------------------------------------------------------------------
// model.json structure

interface RawAttr {
  i?: string | number;
  f?: number | string;
  b?: boolean;
  s?: string;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  list?: { i?: (string | number)[]; f?: (number | string)[]; s?: string[]; type?: string[]; b?: boolean[] };
  tensor?: unknown;
}

interface RawNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, RawAttr>;
}

interface RawModel {
  signature?: { inputs?: Record<string, { name?: string }>; outputs?: Record<string, { name?: string }> };
  modelTopology?: { node?: unknown[] };
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

function formatError(source: string, message: string, node?: string, hint?: string): CloudlessError {
  return new CloudlessError('E_FORMAT', `${source}: ${message}`, { file: source, node, hint });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw formatError(source, `not valid JSON (${(err as Error).message})`, undefined, 'a TF.js graph model is a model.json written by tensorflowjs_converter');
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function readNodes(json: unknown, source: string): RawNode[] {
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

function readManifest(json: unknown, source: string): ManifestGroup[] {
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
type DecodedWeight = { tensor: Tensor } | { unsupported: string };

let halfTable: Float32Array | undefined;

/** All 65536 half-precision values widened once: decoding a model's float16 weights is then a lookup. */
function halfToFloatTable(): Float32Array {
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

function storedBytesPerValue(spec: WeightSpec, source: string): number {
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
function alignedCopy(data: Uint8Array, offset: number, byteLength: number): ArrayBuffer {
  const buf = new ArrayBuffer(byteLength);
  new Uint8Array(buf).set(data.subarray(offset, offset + byteLength));
  return buf;
}

function decodeWeights(manifest: ManifestGroup[], data: Uint8Array, source: string, shardNames?: string[]): Map<string, DecodedWeight> {
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

function decodeWeight(spec: WeightSpec, data: Uint8Array, offset: number, byteLength: number, size: number, source: string): DecodedWeight {
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

function decodeBase64(s: string, source: string, node: RawNode, attr: string): string {
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
function tfDtype(t: string | undefined): DType | undefined {
  switch (t) {
    case 'DT_FLOAT': case 'DT_HALF': case 'DT_DOUBLE': case 'DT_BFLOAT16': return 'float32';
    case 'DT_INT32': case 'DT_INT64': case 'DT_INT16': case 'DT_INT8': case 'DT_UINT8': case 'DT_UINT16': case 'DT_UINT32': return 'int32';
    case 'DT_BOOL': return 'bool';
    default: return undefined;
  }
}

/** JSON numbers and numeric strings (protobuf-JSON writes int64 as strings); NaN for anything else. */
function jsonNumber(x: unknown): number {
  return typeof x === 'number' || typeof x === 'string' ? Number(x) : NaN;
}

/** Raised while mapping one node when it has a form cloudless has no canonical op for. */
class Unmappable extends Error {}

/** Typed reads of one node's attributes; malformed values are E_FORMAT naming the node. */
class Attrs {
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

function int64Tensor(values: readonly (number | bigint)[], shape: readonly number[] = [values.length]): Tensor {
  return new Tensor('int64', shape, BigInt64Array.from(values, (v) => BigInt(v)));
}

const ACTIVATION_ATTR: Record<string, string> = { relu: 'relu', relu6: 'relu6' };

// ---------------------------------------------------------------------------------------------
// the importer

class TfjsImporter {
  private readonly graph: Graph;
  /** TF tensor reference ("node" or "node:k") → the IR value holding it. */
  private readonly alias = new Map<string, string>();
  /** Value names the TF graph will define, so generated names never collide with them. */
  private readonly reserved = new Set<string>();
  private readonly byName = new Map<string, RawNode>();
  /** Highest output index read of each node, for ops with a variable number of outputs. */
  private readonly outputsUsed = new Map<string, number>();
  private readonly convertedConsts = new Map<string, string>();
  private readonly unsupportedReasons: string[] = [];
  private created: string[] = [];
  private readonly nodeNames = new Set<string>();
  private current!: RawNode;

  constructor(private readonly model: RawModel, private readonly nodes: RawNode[],
    private readonly weights: Map<string, DecodedWeight>, private readonly source: string) {
    // The graph is named after the json, or after its folder when the json is the usual model.json.
    const parts = source.split(/[\\/]/);
    const base = (parts[parts.length - 1] ?? source).replace(/\.json$/i, '');
    this.graph = new Graph(base === 'model' ? parts[parts.length - 2] || base : base, { format: 'tfjs', source });
  }

  run(): Graph {
    for (const n of this.nodes) {
      if (this.byName.has(n.name)) throw formatError(this.source, `two nodes are named ${n.name}`, n.name);
      this.byName.set(n.name, n);
      this.reserved.add(n.name);
    }
    for (const n of this.nodes) {
      for (const ref of n.input) {
        if (ref.startsWith('^')) continue;
        const { node, index } = this.parseRef(ref, n);
        this.outputsUsed.set(node, Math.max(this.outputsUsed.get(node) ?? 0, index));
        if (index > 0) this.reserved.add(`${node}:${index}`);
      }
    }
    for (const n of this.topologicalOrder()) this.importNode(n);
    this.setOutputs();
    this.dropUnreadConstants();
    const unsupported = unsupportedTfjsOps(this.graph);
    if (unsupported.length > 0) {
      (this.graph.meta.warnings ??= []).push(
        `ops with no cloudless mapping: ${unsupported.map((o) => o.slice(TFJS_UNSUPPORTED_PREFIX.length)).join(', ')}`,
        ...this.unsupportedReasons,
      );
    }
    this.graph.sortTopologically();
    return this.graph;
  }

  /** Weights whose layout was converted (and Consts nothing reads) would otherwise count twice in weightBytes. */
  private dropUnreadConstants(): void {
    const read = new Set(this.graph.outputs);
    for (const n of this.graph.nodes) for (const i of n.inputs) read.add(i);
    for (const [name, v] of this.graph.values) if (v.constant && !read.has(name)) this.graph.values.delete(name);
  }

  private parseRef(ref: string, user: RawNode): { node: string; index: number } {
    const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
    const node = m[1]!;
    if (!this.byName.has(node)) {
      throw formatError(this.source, `node ${user.name} (${user.op}) reads "${ref}", but no node is named ${node}`, user.name);
    }
    return { node, index: m[2] === undefined ? 0 : Number(m[2]) };
  }

  /** TF graphs are not stored in order; control edges only order side effects, which inference has none of. */
  private topologicalOrder(): RawNode[] {
    const state = new Map<string, 1 | 2>();
    const order: RawNode[] = [];
    for (const root of this.nodes) {
      if (state.has(root.name)) continue;
      const stack: { node: RawNode; next: number }[] = [{ node: root, next: 0 }];
      state.set(root.name, 1);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const inputs = top.node.input;
        if (top.next < inputs.length) {
          const ref = inputs[top.next++]!;
          if (ref.startsWith('^')) continue;
          const dep = this.byName.get(this.parseRef(ref, top.node).node)!;
          const s = state.get(dep.name);
          if (s === 1) throw formatError(this.source, `the graph has a cycle through node ${dep.name} (control flow is not supported)`, dep.name);
          if (s === undefined) { state.set(dep.name, 1); stack.push({ node: dep, next: 0 }); }
        } else {
          state.set(top.node.name, 2);
          order.push(top.node);
          stack.pop();
        }
      }
    }
    return order;
  }

  private setOutputs(): void {
    const sigOut = this.model.signature?.outputs;
    let refs: string[];
    if (isObject(sigOut) && Object.keys(sigOut).length > 0) {
      refs = Object.entries(sigOut).map(([k, v]) => (isObject(v) && typeof v.name === 'string' ? v.name : k));
    } else {
      const read = new Set<string>();
      for (const n of this.nodes) for (const r of n.input) read.add(r.replace(/^\^/, '').replace(/:\d+$/, ''));
      refs = this.nodes.filter((n) => !read.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder').map((n) => n.name);
    }
    for (const ref of refs) {
      const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
      const nodeName = m[1]!;
      const index = m[2] === undefined ? 0 : Number(m[2]);
      if (!this.byName.has(nodeName)) throw formatError(this.source, `signature output ${ref} names no node`);
      const wanted = index === 0 ? nodeName : `${nodeName}:${index}`;
      const actual = this.resolve(wanted);
      let out = actual;
      // Pass-through nodes (Identity) vanish on import; keep the model's output names by copying.
      if (actual !== wanted) {
        this.created = [];
        this.current = this.byName.get(nodeName)!;
        out = wanted;
        this.graph.setValue({ name: out, dtype: this.dtypeOf(actual) });
        this.graph.addNode({ name: `${nodeName}/output`, op: 'Identity', inputs: [actual], outputs: [out], attrs: {} });
      }
      if (!this.graph.outputs.includes(out)) this.graph.outputs.push(out);
    }
  }

  private resolve(ref: string): string {
    const key = ref.endsWith(':0') ? ref.slice(0, -2) : ref;
    const v = this.alias.get(key);
    if (v === undefined) {
      throw formatError(this.source, `"${ref}" is read but its node defines no such output`, this.current?.name);
    }
    return v;
  }

  private dtypeOf(value: string): DType {
    return this.graph.value(value).dtype;
  }

  private constantOf(value: string): Tensor | undefined {
    return this.graph.values.get(value)?.constant;
  }

  /** A value name not used by the graph nor by any TF node. */
  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.graph.values.has(name) || this.reserved.has(name); i++) name = `${base}_${i}`;
    return name;
  }

  private addConst(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
    this.created.push(name);
    return name;
  }

  /** Emits one canonical node; returns its output value names. */
  private emit(op: string, inputs: string[], attrs: Record<string, AttrValue>, outDtypes: DType[], outNames?: string[], suffix = op): string[] {
    const outs = outDtypes.map((dtype, k) => {
      const name = outNames?.[k] ?? this.fresh(`${this.current.name}/${suffix}${k > 0 ? `:${k}` : ''}`);
      this.graph.setValue({ name, dtype });
      this.created.push(name);
      return name;
    });
    // A node that defines a TF output is named after it; helper nodes after the TF node and their role.
    let nodeName = outNames ? outs[0]! : `${this.current.name}/${suffix}`;
    for (let i = 1; this.nodeNames.has(nodeName); i++) nodeName = `${this.current.name}/${suffix}_${i}`;
    this.nodeNames.add(nodeName);
    this.graph.addNode({ name: nodeName, op, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Emits a one-output helper node; returns its output. */
  private emit1(op: string, inputs: string[], attrs: Record<string, AttrValue>, outDtypes: [DType], outNames?: string[], suffix = op): string {
    return this.emit(op, inputs, attrs, outDtypes, outNames, suffix)[0]!;
  }

  /** The output names a TF node's outputs are known by (output 0 is the node name). */
  private outName(k: number): string {
    return k === 0 ? this.current.name : `${this.current.name}:${k}`;
  }

  private bind(k: number, value: string): void {
    this.alias.set(this.outName(k), value);
  }

  private importNode(n: RawNode): void {
    this.current = n;
    this.created = [];
    const nodesBefore = this.graph.nodes.length;
    const inputs = n.input.filter((r) => !r.startsWith('^')).map((r) => this.resolve(r));
    const attrs = new Attrs(n, this.source);
    try {
      this.mapNode(n, inputs, attrs);
    } catch (err) {
      if (!(err instanceof Unmappable)) throw err;
      // Undo what the mapping emitted before it gave up, then keep the node as an unsupported op.
      for (const dropped of this.graph.nodes.splice(nodesBefore)) this.nodeNames.delete(dropped.name);
      for (const v of this.created) this.graph.values.delete(v);
      this.created = [];
      this.unsupportedReasons.push(`node ${n.name} (${n.op}): ${err.message}`);
      this.emitUnsupported(n, inputs, attrs);
    }
  }

  private emitUnsupported(n: RawNode, inputs: string[], attrs: Attrs): void {
    const count = (this.outputsUsed.get(n.name) ?? 0) + 1;
    const dtype = tfDtype(attrs.type('T') ?? attrs.type('dtype') ?? attrs.type('DstT')) ?? 'float32';
    const outs = Array.from({ length: count }, (_, k) => this.outName(k));
    this.emit(TFJS_UNSUPPORTED_PREFIX + n.op, inputs, attrs.all(), outs.map(() => dtype), outs);
    outs.forEach((o, k) => this.bind(k, o));
  }

  /** Emits a node whose only output is the TF node's output 0. */
  private emitAs(op: string, inputs: string[], attrs: Record<string, AttrValue>, dtype: DType): void {
    this.emit(op, inputs, attrs, [dtype], [this.outName(0)]);
    this.bind(0, this.outName(0));
  }

  /** The content of a constant input as numbers, or Unmappable naming what was expected. */
  private constInts(value: string, what: string): number[] {
    const t = this.constantOf(value);
    if (!t) throw new Unmappable(`${what} must be a constant`);
    return t.toNumbers();
  }

  /** An index/shape input in the int64 form canonical ops take; 0-D becomes [1] when `vector`. */
  private int64Input(value: string, vector = false): string {
    const key = `${value}|${vector}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const t = this.constantOf(value);
    let out: string;
    if (t) {
      const ints = t.toNumbers();
      out = this.addConst(`${value}/i64`, int64Tensor(ints, vector && t.rank === 0 ? [1] : t.shape));
      this.convertedConsts.set(key, out);
      return out;
    }
    if (this.dtypeOf(value) !== 'int64') value = this.emit1('Cast', [value], { to: 'int64' }, ['int64'], undefined, 'cast_i64');
    if (vector) value = this.emit1('Reshape', [value, this.addConst(`${this.current.name}/minus1`, int64Tensor([-1]))], {}, ['int64'], undefined, 'as_vector');
    return value;
  }

  private scalarConst(value: number, dtype: DType): string {
    const key = `scalar:${dtype}:${value}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const name = this.addConst(`tfjs/const_${dtype}_${value}`, Tensor.scalar(dtype, value));
    this.convertedConsts.set(key, name);
    return name;
  }

  private requireNHWC(attrs: Attrs): void {
    const f = attrs.string('data_format', 'NHWC');
    if (f !== 'NHWC') throw new Unmappable(`data_format ${f} is not supported (TF.js graph models are NHWC)`);
  }

  /** strides/dilations/padding of a TF conv or pool in NHWC order → canonical attrs. */
  private windowAttrs(attrs: Attrs, withDilations: boolean): Record<string, AttrValue> {
    const out: Record<string, AttrValue> = {};
    const strides = attrs.ints('strides');
    if (strides.length === 4) out.strides = [strides[1]!, strides[2]!];
    else if (strides.length !== 0) throw new Unmappable(`strides must list 4 values, got ${strides.length}`);
    if (withDilations) {
      const dil = attrs.ints('dilations');
      if (dil.length === 4) out.dilations = [dil[1]!, dil[2]!];
      else if (dil.length !== 0) throw new Unmappable(`dilations must list 4 values, got ${dil.length}`);
    }
    const padding = attrs.string('padding', 'VALID');
    if (padding === 'SAME') out.auto_pad = 'SAME_UPPER';
    else if (padding === 'VALID') out.auto_pad = 'VALID';
    else if (padding === 'EXPLICIT') {
      const p = attrs.ints('explicit_paddings');
      if (p.length !== 8) throw new Unmappable(`explicit_paddings must list 8 values, got ${p.length}`);
      out.auto_pad = 'NOTSET';
      out.pads = [p[2]!, p[4]!, p[3]!, p[5]!];
    } else {
      throw new Unmappable(`padding "${padding}" is not one of SAME, VALID, EXPLICIT`);
    }
    return out;
  }

  /** A constant conv weight in the canonical layout, converted once however many nodes share it. */
  private convWeight(value: string, kind: 'conv' | 'depthwise' | 'transpose'): string {
    const key = `${kind}:${value}`;
    const done = this.convertedConsts.get(key);
    if (done && this.graph.values.has(done)) return done;
    const t = this.constantOf(value);
    let out: string;
    if (t) {
      if (t.rank !== 4) throw new Unmappable(`weight ${value} must be 4-D, got rank ${t.rank}`);
      const [h, w, c, m] = t.shape as [number, number, number, number];
      // HWIO → OHWI for Conv2D; HW[Cout,Cin] → [Cin]HW[Cout] (IHWO) for Conv2DBackpropInput; HWCM → 1HW(C·M) keeps the bytes.
      const converted = kind === 'depthwise' ? t.reshape([1, h, w, c * m]) : transposeTensor(t, [3, 0, 1, 2]);
      out = this.addConst(`${value}/${kind === 'depthwise' ? '1HWO' : kind === 'conv' ? 'OHWI' : 'IHWO'}`, converted);
      this.convertedConsts.set(key, out);
      return out;
    }
    if (kind === 'depthwise') {
      const [u] = this.emit('Unsqueeze', [value, this.addConst(`${this.current.name}/axis0`, int64Tensor([0]))], {}, [this.dtypeOf(value)], undefined, 'weight_unsqueeze');
      return this.emit('Reshape', [u!, this.addConst(`${this.current.name}/weight_shape`, int64Tensor([0, 0, 0, -1]))], {}, [this.dtypeOf(value)], undefined, 'weight_1HWO')[0]!;
    }
    return this.emit('Transpose', [value], { perm: [3, 0, 1, 2] }, [this.dtypeOf(value)], undefined, 'weight_layout')[0]!;
  }

  /**
   * The fused tail of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul: which bias
   * goes into the op, which activation folds into its `activation` attr, and what follows it.
   */
  private fusedTail(attrs: Attrs, extra: string[]): { bias?: string; activation?: string; after: (y: string, dtype: DType) => string } {
    const ops = attrs.strings('fused_ops');
    const numArgs = attrs.int('num_args', extra.length);
    if (extra.length < numArgs) throw new Unmappable(`num_args is ${numArgs} but only ${extra.length} extra inputs are given`);
    let k = 0;
    let bias: string | undefined;
    let bn: string[] | undefined;
    const first = ops[0];
    if (first === 'BiasAdd') { bias = extra[k++]; }
    else if (first === 'FusedBatchNorm') { bn = extra.slice(0, 4); k = 4; if (bn.length < 4) throw new Unmappable('FusedBatchNorm needs 4 arguments'); }
    const actOp = first === 'BiasAdd' || first === 'FusedBatchNorm' ? ops[1] : first;
    if (ops.length > (actOp === first ? 1 : 2)) throw new Unmappable(`fused_ops ${ops.join(',')} is not a supported combination`);
    const epsilon = attrs.float('epsilon', 0.0001);
    const alpha = attrs.float('leakyrelu_alpha', 0.2);
    const preluArg = actOp === 'Prelu' ? extra[k++] : undefined;
    if (actOp === 'Prelu' && !preluArg) throw new Unmappable('fused Prelu needs its alpha argument');
    const act = actOp?.toLowerCase();
    const foldable = !bn && act !== undefined && ACTIVATION_ATTR[act] !== undefined;
    const unaryAfter: Record<string, string> = { elu: 'Elu', sigmoid: 'Sigmoid', tanh: 'Tanh', relu: 'Relu' };
    if (act !== undefined && !foldable && act !== 'relu6' && act !== 'leakyrelu' && act !== 'prelu' && !unaryAfter[act]) {
      throw new Unmappable(`fused activation ${actOp} is not supported`);
    }
    return {
      bias,
      activation: foldable ? ACTIVATION_ATTR[act!] : undefined,
      after: (y, dtype) => {
        if (bn) {
          y = this.emit1('BatchNormalization', [y, ...bn], { epsilon }, [dtype], undefined, 'batchnorm');
        }
        if (foldable || act === undefined) return y!;
        if (act === 'relu6') return this.emit('Clip', [y!, this.scalarConst(0, dtype), this.scalarConst(6, dtype)], {}, [dtype], undefined, 'relu6')[0]!;
        if (act === 'leakyrelu') return this.emit('LeakyRelu', [y!], { alpha }, [dtype], undefined, 'leakyrelu')[0]!;
        if (act === 'prelu') return this.emit('PRelu', [y!, preluArg!], {}, [dtype], undefined, 'prelu')[0]!;
        return this.emit(unaryAfter[act]!, [y!], {}, [dtype], undefined, act)[0]!;
      },
    };
  }

  private finish(value: string): void {
    if (value === this.outName(0)) { this.bind(0, value); return; }
    // The last emitted node's output takes the TF node's name, so the graph keeps TF's names.
    const node = this.graph.nodes[this.graph.nodes.length - 1];
    if (node && node.outputs[0] === value && !this.reserved.has(value)) {
      const v = this.graph.value(value);
      this.graph.values.delete(value);
      this.graph.setValue({ ...v, name: this.outName(0) });
      node.outputs[0] = this.outName(0);
      this.nodeNames.delete(node.name);
      node.name = this.current.name;
      this.nodeNames.add(node.name);
      this.bind(0, this.outName(0));
      return;
    }
    this.bind(0, value);
  }

  private mapConv(inputs: string[], attrs: Attrs, kind: 'conv' | 'depthwise', fused: boolean): void {
    this.requireNHWC(attrs);
    const [x, w, ...extra] = inputs;
    if (!x || !w) throw new Unmappable('needs an input and a filter');
    const window = this.windowAttrs(attrs, true);
    const tail = fused ? this.fusedTail(attrs, extra) : { bias: undefined, activation: undefined, after: (y: string) => y };
    const dtype = this.dtypeOf(x);
    const weight = this.convWeight(w, kind);
    const attrsOut: Record<string, AttrValue> = { ...window, activation: tail.activation ?? 'none' };
    if (kind === 'conv') attrsOut.group = 1;
    const op = kind === 'conv' ? 'Conv' : 'DepthwiseConv';
    const y = this.emit1(op, tail.bias ? [x, weight, tail.bias] : [x, weight], attrsOut, [dtype], undefined, op);
    this.finish(tail.after(y!, dtype));
  }

  private mapMatMul(inputs: string[], attrs: Attrs, fused: boolean, batch: boolean): void {
    let [a, b, ...extra] = inputs;
    if (!a || !b) throw new Unmappable('needs two inputs');
    const ta = attrs.bool(batch ? 'adj_x' : 'transpose_a', false);
    const tb = attrs.bool(batch ? 'adj_y' : 'transpose_b', false);
    const tail = fused ? this.fusedTail(attrs, extra) : undefined;
    const dtype = this.dtypeOf(a);
    const swapLast = (v: string, which: string): string => {
      const t = this.constantOf(v);
      if (t) {
        const perm = [...Array(t.rank).keys()];
        [perm[t.rank - 1], perm[t.rank - 2]] = [perm[t.rank - 2]!, perm[t.rank - 1]!];
        return this.addConst(`${v}/T`, transposeTensor(t, perm));
      }
      if (batch) throw new Unmappable(`${which} of a runtime operand needs its rank, which TF.js does not record`);
      return this.emit('Transpose', [v], { perm: [1, 0] }, [dtype], undefined, `transpose_${which}`)[0]!;
    };
    if (ta) a = swapLast(a, 'a');
    if (tb) b = swapLast(b, 'b');
    let y = this.emit1('MatMul', [a, b], {}, [dtype], undefined, 'MatMul');
    if (tail) {
      if (tail.bias) y = this.emit1('Add', [y!, tail.bias], {}, [dtype], undefined, 'bias');
      if (tail.activation === 'relu') y = this.emit1('Relu', [y!], {}, [dtype], undefined, 'relu');
      else if (tail.activation === 'relu6') y = this.emit1('Clip', [y!, this.scalarConst(0, dtype), this.scalarConst(6, dtype)], {}, [dtype], undefined, 'relu6');
      y = tail.after(y!, dtype);
    }
    this.finish(y!);
  }

  private mapPool(op: 'MaxPool' | 'AveragePool', attrs: Attrs, x: string): void {
    this.requireNHWC(attrs);
    const k = attrs.ints('ksize');
    if (k.length !== 4 || k[0] !== 1 || k[3] !== 1) throw new Unmappable(`ksize must be [1, h, w, 1], got [${k.join(', ')}]`);
    const a: Record<string, AttrValue> = { kernel_shape: [k[1]!, k[2]!], ...this.windowAttrs(attrs, false) };
    // TF's SAME average pooling divides by the number of real (not padded) pixels.
    if (op === 'AveragePool') a.count_include_pad = 0;
    this.emitAs(op, [x], a, this.dtypeOf(x));
  }

  private mapStridedSlice(inputs: string[], attrs: Attrs): void {
    const [x, b, e, s] = inputs;
    if (!x || !b || !e) throw new Unmappable('needs input, begin and end');
    const begin = this.constInts(b, 'begin');
    const end = this.constInts(e, 'end');
    const strides = s ? this.constInts(s, 'strides') : begin.map(() => 1);
    const bit = (mask: number, i: number) => ((mask >>> i) & 1) === 1;
    const beginMask = attrs.int('begin_mask', 0), endMask = attrs.int('end_mask', 0);
    const ellipsisMask = attrs.int('ellipsis_mask', 0), newAxisMask = attrs.int('new_axis_mask', 0);
    const shrinkMask = attrs.int('shrink_axis_mask', 0);
    const starts: bigint[] = [], ends: bigint[] = [], axes: number[] = [], steps: bigint[] = [];
    const squeeze: number[] = [], unsqueeze: number[] = [];
    const ellipsisAt = begin.findIndex((_, i) => bit(ellipsisMask, i));
    const afterEllipsis = ellipsisAt < 0 ? 0 : begin.slice(ellipsisAt + 1).filter((_, j) => !bit(newAxisMask, ellipsisAt + 1 + j)).length;
    let inDim = 0, outDim = 0;
    for (let i = 0; i < begin.length; i++) {
      if (i === ellipsisAt) { inDim = -afterEllipsis; continue; }
      if (bit(newAxisMask, i)) {
        if (ellipsisAt >= 0 && i > ellipsisAt) throw new Unmappable('new_axis_mask after an ellipsis needs the input rank');
        unsqueeze.push(outDim++);
        continue;
      }
      const step = strides[i] ?? 1;
      if (step === 0) throw new Unmappable('a stride of 0');
      const axis = inDim++;
      if (bit(shrinkMask, i)) {
        const at = begin[i]!;
        starts.push(BigInt(at)); ends.push(at === -1 ? INT64_MAX : BigInt(at + 1)); steps.push(1n);
        axes.push(axis); squeeze.push(axis);
        continue;
      }
      starts.push(bit(beginMask, i) ? (step > 0 ? 0n : INT64_MAX) : BigInt(begin[i]!));
      ends.push(bit(endMask, i) ? (step > 0 ? INT64_MAX : INT64_MIN) : BigInt(end[i]!));
      steps.push(BigInt(step));
      axes.push(axis);
      outDim++;
    }
    const dtype = this.dtypeOf(x);
    let y = x;
    if (axes.length > 0) {
      y = this.emit1('Slice', [x, this.addConst(`${b}/starts`, int64Tensor(starts)), this.addConst(`${e}/ends`, int64Tensor(ends)),
        this.addConst(`${this.current.name}/axes`, int64Tensor(axes)), this.addConst(`${this.current.name}/steps`, int64Tensor(steps))], {}, [dtype], undefined, 'Slice');
    }
    if (squeeze.length > 0) y = this.emit1('Squeeze', [y!, this.addConst(`${this.current.name}/squeeze_axes`, int64Tensor(squeeze))], {}, [dtype], undefined, 'shrink');
    if (unsqueeze.length > 0) y = this.emit1('Unsqueeze', [y!, this.addConst(`${this.current.name}/new_axes`, int64Tensor(unsqueeze))], {}, [dtype], undefined, 'new_axis');
    if (y === x) y = this.emit1('Identity', [x], {}, [dtype], undefined, 'Identity');
    this.finish(y!);
  }

  private mapResize(inputs: string[], attrs: Attrs, mode: 'linear' | 'nearest'): void {
    const [x, size] = inputs;
    if (!x || !size) throw new Unmappable('needs images and size');
    const alignCorners = attrs.bool('align_corners', false);
    const halfPixel = attrs.bool('half_pixel_centers', false);
    const a: Record<string, AttrValue> = { mode, axes: [1, 2] };
    if (alignCorners) {
      a.coordinate_transformation_mode = 'align_corners';
      // TF rounds with std::round (half away from zero); coordinates are >= 0 here.
      if (mode === 'nearest') a.nearest_mode = 'round_prefer_ceil';
    } else if (halfPixel) {
      a.coordinate_transformation_mode = 'half_pixel';
      // TF's nearest with half-pixel centers is floor((x + 0.5) * scale) = round_prefer_ceil((x + 0.5) * scale - 0.5).
      if (mode === 'nearest') a.nearest_mode = 'round_prefer_ceil';
    } else {
      a.coordinate_transformation_mode = 'asymmetric';
      if (mode === 'nearest') a.nearest_mode = 'floor';
    }
    this.emitAs('Resize', [x, '', '', this.int64Input(size)], a, this.dtypeOf(x));
  }

  private mapPad(inputs: string[], mode: string, withValue: boolean): void {
    const [x, paddings, value] = inputs;
    if (!x || !paddings) throw new Unmappable('needs input and paddings');
    const t = this.constantOf(paddings);
    let pads: string;
    if (t) {
      if (t.rank !== 2 || t.shape[1] !== 2) throw new Unmappable('paddings must be [rank, 2]');
      const p = t.toNumbers();
      const r = t.shape[0]!;
      pads = this.addConst(`${paddings}/pads`, int64Tensor([...Array(r).keys()].map((i) => p[2 * i]!).concat([...Array(r).keys()].map((i) => p[2 * i + 1]!))));
    } else {
      const [tr] = this.emit('Transpose', [paddings], { perm: [1, 0] }, [this.dtypeOf(paddings)], undefined, 'pads_t');
      pads = this.int64Input(tr!, true);
    }
    const ins = [x, pads];
    if (withValue && value) ins.push(value);
    this.emitAs('Pad', ins, { mode }, this.dtypeOf(x));
  }

  private mapSparseToDense(inputs: string[]): void {
    const [ix, shapeV, valuesV, dflt] = inputs;
    if (!ix || !shapeV || !valuesV || !dflt) throw new Unmappable('needs 4 inputs');
    const indices = this.constantOf(ix), shape = this.constantOf(shapeV), values = this.constantOf(valuesV), fill = this.constantOf(dflt);
    if (!indices || !shape || !values || !fill) throw new Unmappable('is only supported with constant inputs (it is folded at import)');
    const outShape = shape.toNumbers();
    const rank = outShape.length;
    const dtype = values.dtype;
    const out = Tensor.fromNumbers(dtype, outShape, new Array<number>(sizeOf(outShape)).fill(fill.toNumbers()[0] ?? 0));
    const ii = indices.toNumbers();
    const count = indices.rank === 0 ? 1 : indices.shape[0]!;
    const vv = values.toNumbers();
    const strides = stridesOf(outShape);
    for (let k = 0; k < count; k++) {
      let flat = 0;
      for (let d = 0; d < rank; d++) {
        const at = indices.rank < 2 ? ii[k]! : ii[k * rank + d]!;
        if (at < 0 || at >= outShape[d]!) throw new Unmappable(`index ${at} is outside the output shape`);
        flat += at * strides[d]!;
      }
      (out.data as Float32Array)[flat] = values.rank === 0 ? vv[0]! : vv[k]!;
    }
    this.graph.setValue({ name: this.outName(0), dtype, shape: outShape, constant: out });
    this.bind(0, this.outName(0));
  }

  private mapNode(n: RawNode, inputs: string[], attrs: Attrs): void {
    const x = inputs[0]!;
    const dtype = (): DType => this.dtypeOf(x);
    const unary = (op: string, a: Record<string, AttrValue> = {}) => {
      if (!x) throw new Unmappable('needs an input');
      this.emitAs(op, [x], a, dtype());
    };
    const binary = (op: string, outDtype?: DType) => {
      if (inputs.length !== 2) throw new Unmappable(`needs 2 inputs, got ${inputs.length}`);
      this.emitAs(op, inputs, {}, outDtype ?? dtype());
    };
    switch (n.op) {
      case 'Const': {
        const w = this.weights.get(n.name);
        if (!w) throw formatError(this.source, `Const node ${n.name} has no weight of that name in the weightsManifest`, n.name);
        if ('unsupported' in w) throw new Unmappable(w.unsupported);
        this.graph.setValue({ name: n.name, dtype: w.tensor.dtype, shape: [...w.tensor.shape], constant: w.tensor });
        this.bind(0, n.name);
        return;
      }
      case 'Placeholder': {
        const dt = tfDtype(attrs.type('dtype'));
        if (!dt) throw new CloudlessError('E_UNSUPPORTED', `${this.source}: input ${n.name} has dtype ${attrs.type('dtype') ?? 'none'}, which cloudless does not support`, { file: this.source, node: n.name });
        this.graph.setValue({ name: n.name, dtype: dt, shape: attrs.shape('shape') });
        this.graph.inputs.push(n.name);
        this.bind(0, n.name);
        return;
      }
      case 'Identity': case 'StopGradient': case 'Snapshot': case 'PlaceholderWithDefault': case 'EnsureShape': case 'CheckNumerics':
        if (!x) throw new Unmappable('needs an input');
        this.bind(0, x);
        return;
      case 'IdentityN':
        inputs.forEach((v, k) => this.bind(k, v));
        return;
      case 'NoOp':
        return;

      case 'Conv2D': return this.mapConv(inputs, attrs, 'conv', false);
      case '_FusedConv2D': return this.mapConv(inputs, attrs, 'conv', true);
      case 'DepthwiseConv2dNative': return this.mapConv(inputs, attrs, 'depthwise', false);
      case 'FusedDepthwiseConv2dNative': return this.mapConv(inputs, attrs, 'depthwise', true);
      case 'Conv2DBackpropInput': {
        this.requireNHWC(attrs);
        const [outShape, w, dy] = inputs;
        if (!outShape || !w || !dy) throw new Unmappable('needs output shape, filter and input');
        const os = this.constInts(outShape, 'output_shape');
        if (os.length !== 4) throw new Unmappable('output_shape must have 4 values');
        const window = this.windowAttrs(attrs, true);
        this.emitAs('ConvTranspose', [dy, this.convWeight(w, 'transpose')], { ...window, output_shape: [os[1]!, os[2]!], group: 1, activation: 'none' }, this.dtypeOf(dy));
        return;
      }
      case 'MatMul': return this.mapMatMul(inputs, attrs, false, false);
      case '_FusedMatMul': return this.mapMatMul(inputs, attrs, true, false);
      case 'BatchMatMul': case 'BatchMatMulV2': return this.mapMatMul(inputs, attrs, false, true);
      case 'MaxPool': return this.mapPool('MaxPool', attrs, x);
      case 'AvgPool': return this.mapPool('AveragePool', attrs, x);
      case 'FusedBatchNorm': case 'FusedBatchNormV2': case 'FusedBatchNormV3': {
        this.requireNHWC(attrs);
        if (inputs.length < 5) throw new Unmappable('needs x, scale, offset, mean and variance');
        if (attrs.bool('is_training', false)) throw new Unmappable('training mode is not supported');
        this.emitAs('BatchNormalization', inputs.slice(0, 5), { epsilon: attrs.float('epsilon', 0.0001) }, dtype());
        return;
      }
      case 'DepthToSpace': case 'SpaceToDepth': {
        this.requireNHWC(attrs);
        const a: Record<string, AttrValue> = { blocksize: attrs.int('block_size', 2) };
        if (n.op === 'DepthToSpace') a.mode = 'DCR';
        return unary(n.op, a);
      }

      case 'Add': case 'AddV2': case 'BiasAdd':
        if (n.op === 'BiasAdd') this.requireNHWC(attrs);
        return binary('Add');
      case 'Sub': return binary('Sub');
      case 'Mul': return binary('Mul');
      case 'RealDiv': case 'Div': return binary('Div');
      case 'DivNoNan': throw new Unmappable('DivNoNan has no canonical op');
      case 'Maximum': return binary('Max');
      case 'Minimum': return binary('Min');
      case 'Pow': return binary('Pow');
      case 'Equal': return binary('Equal', 'bool');
      case 'Greater': return binary('Greater', 'bool');
      case 'GreaterEqual': return binary('GreaterOrEqual', 'bool');
      case 'Less': return binary('Less', 'bool');
      case 'LessEqual': return binary('LessOrEqual', 'bool');
      case 'LogicalAnd': return binary('And', 'bool');
      case 'LogicalOr': return binary('Or', 'bool');
      case 'NotEqual': {
        const [eq] = this.emit('Equal', inputs, {}, ['bool'], undefined, 'equal');
        return this.finish(this.emit('Not', [eq!], {}, ['bool'], undefined, 'Not')[0]!);
      }
      case 'SquaredDifference': {
        const [d] = this.emit('Sub', inputs, {}, [dtype()], undefined, 'diff');
        return this.finish(this.emit('Mul', [d!, d!], {}, [dtype()], undefined, 'square')[0]!);
      }
      case 'FloorDiv': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [a, b] = inputs as [string, string];
        const dt = dtype();
        if (dt === 'float32') {
          const [q] = this.emit('Div', [a, b], {}, [dt], undefined, 'div');
          return this.finish(this.emit('Floor', [q!], {}, [dt], undefined, 'floor')[0]!);
        }
        // Integer Div truncates toward zero; a - floormod(a, b) is an exact multiple of b, so dividing it floors.
        const [m] = this.emit('Mod', [a, b], { fmod: 0 }, [dt], undefined, 'mod');
        const [d] = this.emit('Sub', [a, m!], {}, [dt], undefined, 'sub');
        return this.finish(this.emit('Div', [d!, b], {}, [dt], undefined, 'div')[0]!);
      }
      case 'FloorMod': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [a, b] = inputs as [string, string];
        const dt = dtype();
        if (dt !== 'float32') return this.emitAs('Mod', [a, b], { fmod: 0 }, dt);
        // ONNX Mod on floats is only fmod (sign of the dividend); TF's FloorMod takes the divisor's sign.
        const [q] = this.emit('Div', [a, b], {}, [dt], undefined, 'div');
        const [f] = this.emit('Floor', [q!], {}, [dt], undefined, 'floor');
        const [p] = this.emit('Mul', [f!, b], {}, [dt], undefined, 'mul');
        return this.finish(this.emit('Sub', [a, p!], {}, [dt], undefined, 'sub')[0]!);
      }
      case 'AddN':
        return this.emitAs('Sum', inputs, {}, dtype());
      case 'Select': case 'SelectV2': {
        if (inputs.length !== 3) throw new Unmappable('needs 3 inputs');
        return this.emitAs('Where', inputs, {}, this.dtypeOf(inputs[1]!));
      }

      case 'Relu': return unary('Relu');
      case 'Relu6':
        return this.emitAs('Clip', [x, this.scalarConst(0, dtype()), this.scalarConst(6, dtype())], {}, dtype());
      case 'Elu': return unary('Elu');
      case 'Selu': return unary('Selu');
      case 'LeakyRelu': return unary('LeakyRelu', { alpha: attrs.float('alpha', 0.2) });
      case 'Prelu': return binary('PRelu');
      case 'Sigmoid': return unary('Sigmoid');
      case 'Tanh': return unary('Tanh');
      case 'Softplus': return unary('Softplus');
      case 'Softsign': return unary('Softsign');
      case 'Exp': return unary('Exp');
      case 'Log': return unary('Log');
      case 'Sqrt': return unary('Sqrt');
      case 'Abs': return unary('Abs');
      case 'Neg': return unary('Neg');
      case 'Floor': return unary('Floor');
      case 'Ceil': return unary('Ceil');
      case 'Round': return unary('Round');
      case 'Sign': return unary('Sign');
      case 'Erf': return unary('Erf');
      case 'Sin': return unary('Sin');
      case 'Cos': return unary('Cos');
      case 'Tan': return unary('Tan');
      case 'Asin': return unary('Asin');
      case 'Acos': return unary('Acos');
      case 'Atan': return unary('Atan');
      case 'Sinh': return unary('Sinh');
      case 'Cosh': return unary('Cosh');
      case 'Asinh': return unary('Asinh');
      case 'Acosh': return unary('Acosh');
      case 'Atanh': return unary('Atanh');
      case 'Reciprocal': case 'Inv': return unary('Reciprocal');
      case 'IsNan': return this.emitAs('IsNaN', [x], {}, 'bool');
      case 'LogicalNot': return unary('Not');
      case 'Rsqrt': {
        const [s] = this.emit('Sqrt', [x], {}, [dtype()], undefined, 'sqrt');
        return this.finish(this.emit('Reciprocal', [s!], {}, [dtype()], undefined, 'reciprocal')[0]!);
      }
      case 'Square': return this.emitAs('Mul', [x, x], {}, dtype());
      case 'Log1p': {
        const [s] = this.emit('Add', [x, this.scalarConst(1, dtype())], {}, [dtype()], undefined, 'add1');
        return this.finish(this.emit('Log', [s!], {}, [dtype()], undefined, 'log')[0]!);
      }
      case 'Expm1': {
        const [e] = this.emit('Exp', [x], {}, [dtype()], undefined, 'exp');
        return this.finish(this.emit('Sub', [e!, this.scalarConst(1, dtype())], {}, [dtype()], undefined, 'sub1')[0]!);
      }
      case 'ClipByValue':
        if (inputs.length !== 3) throw new Unmappable('needs 3 inputs');
        return this.emitAs('Clip', inputs, {}, dtype());
      case 'Softmax': return unary('Softmax', { axis: -1 });
      case 'LogSoftmax': return unary('LogSoftmax', { axis: -1 });

      case 'Mean': case 'Sum': case 'Max': case 'Min': case 'Prod': {
        if (inputs.length !== 2) throw new Unmappable('needs input and axes');
        const op = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax', Min: 'ReduceMin', Prod: 'ReduceProd' }[n.op]!;
        // TF reduces over nothing when the axes list is empty, which ONNX spells noop_with_empty_axes.
        return this.emitAs(op, [x, this.int64Input(inputs[1]!, true)], { keepdims: attrs.bool('keep_dims', false) ? 1 : 0, noop_with_empty_axes: 1 }, dtype());
      }
      case 'ArgMax': case 'ArgMin': {
        if (inputs.length !== 2) throw new Unmappable('needs input and dimension');
        const [axis] = this.constInts(inputs[1]!, 'dimension');
        const [i] = this.emit(n.op, [x], { axis: axis!, keepdims: 0 }, ['int64'], undefined, n.op);
        return this.finish(this.emit('Cast', [i!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'TopKV2': {
        if (inputs.length !== 2) throw new Unmappable('needs input and k');
        if (!attrs.bool('sorted', true)) throw new Unmappable('sorted=false is not supported');
        const [values, indices] = this.emit('TopK', [x, this.int64Input(inputs[1]!, true)], { axis: -1, largest: 1, sorted: 1 }, [dtype(), 'int64'],
          [this.outName(0), this.fresh(`${n.name}/indices_i64`)]);
        this.bind(0, values!);
        const [i32] = this.emit('Cast', [indices!], { to: 'int32' }, ['int32'], [this.outName(1)]);
        this.bind(1, i32!);
        return;
      }

      case 'Cast': {
        const to = tfDtype(attrs.type('DstT'));
        if (!to) throw new Unmappable(`cast to ${attrs.type('DstT') ?? 'nothing'} is not supported`);
        return this.emitAs('Cast', [x], { to }, to);
      }
      case 'ConcatV2': case 'Concat': {
        const axisFirst = n.op === 'Concat';
        const axisValue = axisFirst ? inputs[0] : inputs[inputs.length - 1];
        const data = axisFirst ? inputs.slice(1) : inputs.slice(0, -1);
        if (!axisValue || data.length === 0) throw new Unmappable('needs values and an axis');
        const [axis] = this.constInts(axisValue, 'axis');
        return this.emitAs('Concat', data, { axis: axis! }, this.dtypeOf(data[0]!));
      }
      case 'Pack': {
        const axis = attrs.int('axis', 0);
        const axes = this.addConst(`${n.name}/axis`, int64Tensor([axis]));
        const parts = inputs.map((v, k) => this.emit('Unsqueeze', [v, axes], {}, [this.dtypeOf(v)], undefined, `unsqueeze_${k}`)[0]!);
        return this.finish(this.emit('Concat', parts, { axis }, [dtype()], undefined, 'Concat')[0]!);
      }
      case 'Unpack': {
        const axis = attrs.int('axis', 0);
        const num = attrs.int('num', 0);
        if (num < 1) throw new Unmappable('num must be given');
        const parts = this.emit('Split', [x], { axis, num_outputs: num }, new Array<DType>(num).fill(dtype()), undefined, 'Split');
        const axes = this.addConst(`${n.name}/axis`, int64Tensor([axis]));
        parts.forEach((p, k) => {
          const [s] = this.emit('Squeeze', [p, axes], {}, [dtype()], [this.outName(k)]);
          this.bind(k, s!);
        });
        return;
      }
      case 'Split': case 'SplitV': {
        const num = attrs.int('num_split', 0);
        if (num < 1) throw new Unmappable('num_split must be given');
        const [data, dimValue, sizes] = n.op === 'Split' ? [inputs[1], inputs[0], undefined] : [inputs[0], inputs[2], inputs[1]];
        if (!data || !dimValue) throw new Unmappable('needs value and split_dim');
        const [axis] = this.constInts(dimValue, 'split_dim');
        const ins = [data];
        if (sizes) {
          const s = this.constInts(sizes, 'size_splits');
          if (s.includes(-1)) throw new Unmappable('a size_splits entry of -1 needs the input shape');
          ins.push(this.addConst(`${sizes}/i64`, int64Tensor(s)));
        }
        const outs = Array.from({ length: num }, (_, k) => this.outName(k));
        this.emit('Split', ins, sizes ? { axis: axis! } : { axis: axis!, num_outputs: num }, outs.map(() => this.dtypeOf(data)), outs);
        outs.forEach((o, k) => this.bind(k, o));
        return;
      }
      case 'Reshape':
        if (inputs.length !== 2) throw new Unmappable('needs tensor and shape');
        return this.emitAs('Reshape', [x, this.int64Input(inputs[1]!)], {}, dtype());
      case 'Squeeze': {
        const dims = attrs.ints('squeeze_dims').length > 0 ? attrs.ints('squeeze_dims') : attrs.ints('axis');
        return this.emitAs('Squeeze', dims.length > 0 ? [x, this.addConst(`${n.name}/axes`, int64Tensor(dims))] : [x], {}, dtype());
      }
      case 'ExpandDims':
        if (inputs.length !== 2) throw new Unmappable('needs input and dim');
        return this.emitAs('Unsqueeze', [x, this.int64Input(inputs[1]!, true)], {}, dtype());
      case 'Transpose': {
        if (inputs.length !== 2) throw new Unmappable('needs x and perm');
        return this.emitAs('Transpose', [x], { perm: this.constInts(inputs[1]!, 'perm') }, dtype());
      }
      case 'StridedSlice': return this.mapStridedSlice(inputs, attrs);
      case 'Slice': {
        const [, b, s] = inputs;
        if (!b || !s) throw new Unmappable('needs input, begin and size');
        const begin = this.constInts(b, 'begin');
        const size = this.constInts(s, 'size');
        const ends = begin.map((v, i) => (size[i] === -1 ? INT64_MAX : BigInt(v + size[i]!)));
        return this.emitAs('Slice', [x, this.addConst(`${b}/starts`, int64Tensor(begin)), this.addConst(`${s}/ends`, int64Tensor(ends))], {}, dtype());
      }
      case 'Pad': return this.mapPad(inputs, 'constant', false);
      case 'PadV2': return this.mapPad(inputs, 'constant', true);
      case 'MirrorPad': {
        const mode = attrs.string('mode', 'REFLECT');
        if (mode !== 'REFLECT') throw new Unmappable(`MirrorPad mode ${mode} has no canonical op (only REFLECT)`);
        return this.mapPad(inputs, 'reflect', false);
      }
      case 'ResizeBilinear': return this.mapResize(inputs, attrs, 'linear');
      case 'ResizeNearestNeighbor': return this.mapResize(inputs, attrs, 'nearest');
      case 'Shape': case 'Size': {
        const [s] = this.emit(n.op, [x], {}, ['int64'], undefined, n.op);
        return this.finish(this.emit('Cast', [s!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'Fill': case 'BroadcastTo': {
        if (inputs.length !== 2) throw new Unmappable('needs 2 inputs');
        const [value, shape] = n.op === 'Fill' ? [inputs[1]!, inputs[0]!] : [inputs[0]!, inputs[1]!];
        return this.emitAs('Expand', [value, this.int64Input(shape)], {}, this.dtypeOf(value));
      }
      case 'ZerosLike': case 'OnesLike': {
        const [s] = this.emit('Shape', [x], {}, ['int64'], undefined, 'Shape');
        return this.emitAs('Expand', [this.scalarConst(n.op === 'ZerosLike' ? 0 : 1, dtype()), s!], {}, dtype());
      }
      case 'Tile':
        if (inputs.length !== 2) throw new Unmappable('needs input and multiples');
        return this.emitAs('Tile', [x, this.int64Input(inputs[1]!)], {}, dtype());
      case 'Range':
        if (inputs.length !== 3) throw new Unmappable('needs start, limit and delta');
        return this.emitAs('Range', inputs, {}, dtype());
      case 'GatherV2': case 'Gather': {
        if (attrs.int('batch_dims', 0) !== 0) throw new Unmappable('batch_dims other than 0 is not supported');
        const [params, indices, axisValue] = inputs;
        if (!params || !indices) throw new Unmappable('needs params and indices');
        const axis = axisValue ? this.constInts(axisValue, 'axis')[0]! : 0;
        return this.emitAs('Gather', [params, indices], { axis }, this.dtypeOf(params));
      }
      case 'GatherNd':
        if (inputs.length !== 2) throw new Unmappable('needs params and indices');
        return this.emitAs('GatherND', [x, this.int64Input(inputs[1]!)], { batch_dims: 0 }, dtype());
      case 'Cumsum':
        if (inputs.length !== 2) throw new Unmappable('needs x and axis');
        return this.emitAs('CumSum', [x, this.int64Input(inputs[1]!)], { exclusive: attrs.bool('exclusive', false) ? 1 : 0, reverse: attrs.bool('reverse', false) ? 1 : 0 }, dtype());
      case 'Where': {
        if (inputs.length !== 1) throw new Unmappable('only the one-input form (coordinates of true values) is supported');
        const [nz] = this.emit('NonZero', [x], {}, ['int64'], undefined, 'NonZero');
        const [t] = this.emit('Transpose', [nz!], { perm: [1, 0] }, ['int64'], undefined, 'coords');
        return this.finish(this.emit('Cast', [t!], { to: 'int32' }, ['int32'], undefined, 'as_int32')[0]!);
      }
      case 'OneHot': {
        if (inputs.length !== 4) throw new Unmappable('needs indices, depth, on_value and off_value');
        const [indices, depth, on, off] = inputs as [string, string, string, string];
        const zero = this.addConst(`${n.name}/axis0`, int64Tensor([0]));
        const [offV] = this.emit('Unsqueeze', [off, zero], {}, [this.dtypeOf(off)], undefined, 'off');
        const [onV] = this.emit('Unsqueeze', [on, zero], {}, [this.dtypeOf(on)], undefined, 'on');
        const [vals] = this.emit('Concat', [offV!, onV!], { axis: 0 }, [this.dtypeOf(on)], undefined, 'values');
        return this.emitAs('OneHot', [indices, depth, vals!], { axis: attrs.int('axis', -1) }, this.dtypeOf(on));
      }
      case 'SparseToDense': return this.mapSparseToDense(inputs);
      default:
        throw new Unmappable(`TF op ${n.op} has no mapping onto the canonical op set`);
    }
  }
}


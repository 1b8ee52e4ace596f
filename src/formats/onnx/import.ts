/**
 * ONNX → cloudless IR. Decodes the protobuf (proto.ts), turns tensors into
 * `Tensor`s, declared types into `Value`s, Constant nodes and initializers into
 * constants, and hands every node to ops-map.ts, which rewrites it onto the
 * canonical op set (latest-opset form, channels-last for layout-sensitive ops).
 */
import {
  CloudlessError, Graph, Tensor, float16ToNumber, sizeOf, withContext,
  type AttrValue, type Dim, type Node, type Value, checkGraphInputDims } from '../../ir/index.js';
import {
  AttrType, decodeModel,
  type OnnxAttribute, type OnnxGraphProto, type OnnxSparseTensorProto, type OnnxTensorProto, type OnnxValueInfo,
} from './proto.js';
import { createMapContext, int64Const, mapOnnxNode } from './ops-map.js';
import { OnnxDataType, dtypeFromOnnx, onnxDataTypeName } from './dtypes.js';

export { OnnxDataType, dtypeFromOnnx, onnxDataTypeName };

/** Upper bound on the elements of one tensor: past it the dims are corrupt or the model is not for the edge. */
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

function tensorDims(tp: OnnxTensorProto, what: string, file: string): number[] {
  const dims = tp.dims.map((d) => {
    if (d < 0n || d > BigInt(MAX_TENSOR_ELEMENTS)) {
      throw new CloudlessError('E_FORMAT', `${file}: ${what} has invalid dimension ${d}`, { file });
    }
    return Number(d);
  });
  if (sizeOf(dims) > MAX_TENSOR_ELEMENTS) {
    throw new CloudlessError('E_FORMAT', `${file}: ${what} has ${sizeOf(dims)} elements, more than cloudless accepts`, { file });
  }
  return dims;
}

/** Converts a TensorProto into a Tensor; `what` names it in errors ("initializer conv1.weight"). */
export function tensorFromProto(tp: OnnxTensorProto, what: string, file: string): Tensor {
  if (tp.dataLocation === 1 || tp.externalData.length > 0) {
    throw new CloudlessError('E_UNSUPPORTED', `${file}: ${what} keeps its data in an external file, which cloudless does not read`, {
      file,
      hint: 'save the model with all tensors inside the .onnx file (onnx.save_model(model, path, save_as_external_data=False))',
    });
  }
  if (tp.hasSegment) {
    throw new CloudlessError('E_UNSUPPORTED', `${file}: ${what} is a segmented tensor, which cloudless does not support`, { file });
  }
  const dtype = dtypeFromOnnx(tp.dataType);
  if (!dtype) {
    throw new CloudlessError('E_UNSUPPORTED', `${file}: ${what} has element type ${onnxDataTypeName(tp.dataType)}, which cloudless does not support`, {
      file,
      hint: 'supported element types: FLOAT, FLOAT16 (widened to float32), DOUBLE, INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, BOOL',
    });
  }
  const dims = tensorDims(tp, what, file);
  const n = sizeOf(dims);
  const t = new Tensor(dtype, dims);
  const mismatch = (got: number, field: string) => new CloudlessError('E_FORMAT',
    `${file}: ${what} of shape [${dims.join(', ')}] needs ${n} elements, ${field} holds ${got}`, { file });

  if (tp.rawData !== undefined && (tp.rawData.length > 0 || n === 0)) {
    const raw = tp.rawData;
    const width = rawWidth(tp.dataType);
    if (raw.length !== n * width) throw mismatch(raw.length / width, 'raw_data');
    // raw_data may sit at any offset in the file: copy it to an aligned buffer before viewing it.
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    fillFromRaw(t, tp.dataType, view, n);
    return t;
  }
  const d = t.data;
  switch (tp.dataType) {
    case OnnxDataType.FLOAT:
      if (tp.floatData.length !== n) throw mismatch(tp.floatData.length, 'float_data');
      (d as Float32Array).set(tp.floatData);
      break;
    case OnnxDataType.DOUBLE:
      if (tp.doubleData.length !== n) throw mismatch(tp.doubleData.length, 'double_data');
      (d as Float64Array).set(tp.doubleData);
      break;
    case OnnxDataType.INT64:
      if (tp.int64Data.length !== n) throw mismatch(tp.int64Data.length, 'int64_data');
      (d as BigInt64Array).set(tp.int64Data);
      break;
    case OnnxDataType.UINT32:
      if (tp.uint64Data.length !== n) throw mismatch(tp.uint64Data.length, 'uint64_data');
      for (let i = 0; i < n; i++) (d as BigInt64Array)[i] = BigInt.asUintN(32, tp.uint64Data[i]!);
      break;
    case OnnxDataType.FLOAT16:
      if (tp.int32Data.length !== n) throw mismatch(tp.int32Data.length, 'int32_data');
      for (let i = 0; i < n; i++) (d as Float32Array)[i] = float16ToNumber(tp.int32Data[i]! & 0xffff);
      break;
    default: {
      // int8, uint8, int16, uint16, int32 and bool all travel in int32_data; the typed array wraps them to width.
      if (tp.int32Data.length !== n) throw mismatch(tp.int32Data.length, 'int32_data');
      const out = d as Exclude<typeof d, BigInt64Array>;
      if (tp.dataType === OnnxDataType.BOOL) for (let i = 0; i < n; i++) out[i] = tp.int32Data[i] ? 1 : 0;
      else if (tp.dataType === OnnxDataType.UINT16) for (let i = 0; i < n; i++) out[i] = tp.int32Data[i]! & 0xffff;
      else out.set(tp.int32Data);
    }
  }
  return t;
}

function rawWidth(dt: number): number {
  switch (dt) {
    case OnnxDataType.DOUBLE: case OnnxDataType.INT64: case OnnxDataType.UINT64: return 8;
    case OnnxDataType.FLOAT: case OnnxDataType.INT32: case OnnxDataType.UINT32: return 4;
    case OnnxDataType.FLOAT16: case OnnxDataType.INT16: case OnnxDataType.UINT16: return 2;
    default: return 1;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fillFromRaw(t: Tensor, dt: number, v: DataView, n: number): void {
  const d = t.data;
  // On a little-endian host, a raw_data of the tensor's own element type is its bytes: one copy.
  const same = (dt === OnnxDataType.FLOAT && d instanceof Float32Array) || (dt === OnnxDataType.DOUBLE && d instanceof Float64Array)
    || (dt === OnnxDataType.INT32 && d instanceof Int32Array) || (dt === OnnxDataType.INT64 && d instanceof BigInt64Array);
  if (LITTLE_ENDIAN && same) {
    const bytes = n * d.BYTES_PER_ELEMENT;
    new Uint8Array(d.buffer, d.byteOffset, bytes).set(new Uint8Array(v.buffer, v.byteOffset, bytes));
    return;
  }
  switch (dt) {
    case OnnxDataType.FLOAT: for (let i = 0; i < n; i++) (d as Float32Array)[i] = v.getFloat32(4 * i, true); break;
    case OnnxDataType.DOUBLE: for (let i = 0; i < n; i++) (d as Float64Array)[i] = v.getFloat64(8 * i, true); break;
    case OnnxDataType.FLOAT16: for (let i = 0; i < n; i++) (d as Float32Array)[i] = float16ToNumber(v.getUint16(2 * i, true)); break;
    case OnnxDataType.INT64: for (let i = 0; i < n; i++) (d as BigInt64Array)[i] = v.getBigInt64(8 * i, true); break;
    case OnnxDataType.UINT32: for (let i = 0; i < n; i++) (d as BigInt64Array)[i] = BigInt(v.getUint32(4 * i, true)); break;
    case OnnxDataType.INT32: for (let i = 0; i < n; i++) (d as Int32Array)[i] = v.getInt32(4 * i, true); break;
    case OnnxDataType.UINT16: for (let i = 0; i < n; i++) (d as Int32Array)[i] = v.getUint16(2 * i, true); break;
    case OnnxDataType.INT16: for (let i = 0; i < n; i++) (d as Int16Array)[i] = v.getInt16(2 * i, true); break;
    case OnnxDataType.INT8: for (let i = 0; i < n; i++) (d as Int8Array)[i] = v.getInt8(i); break;
    case OnnxDataType.BOOL: for (let i = 0; i < n; i++) (d as Uint8Array)[i] = v.getUint8(i) ? 1 : 0; break;
    default: for (let i = 0; i < n; i++) (d as Uint8Array)[i] = v.getUint8(i);
  }
}

/** Sparse tensors (COO) become dense constants: the runtime has no sparse kernels. */
function denseFromSparse(sp: OnnxSparseTensorProto, what: string, file: string): Tensor {
  if (!sp.values || !sp.indices) {
    throw new CloudlessError('E_FORMAT', `${file}: sparse ${what} lacks its values or indices`, { file });
  }
  const values = tensorFromProto(sp.values, `${what} (values)`, file);
  const indices = tensorFromProto(sp.indices, `${what} (indices)`, file);
  const dims = tensorDims({ ...sp.values, dims: sp.dims }, what, file);
  const out = new Tensor(values.dtype, dims);
  const nnz = values.size;
  const rank = dims.length;
  const linear = indices.rank === 1;
  if ((linear && indices.size !== nnz) || (!linear && (indices.rank !== 2 || indices.shape[0] !== nnz || indices.shape[1] !== rank))) {
    throw new CloudlessError('E_FORMAT', `${file}: sparse ${what}: indices of shape [${indices.shape.join(', ')}] do not fit ${nnz} values of rank ${rank}`, { file });
  }
  const idx = indices.toNumbers();
  for (let k = 0; k < nnz; k++) {
    let off = 0;
    if (linear) off = idx[k]!;
    else for (let a = 0; a < rank; a++) off = off * dims[a]! + idx[k * rank + a]!;
    if (!(off >= 0 && off < out.size)) {
      throw new CloudlessError('E_FORMAT', `${file}: sparse ${what}: index ${off} is outside the tensor`, { file });
    }
    (out.data as unknown as { [i: number]: number | bigint })[off] = values.data[k]!;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8');

interface ImportState {
  file: string;
  opsets: Record<string, number>;
  warnings: string[];
}

function attrValue(a: OnnxAttribute, node: string, st: ImportState, depth: number): AttrValue {
  const where = `node ${node}: attribute "${a.name}"`;
  let type = a.type;
  if (type === AttrType.UNDEFINED) {
    // IR version 1 files leave `type` out: tell it from the field that is set.
    if (a.f !== undefined) type = AttrType.FLOAT;
    else if (a.i !== undefined) type = AttrType.INT;
    else if (a.s !== undefined) type = AttrType.STRING;
    else if (a.t) type = AttrType.TENSOR;
    else if (a.g) type = AttrType.GRAPH;
    else if (a.floats.length) type = AttrType.FLOATS;
    else if (a.ints.length) type = AttrType.INTS;
    else if (a.strings.length) type = AttrType.STRINGS;
    else if (a.graphs.length) type = AttrType.GRAPHS;
    else if (a.sparseTensor) type = AttrType.SPARSE_TENSOR;
  }
  const missing = () => new CloudlessError('E_FORMAT', `${st.file}: ${where} declares type ${type} but holds no such value`, { file: st.file, node });
  switch (type) {
    case AttrType.FLOAT: if (a.f === undefined) throw missing(); return a.f;
    // int64 attributes become JS numbers: exactness past 2^53 only matters for INT64_MAX-like sentinels, which keep their sign and size.
    case AttrType.INT: if (a.i === undefined) throw missing(); return Number(a.i);
    case AttrType.STRING: if (a.s === undefined) throw missing(); return utf8.decode(a.s);
    case AttrType.TENSOR: if (!a.t) throw missing(); return tensorFromProto(a.t, `${where} (tensor)`, st.file);
    case AttrType.SPARSE_TENSOR: if (!a.sparseTensor) throw missing(); return denseFromSparse(a.sparseTensor, `${where} (sparse tensor)`, st.file);
    case AttrType.GRAPH: if (!a.g) throw missing(); return importGraph(a.g, st, depth + 1);
    case AttrType.FLOATS: return [...a.floats];
    case AttrType.INTS: return a.ints.map(Number);
    case AttrType.STRINGS: return a.strings.map((s) => utf8.decode(s));
    case AttrType.GRAPHS: return a.graphs.map((g) => importGraph(g, st, depth + 1));
    default:
      throw new CloudlessError('E_UNSUPPORTED', `${st.file}: ${where} has attribute type ${type}, which cloudless does not support`, { file: st.file, node });
  }
}

function declaredShape(vi: OnnxValueInfo): Dim[] | undefined {
  const shape = vi.type?.shape;
  if (!shape) return undefined;
  return shape.map((d) => (d.value !== undefined ? Number(d.value) : d.param !== undefined && d.param !== '' ? d.param : null));
}

/** The Value a declared graph input/output/value_info describes, or undefined when its type is not a tensor we know. */
function declaredValue(vi: OnnxValueInfo, role: string, st: ImportState, strict: boolean): Value | undefined {
  const t = vi.type;
  const refuse = (why: string, hint?: string) => {
    if (!strict) return undefined;
    throw new CloudlessError('E_UNSUPPORTED', `${st.file}: ${role} "${vi.name}" ${why}`, { file: st.file, hint });
  };
  if (!t || t.kind === 'unknown') return strict ? refuse('has no tensor type') : undefined;
  if (t.kind !== 'tensor') {
    return refuse(`is ${t.kind === 'optional' ? 'an' : 'a'} ${t.kind.replace('_', ' ')}, which cloudless does not support`, 'only dense tensors can be graph inputs and outputs');
  }
  const dtype = t.elemType === undefined ? undefined : dtypeFromOnnx(t.elemType);
  if (!dtype) return refuse(`has element type ${onnxDataTypeName(t.elemType ?? 0)}, which cloudless does not support`);
  if (t.elemType === OnnxDataType.FLOAT16 && strict) {
    st.warnings.push(`${role} "${vi.name}" is float16 in the model; cloudless takes and returns it as float32`);
  }
  const v: Value = { name: vi.name, dtype };
  const shape = declaredShape(vi);
  if (shape) v.shape = shape;
  return v;
}

function constantFromNode(node: Node, file: string): Tensor {
  const a = node.attrs;
  const given = Object.keys(a);
  if (given.length !== 1) {
    throw new CloudlessError('E_ATTR', `${file}: Constant node ${node.name} needs exactly one value attribute, got ${given.length ? given.join(', ') : 'none'}`, { file, node: node.name });
  }
  const key = given[0]!;
  const v = a[key]!;
  switch (key) {
    case 'value': case 'sparse_value':
      if (v instanceof Tensor) return v;
      break;
    case 'value_float': if (typeof v === 'number') return Tensor.scalar('float32', v); break;
    case 'value_floats': if (Array.isArray(v)) return Tensor.fromNumbers('float32', [v.length], v as number[]); break;
    case 'value_int': if (typeof v === 'number') return int64Const([v], []); break;
    case 'value_ints': if (Array.isArray(v)) return int64Const(v as number[]); break;
    case 'value_string': case 'value_strings':
      throw new CloudlessError('E_UNSUPPORTED', `${file}: Constant node ${node.name} holds strings, which cloudless does not support`, { file, node: node.name });
    default: break;
  }
  throw new CloudlessError('E_ATTR', `${file}: Constant node ${node.name}: attribute "${key}" is not a constant value`, { file, node: node.name });
}

function importGraph(gp: OnnxGraphProto, st: ImportState, depth: number): Graph {
  const graph = new Graph(gp.name || 'main', { format: 'onnx', source: st.file, opsets: st.opsets });
  const file = st.file;

  for (const tp of gp.initializers) {
    if (!tp.name) throw new CloudlessError('E_FORMAT', `${file}: graph ${graph.name} has an initializer without a name`, { file });
    const t = tensorFromProto(tp, `initializer "${tp.name}"`, file);
    graph.setValue({ name: tp.name, dtype: t.dtype, shape: [...t.shape], constant: t });
  }
  for (const sp of gp.sparseInitializers) {
    const name = sp.values?.name ?? '';
    if (!name) throw new CloudlessError('E_FORMAT', `${file}: graph ${graph.name} has a sparse initializer without a name`, { file });
    const t = denseFromSparse(sp, `sparse initializer "${name}"`, file);
    graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t });
  }
  // Subgraphs (If/Loop/Scan bodies) declare their inputs with partial types; only the top graph's are an interface.
  const strict = depth === 0;
  for (const vi of gp.inputs) {
    if (graph.values.get(vi.name)?.constant) continue;
    const v = declaredValue(vi, 'graph input', st, strict);
    if (v) graph.setValue(v);
    graph.inputs.push(vi.name);
  }
  for (const vi of gp.valueInfo) {
    if (graph.values.has(vi.name)) continue;
    const v = declaredValue(vi, 'value', st, false);
    if (v) graph.setValue(v);
  }
  // ZipMap's output is a sequence of maps; it loads as the plain probability tensor (ops-map.ts).
  const zipMapOutputs = new Set(gp.nodes.filter((n) => n.opType === 'ZipMap' && n.domain === 'ai.onnx.ml').flatMap((n) => n.outputs));
  for (const vi of gp.outputs) {
    if (zipMapOutputs.has(vi.name)) {
      graph.setValue({ name: vi.name, dtype: 'float32' });
      graph.outputs.push(vi.name);
      continue;
    }
    const known = graph.values.get(vi.name);
    const v = declaredValue(vi, 'graph output', st, strict && !known);
    if (v && !known?.constant) graph.setValue(v);
    graph.outputs.push(vi.name);
  }

  const consumers = new Set<string>(graph.outputs);
  const names = new Set<string>([...graph.values.keys(), ...graph.inputs, ...graph.outputs]);
  for (const np of gp.nodes) {
    for (const i of np.inputs) if (i) { consumers.add(i); names.add(i); }
    for (const o of np.outputs) if (o) names.add(o);
  }
  const ctx = createMapContext(graph, file, st.opsets[''] ?? 1, names, consumers);
  gp.nodes.forEach((np, index) => {
    const domain = np.domain === 'ai.onnx' ? '' : np.domain;
    const name = np.name || `${np.opType}_${index}`;
    const attrs: Record<string, AttrValue> = {};
    try {
      for (const a of np.attributes) {
        if (a.refAttrName !== undefined) continue;
        attrs[a.name] = attrValue(a, name, st, depth);
      }
    } catch (err) {
      throw withContext(err, `node ${name} (${np.opType})`, { file, node: name });
    }
    const node: Node = { name, op: domain ? `${domain}.${np.opType}` : np.opType, inputs: [...np.inputs], outputs: [...np.outputs], attrs };
    if (node.op === 'Constant' && node.outputs.length === 1) {
      const t = constantFromNode(node, file);
      graph.setValue({ name: node.outputs[0]!, dtype: t.dtype, shape: [...t.shape], constant: t });
      return;
    }
    try {
      mapOnnxNode(ctx, node);
    } catch (err) {
      if (err instanceof CloudlessError && err.node) throw err;
      throw withContext(err, `${file}: node ${name} (${np.opType})`, { file, node: name });
    }
  });
  if (depth === 0) {
    dropUnreadConstants(graph);
    graph.sortTopologically();
  }
  return graph;
}

/** Every value name a graph's nodes read, including from inside subgraphs (which may read outer values). */
function namesRead(graph: Graph, into: Set<string>): Set<string> {
  for (const n of graph.nodes) {
    for (const i of n.inputs) if (i) into.add(i);
    for (const a of Object.values(n.attrs)) {
      for (const sub of Array.isArray(a) ? a : [a]) if (sub instanceof Graph) { namesRead(sub, into); for (const o of sub.outputs) into.add(o); }
    }
  }
  return into;
}

/** Weights replaced by their channels-last copies (and initializers nothing reads) would only cost memory. */
function dropUnreadConstants(graph: Graph): void {
  const read = namesRead(graph, new Set(graph.outputs));
  for (const [name, v] of graph.values) if (v.constant && !read.has(name)) graph.values.delete(name);
}

/**
 * Reads an ONNX model into a cloudless Graph. `source` names the model in
 * errors. Throws E_FORMAT on corrupt bytes and E_UNSUPPORTED on features
 * cloudless refuses (external data, string tensors, sequence inputs).
 */
export function importOnnx(bytes: Uint8Array, source = 'ONNX model'): Graph {
  const model = decodeModel(bytes, source);
  if (!model.graph) {
    throw new CloudlessError('E_FORMAT', `${source}: the ONNX model has no graph`, { file: source, hint: 'is this an ONNX model file?' });
  }
  const opsets: Record<string, number> = {};
  for (const o of model.opsetImports) opsets[o.domain === 'ai.onnx' ? '' : o.domain] = Number(o.version);
  // IR version 2 and older models may omit opset_import; they mean opset 1.
  if (opsets[''] === undefined) opsets[''] = 1;
  const st: ImportState = { file: source, opsets, warnings: [] };
  const graph = importGraph(model.graph, st, 0);
  graph.meta.producer = model.producerName || undefined;
  graph.meta.irVersion = Number(model.irVersion);
  if (model.metadata.length) graph.meta.properties = Object.fromEntries(model.metadata.map((e) => [e.key, e.value]));
  if (model.functionCount > 0) st.warnings.push(`the model defines ${model.functionCount} local function(s); nodes that call them are kept as unknown ops`);
  if (st.warnings.length) graph.meta.warnings = st.warnings;
  checkGraphInputDims(graph, source);
  return graph;
}

/**
 * ONNX backend node tests as a conformance suite. Each test folder holds a
 * model.onnx (usually one node) and test_data_set_N with input_N.pb / output_N.pb. A test
 * passes when every output matches in dtype, shape and values within the
 * tolerance below; it is "unsupported" when cloudless refuses it at load with
 * E_UNSUPPORTED_OP / E_UNSUPPORTED / E_DTYPE (a clear, deliberate refusal); any
 * other error or a wrong value is a failure. Tests listed in exclusions.ts are
 * not run, each for the reason written next to it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { CloudlessError, Tensor } from '../../src/ir/index.js';
import { decodeModel, decodeTensor } from '../../src/formats/onnx/proto.js';
import { dtypeFromOnnx, importOnnx, onnxDataTypeName, tensorFromProto } from '../../src/formats/onnx/import.js';
import { optimizeLayout } from '../../src/passes/layout.js';
import { Session } from '../../src/runtime/session.js';
import { EXCLUDED } from './exclusions.js';
import { onnxNodeTestsDir, repoRoot } from '../helpers/data.js';

/** Tolerance, as the ONNX backend test runner uses by default for float outputs. */
export const RTOL = 1e-3;
export const ATOL = 1e-7;
/** float32 rounding of long reductions needs a little more absolute slack than 1e-7. */
const ATOL_FLOAT = 1e-5;

export type Status = 'pass' | 'fail' | 'unsupported' | 'excluded';

export interface TestResult {
  name: string;
  op: string;
  expanded: boolean;
  status: Status;
  detail?: string;
}


/** Where the node tests are: the project's data cache first, then a system-wide libonnx-testdata. */
export const nodeTestsDir = onnxNodeTestsDir;

function readTensorFile(file: string): { tensor?: Tensor; dataType: number } {
  const bytes = readFileSync(file);
  const tp = decodeTensor(protobuf.Reader.create(bytes));
  if (!dtypeFromOnnx(tp.dataType)) return { dataType: tp.dataType };
  return { tensor: tensorFromProto(tp, path.basename(file), file), dataType: tp.dataType };
}

/** The op a test exercises: the op_type of its (first) node. */
function opOf(bytes: Uint8Array, file: string): string {
  const m = decodeModel(bytes, file);
  const ops = [...new Set(m.graph?.nodes.map((n) => n.opType) ?? [])];
  return ops.length === 1 ? ops[0]! : (m.graph?.nodes[0]?.opType ?? '?');
}

function compare(name: string, got: Tensor, want: Tensor): string | undefined {
  if (got.dtype !== want.dtype) return `${name}: dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return `${name}: shape [${got.shape}], expected [${want.shape}]`;
  }
  const float = got.dtype === 'float32' || got.dtype === 'float64';
  const atol = got.dtype === 'float32' ? ATOL_FLOAT : ATOL;
  let bad = 0, first = -1, worst = 0;
  for (let i = 0; i < got.size; i++) {
    const a = got.data[i]!, b = want.data[i]!;
    if (!float) { if (a !== b) { bad++; if (first < 0) first = i; } continue; }
    const x = a as number, y = b as number;
    if (Number.isNaN(y) ? Number.isNaN(x) : x === y || Math.abs(x - y) <= atol + RTOL * Math.abs(y)) continue;
    bad++;
    if (first < 0) first = i;
    worst = Math.max(worst, Math.abs(x - y));
  }
  if (bad === 0) return undefined;
  return `${name}: ${bad}/${got.size} values differ (first at ${first}: ${String(got.data[first])} vs ${String(want.data[first])}${float ? `, worst ${worst.toExponential(2)}` : ''})`;
}

export function runNodeTest(dir: string): TestResult {
  const name = path.basename(dir);
  const expanded = name.includes('_expanded');
  const modelFile = path.join(dir, 'model.onnx');
  const bytes = readFileSync(modelFile);
  let op = '?';
  try { op = opOf(bytes, modelFile); } catch { /* reported by the import below */ }
  const excluded = EXCLUDED[name];
  if (excluded) return { name, op, expanded, status: 'excluded', detail: excluded };
  try {
    const graph = importOnnx(bytes, modelFile);
    optimizeLayout(graph);
    const session = new Session(graph, { backend: 'ref' });
    const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    for (const set of sets) {
      const setDir = path.join(dir, set);
      const files = readdirSync(setDir);
      const feeds: Record<string, Tensor> = {};
      const inputs = files.filter((f) => /^input_\d+\.pb$/.test(f)).sort((a, b) => num(a) - num(b));
      for (const f of inputs) {
        const { tensor, dataType } = readTensorFile(path.join(setDir, f));
        if (!tensor) return { name, op, expanded, status: 'unsupported', detail: `input dtype ${onnxDataTypeName(dataType)}` };
        const inputName = session.inputs[num(f)]?.name;
        if (!inputName) return { name, op, expanded, status: 'fail', detail: `test feeds ${f} but the model has ${session.inputs.length} inputs` };
        feeds[inputName] = tensor;
      }
      const out = session.runSync(feeds);
      const outputs = files.filter((f) => /^output_\d+\.pb$/.test(f)).sort((a, b) => num(a) - num(b));
      for (const f of outputs) {
        const { tensor: want, dataType } = readTensorFile(path.join(setDir, f));
        if (!want) return { name, op, expanded, status: 'unsupported', detail: `output dtype ${onnxDataTypeName(dataType)}` };
        const outName = session.outputs[num(f)]?.name;
        const got = outName === undefined ? undefined : out[outName];
        if (!got) return { name, op, expanded, status: 'fail', detail: `no output ${num(f)}` };
        const why = compare(outName!, got, want);
        if (why) return { name, op, expanded, status: 'fail', detail: `${set}: ${why}` };
      }
    }
    return { name, op, expanded, status: 'pass' };
  } catch (err) {
    if (err instanceof CloudlessError && (err.code === 'E_UNSUPPORTED_OP' || err.code === 'E_UNSUPPORTED' || err.code === 'E_DTYPE')) {
      return { name, op, expanded, status: 'unsupported', detail: err.message.split('\n')[0] };
    }
    const msg = err instanceof CloudlessError ? `${err.code}: ${err.message}` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { name, op, expanded, status: 'fail', detail: msg.split('\n')[0] };
  }
}

function num(file: string): number {
  return Number(/_(\d+)\.pb$/.exec(file)![1]);
}

export interface Summary {
  passed: number;
  failed: number;
  unsupported: number;
  excluded: number;
  total: number;
  /** Single-op tests only (names without `_expanded`). */
  singleOp: { passed: number; failed: number; unsupported: number; excluded: number; total: number };
  byOp: Record<string, { pass: number; fail: number; unsupported: number; excluded: number }>;
}

export function runAll(dir: string, filter?: RegExp, onResult?: (r: TestResult, i: number, n: number) => void): TestResult[] {
  const names = readdirSync(dir).filter((d) => d.startsWith('test_') && (!filter || filter.test(d))).sort();
  return names.map((n, i) => {
    const r = runNodeTest(path.join(dir, n));
    onResult?.(r, i, names.length);
    return r;
  });
}

export function summarize(results: readonly TestResult[]): Summary {
  const count = (rs: readonly TestResult[], s: Status) => rs.filter((r) => r.status === s).length;
  const single = results.filter((r) => !r.expanded);
  const byOp: Summary['byOp'] = {};
  for (const r of results) {
    const key = r.expanded ? `${r.op} (expanded)` : r.op;
    const e = (byOp[key] ??= { pass: 0, fail: 0, unsupported: 0, excluded: 0 });
    if (r.status === 'pass') e.pass++; else if (r.status === 'fail') e.fail++; else if (r.status === 'unsupported') e.unsupported++; else e.excluded++;
  }
  return {
    passed: count(results, 'pass'), failed: count(results, 'fail'), unsupported: count(results, 'unsupported'),
    excluded: count(results, 'excluded'), total: results.length,
    singleOp: { passed: count(single, 'pass'), failed: count(single, 'fail'), unsupported: count(single, 'unsupported'), excluded: count(single, 'excluded'), total: single.length },
    byOp: Object.fromEntries(Object.entries(byOp).sort((a, b) => a[0].localeCompare(b[0]))),
  };
}

export const PASSING_FILE = path.join(repoRoot, 'test/conformance/passing.txt');

export function readPassingList(): string[] {
  if (!existsSync(PASSING_FILE)) return [];
  return readFileSync(PASSING_FILE, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

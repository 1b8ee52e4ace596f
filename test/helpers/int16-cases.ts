/**
 * Single-op 16x8 graphs for the int16 oracle tests: int16 activations
 * (symmetric, zero point 0, one scale), int8 weights, int64 biases. A case is
 * written by our .tflite writer and run in LiteRT.js (builtin kernels: XNNPACK
 * takes no int16) and in cloudless on the reference kernels in both int8
 * arithmetics; `compareWithLiteRt` returns both sides for the test to assert.
 */
import { Graph, Tensor, perTensorQuant, type AttrValue, type DType, type Int8Arithmetic, type QuantParams } from '../../src/ir/index.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Session, type BackendChoice } from '../../src/runtime/session.js';
import { runLiteRt } from './litert.js';

export { lcg } from './int8-cases.js';

/** Symmetric int16 quantization with one scale (TFLite's 16x8 activations). */
export function int16Quant(scale: number): QuantParams {
  return perTensorQuant(Math.fround(scale), 0);
}

/** int16 data: uniform over [lo, hi] from `r`. */
export function int16Data(n: number, r: () => number, lo = -32768, hi = 32767): Int16Array {
  return Int16Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}

export class Int16Case {
  readonly graph: Graph;
  readonly feeds: Record<string, Tensor> = {};
  constructor(readonly name: string) { this.graph = new Graph(name, { format: 'cloudless' }); }

  /** A graph input holding `t` (its dtype, shape and quantization). */
  input(name: string, t: Tensor): string {
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], quant: t.quant });
    this.graph.inputs.push(name);
    this.feeds[name] = t;
    return name;
  }

  constant(name: string, t: Tensor): string {
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t, quant: t.quant });
    return name;
  }

  /** The one node, writing graph output `y` of `dtype` (int16 by default) with `quant`. */
  node(op: string, inputs: string[], quant: QuantParams | undefined, attrs: Record<string, AttrValue> = {}, dtype: DType = 'int16'): this {
    this.graph.setValue({ name: 'y', dtype, quant });
    this.graph.addNode({ name: `${op.toLowerCase()}_0`, op, inputs, outputs: ['y'], attrs });
    this.graph.outputs = ['y'];
    return this;
  }
}

/**
 * The output of `c` in cloudless (`backend`, `arithmetic`), copied out of the
 * session. With the default backend 'ref' it also runs backend 'auto' (the
 * 16x8 WebAssembly kernels where they exist) and throws unless its bytes are
 * the same, so every oracle comparison covers both.
 */
export function runOurs(c: Int16Case, arithmetic: Int8Arithmetic = 'tflite-xnnpack', backend: BackendChoice = 'ref'): Tensor {
  const run = (b: BackendChoice): Tensor => {
    const y = new Session(c.graph, { backend: b, int8Arithmetic: arithmetic }).runSync(c.feeds)[c.graph.outputs[0]!]!;
    return new Tensor(y.dtype, [...y.shape], y.data.slice() as never, y.quant);
  };
  const y = run(backend);
  if (backend === 'ref') {
    const auto = run('auto');
    const a = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength), b = new Uint8Array(auto.data.buffer, auto.data.byteOffset, auto.data.byteLength);
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error(`${c.name} (${arithmetic}): backend auto differs from ref`);
  }
  return y;
}

/** The output of `c` in LiteRT.js, from the bytes our writer makes of it. */
export async function runLiteRtCase(c: Int16Case): Promise<Tensor> {
  const [y] = await runLiteRt(writeTflite(c.graph), c.graph.inputs.map((n) => c.feeds[n]!));
  return y!;
}

/** The first few indices where a and b differ, for a readable failure. */
export function firstDiffs(want: ArrayLike<number | bigint>, got: ArrayLike<number | bigint>): string {
  const d: string[] = [];
  if (want.length !== got.length) d.push(`lengths ${want.length} vs ${got.length}`);
  for (let i = 0; i < Math.min(want.length, got.length) && d.length < 5; i++) if (want[i] !== got[i]) d.push(`[${i}] litert ${want[i]} cloudless ${got[i]}`);
  return d.join(', ');
}

/** Cases and outputs compared, per op or key: the counts an oracle test prints at the end. */
export class Tally {
  private readonly rows = new Map<string, { cases: number; outputs: number }>();

  count(key: string, outputs: number): void {
    const t = this.rows.get(key) ?? { cases: 0, outputs: 0 };
    t.cases++;
    t.outputs += outputs;
    this.rows.set(key, t);
  }

  /** `title`, then one indented line per key. */
  report(title: string): string {
    return `${title}:\n  ${[...this.rows].map(([k, t]) => `${k}: ${t.cases} cases, ${t.outputs} outputs`).join('\n  ')}`;
  }
}

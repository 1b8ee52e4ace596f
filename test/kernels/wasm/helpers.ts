/**
 * Runs one node through a given kernel, or through the first fitting kernel of
 * a backend in the default registry, so a wasm kernel can be compared with its
 * reference kernel on the same node, inputs and output quantization.
 */
import fc from 'fast-check';
import { getSchema, Tensor, type Int8Arithmetic, type KernelDef, type Node, type QuantParams, type ValueInfo } from '../../../src/ir/index.js';
import { setMinParallelWork } from '../../../src/kernels/wasm/threads.js';
import { defaultRegistry } from '../../../src/runtime/builtins.js';

export interface NodeRun {
  op: string;
  inputs: (Tensor | undefined)[];
  attrs?: Node['attrs'];
  outQuant?: QuantParams;
  arithmetic?: Int8Arithmetic;
  /** Inputs seen as computed by the graph (not constant) in prepare(). */
  dynamic?: number[];
  /** Threads of the wasm pool (default CLOUDLESS_TEST_THREADS, else 1). */
  threads?: number;
}

/**
 * CLOUDLESS_TEST_THREADS=2 runs every wasm kernel test on the thread pool,
 * with even the smallest ops split (their bits must not change).
 */
const TEST_THREADS = Number(process.env.CLOUDLESS_TEST_THREADS ?? 1);
if (TEST_THREADS > 1) setMinParallelWork(0);

export function makeNode(r: NodeRun): Node {
  return { name: `${r.op}_test`, op: r.op, inputs: r.inputs.map((t, i) => (t ? `in${i}` : '')), outputs: ['out0'], attrs: r.attrs ?? {} };
}

function infosOf(r: NodeRun): (ValueInfo | undefined)[] {
  return r.inputs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant } : undefined));
}

/** The output info the schema infers, with the requested quantization. */
export function outputInfo(r: NodeRun): ValueInfo {
  const node = makeNode(r);
  const out = getSchema(r.op)!.infer({ node, inputs: infosOf(r), value: (i) => r.inputs[i]!, hasValue: (i) => r.inputs[i] !== undefined })[0]!;
  return r.outQuant ? { ...out, quant: r.outQuant } : out;
}

/** check() result of a kernel for this node. */
export function checkWith(kernel: KernelDef, r: NodeRun): string | undefined {
  return kernel.check?.(makeNode(r), infosOf(r), [outputInfo(r)]);
}

export function runWith(kernel: KernelDef, r: NodeRun): Tensor {
  const node = makeNode(r);
  const infos = infosOf(r);
  const out = outputInfo(r);
  const why = kernel.check?.(node, infos, [out]);
  if (why) throw new Error(`${kernel.backend} ${r.op} refused: ${why}`);
  const ctx = { int8Arithmetic: r.arithmetic ?? 'tflite-xnnpack', threads: r.threads ?? TEST_THREADS } as const;
  const prepared = kernel.prepare?.({
    node, outputs: [out], ctx,
    inputs: infos.map((inf, i) => (inf ? { ...inf, constant: r.dynamic?.includes(i) ? undefined : r.inputs[i] } : undefined)),
  });
  const y = new Tensor(out.dtype, out.shape, undefined, out.quant);
  kernel.run(r.inputs, [y], node, prepared?.state, ctx);
  return y;
}

/** The reference kernel the registry picks for this node. */
export function refKernel(r: NodeRun): KernelDef {
  const found = defaultRegistry.find(['ref'], makeNode(r), infosOf(r), [outputInfo(r)]);
  if (!('kernel' in found)) throw new Error(`no ref kernel: ${found.reasons.join('; ')}`);
  return found.kernel;
}

export function wasmKernel(kernels: readonly KernelDef[], r: NodeRun): KernelDef {
  const k = kernels.find((d) => d.op === r.op && d.dtypes.includes(r.inputs[0]!.dtype));
  if (!k) throw new Error(`no wasm kernel for ${r.op}`);
  return k;
}

/** Reproducible data inside fast-check properties (the seed comes from fast-check). */
export { seededRandom as seeded } from '../../../src/bench/model-builders.js';

export function randomF32(shape: number[], rand: () => number, scale = 1): Tensor {
  const t = new Tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = (rand() * 2 - 1) * scale;
  return t;
}

export function absTensor(t: Tensor | undefined): Tensor | undefined {
  if (!t) return undefined;
  const d = Float32Array.from(t.data as Float32Array, Math.abs);
  return new Tensor('float32', t.shape, d);
}

/** The fused activations conv and pool kernels take. */
export const ACTIVATIONS = ['none', 'relu', 'relu6', 'relu_n1_to_1'] as const;

/** Window parameters for one spatial axis with at least one output. */
const windowAxis = fc.record({
  size: fc.integer({ min: 1, max: 9 }),
  k: fc.integer({ min: 1, max: 4 }),
  s: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 2 }),
  pb: fc.integer({ min: 0, max: 2 }),
  pe: fc.integer({ min: 0, max: 2 }),
}).filter((a) => a.size + a.pb + a.pe >= (a.k - 1) * a.d + 1 && a.pb < (a.k - 1) * a.d + 1 && a.pe < (a.k - 1) * a.d + 1);

interface WindowAxis { size: number; k: number; s: number; d: number; pb: number; pe: number }

/**
 * The fields of a 1-D or 2-D window case (batch, both axes, fused activation,
 * bias); a test adds its own before `seed`: fc.record({ ...windowFields, seed: fc.integer() }).
 */
export const windowFields = {
  batch: fc.integer({ min: 1, max: 2 }),
  h: windowAxis, w: windowAxis,
  oneD: fc.boolean(),
  activation: fc.constantFrom(...ACTIVATIONS),
  bias: fc.boolean(),
};

export interface WindowCase { oneD: boolean; h: WindowAxis; w: WindowAxis; activation: string }

export function windowAttrs(c: WindowCase): Node['attrs'] {
  const ax = c.oneD ? [c.w] : [c.h, c.w];
  return { strides: ax.map((a) => a.s), dilations: ax.map((a) => a.d), pads: [...ax.map((a) => a.pb), ...ax.map((a) => a.pe)], activation: c.activation };
}

export const spatial = (c: WindowCase) => (c.oneD ? [c.w.size] : [c.h.size, c.w.size]);
export const kernel = (c: WindowCase) => (c.oneD ? [c.w.k] : [c.h.k, c.w.k]);

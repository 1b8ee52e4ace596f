/**
 * Reference kernels of the tensor-manipulation ops. Each output is its own
 * arena slot, so even the ops that only change a shape (Reshape, Squeeze,
 * Unsqueeze, Flatten, Identity, Dropout) copy their data. Kernels take every
 * dtype — int64 as BigInt64Array and bool as Uint8Array move like any other
 * element. Shapes come from the schemas' inference; kernels read parameters
 * from the output shapes where they can, so they agree with the plan.
 */
import {
  CloudlessError, DTYPES, attrInt, sameQuant, broadcastStrides, defineKernel, sizeOf, stridesOf,
  type KernelDef, type Node, type Tensor,
} from '../../ir/index.js';
import { resolveAxis, resolveSlice, shapeRange } from '../../ir/ops/shape-ops.js';
import { gatherScatterKernels } from './gather-scatter.js';
import { generateKernels } from './generate.js';
import { transposeKernel } from './transpose.js';
import { copyElements, elements, planStrided, runStrided, type StridedPlan } from './strided-copy.js';

const concat = defineKernel({
  op: 'Concat',
  backend: 'ref',
  dtypes: DTYPES,
  check(_node, inputs, outputs) {
    // Moving bytes is only right when every input shares the output's quantization.
    const differs = inputs.findIndex((v) => !sameQuant(v?.quant, outputs[0]?.quant));
    return differs >= 0 ? `input ${differs} is quantized differently from the output (requantizing Concat is not implemented)` : undefined;
  },
  run(inputs, outputs, node) {
    const out = outputs[0]!;
    const axis = resolveAxis(node, attrInt(node, 'axis'), out.rank);
    const outer = sizeOf(out.shape.slice(0, axis));
    const outChunk = sizeOf(out.shape.slice(axis));
    const dst = elements(out);
    let offset = 0;
    for (const x of inputs) {
      const chunk = sizeOf(x!.shape.slice(axis));
      const src = elements(x!);
      for (let o = 0; o < outer; o++) copyElements(dst, o * outChunk + offset, src, o * chunk, chunk);
      offset += chunk;
    }
  },
});

const split = defineKernel({
  op: 'Split',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const x = inputs[0]!;
    const axis = resolveAxis(node, attrInt(node, 'axis', 0), x.rank);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inChunk = sizeOf(x.shape.slice(axis));
    const src = elements(x);
    let offset = 0;
    for (const out of outputs) {
      const chunk = sizeOf(out.shape.slice(axis));
      const dst = elements(out);
      for (let o = 0; o < outer; o++) copyElements(dst, o * chunk, src, o * inChunk + offset, chunk);
      offset += chunk;
    }
  },
});

function slicePlan(node: Node, shape: readonly number[], params: (Tensor | undefined)[]): StridedPlan {
  const [starts, ends, axes, steps] = params.map((t) => t?.toNumbers());
  const p = resolveSlice(node, shape, starts!, ends!, axes, steps);
  const strides = stridesOf(shape);
  const offset = p.starts.reduce((acc, s, k) => acc + s * strides[k]!, 0);
  return planStrided(p.shape, strides.map((s, k) => s * p.steps[k]!), offset);
}

const slice = defineKernel<StridedPlan | undefined>({
  op: 'Slice',
  backend: 'ref',
  dtypes: DTYPES,
  prepare({ node, inputs }) {
    // With constant starts/ends/axes/steps (the usual case) the plan is made once;
    // otherwise run() makes it from the values it is given.
    const params = inputs.slice(1, 5);
    const known = params.every((v) => !v || v.constant);
    return { state: known ? slicePlan(node, inputs[0]!.shape, params.map((v) => v?.constant)) : undefined };
  },
  run(inputs, outputs, node, state) {
    const x = inputs[0]!;
    runStrided(elements(outputs[0]!), 0, elements(x), state ?? slicePlan(node, x.shape, inputs.slice(1, 5)));
  },
});

/** Ops whose output holds the input's elements in the same order. */
function copyKernel(op: string): KernelDef {
  return defineKernel({
    op,
    backend: 'ref',
    dtypes: DTYPES,
    run(inputs, outputs) {
      const x = inputs[0]!;
      copyElements(elements(outputs[0]!), 0, elements(x), 0, x.size);
    },
  });
}

const dropout = defineKernel({
  op: 'Dropout',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs) {
    const x = inputs[0]!;
    copyElements(elements(outputs[0]!), 0, elements(x), 0, x.size);
    // In inference nothing is dropped: the mask keeps every element.
    if (outputs[1]) (outputs[1].data as Uint8Array).fill(1);
  },
});

/** Tile is Expand of the input seen as [1, d0, 1, d1, …] to [r0, d0, r1, d1, …]. */
const tile = defineKernel<StridedPlan>({
  op: 'Tile',
  backend: 'ref',
  dtypes: DTYPES,
  prepare({ inputs, outputs }) {
    const inShape = inputs[0]!.shape, outShape = outputs[0]!.shape;
    const strides = stridesOf(inShape);
    const shape: number[] = [], steps: number[] = [];
    inShape.forEach((d, k) => {
      shape.push(d === 0 ? 0 : outShape[k]! / d, d);
      steps.push(0, strides[k]!);
    });
    return { state: planStrided(shape, steps) };
  },
  run(inputs, outputs, _node, plan) {
    runStrided(elements(outputs[0]!), 0, elements(inputs[0]!), plan);
  },
});

const expand = defineKernel<StridedPlan>({
  op: 'Expand',
  backend: 'ref',
  dtypes: DTYPES,
  prepare({ inputs, outputs }) {
    const outShape = outputs[0]!.shape;
    return { state: planStrided(outShape, broadcastStrides(inputs[0]!.shape, outShape)) };
  },
  run(inputs, outputs, _node, plan) {
    runStrided(elements(outputs[0]!), 0, elements(inputs[0]!), plan);
  },
});

const shape = defineKernel({
  op: 'Shape',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const x = inputs[0]!;
    const [start, end] = shapeRange(node, x.rank);
    const dst = outputs[0]!.data as BigInt64Array;
    for (let k = start; k < end; k++) dst[k - start] = BigInt(x.shape[k]!);
  },
});

const size = defineKernel({
  op: 'Size',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs) {
    (outputs[0]!.data as BigInt64Array)[0] = BigInt(inputs[0]!.size);
  },
});

const reverseSequence = defineKernel({
  op: 'ReverseSequence',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const x = inputs[0]!, lens = inputs[1]!;
    const timeAxis = attrInt(node, 'time_axis', 0);
    const batchAxis = 1 - timeAxis;
    const steps = x.shape[timeAxis]!, batch = x.shape[batchAxis]!;
    const inner = sizeOf(x.shape.slice(2));
    // Offset of (time t, batch b) in elements, whichever of the two leading axes is time.
    const at = (t: number, b: number) => (timeAxis === 0 ? t * batch + b : b * steps + t) * inner;
    const src = elements(x), dst = elements(outputs[0]!);
    for (let b = 0; b < batch; b++) {
      const len = Number(lens.data[b]!);
      if (!(len >= 0 && len <= steps)) {
        throw new CloudlessError('E_INPUT', `node ${node.name} (ReverseSequence): sequence_lens[${b}] = ${len} is outside [0, ${steps}]`, { node: node.name });
      }
      for (let t = 0; t < steps; t++) copyElements(dst, at(t, b), src, at(t < len ? len - 1 - t : t, b), inner);
    }
  },
});

export const shapeOpKernels: readonly KernelDef[] = [
  concat, split, slice, transposeKernel, tile, expand, dropout, shape, size, reverseSequence,
  ...['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity'].map(copyKernel),
  ...gatherScatterKernels,
  ...generateKernels,
];

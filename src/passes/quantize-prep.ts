/**
 * Rewrites a float graph into the shape TFLite's int8 scheme wants, before
 * calibration (so that the ranges observed are those of the values the int8
 * graph will hold). None of these rewrites changes a float result:
 *
 *  - Gemm and MatMul with a constant 2-D weight become FullyConnected, the op
 *    with per-output-channel int8 weights and an int32 bias;
 *  - BatchNormalization after a conv or fully connected layer is folded into
 *    its weights (fold-batchnorm.ts);
 *  - Relu, and Clip to [0, 6] or [−1, 1], after a conv, fully connected or
 *    pool layer become that layer's fused `activation` (fuse-activation.ts): in
 *    int8 the clamp is part of the requantization and costs nothing, and the
 *    output range then starts at the clamp, which buys resolution.
 * readModel() already applies the last two; a Gemm turned into FullyConnected
 * here can then take the Relu that follows it.
 */
import { Tensor, attrFloat, attrInt, type Graph } from '../ir/index.js';
import { dropUnusedConstants, foldBatchNorm } from './fold-batchnorm.js';
import { fuseActivations } from './fuse-activation.js';

export interface PrepareReport {
  batchNormsFolded: number;
  activationsFused: number;
  fullyConnected: number;
}

/** Applies the three rewrites in the order that lets each enable the next. */
export function prepareForQuantization(graph: Graph): PrepareReport {
  const fullyConnected = gemmToFullyConnected(graph);
  const batchNormsFolded = foldBatchNorm(graph);
  const activationsFused = fuseActivations(graph);
  return { batchNormsFolded, activationsFused, fullyConnected };
}

function constantOf(graph: Graph, name: string | undefined): Tensor | undefined {
  return name ? graph.values.get(name)?.constant : undefined;
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return new Tensor('float32', [c, r], out);
}

/**
 * Gemm(A, B, C) with alpha = beta = 1, no transA and a constant B, and MatMul(A, B)
 * with a constant 2-D B, become FullyConnected(A, W = B as [O, K], bias). Returns
 * how many were rewritten.
 */
export function gemmToFullyConnected(graph: Graph): number {
  let count = 0;
  for (const node of graph.nodes) {
    if (node.op !== 'Gemm' && node.op !== 'MatMul') continue;
    const b = constantOf(graph, node.inputs[1]);
    if (!b || b.dtype !== 'float32' || b.rank !== 2) continue;
    // Importers need not declare intermediate values; a declared A must be a float activation.
    const a = graph.values.get(node.inputs[0]!);
    if (a && (a.dtype !== 'float32' || a.constant)) continue;
    let weight: Tensor, bias: Tensor | undefined;
    if (node.op === 'Gemm') {
      if (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1) continue;
      weight = attrInt(node, 'transB', 0) !== 0 ? b : transpose2d(b);
      if (node.inputs[2]) {
        const c = constantOf(graph, node.inputs[2]);
        if (!c || c.dtype !== 'float32' || c.size !== weight.shape[0] || c.shape[c.rank - 1] !== c.size) continue;
        const beta = attrFloat(node, 'beta', 1);
        const d = new Float32Array(c.size);
        for (let i = 0; i < d.length; i++) d[i] = (c.data[i]! as number) * beta;
        bias = new Tensor('float32', [c.size], d);
      }
    } else {
      weight = transpose2d(b);
    }
    const wName = graph.uniqueName(`${node.name}/fc_weight`);
    graph.setValue({ name: wName, dtype: 'float32', shape: [...weight.shape], constant: weight });
    const inputs = [node.inputs[0]!, wName];
    if (bias) {
      const bName = graph.uniqueName(`${node.name}/fc_bias`);
      graph.setValue({ name: bName, dtype: 'float32', shape: [...bias.shape], constant: bias });
      inputs.push(bName);
    }
    node.attrs = node.op === 'MatMul' ? { keep_num_dims: 1 } : {};
    node.op = 'FullyConnected';
    node.inputs = inputs;
    count++;
  }
  if (count) dropUnusedConstants(graph);
  return count;
}

/**
 * Folds an inference BatchNormalization into the convolution or fully
 * connected layer in front of it:
 *
 *   y = γ · (conv(x) − μ) / √(σ² + ε) + β
 *     = conv'(x)   with  W'[c] = W[c] · k[c],  b'[c] = (b[c] − μ[c]) · k[c] + β[c],  k = γ / √(σ² + ε)
 *
 * k is applied along the output-channel axis of the weight (outputChannelAxis:
 * axis 0 of Conv's OHWI and FullyConnected's [O, K], the last axis of
 * DepthwiseConv's 1HWO and of a one-group ConvTranspose's IHWO). The
 * fold matters for int8: the quantizer needs one weighted op per channel scale,
 * and a separate per-channel affine op would need its own requantization.
 *
 * A BatchNormalization folds only when its producer has no fused activation
 * (the affine map comes after the clamp otherwise), every operand is a
 * constant, and nothing else reads the producer's output. New weight and bias
 * constants are added under new names, so a weight shared with another node is
 * left untouched.
 */
import { Tensor, attrInt, attrString, type Graph, type Node } from '../ir/index.js';
import { epsilonOf } from '../ir/ops/nn.js';

/**
 * The output-channel axis of a weighted layer's weight, where per-channel
 * scales and biases fold in: axis 0 of Conv's OHWI and FullyConnected's
 * [O, K], the last axis of DepthwiseConv's 1HWO and of ConvTranspose's IHWO
 * (one group only: with more, that axis is the channel within the group).
 * Undefined for other ops.
 */
export function outputChannelAxis(layer: Node, weight: Tensor): number | undefined {
  if (layer.op === 'Conv' || layer.op === 'FullyConnected') return 0;
  if (layer.op === 'DepthwiseConv') return weight.rank - 1;
  if (layer.op === 'ConvTranspose' && attrInt(layer, 'group', 1) === 1) return weight.rank - 1;
  return undefined;
}

/** Maps a flat index of `w` to its index along `axis` (a weight's output-channel axis, for per-channel rewrites). */
export function channelAxisIndexer(w: Tensor, axis: number): (i: number) => number {
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = w.shape[axis]!;
  return (i) => Math.floor(i / inner) % channels;
}

/** Returns the number of BatchNormalization nodes folded. */
export function foldBatchNorm(graph: Graph): number {
  const producers = graph.producers();
  const consumers = graph.consumers();
  const removed = new Set<Node>();
  for (const bn of graph.nodes) {
    if (bn.op !== 'BatchNormalization' || bn.outputs.filter(Boolean).length !== 1) continue;
    const x = bn.inputs[0]!;
    const layer = producers.get(x);
    if (!layer || removed.has(layer)) continue;
    if (attrString(layer, 'activation', 'none') !== 'none') continue;
    if ((consumers.get(x) ?? []).length !== 1 || graph.outputs.includes(x)) continue;
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => (bn.inputs[i] ? graph.values.get(bn.inputs[i]!)?.constant : undefined));
    const weight = graph.values.get(layer.inputs[1] ?? '')?.constant;
    const bias = layer.inputs[2] ? graph.values.get(layer.inputs[2])?.constant : undefined;
    if (!gamma || !beta || !mean || !variance || !weight || weight.dtype !== 'float32') continue;
    if ([gamma, beta, mean, variance].some((p) => p.dtype !== 'float32')) continue;
    if (layer.inputs[2] && (!bias || bias.dtype !== 'float32')) continue;
    const axis = outputChannelAxis(layer, weight);
    if (axis === undefined) continue;
    const channels = weight.shape[axis]!;
    if ([gamma, beta, mean, variance].some((p) => p.size !== channels) || (bias && bias.size !== channels)) continue;

    const eps = epsilonOf(bn);
    const k = new Float64Array(channels);
    for (let c = 0; c < channels; c++) k[c] = (gamma.data[c] as number) / Math.sqrt((variance.data[c] as number) + eps);
    const channelOf = channelAxisIndexer(weight, axis);
    const folded = Float32Array.from(weight.data as Float32Array, (v, i) => v * k[channelOf(i)]!);
    const b = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const b0 = bias ? (bias.data[c] as number) : 0;
      b[c] = (b0 - (mean.data[c] as number)) * k[c]! + (beta.data[c] as number);
    }
    const wName = graph.uniqueName(`${layer.inputs[1]}/bn_folded`);
    graph.setValue({ name: wName, dtype: 'float32', shape: [...weight.shape], constant: new Tensor('float32', weight.shape, folded) });
    const bName = graph.uniqueName(`${layer.name}/bias_bn_folded`);
    graph.setValue({ name: bName, dtype: 'float32', shape: [channels], constant: new Tensor('float32', [channels], b) });
    layer.inputs = [layer.inputs[0]!, wName, bName];
    layer.outputs = [bn.outputs[0]!];
    graph.values.delete(x);
    removed.add(bn);
  }
  if (removed.size) {
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    dropUnusedConstants(graph);
  }
  return removed.size;
}

/** Removes constants that no node reads and that are not graph outputs. */
export function dropUnusedConstants(graph: Graph): void {
  const used = new Set<string>(graph.outputs);
  for (const n of graph.nodes) for (const i of n.inputs) if (i) used.add(i);
  for (const [name, v] of graph.values) if (v.constant && !used.has(name)) graph.values.delete(name);
}

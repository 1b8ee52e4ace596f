/**
 * Fuses a clamp-like activation into the float layer that feeds it:
 *
 *   Conv | DepthwiseConv | ConvTranspose | FullyConnected | MaxPool | AveragePool
 *     →  Relu | Clip(0, 6) | Clip(-1, 1) | Clip(0, ∞)
 *
 * becomes one node whose `activation` attribute is `relu`, `relu6` or
 * `relu_n1_to_1`. Every kernel of these ops clamps its output in the same
 * pass that writes it, so the fused graph saves one full read and write of
 * the tensor and one arena buffer per activation (a third of the time of
 * MobileNet-v2 on the wasm backend was spent in separate Clip nodes).
 *
 * A pair fuses only when
 * 1. the layer has no activation yet and its output is float (for int8 the
 *    attribute clamps in the quantized domain of the layer's output, which is
 *    the same only when the activation's input and output share quantization;
 *    the TFLite importer already fuses those, so int8 is left alone here);
 * 2. the activation is the only reader of the layer's output, which is not a
 *    graph output;
 * 3. Clip's bounds are constants equal to one of the three ranges (an absent
 *    max is +∞, so Clip(0) is a Relu).
 *
 * Add is not a candidate: the float reference Add ignores `activation` (only
 * the int8 kernels read it on elementwise ops), so fusing would change results.
 *
 * `optimizeForInference` runs BatchNormalization folding first (a folded
 * Conv + BN + Relu then fuses into one node).
 */
import { attrString, isFloat, type Graph, type Node } from '../ir/index.js';
import type { FusedActivation } from '../ir/ops/nn.js';
import { opsWith } from '../ir/ops/traits.js';
import { dropUnusedConstants, } from './fold-batchnorm.js';

const LAYERS = opsWith((t) => t.fusedActivation);

/** The fused activation equivalent to `act`, or undefined when there is none. */
export function fusedActivationOf(graph: Graph, act: Node): FusedActivation | undefined {
  if (act.op === 'Relu') return 'relu';
  if (act.op !== 'Clip') return undefined;
  const bound = (i: number, absent: number): number | undefined => {
    const name = act.inputs[i];
    if (!name) return absent;
    const t = graph.values.get(name)?.constant;
    if (!t || t.size !== 1 || !isFloat(t.dtype)) return undefined;
    return t.data[0] as number;
  };
  const lo = bound(1, -Infinity), hi = bound(2, Infinity);
  if (lo === 0 && hi === Infinity) return 'relu';
  if (lo === 0 && hi === 6) return 'relu6';
  if (lo === -1 && hi === 1) return 'relu_n1_to_1';
  return undefined;
}

/**
 * Whether the layer computes in float. Importers need not declare
 * intermediate values, so the weight's dtype (always declared: it is a
 * constant) and then X's stand in for an undeclared output.
 */
function isFloatLayer(graph: Graph, output: string, layer: Node): boolean {
  for (const name of [output, layer.inputs[1], layer.inputs[0]]) {
    const v = name ? graph.values.get(name) : undefined;
    if (v) return isFloat(v.dtype);
  }
  return false;
}

/** Fuses activations into their producers in place; returns the number of activation nodes removed. */
export function fuseActivations(graph: Graph): number {
  const producers = graph.producers();
  const consumers = graph.consumers();
  const removed = new Set<Node>();
  for (const act of graph.nodes) {
    const x = act.inputs[0];
    const y = act.outputs[0];
    if (!x || !y || act.outputs.length !== 1) continue;
    const activation = fusedActivationOf(graph, act);
    if (!activation) continue;
    const layer = producers.get(x);
    if (!layer || !LAYERS.has(layer.op) || layer.outputs.length !== 1) continue;
    if (attrString(layer, 'activation', 'none') !== 'none') continue;
    if (!isFloatLayer(graph, x, layer)) continue;
    if ((consumers.get(x) ?? []).length !== 1 || graph.outputs.includes(x)) continue;
    // A copy: importers may share one attrs object between nodes.
    layer.attrs = { ...layer.attrs, activation };
    layer.outputs = [y];
    graph.values.delete(x);
    removed.add(act);
  }
  if (removed.size) {
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    dropUnusedConstants(graph);
  }
  return removed.size;
}


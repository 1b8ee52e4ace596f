/**
 * Cutting a graph down to the outputs a task reads, and declaring the outputs
 * an importer left undeclared. Used before quantization (quantize/workflow.ts)
 * to drop a post-processing tail.
 */
import { CloudlessError, staticInfos, type Graph, type Node, type Value } from '../ir/index.js';

/**
 * Keeps only the named graph outputs and the nodes they depend on. A model's
 * post-processing tail (CenterNet's TopK over the heatmap, say) is often what a
 * task decodes itself, computes nothing worth quantizing, and has ops the
 * TFLite writer cannot express; dropping it before quantization leaves the
 * part of the model that carries the weights. Returns how many nodes went.
 */
export function keepOutputs(graph: Graph, outputs: readonly string[]): number {
  graph.sortTopologically();
  const producers = graph.producers();
  for (const o of outputs) {
    if (!producers.has(o) && !graph.inputs.includes(o) && !graph.values.get(o)?.constant) {
      throw new CloudlessError('E_CONFIG', `${graph.meta.source ?? graph.name}: no value "${o}" to keep as an output`, {
        hint: `the graph's outputs are ${graph.outputs.join(', ')}`,
      });
    }
  }
  const needed = new Set<string>(outputs);
  const kept = new Set<Node>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => o && needed.has(o))) continue;
    kept.add(n);
    for (const x of n.inputs) if (x) needed.add(x);
  }
  const before = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => kept.has(n));
  graph.outputs = [...outputs];
  for (const name of [...graph.values.keys()]) if (!needed.has(name) && !graph.inputs.includes(name)) graph.values.delete(name);
  declareOutputs(graph);
  return before - graph.nodes.length;
}

/**
 * Declares the graph outputs an importer left undeclared (ONNX files often
 * describe only their own inputs and outputs): dtype and shape where the
 * schemas infer them from static shapes (staticInfos), else the dtype of the
 * nearest declared value up the producers' first inputs.
 */
function declareOutputs(graph: Graph): void {
  if (graph.outputs.every((o) => graph.values.has(o))) return;
  const infos = staticInfos(graph);
  const producers = graph.producers();
  const dtypeOf = (v: string): Value['dtype'] | undefined => graph.values.get(v)?.dtype ?? infos.get(v)?.dtype
    ?? (producers.get(v)?.inputs[0] ? dtypeOf(producers.get(v)!.inputs[0]!) : undefined);
  for (const o of graph.outputs) {
    if (graph.values.has(o)) continue;
    const info = infos.get(o);
    const dtype = info?.dtype ?? dtypeOf(o);
    if (dtype) graph.setValue({ name: o, dtype, ...(info ? { shape: [...info.shape] } : {}) });
  }
}

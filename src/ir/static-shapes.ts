import { CloudlessError } from './errors.js';
import type { Graph, Node } from './graph.js';
import { getSchema } from './ops/index.js';
import { NeedsValueError, type OpSchema, type ValueInfo } from './schema.js';
import { shapeToString, type Tensor } from './tensor.js';

/**
 * Output infos of a node whose input values are known only where they are
 * constants (what writers of static-shape formats have): `constantOf(name)`
 * gives a constant's tensor; a shape that needs any other value throws
 * NeedsValueError.
 */
export function inferFromConstants(schema: OpSchema, node: Node, inputs: (ValueInfo | undefined)[], constantOf: (name: string) => Tensor | undefined): ValueInfo[] {
  return schema.infer({
    node,
    inputs,
    value: (i) => {
      const c = constantOf(node.inputs[i] ?? '');
      if (!c) throw new NeedsValueError(i, node);
      return c;
    },
    hasValue: (i) => constantOf(node.inputs[i] ?? '') !== undefined,
  });
}

/**
 * dtype, shape and quantization of a graph's constants and inputs, for writers
 * of formats with static shapes: `inputShapes` gives shapes the graph leaves
 * symbolic; a shape still unknown is an E_SHAPE error naming the input, the
 * target (`needs`: what needs static shapes) and the option to pass (`hint`).
 */
export function staticSeedInfos(graph: Graph, inputShapes: Record<string, number[]> | undefined, needs: string, hint: string): Map<string, ValueInfo> {
  const infos = new Map<string, ValueInfo>();
  for (const v of graph.values.values()) {
    if (v.constant) infos.set(v.name, { dtype: v.dtype, shape: [...v.constant.shape], quant: v.quant ?? v.constant.quant });
  }
  for (const name of graph.inputs) {
    const v = graph.value(name);
    const shape = inputShapes?.[name] ?? v.shape;
    if (!shape || shape.some((d) => typeof d !== 'number' || d < 0)) {
      throw new CloudlessError('E_SHAPE', `graph ${graph.name}: input "${name}" has shape ${shape ? shapeToString(shape) : 'unknown'}; ${needs} needs static shapes`, { hint });
    }
    infos.set(name, { dtype: v.dtype, shape: shape as number[], quant: v.quant });
  }
  return infos;
}

/**
 * dtypes and shapes of the values that follow from a graph's constants and
 * fixed input shapes, by the op schemas. A value whose shape depends on what
 * is not known (a symbolic input dimension, the content of a non-constant
 * input, an op without a schema) is left out.
 */
export function staticInfos(graph: Graph): Map<string, ValueInfo> {
  const infos = new Map<string, ValueInfo>();
  for (const [name, v] of graph.values) {
    if (v.constant) infos.set(name, { dtype: v.constant.dtype, shape: [...v.constant.shape] });
  }
  for (const name of graph.inputs) {
    const v = graph.values.get(name);
    if (v?.shape && v.shape.every((d): d is number => typeof d === 'number' && d >= 0)) infos.set(name, { dtype: v.dtype, shape: [...v.shape] });
  }
  for (const node of graph.nodes) {
    const schema = getSchema(node.op);
    const inputs = node.inputs.map((n) => (n ? infos.get(n) : undefined));
    if (!schema || node.inputs.some((n, i) => n && !inputs[i])) continue;
    try {
      const outs = inferFromConstants(schema, node, inputs, (n) => graph.values.get(n)?.constant);
      outs.forEach((o, i) => { if (node.outputs[i]) infos.set(node.outputs[i]!, o); });
    } catch {
      // Unknown here (a value needed at run time, or an error the planner will report with its context).
    }
  }
  return infos;
}

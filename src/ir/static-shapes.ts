import { CloudlessError, withContext } from './errors.js';
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

/** Why static inference could not give a node's outputs. */
export type StaticUnknown =
  | { kind: 'no-schema' }
  | { kind: 'missing-input'; input: string }
  | { kind: 'error'; error: unknown };

export interface StaticInfoOptions {
  /**
   * Shapes for graph inputs the graph leaves symbolic. With `require`, every
   * graph input must end with a static shape; without it an input whose shape
   * stays unknown is left out, with what follows from it.
   */
  inputShapes?: Record<string, number[]>;
  /**
   * For writers of static-shape formats: what needs the static shapes (e.g.
   * "a .tflite file") and the hint to give (the option to pass). A graph input
   * without a static shape is then an E_SHAPE error.
   */
  require?: { needs: string; hint: string };
  /** An info for a value inference did not reach (e.g. the shape a TFLite import declared). */
  declared?: (name: string) => ValueInfo | undefined;
  /**
   * Where a node's outputs do not follow: the infos to use instead, undefined to
   * leave them out (the default), or a throw.
   */
  onUnknown?: (node: Node, why: StaticUnknown) => ValueInfo[] | undefined;
}

/**
 * dtypes, shapes and quantization of the values that follow from a graph's
 * constants and static input shapes, by the op schemas: the one static shape
 * inference of the writers (ONNX export, .tflite) and of the passes that need
 * shapes before planning (QDQ fold, keepOutputs). The seed is the constants and
 * the graph inputs (with `inputShapes`); each node's outputs then follow in
 * order, a value's own quantization winning over the one its schema infers.
 */
export function staticInfos(graph: Graph, options: StaticInfoOptions = {}): Map<string, ValueInfo> {
  const infos = new Map<string, ValueInfo>();
  for (const [name, v] of graph.values) {
    if (v.constant) infos.set(name, { dtype: v.dtype, shape: [...v.constant.shape], quant: v.quant ?? v.constant.quant });
  }
  for (const name of graph.inputs) {
    const v = graph.values.get(name);
    const shape = options.inputShapes?.[name] ?? v?.shape;
    if (v && shape && shape.every((d): d is number => typeof d === 'number' && d >= 0)) {
      infos.set(name, { dtype: v.dtype, shape: [...shape], quant: v.quant });
    } else if (options.require) {
      throw new CloudlessError('E_SHAPE', `graph ${graph.name}: input "${name}" has shape ${shape ? shapeToString(shape) : 'unknown'}; ${options.require.needs} needs static shapes`, { hint: options.require.hint });
    }
  }
  const known = (name: string): ValueInfo | undefined => {
    const info = infos.get(name) ?? options.declared?.(name);
    if (info) infos.set(name, info);
    return info;
  };
  const constantOf = (name: string) => (name ? graph.values.get(name)?.constant : undefined);
  for (const node of graph.nodes) {
    let outs: ValueInfo[] | undefined;
    const schema = getSchema(node.op);
    const missing = schema ? node.inputs.find((n) => n && !known(n)) : undefined;
    if (!schema) outs = options.onUnknown?.(node, { kind: 'no-schema' });
    else if (missing) outs = options.onUnknown?.(node, { kind: 'missing-input', input: missing });
    else {
      try {
        outs = inferFromConstants(schema, node, node.inputs.map((n) => (n ? infos.get(n) : undefined)), constantOf);
      } catch (error) {
        outs = options.onUnknown?.(node, { kind: 'error', error });
      }
    }
    outs?.forEach((o, i) => {
      const name = node.outputs[i];
      if (name) infos.set(name, { ...o, quant: graph.values.get(name)?.quant ?? o.quant });
    });
  }
  return infos;
}

/**
 * The error a writer of a static-shape format (`needs`: e.g. "a .tflite file")
 * gives for a node whose output shapes did not follow: E_UNSUPPORTED when they
 * depend on a value computed at run time or the op has no schema, E_SHAPE for
 * an input of unknown shape, else the schema's own error with the graph named.
 */
export function staticShapeError(graph: Graph, node: Node, why: StaticUnknown, needs: string): CloudlessError {
  const where = `graph ${graph.name}: node ${node.name} (${node.op})`;
  if (why.kind === 'no-schema') return new CloudlessError('E_UNSUPPORTED', `${where} has no op schema; ${needs} needs static shapes`, { node: node.name });
  if (why.kind === 'missing-input') {
    return new CloudlessError('E_SHAPE', `graph ${graph.name}: the shape of "${why.input}" is unknown; ${needs} needs static shapes`, { node: node.name });
  }
  if (why.error instanceof NeedsValueError) {
    return new CloudlessError('E_UNSUPPORTED', `${where}: its output shape depends on "${node.inputs[why.error.inputIndex]}", which is computed at run time; ${needs} needs static shapes`, {
      node: node.name, hint: 'fold the graph first (plan it with a Session) so that shape computations become constants',
    });
  }
  return withContext(why.error, `graph ${graph.name}`, { node: node.name });
}

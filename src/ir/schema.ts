import { CloudlessError } from './errors.js';
import type { DType } from './dtype.js';
import type { Graph, Node } from './graph.js';
import { shapeToString, type QuantParams, type Tensor } from './tensor.js';
import type { GraphPlanner } from './kernel.js';
import type { OpTraits } from './ops/traits.js';

/** What is known of a value while a graph is planned: always dtype and a concrete shape. */
export interface ValueInfo {
  dtype: DType;
  shape: number[];
  quant?: QuantParams;
}

/**
 * Thrown by shape inference when an output shape depends on the content of an
 * input that is not known at plan time (e.g. Reshape's target shape fed as a
 * graph input). The planner then treats the graph inputs it derives from as
 * shape inputs: their values become part of the plan key.
 */
export class NeedsValueError extends Error {
  constructor(readonly inputIndex: number, readonly node: Node) {
    super(`node ${node.name} (${node.op}) needs the value of input ${inputIndex} to infer its output shape`);
  }
}

export interface InferContext {
  node: Node;
  /** Inputs in order; undefined where an optional input is absent (empty name) or beyond node.inputs. */
  inputs: (ValueInfo | undefined)[];
  /** The content of input i when known at plan time; throws NeedsValueError otherwise. */
  value(i: number): Tensor;
  /** Whether input i's content is known at plan time. */
  hasValue(i: number): boolean;
  /** The runtime's planner, for ops whose shapes come from planning their bodies (If/Loop/Scan). */
  planner?: GraphPlanner;
}

export interface OpSchema {
  op: string;
  /** Allowed number of inputs (inclusive; optional trailing inputs may be absent or ''). */
  inputs: readonly [number, number];
  /** Allowed number of outputs (inclusive). */
  outputs: readonly [number, number];
  /** Output dtypes and shapes from the inputs. Throws CloudlessError E_SHAPE/E_ATTR on nonsense. */
  infer(ctx: InferContext): ValueInfo[];
  /** Facts the planner, passes, quantizer and writers read (src/ir/ops/traits.ts, the one table of them). */
  traits?: OpTraits;
}

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

const schemas = new Map<string, OpSchema>();

export function registerSchema(schema: OpSchema): void {
  if (schemas.has(schema.op)) {
    throw new CloudlessError('E_INTERNAL', `op schema ${schema.op} is registered twice`);
  }
  schemas.set(schema.op, schema);
}

export function registerSchemas(list: readonly OpSchema[]): void {
  for (const s of list) registerSchema(s);
}

export function getSchema(op: string): OpSchema | undefined {
  return schemas.get(op);
}

export function listSchemas(): string[] {
  return [...schemas.keys()].sort();
}

/** Input i's info, or an E_SHAPE error naming the node when it is absent. */
export function requireInput(ctx: InferContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) {
    throw new CloudlessError('E_GRAPH', `node ${ctx.node.name} (${ctx.node.op}): input ${i} is required`, { node: ctx.node.name });
  }
  return v;
}

/** An E_SHAPE error naming the node. */
export function shapeError(node: Node, message: string): CloudlessError {
  return new CloudlessError('E_SHAPE', `node ${node.name} (${node.op}): ${message}`, { node: node.name });
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

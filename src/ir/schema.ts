import { CloudlessError } from './errors.js';
import type { DType } from './dtype.js';
import type { Node } from './graph.js';
import type { QuantParams, Tensor } from './tensor.js';
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

import {
  CloudlessError, Tensor, getSchema, NeedsValueError,
  type Backend, type GraphPlanner, type KernelContext, type KernelRegistry, type Node, type ValueInfo,
} from '../ir/index.js';
import { defaultRegistry } from './builtins.js';
import { bodyPlanner } from './plan.js';

export const defaultKernelContext: KernelContext = { int8Arithmetic: 'tflite-xnnpack' };

export interface EvalNodeOptions {
  /** Where the kernel comes from: the planner folds with its session's registry (default: defaultRegistry). */
  registry?: KernelRegistry;
  backends?: Backend[];
  ctx?: KernelContext;
  outputQuant?: (Tensor['quant'])[];
  /** For If/Loop/Scan: plans their bodies (default: one over `registry`, `backends` and `ctx`). */
  planner?: GraphPlanner;
}

/**
 * Runs one node eagerly on concrete tensors: infers output shapes with the op's
 * schema, allocates the outputs and runs the first fitting kernel of the
 * registry given. Used for constant folding at plan time and by kernel tests;
 * sessions use planned arenas.
 */
export function evalNode(node: Node, inputs: (Tensor | undefined)[], options: EvalNodeOptions = {}): Tensor[] {
  const schema = getSchema(node.op);
  if (!schema) {
    throw new CloudlessError('E_UNSUPPORTED_OP', `node ${node.name}: op ${node.op} is not supported`, { node: node.name });
  }
  const registry = options.registry ?? defaultRegistry;
  const backends = options.backends ?? ['ref'];
  const ctx = options.ctx ?? defaultKernelContext;
  const planner = options.planner ?? bodyPlanner({ registry, backends, ctx });
  const infos: (ValueInfo | undefined)[] = inputs.map((t) => (t ? { dtype: t.dtype, shape: [...t.shape], quant: t.quant } : undefined));
  const inferred = schema.infer({
    node,
    inputs: infos,
    value(i) {
      const t = inputs[i];
      if (!t) throw new NeedsValueError(i, node);
      return t;
    },
    hasValue: (i) => inputs[i] !== undefined,
    planner,
  });
  const outInfos = inferred.map((o, i) => {
    const q = options.outputQuant?.[i];
    return q ? { ...o, quant: q } : o;
  });
  const found = registry.find(backends, node, infos, outInfos);
  if (!('kernel' in found)) {
    throw new CloudlessError('E_UNSUPPORTED_OP', `node ${node.name} (${node.op}): ${found.reasons.join('; ')}`, { node: node.name });
  }
  const kernel = found.kernel;
  const outputs = outInfos.map((o) => new Tensor(o.dtype, o.shape, undefined, o.quant));
  const prepared = kernel.prepare?.({
    node,
    inputs: infos.map((info, i) => (info ? { ...info, constant: inputs[i] } : undefined)),
    outputs: outInfos,
    ctx,
    planner,
  });
  kernel.run(inputs, outputs, node, prepared?.state, ctx);
  return outputs;
}

/** Convenience for tests: one op with attributes on tensors. */
export function runOp(op: string, inputs: (Tensor | undefined)[], attrs: Node['attrs'] = {}, outputCount = 1, backends: Backend[] = ['ref']): Tensor[] {
  const node: Node = {
    name: `${op}_test`,
    op,
    inputs: inputs.map((t, i) => (t ? `in${i}` : '')),
    outputs: Array.from({ length: outputCount }, (_, i) => `out${i}`),
    attrs,
  };
  return evalNode(node, inputs, { backends });
}

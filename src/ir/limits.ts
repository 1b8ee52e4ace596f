/**
 * Resource limits: how big a tensor, and how big the planned memory, a model
 * may ask for. A 100-byte file can declare (or compute, with Expand or
 * Reshape of constants) a tensor of billions of elements; the planner checks
 * every shape it computes against these limits before anything of that size
 * is allocated, and refuses with E_LIMIT naming the node and the size.
 *
 * Defaults: `load()` in Node derives them from the machine (see
 * machineLimits in runtime/load.ts); a Session made directly, or in a
 * browser, uses DEFAULT_LIMITS.
 */
import { CloudlessError } from './errors.js';
import type { Graph } from './graph.js';

export interface ResourceLimits {
  /** Most elements one tensor (input, intermediate, folded constant) may hold. */
  maxTensorElements: number;
  /** Most bytes the activation arena, one tensor, or all constants folded at plan time may take. */
  maxArenaBytes: number;
}

/** Largest single dimension a graph input may declare: the typed-array index range. */
export const MAX_DIM = 2 ** 31 - 1;

export const DEFAULT_LIMITS: ResourceLimits = { maxTensorElements: 2 ** 28, maxArenaBytes: 2 ** 31 };

/**
 * The limits a Session uses when none are given: DEFAULT_LIMITS, unless the
 * environment (where there is one) sets CLOUDLESS_MAX_ARENA_MB or
 * CLOUDLESS_MAX_TENSOR_ELEMENTS, which the CLI's --max-arena-mb and
 * --max-tensor-elements do.
 */
export function envLimits(base: ResourceLimits = DEFAULT_LIMITS): ResourceLimits {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  const mb = Number(env['CLOUDLESS_MAX_ARENA_MB']);
  const el = Number(env['CLOUDLESS_MAX_TENSOR_ELEMENTS']);
  return {
    maxArenaBytes: mb > 0 ? Math.floor(mb * 2 ** 20) : base.maxArenaBytes,
    maxTensorElements: el > 0 ? Math.floor(el) : base.maxTensorElements,
  };
}

const fmtBytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} B`);

/** Elements of a shape, as a float (exact below 2^53, and never overflows into a wrong small number). */
export function elementsOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Refuses a tensor whose shape has a negative or non-integer dimension, or
 * whose size is over the limits. `what` names it ("node X (Expand): output
 * y"), so the error points at the cause.
 */
export function checkTensorSize(shape: readonly number[], bytesPerElement: number, what: string, limits: ResourceLimits, node?: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new CloudlessError('E_SHAPE', `${what}: shape [${shape.join(', ')}] has the dimension ${d}`, { node });
    }
  }
  const elements = elementsOf(shape);
  const bytes = elements * bytesPerElement;
  if (elements > limits.maxTensorElements || bytes > limits.maxArenaBytes) {
    throw new CloudlessError('E_LIMIT',
      `${what}: shape [${shape.join(', ')}] is ${elements.toExponential(3)} elements (${fmtBytes(bytes)}), over the limit of ${limits.maxTensorElements} elements / ${fmtBytes(limits.maxArenaBytes)}`, {
        node, hint: 'a model that needs this much is refused before any allocation; raise the limit with maxTensorElements / maxArenaBytes (CLI: --max-tensor-elements, --max-arena-mb) if it is genuine',
      });
  }
}

/**
 * Checks the dimensions a model declares for its graph inputs: each numeric
 * dimension must be an integer from 0 to MAX_DIM (a negative one is refused,
 * not taken as "any size": importers turn their own "unknown" markers into
 * symbolic dims before this). Every importer calls it.
 */
export function checkGraphInputDims(graph: Graph, file: string): void {
  for (const name of graph.inputs) {
    const v = graph.values.get(name);
    if (!v?.shape) continue;
    for (const d of v.shape) {
      if (typeof d !== 'number') continue;
      if (!Number.isInteger(d) || d < 0 || d > MAX_DIM) {
        throw new CloudlessError('E_SHAPE', `${file}: graph input "${name}" declares the dimension ${d} in [${v.shape.join(', ')}]; dimensions must be whole numbers from 0 to ${MAX_DIM}`, {
          file, hint: 'the model file is malformed or hostile',
        });
      }
    }
  }
}

import type { DType } from './dtype.js';
import type { Graph, Node } from './graph.js';
import type { ValueInfo } from './schema.js';
import type { Tensor } from './tensor.js';

export type Backend = 'ref' | 'wasm';

/** The two int8 arithmetics cloudless matches bit for bit (see INT8.md / docs/int8.md). */
export type Int8Arithmetic = 'tflite-xnnpack' | 'tflite-reference';

export interface KernelContext {
  int8Arithmetic: Int8Arithmetic;
  /**
   * Threads a kernel may split its work over (the session's `threads`
   * option; default 1). Backends without a thread pool ignore it, and the
   * results are the same bits whatever it is.
   */
  threads?: number;
}

/** A value as a kernel's prepare step sees it: its info, and its content when constant. */
export interface PlannedValue extends ValueInfo {
  constant?: Tensor;
}

export interface PrepareArgs {
  node: Node;
  inputs: (PlannedValue | undefined)[];
  outputs: ValueInfo[];
  ctx: KernelContext;
  /** The planner of the plan in progress, for kernels that run graphs of their own (If/Loop/Scan bodies). */
  planner?: GraphPlanner;
}

/** What a kernel precomputes once per plan (multipliers, packed weights, scratch buffers). */
export interface Prepared<S> {
  state: S;
  /** Bytes of scratch buffers owned by the state (reported in session.memory). */
  scratchBytes?: number;
  /** Bytes of weights repacked for this kernel (reported in session.memory). */
  packedWeightBytes?: number;
}

/**
 * One kernel: an implementation of a canonical op for some dtypes on one backend.
 * `run` writes into preallocated outputs (views into the session's arena) and
 * must not allocate ArrayBuffers for fixed shapes: put scratch in `prepare`.
 */
export interface KernelDef<S = unknown> {
  op: string;
  backend: Backend;
  /** Dtypes of the type-deciding input this kernel accepts. */
  dtypes: readonly DType[];
  /** Which input decides the kernel's type (default 0); -1 means output 0 (ops without inputs). */
  typeInput?: number;
  /** Returns a reason when this kernel cannot run this node (attribute value, other dtypes), else undefined. */
  check?(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined;
  prepare?(args: PrepareArgs): Prepared<S>;
  run(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node, state: S, ctx: KernelContext): void;
}

/** Helper for kernel tables: keeps each entry's state type while widening to KernelDef<unknown>. */
export function defineKernel<S>(def: KernelDef<S>): KernelDef<unknown> {
  return def as KernelDef<unknown>;
}

/**
 * Memory outside the JavaScript heap that can hold a plan's arena, so that the
 * kernels of one backend read and write tensors in place instead of copying
 * them into their own memory and back (the wasm kernels' linear memory). The
 * buffer may be replaced when the host grows (a WebAssembly memory detaches
 * its old ArrayBuffer); offsets stay valid.
 */
export interface ArenaHost {
  /** The backend whose kernels work in this memory. */
  backend: string;
  /** Reserves `bytes` and returns their offset in buffer(). */
  reserve(bytes: number): number;
  release(offset: number): void;
  buffer(): ArrayBuffer;
}

/**
 * Called by a session with threads > 1 before the nodes of a run; returns
 * what ends the run, called after them (also when a node throws). The wasm
 * thread pool keeps its workers polling in between, so the joins between
 * nodes cost no wake-up.
 */
export type RunScope = () => () => void;

/** A graph planned into steps: the part of the runtime's Plan that kernels running bodies use. */
export interface BodyPlan {
  readonly steps: readonly { node: Node; kernel: KernelDef; state: unknown; inputs: (Tensor | undefined)[]; outputs: Tensor[] }[];
  /** Views that feeds are copied into, by graph input name. */
  readonly inputs: ReadonlyMap<string, Tensor>;
  readonly outputs: ReadonlyMap<string, Tensor>;
}

/**
 * What the runtime's planner lends shape inference and kernels of ops that carry
 * graphs (If, Loop, Scan): it plans a body with the registry, backends, kernel
 * context and limits of the plan in progress. The runtime makes one per plan and
 * passes it in InferContext and PrepareArgs; nothing is installed globally.
 */
export interface GraphPlanner {
  /**
   * Plans `graph` for placeholder `feeds`; `shapeInputs` are inputs whose given
   * contents are real. Throws an error for which isPlanDeferred holds when a
   * shape needs the contents of other inputs. `duringRun`: the plan is made while
   * a plan runs (a Loop meeting a new iteration number), so it uses kernels that
   * leave every backend's memory as it is (the reference kernels).
   */
  plan(graph: Graph, feeds: ReadonlyMap<string, Tensor>, shapeInputs: ReadonlySet<string>, duringRun?: boolean): BodyPlan;
  /** Whether an error is the planner's "needs these inputs' contents" (their names in `inputs`). */
  isPlanDeferred(err: unknown): err is Error & { inputs: readonly string[] };
}

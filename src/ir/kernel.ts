import type { DType } from './dtype.js';
import type { Node } from './graph.js';
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

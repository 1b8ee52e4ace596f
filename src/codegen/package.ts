/**
 * What every C emitter of src/codegen returns: a self-contained C99 package and the facts a
 * caller needs to size, build and check it. Neural graphs (the NN emitter) and classic ONNX-ML
 * models (src/codegen/ml) both produce this shape, so one build-and-verify harness serves both.
 *
 * The C interface every package exposes, for a package named `<name>` (`<NAME>` upper-cased):
 *
 *   #define <NAME>_ARENA_BYTES   n      activation arena, exactly what the plan needs (0 if none)
 *   #define <NAME>_NUM_INPUTS    k
 *   #define <NAME>_NUM_OUTPUTS   m
 *   #define <NAME>_INPUT<i>_BYTES / <NAME>_OUTPUT<i>_BYTES, and shape/quantization macros per tensor
 *   int   <name>_invoke(void);                        uses the package's own static arena; 0 = ok
 *   int   <name>_invoke_with_arena(uint8_t *arena);   a caller-supplied arena of <NAME>_ARENA_BYTES
 *   void *<name>_input(int i);                        where to write input i before invoke
 *   const void *<name>_output(int i);                 where output i is after invoke
 *   void  <name>_reset(void);                         NN packages: zeroes the state a stateful model
 *                                                     carries across invokes (<NAME>_STATE_BYTES)
 *
 * A non-zero status names a failure class (documented in the generated header); generated code
 * never allocates, never prints and never reads out of bounds.
 */
import type { DType } from '../ir/index.js';

/** One input or output of a generated package, as the C side lays it out. */
export interface CTensorInfo {
  /** The graph's name for the tensor. */
  name: string;
  dtype: DType;
  shape: number[];
  /** Size of its buffer in bytes (elements × element size). */
  bytes: number;
  /** Per-tensor quantization, when the tensor is quantized. */
  quant?: { scale: number; zeroPoint: number };
}

/** A generated C package: file name → contents, plus its sizes. */
export interface CPackage {
  /** C identifier prefix of every exported symbol (`<name>_invoke`, ...). */
  name: string;
  /** Every file of the package: `<name>.h`, `<name>.c`, `cloudless_kernels.{c,h}`, ... */
  files: Record<string, string>;
  /** Bytes of the activation arena (`<NAME>_ARENA_BYTES`). */
  arenaBytes: number;
  /** The planner's lower bound for that arena (largest sum of buffers alive at one step), when a neural graph was planned. */
  arenaLowerBound?: number;
  /** Bytes of constant data (weights, tables) placed in flash. */
  constBytes: number;
  inputs: CTensorInfo[];
  outputs: CTensorInfo[];
  /** True when the code calls libm (link with -lm). */
  needsLibm: boolean;
  /** Bytes of state carried from one invoke to the next (`<NAME>_STATE_BYTES`; zeroed by `<name>_reset()`); 0 or absent when stateless. */
  stateBytes?: number;
  /** Bytes of static scratch outside the arena (`<NAME>_SCRATCH_BYTES`). */
  scratchBytes?: number;
}

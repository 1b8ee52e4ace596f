/**
 * Where a wasm kernel finds its tensors. A session's arena normally lives in
 * the module's memory (the planner reserves it through `wasmArenaHost`), so a
 * kernel passes its tensors' own addresses; a tensor elsewhere (a constant, an
 * arena in JavaScript memory, a control-flow body) is copied into the
 * transient area at the offset the binding laid out for it, and an output
 * there is copied back after the call.
 */
import type { ArenaHost, Tensor } from '../../ir/index.js';
import { copyIn, copyOut } from './common.js';
import { wasmHeap, type WasmHeap } from './heap.js';

/** The module's memory as an arena host for the planner. */
export function wasmArenaHost(): ArenaHost {
  const heap = wasmHeap();
  return {
    backend: 'wasm',
    reserve: (bytes) => heap.alloc(bytes),
    release: (offset) => heap.release(offset),
    buffer: () => heap.u8.buffer as ArrayBuffer,
  };
}

/** Whether `t`'s data is a view of the module's current memory. */
export function inHeap(heap: WasmHeap, t: Tensor): boolean {
  return t.data.buffer === heap.u8.buffer;
}

/** Address of input `t`: its own when it is in the module's memory, else a copy at transient offset `at`. */
export function inputAt(heap: WasmHeap, at: number, t: Tensor): number {
  if (inHeap(heap, t)) return t.data.byteOffset;
  copyIn(heap, at, t);
  return at;
}

/** Where to write output `t`: its own address when it is in the module's memory, else `at` (then call `outputDone`). */
export function outputAt(heap: WasmHeap, at: number, t: Tensor): number {
  return inHeap(heap, t) ? t.data.byteOffset : at;
}

/** Copies an output written at `at` into `t` unless it was written in place. */
export function outputDone(heap: WasmHeap, at: number, t: Tensor): void {
  if (at !== t.data.byteOffset || !inHeap(heap, t)) copyOut(heap, at, t);
}

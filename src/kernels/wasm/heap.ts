/**
 * The wasm kernels' module instance and its linear memory.
 *
 * One instance serves every session of the process. Its memory holds two kinds
 * of region, both handed out by a first-fit allocator written here (the
 * AssemblyScript side is built with the stub runtime and never allocates):
 *
 * 1. Persistent regions (packed weights, biases, requantization tables),
 *    allocated by a kernel's prepare() and freed when the prepared state is
 *    garbage collected (a FinalizationRegistry: KernelDef has no dispose hook).
 * 2. One shared transient area where run() copies a node's input activations,
 *    keeps its column buffers and receives its outputs. Runs are synchronous,
 *    so one area sized for the largest node is enough; it only grows (and may
 *    move) in prepare(), never during run().
 *
 * Growing the memory detaches the previous ArrayBuffer, so typed views are
 * re-created whenever `memory.buffer` has changed.
 *
 * The module is one of four builds of the same kernels (two tiers, SIMD128
 * and relaxed SIMD, each with two memories; kernelFile() names them):
 * kernels.wasm and kernels-relaxed.wasm own their memory;
 * kernels-threads.wasm and kernels-relaxed-threads.wasm import a shared one
 * (env.memory), which the heap creates, so that the thread pool's workers
 * (threads.ts) instantiate the same module over the same memory. Node takes
 * the shared build of its tier when the engine has SharedArrayBuffer
 * (CLOUDLESS_WASM_SHARED=0 forces the other).
 */
import { CloudlessError } from '../../ir/index.js';
import { relaxedSimdSupported, sharedMemorySupported, simdSupported, wasmApi, type WasmApi, type WasmMemory } from './features.js';
import { readKernelModule } from './module-source.js';

/** Exports of kernels.wasm (see assembly/*.as.ts for the meaning of each argument). */
export interface KernelExports {
  memory: WasmMemory;
  gemm_f32(a: number, lda: number, rows: number, k: number, wp: number, bias: number, cout: number, y: number, ldy: number, lo: number, hi: number): void;
  conv_f32(x: number, batch: number, inH: number, inW: number, cin: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, wp: number, bias: number, cout: number, y: number, col: number, lo: number, hi: number): void;
  depthwise_f32(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, wp: number, bias: number, y: number, lo: number, hi: number): void;
  conv_i8(x: number, batch: number, inH: number, inW: number, cin: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, zx: number, wp: number, w8: boolean, bias: number, cout: number, y: number, col: number,
    mode: number, scales: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  fully_connected_i8(x: number, rows: number, k: number, wp: number, w8: boolean, bias: number, cout: number, y: number,
    mode: number, scales: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  gemm_rows_i8(x: number, lda: number, rows: number, k: number, wp: number, w8: boolean, bias: number, cout: number, y: number, ldy: number,
    mode: number, scales: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  im2col_row_i8(x: number, inH: number, inW: number, cin: number, n: number, oh: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, zx: number, col: number, k8: number): void;
  depthwise_i8(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, zx: number, wp: number, bias: number, biasF: number, y: number,
    mode: number, scales: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  repeat_i8(x: number, y: number, n: number, m: number): void;
  conv_i16(x: number, batch: number, inH: number, inW: number, cin: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, wp: number, kb8: number, cout: number, y: number, col: number,
    mode: number, bias: number, biasM: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  gemm_i16(a: number, lda: number, rows: number, k: number, kb8: number, wp: number, cout: number, y: number, ldy: number,
    mode: number, bias: number, biasM: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  depthwise_i16(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, wp: number, y: number,
    mode: number, bias: number, biasM: number, mults: number, shifts: number, zy: number, lo: number, hi: number): void;
  repeat_i16(x: number, y: number, n: number, m: number): void;
  binary_i16(kind: number, a: number, b: number, y: number, n: number, period: number, swap: number,
    sign: number, ma: number, sa: number, mb: number, sb: number, my: number, sy: number, lo: number, hi: number): void;
  quantize_f32_i16(x: number, y: number, n: number, mode: number, s: number): void;
  dequantize_i16_f32(x: number, y: number, n: number, s: number): void;
  resize_i16(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number,
    hLo: number, hHi: number, hW: number, wLo: number, wHi: number, wW: number, y: number, mode: number): void;
  conv_transpose_f32(x: number, batch: number, inH: number, inW: number, cin: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, wp: number, zeroBias: number, cout: number, bias: number,
    y: number, col: number, lo: number, hi: number): void;
  binary_f32(op: number, a: number, b: number, y: number, n: number, period: number): void;
  clamp_f32(x: number, y: number, n: number, lo: number, hi: number): void;
  hardswish_f32(x: number, y: number, n: number): void;
  sigmoid_f32(x: number, y: number, n: number): void;
  hardsigmoid_f32(x: number, y: number, n: number, alpha: number, beta: number): void;
  softmax_f32(x: number, rows: number, n: number, y: number): void;
  mean_f32(x: number, outer: number, red: number, inner: number, acc: number, y: number, mean: number): void;
  pool_f32(isMax: number, x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, countPad: number, padH: number, padW: number, y: number, lo: number, hi: number): void;
  quantize_f32_i8(x: number, y: number, n: number, reference: number, s: number, zy: number, lo: number, hi: number): void;
  binary_i8(mode: number, a: number, b: number, y: number, n: number, period: number, ta: number, tb: number,
    m: number, shift: number, fm: number, zy: number, lo: number, hi: number): void;
  table_i8(x: number, y: number, n: number, table: number): void;
  pool_i8(isMax: number, x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number, kH: number, kW: number,
    sH: number, sW: number, dH: number, dW: number, pH: number, pW: number, y: number, lo: number, hi: number): void;
  mean_i8(x: number, outer: number, red: number, inner: number, sums: number, y: number,
    mode: number, m: number, shift: number, fm: number, bias: number, zx: number, zy: number): void;
  transpose(x: number, y: number, bytes: number, d0: number, d1: number, d2: number, d3: number,
    s0: number, s1: number, s2: number, s3: number, tiled: number): void;
  resize_f32(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number,
    hIdx: number, hW: number, hTaps: number, wIdx: number, wW: number, wTaps: number, y: number): void;
  dequantize_i8_f32(x: number, y: number, n: number, zx: number, scale: number): void;
  resize_i8(x: number, batch: number, inH: number, inW: number, c: number, outH: number, outW: number,
    hLo: number, hHi: number, hW: number, wLo: number, wHi: number, wW: number, y: number, mode: number): void;
  equal_f32(a: number, b: number, y: number, n: number): void;
  first_beating_f32(x: number, j0: number, n: number, w: number, largest: number): number;
  affine_f32(x: number, y: number, rows: number, c: number, mul: number, add: number): void;
  cast_u8_f32(x: number, y: number, n: number): void;
  copy_rows(dst: number, src: number, rows: number, bytes: number, dstStride: number, srcStride: number): void;
  table_rows_i8(dst: number, src: number, rows: number, bytes: number, dstStride: number, srcStride: number, table: number): void;
  lut_rows_i8(x: number, y: number, n: number, period: number, tables: number): void;
  /** End of the module's static data: regions start at or after it. */
  heap_base(): number;
  /** Per-instance scratch of gemm_i8 (ROTATED) and gemm_i16 (ACC): each pool worker points its instance at its own. */
  set_scratch_i8(p: number): void;
  scratch_bytes_i8(): number;
  set_scratch_i16(p: number): void;
  scratch_bytes_i16(): number;
}

/** Initial pages of the shared memory kernels-threads.wasm imports (its build declares the same: scripts/build-wasm.mjs). */
const SHARED_INITIAL_PAGES = 16;
/** The shared memory's maximum (a shared memory must declare one): 4 GiB, all that wasm32 addresses. */
const SHARED_MAXIMUM_PAGES = 65536;

const PAGE = 65536;
const ALIGN = 16;
/** The lowest start of the regions; the module's static data (its heap_base()) may push it up. */
const HEAP_START = 1024;

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

interface Block { offset: number; size: number }

export class WasmHeap {
  readonly exports: KernelExports;
  /** The compiled module, for workers to instantiate over `memory` when it is shared. */
  readonly module: object;
  /** Whether the memory is a shared one (the threaded build): then a thread pool can run kernels on it. */
  readonly shared: boolean;
  readonly memory: WasmMemory;
  /** Free blocks sorted by offset, coalesced. */
  private readonly free: Block[] = [];
  private readonly start: number;
  private top: number;
  private buffer?: ArrayBuffer;
  private u8v = new Uint8Array(0);
  private i8v = new Int8Array(0);
  private i16v = new Int16Array(0);
  private i32v = new Int32Array(0);
  private f32v = new Float32Array(0);
  private transientOffset = 0;
  private transientSize = 0;
  private readonly finalizer = new FinalizationRegistry<number[]>((offsets) => {
    for (const o of offsets) this.release(o);
  });
  private readonly sizes = new Map<number, number>();

  constructor(api: WasmApi, module: object) {
    this.module = module;
    this.shared = api.Module.imports(module).some((i) => i.kind === 'memory');
    if (this.shared) {
      this.memory = new api.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAXIMUM_PAGES, shared: true });
      this.exports = new api.Instance(module, { env: { memory: this.memory } }).exports as unknown as KernelExports;
    } else {
      this.exports = new api.Instance(module, {}).exports as unknown as KernelExports;
      this.memory = this.exports.memory;
    }
    this.start = this.top = align(Math.max(HEAP_START, this.exports.heap_base()));
  }

  /** Bytes of linear memory in use by regions (persistent and transient). */
  get usedBytes(): number {
    let free = 0;
    for (const b of this.free) free += b.size;
    return this.top - this.start - free;
  }

  /** Allocates `bytes` (16-byte aligned); may grow the memory. */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size < size) continue;
      const offset = b.offset;
      if (b.size === size) this.free.splice(i, 1);
      else { b.offset += size; b.size -= size; }
      this.sizes.set(offset, size);
      return offset;
    }
    const offset = this.top;
    const end = offset + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch (err) {
        throw new CloudlessError('E_UNSUPPORTED', `the wasm kernels could not grow their memory to ${end} bytes: ${(err as Error).message}`, {
          hint: 'the model needs more memory than the engine allows for WebAssembly; run it with backend "ref"',
        });
      }
    }
    this.top = end;
    this.sizes.set(offset, size);
    return offset;
  }

  /** Returns a region to the free list, merging neighbours; the top block shrinks `top`. */
  release(offset: number): void {
    const size = this.sizes.get(offset);
    if (size === undefined) return;
    this.sizes.delete(offset);
    let i = 0;
    while (i < this.free.length && this.free[i]!.offset < offset) i++;
    this.free.splice(i, 0, { offset, size });
    if (i + 1 < this.free.length && offset + size === this.free[i + 1]!.offset) {
      this.free[i]!.size += this.free[i + 1]!.size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]!.offset + this.free[i - 1]!.size === offset) {
      this.free[i - 1]!.size += this.free[i]!.size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.offset + last.size === this.top) {
      this.top = last.offset;
      this.free.pop();
    }
  }

  /** Frees `offsets` once `owner` (a kernel's prepared state) is garbage collected. */
  freeWith(owner: object, offsets: number[]): void {
    this.finalizer.register(owner, offsets);
  }

  /** Makes the shared transient area at least `bytes` long (prepare time only: it may move). */
  reserveTransient(bytes: number): void {
    if (bytes <= this.transientSize) return;
    if (this.transientSize > 0) this.release(this.transientOffset);
    this.transientOffset = this.alloc(bytes);
    this.transientSize = align(bytes);
  }

  /** Start of the transient area (read it in run(): a later prepare may have moved it). */
  get transient(): number {
    return this.transientOffset;
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    if (buf === this.buffer) return;
    this.buffer = buf;
    this.u8v = new Uint8Array(buf);
    this.i8v = new Int8Array(buf);
    this.i16v = new Int16Array(buf);
    this.i32v = new Int32Array(buf);
    this.f32v = new Float32Array(buf);
  }

  get u8(): Uint8Array { this.refresh(); return this.u8v; }
  get i8(): Int8Array { this.refresh(); return this.i8v; }
  get i16(): Int16Array { this.refresh(); return this.i16v; }
  get i32(): Int32Array { this.refresh(); return this.i32v; }
  get f32(): Float32Array { this.refresh(); return this.f32v; }
}

/** Why the wasm backend is unavailable, or undefined when it is ready. */
export let wasmUnavailable: string | undefined;

/**
 * Which build of the kernels runs: 'simd' is kernels.wasm (WebAssembly SIMD128),
 * 'relaxed' is kernels-relaxed.wasm, the same sources with relaxed SIMD (fused
 * multiply-add in the float GEMM and depthwise kernels; the int8 kernels are
 * the SIMD128 ones, see assembly/i8.as.ts for why). int8 results are
 * bit-identical in both; float results differ by rounding only
 * (assembly/fma.ts states the bound). Each tier has an unshared and a
 * shared-memory build (kernelFile()).
 */
export type WasmTier = 'simd' | 'relaxed';

/** The tier the heap runs, once it exists. */
let tier: WasmTier | undefined;

/**
 * The tier asked for by CLOUDLESS_WASM_TIER: 'simd' forces the plain build,
 * 'relaxed' requires the relaxed one (the wasm backend is then unavailable
 * where the engine lacks relaxed SIMD, so tests of that tier fail loudly
 * instead of passing on the other build); anything else (or unset) is auto.
 */
function requestedTier(): WasmTier | 'auto' {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.CLOUDLESS_WASM_TIER;
  return v === 'simd' || v === 'relaxed' ? v : 'auto';
}

/**
 * The tier this engine should run: relaxed where `WebAssembly.validate` accepts
 * a tiny module with f32x4.relaxed_madd and i32x4.relaxed_dot_i8x16_i7x16_add_s
 * (Node 22+, current browsers; Node 20 only with --experimental-wasm-relaxed-simd),
 * unless CLOUDLESS_WASM_TIER says otherwise; undefined with the reason when
 * the requested tier cannot run.
 */
export function chooseWasmTier(): WasmTier | string {
  const want = requestedTier();
  const relaxed = relaxedSimdSupported();
  if (want === 'relaxed' && !relaxed) return 'CLOUDLESS_WASM_TIER=relaxed, but this WebAssembly engine does not validate relaxed SIMD';
  return want === 'simd' || !relaxed ? 'simd' : 'relaxed';
}

let heap: WasmHeap | undefined;

/** Why this engine cannot run the kernels at all (no WebAssembly, no SIMD), or undefined. */
function engineLacks(api: WasmApi | undefined): string | undefined {
  if (!api) return 'this JavaScript engine has no WebAssembly';
  if (!simdSupported()) return 'this WebAssembly engine does not support SIMD';
  return undefined;
}

/**
 * Where the module comes from differs by host: in Node, module-source.ts reads
 * the build kernelFile(tier, shared) names synchronously here, at import
 * (kernels are looked up synchronously and Node has no size limit on a
 * synchronous compile); the module is compiled once per process and every
 * session shares its instance. In the browser bundle that file is replaced
 * by one that returns nothing, and the page calls installWasmModule() once
 * it has fetched and compiled the file (see src/browser/wasm.ts).
 */
function loadAtImport(): void {
  const api = wasmApi();
  wasmUnavailable = engineLacks(api);
  if (wasmUnavailable) return;
  const chosen = chooseWasmTier();
  if (chosen !== 'simd' && chosen !== 'relaxed') { wasmUnavailable = chosen; return; }
  // Each tier has a shared-memory build (threads); it is preferred where the engine shares a memory,
  // unless CLOUDLESS_WASM_SHARED=0. A missing shared build falls back to the unshared one of the same tier.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const wantShared = env?.CLOUDLESS_WASM_SHARED !== '0' && sharedMemorySupported();
  const threaded = wantShared ? readKernelModule(kernelFile(chosen, true)) : undefined;
  const source = threaded instanceof Uint8Array ? threaded : readKernelModule(kernelFile(chosen, false));
  if (typeof source === 'string') { wasmUnavailable = source; return; }
  heap = new WasmHeap(api!, new api!.Module(source));
  tier = chosen;
}

/**
 * The file of a build (scripts/build-wasm.mjs makes all four): kernels.wasm,
 * kernels-threads.wasm, kernels-relaxed.wasm or kernels-relaxed-threads.wasm.
 */
export function kernelFile(of: WasmTier, shared: boolean): string {
  return `kernels${of === 'relaxed' ? '-relaxed' : ''}${shared ? '-threads' : ''}.wasm`;
}

/**
 * Installs a compiled kernels.wasm or kernels-relaxed.wasm (a
 * WebAssembly.Module, built for `as`) as the process-wide heap. Only the
 * first call takes effect; returns whether the heap is ready.
 */
export function installWasmModule(module: object, as: WasmTier = 'simd'): boolean {
  if (heap) return true;
  const api = wasmApi();
  wasmUnavailable = engineLacks(api);
  if (wasmUnavailable) return false;
  heap = new WasmHeap(api!, module);
  tier = as;
  return true;
}

loadAtImport();

/** The build of the kernels in use, or undefined when the wasm backend is unavailable. */
export function wasmTier(): WasmTier | undefined {
  return tier;
}

/** The process-wide heap; only called by kernels, which are registered only when it exists. */
export function wasmHeap(): WasmHeap {
  if (!heap) throw new CloudlessError('E_INTERNAL', `wasm kernels are unavailable: ${wasmUnavailable}`);
  return heap;
}

/** Whether the wasm kernels can run in this process. */
export function wasmAvailable(): boolean {
  return heap !== undefined;
}

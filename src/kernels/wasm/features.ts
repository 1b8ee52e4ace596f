/**
 * Feature detection for the wasm backend, as ONNX Runtime Web does it: ask the
 * engine to validate a tiny module that uses the feature. Validation compiles
 * nothing and runs nothing, so it is cheap and safe at import time.
 *
 * The project compiles against ES2022 + Node types, which declare no
 * WebAssembly values, so the few entry points used are typed here.
 */

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: (new (bytes: Uint8Array) => object) & { imports(module: object): { module: string; name: string; kind: string }[] };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The engine's WebAssembly object, if it has one. */
export function wasmApi(): WasmApi | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof api === 'object' && typeof api.validate === 'function' ? api : undefined;
}

/** (module (func (result v128) (v128.const i32x4 0 0 0 0))) */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, // code: no locals, v128.const
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x0b,
]);

/** Whether this engine runs WebAssembly fixed-width SIMD (the kernels need it). */
export function simdSupported(): boolean {
  return wasmApi()?.validate(SIMD_PROBE) ?? false;
}

/**
 * Whether this engine can share a WebAssembly memory between threads: it has
 * SharedArrayBuffer (a browser only in a cross-origin isolated page) and
 * creates a shared memory. The threaded kernels (kernels-threads.wasm) need it.
 */
export function sharedMemorySupported(): boolean {
  const api = wasmApi();
  if (!api || typeof (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer !== 'function') return false;
  try {
    new api.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

const V128_ZERO = [0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const RELAXED_BODY = [
  0x00, // no locals
  ...V128_ZERO, ...V128_ZERO, ...V128_ZERO,
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  ...V128_ZERO, ...V128_ZERO,
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0x0b,
];

/**
 * (module (func (result v128) (i32x4.relaxed_dot_i8x16_i7x16_add_s
 *   (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)) (v128.const 0) (v128.const 0))))
 * Both instructions kernels-relaxed.wasm relies on.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, RELAXED_BODY.length + 2, 0x01, RELAXED_BODY.length, ...RELAXED_BODY,
]);

/** Whether this engine runs WebAssembly relaxed SIMD (kernels-relaxed.wasm needs it; Node 22+, current browsers). */
export function relaxedSimdSupported(): boolean {
  return wasmApi()?.validate(RELAXED_PROBE) ?? false;
}

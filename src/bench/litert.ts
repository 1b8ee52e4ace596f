/**
 * LiteRT.js (the @litertjs/core package, TFLite compiled to wasm) in Node, as a
 * benchmark peer and as a test oracle. The package is written for browsers and
 * workers, so three things are arranged before it loads:
 *   1. `self`, `importScripts`, `__dirname`, `__filename` and `require` exist as
 *      globals: its loader calls importScripts(url) to run the emscripten glue,
 *      which we run with vm.runInThisContext so that its `var ModuleFactory`
 *      lands on globalThis (= self); the glue, seeing Node, reads the .wasm with
 *      require('fs') relative to __dirname.
 *   2. Its JS API only knows float32, int32 and uint8 tensors; int8 models need
 *      int8 (and int16) in its data-type table. We never commit a patched copy of
 *      their code: the dist file is copied into the project's .cache/ at run time
 *      and patched there, and the copy is rebuilt when the package's version
 *      changes.
 *   3. The single-threaded, non-JSPI wasm is used (the loader picks it when
 *      neither `threads` nor `jspi` is asked for), with XNNPACK on 1 thread.
 * LiteRT.js only logs an error (and run() returns garbage) for an op it cannot
 * resolve, so anything written to console.error while a model compiles or runs
 * fails the call.
 *
 * @litertjs/core is an optional peer: importing this file costs nothing, and
 * loadLiteRtForNode() rejects with LiteRtUnavailable when the package is absent.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { Tensor, type DType, type TypedArray } from '../ir/index.js';

export const LITERT_VERSION = '2.5.3';

/** Bumped when the patch below changes, so that an older patched copy in the cache is not reused. */
const PATCH_REVISION = 2;

/** @litertjs/core is not installed (or not the pinned version). */
export class LiteRtUnavailable extends Error {}

/** The parts of the LiteRT.js API used here (the package's own types do not know int8). */
interface LiteRtTensor {
  toTypedArray(): TypedArray;
  readonly type: { readonly dtype: string; readonly layout: { readonly dimensions: readonly number[] } };
  delete(): void;
}
interface LiteRtCompiledModel {
  run(inputs: LiteRtTensor[]): Promise<LiteRtTensor[]>;
  delete(): void;
}
interface LiteRtModule {
  loadLiteRt(path: string, options?: { threads?: boolean }): Promise<unknown>;
  loadAndCompile(model: Uint8Array, options: { accelerator: 'wasm'; cpuOptions: { numThreads: number } }): Promise<LiteRtCompiledModel>;
  Tensor: new (data: TypedArray, shape: number[]) => LiteRtTensor;
}

interface PackagePaths {
  packageDir: string;
  wasmDir: string;
  cacheDir: string;
}

/**
 * Where the package is, and where its patched copy goes: under the .cache/ of
 * the project whose node_modules holds it, so that the copy's own imports
 * ('@litertjs/wasm-utils') still resolve from that node_modules.
 */
function packagePaths(): PackagePaths {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('@litertjs/core');
  } catch {
    throw new LiteRtUnavailable('@litertjs/core is not installed (npm install -D @litertjs/core@' + LITERT_VERSION + ')');
  }
  const packageDir = path.resolve(path.dirname(main), '..');
  const nodeModules = path.resolve(packageDir, '..', '..');
  return {
    packageDir,
    wasmDir: path.join(packageDir, 'wasm'),
    cacheDir: path.join(path.dirname(nodeModules), '.cache', `litertjs-core-${LITERT_VERSION}-${PATCH_REVISION}`),
  };
}

/** The int8/int16 rows added to LiteRT.js's data-type table (their ElementType values are TFLite's INT8 = 9, INT16 = 7). */
const EXTRA_DATATYPES = `
  {
    dtype: "int8",
    typedArrayConstructor: Int8Array,
    elementType: ElementType.INT8
  },
  {
    dtype: "int16",
    typedArrayConstructor: Int16Array,
    elementType: ElementType.INT16
  },`;

function patchedCopy(p: PackagePaths): string {
  const pkg = JSON.parse(readFileSync(path.join(p.packageDir, 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== LITERT_VERSION) {
    throw new LiteRtUnavailable(`the LiteRT.js adapter is written for @litertjs/core ${LITERT_VERSION}, but ${pkg.version} is installed; check the data-type patch and pin the version again`);
  }
  const target = path.join(p.cacheDir, 'index.js');
  if (existsSync(target)) return target;
  const source = readFileSync(path.join(p.packageDir, 'dist', 'index.js'), 'utf8');
  const anchor = 'var DATATYPES = Object.freeze([';
  if (!source.includes(anchor) || !/ElementType\.INT8\b|INT8:/.test(source)) {
    throw new Error(`@litertjs/core ${pkg.version}: its data-type table is not where the adapter expects it; the int8 patch cannot be applied`);
  }
  mkdirSync(p.cacheDir, { recursive: true });
  // Without its source map beside it, the copy's sourceMappingURL only makes tools (vite) complain.
  writeFileSync(target, source.replace(anchor, anchor + EXTRA_DATATYPES).replace(/^\/\/# sourceMappingURL=.*$/m, ''));
  copyFileSync(path.join(p.packageDir, 'package.json'), path.join(p.cacheDir, 'package.json'));
  return target;
}

function installBrowserShims(wasmDir: string, glue: string): void {
  const g = globalThis as Record<string, unknown>;
  g.self ??= globalThis;
  g.importScripts ??= (url: string) => {
    const file = url.startsWith('file:') ? fileURLToPath(url) : url;
    vm.runInThisContext(readFileSync(file, 'utf8'), { filename: file });
  };
  g.__dirname ??= wasmDir;
  // The threaded glue starts its pthread workers on __filename: it must name the glue that is loaded.
  g.__filename ??= path.join(wasmDir, glue);
  g.require ??= createRequire(path.join(wasmDir, glue));
}

/**
 * Where the wasm's stderr goes. The emscripten glue binds its printErr once, when
 * it loads, so it is routed through this sink (passed as Module.printErr) rather
 * than through a console.error that is swapped per call.
 */
let stderrSink: ((line: string) => void) | undefined;

function wasmStderr(line: string): void {
  if (stderrSink) stderrSink(line);
  else if (/^(ERROR|FATAL)\b/.test(line)) process.stderr.write(`[LiteRT.js] ${line}\n`);
}

let loading: Promise<LiteRtModule> | undefined;
/** Which wasm build this process loaded (a process loads one, the first time it is asked). */
let loadedBuild: 'single' | 'threaded' | undefined;

/** The wasm build LiteRT.js runs in this process, once loaded. */
export function liteRtBuild(): 'single' | 'threaded' | undefined {
  return loadedBuild;
}

/**
 * Whether this engine can run LiteRT.js's threaded build: its loader allows
 * threads only with relaxed SIMD (Node 22 and later; Node 20 lacks it without
 * a flag) and needs SharedArrayBuffer.
 */
export function liteRtThreadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer === 'undefined') return 'this engine has no SharedArrayBuffer';
  // () -> v128 { f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0) }: valid only where relaxed SIMD is on.
  const c0 = [253, 12, ...new Array<number>(16).fill(0)];
  const body = [0, ...c0, ...c0, ...c0, 253, 133, 2, 11];
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, body.length + 2, 1, body.length, ...body]);
  const wasm = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;
  if (!wasm?.validate(probe)) {
    return `LiteRT.js runs threads only with relaxed SIMD, which this engine (Node ${process.versions.node}) does not enable`;
  }
  return undefined;
}

/**
 * The threaded glue as a .cjs file in the cache: Node starts the pthread
 * workers on this file, and the package's own copy would be read as an ES
 * module ("type": "module"), where the glue's require() does not exist. The
 * copy is byte for byte the package's file.
 */
function threadedGlue(p: PackagePaths): string {
  const target = path.join(p.cacheDir, 'litert_wasm_threaded_internal.cjs');
  if (!existsSync(target)) {
    mkdirSync(p.cacheDir, { recursive: true });
    copyFileSync(path.join(p.wasmDir, 'litert_wasm_threaded_internal.js'), target);
  }
  return target;
}

/**
 * Loads LiteRT.js once per process: its threaded wasm when `threads` is asked
 * for on the first load (see liteRtThreadsUnavailable), else the
 * single-threaded one. A later call gets the build already loaded.
 */
export function loadLiteRtForNode(threads = false): Promise<LiteRtModule> {
  loading ??= (async () => {
    const paths = packagePaths();
    if (threads) {
      const why = liteRtThreadsUnavailable();
      if (why) throw new LiteRtUnavailable(why);
    }
    installBrowserShims(paths.wasmDir, threads ? 'litert_wasm_threaded_internal.js' : 'litert_wasm_internal.js');
    const mod = (await import(pathToFileURL(patchedCopy(paths)).href)) as LiteRtModule;
    // The loader hands self.Module to the emscripten factory as its module arguments.
    (globalThis as Record<string, unknown>).Module = { printErr: wasmStderr, ...(threads ? { mainScriptUrlOrBlob: threadedGlue(paths) } : {}) };
    // Environment.create() probes navigator.gpu for WebGPU and warns that Node has none: expected here.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).startsWith('Failed to create default WebGPU device')) warn(...args);
    };
    try {
      await withErrorsCaptured('loading LiteRT.js', () => mod.loadLiteRt(paths.wasmDir + path.sep, threads ? { threads: true } : undefined));
    } finally {
      console.warn = warn;
    }
    loadedBuild = threads ? 'threaded' : 'single';
    return mod;
  })();
  // A failed load (package missing) must not be cached as a rejected promise forever in a long process.
  loading.catch(() => { loading = undefined; });
  return loading;
}

/**
 * Runs fn; throws if LiteRT.js reported an error meanwhile: a line of the wasm's
 * stderr at ERROR level (TFLite's logger prefixes its lines with the level; INFO
 * and WARNING lines are chatter) or a console.error from its JS layer.
 */
async function withErrorsCaptured<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const original = console.error;
  const errors: string[] = [];
  const report = (line: string) => { if (!/^(INFO|WARNING|VERBOSE)\b/.test(line)) errors.push(line); };
  stderrSink = report;
  console.error = (...args: unknown[]) => report(args.map(String).join(' '));
  let result: T;
  try {
    result = await fn();
  } finally {
    console.error = original;
    stderrSink = undefined;
  }
  if (errors.length > 0) throw new Error(`LiteRT.js reported an error while ${what}:\n${errors.join('\n')}`);
  return result;
}

const LITERT_DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', uint8: 'uint8', int8: 'int8', int16: 'int16' };

/** A model compiled by LiteRT.js for the CPU (XNNPACK), with its inputs copied into wasm memory once. */
export interface LiteRtModel {
  /** Runs on the bound inputs and returns the outputs in order, as cloudless tensors (without quantization parameters). */
  run(): Promise<Tensor[]>;
  delete(): void;
}

/** Compiles a .tflite model on `threads` XNNPACK threads (the single-threaded wasm build honours only 1) and binds its inputs. */
export async function compileLiteRt(tfliteBytes: Uint8Array, inputs: readonly Tensor[], threads = 1): Promise<LiteRtModel> {
  const litert = await loadLiteRtForNode(threads > 1);
  if (threads > 1 && loadedBuild !== 'threaded') {
    throw new LiteRtUnavailable(`LiteRT.js runs its single-threaded wasm in this process (loaded first for 1 thread); ${threads} threads need a process of their own`);
  }
  const model = await withErrorsCaptured('compiling the model', () =>
    litert.loadAndCompile(new Uint8Array(tfliteBytes), { accelerator: 'wasm', cpuOptions: { numThreads: threads } }));
  const feeds = inputs.map((t) => new litert.Tensor(t.data.slice() as TypedArray, [...t.shape]));
  return {
    async run() {
      const outs = await withErrorsCaptured('running the model', () => model.run(feeds));
      try {
        return outs.map((o, i) => {
          const dtype = LITERT_DTYPES[o.type.dtype];
          if (!dtype) throw new Error(`LiteRT.js output ${i} has dtype ${o.type.dtype}, which the adapter does not map`);
          return new Tensor(dtype, [...o.type.layout.dimensions], o.toTypedArray().slice() as TypedArray);
        });
      } finally {
        for (const o of outs) o.delete();
      }
    },
    delete() {
      for (const f of feeds) f.delete();
      model.delete();
    },
  };
}

/** Runs a .tflite model once in LiteRT.js on the CPU (XNNPACK, 1 thread) and returns its outputs in order. */
export async function runLiteRt(tfliteBytes: Uint8Array, inputs: readonly Tensor[]): Promise<Tensor[]> {
  const model = await compileLiteRt(tfliteBytes, inputs);
  try {
    return await model.run();
  } finally {
    model.delete();
  }
}

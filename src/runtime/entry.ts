/**
 * `cloudless/runtime`: the lean entry for loading and running models, without
 * the CLI, server, pipelines, fleet, zoo, tasks or quantizer that the main
 * entry (`cloudless`) also exports. `npm run build` bundles this file with its
 * imports into dist/runtime/bundle.js (scripts/build-node-bundle.mjs,
 * packages external), so that a process reads one file instead of about 200
 * modules: a cold start's module loading is most of what the bundle saves.
 *
 *   import { load, Tensor } from 'cloudless/runtime';
 *
 * The bundle holds its own copy of the classes: a Tensor or CloudlessError
 * from `cloudless/runtime` is not `instanceof` the main entry's. Use one entry
 * per program.
 */
export * from './index.js';
export {
  Tensor, CloudlessError, Graph, DTYPES, perTensorQuant,
  type DType, type QuantParams, type Node, type Value, type Int8Arithmetic, type ErrorCode,
} from '../ir/index.js';
export { optimizeForInference } from '../passes/optimize.js';
export { ensureThreads, closeThreadPool, threadsUnavailable } from '../kernels/wasm/threads.js';
export { wasmKernels, wasmUnavailable, simdSupported, relaxedSimdSupported, wasmTier, type WasmTier } from '../kernels/wasm/index.js';

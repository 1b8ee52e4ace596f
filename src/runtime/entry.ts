/**
 * `cloudless/runtime`: the lean entry for loading and running models, without
 * the CLI, server, pipelines, fleet, zoo, tasks or quantizer that the main
 * entry (`cloudless`) also exports. `npm run build` bundles this file with its
 * imports into dist/node/runtime.js (scripts/build-node-bundle.mjs,
 * packages external, code shared with the main entry's dist/node/index.js in
 * chunks), so that a process reads a few files instead of about 200 modules.
 *
 *   import { load, Tensor } from 'cloudless/runtime';
 *
 * Both entries share one copy of the classes and of the wasm heap: a Tensor
 * of `cloudless/runtime` is `instanceof` the main entry's.
 */
export * from './index.js';
export {
  Tensor, CloudlessError, Graph, DTYPES, perTensorQuant,
  type DType, type QuantParams, type Node, type Value, type Int8Arithmetic, type ErrorCode,
} from '../ir/index.js';
export { optimizeForInference } from '../passes/optimize.js';
export { ensureThreads, closeThreadPool, threadsUnavailable } from '../kernels/wasm/threads.js';
export { wasmKernels, wasmUnavailable, simdSupported, relaxedSimdSupported, wasmTier, type WasmTier } from '../kernels/wasm/index.js';

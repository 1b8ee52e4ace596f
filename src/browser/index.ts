/**
 * cloudless in a web page: the same engine and Session API as in Node, on the
 * WebAssembly SIMD kernels (reference kernels when a browser lacks SIMD), with
 * the vision tasks on the browser's own image decoding. Nothing here imports
 * `node:*` (a test checks the bundle), and nothing is fetched from anywhere but
 * the page's own origin.
 *
 *   import { initWasm, loadModel, Tensor } from './cloudless.js';
 *   await initWasm();                              // kernels.wasm beside the bundle
 *   const session = await loadModel('/models/model.tflite');
 *   const out = session.runSync({ [session.inputs[0].name]: new Tensor('int8', [1, 96, 96, 1]) });
 */
export { Tensor, CloudlessError, perTensorQuant, type DType, type QuantParams } from '../ir/index.js';
export { Session, type SessionOptions, type MemoryReport, type IOInfo } from '../runtime/session.js';
export { detectFormat, graphFromBytes, loadBytes, type ModelFormat } from '../runtime/model-bytes.js';
export { ZOO, getModel, type ModelManifest } from '../zoo/manifest.js';
export { decodeCenterNet } from '../tasks/vision/centernet.js';
export { decodeNanoDet } from '../tasks/vision/nanodet.js';
export { nms } from '../tasks/vision/nms.js';
export { COCO_LABELS } from '../zoo/coco.js';
export { planResize, pixelsToTensor, type PreprocessSpec, type ImageTransform } from '../tasks/vision/input-tensor.js';
export type { Detection, Box } from '../tasks/vision/detection.js';
export { initWasm, wasmStatus, type WasmStatus } from './wasm.js';
export { closeThreadPool, threadStats, threadsUnavailable } from '../kernels/wasm/threads.js';
export { setPoolWorkerUrl } from '../kernels/wasm/thread-host.browser.js';
export { loadModel, type ModelSource, type BrowserLoadOptions } from './load.js';
export { preprocessBrowserImage, decodeImage, type BrowserImage } from './image.js';
export { createBrowserDetector, type BrowserDetector, type BrowserDetectorOptions, type BrowserDetectResult } from './detector.js';
export { drawDetections, type DrawOptions } from './draw.js';

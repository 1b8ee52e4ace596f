/**
 * cloudless — machine learning at the edge, with no cloud and no network.
 *
 * Load a model (ONNX, TFLite or a TF.js graph model), run it on tensors, read the
 * outputs. Everything runs in this process; nothing is sent anywhere.
 *
 *   import { load, Tensor } from 'cloudless';
 *
 *   const session = await load('mobilenet.onnx');          // import, check, plan memory
 *   console.log(session.inputs, session.memory);            // [{ name: 'input', dtype: 'float32', shape: [1, 3, 224, 224] }]
 *   const input = new Tensor('float32', [1, 3, 224, 224]);  // fill input.data with pixels
 *   const out = await session.run({ input });               // no allocation for a repeated shape
 *   const scores = out.output.data;                         // a view into the arena: clone() to keep it
 *
 * Every deliberate failure is a CloudlessError with a `code`, a message that
 * names the file, node or input, and a `hint`.
 */
export {
  Tensor, CloudlessError, Graph, DTYPES, perTensorQuant,
  type DType, type QuantParams, type Node, type Value, type Int8Arithmetic, type ErrorCode,
} from './ir/index.js';
export { load, readModel, detectFormat, type ModelFormat } from './runtime/load.js';
export { Session, type SessionOptions, type MemoryReport, type NodeProfile, type IOInfo } from './runtime/session.js';
export { defaultRegistry } from './runtime/builtins.js';
export { parseNpy, serializeNpy } from './formats/npy.js';
export { exportOnnx, EXPORT_OPSET, type ExportOnnxOptions } from './formats/onnx/export.js';
export { createDetector, type Detector, type DetectorOptions, type DetectResult } from './tasks/vision/detector.js';
export { createClassifier, type Classifier, type ClassifierOptions, type ClassifyResult } from './tasks/vision/classifier.js';
export { robustnessReport, perturb, detectionChanges, defaultPerturbations, parsePerturbations, perturbationLabel, PERTURBATION_KINDS, DEFAULT_STRENGTHS, type Perturbation, type PerturbationKind, type PerturbationSet, type RobustnessOptions, type RobustnessReport, type RobustnessRow } from './tasks/vision/robustness.js';
export { ZOO, getModel, findModel, modelNames, type ModelManifest, type ModelFile, type ModelTask } from './zoo/manifest.js';
export { modelStoreDir, locateModel, openModel, pullModel, verifyModel, sha256File } from './zoo/store.js';
export { resolveModel } from './zoo/resolve.js';
export * from './tasks/audio/index.js';
export { wasmKernels, wasmUnavailable, simdSupported, relaxedSimdSupported, wasmTier, type WasmTier } from './kernels/wasm/index.js';
export { Pipeline, loadPipelineFile, parsePipelineYaml, validatePipeline, Ledger, SecretStore } from './pipeline/index.js';
export type { PipelineInput, PipelineConfig, PipelineEvent, Frame, Task, TaskResult, Finding } from './pipeline/index.js';
export {
  startFleetPipeline, FleetDevice, FleetMonitor, FleetStore, RolloutAgent, serveModels,
  buildManifest, signManifest, verifyManifest, generateSigningKey, selectedForRollout, canonicalJson,
} from './fleet/index.js';
export type { Manifest, FleetPipeline } from './fleet/index.js';
export { prepareForQuantization } from './passes/quantize-prep.js';
export { Calibrator, calibrate, type CalibrationResult } from './quantize/calibrate.js';
export { quantizeGraph, type QuantizeOptions } from './quantize/quantize.js';
export { compareSessions } from './quantize/report.js';
export {
  quantizeModel, holdOut, loadBack, quantizeFeeds,
  type QuantizeModelOptions, type QuantizedModel, type WorkflowStage,
} from './quantize/workflow.js';
export { loadSampleFolder, loadLabels, preprocessSpecFor, type SampleFolder } from './tasks/samples.js';
export type { Sample } from './runtime/session.js';
export { emitC } from './codegen/emit-graph.js';
export { buildAndRun, type VerifyTarget } from './codegen/verify.js';
export type { CPackage, CTensorInfo } from './codegen/package.js';
export { emitClassicC, isClassicGraph, featureQuantization, quantizeFeatures, type ClassicCOptions } from './codegen/ml/index.js';

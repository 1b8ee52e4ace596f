/**
 * The quantization workflow, whole: read a float model, calibrate it on
 * samples, quantize it (with `method: 'auto'`, once per range method, keeping
 * the one closer to float on the evaluation samples), serialize it, load the
 * bytes back and run them, and compare the loaded-back model with float on
 * samples the ranges did not see. `cloudless quantize` is a shell over
 * `quantizeModel` that reads sample folders, draws progress bars and writes
 * the bytes.
 *
 * The bytes returned are the model the report describes: the comparison runs
 * through the model read back from them, and bytes that cannot be read back
 * and run are an error, never a result.
 */
import path from 'node:path';
import { exportOnnx } from '../formats/onnx/export.js';
import { importTflite } from '../formats/tflite/import.js';
import { writeTflite } from '../formats/tflite/writer.js';
import { CloudlessError, type Graph, type Int8Arithmetic, Tensor } from '../ir/index.js';
import { keepOutputs } from '../passes/keep-outputs.js';
import { type PrepareReport, prepareForQuantization } from '../passes/quantize-prep.js';
import { readModel } from '../runtime/load.js';
import { type BackendChoice, type Sample, Session } from '../runtime/session.js';
import { type CalibrationMethod, type CalibrationResult, Calibrator } from './calibrate.js';
import { type FallbackNode, quantizeGraph } from './quantize.js';
import { type ComparisonReport, compareSessions } from './report.js';
import { type LayerSensitivity, layerSensitivity } from './sensitivity.js';

/** Steps that report progress: one call per sample, node or layer done. */
export type WorkflowStage = 'calibrating' | 'rounding' | 'comparing' | CalibrationMethod | 'layers';

export interface QuantizeModelOptions {
  /** Samples the ranges are taken from. */
  calibration: readonly Sample[];
  /** Class labels of the calibration samples, in order (used when evaluation is not given: the held-out ones score top-1). */
  labels?: readonly number[];
  /** Samples (and their labels) the report is measured on; default: every fifth calibration sample, held out of calibration. */
  evaluation?: { samples: readonly Sample[]; labels?: readonly number[] };
  /** How the bytes are written: .tflite (int8 or 16x8 TFLite) or .onnx (QDQ). */
  format: 'tflite' | 'onnx';
  /** `auto`: quantize with min/max and with percentile ranges and keep the one closer to float on the evaluation samples. */
  method: CalibrationMethod | 'auto';
  percentile: number;
  /** How weights are rounded onto their int8 grid (default nearest). */
  rounding?: 'nearest' | 'gptq';
  /** Type of the quantized model's inputs and outputs. */
  io: 'float32' | 'int8';
  /** Activation type: int8 (default) or int16 (TFLite's 16x8 scheme; .tflite only). */
  activations?: 'int8' | 'int16';
  /** Node or op names to keep in float. */
  keepFloat?: readonly string[];
  /** Keep the first n nodes in graph order (the stem) in float too. */
  keepFloatFirst?: number;
  /** Values to keep as the graph's outputs (the rest of the graph after them is dropped). */
  outputs?: readonly string[];
  /** Rank the layers by the error the quantization causes in each alone, and list this many (true: 10). */
  sensitivity?: number | boolean;
  backend: BackendChoice;
  int8Arithmetic: Int8Arithmetic;
  /** Called as each step advances (done of total). */
  onProgress?: (stage: WorkflowStage, done: number, total: number) => void;
  /** Called when a step that reported progress is over. */
  onStageEnd?: (stage: WorkflowStage) => void;
  /** The float model as a session already made (read with `outputs` kept, same backend); default: made here. */
  floatSession?: Session;
}

/** The choices of a quantization a caller makes (what `cloudless quantize` takes as flags). */
export type QuantizeChoices = Pick<
  QuantizeModelOptions,
  | 'method'
  | 'percentile'
  | 'rounding'
  | 'io'
  | 'activations'
  | 'keepFloat'
  | 'keepFloatFirst'
  | 'outputs'
  | 'sensitivity'
  | 'backend'
  | 'int8Arithmetic'
>;

export interface QuantizedModel {
  /** The serialized quantized model (already read back and run once). */
  bytes: Uint8Array;
  format: 'tflite' | 'onnx';
  activations: 'int8' | 'int16';
  calibration: {
    method: CalibrationMethod;
    percentile?: number;
    samples: number;
    rounding: 'nearest' | 'gptq';
    /** With method 'auto': each method's score on the evaluation samples (top-1 % with labels, else mean output cosine). */
    candidates?: { method: CalibrationMethod; score: number }[];
  };
  evaluation: { samples: number; heldOut: boolean };
  rewrites: PrepareReport;
  int8Nodes: number;
  quantizeNodes: number;
  dequantizeNodes: number;
  fallback: FallbackNode[];
  comparison: ComparisonReport;
  /** The layers quantization hurts most, each quantized alone (with `sensitivity`). */
  sensitivity?: LayerSensitivity[];
}

/**
 * Splits samples into calibration and evaluation: every fifth sample (and its
 * label) is held out, so the report measures the error on data the ranges did
 * not see. With fewer than five samples none is held out and all serve both.
 */
export function holdOut<T>(
  samples: readonly T[],
  labels?: readonly number[],
): {
  calibration: T[];
  evaluation: T[];
  labels?: number[];
  heldOut: boolean;
} {
  const held = samples.length >= 5 ? samples.map((_, i) => i % 5 === 4) : samples.map(() => false);
  const heldOut = held.some(Boolean);
  return {
    calibration: samples.filter((_, i) => !held[i]),
    evaluation: heldOut ? samples.filter((_, i) => held[i]) : [...samples],
    labels: labels && (heldOut ? labels.filter((_, i) => held[i]) : [...labels]),
    heldOut,
  };
}

/** The sample's float feeds quantized with the quantized model's input parameters (for `io: 'int8'` models). */
export function quantizeFeeds(session: Session, s: Sample): Sample['feeds'] {
  const feeds: Sample['feeds'] = {};
  for (const info of session.inputs) {
    const t = s.feeds[info.name]!;
    const q = session.graph.value(info.name).quant;
    if ((info.dtype !== 'int8' && info.dtype !== 'int16') || !q || t.dtype !== 'float32') {
      feeds[info.name] = t;
      continue;
    }
    const scale = q.scale[0]!,
      zp = q.zeroPoint[0]!;
    const src = t.data as Float32Array;
    const [lo, hi] = info.dtype === 'int16' ? [-32768, 32767] : [-128, 127];
    const quantize = (v: number) => Math.max(lo, Math.min(hi, Math.round(v / scale) + zp));
    const data = info.dtype === 'int16' ? Int16Array.from(src, quantize) : Int8Array.from(src, quantize);
    feeds[info.name] = new Tensor(info.dtype, t.shape, data, q);
  }
  return feeds;
}

/**
 * Reads quantized bytes back with the format's importer and runs them once on
 * `sample`: the check that what is handed out loads and runs. Errors say the
 * model could not be loaded back (`what` names the bytes, e.g. the file they
 * were meant for).
 */
export async function loadBack(
  bytes: Uint8Array,
  format: 'tflite' | 'onnx',
  sample: Sample,
  o: {
    io: 'float32' | 'int8';
    backend: BackendChoice;
    int8Arithmetic: Int8Arithmetic;
    what: string;
  },
): Promise<Session> {
  try {
    const session = new Session(format === 'onnx' ? await readModel(bytes, 'onnx') : importTflite(bytes, o.what), {
      backend: o.backend,
      int8Arithmetic: o.int8Arithmetic,
    });
    const out = session.runSync(o.io === 'int8' ? quantizeFeeds(session, sample) : sample.feeds);
    for (const [name, t] of Object.entries(out)) {
      if (t.toFloat32().some((v) => !Number.isFinite(v))) throw new CloudlessError('E_INTERNAL', `output "${name}" holds NaN or infinity`);
    }
    return session;
  } catch (err) {
    const e = err instanceof CloudlessError ? err : new CloudlessError('E_INTERNAL', String(err));
    throw new CloudlessError(
      e.code === 'E_INTERNAL' ? 'E_INTERNAL' : e.code,
      `the quantized model could not be loaded back and run, so ${o.what} was not written: ${e.message}`,
      {
        hint: e.hint,
        node: e.node,
        cause: err,
      },
    );
  }
}

/** The shapes of a sample's feeds, by input name. */
function sampleShapes(s: Sample): Record<string, number[]> {
  return Object.fromEntries(Object.entries(s.feeds).map(([name, t]) => [name, [...t.shape]]));
}

/** Top-1 accuracy when labels are given, else the mean over outputs of their mean cosine to float. */
function score(c: ComparisonReport): number {
  return c.quality ? c.quality.int8 : c.outputs.reduce((a, x) => a + x.meanCosine, 0) / Math.max(1, c.outputs.length);
}

/**
 * Quantizes the float model in file `model` (.onnx, .tflite or TF.js
 * model.json) and returns the bytes with the report. `what` names the bytes in
 * errors and in the model's description (default: the model's file name).
 */
export async function quantizeModel(model: string, o: QuantizeModelOptions, what = path.basename(model)): Promise<QuantizedModel> {
  const { format } = o;
  const activations = o.activations ?? 'int8';
  if (activations === 'int16' && format === 'onnx') {
    throw new CloudlessError('E_CONFIG', `${what}: 16x8 models (activations int16) are written as .tflite only`, {
      hint: 'give a file name ending in .tflite',
    });
  }
  if (o.calibration.length === 0) throw new CloudlessError('E_INPUT', `${what}: quantizing needs at least one calibration sample`);
  const sessionOptions = { backend: o.backend, int8Arithmetic: o.int8Arithmetic };
  const readKept = async (): Promise<Graph> => {
    const g = await readModel(model);
    if (o.outputs?.length) keepOutputs(g, [...o.outputs]);
    return g;
  };
  const floatSession = o.floatSession ?? new Session(await readKept(), sessionOptions);
  const split = o.evaluation
    ? {
        calibration: [...o.calibration],
        evaluation: [...o.evaluation.samples],
        labels: o.evaluation.labels && [...o.evaluation.labels],
        heldOut: true,
      }
    : holdOut(o.calibration, o.labels);
  const { calibration: calibSamples, evaluation: evalSamples, labels, heldOut } = split;
  const progress = (stage: WorkflowStage) => (done: number, total: number) => o.onProgress?.(stage, done, total);
  const stage = <T>(name: WorkflowStage, f: (tick: (done: number, total: number) => void) => T): T => {
    try {
      return f(progress(name));
    } finally {
      o.onStageEnd?.(name);
    }
  };

  const graph = await readKept();
  const rewrites = prepareForQuantization(graph);
  const keepFloat = [...(o.keepFloat ?? []), ...graph.nodes.slice(0, o.keepFloatFirst ?? 0).map((n) => n.name)];
  const rounding = o.rounding ?? 'nearest';
  const calibrator = new Calibrator(graph, {
    ...sessionOptions,
    method: o.method === 'auto' ? 'minmax' : o.method,
    percentile: o.percentile,
    weightHessians: rounding === 'gptq',
  });
  stage('calibrating', (tick) =>
    calibSamples.forEach((s, i) => {
      calibrator.observe(s.feeds, s.name);
      tick(i + 1, calibSamples.length);
    }),
  );
  const calibrated = calibrator.result();
  const methods: CalibrationMethod[] = o.method === 'auto' ? ['minmax', 'percentile'] : [o.method];
  // Both writers need static shapes: a model with symbolic input sizes takes those of the calibration samples.
  const inputShapes = sampleShapes(calibSamples[0]!);

  // GPTQ rounds each layer once even when method auto builds two candidates: its result does not depend on the ranges.
  const roundedWeights = new Map<string, Tensor>();
  const build = (calibration: CalibrationResult) => {
    const q =
      rounding === 'gptq'
        ? stage('rounding', (tick) =>
            quantizeGraph(graph, calibration, {
              io: o.io,
              activations,
              keepFloat,
              weightRounding: rounding,
              onWeightsRounded: tick,
              roundedWeights,
            }),
          )
        : quantizeGraph(graph, calibration, { io: o.io, activations, keepFloat, weightRounding: rounding, roundedWeights });
    const bytes =
      format === 'onnx'
        ? exportOnnx(q.graph, { producer: `cloudless (quantized from ${path.basename(model)})`, inputShapes })
        : writeTflite(q.graph, { description: `quantized by cloudless from ${path.basename(model)}`, inputShapes });
    return { calibration, q, bytes };
  };
  const compare = (int8Session: Session, name: WorkflowStage): ComparisonReport =>
    stage(name, (tick) =>
      compareSessions(floatSession, int8Session, evalSamples, {
        labels,
        onSample: tick,
        // An int8-interface model reads the samples quantized with its own input parameters.
        int8Feeds: o.io === 'int8' ? (s) => quantizeFeeds(int8Session, s) : undefined,
      }),
    );

  let best: { built: ReturnType<typeof build>; comparison: ComparisonReport; score: number } | undefined;
  const candidates: { method: CalibrationMethod; score: number }[] = [];
  for (const method of methods) {
    const built = build(calibrated.withMethod(method));
    const loaded = await loadBack(built.bytes, format, evalSamples[0]!, { ...sessionOptions, io: o.io, what });
    const comparison = compare(loaded, methods.length > 1 ? method : 'comparing');
    const candidate = { method, score: score(comparison) };
    candidates.push(candidate);
    if (!best || candidate.score > best.score) best = { built, comparison, score: candidate.score };
  }
  const {
    built: { calibration, q, bytes },
    comparison,
  } = best!;

  let sensitivity: LayerSensitivity[] | undefined;
  if (o.sensitivity) {
    sensitivity = stage('layers', (tick) =>
      layerSensitivity(graph, calibration, evalSamples, { ...sessionOptions, activations, onLayer: tick }),
    ).slice(0, o.sensitivity === true ? 10 : o.sensitivity);
  }
  return {
    bytes,
    format,
    activations,
    calibration: {
      method: calibration.method,
      ...(calibration.method === 'percentile' ? { percentile: calibration.percentile } : {}),
      samples: calibration.samples,
      rounding,
      ...(methods.length > 1 ? { candidates } : {}),
    },
    evaluation: { samples: evalSamples.length, heldOut },
    rewrites,
    int8Nodes: q.int8Nodes,
    quantizeNodes: q.quantizeNodes,
    dequantizeNodes: q.dequantizeNodes,
    fallback: q.fallback,
    comparison,
    ...(sensitivity ? { sensitivity } : {}),
  };
}

/**
 * Which layers int8 hurts most. Each compute node the quantizer would put in
 * int8 is quantized alone (every other node kept in float, with Quantize and
 * Dequantize around the one) and the model's outputs on the samples are
 * compared with the float model's. Errors of single layers do not add up to
 * the whole model's, but the ranking says where int8 costs the most, and so
 * which nodes to name in `keepFloat` (`--keep-float`) first.
 *
 * Cost: one quantization and one run per sample for each such node.
 */
import type { Graph } from '../ir/index.js';
import type { KernelRegistry } from '../runtime/registry.js';
import { Session, type BackendChoice } from '../runtime/session.js';
import type { Int8Arithmetic } from '../ir/index.js';
import type { CalibrationResult } from './calibrate.js';
import { DATA_MOVEMENT, quantizeGraph } from './quantize.js';
import { asFloat, cosineSimilarity } from './report.js';
import type { Sample } from '../runtime/session.js';

export interface LayerSensitivity {
  node: string;
  op: string;
  /** Worst cosine similarity over outputs and samples, with only this node in int8. */
  minCosine: number;
  /** Largest |float − int8| over outputs, elements and samples. */
  maxAbs: number;
}

export interface SensitivityOptions {
  backend?: BackendChoice;
  /** int8 (default) or int16 activations (16x8), as quantizeGraph takes them. */
  activations?: 'int8' | 'int16';
  int8Arithmetic?: Int8Arithmetic;
  registry?: KernelRegistry;
  onLayer?: (done: number, total: number) => void;
}

/** The nodes of a calibrated (prepared) float graph ranked by the error int8 alone causes, worst first. */
export function layerSensitivity(graph: Graph, calibration: CalibrationResult, samples: readonly Sample[], options: SensitivityOptions = {}): LayerSensitivity[] {
  const sessionOptions = { backend: options.backend, int8Arithmetic: options.int8Arithmetic, registry: options.registry };
  const floatNodes = new Set(quantizeGraph(graph, calibration, { registry: options.registry, activations: options.activations }).fallback.map((f) => f.node));
  const layers = graph.nodes.filter((n) => !floatNodes.has(n.name) && !DATA_MOVEMENT.has(n.op));
  const floatSession = new Session(graph, sessionOptions);
  const names = floatSession.outputs.map((o) => o.name);
  const reference = samples.map((s) => {
    const out = floatSession.runSync(s.feeds);
    return names.map((n) => asFloat(out[n]!));
  });
  const result: LayerSensitivity[] = [];
  layers.forEach((layer, k) => {
    const keepFloat = graph.nodes.filter((n) => n !== layer).map((n) => n.name);
    const session = new Session(quantizeGraph(graph, calibration, { keepFloat, registry: options.registry, activations: options.activations }).graph, sessionOptions);
    let minCosine = 1, maxAbs = 0;
    samples.forEach((s, i) => {
      const out = session.runSync(s.feeds);
      names.forEach((n, j) => {
        const a = reference[i]![j]!, b = asFloat(out[n]!);
        minCosine = Math.min(minCosine, cosineSimilarity(a, b));
        for (let e = 0; e < a.length; e++) maxAbs = Math.max(maxAbs, Math.abs(a[e]! - b[e]!));
      });
    });
    result.push({ node: layer.name, op: layer.op, minCosine, maxAbs });
    options.onLayer?.(k + 1, layers.length);
  });
  return result.sort((a, b) => a.minCosine - b.minCosine || b.maxAbs - a.maxAbs);
}

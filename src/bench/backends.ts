/**
 * Benchmark backends: cloudless itself and the peers it is measured against.
 * Peers are optional packages, imported on demand; a missing one is reported as
 * unavailable, never fatal.
 */
import { readFile } from 'node:fs/promises';
import { CloudlessError, Tensor, type Graph } from '../ir/index.js';
import { Session } from '../runtime/session.js';
import type { ModelFormat } from '../runtime/load.js';

export interface BenchModel {
  /** Path of the model file as given. */
  path: string;
  format: ModelFormat;
  bytes: Uint8Array;
  graph: Graph;
  /** The feeds every backend runs on (same values everywhere). */
  feeds: Record<string, Tensor>;
}

export interface PreparedBackend {
  run(): Promise<unknown> | unknown;
  arenaBytes?: number;
  dispose?(): Promise<void> | void;
}

export interface BenchBackend {
  name: string;
  /** Formats this backend reads. */
  formats: readonly ModelFormat[];
  /** Loads the model; throws BackendUnavailable when the peer is not installed. */
  prepare(model: BenchModel, threads: number): Promise<PreparedBackend>;
}

export class BackendUnavailable extends Error {}

function cloudlessBackend(name: string, backend: 'ref' | 'auto'): BenchBackend {
  return {
    name,
    formats: ['onnx', 'tflite', 'tfjs'],
    async prepare(model) {
      const shapes = Object.fromEntries(Object.entries(model.feeds).map(([k, t]) => [k, [...t.shape]]));
      const session = new Session(model.graph, { backend, inputShapes: shapes });
      return { run: () => session.runSync(model.feeds), arenaBytes: session.memory.arenaBytes };
    },
  };
}

const onnxruntimeNode: BenchBackend = {
  name: 'onnxruntime-node',
  formats: ['onnx'],
  async prepare(model, threads) {
    let ort: typeof import('onnxruntime-node');
    try {
      ort = await import('onnxruntime-node');
    } catch {
      throw new BackendUnavailable('onnxruntime-node is not installed (npm install -D onnxruntime-node with onnxruntime-node-install=skip in .npmrc)');
    }
    const session = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const feeds = Object.fromEntries(Object.entries(model.feeds).map(([k, t]) => [k, toOrt(ort, t)]));
    return { run: () => session.run(feeds), dispose: () => session.release() };
  },
};

function toOrt(ort: typeof import('onnxruntime-node'), t: Tensor) {
  const type = t.dtype === 'bool' ? 'bool' : t.dtype === 'float64' ? 'float64' : t.dtype;
  return new ort.Tensor(type as 'float32', t.data as Float32Array, [...t.shape]);
}

/** Every backend cloudless knows, by name. */
export const BENCH_BACKENDS: Record<string, BenchBackend> = {
  'cloudless': cloudlessBackend('cloudless', 'auto'),
  'cloudless-ref': cloudlessBackend('cloudless-ref', 'ref'),
  'onnxruntime-node': onnxruntimeNode,
};

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${path}: ${(err as Error).message}`, { file: path });
  }
}

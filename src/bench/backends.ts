/**
 * Benchmark backends: cloudless itself and the peers it is measured against.
 * Peers are optional packages, imported on demand; a missing one is reported as
 * unavailable, never fatal. Each backend runs the model in the format it reads
 * (ONNX for onnxruntime, .tflite for LiteRT.js, a TF.js graph model for TF.js),
 * all on the same input values.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CloudlessError, Tensor, type Graph } from '../ir/index.js';
import { Session } from '../runtime/session.js';
import type { ModelFormat } from '../runtime/load.js';
import { LiteRtUnavailable, compileLiteRt } from './litert.js';

/** float32, int8, or TFLite's 16x8 scheme (int16 activations, int8 weights). */
export type BenchDtype = 'float32' | 'int8' | '16x8';

/** A TF.js graph model in memory: the parsed model.json and its weight shards concatenated in manifest order. */
export interface TfjsParts {
  json: Record<string, unknown>;
  data: Uint8Array;
}

/** A .tflite file for LiteRT.js, with a note when it is not the file as given. */
export interface TfliteCandidate {
  bytes: Uint8Array;
  note?: string;
}

/** An ONNX model for onnxruntime, with a note when it is not the file as given. */
export interface OnnxCandidate {
  bytes: Uint8Array;
  note?: string;
}

/** One variant (dtype) of the model under test, in every form the backends read. */
export interface BenchModel {
  /** Path of the model file as given. */
  path: string;
  /** Format of the file as given. */
  format: ModelFormat;
  dtype: BenchDtype;
  /** The canonical graph cloudless runs. */
  graph: Graph;
  /** The feeds every backend runs on (same values everywhere), by graph input name. */
  feeds: Record<string, Tensor>;
  /**
   * The ONNX model onnxruntime runs: the source file when it is this variant,
   * else the graph as cloudless exports it (built on first call; throws when
   * the export fails). Absent when there is no ONNX form.
   */
  onnx?(): OnnxCandidate;
  /** The TF.js graph model when this variant exists as one (the float source). */
  tfjs?: TfjsParts;
  /** .tflite files to try in order: the source file first when it is one, then the graph as cloudless writes it. */
  tflite(): TfliteCandidate[];
  /** The file cloudless loads for this variant (the source, or the int8 .tflite written from it): what a cold start reads. */
  source?: ModelFile;
}

/** A model file on disk, or bytes to write to one with this extension. */
export type ModelFile = { file: string } | { bytes: Uint8Array; ext: string };

export interface PreparedBackend {
  run(): Promise<unknown> | unknown;
  arenaBytes?: number;
  /** How the model was brought to this backend, when that is worth a footnote. */
  note?: string;
  /** The model file this backend read, for a cold start of the same in a child process (see cold-start.ts). */
  coldFile?: ModelFile;
  dispose?(): Promise<void> | void;
}

export interface BenchBackend {
  name: string;
  /** Family, for colours in charts: backends of one family share a hue. */
  family: 'cloudless' | 'onnxruntime' | 'tfjs' | 'litert';
  /** Loads the model; throws BackendUnavailable when the peer is missing or cannot read this variant. */
  prepare(model: BenchModel, threads: number): Promise<PreparedBackend>;
}

/**
 * The backend cannot run this model: the peer is not installed (`missing`), or
 * it does not read this model's format or dtype (`n/a`).
 */
export class BackendUnavailable extends Error {
  constructor(message: string, readonly reason: 'missing' | 'n/a' = 'missing') {
    super(message);
  }
}

function cloudlessBackend(name: string, backend: 'ref' | 'auto'): BenchBackend {
  return {
    name,
    family: 'cloudless',
    async prepare(model, threads) {
      const shapes = Object.fromEntries(Object.entries(model.feeds).map(([k, t]) => [k, [...t.shape]]));
      // The reference kernels run on one thread whatever `threads` is; the wasm kernels split over the pool.
      const session = new Session(model.graph, { backend, inputShapes: shapes, threads });
      return { run: () => session.runSync(model.feeds), arenaBytes: session.memory.arenaBytes, ...(model.source ? { coldFile: model.source } : {}) };
    },
  };
}

/** Imports an optional peer package; BackendUnavailable when it is not installed. */
export async function importPeer<T>(pkg: string, hint: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new BackendUnavailable(`${pkg} is not installed (${hint})`);
    throw err;
  }
}

function onnxModel(model: BenchModel, backend: string): OnnxCandidate {
  if (!model.onnx) throw new BackendUnavailable(`${backend} reads ONNX; cloudless writes no ONNX from a ${model.format} model`, 'n/a');
  try {
    return model.onnx();
  } catch (err) {
    throw new BackendUnavailable(`${backend} reads ONNX; the export of this model failed: ${(err as Error).message.split('\n')[0]}`, 'n/a');
  }
}

type Ort = typeof import('onnxruntime-node');

/** Every cloudless dtype has an onnxruntime type of the same name and typed array (bool: Uint8Array). */
function toOrt(ort: Pick<Ort, 'Tensor'>, t: Tensor) {
  return new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
}

const onnxruntimeNode: BenchBackend = {
  name: 'onnxruntime-node',
  family: 'onnxruntime',
  async prepare(model, threads) {
    const { bytes, note } = onnxModel(model, 'onnxruntime-node');
    const ort = await importPeer<Ort>('onnxruntime-node', 'npm install -D onnxruntime-node, with onnxruntime-node-install=skip in .npmrc');
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const feeds = Object.fromEntries(Object.entries(model.feeds).map(([k, t]) => [k, toOrt(ort, t)]));
    return { run: () => session.run(feeds), note, dispose: () => session.release(), coldFile: { bytes, ext: '.onnx' } };
  },
};

const onnxruntimeWeb: BenchBackend = {
  name: 'onnxruntime-web',
  family: 'onnxruntime',
  async prepare(model, threads) {
    const { bytes, note } = onnxModel(model, 'onnxruntime-web');
    const ort = await importPeer<typeof import('onnxruntime-web')>('onnxruntime-web', 'npm install -D onnxruntime-web');
    // Read when its wasm initialises, i.e. before the first session of the process: later changes are ignored.
    ort.env.wasm.numThreads = threads;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const feeds = Object.fromEntries(Object.entries(model.feeds).map(([k, t]) => [k, toOrt(ort as unknown as Ort, t)]));
    return { run: () => session.run(feeds), note, dispose: () => session.release(), coldFile: { bytes, ext: '.onnx' } };
  },
};

type Tfjs = typeof import('@tensorflow/tfjs');

let tfjsWasmThreads: number | undefined;

function tfjsBackend(name: 'tfjs-wasm' | 'tfjs-cpu'): BenchBackend {
  return {
    name,
    family: 'tfjs',
    async prepare(model, threads) {
      if (!model.tfjs) {
        throw new BackendUnavailable(model.dtype === 'int8' ? `${name} runs float TF.js graph models only` : `${name} reads TF.js graph models only`, 'n/a');
      }
      const tf = await importPeer<Tfjs>('@tensorflow/tfjs', 'npm install -D @tensorflow/tfjs');
      await selectTfjsBackend(tf, name, threads);
      // Weights become tensors of the backend active at load time, so each backend loads its own copy.
      const json = model.tfjs.json as { modelTopology: object; weightsManifest: { weights: unknown[] }[]; signature?: object };
      const graphModel = await tf.loadGraphModel(tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
        weightData: model.tfjs.data.slice().buffer,
        format: 'graph-model',
        signature: json.signature,
      }));
      const inputs: Record<string, import('@tensorflow/tfjs').Tensor> = {};
      for (const [k, t] of Object.entries(model.feeds)) {
        inputs[tfjsInputName(graphModel, k)] = tf.tensor(t.data as Float32Array, [...t.shape], t.dtype === 'int32' ? 'int32' : 'float32');
      }
      const backendName = name === 'tfjs-wasm' ? 'wasm' : 'cpu';
      // execute() refuses graphs with control flow or dynamic shapes; executeAsync() runs those, at some cost per call.
      let dynamic = false;
      try {
        tf.dispose(graphModel.execute(inputs));
      } catch {
        dynamic = true;
      }
      return {
        async run() {
          // Another backend's prepare() may have switched TF.js's global backend since.
          if (tf.getBackend() !== backendName) await tf.setBackend(backendName);
          const out = dynamic ? await graphModel.executeAsync(inputs) : graphModel.execute(inputs);
          const list = Array.isArray(out) ? out : [out];
          for (const t of list) await t.data();
          tf.dispose(list);
        },
        dispose() {
          tf.dispose(Object.values(inputs));
          graphModel.dispose();
        },
        coldFile: { file: model.path.endsWith('.json') ? model.path : path.join(model.path, 'model.json') },
      };
    },
  };
}

async function selectTfjsBackend(tf: Tfjs, name: 'tfjs-wasm' | 'tfjs-cpu', threads: number): Promise<void> {
  if (name === 'tfjs-wasm') {
    const wasm = await importPeer<typeof import('@tensorflow/tfjs-backend-wasm')>('@tensorflow/tfjs-backend-wasm', 'npm install -D @tensorflow/tfjs-backend-wasm');
    // The thread count and wasm location are fixed when the wasm backend first initialises. The location is given
    // explicitly because its glue guesses it from `self` when that exists, and the LiteRT.js shims define `self`.
    if (tfjsWasmThreads === undefined) {
      wasm.setThreadsCount(threads);
      wasm.setWasmPaths(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
      tfjsWasmThreads = threads;
    }
  }
  // Production mode, as a deployment runs it: no per-op debug checks, and no advice to install tfjs-node.
  tf.enableProdMode();
  if (!(await tf.setBackend(name === 'tfjs-wasm' ? 'wasm' : 'cpu'))) throw new Error(`the TF.js ${name.slice(5)} backend failed to initialise`);
}

/** TF.js names graph inputs as in the graph def ("images:0" → "images"); cloudless keeps the signature's names. */
function tfjsInputName(model: import('@tensorflow/tfjs').GraphModel, name: string): string {
  const names = model.inputs.map((i) => i.name);
  if (names.includes(name)) return name;
  const bare = name.replace(/:0$/, '');
  return names.find((n) => n === bare || n.replace(/:0$/, '') === bare) ?? name;
}

const litert: BenchBackend = {
  name: 'litert',
  family: 'litert',
  async prepare(model, threads) {
    const candidates = model.tflite();
    const inputs = model.graph.inputs.map((n) => model.feeds[n]!);
    let lastError: unknown;
    for (const c of candidates) {
      try {
        const compiled = await compileLiteRt(c.bytes, inputs, threads);
        return { run: () => compiled.run(), note: c.note, dispose: () => compiled.delete(), coldFile: { bytes: c.bytes, ext: '.tflite' } };
      } catch (err) {
        if (err instanceof LiteRtUnavailable) throw new BackendUnavailable(err.message);
        lastError = err;
      }
    }
    throw lastError;
  },
};

/** Every backend cloudless knows, by name. */
export const BENCH_BACKENDS: Record<string, BenchBackend> = {
  'cloudless': cloudlessBackend('cloudless', 'auto'),
  'cloudless-ref': cloudlessBackend('cloudless-ref', 'ref'),
  'onnxruntime-node': onnxruntimeNode,
  'onnxruntime-web': onnxruntimeWeb,
  'tfjs-wasm': tfjsBackend('tfjs-wasm'),
  'tfjs-cpu': tfjsBackend('tfjs-cpu'),
  'litert': litert,
};

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${path}: ${(err as Error).message}`, { file: path });
  }
}

/** Reads a TF.js model.json and its weight shards, for the TF.js backends. */
export async function readTfjsParts(modelJson: string): Promise<TfjsParts> {
  const json = JSON.parse(new TextDecoder().decode(await readBytes(modelJson))) as Record<string, unknown>;
  const manifest = (json.weightsManifest ?? []) as { paths: string[] }[];
  const shards: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) shards.push(await readBytes(path.resolve(path.dirname(modelJson), decodeURIComponent(p))));
  }
  const data = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  let off = 0;
  for (const s of shards) { data.set(s, off); off += s.length; }
  return { json, data };
}

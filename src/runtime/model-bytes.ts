/**
 * The host-independent half of loading: bytes (or a TF.js model's text and a
 * shard reader) → a canonical graph → a Session. load.ts adds Node's file
 * reading on top; the browser entry adds fetch and File objects.
 */
import { CloudlessError, type Graph } from '../ir/index.js';
import { optimizeForInference } from '../passes/optimize.js';
import { wasmAvailable } from '../kernels/wasm/heap.js';
import { MAX_THREADS, startThreads } from '../kernels/wasm/threads.js';
import { defaultRegistry } from './builtins.js';
import { Session, type SessionOptions } from './session.js';

export type ModelFormat = 'onnx' | 'tflite' | 'tfjs';

function extensionOf(fileName: string): string {
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/** Guesses a model's format from its bytes (and its file name when bytes are ambiguous). */
export function detectFormat(bytes: Uint8Array, fileName?: string): ModelFormat {
  if (bytes.length >= 8 && String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!) === 'TFL3') return 'tflite';
  const ext = fileName ? extensionOf(fileName) : '';
  if (ext === '.json') return 'tfjs';
  if (ext === '.tflite') return 'tflite';
  if (ext === '.onnx') return 'onnx';
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b) return 'tfjs';
  // An ONNX ModelProto starts with a protobuf key: field 1 (ir_version, varint) is the usual first byte.
  if (bytes[0] === 0x08) return 'onnx';
  throw new CloudlessError('E_FORMAT', `${fileName ?? 'model bytes'}: not a model cloudless can read (expected .onnx, .tflite or a TF.js model.json)`, {
    file: fileName,
  });
}

/** Where the weight shards of a TF.js model.json come from, by the manifest's (decoded) path. */
export type ShardReader = (shardPath: string) => Promise<Uint8Array>;

export interface BytesSource {
  bytes: Uint8Array;
  /** Names the model in errors; its extension helps detect the format. */
  name?: string;
  format?: ModelFormat;
  /** Needed for a TF.js model.json: reads the weight files it names. */
  readShard?: ShardReader;
}

/**
 * Imports a model held in memory (no inference rewrites yet: see
 * graphFromBytes). Each format's importer is loaded when a model of that
 * format first comes: a process that loads a .tflite never reads the ONNX
 * importer and its protobuf runtime (a shorter cold start).
 */
export async function importModelBytes(src: BytesSource): Promise<Graph> {
  const { bytes, name } = src;
  const fmt = src.format ?? detectFormat(bytes, name);
  switch (fmt) {
    case 'onnx': {
      const [{ importOnnx }, { optimizeLayout }, { foldQdq }] = await Promise.all([
        import('../formats/onnx/import.js'), import('../passes/layout.js'), import('../passes/qdq-fold.js'),
      ]);
      const g = importOnnx(bytes, name);
      optimizeLayout(g);
      foldQdq(g, defaultRegistry);
      return g;
    }
    case 'tflite': {
      const { importTflite } = await import('../formats/tflite/import.js');
      return importTflite(bytes, name);
    }
    case 'tfjs': {
      if (!src.readShard) {
        throw new CloudlessError('E_CONFIG', `${name ?? 'model.json'}: a TF.js graph model needs its weight files as well as model.json`, {
          file: name, hint: 'load it from its path (Node), its URL, or with the .bin files beside it',
        });
      }
      const { importTfjsText } = await import('../formats/tfjs/import.js');
      return importTfjsText(new TextDecoder().decode(bytes), src.readShard, name);
    }
  }
}

/** A model in memory → the canonical graph with the inference rewrites applied. */
export async function graphFromBytes(src: BytesSource): Promise<Graph> {
  const graph = await importModelBytes(src);
  optimizeForInference(graph);
  return graph;
}

/** A model in memory → a Session ready to run. */
export async function loadBytes(src: BytesSource, options: SessionOptions = {}): Promise<Session> {
  const graph = await graphFromBytes(src);
  // Workers start here, not in prepare: a page's Web Workers start only once it yields.
  const t = options.threads;
  if (t !== undefined && Number.isInteger(t) && t > 1 && t <= MAX_THREADS && wasmAvailable()) await startThreads(t);
  return new Session(graph, options);
}

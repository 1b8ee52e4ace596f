import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudlessError, type Graph } from '../ir/index.js';
import { importOnnx } from '../formats/onnx/import.js';
import { importTflite } from '../formats/tflite/import.js';
import { importTfjs } from '../formats/tfjs/import.js';
import { optimizeLayout } from '../passes/layout.js';
import { foldQdq } from '../passes/qdq-fold.js';
import { defaultRegistry } from './builtins.js';
import { optimizeForInference } from '../passes/optimize.js';
import { Session, type SessionOptions } from './session.js';

export type ModelFormat = 'onnx' | 'tflite' | 'tfjs';

/**
 * A model whose files were already read into memory (and checked, e.g. by
 * sha256 against the zoo manifest): load() parses these very bytes and reads
 * from disk only files the map does not hold (a TF.js shard of a model nobody
 * checked). Keys are absolute paths; `path` is the entry file.
 */
export interface ModelBytes { path: string; files: ReadonlyMap<string, Uint8Array> }

export type ModelSource = string | Uint8Array | ModelBytes;

const isModelBytes = (s: ModelSource): s is ModelBytes => typeof s === 'object' && !(s instanceof Uint8Array);

/** Guesses a model's format from its bytes (and its file name when bytes are ambiguous). */
export function detectFormat(bytes: Uint8Array, fileName?: string): ModelFormat {
  if (bytes.length >= 8 && String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!) === 'TFL3') return 'tflite';
  const ext = fileName ? path.extname(fileName).toLowerCase() : '';
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

/**
 * Reads a model file of any supported format into a canonical graph, with the
 * layout pass (ONNX) and the inference rewrites (BatchNormalization folding,
 * activation fusion) applied.
 */
export async function readModel(source: ModelSource, format?: ModelFormat): Promise<Graph> {
  const graph = await importModel(source, format);
  optimizeForInference(graph);
  return graph;
}

async function importModel(source: ModelSource, format?: ModelFormat): Promise<Graph> {
  let bytes: Uint8Array;
  let name: string | undefined;
  let readShard: ((file: string) => Promise<Uint8Array>) | undefined;
  if (isModelBytes(source)) {
    name = source.path;
    const entry = source.files.get(path.resolve(source.path));
    if (!entry) throw new CloudlessError('E_INTERNAL', `model bytes for ${source.path} do not hold the entry file`);
    bytes = entry;
    readShard = async (file) => source.files.get(path.resolve(file)) ?? new Uint8Array(await readFile(file));
  } else if (typeof source === 'string') {
    name = source;
    try {
      const st = await stat(source);
      if (st.isDirectory()) {
        const json = path.join(source, 'model.json');
        return await importTfjs(json);
      }
      bytes = new Uint8Array(await readFile(source));
    } catch (err) {
      if (err instanceof CloudlessError) throw err;
      throw new CloudlessError('E_FILE', `cannot read model ${source}: ${(err as Error).message}`, { file: source });
    }
  } else {
    bytes = source;
  }
  const fmt = format ?? detectFormat(bytes, name);
  switch (fmt) {
    case 'onnx': {
      const g = importOnnx(bytes, name);
      optimizeLayout(g);
      foldQdq(g, defaultRegistry);
      return g;
    }
    case 'tflite': return importTflite(bytes, name);
    case 'tfjs': {
      if (!name) throw new CloudlessError('E_CONFIG', 'a TF.js graph model loads from the path of its model.json (its weights are separate files)');
      return readShard ? importTfjs(name, readShard) : importTfjs(name);
    }
  }
}

/**
 * Resource limits relative to this machine: the arena (and any one tensor)
 * may take a quarter of its memory, one tensor at most 2^30 elements (or a
 * quarter of the arena limit in float32 elements, if smaller). A model
 * asking for more is refused at plan time (E_LIMIT) instead of swapping the
 * machine to death.
 */
export function machineLimits(totalBytes = os.totalmem(), env: NodeJS.ProcessEnv = {}): { maxTensorElements: number; maxArenaBytes: number } {
  const mb = Number(env['CLOUDLESS_MAX_ARENA_MB']);
  const maxArenaBytes = mb > 0 ? Math.floor(mb * 2 ** 20) : Math.floor(totalBytes / 4);
  const el = Number(env['CLOUDLESS_MAX_TENSOR_ELEMENTS']);
  return { maxArenaBytes, maxTensorElements: el > 0 ? Math.floor(el) : Math.min(2 ** 30, Math.floor(maxArenaBytes / 4)) };
}

/**
 * Loads a model and prepares it to run:
 *
 *   const session = await load('model.onnx');
 *   const out = await session.run({ input: new Tensor('float32', [1, 3, 224, 224], pixels) });
 */
export async function load(source: ModelSource, options: SessionOptions & { format?: ModelFormat } = {}): Promise<Session> {
  const graph = await readModel(source, options.format);
  // CLOUDLESS_MAX_ARENA_MB / CLOUDLESS_MAX_TENSOR_ELEMENTS (set by the CLI's --max-arena-mb / --max-tensor-elements) override the machine defaults.
  const machine = machineLimits(os.totalmem(), process.env);
  return new Session(graph, {
    ...options,
    maxTensorElements: options.maxTensorElements ?? machine.maxTensorElements,
    maxArenaBytes: options.maxArenaBytes ?? machine.maxArenaBytes,
  });
}

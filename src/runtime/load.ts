/**
 * Node's model loading: a path (a file, or a TF.js model folder / model.json
 * with its weight files beside it) or bytes. The work past reading the files is
 * model-bytes.ts, which the browser entry shares.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudlessError, type Graph } from '../ir/index.js';
import { optimizeForInference } from '../passes/optimize.js';
import { shardPath } from '../formats/tfjs/read-file.js';
import { importModelBytes, type ModelFormat } from './model-bytes.js';
import { Session, type SessionOptions } from './session.js';

export { detectFormat, type ModelFormat } from './model-bytes.js';

/**
 * A model whose files were already read into memory (and checked, e.g. by
 * sha256 against the zoo manifest): load() parses these very bytes and reads
 * from disk only files the map does not hold (a TF.js shard of a model nobody
 * checked). Keys are absolute paths; `path` is the entry file.
 */
export interface ModelBytes { path: string; files: ReadonlyMap<string, Uint8Array> }

export type ModelSource = string | Uint8Array | ModelBytes;

const isModelBytes = (s: ModelSource): s is ModelBytes => typeof s === 'object' && !(s instanceof Uint8Array);

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
  if (source instanceof Uint8Array) return importModelBytes({ bytes: source, format });
  if (isModelBytes(source)) {
    const file = path.resolve(source.path);
    const bytes = source.files.get(file);
    if (!bytes) throw new CloudlessError('E_INTERNAL', `model bytes for ${source.path} do not hold the entry file`);
    const dir = path.dirname(file);
    return importModelBytes({
      bytes, name: source.path, format,
      readShard: async (p) => {
        const shard = shardPath(dir, p, source.path);
        return source.files.get(shard) ?? new Uint8Array(await readFile(shard));
      },
    });
  }
  let file = source;
  let bytes: Uint8Array;
  try {
    if ((await stat(source)).isDirectory()) file = path.join(source, 'model.json');
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read model ${source}: ${(err as Error).message}`, { file: source });
  }
  const dir = path.dirname(file);
  return importModelBytes({
    bytes, name: file, format,
    readShard: async (p) => new Uint8Array(await readFile(shardPath(dir, p, file))),
  });
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

/**
 * Node's model loading: a path (a file, or a TF.js model folder / model.json
 * with its weight files beside it) or bytes. The work past reading the files is
 * model-bytes.ts, which the browser entry shares.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CloudlessError, type Graph } from '../ir/index.js';
import { optimizeForInference } from '../passes/optimize.js';
import { importModelBytes, type ModelFormat } from './model-bytes.js';
import { Session, type SessionOptions } from './session.js';

export { detectFormat, type ModelFormat } from './model-bytes.js';

/**
 * Reads a model file of any supported format into a canonical graph, with the
 * layout pass (ONNX) and the inference rewrites (BatchNormalization folding,
 * activation fusion) applied.
 */
export async function readModel(source: string | Uint8Array, format?: ModelFormat): Promise<Graph> {
  const graph = await importModel(source, format);
  optimizeForInference(graph);
  return graph;
}

async function importModel(source: string | Uint8Array, format?: ModelFormat): Promise<Graph> {
  if (typeof source !== 'string') return importModelBytes({ bytes: source, format });
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
    readShard: async (p) => new Uint8Array(await readFile(path.resolve(dir, p))),
  });
}

/**
 * Loads a model and prepares it to run:
 *
 *   const session = await load('model.onnx');
 *   const out = await session.run({ input: new Tensor('float32', [1, 3, 224, 224], pixels) });
 */
export async function load(source: string | Uint8Array, options: SessionOptions & { format?: ModelFormat } = {}): Promise<Session> {
  const graph = await readModel(source, options.format);
  return new Session(graph, options);
}

/**
 * Model loading in a page, from what a page has: bytes, a same-origin URL, or
 * the File objects of a file input or a drop (a TF.js model is model.json plus
 * its .bin files, so it takes a list). Everything past fetching the bytes is
 * the engine's own loader (runtime/model-bytes.ts).
 */
import { CloudlessError } from '../ir/index.js';
import { loadBytes, type ModelFormat } from '../runtime/model-bytes.js';
import type { Session, SessionOptions } from '../runtime/session.js';
import { sameOriginUrl } from './origin.js';

export type ModelSource =
  | Uint8Array
  | ArrayBuffer
  /** A URL on the page's origin (TF.js: the model.json; its shards are fetched beside it). */
  | string
  | URL
  /** One .onnx/.tflite file, or a model.json with its weight files. */
  | File
  | readonly File[]
  | FileList;

export type BrowserLoadOptions = SessionOptions & { format?: ModelFormat };

async function fetchBytes(url: URL): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot fetch ${url.pathname}: ${(err as Error).message}`, { file: url.pathname });
  }
  if (!res.ok) throw new CloudlessError('E_FILE', `cannot fetch ${url.pathname}: HTTP ${res.status}`, { file: url.pathname });
  return new Uint8Array(await res.arrayBuffer());
}

const MODEL_EXT = /\.(onnx|tflite|json)$/i;

function pickModelFile(files: readonly File[]): File {
  const models = files.filter((f) => MODEL_EXT.test(f.name));
  if (models.length !== 1) {
    throw new CloudlessError('E_CONFIG', `expected one model file (.onnx, .tflite or model.json) among ${files.map((f) => f.name).join(', ') || 'no files'}, found ${models.length}`, {
      hint: 'give a TF.js model as its model.json together with the .bin files it names',
    });
  }
  return models[0]!;
}

/** Loads a model into a Session that runs in this page (call initWasm() first for the SIMD kernels). */
export async function loadModel(source: ModelSource, options: BrowserLoadOptions = {}): Promise<Session> {
  const { format, ...sessionOptions } = options;
  if (source instanceof Uint8Array) return loadBytes({ bytes: source, format }, sessionOptions);
  if (source instanceof ArrayBuffer) return loadBytes({ bytes: new Uint8Array(source), format }, sessionOptions);
  if (typeof source === 'string' || source instanceof URL) {
    const url = sameOriginUrl(source, 'model');
    return loadBytes({
      bytes: await fetchBytes(url), name: url.pathname, format,
      readShard: (p) => fetchBytes(sameOriginUrl(new URL(p, url), `weights of ${url.pathname}`)),
    }, sessionOptions);
  }
  const files: File[] = source instanceof File ? [source] : [...source];
  const model = pickModelFile(files);
  const byName = new Map(files.map((f) => [f.name, f]));
  return loadBytes({
    bytes: new Uint8Array(await model.arrayBuffer()), name: model.name, format,
    readShard: async (p) => {
      // A dropped file has no folder: a shard is matched by its base name.
      const f = byName.get(p.slice(p.lastIndexOf('/') + 1));
      if (!f) throw new Error(`not among the given files (${[...byName.keys()].join(', ')})`);
      return new Uint8Array(await f.arrayBuffer());
    },
  }, sessionOptions);
}

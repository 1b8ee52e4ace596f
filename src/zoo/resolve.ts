import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';
import { ZOO, findModel, getModel, type ModelManifest } from './manifest.js';
import { type StoreOptions, openModel, readBytes, readVerified, sha256Bytes } from './store.js';

export interface ResolvedModel {
  /** The entry file's path (for names and messages). */
  path: string;
  /** What to give load(): the bytes that were read, and hashed, once. */
  model: { path: string; files: Map<string, Uint8Array> };
  /** The zoo entry, when the model is a zoo name or a file whose hash is a zoo model's. */
  manifest?: ModelManifest;
}

/**
 * Turns a zoo name or a model path into a verified path to load. A path whose
 * sha256 equals a zoo model's entry file is recognised as that model (so a copied
 * centernet.json keeps its labels and decoder), and its companion files beside it
 * are verified too. Anything else is an unknown model: the caller must say how to
 * use it.
 */
export async function resolveModel(nameOrPath: string, opts: StoreOptions = {}): Promise<ResolvedModel> {
  const zoo = findModel(nameOrPath);
  if (zoo) {
    const opened = await openModel(zoo, opts);
    return { path: opened.files[0]!, model: opened.model, manifest: zoo };
  }
  const looksLikePath = /[\\/.]/.test(nameOrPath);
  if (!looksLikePath || !existsSync(nameOrPath)) {
    if (looksLikePath) throw new CloudlessError('E_FILE', `model file ${nameOrPath} not found`, { file: nameOrPath });
    getModel(nameOrPath);
  }
  const file = statSync(nameOrPath).isDirectory() ? path.join(nameOrPath, 'model.json') : nameOrPath;
  const entry = await readBytes(file);
  const hash = sha256Bytes(entry);
  const files = new Map<string, Uint8Array>([[path.resolve(file), entry]]);
  const manifest = ZOO.find((m) => m.files[0]!.sha256 === hash);
  if (manifest) {
    for (const f of manifest.files.slice(1)) {
      const companion = path.join(path.dirname(file), path.basename(f.path));
      files.set(path.resolve(companion), await readVerified(companion, f, manifest.name));
    }
  }
  return { path: file, model: { path: path.resolve(file), files }, manifest };
}

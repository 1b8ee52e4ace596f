import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { CloudlessError } from '../ir/index.js';
import { ZOO, findModel, getModel, type ModelManifest } from './manifest.js';
import { type StoreOptions, openModel, sha256File, verifyFile } from './store.js';

export interface ResolvedModel {
  /** What to give load(). */
  path: string;
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
  if (zoo) return { path: (await openModel(zoo, opts)).files[0]!, manifest: zoo };
  const looksLikePath = /[\\/.]/.test(nameOrPath);
  if (!looksLikePath || !existsSync(nameOrPath)) {
    if (looksLikePath) throw new CloudlessError('E_FILE', `model file ${nameOrPath} not found`, { file: nameOrPath });
    getModel(nameOrPath);
  }
  const file = statSync(nameOrPath).isDirectory() ? path.join(nameOrPath, 'model.json') : nameOrPath;
  const hash = await sha256File(file);
  const manifest = ZOO.find((m) => m.files[0]!.sha256 === hash);
  if (manifest) {
    for (const f of manifest.files.slice(1)) await verifyFile(path.join(path.dirname(file), path.basename(f.path)), f, manifest.name);
  }
  return { path: file, manifest };
}

/** Node's file reading for the TF.js importer (import.ts itself takes text and a shard reader, so it also runs in a page). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudlessError, type Graph } from '../../ir/index.js';
import { importTfjsText } from './import.js';

/** Reads `model.json` and the weight shards it names (paths relative to the json's folder). */
export async function importTfjs(modelJsonPath: string): Promise<Graph> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read TF.js model ${modelJsonPath}: ${(err as Error).message}`, { file: modelJsonPath, cause: err });
  }
  const dir = path.dirname(modelJsonPath);
  return importTfjsText(text, async (p) => new Uint8Array(await readFile(shardPath(dir, p, modelJsonPath))), modelJsonPath);
}

/**
 * Where a TF.js weight shard named in model.json lives: inside the model's folder, never
 * outside it (a `../../` path in a hostile model.json would read other files as weights).
 */
export function shardPath(dir: string, shard: string, modelJson: string): string {
  const p = path.resolve(dir, shard);
  const rel = path.relative(dir, p);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new CloudlessError('E_FORMAT', `${modelJson}: weight shard ${shard} is outside the model's folder`, {
      file: modelJson, hint: 'a TF.js model.json names its .bin files relative to its own folder',
    });
  }
  return p;
}

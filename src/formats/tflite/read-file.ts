/** Node's file reading for the TFLite importer (import.ts itself takes bytes, so it also runs in a page). */
import { readFileSync } from 'node:fs';
import { CloudlessError, type Graph } from '../../ir/index.js';
import { importTflite } from './import.js';

/** Reads and imports a .tflite file. */
export function readTfliteFile(path: string): Graph {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { file: path, cause: err });
  }
  return importTflite(bytes, path);
}

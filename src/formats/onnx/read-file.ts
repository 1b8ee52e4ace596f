/** Node's file reading for the ONNX importer (import.ts itself takes bytes, so it also runs in a page). */
import { readFileSync } from 'node:fs';
import { CloudlessError, type Graph } from '../../ir/index.js';
import { importOnnx } from './import.js';

/** Reads and imports an ONNX file; errors name the path. */
export function readOnnxFile(path: string): Graph {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CloudlessError('E_FILE', `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { file: path, cause: err });
  }
  return importOnnx(bytes, path);
}

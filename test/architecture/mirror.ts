import { readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/data.js';

/**
 * test/ mirrors src/: a test of src/a/b.ts lives in test/a/, so every folder of test/ names a folder
 * of src/. These top-level folders of test/ are the exceptions, because what they hold is not about
 * one folder of src/:
 */
export const CROSS_CUTTING: Readonly<Record<string, string>> = {
  architecture: 'checks on the shape of the whole tree (import layering, this mirror)',
  conformance: 'the ONNX backend node tests, run through load, passes, planner and every kernel at once',
  oracle: 'whole models and op sets compared with peer runtimes (LiteRT.js, onnxruntime-node, TFLM)',
  security: 'the findings of the security review (issue 21), each crossing the CLI, pipeline, runtime and zoo',
  helpers: 'shared test code (data paths, case generators, the LiteRT.js runner), no tests of its own',
  setup: "vitest's global set-up and per-file set-up, no tests of its own",
};

/** Every folder below `dir`, relative to it, with '/' separators. */
export function foldersBelow(dir: string, rel = '', acc: string[] = []): string[] {
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    acc.push(r);
    foldersBelow(dir, r, acc);
  }
  return acc;
}

/** The folders of test/ that have no folder of the same path in src/ and are not cross-cutting. */
export function unmirroredTestFolders(testFolders: readonly string[], srcFolders: readonly string[]): string[] {
  const src = new Set(srcFolders);
  return testFolders.filter((f) => !(f.split('/')[0]! in CROSS_CUTTING) && !src.has(f)).sort();
}

export const TEST = path.join(repoRoot, 'test');
export const SRC_DIR = path.join(repoRoot, 'src');

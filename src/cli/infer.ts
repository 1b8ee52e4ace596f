import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudlessError, shapeToString, type Int8Arithmetic, type Tensor } from '../ir/index.js';
import { parseNpy, serializeNpy } from '../formats/npy.js';
import { load } from '../runtime/load.js';
import type { BackendChoice } from '../runtime/session.js';

export interface InferOptions {
  inputs: string[];
  out?: string;
  backend?: BackendChoice;
  /** Threads for the wasm kernels (the session option; default 1). */
  threads?: number;
  int8Arithmetic?: Int8Arithmetic;
}

export interface InferResult {
  model: string;
  ms: number;
  outputs: { name: string; dtype: string; shape: number[]; file?: string; min?: number; max?: number; mean?: number }[];
}

/** Turns an output name into a file name that is safe on every file system. */
export function fileSafeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_');
  return safe.length ? safe.slice(0, 180) : 'output';
}

export async function runInfer(model: string, opts: InferOptions): Promise<InferResult> {
  const session = await load(model, { backend: opts.backend, int8Arithmetic: opts.int8Arithmetic, threads: opts.threads });
  const feeds: Record<string, Tensor> = {};
  for (const spec of opts.inputs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new CloudlessError('E_CONFIG', `--input "${spec}" must look like NAME=FILE.npy`);
    const name = spec.slice(0, eq), file = spec.slice(eq + 1);
    let bytes: Uint8Array;
    try { bytes = new Uint8Array(await readFile(file)); }
    catch (err) { throw new CloudlessError('E_FILE', `cannot read input file ${file}: ${(err as Error).message}`, { file }); }
    feeds[name] = parseNpy(bytes, file);
  }
  if (opts.inputs.length === 0) {
    throw new CloudlessError('E_CONFIG', `no inputs given; the model takes ${session.inputs.map((i) => `${i.name} (${i.dtype} ${shapeToString(i.shape)})`).join(', ')}`, {
      hint: 'pass --input NAME=FILE.npy for each input',
    });
  }
  const t0 = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - t0;
  if (opts.out) await mkdir(opts.out, { recursive: true });
  const result: InferResult = { model, ms, outputs: [] };
  const used = new Set<string>();
  for (const [name, t] of Object.entries(out)) {
    const entry: InferResult['outputs'][number] = { name, dtype: t.dtype, shape: [...t.shape] };
    if (t.size > 0 && t.dtype !== 'int64') {
      const v = t.data as Float32Array;
      let min = Infinity, max = -Infinity, sum = 0;
      for (let i = 0; i < v.length; i++) { const x = v[i]!; if (x < min) min = x; if (x > max) max = x; sum += x; }
      Object.assign(entry, { min, max, mean: sum / v.length });
    }
    if (opts.out) {
      let base = fileSafeName(name);
      while (used.has(base)) base += '_';
      used.add(base);
      entry.file = path.join(opts.out, `${base}.npy`);
      await writeFile(entry.file, serializeNpy(t));
    }
    result.outputs.push(entry);
  }
  return result;
}

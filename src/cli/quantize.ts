/**
 * `cloudless quantize <model> --calib <dir> -o <out.tflite>`: post-training int8
 * quantization of a float model, with a report of what it cost and bought. A
 * shell over quantizeModel (src/quantize/workflow.ts): this file reads the
 * sample folders, draws the progress bars, writes the bytes and prints.
 *
 * The written model is the one the report describes: the .tflite bytes are
 * loaded back with the TFLite importer and run before anything is written, and
 * held-out samples are compared through that reloaded model. A model that
 * cannot be loaded back and run is never written.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CloudlessError } from '../ir/index.js';
import { keepOutputs } from '../passes/keep-outputs.js';
import {
  type QuantizeChoices,
  type QuantizedModel,
  type QuantizeModelOptions,
  quantizeModel,
  type WorkflowStage,
} from '../quantize/workflow.js';
import { readModel } from '../runtime/load.js';
import { Session } from '../runtime/session.js';
import { loadLabels, loadSampleFolder, preprocessSpecFor } from '../tasks/samples.js';
import type { PreprocessSpec } from '../tasks/vision/preprocess.js';
import { formatBytes, pc, table } from './output.js';

export interface QuantizeCommandOptions extends QuantizeChoices {
  calib: string;
  out: string;
  labels?: string;
  eval?: string;
  preprocess?: string;
  json?: boolean;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

/** What `cloudless quantize` reports (--json prints it): the workflow's report, with the files and their sizes. */
export interface QuantizeSummary extends Omit<QuantizedModel, 'bytes' | 'calibration'> {
  model: string;
  output: string;
  calibration: QuantizedModel['calibration'] & { skipped: string[] };
  size: { floatBytes: number; int8Bytes: number; ratio: number };
}

/** Bytes of a model on disk: the file, or a TF.js model.json and the weight files it lists. */
async function modelBytes(file: string): Promise<number> {
  const st = await stat(file);
  const json = st.isDirectory() ? path.join(file, 'model.json') : file;
  if (!json.toLowerCase().endsWith('.json')) return st.size;
  let total = (await stat(json)).size;
  const manifest = JSON.parse(await readFile(json, 'utf8')) as { weightsManifest?: { paths?: string[] }[] };
  for (const group of manifest.weightsManifest ?? []) {
    for (const p of group.paths ?? []) total += (await stat(path.join(path.dirname(json), p))).size;
  }
  return total;
}

function parsePreprocess(text: string | undefined): Partial<PreprocessSpec> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Partial<PreprocessSpec>;
  } catch (err) {
    throw new CloudlessError('E_CONFIG', `--preprocess must be a JSON object of preprocessing fields: ${(err as Error).message}`, {
      hint: 'e.g. --preprocess \'{"normalize":{"mean":[127.5,127.5,127.5],"std":[127.5,127.5,127.5]}}\'',
    });
  }
}

function progressBar(enabled: boolean, label: string): { tick(done: number, total: number): void; stop(): void } {
  if (!enabled) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} {bar} {value}/{total}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    tick(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Stage names as the progress bars label them. */
const STAGE_LABELS: Record<WorkflowStage, string> = {
  calibrating: 'calibrating',
  rounding: 'rounding   ',
  comparing: 'comparing  ',
  minmax: 'minmax     ',
  percentile: 'percentile ',
  layers: 'layers     ',
};

/** Reads the sample folders, quantizes (src/quantize/workflow.ts), writes the bytes, and reports. */
export async function runQuantize(model: string, o: QuantizeCommandOptions): Promise<QuantizeSummary> {
  const ext = path.extname(o.out).toLowerCase();
  if (ext !== '.tflite' && ext !== '.onnx') {
    throw new CloudlessError(
      'E_CONFIG',
      `-o ${o.out}: the quantized model is written as .tflite (int8 TFLite) or .onnx (QDQ); give a file name ending in one of them`,
    );
  }
  const format = ext === '.onnx' ? 'onnx' : 'tflite';
  if ((o.activations ?? 'int8') === 'int16' && format === 'onnx') {
    throw new CloudlessError('E_CONFIG', `-o ${o.out}: 16x8 models (--activations int16) are written as .tflite only`, {
      hint: 'give a file name ending in .tflite',
    });
  }
  const floatGraph = await readModel(model);
  if (o.outputs?.length) keepOutputs(floatGraph, o.outputs);
  const floatSession = new Session(floatGraph, { backend: o.backend, int8Arithmetic: o.int8Arithmetic });
  const overrides = parsePreprocess(o.preprocess);
  const spec = (folderInputs: Session['inputs']) => {
    try {
      return preprocessSpecFor(folderInputs[0]!, overrides);
    } catch {
      return undefined;
    }
  };
  const calibFolder = await loadSampleFolder(o.calib, floatSession.inputs, spec(floatSession.inputs));
  let evaluation: QuantizeModelOptions['evaluation'];
  let labels: number[] | undefined;
  if (o.eval) {
    const samples = (await loadSampleFolder(o.eval, floatSession.inputs, spec(floatSession.inputs))).samples;
    evaluation = { samples, labels: o.labels ? await loadLabels(o.labels, samples) : undefined };
  } else if (o.labels) {
    labels = await loadLabels(o.labels, calibFolder.samples);
  }
  const showProgress = o.progress ?? process.stderr.isTTY === true;
  const bars = new Map<WorkflowStage, ReturnType<typeof progressBar>>();
  const q = await quantizeModel(
    model,
    {
      calibration: calibFolder.samples,
      labels,
      evaluation,
      format,
      method: o.method,
      percentile: o.percentile,
      rounding: o.rounding,
      io: o.io,
      activations: o.activations,
      keepFloat: o.keepFloat,
      keepFloatFirst: o.keepFloatFirst,
      outputs: o.outputs,
      sensitivity: o.sensitivity,
      backend: o.backend,
      int8Arithmetic: o.int8Arithmetic,
      floatSession,
      onProgress: (stage, done, total) => {
        let bar = bars.get(stage);
        if (!bar) {
          bar = progressBar(showProgress, STAGE_LABELS[stage]);
          bars.set(stage, bar);
        }
        bar.tick(done, total);
      },
      onStageEnd: (stage) => {
        bars.get(stage)?.stop();
        bars.delete(stage);
      },
    },
    o.out,
  );
  await writeFile(o.out, q.bytes);
  const floatBytes = await modelBytes(model);
  const { candidates, ...method } = q.calibration;
  return {
    model,
    output: o.out,
    calibration: { ...method, skipped: calibFolder.skipped, ...(candidates ? { candidates } : {}) },
    evaluation: q.evaluation,
    format: q.format,
    activations: q.activations,
    size: { floatBytes, int8Bytes: q.bytes.length, ratio: floatBytes / q.bytes.length },
    rewrites: q.rewrites,
    int8Nodes: q.int8Nodes,
    quantizeNodes: q.quantizeNodes,
    dequantizeNodes: q.dequantizeNodes,
    fallback: q.fallback,
    comparison: q.comparison,
    ...(q.sensitivity ? { sensitivity: q.sensitivity } : {}),
  };
}

function parsePercentile(v: string): number {
  const p = Number(v);
  if (!(p > 50 && p <= 100)) throw new InvalidArgumentError('must be a number in (50, 100]');
  return p;
}

export function printQuantizeSummary(s: QuantizeSummary): string {
  const lines: string[] = [];
  const c = s.comparison;
  lines.push(`${pc.bold(s.model)} → ${pc.bold(s.output)}`);
  lines.push(`size ${formatBytes(s.size.floatBytes)} → ${formatBytes(s.size.int8Bytes)} (${s.size.ratio.toFixed(2)}x smaller)`);
  lines.push(
    `calibration: ${s.calibration.samples} samples, ${s.calibration.method}${s.calibration.percentile ? ` ${s.calibration.percentile}` : ''}` +
      `${s.calibration.rounding === 'gptq' ? ', GPTQ weight rounding' : ''}; ` +
      `evaluation: ${s.evaluation.samples} ${s.evaluation.heldOut ? 'held-out' : 'calibration (too few to hold any out)'} samples`,
  );
  const cands = s.calibration.candidates;
  if (cands) {
    const unit = s.comparison.quality ? 'top-1 %' : 'mean cosine to float';
    lines.push(
      `--method auto kept ${s.calibration.method}: ${cands.map((c) => `${c.method} ${c.score.toFixed(s.comparison.quality ? 2 : 5)}`).join(', ')} (${unit} on the evaluation samples)`,
    );
  }
  const r = s.rewrites;
  const rewrites = [
    [r.batchNormsFolded, 'BatchNorm folded'],
    [r.activationsFused, 'activations fused'],
    [r.fullyConnected, 'Gemm/MatMul → FullyConnected'],
    [r.hardSwish, 'hard-swish patterns fused'],
    [r.hardSigmoid, 'HardSigmoid spelled out'],
    [r.scalesFolded, 'scale Muls folded'],
    [r.biasAddsFolded, 'bias Adds folded'],
    [r.equalizedPairs, 'layer pairs equalized'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`);
  if (rewrites.length) lines.push(`rewrites: ${rewrites.join(', ')}`);
  lines.push(
    `${s.int8Nodes} ${s.activations === 'int16' ? '16x8 (int16 activations, int8 weights)' : 'int8'} nodes, ${s.quantizeNodes} QUANTIZE and ${s.dequantizeNodes} DEQUANTIZE inserted`,
  );
  lines.push(
    table(
      ['output', 'mean cosine', 'min cosine', 'max abs error'],
      c.outputs.map((x) => [x.name, x.meanCosine.toFixed(5), x.minCosine.toFixed(5), x.maxAbs.toPrecision(4)]),
      ['l', 'r', 'r', 'r'],
    ),
  );
  const scheme = s.activations === 'int16' ? '16x8' : 'int8';
  if (c.quality)
    lines.push(
      `top-1 accuracy on ${c.quality.samples} samples: float ${c.quality.float.toFixed(2)} %, ${scheme} ${c.quality.int8.toFixed(2)} %`,
    );
  lines.push(
    `latency (median of ${c.latency.runs}, side by side): float ${c.latency.floatMs.toFixed(2)} ms, ${scheme} ${c.latency.int8Ms.toFixed(2)} ms (${c.latency.speedup.toFixed(2)}x)` +
      (s.activations === 'int16' ? '; 16x8 pools, mean, concat and activations still run on the reference kernels' : ''),
  );
  if (s.fallback.length) {
    lines.push(pc.yellow(`${s.fallback.length} node(s) stay in float:`));
    lines.push(
      table(
        ['node', 'op', 'reason'],
        s.fallback.map((f) => [f.node, f.op, f.reason]),
      ),
    );
  }
  if (s.sensitivity?.length) {
    lines.push(`layers int8 hurts most (each quantized alone, on the ${s.evaluation.samples} evaluation samples):`);
    lines.push(
      table(
        ['node', 'op', 'min cosine', 'max abs error'],
        s.sensitivity.map((l) => [l.node, l.op, l.minCosine.toFixed(5), l.maxAbs.toPrecision(4)]),
        ['l', 'l', 'r', 'r'],
      ),
    );
    lines.push(
      `to keep the worst in float: --keep-float ${s.sensitivity
        .slice(0, 3)
        .map((l) => l.node)
        .join(' ')}`,
    );
  }
  const worst = Math.min(...c.outputs.map((x) => x.minCosine));
  if (worst < 0.95) {
    lines.push(
      pc.yellow(
        `warning: an output's cosine to float falls to ${worst.toFixed(3)} on the evaluation samples. More varied calibration ` +
          `samples help; so does keeping the layers int8 hurts most in float (--sensitivity lists them, --keep-float keeps them)` +
          `${s.calibration.candidates ? '' : ', or --method auto'}.`,
      ),
    );
  }
  return lines.join('\n');
}

export function registerQuantizeCommand(program: Command): void {
  program
    .command('quantize')
    .description('quantize a float model to int8 (.tflite) from calibration samples, and report size, error, accuracy and latency')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .requiredOption(
      '--calib <dir>',
      'folder of calibration images or .npy tensors (every fifth is held out for the report unless --eval is given)',
    )
    .requiredOption('-o, --out <file>', 'where to write the int8 model: .tflite (int8 TFLite) or .onnx (QDQ, for onnxruntime)')
    .addOption(
      new Option(
        '--method <name>',
        'how ranges are taken from calibration: min/max, percentiles, or auto (both, keeping the one closer to float on the evaluation samples)',
      )
        .choices(['minmax', 'percentile', 'auto'])
        .default('auto'),
    )
    .option('--percentile <p>', 'for --method percentile: share of values kept on each side, in percent', parsePercentile, 99.99)
    .addOption(
      new Option(
        '--rounding <how>',
        "weight rounding: nearest, or gptq (each layer's rounding errors compensated on the calibration data; slower calibration)",
      )
        .choices(['nearest', 'gptq'])
        .default('nearest'),
    )
    .option(
      '--labels <file>',
      'class labels of the samples (.npy of integers, or text: one per line or "file label") to report top-1 accuracy',
    )
    .option('--eval <dir>', 'folder of held-out samples for the report (default: every fifth calibration sample)')
    .addOption(
      new Option(
        '--io <type>',
        "type of the quantized model's inputs and outputs (int8: the quantized type, int16 with --activations int16)",
      )
        .choices(['float32', 'int8'])
        .default('float32'),
    )
    .addOption(
      new Option(
        '--activations <type>',
        "activation type: int8, or int16 (TFLite's 16x8 scheme: int8 weights, int16 activations, for models that 8-bit activations hurt; .tflite only, runs on the reference kernels)",
      )
        .choices(['int8', 'int16'])
        .default('int8'),
    )
    .option('--keep-float <name...>', 'node or op names to leave in float (e.g. the first conv, or Softmax)')
    .option('--keep-float-first <n>', 'also leave the first n nodes in graph order (the stem) in float', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of nodes');
      return n;
    })
    .option(
      '--sensitivity [n]',
      'also rank the layers by the error int8 causes in each alone, and list the worst n (default 10)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
        return n;
      },
    )
    .option('--outputs <name...>', "values to keep as the model's outputs, dropping what follows them (e.g. a detector's post-processing)")
    .option('--preprocess <json>', 'image preprocessing fields to override, as JSON (width, height, layout, channels, resize, normalize)')
    .option('--json', 'print JSON')
    .addOption(new Option('--backend <name>', 'kernels to use').choices(['auto', 'ref', 'wasm']).default('auto'))
    .addOption(
      new Option('--int8-arithmetic <mode>', 'int8 arithmetic to match bit for bit')
        .choices(['tflite-xnnpack', 'tflite-reference'])
        .default('tflite-xnnpack'),
    )
    .action(async (model: string, o: QuantizeCommandOptions) => {
      const summary = await runQuantize(model, o);
      process.stdout.write(o.json ? `${JSON.stringify(summary, null, 2)}\n` : `${printQuantizeSummary(summary)}\n`);
    });
}

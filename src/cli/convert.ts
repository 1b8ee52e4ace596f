/**
 * `cloudless convert <model> -o <out.onnx|out.tflite>`: writes any model
 * cloudless loads (ONNX, TFLite, TF.js) in an open format another runtime
 * reads, float or int8. Before writing, the converted bytes are loaded back and
 * run on a seeded random input next to the source: a file that does not give
 * the source's outputs is not written.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { benchFeeds, graphDtype } from '../bench/run.js';
import { exportOnnx } from '../formats/onnx/export.js';
import { writeTflite } from '../formats/tflite/writer.js';
import { CloudlessError, type Tensor } from '../ir/index.js';
import { readModel } from '../runtime/load.js';
import { Session } from '../runtime/session.js';
import { formatBytes, parseShapes, table } from './output.js';

export interface ConvertOptions {
  out: string;
  inputShape?: string[];
  json?: boolean;
}

export interface ConvertSummary {
  model: string;
  output: string;
  format: 'onnx' | 'tflite';
  dtype: 'float32' | 'int8' | '16x8';
  bytes: number;
  /** Per output: the largest difference from the source model on the check input (float: absolute; int8: in steps of the scale). */
  outputs: { name: string; maxAbsDiff: number; unit: 'value' | 'lsb'; range: number }[];
}

/**
 * How far a converted model may be from its source on the check input. Float:
 * 1e-4 of the output's range (both run our kernels; only summation order and
 * layout differ). int8: 0 LSB, except 1 through ONNX, whose QDQ form requantizes
 * residual Adds in float where TFLite's integer Add rounds its own way.
 */
function allowed(dtype: ConvertSummary['dtype'], format: ConvertSummary['format'], range: number): number {
  if (dtype !== 'float32') return format === 'onnx' ? 1 : 0;
  return 1e-4 * Math.max(range, 1e-6);
}

function compare(name: string, a: Tensor, b: Tensor): ConvertSummary['outputs'][number] {
  const x = a.toFloat32(), y = b.toFloat32();
  if (x.length !== y.length) {
    throw new CloudlessError('E_INTERNAL', `output "${name}" has ${y.length} elements after conversion, ${x.length} before`);
  }
  let diff = 0, lo = Infinity, hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    lo = Math.min(lo, x[i]!);
    hi = Math.max(hi, x[i]!);
  }
  const scale = a.dtype === 'int8' ? a.quant?.scale[0] ?? 1 : 1;
  const lsb = a.dtype === 'int8';
  return { name, maxAbsDiff: lsb ? Math.round(diff / scale) : diff, unit: lsb ? 'lsb' : 'value', range: lsb ? (hi - lo) / scale : hi - lo };
}

export async function runConvert(model: string, o: ConvertOptions): Promise<ConvertSummary> {
  const ext = path.extname(o.out).toLowerCase();
  if (ext !== '.onnx' && ext !== '.tflite') {
    throw new CloudlessError('E_CONFIG', `-o ${o.out}: cloudless writes .onnx and .tflite; give a file name ending in one of them`);
  }
  const format = ext === '.onnx' ? 'onnx' : 'tflite';
  const inputShapes = parseShapes(o.inputShape ?? []);
  const graph = await readModel(model);
  const dtype = graphDtype(graph);
  const bytes = format === 'onnx'
    ? exportOnnx(graph, { inputShapes, producer: `cloudless (converted from ${path.basename(model)})` })
    : writeTflite(graph, { inputShapes, description: `converted by cloudless from ${path.basename(model)}` });

  const source = new Session(graph, { inputShapes });
  let converted: Session;
  try {
    converted = new Session(await readModel(bytes, format), { inputShapes });
  } catch (err) {
    const e = err instanceof CloudlessError ? err : new CloudlessError('E_INTERNAL', String(err));
    throw new CloudlessError(e.code, `the converted model could not be loaded back, so ${o.out} was not written: ${e.message}`, { node: e.node, hint: e.hint, cause: err });
  }
  const feeds = benchFeeds(graph, inputShapes, 7);
  const want = source.runSync(feeds);
  const kept: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(want)) kept[k] = t.clone();
  // The writers keep the order of inputs and outputs; names may change (ONNX needs unique, legal ones).
  const got = converted.runSync(Object.fromEntries(converted.inputs.map((info, i) => [info.name, feeds[graph.inputs[i]!]!])));
  const outputs = graph.outputs.map((name, i) => compare(name, kept[name]!, got[converted.outputs[i]!.name]!));
  for (const r of outputs) {
    const limit = allowed(dtype, format, r.range);
    if (!(r.maxAbsDiff <= limit)) {
      throw new CloudlessError('E_INTERNAL', `the converted model differs from ${model} on output "${r.name}" by ${r.maxAbsDiff}${r.unit === 'lsb' ? ' LSB' : ''} (allowed ${limit}), so ${o.out} was not written`);
    }
  }
  await writeFile(o.out, bytes);
  return { model, output: o.out, format, dtype, bytes: bytes.length, outputs };
}

export function printConvertSummary(s: ConvertSummary): string {
  return [
    `${s.model} → ${s.output} (${s.format}, ${s.dtype}, ${formatBytes(s.bytes)})`,
    'checked against the source on a random input:',
    table(['output', 'max difference', 'output range'], s.outputs.map((r) => [
      r.name, r.unit === 'lsb' ? `${r.maxAbsDiff} LSB` : r.maxAbsDiff.toPrecision(3), r.unit === 'lsb' ? `${r.range} LSB` : r.range.toPrecision(4),
    ]), ['l', 'r', 'r']),
  ].join('\n');
}

export function registerConvertCommand(program: Command): void {
  program.command('convert')
    .description('write a model (ONNX, TFLite or TF.js; float or int8) as .onnx or .tflite, checked against the source before it is written')
    .argument('<model>', '.onnx, .tflite or TF.js model.json')
    .requiredOption('-o, --out <file>', 'the converted model: .onnx (opset 13, int8 as QDQ) or .tflite')
    .option('--input-shape <NAME=AxBxC...>', 'shape for an input with symbolic dimensions (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON')
    .action(async (model: string, o: ConvertOptions) => {
      const s = await runConvert(model, o);
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${printConvertSummary(s)}\n`);
    });
}

/**
 * `cloudless robustness <model> <images...>`: how often the model's decision
 * changes when the images are perturbed (noise, blur, brightness, JPEG quality,
 * occluding patches), per perturbation and strength, as a table, JSON or an SVG
 * chart. `--also` measures further models on the same perturbed images, side by
 * side (a quantized copy beside the float model); `--like` borrows a zoo
 * model's input spec, decoder and labels for a model file outside the zoo.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { type BarPanel, type LegendEntry, renderBarChart, writeChart } from '../bench/chart.js';
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice } from '../runtime/session.js';
import { type Classifier, createClassifier } from '../tasks/vision/classifier.js';
import type { DetectionDecoder } from '../tasks/vision/decode-detections.js';
import { type Detector, createDetector } from '../tasks/vision/detector.js';
import type { PreprocessSpec } from '../tasks/vision/preprocess.js';
import {
  PERTURBATION_KINDS, type PerturbationKind, type PerturbationSet, type RobustnessReport, defaultPerturbations,
  parsePerturbations, robustnessReport,
} from '../tasks/vision/robustness.js';
import { getModel, type ModelManifest } from '../zoo/manifest.js';
import { resolveModel } from '../zoo/resolve.js';
import { type ExitCodeSink, backendOption, collectImages, parseThreshold, resizeOption, setProcessExitCode } from './detect.js';
import { EXIT, pc, table } from './output.js';

export interface RobustnessCommandOptions {
  also: string[];
  like?: string;
  perturb: string[];
  seed: number;
  margin: number;
  matchIou: number;
  threshold?: number;
  json?: boolean;
  chart?: string;
  backend: BackendChoice;
  resize?: PreprocessSpec['interpolation'];
}

const DETECT = new Set(['detect']);
const CLASSIFY = new Set(['classify', 'text-direction']);

/** A detector or classifier for `model`, its spec from the zoo (by name or hash) or from `--like`. */
export async function openTarget(model: string, o: Pick<RobustnessCommandOptions, 'like' | 'threshold' | 'backend' | 'resize'>): Promise<Detector | Classifier> {
  const manifest: ModelManifest | undefined = o.like ? getModel(o.like) : (await resolveModel(model)).manifest;
  if (!manifest) {
    throw new CloudlessError('E_CONFIG', `model ${model} is not in the zoo, so how to feed and decode it is unknown`, {
      file: model, hint: 'pass --like <zoo model> (e.g. --like centernet for a quantized CenterNet) to use that model\'s input spec, decoder and labels',
    });
  }
  if (o.like && (DETECT.has(manifest.task) || CLASSIFY.has(manifest.task))) {
    // The model file is used as it is; the zoo entry only says how to feed it and read its output.
    const borrowed = manifest;
    if (DETECT.has(borrowed.task)) {
      return createDetector(model, {
        input: borrowed.input, decoder: borrowed.decoder as DetectionDecoder, labels: borrowed.labels,
        threshold: o.threshold, backend: o.backend, interpolation: o.resize,
      });
    }
    return createClassifier(model, {
      input: borrowed.input, labels: borrowed.labels, softmax: borrowed.decoder?.kind === 'topk' ? borrowed.decoder.softmax : false,
      backend: o.backend, interpolation: o.resize,
    });
  }
  if (DETECT.has(manifest.task)) return createDetector(model, { threshold: o.threshold, backend: o.backend, interpolation: o.resize });
  if (CLASSIFY.has(manifest.task)) return createClassifier(model, { backend: o.backend, interpolation: o.resize });
  throw new CloudlessError('E_CONFIG', `model ${manifest.name} is a ${manifest.task} model: robustness measures image detectors and classifiers`, {
    hint: 'use a detector (centernet, nanodet) or a classifier (person_detect, paddleocr-cls)',
  });
}

const pct = (r: number): string => `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}%`;

/** The table: one row per perturbation and strength, a column group per model. */
export function robustnessTable(reports: readonly RobustnessReport[]): string {
  const detect = reports.some((r) => r.task === 'detect');
  const headers = ['perturbation', ...reports.flatMap((r) => detect ? [`${r.model} changed`, 'lost', 'gained'] : [`${r.model} changed`])];
  const rows = reports[0]!.rows.map((row, i) => [row.label, ...reports.flatMap((r) => {
    const x = r.rows[i]!;
    const cell = `${pct(x.rate)} (${x.changed}/${x.trials})`;
    return detect ? [cell, x.lost ?? '', x.gained ?? ''] : [cell];
  })]);
  return table(headers, rows, ['l', ...headers.slice(1).map(() => 'r' as const)]);
}

const MODEL_COLOURS = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce'];

/** Bar panels for the chart: one per kind, a group of bars (one per model) per strength, on a shared scale. */
export function robustnessPanels(reports: readonly RobustnessReport[]): { panels: BarPanel[]; legend: LegendEntry[] } {
  const first = reports[0]!;
  const top = Math.max(...reports.flatMap((r) => r.rows.map((x) => x.rate * 100)));
  const max = top <= 10 ? 10 : top <= 25 ? 25 : top <= 50 ? 50 : 100;
  const kinds = PERTURBATION_KINDS.filter((k) => first.rows.some((x) => x.kind === k));
  const what = first.task === 'detect' ? 'a confident detection lost or gained' : 'top-1 class changed';
  const panels = kinds.map((kind: PerturbationKind): BarPanel => ({
    title: kind,
    detail: kind === 'occlusion' ? 'grey square, side a share of the shorter side, at 9 positions' : kind === 'blur' ? 'σ in model-input pixels' : undefined,
    axisLabel: `decisions changed, % of trials (${what})`,
    scale: 'linear',
    max,
    groupSize: reports.length,
    bars: first.rows.flatMap((row, i) => row.kind !== kind ? [] : reports.map((r, m) => {
      const x = r.rows[i]!;
      return {
        label: m === 0 ? row.label.replace(/^\S+ /, '') : '', sublabel: reports.length > 1 ? r.model : undefined,
        value: x.rate * 100, colour: MODEL_COLOURS[m % MODEL_COLOURS.length]!, text: `${pct(x.rate)}`, note: `${x.changed}/${x.trials}`,
      };
    })),
  }));
  return { panels, legend: reports.map((r, m) => ({ label: r.model, colour: MODEL_COLOURS[m % MODEL_COLOURS.length]! })) };
}

export async function runRobustness(model: string, targets: string[], o: RobustnessCommandOptions): Promise<number> {
  const files: string[] = [];
  for (const t of targets) files.push(...(await collectImages(t)).files);
  const sets: PerturbationSet[] = o.perturb.length > 0 ? parsePerturbations(o.perturb) : defaultPerturbations();
  if (o.chart !== undefined && !/\.svg$/i.test(o.chart)) throw new CloudlessError('E_CONFIG', `--chart ${o.chart} must end in .svg (a .png is written beside it)`);
  const names = [model, ...o.also];
  // Open every model before the long measurement starts, so a bad --also fails at once.
  const opened: (Detector | Classifier)[] = [];
  for (const name of names) opened.push(await openTarget(name, o));
  const tasks = new Set(opened.map((t) => ('detect' in t ? 'detect' : 'classify')));
  if (tasks.size > 1) throw new CloudlessError('E_CONFIG', `models ${names.join(', ')} mix detectors and classifiers; compare models of one task`);
  const bar = process.stderr.isTTY && !o.json
    ? new cliProgress.SingleBar({ stream: process.stderr, format: '{bar} {value}/{total} runs  {model} {file}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  const reports: RobustnessReport[] = [];
  try {
    for (const [i, target] of opened.entries()) {
      bar?.start(1, 0, { model: target.model, file: '' });
      reports.push(await robustnessReport(target, files, {
        perturbations: sets, seed: o.seed, margin: o.margin, matchIou: o.matchIou,
        onProgress: (done, total, image) => { bar?.setTotal(total); bar?.update(done, { model: names[i], file: path.basename(image) }); },
      }));
      bar?.stop();
    }
  } finally {
    bar?.stop();
  }
  // A model file is named by its path; the table and chart want its file name.
  for (const r of reports) if (/[\\/]/.test(r.model)) r.model = path.basename(r.model);
  let chart: { svg: string; png: string } | undefined;
  if (o.chart) {
    const { panels, legend } = robustnessPanels(reports);
    const images = reports[0]!.images.length;
    const r0 = reports[0]!;
    const subtitle = `${images} image${images === 1 ? '' : 's'}, seed ${o.seed}` +
      (r0.task === 'detect' ? `; confident = score ≥ ${(r0.threshold! + r0.margin!).toFixed(2)} (threshold ${r0.threshold} + margin ${r0.margin}), same object = label and IoU ≥ ${r0.matchIou}` : '');
    chart = await writeChart(o.chart, renderBarChart(panels, { title: `robustness: ${reports.map((r) => r.model).join(' vs ')}`, subtitle, legend }));
  }
  const failures = reports.flatMap((r) => r.failures.map((f) => ({ model: r.model, ...f })));
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ reports, ...(chart ? { chart } : {}) })}\n`);
  } else {
    const r0 = reports[0]!;
    process.stdout.write(`${pc.bold('robustness')}  ${reports.map((r) => r.model).join(' vs ')}  ${r0.images.length} images, ${reports.reduce((n, r) => n + r.runs, 0)} runs\n`);
    if (r0.task === 'detect') {
      process.stdout.write(`  changed = a detection scoring ≥ ${(r0.threshold! + r0.margin!).toFixed(2)} lost or gained (same object: label and IoU ≥ ${r0.matchIou})\n`);
    } else {
      process.stdout.write('  changed = top-1 class differs from the unperturbed image\n');
    }
    process.stdout.write(`${robustnessTable(reports)}\n`);
    for (const f of failures) process.stderr.write(`${pc.red('error')} ${f.model}: ${f.error.code}: ${f.error.message}\n`);
    if (chart) process.stdout.write(`chart: ${chart.svg} (and ${chart.png})\n`);
  }
  return failures.length > 0 ? EXIT.partial : EXIT.ok;
}

function parseNumber(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
}

export function registerRobustnessCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('robustness')
    .description('how often a model\'s decision changes under noise, blur, brightness, JPEG and occlusion')
    .argument('<model>', 'zoo detector or classifier, or a model file (with --like for one outside the zoo)')
    .argument('<images...>', 'image files or folders')
    .option('--also <model>', 'another model measured on the same perturbed images, side by side (repeat for several)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--like <zoo-model>', 'for model files outside the zoo: feed and decode them as this zoo model')
    .option('--perturb <kind[=s,...]>', `what to measure (repeat; default all of ${PERTURBATION_KINDS.join(', ')} at their default strengths)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--seed <n>', 'seed of the noise', parseNumber(0, 2 ** 31), 1)
    .option('--margin <score>', 'detection: confident = threshold + margin', parseNumber(0, 0.99), 0.1)
    .option('--match-iou <iou>', 'detection: same object = same label and at least this IoU', parseNumber(0.01, 1), 0.5)
    .option('-t, --threshold <score>', 'detection: minimum score, 0..1 (default: the model\'s)', parseThreshold)
    .option('--json', 'print the reports as one JSON object')
    .option('--chart <file.svg>', 'draw the report as an SVG bar chart (and a PNG beside it)')
    .addOption(resizeOption())
    .addOption(backendOption())
    .action(async (model: string, images: string[], o: RobustnessCommandOptions) => {
      setExitCode(await runRobustness(model, images, o));
    });
}

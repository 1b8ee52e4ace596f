import { existsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice } from '../runtime/session.js';
import type { Detection } from '../tasks/vision/detection.js';
import { type Detector, createDetector } from '../tasks/vision/detector.js';
import { drawDetections } from '../tasks/vision/draw.js';
import { DEFAULT_MAX_DECODED_PIXELS, decodeImage } from '../tasks/vision/image.js';
import type { PreprocessSpec } from '../tasks/vision/preprocess.js';
import { RESIZE_METHODS } from '../tasks/vision/resize.js';
import { pc, EXIT, table } from './output.js';
import { type TrackCommandOptions, VIDEO_EXTENSIONS, runTrack } from './track.js';

/** How a command reports its exit code to main() (default: process.exitCode). */
export type ExitCodeSink = (code: number) => void;
export const setProcessExitCode: ExitCodeSink = (code) => { process.exitCode = Math.max(Number(process.exitCode ?? 0), code); };

/** The files to process: the file itself, or a folder's visible files (not recursive), sorted by name. */
export async function collectImages(target: string): Promise<{ files: string[]; folder: boolean }> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(target);
  } catch {
    throw new CloudlessError('E_FILE', `${target}: no such file or folder`, { file: target });
  }
  if (!st.isDirectory()) return { files: [target], folder: false };
  const entries = await readdir(target, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const file = path.join(target, e.name);
    if (e.isFile()) { files.push(file); continue; }
    if (!e.isSymbolicLink()) continue;
    // A symlinked image is followed; one that leads nowhere or to a folder is skipped with a word, not in silence.
    const to = await stat(file).catch(() => undefined);
    if (to?.isFile()) files.push(file);
    else process.stderr.write(`${pc.yellow('skipped')} ${file}: symbolic link to ${to ? 'a folder' : 'nothing (broken)'}\n`);
  }
  files.sort();
  if (files.length === 0) throw new CloudlessError('E_FILE', `folder ${target} holds no files`, { file: target });
  return { files, folder: true };
}

export interface ImageFailure { image: string; error: { code: string; message: string } }

export function failureOf(image: string, err: unknown): ImageFailure {
  if (err instanceof CloudlessError) return { image, error: { code: err.code, message: err.message } };
  return { image, error: { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) } };
}

/**
 * Runs `work` on every file in turn, keeping going past failures. A progress bar
 * goes to stderr, only for folders and only when stderr is a terminal, so piped
 * output stays clean.
 */
export async function forEachImage(files: string[], folder: boolean, work: (file: string) => Promise<void>, onError: (f: ImageFailure) => void): Promise<number> {
  const bar = folder && process.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: process.stderr, format: '{bar} {value}/{total} {file}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(files.length, 0, { file: '' });
  let failed = 0;
  try {
    for (const file of files) {
      bar?.update({ file: path.basename(file) });
      try {
        await work(file);
      } catch (err) {
        failed++;
        onError(failureOf(file, err));
      }
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }
  return failed;
}

export function parseThreshold(v: string): number {
  const t = Number(v);
  if (!(t >= 0 && t <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return t;
}

export function printFailure(f: ImageFailure, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(f)}\n`);
  else process.stderr.write(`${pc.red('error')} ${f.error.code}: ${f.error.message}\n`);
}

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

export function detectionJson(d: Detection): { label: string; score: number; box: number[] } {
  return { label: d.label, score: round(d.score, 4), box: d.box.map((v) => round(v, 1)) };
}

export function detectionTable(detections: readonly Detection[]): string {
  if (detections.length === 0) return '  (nothing above the threshold)';
  return table(['label', 'score', 'x1', 'y1', 'x2', 'y2'],
    detections.map((d) => [d.label, d.score.toFixed(2), ...d.box.map((v) => Math.round(v))]), ['l', 'r', 'r', 'r', 'r', 'r']);
}

/** Annotated images are drawn at most this wide or tall, so a huge photo does not need a huge RGB buffer. */
const MAX_ANNOTATED_SIDE = 2048;

/** Draws detections on the image; images too large to decode whole are drawn on a shrunken copy with scaled boxes. */
export async function writeAnnotated(image: string, width: number, height: number, detections: readonly Detection[], out: string): Promise<void> {
  if (width * height <= DEFAULT_MAX_DECODED_PIXELS) return drawDetections(image, detections, out);
  const small = await decodeImage(image, { resize: { width: MAX_ANNOTATED_SIDE, height: MAX_ANNOTATED_SIDE, fit: 'inside' } });
  const sx = small.width / width, sy = small.height / height;
  const scaled = detections.map((d) => ({ ...d, box: [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy] as Detection['box'] }));
  return drawDetections(small, scaled, out);
}

/** Where the annotated copy of `image` goes: `out` itself for one image, or a file in the `out` folder. */
function annotatedPath(image: string, out: string, outIsDir: boolean): string {
  if (!outIsDir) return out;
  const ext = path.extname(image).toLowerCase();
  const keep = ext === '.png' || ext === '.jpg' || ext === '.jpeg';
  return path.join(out, keep ? path.basename(image) : `${path.basename(image)}.jpg`);
}

export interface DetectCommandOptions {
  model: string;
  threshold?: number;
  out?: string;
  json?: boolean;
  backend: BackendChoice;
  threads?: number;
  resize?: PreprocessSpec['interpolation'];
}

export async function runDetect(target: string, o: DetectCommandOptions): Promise<number> {
  const { files, folder } = await collectImages(target);
  const outIsDir = o.out !== undefined && (folder || o.out.endsWith('/') || o.out.endsWith(path.sep) || (existsSync(o.out) && (await stat(o.out)).isDirectory()));
  if (o.out !== undefined && !outIsDir && !/\.(png|jpe?g)$/i.test(o.out)) {
    throw new CloudlessError('E_CONFIG', `--out ${o.out} must end in .jpg, .jpeg or .png (or name a folder)`);
  }
  const detector: Detector = await createDetector(o.model, { threshold: o.threshold, backend: o.backend, threads: o.threads, interpolation: o.resize });
  if (outIsDir) await mkdir(o.out!, { recursive: true });
  const failed = await forEachImage(files, folder, async (file) => {
    const r = await detector.detect(file);
    let annotated: string | undefined;
    if (o.out !== undefined) {
      annotated = annotatedPath(file, o.out, outIsDir);
      await writeAnnotated(file, r.width, r.height, r.detections, annotated);
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify({
        image: file, model: detector.model, ms: round(r.ms, 1), width: r.width, height: r.height,
        detections: r.detections.map(detectionJson), ...(annotated ? { annotated } : {}),
      })}\n`);
    } else {
      process.stdout.write(`${pc.bold(file)}  ${r.width}x${r.height}  ${detector.model}  ${r.ms.toFixed(0)} ms\n${detectionTable(r.detections)}\n`);
      if (annotated) process.stdout.write(`  annotated: ${annotated}\n`);
    }
  }, (f) => printFailure(f, o.json ?? false));
  if (folder && !o.json) process.stdout.write(`${files.length - failed} of ${files.length} images processed${failed ? `, ${failed} failed` : ''}\n`);
  return failed ? EXIT.partial : EXIT.ok;
}

export const resizeOption = (): Option => new Option('--resize <method>', "resampling kernel (default: the one the zoo names for the model; lanczos3 is sharp's)")
  .choices([...RESIZE_METHODS, 'lanczos3']);

export const backendOption = (): Option => new Option('--backend <name>', 'kernels to use').choices(['auto', 'ref', 'wasm']).default('auto');

/** --threads n: the wasm kernels split large ops over n threads (same results as one). */
export const threadsOption = (): Option => new Option('--threads <n>', 'threads for the wasm kernels (same results as 1)').argParser((v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('expected an integer from 1 to 64');
  return n;
}).default(1);

export function registerDetectCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('detect')
    .description('find objects in an image or a folder of images (boxes in image pixels)')
    .argument('<image|folder>', 'an image file, or a folder whose files are all processed')
    .option('-m, --model <name|file>', 'zoo detector (centernet, nanodet) or a model file', 'centernet')
    .option('-t, --threshold <score>', 'minimum score, 0..1 (default: the model\'s)', parseThreshold)
    .option('-o, --out <file|dir>', 'write annotated images: a .jpg/.png for one image, a folder for several')
    .option('--json', 'print one JSON object per image')
    .option('--track', 'for a video: track objects across frames and print the tracks')
    .option('--labels <a,b>', 'with --track: only these labels (e.g. person)')
    .option('--line <x1,y1,x2,y2>', 'with --track: count crossings of this line (frame pixels), by direction')
    .option('--fps <n>', 'with --track: resample the video to this frame rate', Number)
    .option('--start <s>', 'with --track: start this many seconds in', Number)
    .option('--duration <s>', 'with --track: read at most this many seconds', Number)
    .addOption(resizeOption())
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (target: string, o: DetectCommandOptions & TrackCommandOptions & { track?: boolean }) => {
      if (o.track || VIDEO_EXTENSIONS.test(target)) {
        if (!o.track) throw new CloudlessError('E_CONFIG', `${target} is a video: pass --track to track objects through it`);
        await runTrack(target, o);
        return;
      }
      setExitCode(await runDetect(target, o));
    });
}

import { Command, InvalidArgumentError } from 'commander';
import type { BackendChoice } from '../runtime/session.js';
import { createClassifier } from '../tasks/vision/classifier.js';
import type { PreprocessSpec } from '../tasks/vision/preprocess.js';
import { type ExitCodeSink, backendOption, threadsOption, collectImages, resizeOption, forEachImage, printFailure, setProcessExitCode } from './detect.js';
import { pc, EXIT, table } from './output.js';

export interface ClassifyCommandOptions {
  model: string;
  top: number;
  json?: boolean;
  backend: BackendChoice;
  threads?: number;
  resize?: PreprocessSpec['interpolation'];
}

function parseTop(v: string): number {
  const k = Number(v);
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return k;
}

export async function runClassify(target: string, o: ClassifyCommandOptions): Promise<number> {
  const { files, folder } = await collectImages(target);
  const classifier = await createClassifier(o.model, { backend: o.backend, threads: o.threads, interpolation: o.resize });
  const failed = await forEachImage(files, folder, async (file) => {
    const r = await classifier.classify(file, { k: o.top });
    if (o.json) {
      process.stdout.write(`${JSON.stringify({
        image: file, model: classifier.model, ms: Number(r.ms.toFixed(1)), width: r.width, height: r.height,
        classes: r.classes.map((c) => ({ label: c.label, score: Number(c.score.toFixed(4)) })),
      })}\n`);
    } else {
      process.stdout.write(`${pc.bold(file)}  ${r.width}x${r.height}  ${classifier.model}  ${r.ms.toFixed(0)} ms\n`);
      process.stdout.write(`${table(['label', 'score'], r.classes.map((c) => [c.label, c.score.toFixed(3)]), ['l', 'r'])}\n`);
    }
  }, (f) => printFailure(f, o.json ?? false));
  if (folder && !o.json) process.stdout.write(`${files.length - failed} of ${files.length} images processed${failed ? `, ${failed} failed` : ''}\n`);
  return failed ? EXIT.partial : EXIT.ok;
}

export function registerClassifyCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('classify')
    .description('name what an image shows, best classes first')
    .argument('<image|folder>', 'an image file, or a folder whose files are all processed')
    .option('-m, --model <name|file>', 'zoo classifier (person_detect, paddleocr-cls) or a model file', 'person_detect')
    .option('-k, --top <k>', 'how many classes to show', parseTop, 5)
    .option('--json', 'print one JSON object per image')
    .addOption(resizeOption())
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (target: string, o: ClassifyCommandOptions) => {
      setExitCode(await runClassify(target, o));
    });
}

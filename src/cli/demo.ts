import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CloudlessError } from '../ir/index.js';
import type { BackendChoice } from '../runtime/session.js';
import { createDetector } from '../tasks/vision/detector.js';
import { drawDetections } from '../tasks/vision/draw.js';
import { type ExitCodeSink, backendOption, detectionJson, detectionTable, setProcessExitCode } from './detect.js';
import { pc, EXIT } from './output.js';

/** src/cli or dist/cli: the package root is two levels up, where scripts/ and .cache/ live. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLES = 'usr/share/doc/opencv-doc/examples/data';

export interface DemoEnvironment {
  /** The cache that scripts/setup-data.mjs fills ($CLOUDLESS_CACHE, else <package>/.cache). */
  cacheDir: string;
  setupScript: string;
  /** Folders that may already hold the photos, e.g. a system-wide opencv-doc install. */
  extraPhotoDirs: string[];
}

export function defaultDemoEnvironment(env: NodeJS.ProcessEnv = process.env): DemoEnvironment {
  return {
    cacheDir: env['CLOUDLESS_CACHE'] ?? path.join(packageRoot, '.cache'),
    setupScript: path.join(packageRoot, 'scripts', 'setup-data.mjs'),
    extraPhotoDirs: [path.join('/', EXAMPLES)],
  };
}

function findPhoto(env: DemoEnvironment, name: string): string | undefined {
  const dirs = [path.join(env.cacheDir, 'data', 'opencv-doc', EXAMPLES), ...env.extraPhotoDirs];
  return dirs.map((d) => path.join(d, name)).find((f) => existsSync(f));
}

/** fruits.jpg from opencv-doc, fetched with the project's setup script (apt-get download + dpkg -x) when missing. */
export function demoPhoto(env: DemoEnvironment, log: (msg: string) => void): string {
  const found = findPhoto(env, 'fruits.jpg');
  if (found) return found;
  if (!existsSync(env.setupScript)) {
    throw new CloudlessError('E_FILE', `the demo photo fruits.jpg is not in ${env.cacheDir} and the setup script ${env.setupScript} is missing`, {
      hint: 'run `cloudless detect <your photo>` instead, or set CLOUDLESS_CACHE to a folder holding data/opencv-doc',
    });
  }
  log(`fruits.jpg not found: fetching the opencv-doc sample photos with\n  ${process.execPath} ${env.setupScript} photos\n  (apt-get download opencv-doc, then dpkg -x into ${path.join(env.cacheDir, 'data')}; nothing is installed system-wide)`);
  // The script's chatter goes to stderr so --json output stays one JSON document.
  const r = spawnSync(process.execPath, [env.setupScript, 'photos'], {
    stdio: ['ignore', 2, 2], env: { ...process.env, CLOUDLESS_CACHE: env.cacheDir },
  });
  const after = findPhoto(env, 'fruits.jpg');
  if (r.status !== 0 || !after) {
    throw new CloudlessError('E_FILE', `could not fetch the demo photos: the setup script exited with ${r.status ?? r.signal ?? r.error?.message}`, {
      hint: 'apt-get must be able to download opencv-doc (a Debian/Ubuntu package source); or run `cloudless detect <your photo>`',
    });
  }
  return after;
}

export interface DemoOptions {
  out: string;
  model: string;
  json?: boolean;
  backend: BackendChoice;
}

export async function runDemo(o: DemoOptions, env: DemoEnvironment = defaultDemoEnvironment()): Promise<number> {
  const say = (msg: string): void => { process.stderr.write(`${pc.dim(msg)}\n`); };
  const photo = demoPhoto(env, say);
  if (!/\.(png|jpe?g)$/i.test(o.out)) throw new CloudlessError('E_CONFIG', `--out ${o.out} must end in .jpg, .jpeg or .png`);
  say(`loading ${o.model} (verified by sha256) ...`);
  const detector = await createDetector(o.model, { backend: o.backend });
  say(`detecting objects in ${photo} ...`);
  const r = await detector.detect(photo);
  const out = path.resolve(o.out);
  await drawDetections(photo, r.detections, out);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ image: photo, model: detector.model, ms: Number(r.ms.toFixed(1)), detections: r.detections.map(detectionJson), annotated: out })}\n`);
  } else {
    process.stdout.write(`${pc.bold('fruits.jpg')} (${r.width}x${r.height}) with ${detector.model}: ${r.detections.length} objects in ${r.ms.toFixed(0)} ms, offline\n`);
    process.stdout.write(`${detectionTable(r.detections)}\n`);
    process.stdout.write(`annotated image written to ${pc.bold(out)}\n`);
  }
  return EXIT.ok;
}

export function registerDemoCommand(program: Command, setExitCode: ExitCodeSink = setProcessExitCode): void {
  program.command('demo')
    .description('detect the fruit in opencv\'s fruits.jpg with CenterNet and write an annotated copy (fetches the photo once)')
    .option('-o, --out <file>', 'the annotated image', 'cloudless-demo.jpg')
    .option('-m, --model <name|file>', 'zoo detector or model file', 'centernet')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .action(async (o: DemoOptions) => {
      setExitCode(await runDemo(o));
    });
}

/**
 * The detect / classify / demo / models commands, run in-process through their
 * register functions the way main() wires them. CenterNet runs four times here
 * (~5 s each on the reference kernels), so the folder test packs the odd inputs
 * (not an image, a truncated JPEG, 1x1, 10000x10000) into one run.
 */
import { appendFile, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerClassifyCommand } from '../../src/cli/classify.js';
import { runDemo } from '../../src/cli/demo.js';
import { registerDetectCommand } from '../../src/cli/detect.js';
import { registerModelsCommand } from '../../src/cli/models.js';
import { EXIT, reportError } from '../../src/cli/output.js';
import { SAMPLES_MISSING, opencvSamples } from '../tasks/vision/data.js';

const samples = opencvSamples();
if (!samples) console.warn(`skipping CLI detection tests: ${SAMPLES_MISSING}`);

interface CliResult { code: number; stdout: string; stderr: string }

async function capture(fn: () => Promise<number>): Promise<CliResult> {
  let stdout = '', stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); return true; });
  try {
    return { code: await fn(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** What main() does: register the commands, parse, and turn errors into exit codes. */
function runCli(...args: string[]): Promise<CliResult> {
  return capture(async () => {
    let code: number = EXIT.ok;
    const setExitCode = (c: number): void => { code = Math.max(code, c); };
    const program = new Command().name('cloudless').exitOverride();
    program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
    registerDetectCommand(program, setExitCode);
    registerClassifyCommand(program, setExitCode);
    registerModelsCommand(program, setExitCode);
    try {
      await program.parseAsync(['node', 'cloudless', ...args]);
    } catch (e) {
      const c = (e as { code?: string }).code;
      if (typeof c === 'string' && c.startsWith('commander.')) return EXIT.usage;
      return reportError(e, args.includes('--json'));
    }
    return code;
  });
}

let tmp: string;
/** A valid 2x2 image: usage errors must be about the flag at fault, not the input. */
let image: string;
const savedHome = process.env['CLOUDLESS_HOME'];
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cloudless-cli-'));
  process.env['CLOUDLESS_HOME'] = path.join(tmp, 'home');
  image = path.join(tmp, 'small.png');
  await sharp({ create: { width: 2, height: 2, channels: 3, background: '#00ff00' } }).png().toFile(image);
});
afterAll(async () => {
  if (savedHome === undefined) delete process.env['CLOUDLESS_HOME'];
  else process.env['CLOUDLESS_HOME'] = savedHome;
  await rm(tmp, { recursive: true, force: true });
});

const jsonLines = (s: string): Record<string, unknown>[] => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('cloudless models', () => {
  it('list shows every zoo model and where it is; verify passes on the installed files', async () => {
    const list = await runCli('models', 'list', '--json');
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { name: string; available: string }[];
    expect(rows.find((r) => r.name === 'centernet')?.available).toBe('package');
    expect(rows.map((r) => r.name)).toContain('silero-vad');
    const table = await runCli('models', 'list');
    expect(table.stdout).toMatch(/centernet\s+detect\s+tfjs/);
    expect((await runCli('models', 'verify', 'centernet', 'nanodet')).code).toBe(0);
  });

  it('pull copies into $CLOUDLESS_HOME/models; a changed file is refused by detect and reported by verify', async () => {
    const pulled = await runCli('models', 'pull', 'centernet');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/centernet: pulled \(2 files/);
    const bin = path.join(tmp, 'home', 'models', 'centernet', 'centernet.bin');
    await appendFile(bin, '!');
    const verify = await runCli('models', 'verify', 'centernet');
    expect(verify.code).toBe(EXIT.partial);
    expect(verify.stdout).toMatch(/CHANGED[\s\S]*expected sha256 1b635a15[\s\S]*actual/);
    const detect = await runCli('detect', image, '--model', 'centernet');
    expect(detect.code).toBe(EXIT.usage);
    expect(detect.stderr).toMatch(/centernet\.bin has sha256 [0-9a-f]{64}, expected 1b635a15/);
    expect((await runCli('models', 'pull', 'centernet')).code).toBe(0);
    expect((await runCli('models', 'verify')).code).toBe(0);
  });

  it('pull without a name, or with an unknown one, is bad usage', async () => {
    expect((await runCli('models', 'pull')).code).toBe(EXIT.usage);
    const r = await runCli('models', 'pull', 'resnet');
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/unknown model "resnet"; the zoo has: centernet, nanodet/);
  });
});

describe('cloudless detect: usage errors', () => {
  it('unknown model, bad threshold, missing path and a bad --out are exit code 2 with a clear message', async () => {
    const unknown = await runCli('detect', image, '--model', 'yolo');
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toMatch(/unknown model "yolo"; the zoo has: centernet, nanodet, silero-vad/);
    const threshold = await runCli('detect', image, '--threshold', '1.5');
    expect(threshold.code).toBe(EXIT.usage);
    expect(threshold.stderr).toMatch(/must be a number from 0 to 1/);
    const missing = await runCli('detect', path.join(tmp, 'nope.jpg'), '--json');
    expect(missing.code).toBe(EXIT.usage);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'E_FILE' } });
    expect((await runCli('detect', image, '--out', path.join(image, 'x.gif'))).code).toBe(EXIT.usage);
    const notDetector = await runCli('detect', image, '--model', 'paddleocr-cls');
    expect(notDetector.stderr).toMatch(/text-direction model, not an object detector/);
    const empty = path.join(tmp, 'empty-folder');
    await mkdir(empty, { recursive: true });
    expect((await runCli('detect', empty)).stderr).toMatch(/empty-folder holds no files/);
  });
});

describe.skipIf(!samples)('cloudless detect / classify / demo on photos', () => {
  it('a folder with a photo, text, a truncated JPEG, a 1x1 and a 10000x10000 image: errors named, the rest processed, exit 1', async () => {
    const dir = path.join(tmp, 'mixed');
    const out = path.join(tmp, 'annotated');
    await mkdir(dir, { recursive: true });
    await copyFile(path.join(samples!, 'fruits.jpg'), path.join(dir, 'fruits.jpg'));
    await writeFile(path.join(dir, 'notes.txt'), 'not an image\n');
    const jpeg = await sharp(path.join(samples!, 'orange.jpg')).toBuffer();
    await writeFile(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ff0000' } }).png().toFile(path.join(dir, 'tiny.png'));
    await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#808080' } }).jpeg().toFile(path.join(dir, 'huge.jpg'));

    const r = await runCli('detect', dir, '--json', '--out', out);
    expect(r.code).toBe(EXIT.partial);
    const lines = jsonLines(r.stdout);
    const byName = Object.fromEntries(lines.map((l) => [path.basename(l['image'] as string), l]));
    expect(Object.keys(byName).sort()).toEqual(['fruits.jpg', 'huge.jpg', 'notes.txt', 'tiny.png', 'truncated.jpg']);
    expect(byName['notes.txt']).toMatchObject({ error: { code: 'E_IMAGE', message: expect.stringMatching(/notes\.txt: not an image/) } });
    expect(byName['truncated.jpg']).toMatchObject({ error: { code: 'E_IMAGE', message: expect.stringMatching(/truncated or corrupt/) } });
    expect(byName['tiny.png']).toMatchObject({ model: 'centernet', width: 1, height: 1 });
    expect(byName['huge.jpg']).toMatchObject({ width: 10000, height: 10000 });

    const fruits = byName['fruits.jpg'] as { model: string; ms: number; detections: { label: string; score: number; box: number[] }[] };
    expect(fruits.model).toBe('centernet');
    expect(fruits.ms).toBeGreaterThan(0);
    expect(fruits.detections.map((d) => d.label)).toEqual(expect.arrayContaining(['orange', 'apple']));
    for (const d of fruits.detections) {
      expect(d.score).toBeGreaterThanOrEqual(0.2);
      expect(d.box[0]).toBeGreaterThanOrEqual(0);
      expect(d.box[2]).toBeLessThanOrEqual(512);
      expect(d.box[3]).toBeLessThanOrEqual(480);
    }

    expect((await readdir(out)).sort()).toEqual(['fruits.jpg', 'huge.jpg', 'tiny.png']);
    expect(await sharp(path.join(out, 'fruits.jpg')).metadata()).toMatchObject({ width: 512, height: 480, format: 'jpeg' });
    // The 10000x10000 photo is annotated on a shrunken copy: no 300 MB RGB buffer.
    expect(await sharp(path.join(out, 'huge.jpg')).metadata()).toMatchObject({ width: 2048, height: 2048 });
  });

  it('classify prints a table of the top classes', async () => {
    const r = await runCli('classify', path.join(samples!, 'messi5.jpg'), '--model', 'paddleocr-cls', '--top', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/paddleocr-cls/);
    expect(r.stdout).toMatch(/label\s+score\n(0|180)\s+0\.\d{3}\n(0|180)\s+0\.\d{3}/);
  });

  it('demo fetches the photo with the setup script when missing, prints a table and writes the annotated image', async () => {
    const cacheDir = path.join(tmp, 'cache');
    // Stands in for scripts/setup-data.mjs (which runs apt-get): puts fruits.jpg where the real one extracts it.
    const setupScript = path.join(tmp, 'fake-setup.mjs');
    const dest = path.join(cacheDir, 'data/opencv-doc/usr/share/doc/opencv-doc/examples/data');
    await writeFile(setupScript, `import { cpSync, mkdirSync } from 'node:fs';
if (process.argv[2] !== 'photos') process.exit(2);
mkdirSync(${JSON.stringify(dest)}, { recursive: true });
cpSync(${JSON.stringify(path.join(samples!, 'fruits.jpg'))}, ${JSON.stringify(path.join(dest, 'fruits.jpg'))});
console.log('setup-data: opencv-doc extracted');
`);
    const out = path.join(tmp, 'cloudless-demo.jpg');
    const r = await capture(() => runDemo({ out, model: 'centernet', backend: 'auto' }, { cacheDir, setupScript, extraPhotoDirs: [] }));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/fruits\.jpg not found: fetching [\s\S]*fake-setup\.mjs photos/);
    expect(r.stdout).toMatch(/fruits\.jpg \(512x480\) with centernet: \d+ objects/);
    expect(r.stdout).toMatch(/label\s+score\s+x1\s+y1\s+x2\s+y2\n(orange|apple)\s+0\.\d\d/);
    expect(r.stdout).toContain(`annotated image written to ${out}`);
    expect(await sharp(out).metadata()).toMatchObject({ width: 512, height: 480 });
  });

  it('demo without the photo and without a setup script says what to do', async () => {
    const r = await capture(() => runDemo({ out: path.join(tmp, 'd.jpg'), model: 'centernet', backend: 'auto' },
      { cacheDir: path.join(tmp, 'empty'), setupScript: path.join(tmp, 'absent.mjs'), extraPhotoDirs: [] }).catch((e: unknown) => reportError(e)));
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/fruits\.jpg is not in .* and the setup script .* is missing/);
  });
});

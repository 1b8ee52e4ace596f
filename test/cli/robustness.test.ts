/**
 * `cloudless robustness`: the table, --json and --chart on PaddleOCR's direction
 * classifier (cheap: 48x192 input) over a rendered text line and its 180° turn,
 * and the errors a user meets (a model of another task, a file outside the zoo
 * without --like, a bad --perturb, a chart path that is not .svg).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/output.js';
import { runCli } from './helpers.js';

let tmp: string, upright: string, turned: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cloudless-robustness-'));
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="384" height="96"><rect width="384" height="96" fill="#fff"/>' +
    '<text x="12" y="66" font-family="DejaVu Sans" font-size="48" fill="#000">Hello world 42</text></svg>');
  upright = path.join(tmp, 'upright.png');
  turned = path.join(tmp, 'turned.png');
  await sharp(svg).png().toFile(upright);
  await sharp(svg).rotate(180).png().toFile(turned);
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('cloudless robustness', () => {
  it('prints a table per perturbation and strength, and writes the chart as SVG and PNG', async () => {
    const chart = path.join(tmp, 'r.svg');
    const r = await runCli(['robustness', 'paddleocr-cls', upright, turned, '--perturb', 'brightness=1,0', '--perturb', 'jpeg=90', '--chart', chart]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/robustness\s+paddleocr-cls\s+2 images, 8 runs/);
    expect(r.stdout).toMatch(/top-1 class differs/);
    expect(r.stdout).toMatch(/brightness ×1\s+0% \(0\/2\)/);
    // Black makes both lines the same picture, so exactly one of the two decisions changes.
    expect(r.stdout).toMatch(/brightness ×0\s+50% \(1\/2\)/);
    expect(r.stdout).toMatch(/jpeg q=90\s+0% \(0\/2\)/);
    const svg = await readFile(chart, 'utf8');
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('robustness: paddleocr-cls');
    expect(svg).toContain('1/2');
    expect((await sharp(path.join(tmp, 'r.png')).metadata()).format).toBe('png');
  });

  it('--json gives every model\'s report, --also puts a second model beside the first', async () => {
    const r = await runCli(['robustness', 'paddleocr-cls', upright, '--also', 'paddleocr-cls', '--perturb', 'noise=4', '--json']);
    expect(r.code).toBe(EXIT.ok);
    const out = JSON.parse(r.stdout) as { reports: { model: string; task: string; rows: { label: string; trials: number }[]; images: { decision: string[] }[] }[] };
    expect(out.reports).toHaveLength(2);
    expect(out.reports[0]).toMatchObject({ model: 'paddleocr-cls', task: 'classify', rows: [{ label: 'noise σ=4', trials: 1 }], images: [{ decision: ['0'] }] });
    expect(out.reports[1]!.rows).toEqual(out.reports[0]!.rows);
  });

  it('names what is wrong: another task, a file outside the zoo, a bad perturbation, a chart that is not .svg', async () => {
    const vad = await runCli(['robustness', 'silero-vad', upright]);
    expect(vad.code).toBe(EXIT.usage);
    expect(vad.stderr).toMatch(/silero-vad is a vad model: robustness measures image detectors and classifiers/);
    const stranger = path.join(tmp, 'stranger.onnx');
    await writeFile(stranger, 'not a zoo model');
    const unknown = await runCli(['robustness', stranger, upright]);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toMatch(/stranger\.onnx is not in the zoo[\s\S]*--like/);
    const fog = await runCli(['robustness', 'paddleocr-cls', upright, '--perturb', 'fog']);
    expect(fog.stderr).toMatch(/--perturb fog: unknown perturbation 'fog'/);
    expect((await runCli(['robustness', 'paddleocr-cls', upright, '--chart', path.join(tmp, 'x.png')])).stderr).toMatch(/--chart .*x\.png must end in \.svg/);
    const missing = await runCli(['robustness', 'paddleocr-cls', path.join(tmp, 'nope.jpg')]);
    expect(missing.stderr).toMatch(/nope\.jpg: no such file/);
  });
});

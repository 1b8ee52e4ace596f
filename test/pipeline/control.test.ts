/**
 * Pausing a running pipeline: from code (pause/resume) and from outside its process through
 * control/<name>.json (what the dashboard writes). Paused, frames are thrown away undecided and
 * counted, no rule fires, no safe state is entered; a change of the file is what acts, so a pause
 * from code is not undone by the absence of a file; a broken file is logged and ignored.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { controlFile, readControl, writeControl } from '../../src/pipeline/control.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';

const root = mkdtempSync(path.join(tmpdir(), 'cloudless-control-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function sensorPipeline(name: string) {
  const dataDir = mkdtempSync(path.join(root, 'data-'));
  const stdin = new PassThrough();
  const p = await Pipeline.create({
    name, source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'too_hot', value_above: 30 }],
    safe_state: { description: 'vents open', max_missed_deadlines: 2 }, queue: 16,
  }, { dataDir, stdin });
  await p.start();
  return { p, stdin, dataDir };
}

describe('pausing a pipeline', () => {
  it('through control/<name>.json: frames thrown away and counted, no event, no safe state; resumed by the file', async () => {
    const { p, stdin, dataDir } = await sensorPipeline('greenhouse');
    stdin.write('35\n');
    await until(() => p.stats().events === 1, 5000, 'the first event');
    writeControl(dataDir, 'greenhouse', { paused: true, by: 'dashboard', at: new Date().toISOString() });
    await until(() => p.isPaused, 3000, 'the pause to be read');
    stdin.write('36\n37\n');
    await until(() => p.stats().framesPaused === 2, 3000, 'two paused frames');
    expect(p.stats()).toMatchObject({ events: 1, framesDecided: 1, paused: true, state: 'normal' });
    writeControl(dataDir, 'greenhouse', { paused: false, by: 'dashboard' });
    await until(() => !p.isPaused, 3000, 'the resume to be read');
    stdin.write('38\n');
    await until(() => p.stats().events === 2, 3000, 'an event after resuming');
    expect(p.stats()).toMatchObject({ framesDecided: 2, framesPaused: 2, paused: false, state: 'normal' });
    stdin.end();
    await p.stop();
  }, 20_000);

  it('from code: not undone by the control poll; a broken control file is ignored, naming the file', async () => {
    const { p, stdin, dataDir } = await sensorPipeline('feeder');
    p.pause('test');
    await new Promise((r) => setTimeout(r, 1300)); // one control poll, with no file
    expect(p.isPaused).toBe(true);
    mkdirSync(path.dirname(controlFile(dataDir, 'feeder')), { recursive: true });
    writeFileSync(controlFile(dataDir, 'feeder'), '{"paused": "yes"}');
    expect(() => readControl(dataDir, 'feeder')).toThrow(/control.feeder\.json: expected \{ "paused": true \| false \}/);
    await new Promise((r) => setTimeout(r, 1300));
    expect(p.isPaused).toBe(true);
    p.resume('test');
    stdin.write('31\n');
    await until(() => p.stats().events === 1, 3000, 'an event after resuming');
    stdin.end();
    await p.stop();
  }, 20_000);
});

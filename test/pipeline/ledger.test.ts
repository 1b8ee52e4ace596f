import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/pipeline/ledger.js';
import { toEventJson } from '../../src/pipeline/privacy.js';
import { FrameQueue } from '../../src/pipeline/queue.js';
import { SecretStore } from '../../src/pipeline/secrets.js';
import type { Frame, PipelineEvent } from '../../src/pipeline/types.js';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(path.join(os.tmpdir(), 'cloudless-ledger-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const ev = (i: number, time = Date.now()): PipelineEvent => ({ id: `e${i}`, pipeline: 'p', kind: 'rule', rule: 'r', time: new Date(time).toISOString(), label: 'cat', score: 0.9 });
const sink = [{ name: 'mq', destination: 'mqtt://h/t' }];

describe('ledger', () => {
  it('keeps pending deliveries in order and counts each delivery once', () => {
    const l = new Ledger(path.join(tmp(), 'l.sqlite'));
    for (let i = 0; i < 3; i++) l.record(ev(i), sink);
    expect(l.due('mq').map((b) => JSON.parse(b).id)).toEqual(['e0', 'e1', 'e2']);
    expect(l.markFailed('e0', 'mq', new Error('down'), Date.now() + 1000)).toBe(1);
    expect(l.markDelivered('e0', 'mq', 'mqtt://h/t', 100)).toBe(true);
    expect(l.markDelivered('e0', 'mq', 'mqtt://h/t', 100)).toBe(false);
    expect(l.pendingCount('mq')).toBe(2);
    expect(l.totals()).toEqual([{ sink: 'mq', destination: 'mqtt://h/t', events: 1, bytes: 100, pending: 2 }]);
    const rows = l.list({ ascending: true });
    expect(rows[0]!.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(rows[1]!.deliveries[0]).toMatchObject({ status: 'pending', attempts: 0 });
    l.close();
  });

  it('retention by age and count never removes a pending event', () => {
    const l = new Ledger(path.join(tmp(), 'l.sqlite'));
    const old = Date.now() - 10 * 86_400_000;
    l.record(ev(0, old), sink);
    l.record(ev(1, old), []);
    for (let i = 2; i < 8; i++) l.record(ev(i), []);
    expect(l.prune({ maxAgeDays: 5, maxEvents: 100 })).toBe(1);
    expect(l.list().map((r) => r.id)).toContain('e0');
    expect(l.prune({ maxAgeDays: 5, maxEvents: 3 })).toBe(4);
    expect(l.list({ ascending: true }).map((r) => r.id)).toEqual(['e0', 'e6', 'e7']);
    l.close();
  });

  it('refuses fields that are not part of an event', () => {
    expect(() => toEventJson({ ...ev(0), pixels: [1, 2, 3] } as unknown as PipelineEvent)).toThrow(/field "pixels" is not allowed/);
    expect(() => toEventJson({ ...ev(0), label: 'x'.repeat(5000) })).toThrow(/over the 2048-byte event limit/);
  });
});

describe('secrets', () => {
  it('stores values encrypted, opens them with the device key, and binds each to its name', () => {
    const dir = tmp();
    const s = new SecretStore(dir);
    s.set('mqtt_pass', 'hunter2-very-secret');
    const file = readFileSync(path.join(dir, 'secrets.json'), 'utf8');
    expect(file).not.toContain('hunter2');
    expect(file).not.toContain(Buffer.from('hunter2-very-secret').toString('base64'));
    expect(statSync(path.join(dir, 'device.key')).mode & 0o777).toBe(0o600);
    expect(new SecretStore(dir).get('mqtt_pass')).toBe('hunter2-very-secret');
    expect(s.list().map((x) => x.name)).toEqual(['mqtt_pass']);
    // A value moved under another name fails authentication (the name is authenticated data).
    const all = JSON.parse(file);
    all.other = all.mqtt_pass;
    writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify(all));
    expect(() => s.get('other')).toThrow(/failed authentication/);
    expect(() => s.get('missing')).toThrow(/secret "missing" is not set/);
    expect(s.remove('mqtt_pass')).toBe(true);
    expect(s.has('mqtt_pass')).toBe(false);
  });
});

describe('frame queue', () => {
  const frame = (i: number): Frame => ({ kind: 'sensor', seq: i, time: 0, source: 's', data: new Uint8Array([i + 1, 7, 7]) });
  it('drops the oldest frame when full, zeroes it and counts it', async () => {
    const q = new FrameQueue(2);
    const frames = [0, 1, 2, 3].map(frame);
    const buffers = frames.map((f) => f.data);
    for (const f of frames) q.offer(f);
    expect(q.dropped).toBe(2);
    expect([...buffers[0]!, ...buffers[1]!].every((b) => b === 0)).toBe(true);
    expect((await q.take())!.seq).toBe(2);
    expect((await q.take())!.seq).toBe(3);
    q.close();
    expect(await q.take()).toBeUndefined();
  });
});

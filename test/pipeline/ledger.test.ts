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

describe('ledger views for the dashboard', () => {
  const at = (i: number, label: string, rule: string, time: string): PipelineEvent => ({ id: `v${i}`, pipeline: 'p', kind: 'rule', rule, time, label, score: 0.5 });

  it('search filters by rule, label and time, and afterSeq returns what came later, oldest first', () => {
    const l = new Ledger(':memory:');
    l.record(at(0, 'person', 'seen', '2026-01-01T10:00:00Z'), []);
    l.record(at(1, 'cat', 'seen', '2026-01-01T11:00:00Z'), []);
    l.record(at(2, 'person', 'door', '2026-01-02T09:00:00Z'), []);
    expect(l.search().map((r) => r.id)).toEqual(['v2', 'v1', 'v0']);
    expect(l.search({ rule: 'seen' }).map((r) => r.id)).toEqual(['v1', 'v0']);
    expect(l.search({ label: 'person' }).map((r) => r.id)).toEqual(['v2', 'v0']);
    expect(l.search({ since: Date.parse('2026-01-01T10:30:00Z'), until: Date.parse('2026-01-01T23:00:00Z') }).map((r) => r.id)).toEqual(['v1']);
    const first = l.search({ limit: 1 })[0]!;
    expect(first.seq).toBe(l.lastSeq());
    expect(l.search({ afterSeq: first.seq - 2 }).map((r) => r.id)).toEqual(['v1', 'v2']);
    // A label with SQL in it is a value, not a query.
    expect(l.search({ label: "x' OR 1=1 --" })).toEqual([]);
    l.close();
  });

  it('deliveredPerDay counts deliveries and the bytes of their event JSON per UTC day and destination', () => {
    const l = new Ledger(':memory:');
    const sink = [{ name: 'mq', destination: 'mqtt://h/t' }];
    l.record(at(0, 'person', 'seen', '2026-01-01T10:00:00Z'), sink);
    l.record(at(1, 'person', 'seen', '2026-01-01T10:00:01Z'), sink);
    l.record(at(2, 'person', 'seen', '2026-01-01T10:00:02Z'), sink);
    l.markDelivered('v0', 'mq', 'mqtt://h/t', 10);
    l.markDelivered('v1', 'mq', 'mqtt://h/t', 10);
    const days = l.deliveredPerDay();
    expect(days).toHaveLength(1);
    const bodyBytes = l.search({ limit: 2, afterSeq: 0 }).reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r.event)), 0);
    expect(days[0]).toMatchObject({ day: new Date().toISOString().slice(0, 10), sink: 'mq', destination: 'mqtt://h/t', events: 2, bytes: bodyBytes });
    expect(l.eventsOverTime(Date.parse('2026-01-01T00:00:00Z'), 60_000)).toEqual([{ t: Date.parse('2026-01-01T10:00:00Z'), events: 3 }]);
    l.close();
  });
});

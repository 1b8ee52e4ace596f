/**
 * The dashboard's Fleet page: devices and the latest events of all devices,
 * read from the fleet store `cloudless fleet` writes (a real FleetStore file in
 * the data directory, filled through its own API as the monitor fills it),
 * live over the dashboard's server-sent events. No store: the page says so and
 * the dashboard does not create one.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HealthMessage } from '../../src/fleet/messages.js';
import { FleetStore } from '../../src/fleet/store.js';
import { buildDashboard } from '../../src/server/dashboard.js';
import { fleetStoreOf } from '../../src/server/data.js';

const root = mkdtempSync(path.join(tmpdir(), 'cloudless-dash-fleet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const health = (boot: number, safe: boolean, rate: number, pending: number): HealthMessage => ({
  boot, time: new Date().toISOString(), uptime_s: 10, safe_state: safe, rss_bytes: 50e6,
  model: { name: 'meter.onnx', version: 3 },
  pipelines: { meter: { state: safe ? 'safe' : 'normal', causes: [], frames_decided: 10, frames_dropped: 0, model_errors: 0, missed_deadlines: 0, events: 4, pending, decisions_per_s: rate } },
});
const event = (id: string, value: number) => ({ id, pipeline: 'meter', kind: 'rule' as const, rule: 'high', time: new Date().toISOString(), value });

/** Reads server-sent events from a listening app until `done` says stop (or the timeout passes). */
function readStream(url: string, done: (type: string, data: unknown) => boolean, timeoutMs = 8000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`no matching server-sent event within ${timeoutMs} ms`)); }, timeoutMs);
    const req = http.get(url, (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data !== undefined && done(type, JSON.parse(data))) { clearTimeout(timer); req.destroy(); resolve(); return; }
        }
      });
    });
    req.on('error', (err) => { if (!req.destroyed) reject(err); });
  });
}

describe('dashboard Fleet page', () => {
  it('without a fleet store says so and creates none', async () => {
    const dataDir = mkdtempSync(path.join(root, 'empty-'));
    const app = buildDashboard({ dataDir, requireLoginToRead: false });
    const r = await app.inject({ url: '/api/fleet', headers: { host: 'x' } });
    expect(r.json()).toEqual({ store: false, devices: [], events: [] });
    const page = await app.inject({ url: '/fleet', headers: { host: 'x' } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-page="/fleet"');
    expect(page.body).toMatch(/<a href="\/fleet" aria-current="page">Fleet<\/a>/);
    expect(existsSync(fleetStoreOf(dataDir))).toBe(false);
    await app.close();
  });

  it('lists devices (status, boot, model, safe state, rates) and the latest events, and streams changes live', async () => {
    const dataDir = mkdtempSync(path.join(root, 'data-'));
    const store = new FleetStore(fleetStoreOf(dataDir));
    store.status('door-1', { state: 'online', boot: 4 });
    store.health('door-1', health(4, false, 2.5, 1));
    store.modelState('door-1', { step: 'accepted', model: 'meter.onnx', version: 3, running: 3, time: new Date().toISOString() });
    store.status('door-2', { state: 'online', boot: 1 });
    store.health('door-2', health(1, true, 0.5, 0));
    store.status('door-2', { state: 'offline', boot: 1 });
    // A late will of an older session does not mark door-1 offline.
    store.status('door-1', { state: 'offline', boot: 3 });
    for (let i = 0; i < 3; i++) store.event('door-1', event(`a${i}`, 10 + i));
    store.event('door-2', event('b0', 99));
    store.event('door-2', event('b0', 99)); // a repeat: stored once

    const app = buildDashboard({ dataDir, requireLoginToRead: false, pollMs: 50 });
    const f = (await app.inject({ url: '/api/fleet', headers: { host: 'x' } })).json() as {
      store: boolean; devices: Record<string, unknown>[]; events: { device: string; id: string; event: { value: number } }[];
    };
    expect(f.store).toBe(true);
    expect(f.devices.map((d) => [d.device, d.state, d.boot, d.model, d.safeState, d.decisionsPerSecond, d.pending, d.events, d.eventsLastMinute])).toEqual([
      ['door-1', 'online', 4, { name: 'meter.onnx', version: 3 }, false, 2.5, 1, 3, 3],
      ['door-2', 'offline', 1, { name: 'meter.onnx', version: 3 }, true, 0.5, 0, 1, 1],
    ]);
    expect(f.devices[0]!.rollout).toMatchObject({ step: 'accepted', version: 3, running: 3 });
    expect(f.devices[0]!.lastSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(f.events.map((e) => `${e.device}:${e.id}`).sort()).toEqual(['door-1:a0', 'door-1:a1', 'door-1:a2', 'door-2:b0']);

    // Live: a new device and a new event reach a connected page through /api/stream.
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    let first = true;
    await readStream(`http://127.0.0.1:${port}/api/stream`, (type, data) => {
      if (type !== 'fleet') return false;
      const v = data as { devices: { device: string; state: string }[]; events: { id: string }[] };
      if (first) {
        first = false;
        expect(v.devices.map((d) => d.device)).toEqual(['door-1', 'door-2']);
        store.status('door-3', { state: 'online', boot: 1 });
        store.event('door-3', event('c0', 5));
        return false;
      }
      return v.devices.some((d) => d.device === 'door-3' && d.state === 'online') && v.events.some((e) => e.id === 'c0');
    });
    await app.close();
    store.close();
  });
});

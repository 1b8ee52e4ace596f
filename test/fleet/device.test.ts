/**
 * The device side against a real mosquitto (plain, loopback): the boot
 * counter grows per start, health carries the pipeline's counters and
 * nothing else, Home Assistant discovery is re-sent on HA's birth message,
 * malformed messages on the device's topics are refused without harm, and
 * events recorded while the broker is down go out when it returns.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetMonitor } from '../../src/fleet/monitor.js';
import { startFleetPipeline } from '../../src/fleet/run.js';
import { FleetStore } from '../../src/fleet/store.js';
import { healthSchema } from '../../src/fleet/messages.js';
import { validatePipeline } from '../../src/pipeline/config.js';
import type { Source, SourceContext } from '../../src/pipeline/sources/source.js';
import { Broker, freePort, hasMosquitto, until } from '../pipeline/mosquitto.js';

const json = (t: string): Record<string, unknown> => { try { return JSON.parse(t) as Record<string, unknown>; } catch { return {}; } };

class PushSource implements Source {
  readonly name = 'push';
  ctx?: SourceContext;
  n = 0;
  async start(ctx: SourceContext): Promise<void> { this.ctx = ctx; }
  async stop(): Promise<void> { /* nothing held */ }
  push(v: number): Promise<boolean> { return this.ctx!.queue.put({ kind: 'sensor', seq: this.n++, time: Date.now(), source: 'push', data: new Uint8Array(Buffer.from(String(v))) }); }
}

describe.skipIf(!hasMosquitto())('fleet device (real mosquitto)', () => {
  let broker: Broker;
  let watcher: mqtt.MqttClient;
  let monitor: FleetMonitor;
  const store = new FleetStore(':memory:');
  const startMonitor = async () => {
    monitor = new FleetMonitor(store, { broker: broker.url, clientId: 'fleet-store' });
    await new Promise((r) => monitor.once('subscribed', r));
  };
  const seen: { topic: string; text: string }[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-device-'));
  const cfg = (url: string) => validatePipeline({
    name: 'meter', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'high', value_above: 10 }, { name: 'low', value_below: 0 }],
    safe_state: { description: 'hold' }, allow: ['127.0.0.1'],
    fleet: { broker: url, device_id: 'm1', health_interval_s: 1, keepalive_s: 5, home_assistant: true, ack_timeout_s: 1 },
  });

  beforeAll(async () => {
    broker = new Broker(await freePort());
    await broker.start();
    watcher = mqtt.connect(broker.url, { clientId: 'watcher', reconnectPeriod: 100, clean: false });
    watcher.on('message', (topic, p) => seen.push({ topic, text: p.toString('utf8') }));
    await new Promise<void>((r) => watcher.once('connect', () => watcher.subscribe(['cloudless/#', 'homeassistant/#'], { qos: 1 }, () => r())));
    await startMonitor();
  });
  afterAll(async () => {
    await monitor?.close(); // (closing twice is harmless)
    store.close();
    if (watcher) await new Promise((r) => watcher.end(true, {}, () => r(undefined)));
    await broker?.kill();
  });

  it('reports status with a growing boot counter, health, HA discovery (again on HA birth) and events through an outage', async () => {
    for (const boot of [1, 2]) {
      const source = new PushSource();
      const fp = await startFleetPipeline(cfg(broker.url), { dataDir: dir, source });
      expect(fp.device.boot).toBe(boot);
      await fp.pipeline.start();
      await until(() => seen.some((m) => m.topic === 'cloudless/m1/status' && json(m.text).boot === boot && json(m.text).state === 'online'), 5000, 'online');
      if (boot === 1) {
        await until(() => seen.some((m) => m.topic.startsWith('homeassistant/device/')), 5000, 'discovery');
        const disc = JSON.parse(seen.find((m) => m.topic.startsWith('homeassistant/device/'))!.text) as { cmps: Record<string, { p: string }> };
        expect(Object.values(disc.cmps).map((c) => c.p).sort()).toEqual(['binary_sensor', 'event', 'event', 'sensor', 'sensor', 'update']);
        const before = seen.filter((m) => m.topic.startsWith('homeassistant/device/')).length;
        await new Promise((r) => watcher.publish('homeassistant/status', 'online', { qos: 1 }, r));
        await until(() => seen.filter((m) => m.topic.startsWith('homeassistant/device/')).length > before, 5000, 'discovery re-sent');
        // Junk on the device's own topics is refused, not fatal.
        await new Promise((r) => watcher.publish('cloudless/m1/status', Buffer.from([0, 1, 2]), { qos: 1 }, r));
        await new Promise((r) => watcher.publish('cloudless/rollout/default', '{"x":1}', { qos: 1 }, r));
        await until(() => fp.device.refused.length >= 1, 5000, 'refusal');
        // Events while the broker is down wait in the ledger and go out when it returns.
        await broker.kill('SIGTERM');
        for (const v of [20, 30, -1]) await source.push(v);
        await until(() => fp.pipeline.stats().events >= 3, 5000, 'events recorded');
        expect(fp.pipeline.ledger.pendingCount('fleet')).toBe(3);
        expect(fp.pipeline.stats().state).toBe('normal');
        await broker.start();
        await until(() => fp.pipeline.ledger.pendingCount('fleet') === 0, 15_000, 'events delivered after the outage');
        expect(store.list({ device: 'm1' }).map((e) => e.event.value).sort((a, b) => a! - b!)).toEqual([-1, 20, 30]);
        // No fleet store running: the broker's PUBACK is not a delivery, the event stays pending and the device keeps going.
        await monitor.close();
        await source.push(40);
        await until(() => fp.pipeline.stats().events >= 4, 5000, 'event recorded');
        await new Promise((r) => setTimeout(r, 1500));
        expect(fp.pipeline.ledger.pendingCount('fleet')).toBe(1);
        expect(fp.pipeline.stats().state).toBe('normal');
        expect(fp.pipeline.ledger.list({ limit: 1 })[0]!.deliveries[0]!.lastError).toMatch(/no fleet store acknowledged/);
        await startMonitor();
        await until(() => fp.pipeline.ledger.pendingCount('fleet') === 0, 15_000, 'delivered once a fleet store is back');
        expect(store.list({ device: 'm1' }).map((e) => e.event.value).sort((a, b) => a! - b!)).toEqual([-1, 20, 30, 40]);
      }
      await until(() => seen.some((m) => m.topic === 'cloudless/m1/health' && json(m.text).boot === boot), 5000, 'health');
      const h = healthSchema.parse(JSON.parse(seen.filter((m) => m.topic === 'cloudless/m1/health').at(-1)!.text));
      expect(h.pipelines.meter).toBeDefined();
      expect(h.rss_bytes).toBeGreaterThan(0);
      await fp.stop();
      await until(() => seen.some((m) => m.topic === 'cloudless/m1/status' && json(m.text).boot === boot && json(m.text).state === 'offline'), 5000, 'offline on clean stop');
    }
    // Sent again while no store acknowledged it, 40 may have crossed the broker more than once, always with its id.
    const events = new Map(seen.filter((m) => m.topic === 'cloudless/m1/events').map((m) => JSON.parse(m.text) as { id: string; rule: string; value: number }).map((e) => [e.id, e]));
    expect([...events.values()].map((e) => `${e.rule}:${e.value}`)).toEqual(['high:20', 'high:30', 'low:-1', 'high:40']);
  }, 60_000);

  it('with two fleet stores on a $share subscription, each event is stored and acknowledged by one of them', async () => {
    await monitor.close();
    const stores = [new FleetStore(':memory:'), new FleetStore(':memory:')];
    const mons = stores.map((st, i) => new FleetMonitor(st, { broker: broker.url, clientId: `share-${i}`, share: 'stores' }));
    await Promise.all(mons.map((m) => new Promise((r) => m.once('subscribed', r))));
    const source = new PushSource();
    const fp = await startFleetPipeline(cfg(broker.url), { dataDir: mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-share-')), source });
    try {
      await fp.pipeline.start();
      for (let v = 11; v <= 30; v++) await source.push(v);
      await until(() => fp.pipeline.stats().events >= 20 && fp.pipeline.ledger.pendingCount('fleet') === 0, 15_000, 'all 20 acknowledged');
      const want = fp.pipeline.ledger.list().filter((r) => r.deliveries.some((d) => d.sink === 'fleet')).map((r) => r.id).sort();
      const [a, b] = stores.map((st) => st.ids('m1'));
      expect([...new Set([...a!, ...b!])].sort()).toEqual(want);
      // mosquitto hands a shared subscription's messages round robin: both stores did work.
      expect(a!.length).toBeGreaterThan(0);
      expect(b!.length).toBeGreaterThan(0);
      expect(mons[0]!.ackedIds + mons[1]!.ackedIds).toBeGreaterThanOrEqual(20);
    } finally {
      await fp.stop();
      for (const m of mons) await m.close();
      for (const st of stores) st.close();
    }
  }, 30_000);
});

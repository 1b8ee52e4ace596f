/**
 * Many devices, one real broker: mosquitto with TLS (a CA made by openssl
 * now) and an ACL file, simulated devices as child processes with their own
 * state directories and clients producing events while the broker is SIGKILLed
 * and restarted twice. Every event in every device's ledger must reach the
 * fleet store exactly once by id; a SIGKILLed device must show offline within
 * 1.5x its keepalive; a device killed and restarted at once must end online,
 * its old will notwithstanding; no message the broker carried may hold a
 * window of any raw sensor payload.
 *
 * Default: 5 devices for ~20 s. CLOUDLESS_SLOW=1: 50 devices for 2 minutes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetMonitor } from '../../src/fleet/monitor.js';
import { FleetStore } from '../../src/fleet/store.js';
import { Ledger } from '../../src/pipeline/ledger.js';
import { dataPaths } from '../../src/pipeline/paths.js';
import { until } from '../pipeline/mosquitto.js';
import { TlsBroker, freePort, hasMosquitto, hasOpenssl } from './broker.js';

const SLOW = !!process.env.CLOUDLESS_SLOW;
const N = SLOW ? 50 : 5;
const RUN_MS = SLOW ? 120_000 : 8_000;
const PERIOD_MS = SLOW ? 500 : 200;
const KEEPALIVE = 2;
const PREFIX = 'cloudless';
const missing = !hasMosquitto() ? 'mosquitto' : !hasOpenssl() ? 'openssl' : undefined;

interface Child { id: string; dir: string; proc: ChildProcess; raws: string[]; ready: Promise<void> }

function startChild(broker: TlsBroker, id: string, dir: string, raws: string[]): Child {
  const env = { ...process.env, FLEET_CHILD: JSON.stringify({ dataDir: dir, broker: broker.url, device: id, password: broker.passwords.get(id), ca: broker.caFile, prefix: PREFIX, periodMs: PERIOD_MS, keepalive: KEEPALIVE }) };
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'device-child.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (line === 'ready') resolve();
        else if (line.startsWith('raw ')) raws.push(line.slice(4));
      }
    });
    proc.once('exit', (code) => reject(new Error(`device ${id} exited with ${code}: ${err}`)));
  });
  ready.catch(() => undefined);
  return { id, dir, proc, raws, ready };
}

const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing !== undefined)(`fleet over a real mosquitto with TLS and ACL (${N} devices${SLOW ? '' : '; CLOUDLESS_SLOW=1 runs 50 devices for 2 min'})${missing ? ` — skipped: ${missing} missing` : ''}`, () => {
  let broker: TlsBroker;
  let store: FleetStore;
  let monitor: FleetMonitor;
  const carried: { topic: string; payload: Buffer }[] = [];
  let spy: mqtt.MqttClient;
  const children = new Map<string, Child>();
  const raws: string[] = [];
  const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-'));
  const ids = Array.from({ length: N }, (_, i) => `dev${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    broker = new TlsBroker(await freePort(), PREFIX, [...ids, 'intruder']);
    await broker.start();
    store = new FleetStore(path.join(root, 'fleet.sqlite'));
    monitor = new FleetMonitor(store, { broker: broker.url, username: 'fleet', password: broker.passwords.get('fleet'), caFile: broker.caFile, clientId: 'fleet-store-test' });
    await new Promise((r) => monitor.once('subscribed', r));
    spy = mqtt.connect(broker.url, { username: 'spy', password: broker.passwords.get('spy'), ca: readFileSync(broker.caFile), clientId: 'spy', clean: false, reconnectPeriod: 300 });
    spy.on('message', (topic, payload) => carried.push({ topic, payload: Buffer.from(payload) }));
    await new Promise<void>((r) => spy.once('connect', () => spy.subscribe('#', { qos: 1 }, () => r())));
  }, 30_000);

  afterAll(async () => {
    for (const c of children.values()) { c.proc.kill('SIGKILL'); }
    await monitor?.close();
    if (spy) await new Promise((r) => spy.end(true, {}, () => r(undefined)));
    store?.close();
    await broker?.dispose();
  });

  it('delivers every ledger event exactly once through two broker SIGKILLs; offline and restart follow the boot counter', async () => {
    // Started five at a time: fifty processes compiling TypeScript at once starve a small machine.
    for (let i = 0; i < ids.length; i += 5) {
      const batch = ids.slice(i, i + 5).map((id) => startChild(broker, id, path.join(root, id), raws));
      for (const c of batch) children.set(c.id, c);
      await Promise.all(batch.map((c) => c.ready));
    }
    await until(() => store.devices().filter((d) => d.state === 'online').length === N, 60_000, 'all devices online');
    const started = Date.now();

    // Broker killed and restarted twice while events keep coming.
    const phase = RUN_MS / 5;
    await sleep(phase);
    await broker.kill('SIGKILL');
    await sleep(1500);
    await broker.start();
    await sleep(phase);
    await broker.kill('SIGKILL');
    await sleep(1500);
    await broker.start();
    await sleep(phase);

    // A device SIGKILLed shows offline within 1.5x keepalive (plus the broker's 1 s check granularity).
    const victim = children.get(ids[0]!)!;
    const t0 = Date.now();
    victim.proc.kill('SIGKILL');
    await exited(victim.proc);
    await until(() => store.devices().find((d) => d.device === victim.id)?.state === 'offline', KEEPALIVE * 1500 + 1000, `${victim.id} offline`);
    const offlineAfterMs = Date.now() - t0;
    console.log(`SIGKILLed device shown offline after ${offlineAfterMs} ms (keepalive ${KEEPALIVE} s)`);
    children.set(victim.id, startChild(broker, victim.id, victim.dir, raws));
    await children.get(victim.id)!.ready;
    await until(() => store.devices().find((d) => d.device === victim.id)?.state === 'online', 10_000, `${victim.id} online again`);

    // A device killed and restarted at once: its old session's will arrives after the new session began.
    const quick = children.get(ids[1]!)!;
    const bootBefore = store.devices().find((d) => d.device === quick.id)!.boot;
    quick.proc.kill('SIGKILL');
    await exited(quick.proc);
    children.set(quick.id, startChild(broker, quick.id, quick.dir, raws));
    await children.get(quick.id)!.ready;
    await sleep(KEEPALIVE * 1500 + 1500);
    const q = store.devices().find((d) => d.device === quick.id)!;
    expect(q.boot).toBe(bootBefore + 1);
    expect(q.state).toBe('online');
    const retained = carried.filter((m) => m.topic === `${PREFIX}/${quick.id}/status`).map((m) => JSON.parse(m.payload.toString()) as { state: string; boot: number });
    expect(retained.at(-1)).toMatchObject({ state: 'online', boot: bootBefore + 1 });

    // A device that vanishes without closing its connection (frozen: no FIN, no PINGREQ): the broker's keepalive check sends its will.
    const frozen = children.get(ids[2]!)!;
    const t1 = Date.now();
    frozen.proc.kill('SIGSTOP');
    // MQTT says 1.5 x keepalive; mosquitto 2.0.11 was measured here taking 2 to 4 x keepalive for a frozen TLS client
    // (4.0 s plain and idle, 8.1 s over TLS with traffic, keepalive 2 s): the bound asserted is 5 x keepalive and the time is printed.
    await until(() => store.devices().find((d) => d.device === frozen.id)?.state === 'offline', KEEPALIVE * 5000 + 3000, `${frozen.id} offline by keepalive`);
    const keepaliveOfflineMs = Date.now() - t1;
    console.log(`frozen device shown offline after ${keepaliveOfflineMs} ms (1.5 x keepalive = ${KEEPALIVE * 1500} ms)`);
    frozen.proc.kill('SIGCONT');
    await until(() => store.devices().find((d) => d.device === frozen.id)?.state === 'online', 15_000, `${frozen.id} online after SIGCONT`);

    await sleep(phase);
    // Clean stop: each device flushes its ledger and says offline.
    for (const c of children.values()) c.proc.kill('SIGTERM');
    await Promise.all([...children.values()].map((c) => exited(c.proc)));
    await sleep(1000);

    let total = 0;
    for (const id of ids) {
      const ledger = new Ledger(dataPaths(path.join(root, id)).ledger);
      const rows = ledger.list({ ascending: true });
      expect(ledger.pendingCount(), `${id}: pending deliveries`).toBe(0);
      ledger.close();
      const want = rows.map((r) => r.id).sort();
      const got = store.ids(id).sort();
      expect(got.length, `${id}: events in the store`).toBe(want.length);
      expect(got).toEqual(want);
      total += want.length;
    }
    const elapsedH = (Date.now() - started) / 3_600_000;
    const perDevice = carried.filter((m) => m.topic.startsWith(`${PREFIX}/${ids[3]}/`));
    console.log(`broker traffic of ${ids[3]} at one event per ${PERIOD_MS} ms and health every 2 s: ${(perDevice.length / elapsedH).toFixed(0)} messages/h, ${(perDevice.reduce((s, m) => s + m.payload.length + m.topic.length, 0) / elapsedH / 1e6).toFixed(2)} MB/h (payload + topic)`);
    console.log(`${N} devices, ${total} events, each stored once; repeats the store dropped: ${monitor.duplicates}; messages refused: ${monitor.refused}; broker messages seen by the spy: ${carried.length}, ${carried.reduce((s, m) => s + m.payload.length, 0)} bytes`);
    expect(total).toBeGreaterThan(N * 10);
    expect(monitor.refused).toBe(0);
  }, SLOW ? 1_500_000 : 150_000);

  it('carried no window of any raw sensor payload', () => {
    expect(raws.length).toBeGreaterThan(100);
    expect(carried.length).toBeGreaterThan(100);
    const windows = new Set<string>();
    for (const r of raws) for (let i = 0; i + 16 <= r.length; i += 8) windows.add(r.slice(i, i + 16));
    const rawBytes = raws.map((r) => Buffer.from(r, 'hex'));
    const leaks: string[] = [];
    for (const m of carried) {
      const text = m.payload.toString('latin1');
      for (let i = 0; i + 16 <= text.length; i++) if (windows.has(text.slice(i, i + 16))) leaks.push(`${m.topic}: hex window at ${i}`);
      for (const b of rawBytes) if (m.payload.indexOf(b.subarray(0, 8)) >= 0 || m.payload.indexOf(b.subarray(16, 24)) >= 0) leaks.push(`${m.topic}: raw bytes`);
    }
    expect(leaks).toEqual([]);
  });

  it('the ACL keeps a device out of another device\'s topics', async () => {
    const intruder = mqtt.connect(broker.url, { username: 'intruder', password: broker.passwords.get('intruder'), ca: readFileSync(broker.caFile), clientId: 'intruder', reconnectPeriod: 0 });
    await new Promise((r) => intruder.once('connect', r));
    const before = store.count();
    const fake = JSON.stringify({ id: 'forged', pipeline: 'ticks', kind: 'rule', rule: 'tick', time: new Date().toISOString() });
    await new Promise((r) => intruder.publish(`${PREFIX}/${ids[2]}/events`, fake, { qos: 1 }, r));
    await new Promise((r) => intruder.publish(`${PREFIX}/intruder/events`, '{"not": "an event"}', { qos: 1 }, r));
    await until(() => monitor.refused > 0, 5000, 'the malformed message refused');
    expect(store.count()).toBe(before);
    expect(store.ids(ids[2]!)).not.toContain('forged');
    expect(monitor.lastRefusal).toMatch(/cloudless\/intruder\/events/);
    await new Promise((r) => intruder.end(true, {}, () => r(undefined)));
  });
});

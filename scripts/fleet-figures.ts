/**
 * Figures for docs/fleet.md (wall-clock: take them as from a loaded, shared machine):
 *   1. fleet store throughput: events/s stored one transaction per event (what the monitor does) and in batches of 100;
 *   2. rollout time of a 2.5 MB ONNX model to N devices (default 50) over a real mosquitto with TLS, each device
 *      with its own client, fetching from `serveModels`, checking sha256, loading, self-testing and switching.
 *
 *   node --import tsx scripts/fleet-figures.ts [--devices 50] [--events 50000]
 * Writes bench/results/fleet-figures.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { writeOnnx } from '../src/formats/onnx/writer.js';
import { buildManifest, generateSigningKey, resultDigest, rolloutTopic, serveModels, signManifest, startFleetPipeline, FleetMonitor, FleetStore, type FleetPipeline } from '../src/fleet/index.js';
import { CloudlessError, Tensor } from '../src/ir/index.js';
import { validatePipeline } from '../src/pipeline/config.js';
import { SecretStore } from '../src/pipeline/secrets.js';
import type { Source } from '../src/pipeline/sources/source.js';
import type { PipelineEvent, Task } from '../src/pipeline/types.js';
import { load } from '../src/runtime/load.js';
import { TlsBroker, freePort } from '../test/fleet/broker.js';

const arg = (name: string, d: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : d; };
const DEVICES = arg('--devices', 50);
const EVENTS = arg('--events', 50_000);
const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-fleet-figures-'));

function storeThroughput(): { single: number; batch: number } {
  const ev = (i: number): PipelineEvent => ({ id: randomUUID(), pipeline: 'p', kind: 'rule', rule: 'r', time: new Date().toISOString(), label: 'person', score: 0.9, value: i });
  const s = new FleetStore(path.join(root, 'store.sqlite'));
  const a = performance.now();
  for (let i = 0; i < EVENTS; i++) s.event(`dev${i % 50}`, ev(i));
  const single = EVENTS / ((performance.now() - a) / 1000);
  const b = performance.now();
  for (let i = 0; i < EVENTS; i += 100) s.events(Array.from({ length: 100 }, (_, k) => ({ device: `dev${k % 50}`, event: ev(i + k) })));
  const batch = EVENTS / ((performance.now() - b) / 1000);
  s.close();
  return { single: Math.round(single), batch: Math.round(batch) };
}

/** y = x * w[0] with a 2.5 MB weight tensor, so the file is the size the figure is about. */
function bigModel(k: number): Uint8Array {
  const n = 625_000;
  const w = new Float32Array(n).fill(k);
  return writeOnnx({ opset: 13, graph: {
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [1, n] }],
    initializers: { w: new Tensor('float32', [1, n], w) }, nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
  } });
}

async function loadTask(file: string): Promise<Task> {
  const s = await load(file);
  return { name: `onnx:${file}`, accepts: ['sensor'], async run(f) {
    const y = Number((await s.run({ x: new Tensor('float32', [1, 1], Float32Array.of(Number(Buffer.from(f.data).toString()))) })).y!.data[0]!);
    if (!Number.isFinite(y)) throw new CloudlessError('E_INTERNAL', 'non-finite');
    return { findings: [], value: y };
  } };
}

const idle: Source = { name: 'idle', async start() { /* no frames */ }, async stop() { /* none */ } };

async function rolloutTime(): Promise<{ devices: number; bytes: number; ms: number }> {
  const ids = Array.from({ length: DEVICES }, (_, i) => `d${i}`);
  const broker = new TlsBroker(await freePort(), 'cloudless', ids);
  await broker.start();
  const modelsDir = path.join(root, 'models');
  mkdirSync(modelsDir);
  const server = await serveModels(modelsDir);
  const signer = new SecretStore(path.join(root, 'signer'));
  const pub = generateSigningKey(signer, 'k').publicPem;
  const base = path.join(root, 'base.onnx');
  writeFileSync(base, bigModel(1));
  // A fleet store acknowledges the devices' events (their rollout steps), as in a real fleet.
  const fleetStore = new FleetStore(path.join(root, 'rollout-store.sqlite'));
  const monitor = new FleetMonitor(fleetStore, { broker: broker.url, username: 'fleet', password: broker.passwords.get('fleet'), caFile: broker.caFile, clientId: 'figures-store' });
  await new Promise((r) => monitor.once('subscribed', r));
  const devices: FleetPipeline[] = [];
  for (const id of ids) {
    const dir = path.join(root, id);
    new SecretStore(dir).set('b', broker.passwords.get(id)!);
    const cfg = validatePipeline({ name: 'm', source: { type: 'stdin' }, task: { type: 'module', path: 'x.js' }, rules: [{ name: 'r' }], safe_state: { description: 'd' }, allow: ['127.0.0.1'],
      fleet: { broker: broker.url, device_id: id, password_secret: 'b', ca_file: broker.caFile, health_interval_s: 3600, rollout: { keys: [pub], grace_s: 0.001 } } });
    const fp = await startFleetPipeline(cfg, { dataDir: dir, source: idle, task: await loadTask(base), loadTask });
    await fp.pipeline.start();
    devices.push(fp);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const bytes = bigModel(2);
  writeFileSync(path.join(modelsDir, 'v1.onnx'), bytes);
  const frame = { kind: 'sensor' as const, data: new Uint8Array(Buffer.from('3')) };
  const m = signManifest(buildManifest({ model: 'big', bytes, version: 1, url: `${server.url}/v1.onnx`, selfTest: { frame, outputSha256: resultDigest({ findings: [], value: 6 }) } }), signer, ['k']);
  const fleet = mqtt.connect(broker.url, { username: 'fleet', password: broker.passwords.get('fleet'), ca: (await import('node:fs')).readFileSync(broker.caFile) });
  await new Promise((r) => fleet.once('connect', r));
  const t0 = performance.now();
  await new Promise((r) => fleet.publish(rolloutTopic('cloudless', 'default'), JSON.stringify({ manifest: m, pct: 100 }), { qos: 1, retain: true }, r));
  for (;;) {
    const done = devices.filter((d) => d.rollout!.history.some((h) => h.step === 'accepted' || h.step === 'refused' || h.step === 'failed'));
    if (done.length === devices.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  const bad = devices.filter((d) => !d.rollout!.history.some((h) => h.step === 'accepted'));
  if (bad.length) throw new Error(`${bad.length} devices did not accept: ${JSON.stringify(bad[0]!.rollout!.history.at(-1))}`);
  await Promise.all(devices.map((d) => d.stop()));
  await monitor.close();
  fleetStore.close();
  await new Promise((r) => fleet.end(true, {}, r));
  await server.close();
  await broker.dispose();
  return { devices: DEVICES, bytes: bytes.length, ms: Math.round(ms) };
}

const store = storeThroughput();
console.log(`fleet store: ${store.single} events/s one per transaction, ${store.batch} events/s in batches of 100 (${EVENTS} events)`);
const roll = await rolloutTime();
console.log(`rollout of a ${(roll.bytes / 1e6).toFixed(2)} MB model to ${roll.devices} devices: ${roll.ms} ms from publish to the last 'accepted'`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/fleet-figures.json', `${JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), store, rollout: roll }, null, 1)}\n`);
process.exit(0);

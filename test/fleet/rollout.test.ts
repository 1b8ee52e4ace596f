/**
 * Signed model rollout over a real mosquitto (TLS, ACL): eleven in-process
 * devices with their own clients, state folders and ONNX models run by the
 * engine. A staged 20 % rollout reaches exactly the devices the hash selects;
 * on a lab device, a replayed older version, a tampered model, an altered
 * manifest, an unknown key, an expired manifest (trusted clock), a failing
 * self-test, malformed and oversized messages are each refused by name while
 * it keeps its model, and a model that fails on real frames after the switch
 * is rolled back; frames pushed through every switch are each decided once.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { writeOnnx } from '../../src/formats/onnx/writer.js';
import { load } from '../../src/runtime/load.js';
import { CloudlessError } from '../../src/ir/index.js';
import { validatePipeline } from '../../src/pipeline/config.js';
import { SecretStore } from '../../src/pipeline/secrets.js';
import type { Source, SourceContext } from '../../src/pipeline/sources/source.js';
import type { Task } from '../../src/pipeline/types.js';
import { buildManifest, generateSigningKey, resultDigest, selectedForRollout, signManifest, type Manifest } from '../../src/fleet/manifest.js';
import { rolloutTopic } from '../../src/fleet/messages.js';
import { FleetMonitor } from '../../src/fleet/monitor.js';
import { FleetStore } from '../../src/fleet/store.js';
import { serveModels, type ModelServer } from '../../src/fleet/serve.js';
import { startFleetPipeline, type FleetPipeline } from '../../src/fleet/run.js';
import { until } from '../pipeline/mosquitto.js';
import { TlsBroker, freePort, hasMosquitto, hasOpenssl } from './broker.js';

const missing = !hasMosquitto() ? 'mosquitto' : !hasOpenssl() ? 'openssl' : undefined;
const PREFIX = 'cloudless';

/** y = x * w, or with `pole` y = x / (x - pole): finite on the self-test input, infinite on frames equal to the pole. */
function model(w: number, pole?: number): Uint8Array {
  const c = (v: number) => new Tensor('float32', [1, 1], Float32Array.of(v));
  return writeOnnx({
    opset: 13,
    graph: {
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [1, 1] }],
      initializers: pole === undefined ? { w: c(w) } : { p: c(pole) },
      nodes: pole === undefined
        ? [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }]
        : [{ op: 'Sub', inputs: ['x', 'p'], outputs: ['d'] }, { op: 'Div', inputs: ['x', 'd'], outputs: ['y'] }],
    },
  });
}

/** A sensor task on an ONNX model: the frame's number in, the model's output as the value; a non-finite output is a model error. */
async function loadTask(file: string): Promise<Task> {
  const s = await load(file);
  return {
    name: `onnx:${path.basename(path.dirname(file))}/${path.basename(file)}`, accepts: ['sensor'],
    async run(frame) {
      const x = Number(Buffer.from(frame.data).toString('utf8'));
      const y = Number((await s.run({ x: new Tensor("float32", [1, 1], Float32Array.of(x)) })).y!.data[0]!);
      if (!Number.isFinite(y)) throw new CloudlessError('E_INTERNAL', `model gave ${y} for ${x}`);
      return { findings: [], value: y };
    },
  };
}

class PushSource implements Source {
  readonly name = 'push';
  private ctx?: SourceContext;
  pushed = 0;
  async start(ctx: SourceContext): Promise<void> { this.ctx = ctx; }
  async stop(): Promise<void> { /* nothing held */ }
  async push(x: number): Promise<void> {
    this.pushed++;
    await this.ctx!.queue.put({ kind: 'sensor', seq: this.pushed, time: Date.now(), source: this.name, data: new Uint8Array(Buffer.from(String(x))) });
  }
}

const TERMINAL = new Set(['refused', 'accepted', 'rolled-back', 'skipped', 'failed']);

describe.skipIf(missing !== undefined)(`signed model rollout over mosquitto${missing ? ` — skipped: ${missing} missing` : ''}`, () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-rollout-'));
  const modelsDir = path.join(root, 'models');
  let broker: TlsBroker;
  let server: ModelServer;
  let fleet: mqtt.MqttClient;
  // A fleet store acknowledges the devices' events (rollout steps among them), as in a real fleet.
  const store = new FleetStore(':memory:');
  let monitor: FleetMonitor;
  const signer = new SecretStore(path.join(root, 'signer'));
  let pub: string;
  const ids = Array.from({ length: 10 }, (_, i) => `cam${i}`);
  const devices = new Map<string, { fp: FleetPipeline; source: PushSource }>();
  let now = Date.parse('2030-01-01T00:00:00Z');

  async function startDevice(id: string, group: string, trusted: boolean): Promise<void> {
    const dir = path.join(root, id);
    new SecretStore(dir).set('broker', broker.passwords.get(id)!);
    const base = path.join(dir, 'base.onnx');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(base, model(1));
    const cfg = validatePipeline({
      name: 'meter', source: { type: 'stdin' }, task: { type: 'module', path: 'unused.js' }, rules: [{ name: 'reading', value_above: -1e9 }],
      safe_state: { description: 'hold' }, allow: ['127.0.0.1'],
      fleet: {
        broker: broker.url, device_id: id, group, password_secret: 'broker', ca_file: broker.caFile, health_interval_s: 60,
        rollout: { keys: [pub], trusted_clock: trusted, grace_s: 0.6 },
      },
    });
    const source = new PushSource();
    const fp = await startFleetPipeline(cfg, { dataDir: dir, source, task: await loadTask(base), loadTask, watchEveryMs: 20, now: () => now });
    await fp.pipeline.start();
    devices.set(id, { fp, source });
  }

  const publish = (group: string, body: string | Buffer) => new Promise<void>((r, j) => fleet.publish(rolloutTopic(PREFIX, group), body, { qos: 1, retain: true }, (e) => (e ? j(e) : r())));

  /** Publishes and waits for the device's next terminal rollout step. */
  async function roll(id: string, group: string, body: string | Buffer): Promise<{ step: string; reason?: string }> {
    const h = devices.get(id)!.fp.rollout!.history;
    const seen = h.filter((m) => TERMINAL.has(m.step)).length;
    await publish(group, body);
    await until(() => h.filter((m) => TERMINAL.has(m.step)).length > seen, 15_000, `${id}: rollout outcome`);
    await devices.get(id)!.fp.rollout!.idle();
    return h.filter((m) => TERMINAL.has(m.step)).at(-1)!;
  }

  async function manifest(name: string, bytes: Uint8Array, version: number, o: { group?: string; pct?: number; expires?: string; key?: string; expectFrom?: Uint8Array } = {}): Promise<Manifest> {
    writeFileSync(path.join(modelsDir, name), bytes);
    // The self-test's expected output is what the intended model gives on the input, computed now as the signer would.
    const ref = path.join(root, `ref-${name}`);
    writeFileSync(ref, o.expectFrom ?? bytes);
    const frame = { kind: 'sensor' as const, data: new Uint8Array(Buffer.from('3')) };
    const t = await loadTask(ref);
    const out = resultDigest(await t.run({ ...frame, seq: 0, time: 0, source: 'self-test' }));
    const m = buildManifest({ model: 'meter', bytes, version, url: `${server.url}/${name}`, group: o.group, pct: o.pct, expires: o.expires, selfTest: { frame, outputSha256: out } });
    return signManifest(m, signer, [o.key ?? 'signing']);
  }

  const value = async (id: string, x: number): Promise<number> => {
    const d = devices.get(id)!;
    const n = d.fp.pipeline.stats().events;
    await d.source.push(x);
    await until(() => d.fp.pipeline.stats().framesDecided >= d.source.pushed && d.fp.pipeline.stats().events > n, 5000, `${id}: frame decided`);
    return d.fp.pipeline.ledger.list({ limit: 5 }).find((r) => r.kind === 'rule')!.event.value!;
  };

  beforeAll(async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(modelsDir, { recursive: true });
    broker = new TlsBroker(await freePort(), PREFIX, [...ids, 'lab0']);
    await broker.start();
    server = await serveModels(modelsDir);
    pub = generateSigningKey(signer, 'signing').publicPem;
    generateSigningKey(signer, 'stranger');
    fleet = mqtt.connect(broker.url, { username: 'fleet', password: broker.passwords.get('fleet'), ca: readFileSync(broker.caFile), clientId: 'fleet-cli' });
    await new Promise((r) => fleet.once('connect', r));
    monitor = new FleetMonitor(store, { broker: broker.url, username: 'fleet', password: broker.passwords.get('fleet'), caFile: broker.caFile, clientId: 'fleet-store' });
    await new Promise((r) => monitor.once('subscribed', r));
    for (const id of ids) await startDevice(id, 'default', false);
    await startDevice('lab0', 'lab', true);
  }, 60_000);

  afterAll(async () => {
    for (const d of devices.values()) await d.fp.stop();
    await monitor?.close();
    store.close();
    if (fleet) await new Promise((r) => fleet.end(true, {}, () => r(undefined)));
    await server?.close();
    await broker?.dispose();
  });

  it('a staged 20 % rollout reaches exactly the devices the hash selects', async () => {
    const m = await manifest('meter-v1.onnx', model(2), 1);
    const want = ids.filter((id) => selectedForRollout(id, m, 20));
    await publish('default', JSON.stringify({ manifest: m, pct: 20 }));
    await until(() => ids.every((id) => devices.get(id)!.fp.rollout!.history.some((h) => TERMINAL.has(h.step))), 20_000, 'every device decided');
    for (const id of ids) await devices.get(id)!.fp.rollout!.idle();
    const got = ids.filter((id) => devices.get(id)!.fp.rollout!.history.some((h) => h.step === 'accepted'));
    const skipped = ids.filter((id) => devices.get(id)!.fp.rollout!.history.some((h) => h.step === 'skipped'));
    console.log(`20 % rollout: selected ${want.join(', ') || 'none'} of ${ids.length}`);
    expect(got).toEqual(want);
    expect(skipped).toEqual(ids.filter((id) => !want.includes(id)));
    for (const id of ids) expect(await value(id, 3)).toBe(want.includes(id) ? 6 : 3);
  }, 60_000);

  it('accepts a good model on the lab device with frames flowing through the switch, each decided once', async () => {
    const d = devices.get('lab0')!;
    let pumping = true;
    const pump = (async () => { while (pumping) { await d.source.push(1); await new Promise((r) => setTimeout(r, 5)); } })();
    const out = await roll('lab0', 'lab', JSON.stringify({ manifest: await manifest('lab-v5.onnx', model(2), 5, { group: 'lab' }), pct: 100 }));
    pumping = false;
    await pump;
    expect(out.step).toBe('accepted');
    await until(() => d.fp.pipeline.stats().framesDecided === d.source.pushed, 5000, 'queue drained');
    const s = d.fp.pipeline.stats();
    expect(s.framesDropped).toBe(0);
    const rows = d.fp.pipeline.ledger.list({ ascending: true }).filter((r) => r.kind === 'rule');
    expect(rows.length).toBe(d.source.pushed);
    // Values go from 1 (old model) to 2 (new model) once, never back: no frame decided by both.
    const values = rows.map((r) => r.event.value);
    const firstNew = values.indexOf(2);
    expect(firstNew).toBeGreaterThan(0);
    expect(values.slice(0, firstNew).every((v) => v === 1)).toBe(true);
    expect(values.slice(firstNew).every((v) => v === 2)).toBe(true);
    expect(d.fp.rollout!.running().version).toBe(5);
  }, 60_000);

  it('refuses each bad rollout by name and keeps running version 5', async () => {
    const lab = { group: 'lab' };
    const cases: [string, () => Promise<string | Buffer>, RegExp][] = [
      ['replayed older version', async () => JSON.stringify({ manifest: await manifest('lab-v4.onnx', model(4), 4, lab), pct: 100 }), /^replayed-version/],
      ['tampered model', async () => { const m = await manifest('lab-v6.onnx', model(6), 6, lab); writeFileSync(path.join(modelsDir, 'lab-v6.onnx'), model(7)); return JSON.stringify({ manifest: m, pct: 100 }); }, /^tampered-model/],
      ['altered manifest', async () => { const m = await manifest('lab-v7.onnx', model(6), 7, lab); return JSON.stringify({ manifest: { ...m, url: `${server.url}/lab-v6.onnx` }, pct: 100 }); }, /^bad-signature/],
      ['unknown key', async () => JSON.stringify({ manifest: await manifest('lab-v8.onnx', model(6), 8, { ...lab, key: 'stranger' }), pct: 100 }), /^unknown-key/],
      ['expired', async () => JSON.stringify({ manifest: await manifest('lab-v9.onnx', model(6), 9, { ...lab, expires: '2029-12-31T00:00:00Z' }), pct: 100 }), /^expired/],
      ['failing self-test', async () => JSON.stringify({ manifest: await manifest('lab-v10.onnx', model(3), 10, { ...lab, expectFrom: model(6) }), pct: 100 }), /^self-test-failed/],
      ['malformed', async () => '{"manifest": {"format": "cloudless-model-manifest/1"}, "pct": 100}', /^malformed/],
      ['not JSON', async () => Buffer.from([0xff, 0x00, 0x13]), /^malformed/],
      ['oversized', async () => Buffer.alloc(300 * 1024, 0x20), /^oversized/],
      ['wrong group', async () => JSON.stringify({ manifest: await manifest('lab-v11.onnx', model(6), 11), pct: 100 }), /^wrong-group/],
    ];
    for (const [what, make, reason] of cases) {
      const out = await roll('lab0', 'lab', await make());
      expect(out.step, what).toBe('refused');
      expect(out.reason, what).toMatch(reason);
      expect(devices.get('lab0')!.fp.rollout!.running().version, what).toBe(5);
      expect(await value('lab0', 3), what).toBe(6);
    }
    now = Date.parse('2029-06-01T00:00:00Z');
    const ok = await roll('lab0', 'lab', JSON.stringify({ manifest: await manifest('lab-v12.onnx', model(2), 12, { ...lab, expires: '2029-12-31T00:00:00Z' }), pct: 100 }));
    expect(ok.step).toBe('accepted');
  }, 120_000);

  it('rolls back a model that fails on real frames after the switch', async () => {
    const d = devices.get('lab0')!;
    let pumping = true;
    const pump = (async () => { while (pumping) { await d.source.push(5); await new Promise((r) => setTimeout(r, 10)); } })();
    const out = await roll('lab0', 'lab', JSON.stringify({ manifest: await manifest('lab-v13.onnx', model(0, 5), 13, { group: 'lab' }), pct: 100 }));
    pumping = false;
    await pump;
    expect(out.step).toBe('rolled-back');
    expect(out.reason).toMatch(/health-drop: .*model error/);
    expect(d.fp.rollout!.running().version).toBe(12);
    expect(await value('lab0', 3)).toBe(6);
    await until(() => d.fp.pipeline.stats().state === 'normal', 5000, 'pipeline back to normal');
    // The rolled-back version is spent: publishing it again is a replay.
    const again = await roll('lab0', 'lab', JSON.stringify({ manifest: await manifest('lab-v13b.onnx', model(2), 13, { group: 'lab' }), pct: 100 }));
    expect(again.reason).toMatch(/^replayed-version/);
    // Every step is in the ledger as a 'model' event.
    const steps = d.fp.pipeline.ledger.list({ ascending: true }).filter((r) => r.kind === 'model').map((r) => r.event.label);
    expect(steps).toContain('rolled-back');
    expect(steps).toContain('self-test');
  }, 60_000);
});

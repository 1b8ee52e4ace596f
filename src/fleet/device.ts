/**
 * The device side of a fleet: one MQTT client per device, with its own
 * credentials and a pinned CA, that reports
 *
 *   status   online when connected; the broker publishes the last will
 *            (offline) when the device vanishes. Both carry the boot counter,
 *            persisted and incremented at each start, so a will from an older
 *            session (a broker noticing a dead connection late) is recognised:
 *            the fleet keeps the highest boot, and the device itself, seeing an
 *            offline on its own topic while connected, publishes online again.
 *   health   every health_interval_s, retained.
 *   events   the ledger's events, through a delivery sink (FleetEventSink), so
 *            the ledger is the outbox. An event is marked delivered only when a
 *            fleet store acknowledges its id on `events/ack` after committing
 *            it, not on the broker's PUBACK (a broker SIGKILLed between its
 *            PUBACK and its next save loses what it took): a broker outage, a
 *            broker that forgets, or no fleet store at all delays events and
 *            never loses them. A lost acknowledgement repeats the event with
 *            the same id, which the fleet store drops (and acknowledges again).
 *
 * and takes signed rollouts from `<prefix>/rollout/<group>` (src/fleet/rollout.ts).
 * Every payload is built by `fleetJson` from a closed schema (no bytes, short
 * strings, size-capped): the privacy guard for fleet messages.
 *
 *   const device = await FleetDevice.create(cfg.fleet, { dataDir, baseDir });
 *   const p = await Pipeline.create(cfg, { dataDir, everyEventSinks: [device.eventSink] });
 *   device.attach(p); await p.start();
 */
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CloudlessError } from '../ir/index.js';
import type { Sink } from '../pipeline/actions.js';
import type { FleetConfig, FleetInput } from '../pipeline/config.js';
import { fleetSchema } from '../pipeline/config.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { safeText } from '../pipeline/privacy.js';
import { SecretStore } from '../pipeline/secrets.js';
import { ackSchema, fleetJson, healthSchema, modelStateSchema, parseMessage, rolloutTopic, statusSchema, topics, type HealthMessage, type ModelStateMessage } from './messages.js';
import { DeviceStateFile } from './state.js';

export interface FleetDeviceOptions {
  /** The device's data directory (boot counter, rollout state, model slots, secrets). */
  dataDir: string;
  /** Folder relative ca_file / cert_file / key_file / key paths are resolved against. */
  baseDir?: string;
  /** Called with each rollout message's bytes (the rollout agent). */
  onRollout?: (payload: Buffer) => void;
  /** What the device runs now, for health (the rollout agent's active slot). */
  model?: () => HealthMessage['model'];
}

/** Reads a PEM file named in the fleet config. */
function pemFile(file: string | undefined, baseDir: string, key: string): Buffer | undefined {
  if (!file) return undefined;
  const p = path.resolve(baseDir, file);
  try { return readFileSync(p); } catch (err) {
    throw new CloudlessError('E_FILE', `fleet.${key}: cannot read ${p}: ${(err as Error).message}`, { file: p });
  }
}

/** CPU temperature in °C from the first thermal zone the OS exposes, if any. */
export function cpuTemperature(): number | undefined {
  let zones: string[];
  try { zones = readdirSync('/sys/class/thermal').filter((z) => z.startsWith('thermal_zone')); } catch { return undefined; }
  for (const z of zones.sort()) {
    try {
      const milli = Number(readFileSync(`/sys/class/thermal/${z}/temp`, 'utf8').trim());
      if (Number.isFinite(milli)) return Math.round(milli / 100) / 10;
    } catch { /* a zone without a readable sensor */ }
  }
  return undefined;
}

/** Bytes free for an unprivileged user on the file system holding `dir`. */
export function diskFree(dir: string): number | undefined {
  try { const s = statfsSync(dir); return s.bavail * s.bsize; } catch { return undefined; }
}

export class FleetDevice {
  readonly config: FleetConfig;
  readonly topics: ReturnType<typeof topics>;
  readonly rolloutTopic: string;
  readonly boot: number;
  /** Boot counter and rollout state, persisted (shared with the rollout agent). */
  readonly state: DeviceStateFile;
  readonly eventSink: FleetEventSink;
  readonly client: MqttClient;
  /** Messages the device refused (malformed, oversized), newest last; for tests and the log. */
  readonly refused: string[] = [];
  private readonly pipelines: Pipeline[] = [];
  private readonly lastDecided = new Map<string, { n: number; t: number }>();
  private healthTimer?: NodeJS.Timeout;
  private readonly started = Date.now();
  private closed = false;
  private lastModelState?: string;

  private constructor(cfg: FleetConfig, private readonly opts: FleetDeviceOptions, password: string | undefined) {
    this.config = cfg;
    this.topics = topics(cfg.prefix, cfg.device_id);
    this.rolloutTopic = rolloutTopic(cfg.prefix, cfg.group);
    this.state = new DeviceStateFile(opts.dataDir);
    this.boot = this.state.nextBoot();
    const baseDir = opts.baseDir ?? process.cwd();
    const url = new URL(cfg.broker);
    const tls = url.protocol === 'mqtts:';
    if (tls && !cfg.ca_file) throw new CloudlessError('E_CONFIG', 'fleet.ca_file: an mqtts:// broker needs the CA to pin', { hint: 'the PEM of the CA that signed the broker certificate' });
    const options: IClientOptions = {
      clientId: `${cfg.prefix}-${cfg.device_id}`,
      username: cfg.username ?? cfg.device_id,
      password,
      keepalive: cfg.keepalive_s,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      clean: true,
      queueQoSZero: false,
      will: { topic: this.topics.status, payload: Buffer.from(this.statusJson('offline')), qos: 1, retain: true },
      ...(tls ? {
        ca: pemFile(cfg.ca_file, baseDir, 'ca_file'), cert: pemFile(cfg.cert_file, baseDir, 'cert_file'), key: pemFile(cfg.key_file, baseDir, 'key_file'),
        rejectUnauthorized: true,
      } : {}),
    };
    this.client = mqtt.connect(cfg.broker, options);
    this.eventSink = new FleetEventSink(this.client, this.topics.events, `${url.protocol}//${url.host}/${this.topics.events}`, cfg.ack_timeout_s * 1000);
    this.client.on('connect', () => this.onConnect());
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    // mqtt.js reports a refused or dropped connection as 'close'; the event sink turns it into failed deliveries.
    this.client.on('error', () => undefined);
  }

  /** Validates the fleet config, opens the broker password from the secret store and starts connecting (it never waits for the broker). */
  static create(input: FleetConfig | FleetInput, opts: FleetDeviceOptions): FleetDevice {
    const r = fleetSchema.safeParse(input);
    if (!r.success) {
      const i = r.error.issues[0]!;
      throw new CloudlessError('E_CONFIG', `fleet.${i.path.join('.')}: ${i.message}`);
    }
    const cfg = r.data;
    const password = cfg.password_secret ? new SecretStore(opts.dataDir).get(cfg.password_secret) : undefined;
    return new FleetDevice(cfg, opts, password);
  }

  /** Reports this pipeline's counters in health (and its rules in Home Assistant discovery). */
  attach(p: Pipeline): void {
    this.pipelines.push(p);
    if (this.client.connected) { this.publishDiscovery(); this.publishHealth(); }
    this.healthTimer ??= setInterval(() => this.publishHealth(), this.config.health_interval_s * 1000);
  }

  private statusJson(state: 'online' | 'offline'): string {
    return fleetJson(statusSchema, 'status', { state, boot: this.boot, time: new Date().toISOString() });
  }

  private onConnect(): void {
    this.publish(this.topics.status, this.statusJson('online'), true);
    const subs = [this.topics.status, this.topics.eventsAck, this.rolloutTopic];
    if (this.config.home_assistant) subs.push(`${this.haPrefix}/status`);
    this.client.subscribe(subs, { qos: 1 }, () => undefined);
    this.publishDiscovery();
    this.publishHealth();
    if (this.lastModelState) this.publish(this.topics.modelState, this.lastModelState, true);
    this.eventSink.status.emit('up');
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      if (topic === this.topics.status) {
        const s = parseMessage(statusSchema, topic, payload);
        // Our own will, from an older session (or this one's dropped connection), arrived after we connected: say online again.
        if (s.state === 'offline' && s.boot <= this.boot && this.client.connected && !this.closed) this.publish(this.topics.status, this.statusJson('online'), true);
      } else if (topic === this.topics.eventsAck) {
        this.eventSink.acknowledge(parseMessage(ackSchema, topic, payload).ids);
      } else if (topic === this.rolloutTopic) {
        this.opts.onRollout?.(payload);
      } else if (this.config.home_assistant && topic === `${this.haPrefix}/status`) {
        if (payload.toString('utf8').trim() === 'online') this.publishDiscovery();
      }
    } catch (err) {
      this.refused.push(safeText(err));
      if (this.refused.length > 100) this.refused.shift();
      for (const p of this.pipelines) p.log.warn('fleet message refused', { topic: safeText(topic), error: safeText(err) });
    }
  }

  private publish(topic: string, json: string, retain: boolean): void {
    if (this.client.connected) this.client.publish(topic, json, { qos: 1, retain }, () => undefined);
  }

  /** Publishes a rollout step on model/state (retained, and again after each reconnect). */
  publishModelState(m: ModelStateMessage): void {
    this.lastModelState = fleetJson(modelStateSchema, 'model state', m);
    this.publish(this.topics.modelState, this.lastModelState, true);
  }

  health(): HealthMessage {
    const now = Date.now();
    const pipelines: HealthMessage['pipelines'] = {};
    for (const p of this.pipelines) {
      const s = p.stats();
      const last = this.lastDecided.get(p.config.name) ?? { n: 0, t: this.started };
      const rate = now > last.t ? ((s.framesDecided - last.n) * 1000) / (now - last.t) : 0;
      this.lastDecided.set(p.config.name, { n: s.framesDecided, t: now });
      pipelines[p.config.name] = {
        state: s.state, causes: s.causes.map((c) => safeText(c)), frames_decided: s.framesDecided, frames_dropped: s.framesDropped,
        model_errors: s.modelErrors, missed_deadlines: s.missedDeadlines, events: s.events, pending: s.pending, decisions_per_s: Math.round(rate * 100) / 100,
      };
    }
    const model = this.opts.model?.();
    const disk = diskFree(this.opts.dataDir);
    const temp = cpuTemperature();
    return {
      boot: this.boot, time: new Date(now).toISOString(), uptime_s: Math.round((now - this.started) / 1000), pipelines,
      safe_state: Object.values(pipelines).some((p) => p.state === 'safe'),
      ...(model ? { model } : {}),
      rss_bytes: process.memoryUsage().rss,
      ...(disk === undefined ? {} : { disk_free_bytes: disk }),
      ...(temp === undefined ? {} : { cpu_temp_c: temp }),
    };
  }

  publishHealth(): void {
    if (!this.client.connected || this.closed) return;
    this.publish(this.topics.health, fleetJson(healthSchema, 'health', this.health()), true);
  }

  private get haPrefix(): string {
    const h = this.config.home_assistant;
    return typeof h === 'object' ? h.discovery_prefix : 'homeassistant';
  }

  /** Home Assistant device-based discovery: one config message with an event entity per rule, health sensors and a model update entity. */
  discoveryMessage(): { topic: string; payload: string } {
    const id = `${this.config.prefix}_${this.config.device_id}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const cmps: Record<string, Record<string, unknown>> = {};
    for (const p of this.pipelines) {
      for (const r of p.config.rules) {
        cmps[`${p.config.name}_${r.name}`.replace(/[^A-Za-z0-9_-]/g, '_')] = {
          p: 'event', name: `${p.config.name} ${r.name}`, unique_id: `${id}_${p.config.name}_${r.name}`, state_topic: this.topics.events,
          event_types: ['fired'],
          value_template: `{% if value_json.pipeline == '${p.config.name}' and value_json.rule == '${r.name}' %}{"event_type": "fired"}{% else %}{}{% endif %}`,
        };
      }
      cmps[`${p.config.name}_rate`.replace(/[^A-Za-z0-9_-]/g, '_')] = {
        p: 'sensor', name: `${p.config.name} decisions/s`, unique_id: `${id}_${p.config.name}_rate`, state_topic: this.topics.health,
        unit_of_measurement: '1/s', value_template: `{{ value_json.pipelines['${p.config.name}'].decisions_per_s }}`,
      };
    }
    cmps.safe_state = { p: 'binary_sensor', name: 'safe state', unique_id: `${id}_safe`, state_topic: this.topics.health, device_class: 'problem', value_template: "{{ 'ON' if value_json.safe_state else 'OFF' }}" };
    cmps.rss = { p: 'sensor', name: 'memory', unique_id: `${id}_rss`, state_topic: this.topics.health, unit_of_measurement: 'B', device_class: 'data_size', value_template: '{{ value_json.rss_bytes }}' };
    cmps.model = {
      p: 'update', name: 'model', unique_id: `${id}_model`, state_topic: this.topics.modelState,
      value_template: '{"installed_version": "{{ value_json.running }}", "latest_version": "{{ [value_json.version, value_json.running] | max }}"}',
    };
    const payload = {
      dev: { ids: [id], name: this.config.device_id, mf: 'cloudless', mdl: 'cloudless device' },
      o: { name: 'cloudless' },
      avty_t: this.topics.status, avty_tpl: '{{ value_json.state }}', pl_avail: 'online', pl_not_avail: 'offline',
      cmps,
    };
    return { topic: `${this.haPrefix}/device/${id}/config`, payload: JSON.stringify(payload) };
  }

  private publishDiscovery(): void {
    if (!this.config.home_assistant || !this.client.connected) return;
    const d = this.discoveryMessage();
    this.publish(d.topic, d.payload, true);
  }

  /** Says offline (retained) and disconnects cleanly, so no will is sent. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.client.connected) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 2000);
        this.client.publish(this.topics.status, this.statusJson('offline'), { qos: 1, retain: true }, () => { clearTimeout(t); r(); });
      });
    }
    await new Promise<void>((r) => this.client.end(false, {}, () => r()));
  }
}

/**
 * The delivery sink for fleet events: publishes a ledger event (QoS 1, not
 * retained) on `<prefix>/<device>/events` and resolves when a fleet store
 * acknowledges the event's id on `<prefix>/<device>/events/ack` (the device's
 * 'message' handler passes those ids to `acknowledge`). The broker's PUBACK is
 * not enough: it says the broker took the event, not that a store holds it.
 * No acknowledgement within the timeout, a refused publish or a dropped
 * connection fail the send, and the delivery worker sends the same event again
 * later. It shares the device's client; closing it leaves the client to the
 * device.
 */
export class FleetEventSink implements Sink {
  readonly name = 'fleet';
  readonly status = new EventEmitter();
  private readonly waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  /** Acknowledgements that matched a send waiting for them, and ones that did not (late or repeated). */
  acked = 0;
  unmatchedAcks = 0;

  constructor(private readonly client: MqttClient, private readonly topic: string, readonly destination: string, private readonly ackTimeoutMs = 10_000) {
    // An acknowledgement sent while the connection is down is lost (the device's session is clean): fail at once and send again after reconnecting.
    client.on('close', () => this.cancel(`connection to ${destination} lost before the fleet store acknowledged`));
  }

  async send(json: string, eventId: string): Promise<void> {
    if (!this.client.connected) throw new Error(`fleet broker ${this.destination} unreachable`);
    this.waiting.get(eventId)?.reject(new Error(`event ${eventId} sent again`));
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        if (this.waiting.get(eventId) === entry) this.waiting.delete(eventId);
        if (err) reject(err); else resolve();
      };
      const entry = { resolve: () => done(), reject: (err: Error) => done(err) };
      const timer = setTimeout(() => done(new Error(`no fleet store acknowledged event ${eventId} on ${this.topic}/ack within ${this.ackTimeoutMs / 1000} s (is a fleet store running?)`)), this.ackTimeoutMs);
      this.waiting.set(eventId, entry);
      this.client.publish(this.topic, json, { qos: 1 }, (err) => { if (err) done(err); });
    });
  }

  /** Resolves the sends waiting for these ids; returns how many matched. */
  acknowledge(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) {
      const w = this.waiting.get(id);
      if (w) { w.resolve(); n++; } else this.unmatchedAcks++;
    }
    this.acked += n;
    return n;
  }

  /** Fails every send still waiting for an acknowledgement (their events stay pending in the ledger). */
  cancel(reason = 'the fleet sink stopped'): void {
    for (const w of [...this.waiting.values()]) w.reject(new Error(reason));
  }

  async close(): Promise<void> { this.cancel(); /* the device closes the client */ }
}

/**
 * The fleet side: one MQTT client that subscribes to every device's status,
 * health, model state and events under a prefix and writes them to the fleet
 * store. Its session is persistent (clean: false, a stable client id), so a
 * broker that keeps sessions on disk queues events for it while it is away.
 * Each message is stored (synchronously, in SQLite) before mqtt.js sends the
 * PUBACK.
 *
 * End-to-end acknowledgement: after an event is committed (or found already
 * stored: a repeat), its id is published on `<prefix>/<device>/events/ack`
 * (QoS 1, not retained; the ids of one tick go together, per device). The
 * device marks the event delivered only on that, so what a broker loses (a
 * SIGKILL between its PUBACK and its next save) is sent again.
 *
 * With several fleet stores on a clustered broker (EMQX, HiveMQ, VerneMQ),
 * `share` subscribes to events as `$share/<share>/<prefix>/+/events` so each
 * event reaches one of them, and that one acknowledges it; status and health
 * are subscribed plainly by all. An event re-sent after a lost acknowledgement
 * may land in another store: each store holds it once, their union may hold
 * it twice under the same (device, id), which is the key to merge on.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { safeText } from '../pipeline/privacy.js';
import { MAX_ACK_IDS, healthSchema, modelStateSchema, parseEvent, parseMessage, statusSchema } from './messages.js';
import type { FleetStore } from './store.js';

export interface FleetMonitorOptions {
  broker: string;
  prefix?: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** PEM file of the CA to pin for mqtts://. */
  caFile?: string;
  /** Shared-subscription group for events ($share/<share>/...). */
  share?: string;
  keepalive?: number;
}

export class FleetMonitor extends EventEmitter {
  readonly client: MqttClient;
  readonly prefix: string;
  /** Messages refused (malformed, oversized, unknown topic), for the log and tests. */
  refused = 0;
  received = 0;
  duplicates = 0;
  lastRefusal?: string;
  /** Acknowledgement messages published, and the event ids they carried. */
  acks = 0;
  ackedIds = 0;
  private readonly toAck = new Map<string, string[]>();
  private ackScheduled = false;

  constructor(readonly store: FleetStore, opts: FleetMonitorOptions) {
    super();
    this.prefix = opts.prefix ?? 'cloudless';
    const options: IClientOptions = {
      clientId: opts.clientId ?? `cloudless-fleet-${process.pid}`,
      clean: false,
      username: opts.username,
      password: opts.password,
      keepalive: opts.keepalive ?? 30,
      reconnectPeriod: 500,
      connectTimeout: 5000,
      ...(opts.caFile ? { ca: readFileSync(opts.caFile), rejectUnauthorized: true } : {}),
    };
    this.client = mqtt.connect(opts.broker, options);
    const p = this.prefix;
    const events = opts.share ? `$share/${opts.share}/${p}/+/events` : `${p}/+/events`;
    this.client.on('connect', () => {
      // A session the broker kept has the subscriptions already; subscribing again is harmless and covers a lost session.
      this.client.subscribe([`${p}/+/status`, `${p}/+/health`, `${p}/+/model/state`, events], { qos: 1 }, () => this.emit('subscribed'));
      this.emit('connect');
    });
    this.client.on('close', () => this.emit('close'));
    this.client.on('error', () => undefined);
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  private onMessage(topic: string, payload: Buffer): void {
    this.received++;
    const parts = topic.split('/');
    const plen = this.prefix.split('/').length;
    const device = parts[plen];
    const kind = parts.slice(plen + 1).join('/');
    try {
      if (!device || topic.slice(0, this.prefix.length + 1) !== `${this.prefix}/`) throw new Error(`topic ${safeText(topic)} is not under ${this.prefix}/`);
      if (payload.length === 0) return; // a cleared retained message
      switch (kind) {
        case 'status': {
          const s = parseMessage(statusSchema, topic, payload);
          if (this.store.status(device, s)) this.emit('status', device, s);
          else this.emit('stale-will', device, s);
          break;
        }
        case 'health': this.store.health(device, parseMessage(healthSchema, topic, payload)); this.emit('health', device); break;
        case 'model/state': { const m = parseMessage(modelStateSchema, topic, payload); this.store.modelState(device, m); this.emit('model', device, m); break; }
        case 'events': {
          const e = parseEvent(topic, payload);
          if (this.store.event(device, e)) this.emit('event', device, e); else this.duplicates++;
          this.ack(device, e.id);
          break;
        }
        default: throw new Error(`unknown fleet topic ${safeText(topic)}`);
      }
    } catch (err) {
      this.refused++;
      this.lastRefusal = safeText(err);
      this.emit('refused', topic, this.lastRefusal);
    }
  }

  /** Queues an id to acknowledge; the ids of one tick go out together, one message per device. */
  private ack(device: string, id: string): void {
    const ids = this.toAck.get(device) ?? [];
    ids.push(id);
    this.toAck.set(device, ids);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      // Lost while the connection is down, an acknowledgement is not queued: the device times out and sends the event again.
      if (!this.client.connected) { this.toAck.clear(); return; }
      for (const [dev, all] of this.toAck) {
        for (let i = 0; i < all.length; i += MAX_ACK_IDS) {
          const ids = all.slice(i, i + MAX_ACK_IDS);
          this.acks++;
          this.ackedIds += ids.length;
          this.client.publish(`${this.prefix}/${dev}/events/ack`, JSON.stringify({ ids }), { qos: 1 }, () => undefined);
        }
      }
      this.toAck.clear();
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.client.end(false, {}, () => r()));
  }
}

/**
 * Sensor sources: MQTT topics and stdin lines. Each message or line is one
 * 'sensor' frame holding its bytes; the sensor task reads a number from it
 * (plain, or a field of a JSON object).
 */
import type { Readable } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../actions.js';
import type { SourceConfig } from '../config.js';
import type { EgressPolicy } from '../egress.js';
import { safeText } from '../privacy.js';
import type { Source, SourceContext } from './source.js';

type MqttSourceConfig = Extract<SourceConfig, { type: 'mqtt' }>;

export class MqttSource implements Source {
  readonly name: string;
  private client?: MqttClient;
  private seq = 0;
  private down = false;
  private stopping = false;

  constructor(private readonly cfg: MqttSourceConfig, private readonly egress: EgressPolicy, private readonly password?: string) {
    this.name = `mqtt:${cfg.topics.join(',')}`;
  }

  async start(ctx: SourceContext): Promise<void> {
    let client: MqttClient;
    try {
      ({ client } = await connectMqtt(this.cfg.url, this.egress, { username: this.cfg.username, password: this.password, reconnectPeriod: 1000, connectTimeout: 5000 }));
    } catch (err) {
      ctx.fault(`${this.name}: ${safeText(err)}`);
      return;
    }
    if (this.stopping) { client.end(true); return; }
    this.client = client;
    client.on('connect', () => {
      if (this.down) { this.down = false; ctx.healthy(); }
      client.subscribe(this.cfg.topics, { qos: 1 }, (err) => { if (err) ctx.fault(`cannot subscribe: ${safeText(err)}`); });
    });
    const lost = (why: string) => { if (!this.down && !this.stopping) { this.down = true; ctx.fault(`${this.name}: ${why}`); } };
    client.on('close', () => lost('connection to the broker closed'));
    client.on('error', (e) => lost(safeText(e)));
    client.on('message', (topic, payload) => {
      ctx.queue.offer({ kind: 'sensor', seq: this.seq++, time: Date.now(), source: this.name, data: payload, topic });
    });
  }

  stop(): Promise<void> {
    this.stopping = true;
    const c = this.client;
    return c ? new Promise((r) => c.end(true, {}, () => r())) : Promise.resolve();
  }
}

/** Lines of a stream (stdin by default), split on bytes so that no line is turned into a string before the task reads it. */
export class LinesSource implements Source {
  readonly name = 'stdin';
  private seq = 0;
  private partial: Uint8Array = new Uint8Array(0);
  private stream?: Readable;

  constructor(private readonly input: Readable = process.stdin) {}

  async start(ctx: SourceContext): Promise<void> {
    this.stream = this.input;
    this.input.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== 0x0a) continue;
        this.emit(ctx, chunk.subarray(start, i));
        start = i + 1;
      }
      const rest = chunk.subarray(start);
      const joined = new Uint8Array(this.partial.length + rest.length);
      joined.set(this.partial);
      joined.set(rest, this.partial.length);
      this.partial.fill(0);
      this.partial = joined;
      chunk.fill(0);
    });
    this.input.on('end', () => {
      if (this.partial.length) this.emit(ctx, new Uint8Array(0));
      ctx.end();
    });
    this.input.on('error', (e) => ctx.fault(`stdin: ${safeText(e)}`));
  }

  private emit(ctx: SourceContext, tail: Uint8Array): void {
    const line = new Uint8Array(this.partial.length + tail.length);
    line.set(this.partial);
    line.set(tail, this.partial.length);
    this.partial.fill(0);
    this.partial = new Uint8Array(0);
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    ctx.queue.offer({ kind: 'sensor', seq: this.seq++, time: Date.now(), source: this.name, data: line });
  }

  async stop(): Promise<void> {
    this.stream?.pause();
    this.partial.fill(0);
  }
}

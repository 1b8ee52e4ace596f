/**
 * Sinks: where events go besides the ledger. Each sends one event's JSON and
 * resolves only when the receiver acknowledged it (MQTT PUBACK for QoS 1, an
 * HTTP 2xx, a command's exit status 0); anything else throws and the delivery
 * worker retries later. Every event carries its `id`, sent as the MQTT payload's
 * `id`, the webhook's Idempotency-Key header and the command's
 * CLOUDLESS_EVENT_ID: a receiver that sees an id twice (possible when an
 * acknowledgement is lost with the connection) knows it is a repeat.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { CloudlessError } from '../ir/index.js';
import type { ActionConfig } from './config.js';
import { safeText } from './privacy.js';
import type { SecretStore } from './secrets.js';

export interface Sink {
  readonly name: string;
  /** Where events go, as the audit reports it (no credentials, no query string). */
  readonly destination: string;
  /** Sends one event; resolves once the receiver acknowledged it. */
  send(json: string, eventId: string): Promise<void>;
  /** Emits 'up' and 'down' (with a reason) when the sink's peer becomes reachable or not. */
  readonly status?: EventEmitter;
  close(): Promise<void>;
}

export function createSink(name: string, cfg: ActionConfig, secrets: SecretStore | undefined): Sink {
  const secret = (key: string | undefined) => {
    if (!key) return undefined;
    if (!secrets) throw new CloudlessError('E_CONFIG', `action ${name}: needs secret "${key}" but no secret store is open`);
    return secrets.get(key);
  };
  switch (cfg.type) {
    case 'mqtt': return new MqttSink(name, cfg, secret(cfg.password_secret));
    case 'webhook': return new WebhookSink(name, cfg, secret(cfg.token_secret));
    case 'command': return new CommandSink(name, cfg.command, cfg.timeout_ms);
  }
}

type MqttConfig = Extract<ActionConfig, { type: 'mqtt' }>;

/** Publishes events to an MQTT broker (QoS 1 by default). The client reconnects by itself; while it is down, send() fails fast. */
export class MqttSink implements Sink {
  readonly destination: string;
  readonly status = new EventEmitter();
  private readonly client: MqttClient;
  private up = false;

  get connected(): boolean { return this.up; }

  constructor(readonly name: string, private readonly cfg: MqttConfig, password?: string) {
    const u = new URL(cfg.url);
    this.destination = `${u.protocol}//${u.host}/${cfg.topic}`;
    this.client = mqtt.connect(cfg.url, {
      username: cfg.username,
      password,
      clientId: cfg.client_id ?? `cloudless-${name}-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      // Delivery state lives in the ledger; the client must not queue events of its own while offline.
      queueQoSZero: false,
    });
    this.client.on('connect', () => { this.up = true; this.status.emit('up'); });
    // A refused connection only shows as 'close' (mqtt.js does not emit 'error' for it), so 'close' means unreachable.
    const down = (why: string) => { this.up = false; this.status.emit('down', why); };
    this.client.on('close', () => down(`broker ${this.destination} unreachable`));
    this.client.on('error', (e) => down(safeText(e)));
  }

  async send(json: string): Promise<void> {
    if (!this.client.connected) throw new Error(`broker ${this.destination} unreachable`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no acknowledgement from ${this.destination} within 10 s`)), 10_000);
      this.client.publish(this.cfg.topic, json, { qos: this.cfg.qos }, (err) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.client.end(true, {}, () => r()));
  }
}

type WebhookConfig = Extract<ActionConfig, { type: 'webhook' }>;

/** POSTs each event as JSON; a 2xx answer is the acknowledgement. */
export class WebhookSink implements Sink {
  readonly destination: string;
  constructor(readonly name: string, private readonly cfg: WebhookConfig, private readonly token?: string) {
    const u = new URL(cfg.url);
    this.destination = `${u.protocol}//${u.host}${u.pathname}`;
  }

  async send(json: string, eventId: string): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': eventId };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(this.cfg.url, { method: 'POST', headers, body: json, signal: AbortSignal.timeout(this.cfg.timeout_ms) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${this.destination} answered HTTP ${res.status}`);
  }

  async close(): Promise<void> { /* fetch keeps no connection we own */ }
}

/** Runs a shell command per event with the event JSON on stdin; exit status 0 is the acknowledgement. */
export class CommandSink implements Sink {
  readonly destination = 'local command';
  constructor(readonly name: string, private readonly command: string, private readonly timeoutMs: number) {}

  send(json: string, eventId: string): Promise<void> {
    return runCommand(this.command, json, this.timeoutMs, { CLOUDLESS_EVENT_ID: eventId });
  }

  async close(): Promise<void> { /* each send's process has exited by the time it resolves */ }
}

/** Runs `sh -c command` with `stdin` as its input; rejects on a non-zero exit, a signal or the timeout. */
export function runCommand(command: string, stdin: string, timeoutMs: number, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 500) stderr += d.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`command exited with ${signal ? `signal ${signal}` : `status ${code}`}${stderr ? `: ${safeText(stderr.trim().split('\n')[0])}` : ''}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

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
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { CloudlessError } from '../ir/index.js';
import type { ActionConfig } from './config.js';
import { EgressPolicy, formatAddress } from './egress.js';
import { safeText } from './privacy.js';
import type { SecretStore } from './secrets.js';

export interface Sink {
  readonly name: string;
  /** Where events go, as the audit reports it (no credentials, no query string). */
  readonly destination: string;
  /**
   * Sends one event; resolves once the receiver acknowledged it, with the
   * address actually contacted ("1.2.3.4:443") when the sink is a network one.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: sinks that name no destination simply return nothing
  send(json: string, eventId: string): Promise<string | void>;
  /** Emits 'up' and 'down' (with a reason) when the sink's peer becomes reachable or not. */
  readonly status?: EventEmitter;
  /** Abandons a send still waiting for its acknowledgement (it rejects; the event stays pending). Called when the worker stops. */
  cancel?(reason?: string): void;
  close(): Promise<void>;
}

export function createSink(name: string, cfg: ActionConfig, secrets: SecretStore | undefined, egress: EgressPolicy = new EgressPolicy([])): Sink {
  const secret = (key: string | undefined) => {
    if (!key) return undefined;
    if (!secrets) throw new CloudlessError('E_CONFIG', `action ${name}: needs secret "${key}" but no secret store is open`);
    return secrets.get(key);
  };
  switch (cfg.type) {
    case 'mqtt': return new MqttSink(name, cfg, egress, secret(cfg.password_secret));
    case 'webhook': return new WebhookSink(name, cfg, egress, secret(cfg.token_secret));
    case 'command': return new CommandSink(name, cfg.command, cfg.timeout_ms);
  }
}

type MqttConfig = Extract<ActionConfig, { type: 'mqtt' }>;

/**
 * Publishes events to an MQTT broker (QoS 1 by default). The broker's address
 * is decided once by the egress rule and the client connects to that address
 * (the name is kept for TLS); it reconnects by itself to the same address.
 * While it is down, send() fails fast.
 */
export class MqttSink implements Sink {
  readonly destination: string;
  readonly status = new EventEmitter();
  private client?: MqttClient;
  private readonly connecting: Promise<void>;
  private up = false;
  private closing = false;
  private contacted?: string;

  get connected(): boolean { return this.up; }

  constructor(readonly name: string, private readonly cfg: MqttConfig, egress: EgressPolicy, password?: string) {
    const u = new URL(cfg.url);
    this.destination = `${u.protocol}//${u.host}/${cfg.topic}`;
    this.connecting = connectMqtt(cfg.url, egress, {
      username: cfg.username,
      password,
      clientId: cfg.client_id ?? `cloudless-${name}-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      // Delivery state lives in the ledger; the client must not queue events of its own while offline.
      queueQoSZero: false,
    }).then(({ client, contacted }) => {
      this.contacted = contacted;
      if (this.closing) { client.end(true); return; }
      this.client = client;
      client.on('connect', () => { this.up = true; this.status.emit('up'); });
      // A refused connection only shows as 'close' (mqtt.js does not emit 'error' for it), so 'close' means unreachable.
      // Our own close() is not an outage: it reports nothing.
      const down = (why: string) => { this.up = false; if (!this.closing) this.status.emit('down', why); };
      client.on('close', () => down(`broker ${this.destination} unreachable`));
      client.on('error', (e) => down(safeText(e)));
    }, (err: unknown) => {
      if (!this.closing) this.status.emit('down', safeText(err));
      this.refusal = err;
    });
  }

  private refusal?: unknown;

  async send(json: string): Promise<string> {
    await this.connecting;
    if (this.refusal) throw this.refusal;
    const client = this.client;
    if (!client?.connected) throw new Error(`broker ${this.destination} unreachable`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no acknowledgement from ${this.destination} within 10 s`)), 10_000);
      client.publish(this.cfg.topic, json, { qos: this.cfg.qos }, (err) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve();
      });
    });
    return this.contacted!;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.connecting;
    const c = this.client;
    if (c) await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}

/**
 * Connects an MQTT client to the address the egress rule decided for `url`
 * (never to a second lookup of its name); the name stays the TLS server name.
 * Used by the MQTT sink and the MQTT source alike.
 */
export async function connectMqtt(url: string, egress: EgressPolicy, options: mqtt.IClientOptions): Promise<{ client: MqttClient; contacted: string }> {
  const u = new URL(url);
  const target = await egress.resolve(u);
  const client = mqtt.connect({
    ...options,
    protocol: u.protocol.replace(/:$/, '') as mqtt.IClientOptions['protocol'],
    host: target.address,
    hostname: target.address,
    port: target.port,
    path: u.pathname && u.pathname !== '/' ? u.pathname : undefined,
    ...(isIP(target.host) ? {} : { servername: target.host }),
  });
  return { client, contacted: formatAddress(target) };
}

type WebhookConfig = Extract<ActionConfig, { type: 'webhook' }>;

/**
 * POSTs each event as JSON; a 2xx answer is the acknowledgement. The request
 * goes to the address the egress rule checked (the URL's name is only the Host
 * header and the TLS server name), and a redirect is never followed: a 3xx is
 * a failed delivery that names where it pointed.
 */
export class WebhookSink implements Sink {
  readonly destination: string;
  constructor(readonly name: string, private readonly cfg: WebhookConfig, private readonly egress: EgressPolicy, private readonly token?: string) {
    const u = new URL(cfg.url);
    this.destination = `${u.protocol}//${u.host}${u.pathname}`;
  }

  async send(json: string, eventId: string): Promise<string> {
    const u = new URL(this.cfg.url);
    const target = await this.egress.resolve(u);
    const headers: Record<string, string> = {
      host: u.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)), 'idempotency-key': eventId,
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const contacted = formatAddress(target);
    const status = await new Promise<{ code: number; location?: string }>((resolve, reject) => {
      const req = (u.protocol === 'https:' ? https : http).request({
        host: target.address, family: target.family, port: target.port, path: `${u.pathname}${u.search}`, method: 'POST', headers,
        agent: false, timeout: this.cfg.timeout_ms,
        ...(u.protocol === 'https:' && !isIP(target.host) ? { servername: target.host } : {}),
      }, (res) => {
        // Read (and discard) at most 64 KiB of the answer, then let the socket go.
        let seen = 0;
        res.on('data', (d: Buffer) => { seen += d.length; if (seen > 65_536) res.destroy(); });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, location: res.headers.location }));
        res.on('close', () => resolve({ code: res.statusCode ?? 0, location: res.headers.location }));
        res.on('error', () => resolve({ code: res.statusCode ?? 0, location: res.headers.location }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.destination} (${contacted}) within ${this.cfg.timeout_ms} ms`)));
      req.on('error', reject);
      req.end(json);
    });
    if (status.code >= 300 && status.code < 400) {
      let where = 'elsewhere';
      try { where = status.location ? new URL(status.location, u).host : where; } catch { /* an unparsable Location still is a refusal */ }
      throw new CloudlessError('E_EGRESS', `${this.destination} (${contacted}) answered HTTP ${status.code} redirecting to ${safeText(where)}; redirects are not followed, nothing was sent there`);
    }
    if (status.code < 200 || status.code >= 300) throw new Error(`${this.destination} (${contacted}) answered HTTP ${status.code}`);
    return contacted;
  }

  async close(): Promise<void> { /* each request uses its own connection (agent: false), closed with its answer */ }
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

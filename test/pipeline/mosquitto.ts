/**
 * A real MQTT broker for tests: Debian's mosquitto on a free loopback port,
 * persistence on (so a subscriber's session survives a broker restart), and a
 * subscriber that records every message it gets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

export const hasMosquitto = (): boolean => spawnSync('sh', ['-c', 'command -v mosquitto || test -x /usr/sbin/mosquitto']).status === 0;
const binary = () => (spawnSync('sh', ['-c', 'command -v mosquitto']).stdout.toString().trim() || '/usr/sbin/mosquitto');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}`);
}

export class Broker {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'cloudless-mosquitto-'));
  constructor(readonly port: number) {
    writeFileSync(path.join(this.dir, 'mosquitto.conf'), [
      `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${this.dir}/`, 'log_dest none', '',
    ].join('\n'));
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.proc = spawn(binary(), ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForPort(this.port);
  }

  /** Stops the broker with a signal (SIGTERM lets it save its sessions; SIGKILL loses them). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const closed = new Promise((r) => p.once('close', r));
    p.kill(signal);
    await closed;
  }
}

export interface Subscriber { client: MqttClient; messages: { topic: string; body: Record<string, unknown> }[]; close(): Promise<void> }

/** A persistent-session QoS 1 subscriber: messages published while it is away are kept for it by the broker. */
export async function subscribe(url: string, topic: string): Promise<Subscriber> {
  const client = mqtt.connect(url, { clientId: `test-sub-${process.pid}-${Date.now()}`, clean: false, reconnectPeriod: 100 });
  const messages: Subscriber['messages'] = [];
  client.on('message', (t, payload) => messages.push({ topic: t, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(topic, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, messages, close: () => new Promise((r) => client.end(true, {}, () => r())) };
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Finding 1 of issue 21: a webhook redirect and a name resolving off the
 * allow-list must not carry an event anywhere else. Real loopback listeners
 * stand in for the allowed receiver and for the host the event must never
 * reach; the stolen-side listener counts every byte it is sent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EgressPolicy, isPublicAddress } from '../../src/pipeline/egress.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { hasMosquitto, until } from '../pipeline/mosquitto.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-egress-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `t${n++}`);
const safe = { description: 'hold' };

/** A raw TCP listener that records how many bytes anyone sends it. */
async function byteCounter(): Promise<{ port: number; bytes: () => number; connections: () => number; close(): Promise<void> }> {
  let bytes = 0;
  let connections = 0;
  const server = net.createServer((s) => { connections++; s.on('data', (d) => { bytes += d.length; }); s.on('error', () => undefined); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port, bytes: () => bytes, connections: () => connections,
    close: () => new Promise((r) => { server.close(() => r()); }),
  };
}

describe('egress rule', () => {
  it('classifies addresses: loopback, private and link-local are not public', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '192.168.0.9', '172.16.5.5', '169.254.1.1', '::1', 'fe80::1', 'fd00::5', '::ffff:127.0.0.1', '0.0.0.0', '100.64.0.1']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111']) expect(isPublicAddress(a), a).toBe(true);
  });

  it('refuses a host that is not listed, and a listed name whose answers are not allowed; accepts listed addresses and ranges', async () => {
    const policy = new EgressPolicy(['127.0.0.1', 'localhost', 'public.test', 'lan.test', '192.168.1.0/24'], async (h) => {
      if (h === 'public.test') return [{ address: '93.184.216.34', family: 4 }];
      if (h === 'lan.test') return [{ address: '192.168.1.20', family: 4 }];
      throw new Error('no such name');
    });
    await expect(policy.resolve('http://other.test/x')).rejects.toMatchObject({ code: 'E_EGRESS' });
    expect(await policy.resolve('http://127.0.0.1:8080/x')).toMatchObject({ address: '127.0.0.1', port: 8080 });
    expect(await policy.resolve('https://public.test/x')).toMatchObject({ address: '93.184.216.34', port: 443 });
    expect(await policy.resolve('mqtt://lan.test')).toMatchObject({ address: '192.168.1.20', port: 1883 });
    // "localhost" resolves (through the real system resolver below) to loopback, which only an address entry allows.
    const real = new EgressPolicy(['localhost']);
    await expect(real.resolve('http://localhost:1/x')).rejects.toThrow(/"localhost" resolves to .*not on the allow-list/);
  });

  it('a redirect to a host off the list gets no byte of the event, and the attempt is in the ledger', async () => {
    const stolen = await byteCounter();
    const hits: string[] = [];
    const allowed = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { hits.push(body); res.writeHead(307, { location: `http://localhost:${stolen.port}/stolen` }); res.end(); });
    });
    await new Promise<void>((r) => allowed.listen(0, '127.0.0.1', r));
    const port = (allowed.address() as net.AddressInfo).port;
    const p = await Pipeline.create({
      name: 'hook', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'hot', value_above: 30, actions: ['hook'] }],
      actions: { hook: { type: 'webhook', url: `http://127.0.0.1:${port}/events`, backoff: { initial_ms: 20, max_ms: 40 } } },
      allow: ['127.0.0.1'], safe_state: safe,
    }, { dataDir: fresh(), stdin: Readable.from([Buffer.from('31\n')]), flushMs: 0 });
    await p.start();
    await p.done;
    await until(() => hits.length >= 2, 5000, 'two delivery attempts');
    const row = p.ledger.list()[0]!;
    await p.stop();
    allowed.close();
    // Give a follow-up connection (if any were made) time to land before counting.
    await new Promise((r) => setTimeout(r, 100));
    expect(stolen.connections()).toBe(0);
    expect(stolen.bytes()).toBe(0);
    await stolen.close();
    expect(row.deliveries[0]!.status).toBe('pending');
    expect(row.deliveries[0]!.lastError).toMatch(/HTTP 307 redirecting to localhost:\d+; redirects are not followed/);
  });

  it('a listed name that resolves off the list is never connected to; delivered events name the address contacted in the audit', async () => {
    const listener = await byteCounter();
    const p = await Pipeline.create({
      name: 'dns', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'hot', value_above: 30, actions: ['hook'] }],
      actions: { hook: { type: 'webhook', url: `http://localhost:${listener.port}/events`, backoff: { initial_ms: 20, max_ms: 40 } } },
      allow: ['localhost'], safe_state: safe,
    }, { dataDir: fresh(), stdin: Readable.from([Buffer.from('31\n')]), flushMs: 0 });
    await p.start();
    await p.done;
    await until(() => (p.ledger.list()[0]?.deliveries[0]?.attempts ?? 0) >= 1, 5000, 'a delivery attempt');
    const row = p.ledger.list()[0]!;
    await p.stop();
    expect(listener.connections()).toBe(0);
    expect(listener.bytes()).toBe(0);
    await listener.close();
    expect(row.deliveries[0]!.lastError).toMatch(/egress refused: "localhost" resolves to/);

    // With the address listed as well, the same name is allowed, and the audit shows where the bytes went.
    const got: string[] = [];
    const ok = http.createServer((req, res) => { req.resume(); req.on('end', () => { got.push(req.headers.host ?? ''); res.end(); }); });
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    const port = (ok.address() as net.AddressInfo).port;
    const q = await Pipeline.create({
      name: 'dns2', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'hot', value_above: 30, actions: ['hook'] }],
      actions: { hook: { type: 'webhook', url: `http://localhost:${port}/events` } },
      allow: ['localhost', '127.0.0.0/8', '::1'], safe_state: safe,
    }, { dataDir: fresh(), stdin: Readable.from([Buffer.from('31\n')]) });
    await q.start();
    await q.done;
    await until(() => q.stats().pending === 0, 5000, 'delivery');
    const totals = q.ledger.totals();
    await q.stop();
    ok.close();
    expect(got).toEqual([`localhost:${port}`]);
    expect(totals.find((t) => t.events === 1)!.destination).toMatch(new RegExp(`^http://localhost:${port}/events via (127\\.0\\.0\\.1|\\[::1\\]):${port}$`));
  });

  it.skipIf(!hasMosquitto())('MQTT goes through the same rule: a name resolving to loopback is refused before any connection', async () => {
    const listener = await byteCounter();
    const p = await Pipeline.create({
      name: 'mq', source: { type: 'stdin' }, task: { type: 'sensor' }, rules: [{ name: 'hot', value_above: 30, actions: ['bus'] }],
      actions: { bus: { type: 'mqtt', url: `mqtt://localhost:${listener.port}`, topic: 't', backoff: { initial_ms: 20, max_ms: 40 } } },
      allow: ['localhost'], safe_state: safe,
    }, { dataDir: fresh(), stdin: Readable.from([Buffer.from('31\n')]), flushMs: 0 });
    await p.start();
    await p.done;
    const rule = () => p.ledger.list().find((r) => r.kind === 'rule');
    await until(() => (rule()?.deliveries[0]?.attempts ?? 0) >= 1, 5000, 'a delivery attempt');
    const row = rule()!;
    await p.stop();
    expect(listener.connections()).toBe(0);
    await listener.close();
    expect(row.deliveries[0]!.lastError).toMatch(/egress refused/);
  });
});

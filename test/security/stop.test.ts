/**
 * Finding 2 of issue 21: a deliberate stop of a pipeline with an MQTT action
 * (a real mosquitto on loopback) must not count its own disconnect as the
 * broker going down: no safe-state command, no pending 'safe' event, a local
 * 'stopped' record, and the log's pending count equal to the summary's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/pipeline/ledger.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { Broker, freePort, hasMosquitto, until } from '../pipeline/mosquitto.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-stop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!hasMosquitto())('a clean stop is not a failure', () => {
  it('stop() with a connected MQTT sink runs no safe-state command and leaves nothing pending', async () => {
    const broker = new Broker(await freePort());
    await broker.start();
    const dataDir = path.join(root, 'data');
    const marker = path.join(root, 'safe-ran');
    const stdin = new PassThrough();
    const p = await Pipeline.create({
      name: 'feeder', source: { type: 'stdin' }, task: { type: 'sensor' },
      rules: [{ name: 'hot', value_above: 30, actions: ['bus'] }],
      actions: { bus: { type: 'mqtt', url: broker.url, topic: 'feeder/events' } },
      allow: ['127.0.0.1'],
      safe_state: { description: 'switch the feeder to schedule', command: `echo ran >> ${marker}`, notify: ['bus'] },
    }, { dataDir, stdin });
    await p.start();
    await until(() => p.stats().state === 'normal' && p.ledger.pendingCount() === 0, 5000, 'start');
    const sink = (p as unknown as { workers: Map<string, { sink: { connected: boolean } }> }).workers.get('bus')!.sink;
    await until(() => sink.connected, 5000, 'the broker connection');
    stdin.write('31\n');
    await until(() => p.stats().events === 1 && p.stats().pending === 0, 5000, 'the event delivered');
    await p.stop();
    await broker.kill();
    const s = p.stats();
    expect(existsSync(marker)).toBe(false);
    expect(s.state).toBe('normal');
    expect(s.pending).toBe(0);
    const log = readFileSync(path.join(dataDir, 'logs', 'feeder.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const stopped = log.find((l) => l.msg === 'pipeline stopped')!;
    expect(stopped.pending).toBe(s.pending);
    expect(log.some((l) => l.msg === 'fault')).toBe(false);
    const ledger = new Ledger(path.join(dataDir, 'ledger.sqlite'));
    const states = ledger.list({ ascending: true }).filter((r) => r.kind === 'state').map((r) => r.event.state);
    expect(ledger.pendingCount()).toBe(0);
    ledger.close();
    expect(states).toEqual(['stopped']);
  });
});

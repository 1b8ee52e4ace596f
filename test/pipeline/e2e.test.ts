/**
 * The end-to-end run: 200 photos dropped into a watched folder, a real
 * model (TFLM person_detect, int8, through the TFLite importer) classifies each,
 * rules turn the results into events, and a real mosquitto on loopback carries
 * them to a subscriber. Mid-run the broker is killed: events go pending, the
 * pipeline enters its safe state, and after the restart every event arrives —
 * none lost, and none twice once the subscriber keys on the event id (the wire
 * is at-least-once; the ledger counts each delivery once). Afterwards no byte
 * sequence of any photo is anywhere in the data directory, the logs, the
 * ledger or the messages, and the drop folder is empty.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { PipelineEvent } from '../../src/pipeline/types.js';
import { opencvPhotosDir, tflmDir } from '../helpers/data.js';
import { Broker, freePort, hasMosquitto, subscribe, until } from './mosquitto.js';

const photos = opencvPhotosDir();
const tflm = tflmDir();
const why = !hasMosquitto() ? 'mosquitto is not installed (apt-get install mosquitto)' : !photos ? 'opencv-doc photos missing (npm run setup-data)' : !tflm ? '../shared/models/tflm absent (person_detect)' : '';
if (why) console.warn(`skipping pipeline end-to-end test: ${why}`);

const PICKS = ['messi5.jpg', 'fruits.jpg', 'home.jpg', 'squirrel_cls.jpg', 'apple.jpg', 'orange.jpg', 'baboon.jpg', 'butterfly.jpg', 'lena.jpg', 'starry_night.jpg'];

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** High-entropy windows of a JPEG's body: any of them found elsewhere means image bytes leaked. */
function windowsOf(bytes: Buffer): Buffer[] {
  return [0.3, 0.5, 0.7, 0.9].map((f) => bytes.subarray(Math.floor(bytes.length * f), Math.floor(bytes.length * f) + 32));
}

describe.skipIf(!!why)('pipeline end to end: watched folder -> person_detect -> MQTT', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-e2e-'));
  const dataDir = path.join(root, 'data');
  const drop = path.join(root, 'drop');
  const staging = path.join(root, 'staging');
  mkdirSync(drop);
  mkdirSync(staging);
  let broker: Broker | undefined;
  afterAll(async () => {
    await broker?.kill();
    rmSync(root, { recursive: true, force: true });
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
  });

  it('200 images: every event delivered once by id, none lost across a broker restart, no image bytes left', async () => {
    broker = new Broker(await freePort());
    await broker.start();
    const sub = await subscribe(broker.url, 'cloudless/events');

    const sources = PICKS.map((n) => path.join(photos!, n)).filter((f) => existsSync(f) && statSync(f).size < 400_000);
    expect(sources.length).toBeGreaterThanOrEqual(5);
    const originals = sources.map((f) => readFileSync(f));

    const pipeline = await Pipeline.create({
      name: 'e2e',
      source: { type: 'folder', path: drop },
      task: { type: 'classifier', model: 'person_detect', top_k: 1 },
      rules: [
        { name: 'decision', labels: ['person', 'no person'], actions: ['home'] },
        { name: 'person_seen', labels: ['person'], min_score: 0.6, actions: ['home'] },
      ],
      actions: { home: { type: 'mqtt', url: broker.url, topic: 'cloudless/events', backoff: { initial_ms: 100, max_ms: 500 } } },
      allow: ['127.0.0.1'],
      safe_state: { description: 'keep recording locally', command: `echo "$CLOUDLESS_STATE" >> ${path.join(root, 'states.txt')}`, notify: ['home'] },
    }, { dataDir });
    const events: PipelineEvent[] = [];
    pipeline.on('event', (e: PipelineEvent) => events.push(e));
    await pipeline.start();

    // Drop the 200 photos the way a camera does: written elsewhere, then renamed in.
    for (let i = 0; i < 200; i++) {
      const src = sources[i % sources.length]!;
      const tmp = path.join(staging, `img${String(i).padStart(3, '0')}.jpg`);
      copyFileSync(src, tmp);
      renameSync(tmp, path.join(drop, path.basename(tmp)));
    }

    await until(() => sub.messages.length >= 40, 60_000, '40 messages before the outage');
    await broker.kill('SIGTERM');
    await until(() => pipeline.stats().pending >= 10 && pipeline.failsafe.state === 'safe', 30_000, 'events to go pending and the safe state');
    expect(pipeline.failsafe.causes).toContain('sink:home');
    await broker.start();
    await until(() => pipeline.stats().framesDecided === 200, 60_000, '200 frames decided');
    await until(() => pipeline.stats().pending === 0 && pipeline.failsafe.state === 'normal', 20_000, 'pending events to be delivered');
    const ledger = pipeline.ledger.list({ ascending: true });
    const stats = pipeline.stats();
    await pipeline.stop();
    await until(() => new Set(sub.messages.map((m) => m.body.id)).size >= ledger.length, 10_000, 'the subscriber to receive everything').catch((e: Error) => {
      const got = new Set(sub.messages.map((m) => m.body.id));
      const missing = ledger.filter((r) => !got.has(r.id)).map((r) => `#${ledger.indexOf(r)} ${r.kind}/${r.rule} delivered at ${r.deliveries[0]?.deliveredAt}`);
      throw new Error(`${e.message}: missing ${missing.join('; ')}`);
    });
    await sub.close();

    // Every frame was decided and its file deleted; nothing was dropped (the folder waits for room).
    expect(stats).toMatchObject({ framesDecided: 200, framesDropped: 0, modelErrors: 0, badFrames: 0 });
    expect(readdirSync(drop)).toEqual([]);
    expect(events.filter((e) => e.rule === 'decision')).toHaveLength(200);
    expect(events.some((e) => e.rule === 'person_seen' && e.label === 'person')).toBe(true);

    // The ledger holds every event, each delivered; the subscriber has each id (a repeat would carry the same id).
    const ruleEvents = ledger.filter((r) => r.kind === 'rule');
    expect(ruleEvents.length).toBe(events.filter((e) => e.kind === 'rule').length);
    expect(ledger.every((r) => r.deliveries.length === 1 && r.deliveries[0]!.status === 'delivered')).toBe(true);
    const receivedIds = sub.messages.map((m) => m.body.id as string);
    expect(new Set(receivedIds)).toEqual(new Set(ledger.map((r) => r.id)));
    const repeats = receivedIds.length - new Set(receivedIds).size;
    // One event in flight per sink: at most the one whose acknowledgement died with the broker can repeat.
    expect(repeats).toBeLessThanOrEqual(1);
    console.log(`e2e: ${ledger.length} events (${ruleEvents.length} from rules), ${receivedIds.length} messages received, ${repeats} repeated by id`);

    // The outage was a recorded state change, and the safe-state command ran on entering and leaving.
    const states = ledger.filter((r) => r.kind === 'state').map((r) => r.event.state);
    expect(states).toEqual(expect.arrayContaining(['safe', 'normal']));
    expect(readFileSync(path.join(root, 'states.txt'), 'utf8')).toMatch(/^safe\n/);

    // Messages are small JSON events, never pixels.
    for (const m of sub.messages) expect(Object.keys(m.body).every((k) => ['id', 'pipeline', 'kind', 'rule', 'time', 'label', 'score', 'box', 'count', 'value', 'state', 'causes'].includes(k))).toBe(true);

    // No window of any photo's bytes in the data directory (ledger, WAL, logs), the staging/drop folders or the messages.
    const files = [...filesUnder(dataDir), ...filesUnder(drop)];
    expect(files.some((f) => f.endsWith('.sqlite'))).toBe(true);
    expect(files.some((f) => f.endsWith('e2e.log'))).toBe(true);
    const everything = [...files.map((f) => readFileSync(f)), Buffer.from(JSON.stringify(sub.messages))];
    for (const img of originals) {
      for (const w of windowsOf(img)) for (const blob of everything) expect(blob.indexOf(w)).toBe(-1);
    }
  }, 120_000);
});

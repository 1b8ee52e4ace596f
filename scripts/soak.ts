/**
 * Soak and overhead benchmark of the folder pipeline (a benchmark, not a CI test).
 *
 *   npx tsx scripts/soak.ts [--minutes 10] [--rate 20] [--model person_detect|centernet] [--bench-images 200]
 *
 * 1. Overhead: the same images through bare Session.run (inputs preprocessed
 *    beforehand), through the task library (preprocess + run + decode), and
 *    through the whole pipeline (folder source, rules, ledger, MQTT when
 *    mosquitto is installed); frames per second of each.
 * 2. Soak: a producer drops photos into the watched folder at --rate per second
 *    for --minutes (when_busy: drop, as a live camera); RSS at start and end,
 *    events in (recorded) and out (delivered), frames dropped.
 * Results go to bench/results/soak-<date>.json.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pipeline, type PipelineInput } from '../src/pipeline/index.js';
import { createClassifier } from '../src/tasks/vision/classifier.js';
import { createDetector } from '../src/tasks/vision/detector.js';
import { preprocessImage } from '../src/tasks/vision/preprocess.js';
import { Broker, freePort, hasMosquitto } from '../test/pipeline/mosquitto.js';
import { opencvPhotosDir } from '../test/helpers/data.js';

const { values: args } = parseArgs({ options: {
  minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '20' },
  model: { type: 'string', default: 'person_detect' }, 'bench-images': { type: 'string', default: '200' },
} });
const minutes = Number(args.minutes), rate = Number(args.rate), benchImages = Number(args['bench-images']);
const detector = args.model === 'centernet' || args.model === 'nanodet';
const photosDir = opencvPhotosDir();
if (!photosDir) throw new Error('opencv-doc photos missing: npm run setup-data');
const photos = ['messi5.jpg', 'fruits.jpg', 'home.jpg', 'squirrel_cls.jpg', 'apple.jpg', 'orange.jpg', 'baboon.jpg', 'butterfly.jpg']
  .map((n) => path.join(photosDir, n));
const root = mkdtempSync(path.join(os.tmpdir(), 'cloudless-soak-'));
const mb = (n: number) => Math.round(n / 1048576 * 10) / 10;

let broker: Broker | undefined;
if (hasMosquitto()) { broker = new Broker(await freePort()); await broker.start(); }

function config(name: string, drop: string, whenBusy: 'wait' | 'drop'): PipelineInput {
  return {
    name, source: { type: 'folder', path: drop, when_busy: whenBusy, settle_ms: 0 }, queue: 4,
    task: detector ? { type: 'detector', model: args.model! } : { type: 'classifier', model: args.model!, top_k: 1 },
    rules: [{ name: 'seen', min_score: 0, actions: broker ? ['home'] : [] }],
    actions: broker ? { home: { type: 'mqtt', url: broker.url, topic: 'soak/events' } } : {},
    allow: ['127.0.0.1'], safe_state: { description: 'none (benchmark)' },
  };
}

function dropFile(src: string, drop: string, i: number): void {
  const tmp = path.join(root, `staging-${i}.jpg`);
  copyFileSync(src, tmp);
  renameSync(tmp, path.join(drop, `f${String(i).padStart(7, '0')}.jpg`));
}

// 1. Overhead on the same images.
const files = Array.from({ length: benchImages }, (_, i) => photos[i % photos.length]!);
let bareFps: number, taskFps: number;
if (detector) {
  const d = await createDetector(args.model!);
  const inputs = await Promise.all(photos.map((f) => preprocessImage(f, d.input)));
  d.session.runSync({ [d.session.inputs[0]!.name]: inputs[0]!.tensor });
  let t = performance.now();
  for (let i = 0; i < files.length; i++) d.session.runSync({ [d.session.inputs[0]!.name]: inputs[i % inputs.length]!.tensor });
  bareFps = files.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const f of files) await d.detect(f);
  taskFps = files.length / ((performance.now() - t) / 1000);
} else {
  const c = await createClassifier(args.model!);
  const inputs = await Promise.all(photos.map((f) => preprocessImage(f, c.input)));
  c.session.runSync({ [c.session.inputs[0]!.name]: inputs[0]!.tensor });
  let t = performance.now();
  for (let i = 0; i < files.length; i++) c.session.runSync({ [c.session.inputs[0]!.name]: inputs[i % inputs.length]!.tensor });
  bareFps = files.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const f of files) await c.classify(f, { k: 1 });
  taskFps = files.length / ((performance.now() - t) / 1000);
}
const benchDrop = path.join(root, 'bench-drop');
mkdirSync(benchDrop);
files.forEach((f, i) => dropFile(f, benchDrop, i));
const bench = await Pipeline.create(config('bench', benchDrop, 'wait'), { dataDir: path.join(root, 'bench-data') });
let t0 = performance.now();
await bench.start();
while (bench.stats().framesDecided < files.length) await new Promise((r) => setTimeout(r, 5));
const pipelineFps = files.length / ((performance.now() - t0) / 1000);
await bench.stop();
const overhead = {
  images: files.length, model: args.model, bareSessionRunFps: bareFps, taskFps, pipelineFps,
  overheadVsTask: 1 - pipelineFps / taskFps, overheadVsBareRun: 1 - pipelineFps / bareFps, mqtt: !!broker,
};
console.log('overhead', overhead);

// 2. Soak.
const drop = path.join(root, 'drop');
mkdirSync(drop);
const soak = await Pipeline.create(config('soak', drop, 'drop'), { dataDir: path.join(root, 'soak-data') });
global.gc?.();
const rssStart = process.memoryUsage().rss;
await soak.start();
let produced = 0;
const end = Date.now() + minutes * 60_000;
t0 = performance.now();
const producer = setInterval(() => { if (Date.now() < end) dropFile(photos[produced % photos.length]!, drop, produced++); }, 1000 / rate);
let rssPeak = rssStart;
while (Date.now() < end) {
  await new Promise((r) => setTimeout(r, 1000));
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
}
clearInterval(producer);
await new Promise((r) => setTimeout(r, 1000));
const s = soak.stats();
await soak.stop();
global.gc?.();
const rssEnd = process.memoryUsage().rss;
const result = {
  overhead,
  soak: {
    minutes, ratePerSecond: rate, produced, framesIn: s.framesIn, framesDecided: s.framesDecided, framesDropped: s.framesDropped,
    eventsIn: s.events, eventsOut: s.delivered, pending: s.pending, leftInFolder: readdirSync(drop).length,
    rssStartMB: mb(rssStart), rssPeakMB: mb(rssPeak), rssEndMB: mb(rssEnd), meanTaskMs: s.meanTaskMs,
    decidedPerSecond: s.framesDecided / ((performance.now() - t0) / 1000),
  },
};
console.log('soak', result.soak);
await broker?.kill();
rmSync(root, { recursive: true, force: true });
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/soak-${new Date().toISOString().slice(0, 10)}.json`, `${JSON.stringify(result, null, 1)}\n`);

/**
 * Runs the pet feeder on sample photos with no broker listening: the pipeline
 * goes to its safe state (feed on schedule), keeps deciding frames and keeps
 * every event pending in the ledger for when the network returns.
 *
 *   npx tsx examples/pet-feeder/run-sample.ts
 *
 * The opencv-doc sample photos have no cat, so cat_at_bowl does not fire on
 * them; drop your own camera pictures into examples/pet-feeder/drop to see it.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pipeline, loadPipelineFile } from '../../src/pipeline/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const photos = process.env.CLOUDLESS_PHOTOS ?? path.join(here, '../../.cache/data/opencv-doc/usr/share/doc/opencv-doc/examples/data');
if (!existsSync(path.join(photos, 'fruits.jpg'))) throw new Error(`sample photos not found in ${photos}: run npm run setup-data`);
const dataDir = process.env.CLOUDLESS_HOME ?? mkdtempSync(path.join(os.tmpdir(), 'pet-feeder-'));
process.env.CLOUDLESS_HOME = dataDir;

const config = await loadPipelineFile(path.join(here, 'pipeline.yaml'));
const pipeline = await Pipeline.create(config, { dataDir, baseDir: here, echo: (l) => console.error(l), flushMs: 500 });
pipeline.on('event', (e) => console.log('event:', JSON.stringify(e)));
const drop = path.join(here, 'drop');
mkdirSync(drop, { recursive: true });
await pipeline.start();

const samples = ['squirrel_cls.jpg', 'fruits.jpg'];
for (const name of samples) {
  const tmp = path.join(drop, `.${name}.part`);
  copyFileSync(path.join(photos, name), tmp);
  renameSync(tmp, path.join(drop, name));
  // One frame at a time, as a camera at a low rate would deliver them (queue: 2, when_busy: drop).
  while (pipeline.stats().framesDecided < samples.indexOf(name) + 1) await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 1500));
console.log('state:', pipeline.failsafe.state, pipeline.failsafe.causes);
await pipeline.stop();
console.log('stats:', pipeline.stats());
const mode = path.join(dataDir, 'feeder-mode');
console.log('feeder mode:', existsSync(mode) ? readFileSync(mode, 'utf8').trim() : 'camera');

/**
 * Runs the doorbell pipeline on sample photos (opencv-doc: messi5.jpg has
 * people, the others do not), then shows the events and that no picture is left.
 *
 *   npx tsx examples/doorbell/run-sample.ts
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pipeline, loadPipelineFile } from '../../src/pipeline/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const photos = process.env.CLOUDLESS_PHOTOS ?? path.join(here, '../../.cache/data/opencv-doc/usr/share/doc/opencv-doc/examples/data');
if (!existsSync(path.join(photos, 'messi5.jpg'))) throw new Error(`sample photos not found in ${photos}: run npm run setup-data`);
const dataDir = process.env.CLOUDLESS_HOME ?? mkdtempSync(path.join(os.tmpdir(), 'doorbell-'));
process.env.CLOUDLESS_HOME = dataDir;

const file = path.join(here, 'pipeline.yaml');
const config = await loadPipelineFile(file);
const pipeline = await Pipeline.create(config, { dataDir, baseDir: here, echo: (l) => console.error(l) });
pipeline.on('event', (e) => console.log('event:', JSON.stringify(e)));
const drop = path.join(here, 'drop');
mkdirSync(drop, { recursive: true });
await pipeline.start();

const samples = ['home.jpg', 'messi5.jpg', 'fruits.jpg', 'baboon.jpg'];
for (const name of samples) {
  const tmp = path.join(drop, `.${name}.part`);
  copyFileSync(path.join(photos, name), tmp);
  renameSync(tmp, path.join(drop, name));
}
while (pipeline.stats().framesDecided < samples.length) await new Promise((r) => setTimeout(r, 50));
await pipeline.stop();

console.log('stats:', pipeline.stats());
console.log('pictures left in the drop folder:', readdirSync(drop).length);
const chime = path.join(dataDir, 'chime.log');
console.log('chime rang for:', existsSync(chime) ? readFileSync(chime, 'utf8').trim() : 'nobody');
console.log(`ledger and logs in ${dataDir}`);

/**
 * The robustness figure of issue 19: CenterNet float beside CenterNet int8 (made
 * by the post-training quantizer and cached like test/quantize/centernet.test.ts
 * does) under every default perturbation, on opencv-doc photos outside the
 * quantizer's calibration set that hold COCO objects.
 *
 *   npx tsx scripts/robustness-figure.ts [--out docs/figures/robustness-centernet] [--backend auto]
 *
 * Writes <out>.svg and <out>.png and prints the table.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../src/cli/main.js';
import { CALIBRATION, photos, quantizedCenterNet } from '../test/quantize/centernet-int8.js';

const FIGURE_PHOTOS = ['messi5.jpg', 'fruits.jpg', 'apple.jpg', 'orange.jpg', 'basketball1.png', 'aloeL.jpg', 'board.jpg',
  'box.png', 'leuvenB.jpg', 'licenseplate_motion.jpg', 'pic1.png', 'smarties.png'];

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/figures/robustness-centernet' }, backend: { type: 'string', default: 'auto' } } });
const photoDir = photos;
if (!photoDir) throw new Error('opencv-doc photos not found: run `npm run setup-data`');
if (FIGURE_PHOTOS.some((f) => CALIBRATION.includes(f))) throw new Error('a figure photo is in the calibration set');
const q = await quantizedCenterNet('int8');
process.stderr.write(`int8 CenterNet: ${q.file} (${q.cached ? 'cached' : 'computed'})\n`);
const int8 = path.join(path.dirname(q.file), 'centernet-int8.tflite');
// A stable name for the table and chart; the cache keeps the keyed file.
copyFileSync(q.file, int8);
mkdirSync(path.dirname(values.out!), { recursive: true });
const images = FIGURE_PHOTOS.map((f) => path.join(photoDir, f));
const common = ['centernet', ...images, '--also', int8, '--like', 'centernet', '--backend', values.backend!];
process.exitCode = await main(['node', 'cloudless', 'robustness', ...common, '--chart', `${values.out}.svg`]);

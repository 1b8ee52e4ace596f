/**
 * ONNX-ML classic models (trees, forests, boosting, linear models, SVMs, scalers) exported from
 * scikit-learn by scripts/make-sklearn-fixtures.py: cloudless's predictions must equal
 * scikit-learn's on every test sample (labels exactly, scores within 1e-5) and onnxruntime-node's.
 */
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../../src/formats/onnx/import.js';
import { CloudlessError, Graph, Tensor } from '../../../src/ir/index.js';
import { Session, load } from '../../../src/runtime/index.js';
import { parseNpy } from '../../../src/formats/npy.js';
import { runCli } from '../../cli/helpers.js';
import { SKLEARN_MISSING, loadSklearnFixture, sklearnFixtureNames } from '../../helpers/sklearn.js';

const names = sklearnFixtureNames();
if (!names) console.warn(`skipping ONNX-ML oracle tests: ${SKLEARN_MISSING}`);

/** Largest |a - b| / max(1, |b|), after checking lengths agree. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])) / Math.max(1, Math.abs(Number(b[i]))));
  return m;
}

function labelsOf(t: Tensor | ort.Tensor): number[] {
  return Array.from(t.data as BigInt64Array, Number);
}

describe.skipIf(!names)('ONNX-ML models from scikit-learn', () => {
  for (const name of names ?? []) {
    it(name, async () => {
      const fx = loadSklearnFixture(name);
      const bytes = readFileSync(fx.modelPath);
      const session = await load(new Uint8Array(bytes), { format: 'onnx', backend: 'ref' });
      const out = await session.run({ X: fx.X });
      const scoreName = fx.task === 'classification' ? 'scores' : 'variable';
      const scores = out[scoreName]!;
      expect(scores.shape).toEqual(fx.expected.shape);
      // Scores: float32 arithmetic against scikit-learn's float64.
      expect(maxRelDiff(scores.data as Float32Array, fx.expected.data as Float64Array)).toBeLessThan(1e-5);
      if (fx.labels) expect(labelsOf(out.label!)).toEqual(labelsOf(fx.labels));

      const ortSession = await ort.InferenceSession.create(bytes);
      // onnxruntime-node cannot return ZipMap's sequence of maps: there only the labels are compared with it.
      const zipMap = name.startsWith('zipmap_');
      const feeds = { X: new ort.Tensor('float32', fx.X.data as Float32Array, [...fx.X.shape]) };
      const ref = zipMap ? await ortSession.run(feeds, ['label']) : await ortSession.run(feeds);
      // onnxruntime computes SVM kernels with a float32 GEMM; cloudless and libsvm accumulate them in float64.
      const ortTolerance = name.startsWith('svc_') || name.startsWith('svr_') ? 1e-4 : 1e-5;
      if (!zipMap) expect(maxRelDiff(scores.data as Float32Array, ref[scoreName]!.data as Float32Array)).toBeLessThan(ortTolerance);
      if (fx.labels) expect(labelsOf(out.label!)).toEqual(labelsOf(ref.label!));
    });
  }
});

describe.skipIf(!names)('cloudless infer on an ONNX-ML model', () => {
  it('writes label.npy and scores.npy equal to scikit-learn', async () => {
    const fx = loadSklearnFixture('gb_clf_iris');
    const out = mkdtempSync(path.join(tmpdir(), 'cloudless-ml-infer-'));
    try {
      const r = await runCli(['infer', fx.modelPath, '--input', `X=${path.join(path.dirname(fx.modelPath), 'X_test.npy')}`, '--out', out, '--json']);
      expect(r.code).toBe(0);
      const label = parseNpy(readFileSync(path.join(out, 'label.npy')));
      expect(labelsOf(label)).toEqual(labelsOf(fx.labels!));
      const scores = parseNpy(readFileSync(path.join(out, 'scores.npy')));
      expect(maxRelDiff(scores.data as Float32Array, fx.expected.data as Float64Array)).toBeLessThan(1e-5);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('ONNX-ML attributes are checked at load', () => {
  /** A one-split tree classifier over 2 features, with `patch` applied to its node's attributes. */
  async function treeModel(patch: (attrs: Record<string, unknown>) => void): Promise<unknown> {
    const g = new Graph('t', { format: 'onnx' });
    g.setValue({ name: 'X', dtype: 'float32', shape: [1, 2] });
    g.inputs.push('X');
    g.outputs.push('label', 'scores');
    g.setValue({ name: 'label', dtype: 'int64', shape: [1] });
    g.setValue({ name: 'scores', dtype: 'float32', shape: [1, 2] });
    const attrs: Record<string, unknown> = {
      nodes_treeids: [0, 0, 0], nodes_nodeids: [0, 1, 2], nodes_featureids: [1, 0, 0], nodes_values: [0.5, 0, 0],
      nodes_modes: ['BRANCH_LEQ', 'LEAF', 'LEAF'], nodes_truenodeids: [1, 0, 0], nodes_falsenodeids: [2, 0, 0],
      class_treeids: [0, 0, 0, 0], class_nodeids: [1, 1, 2, 2], class_ids: [0, 1, 0, 1], class_weights: [1, 0, 0, 1],
      classlabels_int64s: [3, 7],
    };
    patch(attrs);
    g.addNode({ name: 'tree', op: 'ai.onnx.ml.TreeEnsembleClassifier', inputs: ['X'], outputs: ['label', 'scores'], attrs: attrs as never });
    const s = new Session(g, { backend: 'ref' });
    return s.run({ X: Tensor.fromNumbers('float32', [1, 2], [0, 0.25]) });
  }

  it('runs a valid ensemble', async () => {
    const out = await treeModel(() => {}) as Record<string, Tensor>;
    expect(labelsOf(out.label!)).toEqual([3]);
    expect(Array.from(out.scores!.data as Float32Array)).toEqual([1, 0]);
  });

  const cases: [string, (a: Record<string, unknown>) => void, string][] = [
    ['an unknown node mode', (a) => { a.nodes_modes = ['BRANCH_XX', 'LEAF', 'LEAF']; }, 'nodes_modes'],
    ['a child that does not exist', (a) => { a.nodes_truenodeids = [9, 0, 0]; }, 'nodes_truenodeids'],
    ['a cycle', (a) => { a.nodes_modes = ['BRANCH_LEQ', 'BRANCH_LEQ', 'LEAF']; a.nodes_truenodeids = [1, 0, 0]; a.nodes_falsenodeids = [2, 2, 0]; }, 'nodes_truenodeids'],
    ['a class id outside the labels', (a) => { a.class_ids = [0, 5, 0, 1]; }, 'class_ids'],
    ['string labels', (a) => { delete a.classlabels_int64s; a.classlabels_strings = ['a', 'b']; }, 'classlabels_strings'],
    ['PROBIT', (a) => { a.post_transform = 'PROBIT'; }, 'post_transform'],
    ['lists of different lengths', (a) => { a.nodes_values = [0.5]; }, 'nodes_values'],
  ];
  for (const [what, patch, attr] of cases) {
    it(`refuses ${what}, naming the node and "${attr}"`, async () => {
      const err = await treeModel(patch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudlessError);
      expect((err as Error).message).toContain('node tree');
      expect((err as Error).message).toContain(`"${attr}"`);
    });
  }

  it('reads ai.onnx.ml nodes from ONNX bytes under their domain', () => {
    const fx = names ? loadSklearnFixture(names[0]!) : undefined;
    if (!fx) return;
    const g = importOnnx(new Uint8Array(readFileSync(fx.modelPath)), fx.modelPath);
    expect(g.nodes.map((n) => n.op)).toContain('ai.onnx.ml.TreeEnsembleClassifier');
  });
});

/**
 * Schemas of the classic-ML ops of the ONNX-ML domain (`ai.onnx.ml`), as scikit-learn exporters write
 * them: tree ensembles, linear models, SVMs and the preprocessing ops around them. The ONNX importer
 * keeps their names as `ai.onnx.ml.<op>`. Each model op's attributes are parsed once, here, into a
 * plain description (`parseTreeEnsemble`, `parseLinear`, `parseSvm`) that the schema checks at load,
 * the reference kernels run and the C emitter (src/codegen/ml) writes out: one reading of the
 * attributes for all three.
 *
 * Supported, per the ONNX-ML operator spec and onnxruntime's behaviour where the spec is silent:
 * - TreeEnsembleClassifier / TreeEnsembleRegressor (opset 1 and 3 with list attributes): node modes
 *   BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ, LEAF; missing-value tracks
 *   (a NaN feature goes to the true branch where nodes_missing_value_tracks_true is 1); aggregate
 *   SUM, AVERAGE, MIN, MAX (regressor; the classifier sums); base_values; post_transform NONE,
 *   LOGISTIC, SOFTMAX, SOFTMAX_ZERO. Two classes with weights on one class id only is onnxruntime's
 *   "binary case": one score s, label = s > 0.5 (all weights >= 0) or s > 0 (mixed signs), scores
 *   [1 - s, s], or [-s, s] / [σ(-s), σ(s)] under NONE / LOGISTIC.
 * - LinearClassifier (one coefficient row per class) / LinearRegressor.
 * - SVMClassifier (one-vs-one votes; scores are the pairwise decision values, [-d, d] for two classes)
 *   and SVMRegressor (incl. one_class), kernels LINEAR, POLY, RBF, SIGMOID.
 * - Scaler, Normalizer (MAX, L1, L2), Binarizer, ArrayFeatureExtractor.
 * Refused with a CloudlessError naming the node and attribute: string class labels
 * (classlabels_strings; only classlabels_int64s / classlabels_ints give int64 labels), PROBIT,
 * SVM probabilities (prob_a/prob_b, Platt scaling), a single-row binary LinearClassifier, tensor-valued
 * tree attributes (nodes_values_as_tensor, ...).
 * ZipMap (whose output, a sequence of maps, cloudless has no type for) loads as an Identity of its
 * probability tensor: see formats/onnx/ops-map.ts.
 */
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrStrings, hasAttr } from '../attrs.js';
import type { DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';

export const ML_DOMAIN = 'ai.onnx.ml';

export type PostTransform = 'NONE' | 'LOGISTIC' | 'SOFTMAX' | 'SOFTMAX_ZERO';
const POST_TRANSFORMS: readonly string[] = ['NONE', 'LOGISTIC', 'SOFTMAX', 'SOFTMAX_ZERO'];

/** Node modes as small integers (the C tables store these). */
export const NodeMode = { LEAF: 0, BRANCH_LEQ: 1, BRANCH_LT: 2, BRANCH_GTE: 3, BRANCH_GT: 4, BRANCH_EQ: 5, BRANCH_NEQ: 6 } as const;
const MODE_BY_NAME: Record<string, number> = NodeMode;

function attrError(node: Node, attr: string, message: string, hint?: string): CloudlessError {
  return new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "${attr}" ${message}`, { node: node.name, hint });
}

function unsupported(node: Node, attr: string, message: string, hint?: string): CloudlessError {
  return new CloudlessError('E_UNSUPPORTED', `node ${node.name} (${node.op}): attribute "${attr}" ${message}`, { node: node.name, hint });
}

function postTransform(node: Node): PostTransform {
  const p = attrString(node, 'post_transform', 'NONE');
  if (p === 'PROBIT') throw unsupported(node, 'post_transform', 'is PROBIT, which cloudless does not implement', 'export the raw scores (post_transform NONE)');
  if (!POST_TRANSFORMS.includes(p)) throw attrError(node, 'post_transform', `is "${p}"; expected one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT`);
  return p as PostTransform;
}

/** Integer class labels: classlabels_int64s (trees) or classlabels_ints (linear, SVM). */
function classLabels(node: Node, attr: string): number[] {
  if (hasAttr(node, 'classlabels_strings')) {
    throw unsupported(node, 'classlabels_strings', 'gives string class labels; cloudless has no string tensors',
      `export integer labels (${attr}) and map them to names in the application`);
  }
  if (!hasAttr(node, attr)) throw attrError(node, attr, 'is missing: a classifier needs its class labels');
  const labels = attrInts(node, attr);
  if (labels.length === 0) throw attrError(node, attr, 'is empty');
  return labels;
}

function sameLength(node: Node, attrs: Record<string, readonly unknown[]>): number {
  const entries = Object.entries(attrs);
  const n = entries[0]![1].length;
  for (const [k, v] of entries) {
    if (v.length !== n) throw attrError(node, k, `has ${v.length} entries, ${entries[0]![0]} has ${n}`);
  }
  return n;
}

// ---------------------------------------------------------------- tree ensembles

/** A tree ensemble, its nodes renumbered into flat arrays (node i of the ensemble). */
export interface TreeEnsemble {
  kind: 'classifier' | 'regressor';
  /** Classes (classifier) or targets (regressor): the length of the score vector before the binary case. */
  nTargets: number;
  /** int64 class labels (classifier). */
  labels: number[];
  post: PostTransform;
  aggregate: 'SUM' | 'AVERAGE' | 'MIN' | 'MAX';
  /** Added to the aggregated scores: one per target, or empty. */
  base: number[];
  /** Root node of each tree, in tree-id order. */
  roots: number[];
  feature: Int32Array;
  /** Thresholds as float32, as the comparison uses them. */
  threshold: Float32Array;
  mode: Uint8Array;
  trueChild: Int32Array;
  falseChild: Int32Array;
  missingTrue: Uint8Array;
  /** Leaf weights of node i: entries weightStart[i] .. weightStart[i + 1] of weightTarget / weight. */
  weightStart: Int32Array;
  weightTarget: Int32Array;
  weight: Float32Array;
  /** onnxruntime's binary case: two classes, weights on one class id only (see the file header). */
  binary: boolean;
  weightsAllPositive: boolean;
  /** Number of input features the ensemble reads (1 + the largest feature id). */
  featuresRead: number;
}

export function parseTreeEnsemble(node: Node): TreeEnsemble {
  const kind = node.op.endsWith('Classifier') ? 'classifier' : 'regressor';
  for (const a of ['nodes_values_as_tensor', 'nodes_hitrates_as_tensor', 'base_values_as_tensor', 'class_weights_as_tensor', 'target_weights_as_tensor']) {
    if (hasAttr(node, a)) throw unsupported(node, a, 'is a tensor attribute, which cloudless does not read', 'write the float list form (nodes_values, ...)');
  }
  const treeIds = attrInts(node, 'nodes_treeids');
  const nodeIds = attrInts(node, 'nodes_nodeids');
  const featureIds = attrInts(node, 'nodes_featureids');
  const values = attrFloats(node, 'nodes_values');
  const modes = attrStrings(node, 'nodes_modes');
  const trueIds = attrInts(node, 'nodes_truenodeids');
  const falseIds = attrInts(node, 'nodes_falsenodeids');
  const n = sameLength(node, { nodes_treeids: treeIds, nodes_nodeids: nodeIds, nodes_featureids: featureIds, nodes_values: values, nodes_modes: modes, nodes_truenodeids: trueIds, nodes_falsenodeids: falseIds });
  if (n === 0) throw attrError(node, 'nodes_treeids', 'is empty: the ensemble has no nodes');
  const missing = hasAttr(node, 'nodes_missing_value_tracks_true') ? attrInts(node, 'nodes_missing_value_tracks_true') : new Array<number>(n).fill(0);
  if (missing.length !== n) throw attrError(node, 'nodes_missing_value_tracks_true', `has ${missing.length} entries, nodes_treeids has ${n}`);

  // Renumber (tree id, node id) into 0..n-1, trees in ascending id order.
  const key = (t: number, id: number) => `${t}:${id}`;
  const index = new Map<string, number>();
  const order = [...Array(n).keys()].sort((a, b) => treeIds[a]! - treeIds[b]! || nodeIds[a]! - nodeIds[b]!);
  order.forEach((src, dst) => {
    const k = key(treeIds[src]!, nodeIds[src]!);
    if (index.has(k)) throw attrError(node, 'nodes_nodeids', `lists node ${nodeIds[src]} of tree ${treeIds[src]} twice`);
    index.set(k, dst);
  });
  const feature = new Int32Array(n), threshold = new Float32Array(n), mode = new Uint8Array(n);
  const trueChild = new Int32Array(n), falseChild = new Int32Array(n), missingTrue = new Uint8Array(n);
  let featuresRead = 0;
  order.forEach((src, i) => {
    const m = MODE_BY_NAME[modes[src]!];
    if (m === undefined) throw attrError(node, 'nodes_modes', `has mode "${modes[src]}"; expected LEAF or BRANCH_LEQ/LT/GTE/GT/EQ/NEQ`);
    mode[i] = m;
    missingTrue[i] = missing[src] ? 1 : 0;
    if (m === NodeMode.LEAF) return;
    const f = featureIds[src]!;
    if (f < 0) throw attrError(node, 'nodes_featureids', `has negative feature id ${f}`);
    featuresRead = Math.max(featuresRead, f + 1);
    feature[i] = f;
    threshold[i] = values[src]!;
    for (const [ids, out, attr] of [[trueIds, trueChild, 'nodes_truenodeids'], [falseIds, falseChild, 'nodes_falsenodeids']] as const) {
      const c = index.get(key(treeIds[src]!, ids[src]!));
      if (c === undefined) throw attrError(node, attr, `points node ${nodeIds[src]} of tree ${treeIds[src]} to node ${ids[src]}, which that tree lacks`);
      out[i] = c;
    }
  });

  // Roots: the first node of each tree; every tree must be a tree (each node reached once from its root).
  const roots: number[] = [];
  const reached = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (i === 0 || treeIds[order[i]!] !== treeIds[order[i - 1]!]) roots.push(i);
  for (const r of roots) {
    const stack = [r];
    while (stack.length) {
      const i = stack.pop()!;
      if (reached[i]) throw attrError(node, 'nodes_truenodeids', `makes tree ${treeIds[order[r]!]} reach node ${nodeIds[order[i]!]} twice (a cycle or a shared node)`);
      reached[i] = 1;
      if (mode[i] !== NodeMode.LEAF) stack.push(falseChild[i]!, trueChild[i]!);
    }
  }

  const prefix = kind === 'classifier' ? 'class' : 'target';
  const wTree = attrInts(node, `${prefix}_treeids`);
  const wNode = attrInts(node, `${prefix}_nodeids`);
  const wId = attrInts(node, `${prefix}_ids`);
  const wVal = attrFloats(node, `${prefix}_weights`);
  const nw = sameLength(node, { [`${prefix}_treeids`]: wTree, [`${prefix}_nodeids`]: wNode, [`${prefix}_ids`]: wId, [`${prefix}_weights`]: wVal });

  let labels: number[] = [];
  let nTargets: number;
  if (kind === 'classifier') {
    labels = classLabels(node, 'classlabels_int64s');
    nTargets = labels.length;
  } else {
    nTargets = attrInt(node, 'n_targets', 1);
    if (nTargets < 1) throw attrError(node, 'n_targets', `is ${nTargets}; it must be at least 1`);
  }
  const perNode: { t: number; w: number }[][] = Array.from({ length: n }, () => []);
  const idsUsed = new Set<number>();
  for (let k = 0; k < nw; k++) {
    const i = index.get(key(wTree[k]!, wNode[k]!));
    if (i === undefined) throw attrError(node, `${prefix}_nodeids`, `names node ${wNode[k]} of tree ${wTree[k]}, which does not exist`);
    if (mode[i] !== NodeMode.LEAF) throw attrError(node, `${prefix}_nodeids`, `gives a weight to node ${wNode[k]} of tree ${wTree[k]}, which is not a leaf`);
    if (wId[k]! < 0 || wId[k]! >= nTargets) throw attrError(node, `${prefix}_ids`, `has id ${wId[k]}, outside the ${nTargets} ${kind === 'classifier' ? 'classes' : 'targets'}`);
    perNode[i]!.push({ t: wId[k]!, w: wVal[k]! });
    idsUsed.add(wId[k]!);
  }
  const weightStart = new Int32Array(n + 1);
  const weightTarget = new Int32Array(nw), weight = new Float32Array(nw);
  let w = 0;
  for (let i = 0; i < n; i++) {
    weightStart[i] = w;
    for (const e of perNode[i]!) { weightTarget[w] = e.t; weight[w] = e.w; w++; }
  }
  weightStart[n] = w;

  const aggregate = kind === 'classifier' ? 'SUM' : attrString(node, 'aggregate_function', 'SUM');
  if (!['SUM', 'AVERAGE', 'MIN', 'MAX'].includes(aggregate)) throw attrError(node, 'aggregate_function', `is "${aggregate}"; expected SUM, AVERAGE, MIN or MAX`);
  const base = hasAttr(node, 'base_values') ? attrFloats(node, 'base_values') : [];
  const binary = kind === 'classifier' && nTargets === 2 && idsUsed.size === 1;
  if (base.length !== 0 && base.length !== nTargets && !(binary && base.length === 1)) {
    throw attrError(node, 'base_values', `has ${base.length} values for ${nTargets} ${kind === 'classifier' ? 'classes' : 'targets'}`);
  }
  const post = postTransform(node);
  const weightsAllPositive = weight.every((v) => v >= 0);
  if (binary && post !== 'NONE' && post !== 'LOGISTIC') {
    throw unsupported(node, 'post_transform', `is ${post} for a two-class ensemble with one score`, 'use NONE or LOGISTIC, or give weights for both classes');
  }
  return {
    kind, nTargets, labels, post, aggregate: aggregate as TreeEnsemble['aggregate'], base, roots,
    feature, threshold, mode, trueChild, falseChild, missingTrue, weightStart, weightTarget, weight,
    binary, weightsAllPositive, featuresRead,
  };
}

// ---------------------------------------------------------------- linear models

export interface LinearModel {
  kind: 'classifier' | 'regressor';
  /** Rows (classes or targets) × features, row-major. */
  coefficients: Float32Array;
  intercepts: Float32Array;
  rows: number;
  features: number;
  labels: number[];
  post: PostTransform;
}

export function parseLinear(node: Node): LinearModel {
  const kind = node.op.endsWith('Classifier') ? 'classifier' : 'regressor';
  const coef = attrFloats(node, 'coefficients');
  let rows: number, labels: number[] = [];
  if (kind === 'classifier') {
    labels = classLabels(node, 'classlabels_ints');
    rows = labels.length;
    if (rows === 2 && coef.length > 0 && hasAttr(node, 'intercepts') && attrFloats(node, 'intercepts').length === 1) {
      throw unsupported(node, 'coefficients', 'holds one row for two classes (the binary shorthand), which cloudless does not implement',
        'write two rows: -w and w (with intercepts -b and b)');
    }
  } else {
    rows = attrInt(node, 'targets', 1);
    if (rows < 1) throw attrError(node, 'targets', `is ${rows}; it must be at least 1`);
  }
  if (coef.length === 0 || coef.length % rows !== 0) throw attrError(node, 'coefficients', `has ${coef.length} values, not a multiple of ${rows} rows`);
  const intercepts = hasAttr(node, 'intercepts') ? attrFloats(node, 'intercepts') : new Array<number>(rows).fill(0);
  if (intercepts.length !== rows) throw attrError(node, 'intercepts', `has ${intercepts.length} values for ${rows} rows`);
  return {
    kind, coefficients: Float32Array.from(coef), intercepts: Float32Array.from(intercepts), rows,
    features: coef.length / rows, labels, post: postTransform(node),
  };
}

// ---------------------------------------------------------------- SVMs

export type SvmKernel = 'LINEAR' | 'POLY' | 'RBF' | 'SIGMOID';

export interface SvmModel {
  kind: 'classifier' | 'regressor';
  kernel: SvmKernel;
  gamma: number;
  coef0: number;
  degree: number;
  /** Support vectors × features, row-major (float32 values, as ONNX stores them). */
  supportVectors: Float32Array;
  nVectors: number;
  features: number;
  /** Classifier: (classes - 1) × vectors (libsvm's dual coefficients); regressor: one per vector. */
  coefficients: Float32Array;
  rho: Float32Array;
  /** Classifier: support vectors per class, and where each class's start. */
  vectorsPerClass: number[];
  starts: number[];
  labels: number[];
  oneClass: boolean;
}

export function parseSvm(node: Node): SvmModel {
  const kind = node.op.endsWith('Classifier') ? 'classifier' : 'regressor';
  const kernel = attrString(node, 'kernel_type', 'LINEAR');
  if (!['LINEAR', 'POLY', 'RBF', 'SIGMOID'].includes(kernel)) throw attrError(node, 'kernel_type', `is "${kernel}"; expected LINEAR, POLY, RBF or SIGMOID`);
  const params = hasAttr(node, 'kernel_params') ? attrFloats(node, 'kernel_params') : [];
  if (params.length !== 0 && params.length !== 3) throw attrError(node, 'kernel_params', `has ${params.length} values; expected [gamma, coef0, degree]`);
  const [gamma = 0, coef0 = 0, degree = 0] = params.map((p) => Math.fround(p));
  if (postTransform(node) !== 'NONE') throw unsupported(node, 'post_transform', 'is not NONE; cloudless runs SVMs with raw decision values only');
  if (hasAttr(node, 'prob_a') && attrFloats(node, 'prob_a').length > 0) {
    throw unsupported(node, 'prob_a', 'asks for probability estimates (Platt scaling), which cloudless does not implement', 'export the SVM with probability=False');
  }
  const sv = hasAttr(node, 'support_vectors') ? attrFloats(node, 'support_vectors') : [];
  const coefficients = Float32Array.from(attrFloats(node, 'coefficients'));
  const rho = Float32Array.from(attrFloats(node, 'rho'));
  if (rho.length === 0) throw attrError(node, 'rho', 'is empty');
  let labels: number[] = [], vectorsPerClass: number[] = [], starts: number[] = [];
  let nVectors: number;
  if (kind === 'classifier') {
    labels = classLabels(node, 'classlabels_ints');
    vectorsPerClass = hasAttr(node, 'vectors_per_class') ? attrInts(node, 'vectors_per_class') : [];
    if (vectorsPerClass.length === 0) throw unsupported(node, 'vectors_per_class', 'is absent (the linear mode of SVMClassifier), which cloudless does not implement', 'export a linear SVM as LinearClassifier');
    if (vectorsPerClass.length !== labels.length) throw attrError(node, 'vectors_per_class', `has ${vectorsPerClass.length} entries for ${labels.length} classes`);
    if (labels.length < 2) throw attrError(node, 'classlabels_ints', 'names fewer than two classes');
    nVectors = 0;
    for (const v of vectorsPerClass) {
      if (v < 0) throw attrError(node, 'vectors_per_class', `has a negative count ${v}`);
      starts.push(nVectors);
      nVectors += v;
    }
    if (coefficients.length !== (labels.length - 1) * nVectors) throw attrError(node, 'coefficients', `has ${coefficients.length} values; expected (classes - 1) × vectors = ${(labels.length - 1) * nVectors}`);
    const pairs = (labels.length * (labels.length - 1)) / 2;
    if (rho.length !== pairs) throw attrError(node, 'rho', `has ${rho.length} values; expected one per pair of classes (${pairs})`);
  } else {
    nVectors = attrInt(node, 'n_supports', 0);
    if (nVectors <= 0) throw unsupported(node, 'n_supports', 'is 0 (the linear mode of SVMRegressor), which cloudless does not implement', 'export a linear model as LinearRegressor');
    if (coefficients.length !== nVectors) throw attrError(node, 'coefficients', `has ${coefficients.length} values for ${nVectors} support vectors`);
  }
  if (nVectors === 0 || sv.length % nVectors !== 0 || sv.length === 0) throw attrError(node, 'support_vectors', `has ${sv.length} values, not a whole number of ${nVectors} vectors`);
  return {
    kind, kernel: kernel as SvmKernel, gamma, coef0, degree, supportVectors: Float32Array.from(sv), nVectors,
    features: sv.length / nVectors, coefficients, rho, vectorsPerClass, starts, labels,
    oneClass: kind === 'regressor' && attrInt(node, 'one_class', 0) !== 0,
  };
}

// ---------------------------------------------------------------- preprocessing

export interface ScalerModel { offset: Float32Array; scale: Float32Array }

export function parseScaler(node: Node): ScalerModel {
  const offset = hasAttr(node, 'offset') ? attrFloats(node, 'offset') : [0];
  const scale = hasAttr(node, 'scale') ? attrFloats(node, 'scale') : [1];
  if (offset.length === 0) throw attrError(node, 'offset', 'is empty');
  if (scale.length === 0) throw attrError(node, 'scale', 'is empty');
  return { offset: Float32Array.from(offset), scale: Float32Array.from(scale) };
}

export function normalizerNorm(node: Node): 'MAX' | 'L1' | 'L2' {
  const n = attrString(node, 'norm', 'MAX');
  if (n !== 'MAX' && n !== 'L1' && n !== 'L2') throw attrError(node, 'norm', `is "${n}"; expected MAX, L1 or L2`);
  return n;
}

// ---------------------------------------------------------------- schemas

const FLOAT_INPUTS: readonly DType[] = ['float32', 'float64', 'int32', 'int64'];

/** The [N, F] (or [F]) feature input; returns N and F. */
function features(ctx: InferContext): { n: number; f: number; x: ValueInfo } {
  const x = requireInput(ctx, 0);
  if (!FLOAT_INPUTS.includes(x.dtype)) throw shapeError(ctx.node, `input X must be float32, float64, int32 or int64, got ${x.dtype}`);
  if (x.shape.length === 1) return { n: 1, f: x.shape[0]!, x };
  if (x.shape.length !== 2) throw shapeError(ctx.node, `input X must be [N, features] or [features], got [${x.shape.join(', ')}]`);
  return { n: x.shape[0]!, f: x.shape[1]!, x };
}

function needFeatures(ctx: InferContext, have: number, need: number): void {
  if (have < need) throw shapeError(ctx.node, `the model reads ${need} features, input X has ${have}`);
}

/** Parsed models per node, so that planning twice does not parse twice. */
const parsed = new WeakMap<Node, unknown>();
export function cachedParse<T>(node: Node, parse: (n: Node) => T): T {
  let m = parsed.get(node) as T | undefined;
  if (m === undefined) { m = parse(node); parsed.set(node, m); }
  return m;
}

function classifierOutputs(ctx: InferContext, n: number, scores: number): ValueInfo[] {
  const outs: ValueInfo[] = [{ dtype: 'int64', shape: [n] }, { dtype: 'float32', shape: [n, scores] }];
  return outs.slice(0, Math.max(1, ctx.node.outputs.length));
}

/** Scores per sample of a tree classifier: classes, or 2 in the binary case. */
export function treeScoreCount(m: TreeEnsemble): number {
  return m.binary ? 2 : m.nTargets;
}

/** Scores per sample of an SVM classifier: the pairwise decision values, or 2 ([-d, d]) for two classes. */
export function svmScoreCount(m: SvmModel): number {
  const c = m.labels.length;
  return c === 2 ? 2 : (c * (c - 1)) / 2;
}

const op = (name: string) => `${ML_DOMAIN}.${name}`;

export const mlSchemas: readonly OpSchema[] = [
  {
    op: op('TreeEnsembleClassifier'), inputs: [1, 1], outputs: [1, 2],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseTreeEnsemble);
      needFeatures(ctx, f, m.featuresRead);
      return classifierOutputs(ctx, n, treeScoreCount(m));
    },
  },
  {
    op: op('TreeEnsembleRegressor'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseTreeEnsemble);
      needFeatures(ctx, f, m.featuresRead);
      return [{ dtype: 'float32', shape: [n, m.nTargets] }];
    },
  },
  {
    op: op('LinearClassifier'), inputs: [1, 1], outputs: [1, 2],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseLinear);
      if (f !== m.features) throw shapeError(ctx.node, `the coefficients are for ${m.features} features, input X has ${f}`);
      return classifierOutputs(ctx, n, m.rows);
    },
  },
  {
    op: op('LinearRegressor'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseLinear);
      if (f !== m.features) throw shapeError(ctx.node, `the coefficients are for ${m.features} features, input X has ${f}`);
      return [{ dtype: 'float32', shape: [n, m.rows] }];
    },
  },
  {
    op: op('SVMClassifier'), inputs: [1, 1], outputs: [1, 2],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseSvm);
      if (f !== m.features) throw shapeError(ctx.node, `the support vectors have ${m.features} features, input X has ${f}`);
      return classifierOutputs(ctx, n, svmScoreCount(m));
    },
  },
  {
    op: op('SVMRegressor'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const { n, f } = features(ctx);
      const m = cachedParse(ctx.node, parseSvm);
      if (f !== m.features) throw shapeError(ctx.node, `the support vectors have ${m.features} features, input X has ${f}`);
      return [{ dtype: 'float32', shape: [n, 1] }];
    },
  },
  {
    op: op('Scaler'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const { x, f } = features(ctx);
      const m = cachedParse(ctx.node, parseScaler);
      for (const [k, v] of [['offset', m.offset], ['scale', m.scale]] as const) {
        if (v.length !== 1 && v.length !== f) throw attrError(ctx.node, k, `has ${v.length} values for ${f} features (give 1 or ${f})`);
      }
      return [{ dtype: 'float32', shape: [...x.shape] }];
    },
  },
  {
    op: op('Normalizer'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const { x } = features(ctx);
      normalizerNorm(ctx.node);
      return [{ dtype: 'float32', shape: [...x.shape] }];
    },
  },
  {
    op: op('Binarizer'), inputs: [1, 1], outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      if (x.dtype !== 'float32' && x.dtype !== 'float64') throw shapeError(ctx.node, `input must be float32 or float64, got ${x.dtype}`);
      attrFloat(ctx.node, 'threshold', 0);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
  },
  {
    op: op('ArrayFeatureExtractor'), inputs: [2, 2], outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      const idx = requireInput(ctx, 1);
      if (idx.dtype !== 'int64') throw shapeError(ctx.node, `input Y (indices) must be int64, got ${idx.dtype}`);
      if (x.shape.length === 0) throw shapeError(ctx.node, 'input X must have at least one dimension');
      const k = idx.shape.reduce((a, b) => a * b, 1);
      if (ctx.hasValue(1)) {
        const last = x.shape[x.shape.length - 1]!;
        for (const v of ctx.value(1).data as BigInt64Array) {
          if (v < 0n || v >= BigInt(last)) throw shapeError(ctx.node, `index ${v} is outside the last dimension of X (${last})`);
        }
      }
      return [{ dtype: x.dtype, shape: x.shape.length === 1 ? [1, k] : [...x.shape.slice(0, -1), k] }];
    },
  },
];

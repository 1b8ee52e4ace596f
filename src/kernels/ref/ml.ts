/**
 * Reference kernels of the ONNX-ML classic models (src/ir/ops/ml.ts has the semantics and what is
 * refused). Plain loops over one sample at a time.
 *
 * Arithmetic order is part of the contract: the C emitter (src/codegen/ml) writes the same
 * operations in the same order, so its outputs equal these bit for bit where no libm function is
 * involved. Trees, linear models, Scaler and Normalizer run in float32 (every intermediate rounded
 * with Math.fround, as C float arithmetic without contraction does); SVM kernels accumulate in
 * float64 (as onnxruntime's reference loop and libsvm do) and round the decision value to float32.
 * The post transforms (exp) and SVM kernels (exp, tanh, pow) compute in float64 and round once to
 * float32; there the C library's exp may differ from V8's in the last bit of the double, which
 * reaches the float32 result only when that bit decides the rounding.
 */
import {
  CloudlessError, attrFloat, defineKernel,
  type KernelDef, type Tensor,
} from '../../ir/index.js';
import {
  ML_DOMAIN, NodeMode, cachedParse, normalizerNorm, parseLinear, parseScaler, parseSvm, parseTreeEnsemble,
  type LinearModel, type PostTransform, type SvmModel, type TreeEnsemble,
} from '../../ir/ops/ml.js';

const f32 = Math.fround;
const FEATURE_DTYPES = ['float32', 'float64', 'int32', 'int64'] as const;

/** Input X as float32 values and its [N, F] view (a float32 input is read in place; others are converted into a new array). */
function featuresOf(x: Tensor): { data: Float32Array; n: number; f: number } {
  const n = x.rank === 1 ? 1 : x.shape[0]!;
  const f = x.rank === 1 ? x.shape[0]! : x.shape[1]!;
  if (x.data instanceof Float32Array) return { data: x.data, n, f };
  const data = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) data[i] = Number(x.data[i]);
  return { data, n, f };
}

// ---------------------------------------------------------------- post transforms

export function logistic(v: number): number {
  return f32(1 / (1 + Math.exp(-v)));
}

/** Applies a post transform to `s` (float32 values) in place. */
export function applyPostTransform(post: PostTransform, s: Float32Array): void {
  switch (post) {
    case 'NONE': return;
    case 'LOGISTIC':
      for (let k = 0; k < s.length; k++) s[k] = logistic(s[k]!);
      return;
    case 'SOFTMAX': {
      let max = -Infinity;
      for (let k = 0; k < s.length; k++) if (s[k]! > max) max = s[k]!;
      let sum = 0;
      for (let k = 0; k < s.length; k++) { s[k] = f32(Math.exp(f32(s[k]! - max))); sum = f32(sum + s[k]!); }
      for (let k = 0; k < s.length; k++) s[k] = f32(s[k]! / sum);
      return;
    }
    case 'SOFTMAX_ZERO': {
      // As SOFTMAX, but zero scores stay zero (they mean "no vote").
      let max = -Infinity;
      for (let k = 0; k < s.length; k++) if (s[k]! > max) max = s[k]!;
      let sum = 0;
      for (let k = 0; k < s.length; k++) {
        if (s[k] !== 0) { s[k] = f32(Math.exp(f32(s[k]! - max))); sum = f32(sum + s[k]!); }
      }
      for (let k = 0; k < s.length; k++) s[k] = sum === 0 ? 0 : f32(s[k]! / sum);
      return;
    }
  }
}

/** Index of the first largest score. */
export function argmax(s: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < s.length; k++) if (s[k]! > s[best]!) best = k;
  return best;
}

// ---------------------------------------------------------------- trees

/** The leaf tree `root` sends sample x (features at x[off ...]) to. */
export function treeLeaf(m: TreeEnsemble, root: number, x: Float32Array, off: number): number {
  let i = root;
  for (;;) {
    const mode = m.mode[i]!;
    if (mode === NodeMode.LEAF) return i;
    const v = x[off + m.feature[i]!]!;
    const t = m.threshold[i]!;
    let go: boolean;
    if (Number.isNaN(v) && m.missingTrue[i]) go = true;
    else {
      switch (mode) {
        case NodeMode.BRANCH_LEQ: go = v <= t; break;
        case NodeMode.BRANCH_LT: go = v < t; break;
        case NodeMode.BRANCH_GTE: go = v >= t; break;
        case NodeMode.BRANCH_GT: go = v > t; break;
        case NodeMode.BRANCH_EQ: go = v === t; break;
        default: go = v !== t; break;
      }
    }
    i = go ? m.trueChild[i]! : m.falseChild[i]!;
  }
}

/**
 * Scores of one sample (float32, length treeScoreCount) and its label index. `acc` and `seen` are
 * scratch of length nTargets.
 */
export function treeEnsembleSample(m: TreeEnsemble, x: Float32Array, off: number, scores: Float32Array, acc: Float32Array, seen: Uint8Array): number {
  acc.fill(0);
  seen.fill(0);
  for (const root of m.roots) {
    const leaf = treeLeaf(m, root, x, off);
    for (let w = m.weightStart[leaf]!; w < m.weightStart[leaf + 1]!; w++) {
      const k = m.weightTarget[w]!, v = m.weight[w]!;
      if (m.aggregate === 'MIN') acc[k] = !seen[k] || v < acc[k]! ? v : acc[k]!;
      else if (m.aggregate === 'MAX') acc[k] = !seen[k] || v > acc[k]! ? v : acc[k]!;
      else acc[k] = f32(acc[k]! + v);
      seen[k] = 1;
    }
  }
  if (m.aggregate === 'AVERAGE') for (let k = 0; k < acc.length; k++) acc[k] = f32(acc[k]! / m.roots.length);
  if (m.binary) {
    // One score: the sum over the one class id the weights use, plus its base value.
    let s = 0;
    for (let k = 0; k < acc.length; k++) s = f32(s + acc[k]!);
    if (m.base.length) s = f32(s + m.base[m.base.length === 1 ? 0 : m.weightTarget[0]!]!);
    if (m.weightsAllPositive) {
      scores[0] = f32(1 - s); scores[1] = s;
      return s > 0.5 ? 1 : 0;
    }
    if (m.post === 'LOGISTIC') { scores[0] = logistic(-s); scores[1] = logistic(s); } else { scores[0] = -s; scores[1] = s; }
    return s > 0 ? 1 : 0;
  }
  for (let k = 0; k < m.nTargets; k++) scores[k] = m.base.length ? f32(acc[k]! + m.base[k]!) : acc[k]!;
  applyPostTransform(m.post, scores);
  return argmax(scores);
}

interface TreeState { m: TreeEnsemble; scores: Float32Array; acc: Float32Array; seen: Uint8Array }

function treeState(m: TreeEnsemble): { state: TreeState; scratchBytes: number } {
  const width = m.kind === 'classifier' && m.binary ? 2 : m.nTargets;
  return { state: { m, scores: new Float32Array(width), acc: new Float32Array(m.nTargets), seen: new Uint8Array(m.nTargets) }, scratchBytes: 4 * width + 5 * m.nTargets };
}

function runTrees({ m, scores, acc, seen }: TreeState, x: Tensor, labels: Tensor | undefined, out: Tensor | undefined): void {
  const { data, n, f } = featuresOf(x);
  const width = scores.length;
  for (let s = 0; s < n; s++) {
    const label = treeEnsembleSample(m, data, s * f, scores, acc, seen);
    if (labels) (labels.data as BigInt64Array)[s] = BigInt(m.labels[label]!);
    if (out) (out.data as Float32Array).set(scores, s * width);
  }
}

// ---------------------------------------------------------------- linear

/** Scores of one sample: row r = (Σ_f coef[r, f] · x[f]) + intercept[r], summed in float32 in feature order. */
export function linearSample(m: LinearModel, x: Float32Array, off: number, scores: Float32Array): void {
  for (let r = 0; r < m.rows; r++) {
    let acc = 0;
    const c = r * m.features;
    for (let j = 0; j < m.features; j++) acc = f32(acc + f32(m.coefficients[c + j]! * x[off + j]!));
    scores[r] = f32(acc + m.intercepts[r]!);
  }
}

interface LinearState { m: LinearModel; scores: Float32Array }

function runLinear({ m, scores }: LinearState, x: Tensor, labels: Tensor | undefined, out: Tensor | undefined): void {
  const { data, n, f } = featuresOf(x);
  for (let s = 0; s < n; s++) {
    linearSample(m, data, s * f, scores);
    applyPostTransform(m.post, scores);
    if (labels) (labels.data as BigInt64Array)[s] = BigInt(m.labels[argmax(scores)]!);
    if (out) (out.data as Float32Array).set(scores, s * m.rows);
  }
}

function linearState(m: LinearModel): { state: LinearState; scratchBytes: number } {
  return { state: { m, scores: new Float32Array(m.rows) }, scratchBytes: 4 * m.rows };
}

// ---------------------------------------------------------------- SVM

/** k(x, sv_j) in float64: the dot or squared distance accumulates in float64 over float32 inputs. */
export function svmKernel(m: SvmModel, x: Float32Array, off: number, j: number): number {
  const sv = m.supportVectors, base = j * m.features;
  let sum = 0;
  if (m.kernel === 'RBF') {
    for (let i = 0; i < m.features; i++) { const d = x[off + i]! - sv[base + i]!; sum += d * d; }
    return Math.exp(-m.gamma * sum);
  }
  for (let i = 0; i < m.features; i++) sum += x[off + i]! * sv[base + i]!;
  switch (m.kernel) {
    case 'LINEAR': return sum;
    case 'POLY': return Math.pow(m.gamma * sum + m.coef0, m.degree);
    default: return Math.tanh(m.gamma * sum + m.coef0);
  }
}

/**
 * One-vs-one SVM classification of one sample: pairwise decision values (float32) into `pair`,
 * votes into `votes`; returns the winning class index (first largest vote count). `kern` is scratch
 * of nVectors float64 values.
 */
export function svmClassifySample(m: SvmModel, x: Float32Array, off: number, kern: Float64Array, pair: Float32Array, votes: Int32Array): number {
  for (let j = 0; j < m.nVectors; j++) kern[j] = svmKernel(m, x, off, j);
  votes.fill(0);
  const c = m.labels.length, nv = m.nVectors;
  let p = 0;
  for (let i = 0; i < c - 1; i++) {
    for (let j = i + 1; j < c; j++, p++) {
      let sum = 0;
      // libsvm's layout: class i's vectors weigh with coefficient row j - 1, class j's with row i.
      for (let v = 0; v < m.vectorsPerClass[i]!; v++) sum += m.coefficients[(j - 1) * nv + m.starts[i]! + v]! * kern[m.starts[i]! + v]!;
      for (let v = 0; v < m.vectorsPerClass[j]!; v++) sum += m.coefficients[i * nv + m.starts[j]! + v]! * kern[m.starts[j]! + v]!;
      sum += m.rho[p]!;
      pair[p] = f32(sum);
      votes[sum > 0 ? i : j]!++;
    }
  }
  return argmax(votes);
}

export function svmRegressSample(m: SvmModel, x: Float32Array, off: number): number {
  let sum = 0;
  for (let j = 0; j < m.nVectors; j++) sum += m.coefficients[j]! * svmKernel(m, x, off, j);
  sum += m.rho[0]!;
  if (m.oneClass) return sum > 0 ? 1 : -1;
  return f32(sum);
}

interface SvmState { m: SvmModel; kern: Float64Array; pair: Float32Array; votes: Int32Array }

function svmState(m: SvmModel): { state: SvmState; scratchBytes: number } {
  const c = m.labels.length, pairs = (c * (c - 1)) / 2;
  return { state: { m, kern: new Float64Array(m.nVectors), pair: new Float32Array(pairs), votes: new Int32Array(c) }, scratchBytes: 8 * m.nVectors + 4 * pairs + 4 * c };
}

function runSvm({ m, kern, pair, votes }: SvmState, x: Tensor, labels: Tensor | undefined, out: Tensor | undefined): void {
  const { data, n, f } = featuresOf(x);
  if (m.kind === 'regressor') {
    for (let s = 0; s < n; s++) (out!.data as Float32Array)[s] = svmRegressSample(m, data, s * f);
    return;
  }
  const c = m.labels.length, pairs = (c * (c - 1)) / 2;
  const width = c === 2 ? 2 : pairs;
  for (let s = 0; s < n; s++) {
    const k = svmClassifySample(m, data, s * f, kern, pair, votes);
    if (labels) (labels.data as BigInt64Array)[s] = BigInt(m.labels[k]!);
    if (!out) continue;
    const o = out.data as Float32Array;
    if (c === 2) { o[s * 2] = -pair[0]!; o[s * 2 + 1] = pair[0]!; } else o.set(pair, s * width);
  }
}

// ---------------------------------------------------------------- preprocessing

/** y = (x - offset) · scale, float32, offset and scale per feature or one for all. */
export function scaleSample(offset: Float32Array, scale: Float32Array, x: Float32Array, off: number, y: Float32Array, yoff: number, f: number): void {
  for (let j = 0; j < f; j++) {
    const o = offset[offset.length === 1 ? 0 : j]!, s = scale[scale.length === 1 ? 0 : j]!;
    y[yoff + j] = f32(f32(x[off + j]! - o) * s);
  }
}

/** Row-wise normalization in float32; a row whose norm is 0 is left as it is (as scikit-learn does). */
export function normalizeSample(norm: 'MAX' | 'L1' | 'L2', x: Float32Array, off: number, y: Float32Array, f: number): void {
  let d = 0;
  if (norm === 'MAX') { d = -Infinity; for (let j = 0; j < f; j++) if (x[off + j]! > d) d = x[off + j]!; }
  else if (norm === 'L1') for (let j = 0; j < f; j++) d = f32(d + Math.abs(x[off + j]!));
  else { for (let j = 0; j < f; j++) d = f32(d + f32(x[off + j]! * x[off + j]!)); d = f32(Math.sqrt(d)); }
  for (let j = 0; j < f; j++) y[off + j] = d === 0 ? x[off + j]! : f32(x[off + j]! / d);
}

const ml = (name: string) => `${ML_DOMAIN}.${name}`;

export const mlKernels: readonly KernelDef[] = [
  defineKernel<TreeState>({
    op: ml('TreeEnsembleClassifier'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => treeState(cachedParse(node, parseTreeEnsemble)),
    run: (inputs, outputs, _node, m) => runTrees(m, inputs[0]!, outputs[0], outputs[1]),
  }),
  defineKernel<TreeState>({
    op: ml('TreeEnsembleRegressor'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => treeState(cachedParse(node, parseTreeEnsemble)),
    run: (inputs, outputs, _node, m) => runTrees(m, inputs[0]!, undefined, outputs[0]),
  }),
  defineKernel<LinearState>({
    op: ml('LinearClassifier'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => linearState(cachedParse(node, parseLinear)),
    run: (inputs, outputs, _node, m) => runLinear(m, inputs[0]!, outputs[0], outputs[1]),
  }),
  defineKernel<LinearState>({
    op: ml('LinearRegressor'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => linearState(cachedParse(node, parseLinear)),
    run(inputs, outputs, _node, { m, scores }) {
      const { data, n, f } = featuresOf(inputs[0]!);
      for (let s = 0; s < n; s++) {
        linearSample(m, data, s * f, scores);
        applyPostTransform(m.post, scores);
        (outputs[0]!.data as Float32Array).set(scores, s * m.rows);
      }
    },
  }),
  defineKernel<SvmState>({
    op: ml('SVMClassifier'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => svmState(cachedParse(node, parseSvm)),
    run: (inputs, outputs, _node, m) => runSvm(m, inputs[0]!, outputs[0], outputs[1]),
  }),
  defineKernel<SvmState>({
    op: ml('SVMRegressor'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => svmState(cachedParse(node, parseSvm)),
    run: (inputs, outputs, _node, m) => runSvm(m, inputs[0]!, undefined, outputs[0]),
  }),
  defineKernel<ReturnType<typeof parseScaler>>({
    op: ml('Scaler'), backend: 'ref', dtypes: FEATURE_DTYPES,
    prepare: ({ node }) => ({ state: cachedParse(node, parseScaler) }),
    run(inputs, outputs, _node, m) {
      const { data, n, f } = featuresOf(inputs[0]!);
      const y = outputs[0]!.data as Float32Array;
      for (let s = 0; s < n; s++) scaleSample(m.offset, m.scale, data, s * f, y, s * f, f);
    },
  }),
  defineKernel<undefined>({
    op: ml('Normalizer'), backend: 'ref', dtypes: FEATURE_DTYPES,
    run(inputs, outputs, node) {
      const { data, n, f } = featuresOf(inputs[0]!);
      const norm = normalizerNorm(node);
      const y = outputs[0]!.data as Float32Array;
      for (let s = 0; s < n; s++) normalizeSample(norm, data, s * f, y, f);
    },
  }),
  defineKernel<undefined>({
    op: ml('Binarizer'), backend: 'ref', dtypes: ['float32', 'float64'],
    run(inputs, outputs, node) {
      const t = attrFloat(node, 'threshold', 0);
      const x = inputs[0]!.data as Float32Array | Float64Array, y = outputs[0]!.data as Float32Array | Float64Array;
      for (let i = 0; i < x.length; i++) y[i] = x[i]! > t ? 1 : 0;
    },
  }),
  defineKernel<undefined>({
    op: ml('ArrayFeatureExtractor'), backend: 'ref',
    dtypes: ['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'int16', 'bool'],
    run(inputs, outputs, node) {
      const x = inputs[0]!, idx = inputs[1]!.data as BigInt64Array, y = outputs[0]!;
      const last = x.shape[x.rank - 1]!, rows = x.size / last, k = idx.length;
      const xd = x.data as unknown as ArrayLike<number | bigint>, yd = y.data as unknown as { [i: number]: number | bigint };
      for (const v of idx) {
        if (v < 0n || v >= BigInt(last)) throw new CloudlessError('E_INPUT', `node ${node.name} (${node.op}): index ${v} is outside the last dimension of X (${last})`, { node: node.name });
      }
      for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) yd[r * k + j] = xd[r * last + Number(idx[j]!)]!;
    },
  }),
];

/**
 * Classic ONNX-ML models (src/ir/ops/ml.ts) to a self-contained C99 package with the C ABI of
 * src/codegen/package.ts. The graph must be a chain from its one feature input X [N, F]: any number
 * of Scaler / Normalizer / Binarizer / ArrayFeatureExtractor (constant indices), then at most one
 * model op (TreeEnsemble*, Linear*, SVM*). The package runs one sample per invoke (N = 1).
 *
 * What is emitted, per part:
 * - trees: the internal nodes of all trees as parallel `static const` tables (feature index,
 *   threshold, true/false child) in the smallest integer types that hold them; a child >= 0 is an
 *   internal node, a child < 0 is leaf vector ~child. Leaf vectors (the per-class or per-target
 *   weights of a leaf) are deduplicated: the leaves of a pure forest share a handful of them.
 *   Node modes and missing-value tracks are stored only when the ensemble uses other than
 *   BRANCH_LEQ / no tracks.
 * - linear models: coefficients and intercepts; SVMs: support vectors, dual coefficients, rho.
 * - scratch (preprocessed features, scores, SVM kernel values) lives in the arena
 *   (`<NAME>_ARENA_BYTES`); input and outputs are static buffers of the package.
 *
 * Arithmetic is the reference kernels' (src/kernels/ref/ml.ts), in the same order, so the C outputs
 * equal the engine's bit for bit except where a libm function (exp, tanh, pow, in post transforms
 * and SVM kernels) rounds its last double bit differently from V8's. Build with -std=c99 (ISO mode:
 * GCC does not contract a*b+c into an FMA there) or pass -ffp-contract=off.
 *
 * Integer features (`features: 'int16'`), for tree ensembles with post_transform NONE: the input is
 * int16, one quantized value per feature, q = clamp(round((x - offset_f) / scale_f), -32767, 32767)
 * with offset_f = (lo_f + hi_f) / 2 and scale_f = (hi_f - lo_f) / 65534 from the training range
 * [lo_f, hi_f] of feature f (the model's `cloudless.feature_range` metadata, or `featureRange`).
 * Thresholds become int16 t' = floor((t - offset_f) / scale_f), so that q <= t' exactly when the
 * dequantized feature offset_f + q · scale_f <= t; leaf weights become int32 fixed point (the
 * largest power-of-two scale at which the sum over all trees fits int32, or a smaller one of at
 * least 2^12 at which every leaf weight fits int16), so no float is needed.
 * Scores come out as int32 with the scale in `<NAME>_OUTPUT1_SCALE`. Predictions can differ from
 * the float model only where a feature lies within one quantization step of a threshold.
 */
import { CloudlessError, type Graph, type Node, type Tensor } from '../../ir/index.js';
import {
  ML_DOMAIN, NodeMode, normalizerNorm, parseLinear, parseScaler, parseSvm, parseTreeEnsemble,
  type LinearModel, type PostTransform, type SvmModel, type TreeEnsemble,
} from '../../ir/ops/ml.js';
import type { CPackage, CTensorInfo } from '../package.js';
import { cDouble, cFloat, checkCName, floatTable, intTable } from './c-text.js';

export interface ClassicCOptions {
  /** C identifier prefix of the package's symbols. */
  name: string;
  /** 'float' (default) or 'int16' (quantized features and thresholds; tree ensembles only). */
  features?: 'float' | 'int16';
  /** Training range [lo, hi] per feature for 'int16'; default: the model's cloudless.feature_range metadata. */
  featureRange?: [number, number][];
}

const MODEL_OPS = ['TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'LinearClassifier', 'LinearRegressor', 'SVMClassifier', 'SVMRegressor'];
const PRE_OPS = ['Scaler', 'Normalizer', 'Binarizer', 'ArrayFeatureExtractor'];

/** Whether every node of the graph is an ONNX-ML op this emitter handles (the `compile` CLI dispatches on it). */
export function isClassicGraph(graph: Graph): boolean {
  return graph.nodes.some((n) => n.op.startsWith(`${ML_DOMAIN}.`)) && graph.nodes.every((n) => n.op.startsWith(`${ML_DOMAIN}.`) || n.op === 'Identity');
}

function refuse(node: Node | undefined, message: string, hint?: string): never {
  const where = node ? `node ${node.name} (${node.op}): ` : '';
  throw new CloudlessError('E_UNSUPPORTED', `C emitter (classic ML): ${where}${message}`, { node: node?.name, hint });
}

/** Quantization of one feature for the int16 mode. */
export interface FeatureQuant { offset: number; scale: number }

/** The int16 quantization of each feature from its training range (see the file header). */
export function featureQuantization(range: [number, number][]): FeatureQuant[] {
  return range.map(([lo, hi]) => {
    const scale = hi > lo ? (hi - lo) / 65534 : 1;
    return { offset: (lo + hi) / 2, scale };
  });
}

/** Quantizes float features as the int16 package expects them. */
export function quantizeFeatures(x: ArrayLike<number>, q: FeatureQuant[]): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const f = q[i % q.length]!;
    out[i] = Math.max(-32767, Math.min(32767, Math.round((x[i]! - f.offset) / f.scale)));
  }
  return out;
}

interface Emitted {
  /** C declarations (tables, helpers) before the invoke function. */
  decls: string[];
  /** Statements of the invoke body. */
  body: string[];
  constBytes: number;
  needsLibm: boolean;
}

export function emitClassicC(graph: Graph, options: ClassicCOptions): CPackage {
  const name = checkCName(options.name);
  const NAME = name.toUpperCase();
  const int16 = options.features === 'int16';
  if (graph.inputs.length !== 1) refuse(undefined, `the graph has ${graph.inputs.length} inputs; a classic model has one feature input`);
  const inputName = graph.inputs[0]!;
  const inputValue = graph.value(inputName);
  const inShape = inputValue.shape;
  const F = inShape?.[inShape.length - 1];
  if (typeof F !== 'number' || F <= 0 || !inShape || inShape.length > 2) refuse(undefined, `input "${inputName}" must be [N, features] with a known feature count`);
  if (inputValue.dtype !== 'float32') refuse(undefined, `input "${inputName}" is ${inputValue.dtype}; the C emitter takes float32 features`);

  // The chain of nodes from X.
  let current = inputName, width = F;
  const steps: { node: Node; inWidth: number; outWidth: number; inBuf: string; outBuf: string }[] = [];
  let model: Node | undefined;
  const constantOf = (n: string): Tensor | undefined => graph.values.get(n)?.constant;
  // Identity nodes (ZipMap loads as one) only rename a value.
  const alias = new Map<string, string>();
  const resolve = (v: string): string => { let r = v; while (alias.has(r)) r = alias.get(r)!; return r; };
  for (const node of graph.nodes) {
    if (node.op === 'Identity') { alias.set(node.outputs[0]!, node.inputs[0]!); continue; }
    const op = node.op.startsWith(`${ML_DOMAIN}.`) ? node.op.slice(ML_DOMAIN.length + 1) : '';
    if (!PRE_OPS.includes(op) && !MODEL_OPS.includes(op)) refuse(node, 'this op has no C emitter', 'the classic-ML emitter takes ONNX-ML preprocessing ops and one model op');
    if (model) refuse(node, `follows the model op ${model.name}; only preprocessing may come before one model op`);
    if (resolve(node.inputs[0] ?? '') !== current) refuse(node, `reads "${node.inputs[0]}", not the output of the previous step ("${current}")`);
    if (MODEL_OPS.includes(op)) { model = node; continue; }
    let outWidth = width;
    if (op === 'ArrayFeatureExtractor') {
      const idx = constantOf(node.inputs[1] ?? '');
      if (!idx) refuse(node, 'its indices are not a constant');
      outWidth = idx.size;
    }
    steps.push({ node, inWidth: width, outWidth, inBuf: '', outBuf: '' });
    current = node.outputs[0]!;
    width = outWidth;
  }
  if (int16 && (steps.length || !model || !model.op.includes('TreeEnsemble'))) {
    refuse(model, "features 'int16' is for a tree ensemble that reads the input directly", "use features 'float'");
  }
  const outputsOfLast = model ? model.outputs : [current];
  for (const o of graph.outputs) if (!outputsOfLast.includes(resolve(o))) refuse(undefined, `graph output "${o}" is not an output of the last step`);
  /** The graph's name for a value of the last step (its own, or the Identity output the graph returns). */
  const outName = (v: string): string => graph.outputs.find((o) => resolve(o) === v) ?? v;

  // Scratch buffers: features ping-pong between two float buffers in the arena.
  let arenaFloats = 0, arenaDoubles = 0;
  const floatBuf = (n: number) => { const at = arenaFloats; arenaFloats += n; return `(fa + ${at})`; };
  const maxW = Math.max(F, ...steps.map((s) => s.outWidth));
  const bufs = steps.length ? [floatBuf(maxW), steps.length > 1 ? floatBuf(maxW) : ''] : [];
  let src = 'in0';
  steps.forEach((s, i) => { s.inBuf = src; s.outBuf = bufs[i % 2]!; src = s.outBuf; });

  const decls: string[] = [];
  const body: string[] = [];
  let constBytes = 0, needsLibm = false;
  let prefixCount = 0;
  const pfx = () => `k${prefixCount++}_`;

  for (const s of steps) {
    const op = s.node.op.slice(ML_DOMAIN.length + 1), p = pfx();
    const n = s.inWidth;
    if (op === 'Scaler') {
      const m = parseScaler(s.node);
      const off = floatTable(`${p}offset`, m.offset), sc = floatTable(`${p}scale`, m.scale);
      decls.push(off.text, sc.text); constBytes += off.bytes + sc.bytes;
      const io = m.offset.length === 1 ? '0' : 'j', is = m.scale.length === 1 ? '0' : 'j';
      body.push(`  /* ${s.node.name}: Scaler */`, `  for (j = 0; j < ${n}; j++) ${s.outBuf}[j] = (${s.inBuf}[j] - ${p}offset[${io}]) * ${p}scale[${is}];`);
    } else if (op === 'Normalizer') {
      const norm = normalizerNorm(s.node);
      body.push(`  /* ${s.node.name}: Normalizer ${norm} */`, '  {', '    float d;');
      if (norm === 'MAX') body.push(`    d = ${s.inBuf}[0];`, `    for (j = 1; j < ${n}; j++) if (${s.inBuf}[j] > d) d = ${s.inBuf}[j];`);
      else if (norm === 'L1') body.push('    d = 0.0f;', `    for (j = 0; j < ${n}; j++) d += fabsf(${s.inBuf}[j]);`);
      else body.push('    d = 0.0f;', `    for (j = 0; j < ${n}; j++) d += ${s.inBuf}[j] * ${s.inBuf}[j];`, '    d = (float)sqrt((double)d);');
      body.push(`    for (j = 0; j < ${n}; j++) ${s.outBuf}[j] = d == 0.0f ? ${s.inBuf}[j] : ${s.inBuf}[j] / d;`, '  }');
      needsLibm = true;
    } else if (op === 'Binarizer') {
      const t = typeof s.node.attrs.threshold === 'number' ? s.node.attrs.threshold : 0;
      body.push(`  /* ${s.node.name}: Binarizer */`, `  for (j = 0; j < ${n}; j++) ${s.outBuf}[j] = ${s.inBuf}[j] > ${cFloat(t)} ? 1.0f : 0.0f;`);
    } else {
      const idx = Array.from(constantOf(s.node.inputs[1]!)!.data as BigInt64Array, Number);
      for (const v of idx) if (v < 0 || v >= n) refuse(s.node, `index ${v} is outside the ${n} features`);
      const t = intTable(`${p}index`, idx);
      decls.push(t.text); constBytes += t.bytes;
      body.push(`  /* ${s.node.name}: ArrayFeatureExtractor */`, `  for (j = 0; j < ${idx.length}; j++) ${s.outBuf}[j] = ${s.inBuf}[${p}index[j]];`);
    }
  }

  // Outputs.
  const outputs: CTensorInfo[] = [];
  const outDecls: string[] = [];
  const x = src;
  let modelFloats = 0;
  if (model) {
    const op = model.op.slice(ML_DOMAIN.length + 1), p = pfx();
    const scoresBuf = (k: number) => { modelFloats = Math.max(modelFloats, k); };
    let labels: number[] | undefined, scoreCount: number, scoreType = 'float';
    let emitted: Emitted;
    let outScale: number | undefined;
    if (op.startsWith('TreeEnsemble')) {
      const m = parseTreeEnsemble(model);
      if (m.featuresRead > width) refuse(model, `reads feature ${m.featuresRead - 1} of ${width}`);
      labels = m.kind === 'classifier' ? m.labels : undefined;
      scoreCount = m.kind === 'classifier' && m.binary ? 2 : m.nTargets;
      let quant: FeatureQuant[] | undefined;
      if (int16) {
        const range = options.featureRange ?? readRange(graph);
        if (!range) refuse(model, "features 'int16' needs the training range of every feature", 'pass featureRange, or store cloudless.feature_range in the model metadata');
        if (range.length < m.featuresRead) refuse(model, `the feature range covers ${range.length} features, the model reads ${m.featuresRead}`);
        quant = featureQuantization(range);
        scoreType = 'int32_t';
      }
      const t = emitTrees(m, model, p, x, quant);
      emitted = t.emitted;
      outScale = t.outScale;
      scoresBuf(m.nTargets);
    } else if (op.startsWith('Linear')) {
      const m = parseLinear(model);
      if (m.features !== width) refuse(model, `has coefficients for ${m.features} features, its input has ${width}`);
      labels = m.kind === 'classifier' ? m.labels : undefined;
      scoreCount = m.rows;
      emitted = emitLinear(m, p, x);
      scoresBuf(m.rows);
    } else {
      const m = parseSvm(model);
      if (m.features !== width) refuse(model, `has support vectors of ${m.features} features, its input has ${width}`);
      labels = m.kind === 'classifier' ? m.labels : undefined;
      scoreCount = m.kind === 'classifier' ? (m.labels.length === 2 ? 2 : (m.labels.length * (m.labels.length - 1)) / 2) : 1;
      const at = arenaDoubles; arenaDoubles += m.nVectors;
      emitted = emitSvm(m, p, x, `(da + ${at})`);
    }
    decls.push(...emitted.decls);
    body.push(...emitted.body);
    constBytes += emitted.constBytes;
    needsLibm ||= emitted.needsLibm;
    const outs = model.outputs.map(outName);
    if (labels) {
      const lt = intTable(`${p}labels`, labels);
      decls.push(lt.text); constBytes += lt.bytes;
      outDecls.push('static int64_t out0[1];', `static ${scoreType} out1[${scoreCount}];`);
      outputs.push({ name: outs[0]!, dtype: 'int64', shape: [1], bytes: 8 });
      if (outs[1]) outputs.push({ name: outs[1], dtype: scoreType === 'float' ? 'float32' : 'int32', shape: [1, scoreCount], bytes: 4 * scoreCount, ...(outScale ? { quant: { scale: outScale, zeroPoint: 0 } } : {}) });
      body.push(`  out0[0] = (int64_t)${p}labels[label];`);
    } else {
      outDecls.push(`static ${scoreType} out1[${scoreCount}];`);
      outputs.push({ name: outs[0]!, dtype: scoreType === 'float' ? 'float32' : 'int32', shape: [1, scoreCount], bytes: 4 * scoreCount, ...(outScale ? { quant: { scale: outScale, zeroPoint: 0 } } : {}) });
    }
  } else {
    outDecls.push(`static float out1[${width}];`);
    body.push(`  for (j = 0; j < ${width}; j++) out1[j] = ${x}[j];`);
    outputs.push({ name: outName(current), dtype: 'float32', shape: [1, width], bytes: 4 * width });
  }
  arenaFloats += modelFloats * 2; // scores and accumulators (named sc and acc below)
  const scAt = arenaFloats - modelFloats * 2;

  const arenaBytes = arenaDoubles * 8 + arenaFloats * 4;
  const inType = int16 ? 'int16_t' : 'float';
  const inputs: CTensorInfo[] = [{ name: inputName, dtype: int16 ? 'int16' : 'float32', shape: [1, F], bytes: (int16 ? 2 : 4) * F }];
  const files: Record<string, string> = {};
  files[`${name}.h`] = header(name, NAME, arenaBytes, inputs, outputs);
  const scoresOutIsModel = model !== undefined;
  const usesLabel = outputs.length === 2 || (model !== undefined && outputs[0]?.dtype === 'int64');
  files[`${name}.c`] = [
    `/* ${name}.c: generated by cloudless from ${graph.meta.source ?? graph.name}. Do not edit. */`,
    `#include "${name}.h"`,
    ...(needsLibm ? ['#include <math.h>'] : []),
    '',
    `static ${inType} in0[${F}];`,
    ...outDecls,
    '/* The arena of a package without scratch still needs one element (C has no empty arrays). */',
    `static int64_t arena_static[${Math.max(1, Math.ceil(arenaBytes / 8))}];`,
    '',
    ...decls,
    '',
    `int ${name}_invoke_with_arena(uint8_t *arena) {`,
    // The int16 package declares no floating-point object at all (its scratch is int32).
    int16 ? '' : `  double *da = (double *)(void *)arena;`,
    `  ${int16 ? 'int32_t' : 'float'} *fa = (${int16 ? 'int32_t' : 'float'} *)(void *)(arena + ${arenaDoubles * 8});`,
    scoresOutIsModel ? `  ${int16 ? 'int32_t' : 'float'} *sc = fa + ${scAt}, *acc = fa + ${scAt + modelFloats};` : '',
    '  int j;',
    usesLabel ? '  int label = 0;' : '',
    `  if (arena == 0) return ${NAME}_STATUS_NO_ARENA;`,
    `  if (((uintptr_t)arena & 7u) != 0) return ${NAME}_STATUS_MISALIGNED_ARENA;`,
    int16 ? '  (void)fa; (void)j;' : '  (void)da; (void)fa; (void)j;',
    scoresOutIsModel ? '  (void)sc; (void)acc;' : '',
    ...body,
    '  return 0;',
    '}',
    '',
    `int ${name}_invoke(void) { return ${name}_invoke_with_arena((uint8_t *)(void *)arena_static); }`,
    `void *${name}_input(int i) { return i == 0 ? (void *)in0 : (void *)0; }`,
    `const void *${name}_output(int i) {`,
    ...outputs.map((_, i) => `  if (i == ${i}) return ${outputs.length === 1 ? 'out1' : `out${i}`};`),
    '  return (const void *)0;',
    '}',
    '',
  ].filter((l) => l !== '').join('\n').replace(/\n(static const|int |void \*|const void)/g, '\n\n$1');
  return { name, files, arenaBytes, constBytes, inputs, outputs, needsLibm };
}

function readRange(graph: Graph): [number, number][] | undefined {
  const raw = graph.meta.properties?.['cloudless.feature_range'];
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as unknown;
    if (Array.isArray(r) && r.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number'))) return r as [number, number][];
  } catch { /* fall through */ }
  throw new CloudlessError('E_FORMAT', `${graph.meta.source ?? 'model'}: metadata cloudless.feature_range is not a list of [lo, hi] pairs`);
}

function header(name: string, NAME: string, arenaBytes: number, inputs: CTensorInfo[], outputs: CTensorInfo[]): string {
  const tensorMacros = (kind: string, list: CTensorInfo[]) => list.flatMap((t, i) => [
    `/* ${kind.toLowerCase()} ${i}: "${t.name}", ${t.dtype} [${t.shape.join(', ')}] */`,
    `#define ${NAME}_${kind}${i}_BYTES ${t.bytes}`,
    `#define ${NAME}_${kind}${i}_RANK ${t.shape.length}`,
    ...t.shape.map((d, k) => `#define ${NAME}_${kind}${i}_DIM${k} ${d}`),
    ...(t.quant ? [`#define ${NAME}_${kind}${i}_SCALE ${cDouble(t.quant.scale)}`, `#define ${NAME}_${kind}${i}_ZERO_POINT ${t.quant.zeroPoint}`] : []),
  ]);
  return [
    `/* ${name}.h: a classic ML model compiled by cloudless (no malloc, no stdio).`,
    ' * Write the features to <name>_input(0), call <name>_invoke(), read <name>_output(i).',
    ' * Returns 0, or a status below. The arena holds scratch only and must be 8-byte aligned. */',
    `#ifndef ${NAME}_H`,
    `#define ${NAME}_H`,
    '#include <stdint.h>',
    '',
    `#define ${NAME}_ARENA_BYTES ${arenaBytes}`,
    `#define ${NAME}_NUM_INPUTS ${inputs.length}`,
    `#define ${NAME}_NUM_OUTPUTS ${outputs.length}`,
    `#define ${NAME}_STATUS_OK 0`,
    `#define ${NAME}_STATUS_NO_ARENA 1`,
    `#define ${NAME}_STATUS_MISALIGNED_ARENA 2`,
    ...tensorMacros('INPUT', inputs),
    ...tensorMacros('OUTPUT', outputs),
    '',
    `int ${name}_invoke(void);`,
    `int ${name}_invoke_with_arena(uint8_t *arena);`,
    `void *${name}_input(int i);`,
    `const void *${name}_output(int i);`,
    '',
    `#endif /* ${NAME}_H */`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- post transforms and argmax

function postTransformC(post: PostTransform, s: string, k: number): { code: string[]; libm: boolean } {
  switch (post) {
    case 'NONE': return { code: [], libm: false };
    case 'LOGISTIC':
      return { code: [`  for (j = 0; j < ${k}; j++) ${s}[j] = (float)(1.0 / (1.0 + exp(-(double)${s}[j])));`], libm: true };
    case 'SOFTMAX':
    case 'SOFTMAX_ZERO': {
      const skip = post === 'SOFTMAX_ZERO' ? `if (${s}[j] != 0.0f) ` : '';
      return {
        code: [
          '  {',
          `    float mx = ${s}[0], sum = 0.0f;`,
          `    for (j = 1; j < ${k}; j++) if (${s}[j] > mx) mx = ${s}[j];`,
          `    for (j = 0; j < ${k}; j++) ${skip}{ float d = ${s}[j] - mx; ${s}[j] = (float)exp((double)d); sum += ${s}[j]; }`,
          post === 'SOFTMAX_ZERO'
            ? `    for (j = 0; j < ${k}; j++) ${s}[j] = sum == 0.0f ? 0.0f : ${s}[j] / sum;`
            : `    for (j = 0; j < ${k}; j++) ${s}[j] = ${s}[j] / sum;`,
          '  }',
        ],
        libm: true,
      };
    }
  }
}

const argmaxC = (s: string, k: number) => `  for (j = 1; j < ${k}; j++) if (${s}[j] > ${s}[label]) label = j;`;

// ---------------------------------------------------------------- trees

function emitTrees(m: TreeEnsemble, node: Node, p: string, x: string, quant: FeatureQuant[] | undefined): { emitted: Emitted; outScale?: number } {
  if (m.aggregate === 'MIN' || m.aggregate === 'MAX') refuse(node, `aggregate_function ${m.aggregate} has no C emitter`, 'SUM and AVERAGE are supported');
  if (quant && m.post !== 'NONE') refuse(node, `post_transform ${m.post} needs floats; features 'int16' takes NONE`);
  const K = m.nTargets;
  const W = m.binary ? 1 : K;
  const n = m.mode.length;
  // Internal nodes get dense indices; a leaf becomes ~(its deduplicated weight vector).
  const internal = new Int32Array(n).fill(-1);
  let ni = 0;
  for (let i = 0; i < n; i++) if (m.mode[i] !== NodeMode.LEAF) internal[i] = ni++;
  const vectors = new Map<string, number>();
  const vectorList: number[][] = [];
  const leafRef = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (m.mode[i] !== NodeMode.LEAF) continue;
    const v = new Array<number>(W).fill(0);
    const ids = new Set<number>();
    for (let w = m.weightStart[i]!; w < m.weightStart[i + 1]!; w++) {
      const t = m.weightTarget[w]!;
      if (ids.has(t)) refuse(node, 'a leaf lists the same class or target twice, which the C tables cannot hold in the engine\'s order');
      ids.add(t);
      v[m.binary ? 0 : t] = m.weight[w]!;
    }
    const key = v.map((z) => (Object.is(z, -0) ? '-0' : String(z))).join(',');
    let id = vectors.get(key);
    if (id === undefined) { id = vectorList.length; vectors.set(key, id); vectorList.push(v); }
    leafRef[i] = ~id;
  }
  const ref = (i: number) => (m.mode[i] === NodeMode.LEAF ? leafRef[i]! : internal[i]!);
  const feat: number[] = [], thr: number[] = [], left: number[] = [], right: number[] = [], modes: number[] = [], miss: number[] = [];
  for (let i = 0; i < n; i++) {
    if (m.mode[i] === NodeMode.LEAF) continue;
    const f = m.feature[i]!;
    feat.push(f);
    if (quant) {
      if (m.mode[i] !== NodeMode.BRANCH_LEQ) refuse(node, "features 'int16' takes BRANCH_LEQ nodes only");
      const q = quant[f]!;
      const t = Math.floor((m.threshold[i]! - q.offset) / q.scale);
      thr.push(Math.max(-32768, Math.min(32767, t)));
    } else thr.push(m.threshold[i]!);
    left.push(ref(m.trueChild[i]!));
    right.push(ref(m.falseChild[i]!));
    modes.push(m.mode[i]!);
    miss.push(m.missingTrue[i]!);
  }
  const decls: string[] = [];
  let constBytes = 0;
  const add = (t: { text: string; bytes: number }) => { decls.push(t.text); constBytes += t.bytes; };
  const featT = intTable(`${p}feature`, feat); add(featT);
  if (quant) add(intTable(`${p}threshold`, thr.map((v) => Math.trunc(v))));
  else add(floatTable(`${p}threshold`, thr));
  const leftT = intTable(`${p}true_child`, left), rightT = intTable(`${p}false_child`, right), rootT = intTable(`${p}root`, m.roots.map(ref));
  add(leftT); add(rightT); add(rootT);
  const allLeq = modes.every((v) => v === NodeMode.BRANCH_LEQ);
  const anyMissing = miss.some((v) => v);
  if (!allLeq) add(intTable(`${p}mode`, modes));
  if (anyMissing) add(intTable(`${p}missing_true`, miss));

  let outScale: number | undefined;
  const flat = vectorList.flat();
  if (quant) {
    // Fixed point leaf weights: the largest power of two at which Σ over trees of max |w| fits int32;
    // when a scale of at least 2^12 still lets every leaf weight fit int16, that smaller scale, so the
    // leaf table takes half the flash (a rounding step of 2^-12 or finer per tree).
    let bound = 0, leafMax = 0;
    for (const r of m.roots) { const t = treeMaxAbs(m, r); bound += t; leafMax = Math.max(leafMax, t); }
    bound += m.base.reduce((a, b) => a + Math.abs(b), 0);
    let shift = 0;
    while (shift < 30 && bound * 2 ** (shift + 1) < 2 ** 31 - 1) shift++;
    let shift16 = 0;
    while (shift16 < 30 && leafMax * 2 ** (shift16 + 1) <= 32767) shift16++;
    if (shift16 >= 12 && shift16 < shift) shift = shift16;
    outScale = 2 ** -shift;
    add(intTable(`${p}leaf`, flat.map((v) => Math.round(v * 2 ** shift))));
  } else add(floatTable(`${p}leaf`, flat));

  const elemT = quant ? 'int16_t' : 'float';
  const cmp = (v: string, t: string) => (allLeq ? `${v} <= ${t}` : `${p}compare(${v}, ${t}, ${p}mode[i])`);
  if (!allLeq) {
    decls.push([
      `static int ${p}compare(float v, float t, int mode) {`,
      '  switch (mode) {',
      `    case ${NodeMode.BRANCH_LEQ}: return v <= t;`,
      `    case ${NodeMode.BRANCH_LT}: return v < t;`,
      `    case ${NodeMode.BRANCH_GTE}: return v >= t;`,
      `    case ${NodeMode.BRANCH_GT}: return v > t;`,
      `    case ${NodeMode.BRANCH_EQ}: return v == t;`,
      '    default: return v != t;',
      '  }',
      '}',
    ].join('\n'));
  }
  decls.push([
    '/* Walks one tree from node reference r (>= 0: internal node; < 0: leaf vector ~r) to its leaf vector. */',
    `static int32_t ${p}leaf_of(const ${elemT} *x, int32_t r) {`,
    '  while (r >= 0) {',
    '    int32_t i = r;',
    `    ${elemT} v = x[${p}feature[i]];`,
    anyMissing
      ? `    int go = (v != v && ${p}missing_true[i]) ? 1 : ${cmp('v', `${p}threshold[i]`)};`
      : `    int go = ${cmp('v', `${p}threshold[i]`)};`,
    `    r = go ? (int32_t)${p}true_child[i] : (int32_t)${p}false_child[i];`,
    '  }',
    '  return ~r;',
    '}',
  ].join('\n'));
  const accT = quant ? 'int32_t' : 'float';
  const body: string[] = [`  /* ${node.name}: ${m.roots.length} trees, ${ni} internal nodes, ${vectorList.length} distinct leaf vectors */`];
  body.push('  {', `    ${accT} *a = acc;`, '    int t;');
  body.push(`    for (j = 0; j < ${W}; j++) a[j] = 0;`);
  body.push(`    for (t = 0; t < ${m.roots.length}; t++) {`, `      int32_t v = ${p}leaf_of(${quant ? 'in0' : x}, (int32_t)${p}root[t]) * ${W};`);
  body.push(`      for (j = 0; j < ${W}; j++) a[j] += ${p}leaf[v + j];`, '    }');
  if (m.aggregate === 'AVERAGE') {
    if (quant) refuse(node, "aggregate AVERAGE with features 'int16' (the division would change results); use SUM weights divided by the tree count");
    body.push(`    for (j = 0; j < ${W}; j++) a[j] = a[j] / ${cFloat(m.roots.length)};`);
  }
  const baseOf = (k: number) => (quant ? String(Math.round(m.base[k]! / outScale!)) : cFloat(m.base[k]!));
  const emitted: Emitted = { decls, body, constBytes, needsLibm: false };
  if (m.kind === 'classifier' && m.binary) {
    const bi = m.base.length === 1 ? 0 : m.weightTarget[0]!;
    body.push(`    {`, `      ${accT} s = a[0]${m.base.length ? ` + ${baseOf(bi)}` : ''};`);
    if (m.weightsAllPositive) {
      const one = quant ? String(2 ** -Math.log2(outScale!)) : '1.0f', half = quant ? String(2 ** (-Math.log2(outScale!) - 1)) : '0.5f';
      body.push(`      out1[0] = ${one} - s; out1[1] = s;`, `      label = s > ${half} ? 1 : 0;`);
    } else if (m.post === 'LOGISTIC') {
      body.push('      out1[0] = (float)(1.0 / (1.0 + exp((double)s)));', '      out1[1] = (float)(1.0 / (1.0 + exp(-(double)s)));', '      label = s > 0 ? 1 : 0;');
      emitted.needsLibm = true;
    } else body.push('      out1[0] = -s; out1[1] = s;', '      label = s > 0 ? 1 : 0;');
    body.push('    }', '  }');
    return { emitted, outScale };
  }
  body.push(`    for (j = 0; j < ${K}; j++) sc[j] = a[j];`.replace('sc[j] = a[j]', quant ? 'out1[j] = a[j]' : 'sc[j] = a[j]'));
  if (m.base.length) body.push(...m.base.map((_, k) => `    ${quant ? 'out1' : 'sc'}[${k}] ${quant ? '+=' : '='} ${quant ? baseOf(k) : `sc[${k}] + ${baseOf(k)}`};`));
  body.push('  }');
  if (!quant) {
    const pt = postTransformC(m.post, 'sc', K);
    body.push(...pt.code);
    emitted.needsLibm = pt.libm;
    body.push(`  for (j = 0; j < ${K}; j++) out1[j] = sc[j];`);
  }
  if (m.kind === 'classifier') body.push(argmaxC('out1', K));
  return { emitted, outScale };
}

/** max over leaves of tree r of max |weight|. */
function treeMaxAbs(m: TreeEnsemble, root: number): number {
  let best = 0;
  const stack = [root];
  while (stack.length) {
    const i = stack.pop()!;
    if (m.mode[i] === NodeMode.LEAF) {
      for (let w = m.weightStart[i]!; w < m.weightStart[i + 1]!; w++) best = Math.max(best, Math.abs(m.weight[w]!));
    } else stack.push(m.trueChild[i]!, m.falseChild[i]!);
  }
  return best;
}

// ---------------------------------------------------------------- linear

function emitLinear(m: LinearModel, p: string, x: string): Emitted {
  const coef = floatTable(`${p}coef`, m.coefficients), b = floatTable(`${p}intercept`, m.intercepts);
  const body = [
    `  /* ${m.kind === 'classifier' ? 'LinearClassifier' : 'LinearRegressor'}: ${m.rows} x ${m.features} */`,
    '  {',
    '    int r;',
    `    for (r = 0; r < ${m.rows}; r++) {`,
    '      float a = 0.0f;',
    `      for (j = 0; j < ${m.features}; j++) a += ${p}coef[r * ${m.features} + j] * ${x}[j];`,
    `      sc[r] = a + ${p}intercept[r];`,
    '    }',
    '  }',
  ];
  const pt = postTransformC(m.post, 'sc', m.rows);
  body.push(...pt.code, `  for (j = 0; j < ${m.rows}; j++) out1[j] = sc[j];`);
  if (m.kind === 'classifier') body.push(argmaxC('out1', m.rows));
  return { decls: [coef.text, b.text], body, constBytes: coef.bytes + b.bytes, needsLibm: pt.libm };
}

// ---------------------------------------------------------------- SVM

function emitSvm(m: SvmModel, p: string, x: string, kern: string): Emitted {
  const sv = floatTable(`${p}sv`, m.supportVectors), coef = floatTable(`${p}coef`, m.coefficients), rho = floatTable(`${p}rho`, m.rho);
  const decls = [sv.text, coef.text, rho.text];
  let constBytes = sv.bytes + coef.bytes + rho.bytes;
  const F = m.features;
  const kernelExpr = (() => {
    switch (m.kernel) {
      case 'RBF': return `exp(-${cDouble(m.gamma)} * s)`;
      case 'LINEAR': return 's';
      case 'POLY': return `pow(${cDouble(m.gamma)} * s + ${cDouble(m.coef0)}, ${cDouble(m.degree)})`;
      default: return `tanh(${cDouble(m.gamma)} * s + ${cDouble(m.coef0)})`;
    }
  })();
  const accumulate = m.kernel === 'RBF'
    ? `for (j = 0; j < ${F}; j++) { double d = (double)${x}[j] - (double)${p}sv[v * ${F} + j]; s += d * d; }`
    : `for (j = 0; j < ${F}; j++) s += (double)${x}[j] * (double)${p}sv[v * ${F} + j];`;
  decls.push([
    `static double ${p}kernel(const float *x_, int v) {`,
    '  double s = 0.0;',
    '  int j;',
    `  ${accumulate.replaceAll(x, 'x_')}`,
    `  return ${kernelExpr};`,
    '}',
  ].join('\n'));
  const body: string[] = [`  /* SVM ${m.kernel}: ${m.nVectors} support vectors of ${F} features */`, '  {', '    int v;', `    double *kv = ${kern};`];
  if (m.kind === 'regressor') {
    body.push('    double s = 0.0;', `    for (v = 0; v < ${m.nVectors}; v++) s += (double)${p}coef[v] * ${p}kernel(${x}, v);`, `    s += (double)${p}rho[0];`);
    body.push(m.oneClass ? '    out1[0] = s > 0.0 ? 1.0f : -1.0f;' : '    out1[0] = (float)s;', '    (void)kv;', '  }');
    return { decls, body, constBytes, needsLibm: true };
  }
  const C = m.labels.length;
  const starts = intTable(`${p}start`, m.starts), counts = intTable(`${p}count`, m.vectorsPerClass);
  decls.push(starts.text, counts.text);
  constBytes += starts.bytes + counts.bytes;
  body.push(
    `    int votes[${C}];`,
    '    int i, k, pr = 0;',
    `    for (v = 0; v < ${m.nVectors}; v++) kv[v] = ${p}kernel(${x}, v);`,
    `    for (i = 0; i < ${C}; i++) votes[i] = 0;`,
    `    for (i = 0; i < ${C - 1}; i++) {`,
    `      for (k = i + 1; k < ${C}; k++, pr++) {`,
    '        double s = 0.0;',
    `        for (v = 0; v < ${p}count[i]; v++) s += (double)${p}coef[(k - 1) * ${m.nVectors} + ${p}start[i] + v] * kv[${p}start[i] + v];`,
    `        for (v = 0; v < ${p}count[k]; v++) s += (double)${p}coef[i * ${m.nVectors} + ${p}start[k] + v] * kv[${p}start[k] + v];`,
    `        s += (double)${p}rho[pr];`,
    C === 2 ? '        out1[1] = (float)s; out1[0] = -out1[1];' : '        out1[pr] = (float)s;',
    '        votes[s > 0.0 ? i : k]++;',
    '      }',
    '    }',
    `    for (i = 1; i < ${C}; i++) if (votes[i] > votes[label]) label = i;`,
    '  }',
  );
  return { decls, body, constBytes, needsLibm: true };
}

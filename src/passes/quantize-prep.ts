/**
 * Rewrites a float graph into the shape TFLite's int8 scheme wants, before
 * calibration (so that the ranges observed are those of the values the int8
 * graph will hold). None of these rewrites changes a float result:
 *
 *  - Gemm and MatMul with a constant 2-D weight become FullyConnected, the op
 *    with per-output-channel int8 weights and an int32 bias;
 *  - BatchNormalization after a conv or fully connected layer is folded into
 *    its weights (fold-batchnorm.ts);
 *  - x · relu6(x + 3) / 6 spelled out in Mul, Add and Clip nodes (how TF
 *    exports MobileNetV3's hard-swish) becomes one HardSwish node, which has an
 *    int8 kernel and a TFLite builtin; the graph's own 1/6 is often a float16
 *    value (0.16663), so this rewrite moves results by up to 3·10⁻⁵ relative;
 *  - a constant added to a conv or fully connected output is added to its
 *    bias instead (squeeze-excite's hard-sigmoid begins with "+ 3"), so the
 *    Clip after it can fuse too;
 *  - cross-layer equalization (Nagel et al., "Data-Free Quantization Through
 *    Weight Equalization and Bias Correction", 2019) between a conv and the
 *    depthwise conv it feeds, and between a depthwise conv and the conv it
 *    feeds: channel c of the first is divided by s_c and the second's weights
 *    for channel c multiplied by it, which changes nothing in float because
 *    ReLU commutes with a positive scale. BatchNorm folding leaves depthwise
 *    channels whose ranges differ by 100x or more, which one per-tensor int8
 *    scale cannot serve; equalizing brings each channel's two weight ranges to
 *    their geometric mean. It runs after fusion, which it needs to see ReLUs;
 *  - HardSigmoid, which TFLite has no builtin for, is spelled out as Mul by
 *    alpha, Add beta and Clip to [0, 1] (how the TFLite writer writes it, and
 *    each has an int8 kernel), so it no longer leaves a float island with
 *    Quantize/Dequantize around it; the float result moves by a rounding at most;
 *  - Relu, and Clip to [0, 6] or [−1, 1], after a conv, fully connected or
 *    pool layer become that layer's fused `activation` (fuse-activation.ts): in
 *    int8 the clamp is part of the requantization and costs nothing, and the
 *    output range then starts at the clamp, which buys resolution.
 * readModel() already applies the last two; a Gemm turned into FullyConnected
 * here can then take the Relu that follows it.
 */
import { Tensor, attrFloat, attrInt, attrString, type Graph, type Node } from '../ir/index.js';
import { transposeTensor } from '../ir/tensor-ops.js';
import { channelAxisIndexer, dropUnusedConstants, foldBatchNorm, outputChannelAxis } from './fold-batchnorm.js';
import { fuseActivations } from './fuse-activation.js';

export interface PrepareReport {
  batchNormsFolded: number;
  activationsFused: number;
  fullyConnected: number;
  hardSwish: number;
  hardSigmoid: number;
  scalesFolded: number;
  biasAddsFolded: number;
  equalizedPairs: number;
}

/** Applies the three rewrites in the order that lets each enable the next. */
export function prepareForQuantization(graph: Graph): PrepareReport {
  const fullyConnected = gemmToFullyConnected(graph);
  const batchNormsFolded = foldBatchNorm(graph);
  // Scales, then biases, fold into the layer before them, so that a hard-swish reads the layer's output directly.
  const scalesFolded = foldMulIntoLayer(graph);
  const biasAddsFolded = foldAddIntoBias(graph);
  const hardSwish = fuseHardSwish(graph);
  const hardSigmoid = spellOutHardSigmoid(graph);
  const activationsFused = fuseActivations(graph);
  const equalizedPairs = equalizeCrossLayer(graph);
  return { batchNormsFolded, activationsFused, fullyConnected, hardSwish, hardSigmoid, scalesFolded, biasAddsFolded, equalizedPairs };
}

/** HardSigmoid(x) → Clip(Add(Mul(x, alpha), beta), 0, 1), in place. Returns how many. */
export function spellOutHardSigmoid(graph: Graph): number {
  let n = 0;
  for (const node of [...graph.nodes]) {
    const dtype = graph.values.get(node.inputs[0]!)?.dtype;
    if (node.op !== 'HardSigmoid' || (dtype !== undefined && dtype !== 'float32')) continue;
    const x = node.inputs[0]!, y = node.outputs[0]!;
    const scalar = (role: string, v: number) => addConstant(graph, `${node.name}/${role}`, Tensor.scalar('float32', v));
    const scaled = graph.uniqueName(`${node.name}/scaled`), shifted = graph.uniqueName(`${node.name}/shifted`);
    graph.setValue({ name: scaled, dtype: 'float32' });
    graph.setValue({ name: shifted, dtype: 'float32' });
    const at = graph.nodes.indexOf(node);
    graph.nodes.splice(at, 1,
      { name: `${node.name}/mul`, op: 'Mul', inputs: [x, scalar('alpha', attrFloat(node, 'alpha', 0.2))], outputs: [scaled], attrs: {} },
      { name: `${node.name}/add`, op: 'Add', inputs: [scaled, scalar('beta', attrFloat(node, 'beta', 0.5))], outputs: [shifted], attrs: {} },
      { name: node.name, op: 'Clip', inputs: [shifted, scalar('min', 0), scalar('max', 1)], outputs: [y], attrs: {} });
    n++;
  }
  return n;
}

/** The value of a float constant holding a single number, or undefined. */
function scalarOf(graph: Graph, name: string | undefined): number | undefined {
  const t = graph.constant(name);
  return t && t.dtype === 'float32' && t.size === 1 ? (t.data[0] as number) : undefined;
}

/** For a binary node with one scalar constant operand: [the other operand, the scalar]. */
function withScalar(graph: Graph, node: Node | undefined, op: string): [string, number] | undefined {
  if (!node || node.op !== op || node.inputs.length !== 2) return undefined;
  const [a, b] = node.inputs as [string, string];
  const sb = scalarOf(graph, b);
  if (sb !== undefined) return [a, sb];
  const sa = scalarOf(graph, a);
  return sa !== undefined ? [b, sa] : undefined;
}

/** 1/6 as float32, or (unless `exact`) as the float16 value TF.js exports store (0.1666259765625). */
function isOneSixth(v: number, exact = false): boolean {
  return exact ? Math.fround(v) === Math.fround(1 / 6) : Math.abs(v - 1 / 6) < 1e-4;
}

/**
 * Finds hard-swish spelled out as nodes and replaces it with HardSwish. Three
 * spellings are seen: ((x · ⅙) · relu6(x + 3)) from TF (MobileNetV3),
 * ((x · relu6(x + 3)) · ⅙) from Keras, and ((x · relu6(x + 3)) / 6) from
 * Paddle; relu6 is Clip(·, 0, 6). Intermediate values
 * must have no other reader. Returns how many were replaced.
 */
export function fuseHardSwish(graph: Graph, options: { exactSixth?: boolean } = {}): number {
  const sixth = (v: number) => isOneSixth(v, options.exactSixth);
  const producers = graph.producers();
  const consumers = graph.consumers();
  const outputs = new Set(graph.outputs);
  const private1 = (v: string) => !outputs.has(v) && (consumers.get(v)?.length ?? 0) === 1;
  /** x when `r` is relu6(x + 3) computed only for this use. */
  const relu6Plus3Of = (r: string): string | undefined => {
    const clip = producers.get(r);
    if (!clip || clip.op !== 'Clip' || !private1(r)) return undefined;
    if (scalarOf(graph, clip.inputs[1]) !== 0 || scalarOf(graph, clip.inputs[2]) !== 6) return undefined;
    const add = withScalar(graph, producers.get(clip.inputs[0]!), 'Add');
    return add && add[1] === 3 && private1(clip.inputs[0]!) ? add[0] : undefined;
  };
  const removed = new Set<Node>();
  let count = 0;
  for (const y of graph.nodes) {
    if ((y.op !== 'Mul' && y.op !== 'Div') || y.inputs.length !== 2 || removed.has(y)) continue;
    let match: { x: string; dead: string[] } | undefined;
    // (x · relu6(x + 3)) / 6 is the Keras form with a division (Paddle exports it so).
    const divisor = y.op === 'Div' ? scalarOf(graph, y.inputs[1]) : undefined;
    if (y.op === 'Div' && divisor !== 6) continue;
    const scaled: [string, number] | undefined = y.op === 'Div' ? [y.inputs[0]!, 1 / 6] : withScalar(graph, y, 'Mul');
    if (scaled && sixth(scaled[1])) {
      // Keras: (x · relu6(x + 3)) · ⅙
      const p = producers.get(scaled[0]);
      if (p?.op === 'Mul' && private1(scaled[0])) {
        for (const [r, x] of [[p.inputs[1]!, p.inputs[0]!], [p.inputs[0]!, p.inputs[1]!]] as const) {
          if (relu6Plus3Of(r) === x) { match = { x, dead: [scaled[0], r] }; break; }
        }
      }
    } else {
      // TF: (x · ⅙) · relu6(x + 3)
      for (const [m, r] of [[y.inputs[0]!, y.inputs[1]!], [y.inputs[1]!, y.inputs[0]!]] as const) {
        const scale = withScalar(graph, producers.get(m), 'Mul');
        if (scale && sixth(scale[1]) && private1(m) && relu6Plus3Of(r) === scale[0]) { match = { x: scale[0], dead: [m, r] }; break; }
      }
    }
    if (!match) continue;
    // The dead nodes: the scaling Mul or product Mul, the Clip and the Add before it.
    for (const v of match.dead) {
      const n = producers.get(v)!;
      removed.add(n);
      if (n.op === 'Clip') removed.add(producers.get(n.inputs[0]!)!);
    }
    y.op = 'HardSwish';
    y.inputs = [match.x];
    y.attrs = {};
    count++;
  }
  if (count) {
    const dead = new Set<string>();
    for (const n of removed) for (const o of n.outputs) if (o) dead.add(o);
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    for (const v of dead) graph.values.delete(v);
    dropUnusedConstants(graph);
  }
  return count;
}

/** A weighted float layer whose only reader is an elementwise op with a constant, found by foldIntoLayer. */
interface FoldSite {
  layer: Node;
  weight: Tensor;
  bias?: Tensor;
  channels: number;
  /** The constant's value for output channel ch (a scalar or one value per channel). */
  factor(ch: number): number;
  /** The weight's output-channel axis. */
  axis: number;
}

/**
 * Folds `op`(layer output, constant) into the layer before it: `rewrite` sets
 * the layer's new weight and bias inputs. Applies when the layer has no fused
 * activation, its output has no other reader, and the constant is a scalar or
 * one value per output channel (broadcast against the last, channel, axis).
 * Returns how many nodes went.
 */
function foldIntoLayer(graph: Graph, op: 'Mul' | 'Add', rewrite: (site: FoldSite) => string[]): number {
  const producers = graph.producers();
  const consumers = graph.consumers();
  const removed = new Set<Node>();
  for (const node of graph.nodes) {
    if (node.op !== op || node.inputs.length !== 2) continue;
    for (const k of [0, 1]) {
      const x = node.inputs[k]!, c = graph.constant(node.inputs[1 - k]);
      const layer = producers.get(x);
      if (!c || c.dtype !== 'float32' || !layer || layer.outputs.length !== 1) continue;
      if (attrString(layer, 'activation', 'none') !== 'none' || graph.outputs.includes(x) || consumers.get(x)?.length !== 1) continue;
      const weight = graph.constant(layer.inputs[1]);
      if (!weight || weight.dtype !== 'float32') continue;
      const axis = outputChannelAxis(layer, weight);
      if (axis === undefined) continue;
      const channels = weight.shape[axis]!;
      if (c.size !== 1 && (c.size !== channels || c.shape[c.rank - 1] !== channels)) continue;
      const bias = layer.inputs[2] ? graph.constant(layer.inputs[2]) : undefined;
      if (layer.inputs[2] && (!bias || bias.dtype !== 'float32')) continue;
      layer.inputs = [layer.inputs[0]!, ...rewrite({ layer, weight, bias, channels, axis, factor: (ch) => c.data[c.size === 1 ? 0 : ch] as number })];
      graph.values.delete(x);
      layer.outputs = [node.outputs[0]!];
      removed.add(node);
      break;
    }
  }
  if (removed.size) {
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    dropUnusedConstants(graph);
  }
  return removed.size;
}

function addConstant(graph: Graph, base: string, t: Tensor): string {
  const name = graph.uniqueName(base);
  graph.setValue({ name, dtype: 'float32', shape: [...t.shape], constant: t });
  return name;
}

/**
 * Mul(layer output, constant) → the layer with its weights and bias scaled
 * (Paddle's learnable affine scales, a BatchNorm left as Mul and Add). Returns how many.
 */
export function foldMulIntoLayer(graph: Graph): number {
  return foldIntoLayer(graph, 'Mul', ({ layer, weight: w, bias, channels, axis, factor }) => {
    const channelOf = channelAxisIndexer(w, axis);
    const scaled = Float32Array.from(w.data as Float32Array, (v, i) => v * factor(channelOf(i)));
    const inputs = [addConstant(graph, `${layer.name}/weight_scaled`, new Tensor('float32', w.shape, scaled))];
    if (bias) {
      const b = Float32Array.from({ length: channels }, (_, i) => (bias.data[i] as number) * factor(i));
      inputs.push(addConstant(graph, `${layer.name}/bias_scaled`, new Tensor('float32', [channels], b)));
    }
    return inputs;
  });
}

/** Add(layer output, constant) → the layer with the constant added to its bias. Returns how many. */
export function foldAddIntoBias(graph: Graph): number {
  return foldIntoLayer(graph, 'Add', ({ layer, bias, channels, factor }) => {
    const b = Float32Array.from({ length: channels }, (_, i) => (bias ? (bias.data[i] as number) : 0) + factor(i));
    return [layer.inputs[1]!, addConstant(graph, `${layer.name}/bias_add_folded`, new Tensor('float32', [channels], b))];
  });
}

/**
 * Gemm(A, B, C) with alpha = beta = 1, no transA and a constant B, and MatMul(A, B)
 * with a constant 2-D B, become FullyConnected(A, W = B as [O, K], bias). Returns
 * how many were rewritten.
 */
export function gemmToFullyConnected(graph: Graph): number {
  let count = 0;
  for (const node of graph.nodes) {
    if (node.op !== 'Gemm' && node.op !== 'MatMul') continue;
    const b = graph.constant(node.inputs[1]);
    if (!b || b.dtype !== 'float32' || b.rank !== 2) continue;
    // Importers need not declare intermediate values; a declared A must be a float activation.
    const a = graph.values.get(node.inputs[0]!);
    if (a && (a.dtype !== 'float32' || a.constant)) continue;
    let weight: Tensor, bias: Tensor | undefined;
    if (node.op === 'Gemm') {
      if (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1) continue;
      weight = attrInt(node, 'transB', 0) !== 0 ? b : transposeTensor(b, [1, 0]);
      if (node.inputs[2]) {
        const c = graph.constant(node.inputs[2]);
        if (!c || c.dtype !== 'float32' || c.size !== weight.shape[0] || c.shape[c.rank - 1] !== c.size) continue;
        const beta = attrFloat(node, 'beta', 1);
        const d = new Float32Array(c.size);
        for (let i = 0; i < d.length; i++) d[i] = (c.data[i]! as number) * beta;
        bias = new Tensor('float32', [c.size], d);
      }
    } else {
      weight = transposeTensor(b, [1, 0]);
    }
    const wName = graph.uniqueName(`${node.name}/fc_weight`);
    graph.setValue({ name: wName, dtype: 'float32', shape: [...weight.shape], constant: weight });
    const inputs = [node.inputs[0]!, wName];
    if (bias) {
      const bName = graph.uniqueName(`${node.name}/fc_bias`);
      graph.setValue({ name: bName, dtype: 'float32', shape: [...bias.shape], constant: bias });
      inputs.push(bName);
    }
    node.attrs = node.op === 'MatMul' ? { keep_num_dims: 1 } : {};
    node.op = 'FullyConnected';
    node.inputs = inputs;
    count++;
  }
  if (count) dropUnusedConstants(graph);
  return count;
}

/** One layer's side of an equalized pair: where channel c sits in its weight. */
interface EqualizedSide {
  node: Node;
  weight: Tensor;
  /** Maps (flat index) → channel. */
  channelOf: (i: number) => number;
}

function channelAbsMax(side: EqualizedSide, channels: number): Float64Array {
  const m = new Float64Array(channels);
  const d = side.weight.data as Float32Array;
  for (let i = 0; i < d.length; i++) {
    const c = side.channelOf(i);
    m[c] = Math.max(m[c]!, Math.abs(d[i]!));
  }
  return m;
}

/** ReLU (or nothing) commutes with a positive per-channel scale; ReLU6 and other clamps do not. */
function isScaleEquivariant(node: Node): boolean {
  const a = attrString(node, 'activation', 'none');
  return a === 'none' || a === 'relu';
}

/**
 * Cross-layer equalization of Conv → DepthwiseConv and DepthwiseConv → Conv
 * pairs (see the file comment), in a few sweeps because a depthwise conv is the
 * second layer of one pair and the first of the next. Weights are replaced by
 * new constants. Returns the number of pairs equalized.
 */
export function equalizeCrossLayer(graph: Graph, activationAbsMax?: (value: string) => Float64Array | undefined, sweeps = 4): number {
  const producers = graph.producers();
  const consumers = graph.consumers();
  const pairs: [Node, Node][] = [];
  for (const second of graph.nodes) {
    if (second.op !== 'DepthwiseConv' && second.op !== 'Conv') continue;
    const x = second.inputs[0]!;
    const first = producers.get(x);
    if (!first || graph.outputs.includes(x) || consumers.get(x)?.length !== 1 || !isScaleEquivariant(first)) continue;
    const conv = (n: Node) => n.op === 'Conv' && attrInt(n, 'group', 1) === 1;
    if (!((conv(first) && second.op === 'DepthwiseConv') || (first.op === 'DepthwiseConv' && conv(second)))) continue;
    const w1 = graph.constant(first.inputs[1]), w2 = graph.constant(second.inputs[1]);
    if (!w1 || !w2 || w1.dtype !== 'float32' || w2.dtype !== 'float32') continue;
    const b1 = first.inputs[2] ? graph.constant(first.inputs[2]) : undefined;
    if (first.inputs[2] && (!b1 || b1.dtype !== 'float32')) continue;
    pairs.push([first, second]);
  }
  if (pairs.length === 0) return 0;
  const weightOf = (n: Node) => graph.constant(n.inputs[1])!;
  const setConstant = (n: Node, k: number, t: Tensor, suffix: string) => {
    const name = graph.uniqueName(`${n.name}/${suffix}`);
    graph.setValue({ name, dtype: 'float32', shape: [...t.shape], constant: t });
    n.inputs = n.inputs.map((v, i) => (i === k ? name : v));
  };
  let equalized = 0;
  // Measured ranges describe the graph before any scaling: one sweep uses each exactly once.
  for (let sweep = 0; sweep < (activationAbsMax ? 1 : sweeps); sweep++) {
    for (const [first, second] of pairs) {
      const w1 = weightOf(first), w2 = weightOf(second);
      // Output channel of the first layer; input channel of the second (the last axis of both OHWI and 1HWO).
      const out: EqualizedSide = { node: first, weight: w1, channelOf: channelAxisIndexer(w1, first.op === 'Conv' ? 0 : w1.rank - 1) };
      const inn: EqualizedSide = { node: second, weight: w2, channelOf: channelAxisIndexer(w2, w2.rank - 1) };
      const channels = w1.shape[first.op === 'Conv' ? 0 : w1.rank - 1]!;
      // A depthwise conv with a channel multiplier spreads channel c over several outputs: no 1:1 pairing.
      if (w2.shape[w2.rank - 1] !== channels) continue;
      const measured = activationAbsMax?.(first.outputs[0]!);
      const activation = measured?.length === channels ? measured : undefined;
      // Conv → depthwise: both layers' weights are int8 per channel, so scaling a channel costs them nothing and
      // only the activation between them matters: its channels are brought to one range. Otherwise the
      // second layer's input columns share a per-output-channel scale, and the balance is the geometric mean.
      const activationOnly = activation !== undefined && second.op === 'DepthwiseConv';
      const r1 = activation ?? channelAbsMax(out, channels), r2 = channelAbsMax(inn, channels);
      let top = 0;
      for (let c = 0; c < channels; c++) top = Math.max(top, r1[c]!);
      const scale = new Float64Array(channels);
      let changed = false;
      for (let c = 0; c < channels; c++) {
        if (!(r1[c]! > 0 && r2[c]! > 0)) scale[c] = 1;
        else scale[c] = activationOnly ? r1[c]! / top : Math.sqrt(r1[c]! / r2[c]!);
        if (Math.abs(scale[c]! - 1) > 1e-3) changed = true;
      }
      if (!changed) continue;
      const d1 = Float32Array.from(w1.data as Float32Array, (v, i) => v / scale[out.channelOf(i)]!);
      const d2 = Float32Array.from(w2.data as Float32Array, (v, i) => v * scale[inn.channelOf(i)]!);
      setConstant(first, 1, new Tensor('float32', w1.shape, d1), 'weight_equalized');
      setConstant(second, 1, new Tensor('float32', w2.shape, d2), 'weight_equalized');
      const b1 = first.inputs[2] ? graph.constant(first.inputs[2]) : undefined;
      if (b1) setConstant(first, 2, new Tensor('float32', b1.shape, Float32Array.from(b1.data as Float32Array, (v, c) => v / scale[c]!)), 'bias_equalized');
      if (sweep === 0) equalized++;
    }
  }
  dropUnusedConstants(graph);
  return equalized;
}

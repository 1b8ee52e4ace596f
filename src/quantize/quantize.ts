/**
 * Post-training static int8 quantization: a calibrated float graph → a graph in
 * TFLite's int8 scheme that the int8 kernels run and the TFLite writer writes.
 *
 *  - Weights of Conv (OHWI, axis 0), DepthwiseConv (1HWO, axis 3),
 *    ConvTranspose (IHWO, axis 3; one group) and FullyConnected ([O, K],
 *    axis 0): symmetric int8 per output channel,
 *    s_w[c] = max|W[c]| / 127, values in [−127, 127]; each weight rounded to
 *    nearest, or with `weightRounding: 'gptq'` on the same grid by GPTQ, which
 *    spreads each rounding error over the weights not yet rounded so that the
 *    layer's output on the calibration data moves least (gptq.ts).
 *  - Their bias: int32 with scale s_x · s_w[c] and zero point 0, so that it adds
 *    straight into the accumulator.
 *  - Activations: asymmetric int8 over the calibrated range, which always
 *    holds 0 so that real 0 (padding, ReLU) is exact: s = (max − min) / 255,
 *    z = round(−128 − min / s).
 *  - Outputs with a fixed quantization in TFLite: Softmax and Sigmoid
 *    1/256 and −128, Tanh 1/128 and 0.
 *  - Values that TFLite requires to share one quantization (the input and
 *    output of pools, of data-movement ops such as Reshape or Transpose, and all
 *    operands of Concat) are grouped with a union-find, and each group takes the
 *    union of its members' ranges.
 *  - A node with no int8 kernel stays float: Dequantize nodes feed it and
 *    Quantize nodes take its outputs back to int8 where int8 nodes read them.
 *    Which nodes can run in int8 is asked of the kernel registry itself, with
 *    the exact dtypes, shapes and quantization they will have, so the fallback
 *    list is what the runtime would refuse, not a guess.
 *
 * Graph inputs and outputs stay float32 by default (a Quantize after each input,
 * a Dequantize before each output, like TFLite's converter), or become int8 with
 * `io: 'int8'`, the form microcontroller deployments want.
 *
 * With `activations: 'int16'` the graph takes TFLite's 16x8 scheme instead:
 * the same int8 weights, activations symmetric int16 (s = max|range| / 32767,
 * zero point 0), biases int64 (scale s_x · s_w[c], below TFLite's 2^47 bound),
 * the int16 fixed output quantizations, and every op without a 16x8 kernel in
 * float. `io: 'int8'` then means int16 inputs and outputs.
 *
 * The input graph should have gone through prepareForQuantization() before it
 * was calibrated; it is not modified.
 */
import {
  CloudlessError, Graph, Tensor, perTensorQuant,
  type Node, type QuantParams, type Value, type ValueInfo,
} from '../ir/index.js';
import { noTfliteInt16Kernel } from '../formats/tflite/writer.js';
import { opTraits, opsWith } from '../ir/ops/traits.js';
import { outputChannelAxis } from '../passes/fold-batchnorm.js';
import { defaultRegistry } from '../runtime/builtins.js';
import type { KernelRegistry } from '../runtime/registry.js';
import type { CalibrationResult, ValueRange } from './calibrate.js';
import { GPTQ_OPS, gptqRoundWeights, type GptqOptions, type WeightHessian } from './gptq.js';
import { activationQuant, biasScaleFloor, constantRange, correctedBias, quantizeBias, quantizeConstant, quantizeWeights } from './params.js';

export interface QuantizeOptions {
  /** Type of the graph's inputs and outputs (default 'float32'); 'int8' is the quantized type (int16 with `activations: 'int16'`). */
  io?: 'float32' | 'int8';
  /** Activation type: 'int8' (TFLite's int8 scheme, default) or 'int16' (its 16x8 scheme: int16 activations, int8 weights, int64 bias). */
  activations?: 'int8' | 'int16';
  /** Node names or op names to keep in float. */
  keepFloat?: readonly string[];
  /**
   * Subtract from each weighted layer's bias the mean error its weight rounding
   * adds, from the calibrated mean of its input (default true; see correctedBias).
   */
  biasCorrection?: boolean;
  /**
   * How weights are rounded onto their per-channel int8 grid: 'nearest'
   * (default) or 'gptq', which needs a calibration made with `weightHessians: true`.
   */
  weightRounding?: 'nearest' | 'gptq';
  /** Settings of 'gptq' rounding (dampening, column order). */
  gptq?: GptqOptions;
  /** Called as 'gptq' rounding finishes each weighted node (done of total), for a progress bar. */
  onWeightsRounded?: (done: number, total: number) => void;
  /**
   * GPTQ-rounded weights kept across quantizeGraph calls on the same graph and
   * the same calibration Hessians (calibration.withMethod keeps them): a node
   * whose int8 grid comes out the same again reuses its rounding instead of
   * running GPTQ a second time. `cloudless quantize --method auto` passes one
   * map to both of its candidates.
   */
  roundedWeights?: Map<string, Tensor>;
  registry?: KernelRegistry;
}

export interface FallbackNode {
  node: string;
  op: string;
  reason: string;
}

export interface QuantizeResult {
  graph: Graph;
  /** Nodes that compute in float in the quantized graph, with the reason. */
  fallback: FallbackNode[];
  /** Nodes that run on int8 kernels (weighted, arithmetic and data-movement ops). */
  int8Nodes: number;
  /** Quantize and Dequantize nodes inserted around float nodes and at the graph's edges. */
  quantizeNodes: number;
  dequantizeNodes: number;
}

/** The ops whose weights are quantized per output channel, along outputChannelAxis (fold-batchnorm.ts). */
export const WEIGHTED_OPS = opsWith((t) => t.weighted);

/** TFLite's fixed output quantization of int8 and of int16 (16x8) ops, [scale, zero point]. */
const FIXED_OUTPUT = fixedOutputs('int8');
const FIXED_OUTPUT_16 = fixedOutputs('int16');

function fixedOutputs(dtype: 'int8' | 'int16'): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const op of opsWith((t) => !!t.fixedOutput?.[dtype])) out[op] = [...opTraits(op).fixedOutput![dtype]!];
  return out;
}

/** Ops whose int8 kernels requantize their output to its own calibrated range. */
const REQUANTIZING = opsWith((t) => t.requantizing);

/** Ops that compute in int8 only over a shared quantization of input 0 and outputs. */
const SHARED_COMPUTE = opsWith((t) => t.sharedQuant);

/**
 * Ops that move raw values: in int8 they are exact when the output keeps the
 * input's quantization, so they run in int8 whenever their input is int8 already.
 */
export const DATA_MOVEMENT = opsWith((t) => t.movement !== undefined);

type Domain = 'int8' | 'float';

/** Union-find over value names; each root may carry a fixed quantization. */
class QuantGroups {
  private readonly parent = new Map<string, string>();
  readonly fixed = new Map<string, QuantParams>();

  find(v: string): string {
    let p = this.parent.get(v) ?? v;
    if (p === v) return v;
    p = this.find(p);
    this.parent.set(v, p);
    return p;
  }

  /** Joins two groups unless they carry different fixed quantizations; returns whether they are one group. */
  union(a: string, b: string): boolean {
    const ra = this.find(a), rb = this.find(b);
    if (ra === rb) return true;
    const fa = this.fixed.get(ra), fb = this.fixed.get(rb);
    if (fa && fb && (fa.scale[0] !== fb.scale[0] || fa.zeroPoint[0] !== fb.zeroPoint[0])) return false;
    this.parent.set(rb, ra);
    if (!fa && fb) this.fixed.set(ra, fb);
    return true;
  }

  fix(v: string, q: QuantParams): void {
    this.fixed.set(this.find(v), q);
  }
}

class Quantizer {
  private readonly registry: KernelRegistry;
  private readonly io: Domain;
  /** The dtype of quantized activations: int8, or int16 in 16x8. */
  private readonly act: 'int8' | 'int16';
  /** The scheme's name in messages. */
  private readonly scheme: 'int8' | '16x8';
  private readonly fixedOutput: Record<string, [number, number]>;
  private readonly forcedFloat = new Map<Node, string>();
  private domain = new Map<string, Domain>();
  private int8 = new Set<Node>();
  private quant = new Map<string, QuantParams>();
  private readonly weights = new Map<string, Tensor>();
  /** Nodes whose weights 'gptq' has rounded (for onWeightsRounded). */
  private readonly rounded = new Set<string>();

  constructor(private readonly src: Graph, private readonly calib: CalibrationResult, private readonly options: QuantizeOptions) {
    this.registry = options.registry ?? defaultRegistry;
    this.io = options.io === 'int8' ? 'int8' : 'float';
    this.act = options.activations === 'int16' ? 'int16' : 'int8';
    this.scheme = this.act === 'int16' ? '16x8' : 'int8';
    this.fixedOutput = this.act === 'int16' ? FIXED_OUTPUT_16 : FIXED_OUTPUT;
    const keep = new Set(options.keepFloat ?? []);
    for (const n of src.nodes) if (keep.has(n.name) || keep.has(n.op)) this.forcedFloat.set(n, 'kept in float by request');
  }

  /** A float32 activation (not a constant) the calibration has seen. */
  private isActivation(name: string): boolean {
    if (this.src.values.get(name)?.constant) return false;
    return this.calib.info(name)?.dtype === 'float32' && this.calib.range(name) !== undefined;
  }

  /** A value of the source graph; intermediate values the importer did not declare are described from calibration. */
  private valueOf(name: string): Value {
    const v = this.src.values.get(name);
    if (v) return v;
    const info = this.calib.info(name);
    if (!info) throw new CloudlessError('E_GRAPH', `${this.src.meta.source ?? this.src.name}: value "${name}" was not seen during calibration`);
    return { name, dtype: info.dtype, shape: [...info.shape] };
  }

  private isFloatConstant(name: string): boolean {
    const v = this.src.values.get(name);
    return v?.constant?.dtype === 'float32';
  }

  run(): QuantizeResult {
    // Decide, check against the registry, and decide again until no node is refused.
    for (;;) {
      this.decide();
      this.assignQuant();
      const refused = this.firstRefused();
      if (!refused) break;
      this.forcedFloat.set(refused.node, refused.reason);
    }
    return this.build();
  }

  /** Which nodes compute in int8, and so which values are int8. */
  private decide(): void {
    this.domain = new Map();
    this.int8 = new Set();
    for (const name of this.src.inputs) if (this.isActivation(name)) this.domain.set(name, this.io);
    for (const node of this.src.nodes) {
      const dataIn = node.inputs.filter((i) => i && this.isActivation(i));
      const outs = node.outputs.filter(Boolean);
      const floatOuts = outs.filter((o) => this.isActivation(o));
      let int8 = false;
      if (dataIn.length > 0 && floatOuts.length === outs.length && !this.forcedFloat.has(node)) {
        if (DATA_MOVEMENT.has(node.op)) int8 = this.domain.get(node.inputs[0]!) === 'int8';
        else int8 = WEIGHTED_OPS.has(node.op) || node.op in this.fixedOutput || REQUANTIZING.has(node.op) || SHARED_COMPUTE.has(node.op);
        if (this.weightedOperandsReason(node)) int8 = false;
        if (int8 && this.act === 'int16' && this.noTfliteInt16(node)) int8 = false;
      }
      if (int8) this.int8.add(node);
      for (const o of floatOuts) this.domain.set(o, int8 ? 'int8' : 'float');
    }
  }

  /**
   * Why TFLite could not run `node` on int16 although a cloudless kernel can
   * (the writer's noTfliteInt16Kernel: HardSwish, and a Clip written as
   * RELU_N1_TO_1 or RELU_0_TO_1).
   */
  private noTfliteInt16(node: Node): string | undefined {
    const bound = (i: number, absent: number) => {
      const t = node.inputs[i] ? this.src.values.get(node.inputs[i]!)?.constant : undefined;
      return t && t.size > 0 ? Number(t.data[0]) : absent;
    };
    return noTfliteInt16Kernel(node.op, bound(1, -Infinity), bound(2, Infinity));
  }

  /** Why a weighted op cannot take int8 weights, or undefined when it can (and for other ops). */
  private weightedOperandsReason(node: Node): string | undefined {
    if (!WEIGHTED_OPS.has(node.op)) return undefined;
    const w = node.inputs[1], b = node.inputs[2];
    if (!w || !this.isFloatConstant(w) || (b && !this.isFloatConstant(b))) return 'weights or bias are not float constants';
    // A grouped ConvTranspose has no per-output-channel axis: it would need one scale per group and channel.
    return outputChannelAxis(node, this.src.value(w).constant!) === undefined ? `grouped ${node.op} has no int8 kernel` : undefined;
  }

  private assignQuant(): void {
    const groups = new QuantGroups();
    for (const node of this.src.nodes) {
      if (!this.int8.has(node)) continue;
      const fixed = this.fixedOutput[node.op];
      if (fixed) groups.fix(node.outputs[0]!, perTensorQuant(fixed[0], fixed[1]));
    }
    for (const node of this.src.nodes) {
      if (!this.int8.has(node)) continue;
      const outs = node.outputs.filter((o) => o && this.isActivation(o));
      if (DATA_MOVEMENT.has(node.op) || SHARED_COMPUTE.has(node.op)) {
        for (const o of outs) groups.union(node.inputs[0]!, o);
      } else if (node.op === 'Concat') {
        // TFLite wants one quantization for all operands; when two differ by a fixed quantization the kernel requantizes.
        for (const i of node.inputs) if (i && this.isActivation(i)) groups.union(outs[0]!, i);
      }
    }
    const ranges = new Map<string, ValueRange>();
    const names = new Set<string>();
    for (const name of this.calib.infos.keys()) if (this.isActivation(name)) names.add(name);
    const saturating = this.saturatingDomains();
    for (const name of names) {
      const root = groups.find(name);
      const r = this.calib.range(name)!;
      const domain = saturating.get(name);
      if (domain) { r.min = Math.max(r.min, -domain); r.max = Math.min(r.max, domain); }
      const g = ranges.get(root);
      ranges.set(root, g ? { min: Math.min(g.min, r.min), max: Math.max(g.max, r.max) } : { ...r });
    }
    this.quant = new Map();
    const byRoot = new Map<string, QuantParams>();
    for (const name of names) {
      const root = groups.find(name);
      let q = byRoot.get(root);
      if (!q) byRoot.set(root, (q = groups.fixed.get(root) ?? activationQuant(ranges.get(root)!, this.act)));
      this.quant.set(name, q);
    }
  }

  /**
   * Values read only by int8 Sigmoid or Tanh nodes (and not graph outputs),
   * with the input magnitude past which the op's fixed output quantization is
   * saturated: Sigmoid's output (1/256, −128) is −128 below −ln 511 ≈ −6.24 and
   * 127 above +6.24, Tanh's (1/128, 0) is ±128 → clamped past ±3.1. Clamping
   * such a value's range there (with margin: ±8, ±4.5) changes no output and
   * keeps its resolution where it matters: a detector's logits calibrated over
   * [−2000, 10] would otherwise leave Sigmoid a step of 8.
   */
  private saturatingDomains(): Map<string, number> {
    // int16 outputs (1/32768) saturate later: Sigmoid past ±ln 65535 ≈ 11.1, Tanh past ±5.5.
    const DOMAIN: Record<string, number> = this.act === 'int16' ? { Sigmoid: 12, Tanh: 6 } : { Sigmoid: 8, Tanh: 4.5 };
    const out = new Map<string, number>();
    for (const [name, nodes] of this.src.consumers()) {
      if (this.src.outputs.includes(name)) continue;
      const d = nodes.map((n) => (this.int8.has(n) && n.inputs[0] === name ? DOMAIN[n.op] : undefined));
      if (d.every((v) => v !== undefined)) out.set(name, Math.max(...(d as number[])));
    }
    return out;
  }

  /** The value info an input of an int8 node will have. */
  private int8InputInfo(node: Node, i: number): ValueInfo | undefined {
    const name = node.inputs[i];
    if (!name) return undefined;
    const v = this.valueOf(name);
    if (this.isActivation(name)) return { dtype: this.act, shape: this.shapeOf(name), quant: this.quant.get(name) };
    if (v.constant && this.isFloatConstant(name)) {
      const t = this.int8Constant(node, i);
      return { dtype: t.dtype, shape: [...t.shape], quant: t.quant };
    }
    return { dtype: v.dtype, shape: this.shapeOf(name) };
  }

  private shapeOf(name: string): number[] {
    const calibrated = this.calib.info(name);
    if (calibrated) return [...calibrated.shape];
    const v = this.valueOf(name);
    if (v.constant) return [...v.constant.shape];
    if (v.shape && v.shape.every((d): d is number => typeof d === 'number' && d >= 0)) return v.shape;
    throw new CloudlessError('E_SHAPE', `${this.src.meta.source ?? this.src.name}: the shape of "${name}" is unknown to the quantizer`, {
      hint: 'calibration records the shapes of activations; pass concrete input shapes',
    });
  }

  /** The int8 (or int32 bias, or kept float) form of constant input i of an int8 node. */
  private int8Constant(node: Node, i: number): Tensor {
    const t = this.src.value(node.inputs[i]!).constant!;
    const weighted = WEIGHTED_OPS.has(node.op);
    if (weighted && i === 1) return this.weightOf(node);
    if (weighted && i === 2) {
      const w = this.weightOf(node);
      const bias = this.options.biasCorrection === false ? t : correctedBias(node, t, this.src.value(node.inputs[1]!).constant!, w, this.calib.channelMean(node.inputs[0]!));
      return quantizeBias(bias, this.quant.get(node.inputs[0]!)!.scale[0]!, w.quant!.scale, this.act === 'int16' ? 'int64' : 'int32');
    }
    // Clip's bounds stay real numbers: the int8 kernel quantizes them with the output's parameters.
    if (node.op === 'Clip') return t;
    // Resize's roi and scales are coordinates, not data.
    if (node.op === 'Resize') return t;
    const out = node.outputs[0]!;
    const shared = node.op === 'Concat' || node.op === 'Pad';
    return quantizeConstant(t, shared && this.quant.has(out) ? this.quant.get(out)! : activationQuant(constantRange(t), this.act), this.act);
  }

  private weightOf(node: Node): Tensor {
    const name = node.inputs[1]!;
    const w = this.src.value(name).constant!;
    const axis = outputChannelAxis(node, w)!;
    const bias = node.inputs[2] ? this.src.value(node.inputs[2]).constant : undefined;
    // With a bias the scales depend on the node's input scale too (which may change while run() decides).
    const inputScale = this.quant.get(node.inputs[0]!)!.scale[0]!;
    const gptq = this.options.weightRounding === 'gptq';
    // GPTQ fits the weights to one node's inputs, so a weight shared by two nodes is rounded for each.
    const key = `${name}|${axis}${bias ? `|${node.inputs[2]}|${inputScale}` : ''}${gptq ? `|${node.name}` : ''}`;
    let q = this.weights.get(key);
    if (!q) {
      const floor = bias ? biasScaleFloor(bias, inputScale, w.shape[axis]!, this.act === 'int16' ? 48 : 32) : undefined;
      q = quantizeWeights(w, axis, floor);
      if (gptq && GPTQ_OPS.has(node.op)) {
        // GPTQ's result depends on the node, its weights, their grid and the Hessian, not on the calibration method.
        const shared = this.options.roundedWeights;
        const roundedKey = `${node.name}|${name}|${axis}|${JSON.stringify(this.options.gptq ?? {})}|${q.quant!.scale.join(',')}`;
        const known = shared?.get(roundedKey);
        q = known ?? gptqRoundWeights(node.op, w, q, this.hessianOf(node), this.options.gptq);
        shared?.set(roundedKey, q);
        this.rounded.add(node.name);
        this.options.onWeightsRounded?.(this.rounded.size, this.calib.hessians.size);
      }
      this.weights.set(key, q);
    }
    return q;
  }

  private hessianOf(node: Node): WeightHessian {
    const h = this.calib.hessians.get(node.name);
    if (!h) {
      throw new CloudlessError('E_CONFIG', `weightRounding 'gptq': the calibration holds no input Hessian for node ${node.name} (${node.op})`, {
        node: node.name, hint: 'calibrate with { weightHessians: true }',
      });
    }
    return h;
  }

  private firstRefused(): { node: Node; reason: string } | undefined {
    for (const node of this.src.nodes) {
      if (!this.int8.has(node)) continue;
      const inputs = node.inputs.map((_, i) => this.int8InputInfo(node, i));
      const outputs = node.outputs.map((o) => (this.isActivation(o)
        ? { dtype: this.act, shape: this.shapeOf(o), quant: this.quant.get(o) }
        : { dtype: this.valueOf(o).dtype, shape: this.shapeOf(o) }));
      const found = this.registry.find(['ref'], node, inputs, outputs);
      if (!('kernel' in found)) return { node, reason: `no ${this.scheme} kernel fits: ${found.reasons.filter((r) => !r.includes('kernel takes')).join('; ') || found.reasons.join('; ')}` };
    }
    return undefined;
  }

  private build(): QuantizeResult {
    const src = this.src;
    const g = new Graph(src.name, { ...src.meta, format: src.meta.format, warnings: [...(src.meta.warnings ?? [])] });
    const versions = new Map<string, Partial<Record<Domain, string>>>();
    let quantizeNodes = 0, dequantizeNodes = 0;
    const taken = new Set<string>(src.values.keys());
    const fresh = (base: string): string => {
      let name = base;
      for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
      taken.add(name);
      return name;
    };
    const declare = (name: string, domain: Domain, original: string): void => {
      if (domain === 'int8') g.setValue({ name, dtype: this.act, shape: this.shapeOf(original), quant: this.quant.get(original) });
      else g.setValue({ name, dtype: 'float32', shape: this.valueOf(original).shape ?? this.shapeOf(original) });
    };

    // Graph inputs and outputs keep their names in the io domain; the other form of each gets a derived name.
    for (const name of src.inputs) {
      if (!this.isActivation(name)) { g.setValue(this.valueOf(name)); continue; }
      versions.set(name, { [this.io]: name });
      declare(name, this.io, name);
    }
    for (const name of src.outputs) {
      if (!this.isActivation(name) || src.inputs.includes(name)) continue;
      const natural = this.domain.get(name)!;
      versions.set(name, natural === this.io ? { [natural]: name } : { [this.io]: name, [natural]: fresh(`${name}/${natural}`) });
    }

    const convert = (name: string, want: Domain): string => {
      let vs = versions.get(name);
      if (!vs) versions.set(name, (vs = {}));
      const have = vs[want];
      if (have && g.values.has(have)) return have;
      const from = want === 'int8' ? 'float' : 'int8';
      const fromName = vs[from];
      if (!fromName || !g.values.has(fromName)) {
        throw new CloudlessError('E_INTERNAL', `quantizer: value "${name}" is read before it is defined`);
      }
      const target = have ?? fresh(`${name}/${want === 'int8' ? 'quantized' : 'dequantized'}`);
      vs[want] = target;
      declare(target, want, name);
      if (want === 'int8') {
        g.addNode({ name: fresh(`${name}/quantize`), op: 'Quantize', inputs: [fromName], outputs: [target], attrs: { to: this.act } });
        quantizeNodes++;
      } else {
        g.addNode({ name: fresh(`${name}/dequantize`), op: 'Dequantize', inputs: [fromName], outputs: [target], attrs: {} });
        dequantizeNodes++;
      }
      return target;
    };

    const constants = new Map<string, string>();
    const useConstant = (name: string): string => {
      if (!g.values.has(name)) g.setValue(this.valueOf(name));
      return name;
    };

    for (const node of src.nodes) {
      const int8 = this.int8.has(node);
      const want: Domain = int8 ? 'int8' : 'float';
      const inputs = node.inputs.map((name, i) => {
        if (!name) return name;
        if (this.isActivation(name)) return convert(name, want);
        if (int8 && this.isFloatConstant(name)) {
          const t = this.int8Constant(node, i);
          if (t.dtype === 'float32') return useConstant(name);
          const key = `${name}|${node.name}|${i}`;
          let qn = constants.get(key);
          if (!qn) {
            qn = fresh(`${name}/${t.dtype}`);
            g.setValue({ name: qn, dtype: t.dtype, shape: [...t.shape], constant: t, quant: t.quant });
            constants.set(key, qn);
          }
          return qn;
        }
        const v = this.valueOf(name);
        if (v.constant) return useConstant(name);
        // A non-float activation (shape, index or mask tensor) carries over as it is.
        if (!g.values.has(name)) g.setValue(v);
        return name;
      });
      const outputs = node.outputs.map((o) => {
        if (!o) return o;
        if (!this.isActivation(o)) { g.setValue(this.valueOf(o)); return o; }
        let vs = versions.get(o);
        if (!vs) versions.set(o, (vs = { [want]: o }));
        const target = vs[want] ?? o;
        vs[want] = target;
        declare(target, want, o);
        return target;
      });
      g.addNode({ ...node, inputs, outputs, attrs: { ...node.attrs } });
    }

    for (const name of src.outputs) {
      if (this.isActivation(name)) convert(name, this.io);
      else if (!g.values.has(name)) g.setValue(this.valueOf(name));
    }
    g.inputs = [...src.inputs];
    g.outputs = [...src.outputs];
    g.sortTopologically();

    const fallback: FallbackNode[] = [];
    for (const node of src.nodes) {
      if (this.int8.has(node) || (DATA_MOVEMENT.has(node.op) && !this.forcedFloat.has(node))) continue;
      if (!node.inputs.some((i) => i && this.isActivation(i))) continue;
      const reason = this.forcedFloat.get(node) ?? this.weightedOperandsReason(node) ?? (this.act === 'int16' ? this.noTfliteInt16(node) : undefined)
        ?? `no ${this.scheme} kernel for ${node.op}`;
      fallback.push({ node: node.name, op: node.op, reason });
    }
    return { graph: g, fallback, int8Nodes: this.int8.size, quantizeNodes, dequantizeNodes };
  }
}

/** Quantizes a calibrated float graph (see the file comment); the input graph is not modified. */
export function quantizeGraph(graph: Graph, calibration: CalibrationResult, options: QuantizeOptions = {}): QuantizeResult {
  return new Quantizer(graph, calibration, options).run();
}

/**
 * Randomized single-op int8 graphs in canonical form, for the int8 oracle
 * tests: LiteRT.js vs cloudless (test/oracle/int8-litert.test.ts) and the two
 * arithmetics against each other (test/kernels/ref/int8/modes.test.ts).
 *
 * Each case comes from a seed and a "flavour":
 * - `random`: scales drawn log-uniformly, zero points anywhere, full-range data;
 * - `tie`: every scale a power of two, chosen so that the real requantization
 *   factor is exactly 2^-k with small k, and data narrow enough that the
 *   outputs stay in range: about 1 in 2^k accumulators lands exactly on .5;
 * - `near`: like `tie`, with the output scale nudged by a few float32 ulps
 *   (2^-23 … 2^-14 relative), so that acc·m falls just beside .5 and the
 *   exact multiplier and its rounding decide (INT8.md: how ties were built).
 */
import { Graph, Tensor, perTensorQuant, type AttrValue, type QuantParams } from '../../src/ir/index.js';

export type Flavour = 'random' | 'tie' | 'near';

export interface Int8Case {
  name: string;
  op: string;
  graph: Graph;
  feeds: Record<string, Tensor>;
}

/** A small deterministic generator (LCG): the seed comes from fast-check, so failures shrink and replay. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

class Draw {
  constructor(readonly r: () => number, readonly flavour: Flavour) {}
  int(lo: number, hi: number): number { return lo + Math.floor(this.r() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.r() * xs.length)]!; }
  /** A float32 scale 2^u with u uniform in [lo, hi). */
  logScale(lo: number, hi: number): number { return Math.fround(2 ** (lo + this.r() * (hi - lo))); }
  /** A power-of-two scale (exact in float32) for the tie flavours, else a log-uniform one. */
  scale(e: number, spread = 1.5): number {
    return this.flavour === 'random' ? this.logScale(e - spread, e + spread) : 2 ** e;
  }
  /** Relative nudge of the output scale in the `near` flavour (1 in tie/random). */
  nudge(): number {
    if (this.flavour !== 'near') return 1;
    return 1 + this.pick([-1, 1]) * this.int(1, 8) * 2 ** -this.int(14, 23);
  }
  zeroPoint(range = 128): number { return this.int(Math.max(-128, -range), Math.min(127, range - 1)); }
  /** int8 data around the zero point: full range in `random`, ±spread otherwise. */
  data(n: number, zp: number, spread = 8): Int8Array {
    const out = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.flavour === 'random' ? this.int(-128, 127) : Math.max(-128, Math.min(127, zp + this.int(-spread, spread)));
    }
    return out;
  }
  weights(n: number, spread: number): Int8Array {
    const lim = this.flavour === 'random' ? 127 : spread;
    return Int8Array.from({ length: n }, () => this.int(-lim, lim));
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Builds a one-node graph: `inputs` are fed (int8), `consts` are weights. */
class CaseBuilder {
  readonly graph: Graph;
  readonly feeds: Record<string, Tensor> = {};
  constructor(name: string) { this.graph = new Graph(name, { format: 'cloudless' }); }

  input(name: string, shape: number[], q: QuantParams, data: Int8Array): string {
    this.graph.setValue({ name, dtype: 'int8', shape, quant: q });
    this.graph.inputs.push(name);
    this.feeds[name] = new Tensor('int8', shape, data, q);
    return name;
  }

  constant(name: string, t: Tensor): string {
    this.graph.setValue({ name, dtype: t.dtype, shape: [...t.shape], constant: t, quant: t.quant });
    return name;
  }

  node(op: string, inputs: string[], outQuant: QuantParams, attrs: Record<string, AttrValue> = {}): void {
    this.graph.setValue({ name: 'y', dtype: 'int8', quant: outQuant });
    this.graph.addNode({ name: `${op.toLowerCase()}_0`, op, inputs, outputs: ['y'], attrs });
    this.graph.outputs = ['y'];
  }
}

const ACTIVATIONS = ['none', 'relu', 'relu6', 'relu_n1_to_1'] as const;

/**
 * Scales for a weighted op: s_x, per-channel s_w, s_y. In the tie flavours
 * s_x·s_w[c]/s_y = 2^-k_c exactly (k_c in 1..3, times the nudge); in `random`
 * s_y is set so that a typical accumulator of `taps` products maps to a few
 * tens of LSB.
 */
function weightedScales(d: Draw, channels: number, taps: number, big: boolean): { sx: number; sw: Float32Array; sy: number } {
  if (d.flavour === 'random') {
    const sx = d.logScale(-8, -3);
    const sw = Float32Array.from({ length: channels }, () => d.logScale(-9, -5));
    const typicalAcc = big ? 2 ** 25 : 5400 * Math.sqrt(taps);
    const m = d.logScale(-1.5, 1.5) * (30 / typicalAcc);
    return { sx, sw, sy: Math.fround((sx * sw[0]!) / m) };
  }
  const ex = -d.int(3, 8), ey = -d.int(2, 6);
  const sw = Float32Array.from({ length: channels }, () => 2 ** (ey - ex - d.int(1, 3)));
  return { sx: 2 ** ex, sw, sy: Math.fround(2 ** ey * d.nudge()) };
}

/**
 * An int32 bias of `channels` values with scale s_x·s_w (one scale per weight
 * scale). `big` biases of 2^24…2^26 push |acc| past 2^24, where converting the
 * accumulator to float32 rounds (XNNPACK's epilogue does that conversion).
 */
function biasTensor(d: Draw, sx: number, sw: Float32Array, channels: number, big: boolean): Tensor {
  const q: QuantParams = { scale: Float32Array.from(sw, (s) => Math.fround(sx * s)), zeroPoint: new Int32Array(sw.length) };
  if (sw.length > 1) q.axis = 0;
  const lim = d.flavour === 'random' ? 2000 : 50;
  const value = () => (big ? d.pick([-1, 1]) * d.int(2 ** 24, 2 ** 26) : d.int(-lim, lim));
  return new Tensor('int32', [channels], Int32Array.from({ length: channels }, value), q);
}

function weightQuant(sw: Float32Array, axis: number): QuantParams {
  return sw.length > 1 ? { scale: sw, zeroPoint: new Int32Array(sw.length), axis } : { scale: sw, zeroPoint: new Int32Array(1) };
}

function convCase(d: Draw, depthwise: boolean): CaseBuilder {
  const h = d.int(3, 9), w = d.int(3, 9);
  const k = [d.int(1, 3), d.int(1, 3)];
  const dil = [d.pick([1, 1, 2]), d.pick([1, 1, 2])];
  const strides = [d.int(1, 2), d.int(1, 2)];
  const pad = d.pick(['SAME_UPPER', 'VALID']);
  // VALID needs the dilated kernel to fit.
  if (pad === 'VALID') for (let i = 0; i < 2; i++) while ((k[i]! - 1) * dil[i]! + 1 > [h, w][i]!) { dil[i] = 1; k[i] = k[i]! - 1; }
  const cin = d.int(1, 6);
  const mult = depthwise ? d.int(1, 2) : 1;
  const cout = depthwise ? cin * mult : d.int(1, 7);
  const perChannel = d.r() < 0.75;
  const taps = k[0]! * k[1]! * (depthwise ? 1 : cin);
  const big = d.flavour === 'random' && d.r() < 0.2;
  const s = weightedScales(d, perChannel ? cout : 1, taps, big);
  const sw = perChannel ? s.sw : Float32Array.of(s.sw[0]!);
  const zx = d.zeroPoint(), zy = d.zeroPoint(40);
  const act = d.pick(ACTIVATIONS);
  const b = new CaseBuilder(`${depthwise ? 'DepthwiseConv' : 'Conv'} ${h}x${w}x${cin}→${cout} k${k} s${strides} d${dil} ${pad} ${act} ${perChannel ? 'per-channel' : 'per-tensor'}${big ? ' |acc|>2^24' : ''} ${d.flavour}`);
  const x = b.input('x', [1, h, w, cin], perTensorQuant(s.sx, zx), d.data(h * w * cin, zx, 6));
  const wShape = depthwise ? [1, k[0]!, k[1]!, cout] : [cout, k[0]!, k[1]!, cin];
  const wt = b.constant('w', new Tensor('int8', wShape, d.weights(size(wShape), 6), weightQuant(sw, depthwise ? 3 : 0)));
  const bias = b.constant('b', biasTensor(d, s.sx, sw, cout, big));
  b.node(depthwise ? 'DepthwiseConv' : 'Conv', [x, wt, bias], perTensorQuant(s.sy, zy), {
    strides, dilations: dil, auto_pad: pad, activation: act,
  });
  return b;
}

/**
 * ConvTranspose in the forms TFLite's TRANSPOSE_CONV expresses: VALID, SAME,
 * and explicit pads (a crop of the full output, written with a STRIDED_SLICE).
 * IHWO weights quantized along O.
 */
function convTransposeCase(d: Draw): CaseBuilder {
  const h = d.int(1, 6), w = d.int(1, 6);
  const k = [d.int(1, 4), d.int(1, 4)];
  const strides = [d.int(1, 3), d.int(1, 3)];
  // ONNX's SAME_UPPER with a kernel smaller than the stride pads negatively, which TRANSPOSE_CONV cannot write.
  const form = d.pick(k[0]! >= strides[0]! && k[1]! >= strides[1]! ? ['VALID', 'SAME_UPPER', 'pads'] as const : ['VALID', 'pads'] as const);
  const attrs: Record<string, AttrValue> = { strides, activation: d.pick(ACTIVATIONS) };
  if (form === 'pads') {
    // Each side at most k − 1 and leaving at least one output pixel.
    const p = [0, 1].map((i) => d.int(0, Math.min(k[i]! - 1, Math.floor((strides[i]! * ([h, w][i]! - 1) + k[i]! - 1) / 2))));
    attrs.pads = [p[0]!, p[1]!, p[0]!, p[1]!];
  } else {
    attrs.auto_pad = form;
  }
  const cin = d.int(1, 6), cout = d.int(1, 7);
  const perChannel = d.r() < 0.75;
  const taps = Math.ceil(k[0]! / strides[0]!) * Math.ceil(k[1]! / strides[1]!) * cin;
  const big = d.flavour === 'random' && d.r() < 0.2;
  const s = weightedScales(d, perChannel ? cout : 1, taps, big);
  const sw = perChannel ? s.sw : Float32Array.of(s.sw[0]!);
  const zx = d.zeroPoint(), zy = d.zeroPoint(40);
  const b = new CaseBuilder(`ConvTranspose ${h}x${w}x${cin}→${cout} k${k} s${strides} ${form === 'pads' ? `pads ${attrs.pads}` : form} ${attrs.activation} ${perChannel ? 'per-channel' : 'per-tensor'}${big ? ' |acc|>2^24' : ''} ${d.flavour}`);
  const x = b.input('x', [1, h, w, cin], perTensorQuant(s.sx, zx), d.data(h * w * cin, zx, 6));
  const wShape = [cin, k[0]!, k[1]!, cout];
  const wt = b.constant('w', new Tensor('int8', wShape, d.weights(size(wShape), 6), weightQuant(sw, 3)));
  const bias = b.constant('b', biasTensor(d, s.sx, sw, cout, big));
  b.node('ConvTranspose', [x, wt, bias], perTensorQuant(s.sy, zy), attrs);
  return b;
}

function fullyConnectedCase(d: Draw): CaseBuilder {
  const rows = d.int(1, 3), kk = d.int(1, 40), o = d.int(1, 9);
  const big = d.flavour === 'random' && d.r() < 0.2;
  const s = weightedScales(d, 1, kk, big);
  const zx = d.zeroPoint(), zy = d.zeroPoint(40);
  const act = d.pick(ACTIVATIONS);
  const b = new CaseBuilder(`FullyConnected ${rows}x${kk}→${o} ${act}${big ? ' |acc|>2^24' : ''} ${d.flavour}`);
  const x = b.input('x', [rows, kk], perTensorQuant(s.sx, zx), d.data(rows * kk, zx, 6));
  const w = b.constant('w', new Tensor('int8', [o, kk], d.weights(o * kk, 6), weightQuant(s.sw, 0)));
  const bias = b.constant('b', biasTensor(d, s.sx, s.sw, o, big));
  b.node('FullyConnected', [x, w, bias], perTensorQuant(s.sy, zy), { activation: act });
  return b;
}

/** Broadcast shape pairs TFLite's int8 binary kernels take (rank 4, NHWC). */
function binaryShapes(d: Draw): [number[], number[]] {
  const h = d.int(1, 5), w = d.int(1, 5), c = d.int(1, 9);
  return d.pick<[number[], number[]]>([
    [[1, h, w, c], [1, h, w, c]],
    [[1, h, w, c], [1, 1, 1, c]],
    [[1, h, w, c], [1, h, 1, 1]],
    [[1, 1, w, c], [1, h, 1, c]],
    [[1, h, w, c], [1, 1, 1, 1]],
  ]);
}

function binaryCase(d: Draw, op: 'Add' | 'Sub' | 'Mul'): CaseBuilder {
  const [sa, sb] = binaryShapes(d);
  const za = d.zeroPoint(), zb = d.zeroPoint(), zy = d.zeroPoint(40);
  let qa: number, qb: number, qy: number;
  if (d.flavour === 'random') {
    qa = d.logScale(-8, -2); qb = d.logScale(-8, -2);
    qy = op === 'Mul' ? Math.fround(qa * qb * 128 * d.logScale(-1, 1)) : Math.fround(Math.max(qa, qb) * d.logScale(-1, 2));
    // One case in five leaves XNNPACK's factor range (ADD: s_b/s_y < 2^-10; MUL: s_a·s_b/s_y < 2^-16),
    // where TFLite runs its integer kernel instead.
    if (d.r() < 0.2) {
      if (op === 'Mul') qy = Math.fround(qa * qb * 2 ** 16 * d.logScale(0.01, 1));
      else qb = Math.fround(qy * 2 ** -(10.01 + 2 * d.r()));
    }
  } else {
    const ea = -d.int(3, 8), eb = -d.int(3, 8);
    qa = 2 ** ea; qb = 2 ** eb;
    // Ties: the rescaled sum or product is a multiple of 2^-k (k ≥ 1) of the output LSB.
    qy = Math.fround((op === 'Mul' ? 2 ** (ea + eb + d.int(1, 3)) : 2 ** (Math.max(ea, eb) + d.int(1, 2))) * d.nudge());
  }
  const act = d.pick(ACTIVATIONS);
  const b = new CaseBuilder(`${op} [${sa}] [${sb}] ${act} ${d.flavour}`);
  const a = b.input('a', sa, perTensorQuant(qa, za), d.data(size(sa), za, op === 'Mul' ? 12 : 30));
  const bb = b.input('b', sb, perTensorQuant(qb, zb), d.data(size(sb), zb, op === 'Mul' ? 12 : 30));
  b.node(op, [a, bb], perTensorQuant(qy, zy), { activation: act });
  return b;
}

function poolCase(d: Draw, op: 'AveragePool' | 'MaxPool'): CaseBuilder {
  const h = d.int(2, 8), w = d.int(2, 8), c = d.int(1, 6);
  const k = [d.int(1, Math.min(3, h)), d.int(1, Math.min(3, w))];
  const strides = [d.int(1, 2), d.int(1, 2)];
  const pad = d.pick(['SAME_UPPER', 'VALID']);
  const q = perTensorQuant(d.logScale(-8, -2), d.zeroPoint());
  const act = d.pick(ACTIVATIONS);
  const b = new CaseBuilder(`${op} ${h}x${w}x${c} k${k} s${strides} ${pad} ${act} ${d.flavour}`);
  const x = b.input('x', [1, h, w, c], q, d.data(h * w * c, q.zeroPoint[0]!, 5));
  b.node(op, [x], q, { kernel_shape: k, strides, auto_pad: pad, activation: act });
  return b;
}

function meanCase(d: Draw): CaseBuilder {
  const h = d.int(1, 7), w = d.int(1, 7), c = d.int(1, 5);
  const sx = d.flavour === 'random' ? d.logScale(-8, -2) : 2 ** -d.int(3, 7);
  const n = h * w;
  // Ties when s_x/s_y · 1/N is a power of two: N a power of two with equal scales, say.
  const sy = d.flavour === 'random' ? Math.fround(sx * d.logScale(-1.5, 1)) : Math.fround(sx * 2 ** -d.int(-1, 1) * d.nudge());
  const zx = d.zeroPoint(), zy = d.zeroPoint(40);
  const b = new CaseBuilder(`ReduceMean HW ${h}x${w}x${c} (N=${n}) ${d.flavour}`);
  const x = b.input('x', [1, h, w, c], perTensorQuant(sx, zx), d.data(n * c, zx, 20));
  const axes = b.constant('axes', new Tensor('int64', [2], BigInt64Array.of(1n, 2n)));
  b.node('ReduceMean', [x, axes], perTensorQuant(sy, zy), { keepdims: 1 });
  return b;
}

function unaryCase(d: Draw, op: 'Softmax' | 'Sigmoid' | 'Tanh' | 'HardSwish' | 'LeakyRelu'): CaseBuilder {
  const shape = d.pick([[1, d.int(1, 12)], [1, d.int(1, 4), d.int(1, 4), d.int(1, 10)]]);
  const sx = d.flavour === 'random' ? d.logScale(-7, -1) : 2 ** -d.int(2, 6);
  const zx = d.zeroPoint();
  let yq: QuantParams;
  const attrs: Record<string, AttrValue> = {};
  if (op === 'Softmax' || op === 'Sigmoid') yq = perTensorQuant(1 / 256, -128);
  else if (op === 'Tanh') yq = perTensorQuant(1 / 128, 0);
  else {
    const sy = d.flavour === 'random' ? Math.fround(sx * d.logScale(-1, 1)) : Math.fround(sx * 2 ** d.int(-1, 1) * d.nudge());
    yq = perTensorQuant(sy, d.zeroPoint(40));
    // Tiny and negative slopes fall outside XNNPACK's range (TFLite's integer kernel runs instead).
    if (op === 'LeakyRelu') attrs.alpha = d.flavour === 'random' ? d.pick([Math.fround(d.r() * 0.5), 0.001, -0.3]) : d.pick([0.5, 0.25, 0.125, 0.001]);
  }
  const b = new CaseBuilder(`${op} [${shape}] ${d.flavour}`);
  // Unary ops see every int8 value often enough in full-range data; keep it in all flavours.
  const data = new Int8Array(size(shape)).map(() => d.int(-128, 127));
  const x = b.input('x', shape, perTensorQuant(sx, zx), data);
  b.node(op, [x], yq, attrs);
  return b;
}

/**
 * Concat along channels. TFLite's int8 spec wants every input quantized like
 * the output (`shared`); `mixed` gives most inputs their own scale and zero
 * point, which TFLite's kernels requantize (ConcatenationWithScaling) but
 * XNNPACK cannot take.
 */
function concatCase(d: Draw, mixed: boolean): CaseBuilder {
  const h = d.int(1, 4), w = d.int(1, 4);
  const count = d.int(2, 3);
  const yq = perTensorQuant(d.logScale(-7, -3), d.zeroPoint(40));
  const b = new CaseBuilder(`Concat x${count} ${mixed ? 'mixed' : 'shared'} quantization ${d.flavour}`);
  const names = Array.from({ length: count }, (_, i) => {
    const c = d.int(1, 5);
    const own = mixed && (i === 0 || d.r() < 0.67);
    const q = own ? perTensorQuant(d.flavour === 'random' ? d.logScale(-8, -2) : Math.fround(yq.scale[0]! * 2 ** d.int(-2, 2) * d.nudge()), d.zeroPoint()) : yq;
    return b.input(`x${i}`, [1, h, w, c], q, d.data(h * w * c, q.zeroPoint[0]!, 60));
  });
  b.node('Concat', names, yq, { axis: 3 });
  return b;
}

function padCase(d: Draw): CaseBuilder {
  const h = d.int(1, 5), w = d.int(1, 5), c = d.int(1, 4);
  const q = perTensorQuant(d.logScale(-8, -2), d.zeroPoint());
  const pads = [0, d.int(0, 2), d.int(0, 2), 0, 0, d.int(0, 2), d.int(0, 2), 0];
  const b = new CaseBuilder(`Pad ${h}x${w}x${c} [${pads}] ${d.flavour}`);
  const x = b.input('x', [1, h, w, c], q, d.data(h * w * c, q.zeroPoint[0]!, 60));
  const p = b.constant('pads', new Tensor('int64', [8], BigInt64Array.from(pads.map(BigInt))));
  b.node('Pad', [x, p], q);
  return b;
}

export const INT8_CASE_OPS = [
  'Conv', 'DepthwiseConv', 'ConvTranspose', 'FullyConnected', 'Add', 'Sub', 'Mul', 'AveragePool', 'MaxPool', 'ReduceMean',
  'Softmax', 'Sigmoid', 'Tanh', 'HardSwish', 'LeakyRelu', 'Concat', 'ConcatMixed', 'Pad',
] as const;
export type Int8CaseOp = typeof INT8_CASE_OPS[number];

export function int8Case(op: Int8CaseOp, seed: number, flavour: Flavour): Int8Case {
  const d = new Draw(lcg(seed), flavour);
  let b: CaseBuilder;
  switch (op) {
    case 'Conv': b = convCase(d, false); break;
    case 'DepthwiseConv': b = convCase(d, true); break;
    case 'ConvTranspose': b = convTransposeCase(d); break;
    case 'FullyConnected': b = fullyConnectedCase(d); break;
    case 'Add': case 'Sub': case 'Mul': b = binaryCase(d, op); break;
    case 'AveragePool': case 'MaxPool': b = poolCase(d, op); break;
    case 'ReduceMean': b = meanCase(d); break;
    case 'Concat': case 'ConcatMixed': b = concatCase(d, op === 'ConcatMixed'); break;
    case 'Pad': b = padCase(d); break;
    default: b = unaryCase(d, op);
  }
  return { name: `${b.graph.name} (seed ${seed})`, op, graph: b.graph, feeds: b.feeds };
}

/**
 * One planned step → one C call. Each emitter reads the prepared state of the
 * reference kernel the engine chose for the node (the multipliers, shifts,
 * zero points and clipped windows computed by src/kernels/ref), so the
 * constants folded into the C are the engine's own, and writes a `static
 * const` params struct and the call of a cl_* kernel of c-kernels.ts.
 *
 * A node without an emitter here is refused by name (never C that does not
 * compile): `emitterFor` answers why.
 */
import { CloudlessError, type Node, type Tensor } from '../ir/index.js';
import type { Geometry3 } from '../ir/window.js';
import { type QuantizedMultiplier, quantizeMultiplier, xnnpackConvertMultiplier } from '../ir/quant-math.js';
import type { PlanStep } from '../runtime/plan.js';
import { floatLiteral, intLiteral } from './c-data.js';
import { C_MAX_RANK, REQUANTIZE_PAIRS, STRIDED_TYPES } from './c-kernels.js';
import { SIGNAL_EMITTERS } from './emit-signal.js';

/** What an emitter can ask of the graph emitter. */
export interface EmitContext {
  /** A C expression for the data pointer of input/output tensor `t` of the step (arena slot or constant array). */
  pointer(t: Tensor | undefined, mutable: boolean): string;
  /** Declares a `static const` int32 array and returns its name. */
  int32Table(hint: string, values: ArrayLike<number>): string;
  /** Declares a `static const` float array and returns its name. */
  floatTable(hint: string, values: ArrayLike<number>): string;
  /** Declares a `static const` int16 array and returns its name. */
  int16Table(hint: string, values: Int16Array): string;
  /** Declares a `static const` int8 array and returns its name. */
  int8Table(hint: string, values: Int8Array): string;
  /** A unique C identifier for this node's params. */
  paramsName: string;
  /** Whether `t` is a constant (not in the arena). */
  isConstant(t: Tensor): boolean;
  arithmetic: 'tflite-reference' | 'tflite-xnnpack';
  /** Declares zero-initialized mutable storage carried across invokes (reset by `<name>_reset()`); returns its name. */
  state(hint: string, ctype: string, count: number, elementBytes: number): string;
  /** Declares mutable scratch storage used within one call; returns its name. */
  scratch(hint: string, ctype: string, count: number, elementBytes: number): string;
}

export interface EmittedNode {
  /** Ids of the kernel pieces (c-kernels.ts) the call needs. */
  pieces: string[];
  /** Top-level C: the params definition. */
  definitions: string;
  /** The statement(s) inside invoke. */
  call: string;
}

type Emitter = (step: PlanStep, ctx: EmitContext) => EmittedNode;

interface ChannelRequantState {
  reference: boolean;
  wide: false | 'reduced' | 'away';
  scales: Float32Array;
  multipliers: Int32Array;
  shifts: Int32Array;
  zeroPoint: number;
  lo: number;
  hi: number;
}

function refuse(node: Node, why: string): never {
  throw new CloudlessError('E_UNSUPPORTED_OP', `node ${node.name} (${node.op}): the C generator cannot emit it: ${why}`, {
    node: node.name, hint: 'docs/micro.md lists the ops and dtypes the C target emits',
  });
}

function planar(node: Node, g: Geometry3): void {
  if (g.inD !== 1 || g.kD !== 1 || g.outD !== 1) refuse(node, '3-D windows are not emitted (2-D only)');
}

/**
 * The epilogue tables of a weighted node: multipliers and shifts (tflite-reference, 16x8), or the
 * float factors of tflite-xnnpack (`scale`, with multiplier and shift left null). `channels` repeats
 * a per-tensor value for kernels that index by channel.
 */
function requant(node: Node, rq: ChannelRequantState, ctx: EmitContext, channels?: number): { mult: string; shift: string; scale: string } {
  const spread = (v: ArrayLike<number>) => (channels && v.length !== channels ? new Array<number>(channels).fill(v[0]!) : v);
  if (rq.wide) {
    // The C epilogues shift an int64 by t = 15 - shift (reduced) or 31 - shift (away): t must stay in 1..62 / 1..94.
    const [base, top] = rq.wide === 'reduced' ? [15, 62] : [31, 94];
    for (const sh of rq.shifts) if (base - sh < 1 || base - sh > top) refuse(node, `a 16x8 requantization shift of ${sh} is outside what the C epilogue takes`);
  } else if (!rq.reference) {
    return { mult: '0', shift: '0', scale: ctx.floatTable('scale', spread(rq.scales)) };
  }
  return { mult: ctx.int32Table('multiplier', spread(rq.multipliers)), shift: ctx.int32Table('shift', spread(rq.shifts)), scale: '0' };
}

function struct(type: string, name: string, fields: Record<string, string | number>): string {
  const body = Object.entries(fields).map(([k, v]) => `  .${k} = ${typeof v === 'number' ? intLiteral(v) : v},`).join('\n');
  return `static const ${type} ${name} = {\n${body}\n};\n`;
}

const window2 = (g: Geometry3) => ({
  batch: g.batch, in_h: g.inH, in_w: g.inW, out_h: g.outH, out_w: g.outW,
  k_h: g.kH, k_w: g.kW, stride_h: g.sH, stride_w: g.sW,
});

const convS8: Emitter = (step, ctx) => {
  const st = step.state as { walk: { g: Geometry3 }; cin: number; cout: number; group: number; zx: number; rq: ChannelRequantState };
  const g = st.walk.g;
  planar(step.node, g);
  if (st.group !== 1) refuse(step.node, `grouped int8 Conv (group ${st.group}) is not emitted`);
  const { mult, shift, scale } = requant(step.node, st.rq, ctx, st.cout);
  const definitions = struct('cl_conv_s8_params', ctx.paramsName, {
    ...window2(g), in_c: st.cin, out_c: st.cout, dilation_h: g.dH, dilation_w: g.dW, pad_h: g.pH, pad_w: g.pW,
    input_offset: -st.zx, output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift, scale,
  });
  const [x, w, b] = step.inputs;
  return {
    pieces: [`conv_${elemOf(step.outputs[0]!)}`], definitions,
    call: `cl_conv_${elemOf(step.outputs[0]!)}(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const depthwiseS8: Emitter = (step, ctx) => {
  const st = step.state as { walk: { g: Geometry3 }; channels: number; multiplier: number; zx: number; rq: ChannelRequantState };
  const g = st.walk.g;
  planar(step.node, g);
  const { mult, shift, scale } = requant(step.node, st.rq, ctx, st.channels * st.multiplier);
  const definitions = struct('cl_depthwise_conv_s8_params', ctx.paramsName, {
    ...window2(g), in_c: st.channels, depth_multiplier: st.multiplier, dilation_h: g.dH, dilation_w: g.dW, pad_h: g.pH, pad_w: g.pW,
    input_offset: -st.zx, output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift, scale,
  });
  const [x, w, b] = step.inputs;
  return {
    pieces: [`depthwise_conv_${elemOf(step.outputs[0]!)}`], definitions,
    call: `cl_depthwise_conv_${elemOf(step.outputs[0]!)}(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const fullyConnectedS8: Emitter = (step, ctx) => {
  const st = step.state as { k: number; o: number; zx: number; zw: number; rq: ChannelRequantState };
  const { mult, shift, scale } = requant(step.node, st.rq, ctx, st.o);
  const [x, w, b] = step.inputs;
  const definitions = struct('cl_fully_connected_s8_params', ctx.paramsName, {
    rows: x!.size / st.k, depth: st.k, units: st.o, input_offset: -st.zx, filter_offset: -st.zw,
    output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift, scale,
  });
  return {
    pieces: [`fully_connected_${elemOf(step.outputs[0]!)}`], definitions,
    call: `cl_fully_connected_${elemOf(step.outputs[0]!)}(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

/** AveragePool or MaxPool on int8 or int16 values (the kernel's name takes the element type). */
function pool(kind: 'average' | 'max'): Emitter {
  return (step, ctx) => {
    const st = step.state as { walk: { g: Geometry3 }; channels: number; lo: number; hi: number };
    const g = st.walk.g;
    planar(step.node, g);
    if (g.dH !== 1 || g.dW !== 1) refuse(step.node, 'dilated pooling is not emitted');
    const definitions = struct('cl_pool_s8_params', ctx.paramsName, {
      ...window2(g), channels: st.channels, pad_h: g.pH, pad_w: g.pW, act_min: st.lo, act_max: st.hi,
    });
    const e = elemOf(step.outputs[0]!);
    return { pieces: [`pool_${e}`], definitions, call: `cl_${kind}_pool_${e}(&${ctx.paramsName}, ${ctx.pointer(step.inputs[0], false)}, ${ctx.pointer(step.outputs[0], true)});` };
  };
}

const softmaxS8: Emitter = (step, ctx) => {
  const st = step.state as { reference: boolean; depth: number; multiplier: number; leftShift: number; diffMin: number };
  if (!st.reference) refuse(step.node, `the ${ctx.arithmetic} int8 Softmax is not emitted yet (only tflite-reference)`);
  if (st.leftShift < 0 || st.leftShift > 30) refuse(step.node, `input scale gives a left shift of ${st.leftShift}, outside 0..30`);
  const x = step.inputs[0]!;
  const definitions = struct('cl_softmax_s8_params', ctx.paramsName, {
    rows: x.size / st.depth, depth: st.depth, input_multiplier: st.multiplier, input_left_shift: st.leftShift, diff_min: st.diffMin,
  });
  return { pieces: ['softmax_s8'], definitions, call: `cl_softmax_s8(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)});` };
};

const fullyConnectedF32: Emitter = (step, ctx) => {
  const st = step.state as { k: number; o: number; lo: number; hi: number };
  const [x, w, b] = step.inputs;
  const definitions = struct('cl_fully_connected_f32_params', ctx.paramsName, {
    rows: x!.size / st.k, depth: st.k, units: st.o,
    has_min: Number.isFinite(st.lo) ? 1 : 0, has_max: Number.isFinite(st.hi) ? 1 : 0,
    act_min: Number.isFinite(st.lo) ? floatLiteral(st.lo) : '0.0f', act_max: Number.isFinite(st.hi) ? floatLiteral(st.hi) : '0.0f',
  });
  return {
    pieces: ['fully_connected_f32'], definitions,
    call: `cl_fully_connected_f32(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

/** The reference kernels' int8 unary ops are 256-entry tables built at prepare time, in either arithmetic: emitted as they are. */
const lutS8: Emitter = (step, ctx) => {
  const st = step.state as { table: Int8Array };
  const table = ctx.int8Table('table', st.table);
  const x = step.inputs[0]!;
  return { pieces: ['lut_s8'], definitions: '', call: `cl_lut_s8(${x.size}, ${table}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)});` };
};


// ---------------------------------------------------------------------------
// Add, Sub, Mul, Concat, Pad, ReduceMean, ConvTranspose, Quantize, Dequantize
// ---------------------------------------------------------------------------

type Elem = 's8' | 's16';
const elemOf = (t: Tensor): Elem => (t.dtype === 'int16' ? 's16' : 's8');

/** A shape padded with leading 1s to the C kernels' rank, or refused. */
function padded(node: Node, shape: readonly number[]): number[] {
  if (shape.length > C_MAX_RANK) refuse(node, `rank ${shape.length} is above the C kernels' ${C_MAX_RANK}`);
  return [...new Array<number>(C_MAX_RANK - shape.length).fill(1), ...shape];
}

/** Row-major strides of `shape` seen through a broadcast to `out` (0 along a repeated dimension), padded. */
function broadcastStrides(node: Node, shape: readonly number[], out: readonly number[]): number[] {
  const o = padded(node, out), s = padded(node, [...new Array<number>(Math.max(0, out.length - shape.length)).fill(1), ...shape]);
  const strides = new Array<number>(C_MAX_RANK).fill(0);
  let acc = 1;
  for (let d = C_MAX_RANK - 1; d >= 0; d--) {
    strides[d] = s[d] === 1 && o[d] !== 1 ? 0 : acc;
    acc *= s[d]!;
  }
  return strides;
}

const cArray = (v: readonly number[]) => `{ ${v.map(intLiteral).join(', ')} }`;

type QM = { multiplier: number; shift: number };
interface BinaryConstants {
  arithmetic: { kind: string; ma?: QM; mb?: QM; my?: QM; m?: QM; sign?: 1 | -1; Ma?: number; Mb?: number; K?: number; shift?: number; fm?: number };
  za: number; zb: number; zy: number; lo: number; hi: number;
}

function binary(op: 'add' | 'mul'): Emitter {
  return (step, ctx) => {
    const st = step.state as { constants?: BinaryConstants };
    const c = st.constants;
    if (!c) refuse(step.node, 'the reference kernel exposes no constants');
    const a = c.arithmetic;
    const y = step.outputs[0]!, [x0, x1] = step.inputs;
    const e = elemOf(y);
    const fields: Record<string, string | number> = {
      size: y.size, out_dims: cArray(padded(step.node, y.shape)),
      a_strides: cArray(broadcastStrides(step.node, x0!.shape, y.shape)), b_strides: cArray(broadcastStrides(step.node, x1!.shape, y.shape)),
      a_offset: -c.za, b_offset: -c.zb, output_offset: c.zy, act_min: c.lo, act_max: c.hi,
    };
    if (a.kind === 'radd' || a.kind === 'add') {
      Object.assign(fields, {
        left_shift: a.kind === 'radd' ? 20 : 15, sign: a.sign!,
        a_multiplier: a.ma!.multiplier, a_shift: a.ma!.shift, b_multiplier: a.mb!.multiplier, b_shift: a.mb!.shift,
        output_multiplier: a.my!.multiplier, output_shift: a.my!.shift,
      });
    } else if (a.kind === 'rmul' || a.kind === 'mul') {
      Object.assign(fields, { output_multiplier: a.m!.multiplier, output_shift: a.m!.shift });
    } else {
      return binaryXnnpack(step, ctx, c);
    }
    return {
      pieces: [`${op}_${e}`], definitions: struct('cl_binary_params', ctx.paramsName, fields),
      call: `cl_${op}_${e}(&${ctx.paramsName}, ${ctx.pointer(x0, false)}, ${ctx.pointer(x1, false)}, ${ctx.pointer(y, true)});`,
    };
  };
}

/** tflite-xnnpack Add/Sub (XNNPACK's integer scheme) and Mul (float factor), int8 only. */
function binaryXnnpack(step: PlanStep, ctx: EmitContext, c: BinaryConstants): EmittedNode {
  const a = c.arithmetic;
  const y = step.outputs[0]!, [x0, x1] = step.inputs;
  if (y.dtype !== 'int8') refuse(step.node, `a ${y.dtype} ${a.kind} epilogue`);
  const fields: Record<string, string | number> = {
    size: y.size, out_dims: cArray(padded(step.node, y.shape)),
    a_strides: cArray(broadcastStrides(step.node, x0!.shape, y.shape)), b_strides: cArray(broadcastStrides(step.node, x1!.shape, y.shape)),
    a_offset: -c.za, b_offset: -c.zb, output_offset: c.zy, act_min: c.lo, act_max: c.hi,
  };
  let fn: string;
  if (a.kind === 'xadd') {
    if (!Number.isSafeInteger(a.K!) || a.shift! < 0 || a.shift! > 62) refuse(step.node, `XNNPACK Add constants out of range (K ${a.K}, shift ${a.shift})`);
    Object.assign(fields, { a_mult: a.Ma!, b_mult: a.Mb!, shift: a.shift!, k: `${a.K}LL` });
    fn = 'cl_add_s8_xnnpack';
  } else if (a.kind === 'xmul') {
    Object.assign(fields, { scale: floatLiteral(a.fm!) });
    fn = 'cl_mul_s8_xnnpack';
  } else {
    refuse(step.node, `no C epilogue for the ${a.kind} arithmetic`);
  }
  return {
    pieces: ['binary_xnnpack_s8'], definitions: struct('cl_binary_xnnpack_params', ctx.paramsName, fields),
    call: `${fn}(&${ctx.paramsName}, ${ctx.pointer(x0, false)}, ${ctx.pointer(x1, false)}, ${ctx.pointer(y, true)});`,
  };
}

const concat: Emitter = (step, ctx) => {
  const st = step.state as { blocks: number[]; outBlock: number; outer: number; tables: (Int8Array | undefined)[] };
  const y = step.outputs[0]!;
  const e = elemOf(y);
  const present = step.inputs.filter((t) => t !== undefined);
  let start = 0;
  const calls = present.map((x, k) => {
    const table = st.tables[k];
    if (table && e !== 's8') refuse(step.node, 'an int16 Concat input quantized unlike the output');
    const tableArg = e === 's8' ? `${table ? ctx.int8Table(`table${k}`, table) : '0'}, ` : '';
    const call = `cl_concat_part_${e}(${st.outer}, ${st.blocks[k]}, ${st.outBlock}, ${start}, ${tableArg}${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});`;
    start += st.blocks[k]!;
    return call;
  });
  return { pieces: [`concat_${e}`], definitions: '', call: calls.join('\n  ') };
};

const pad: Emitter = (step, ctx) => {
  const st = step.state as { begin: number[]; inShape: number[]; outShape: number[] };
  const y = step.outputs[0]!;
  const e = elemOf(y);
  const cv = step.inputs[2];
  let value: number;
  if (cv && cv.size > 0) {
    if (step.node.inputs[2] && !ctx.isConstant(cv)) refuse(step.node, 'a constant_value computed at run time');
    value = Number(cv.data[0]!);
  } else {
    value = y.quant?.zeroPoint[0] ?? 0;
  }
  const definitions = struct('cl_pad_params', ctx.paramsName, {
    size: y.size, out_dims: cArray(padded(step.node, st.outShape)), in_dims: cArray(padded(step.node, st.inShape)),
    begin: cArray([...new Array<number>(C_MAX_RANK - st.begin.length).fill(0), ...st.begin]),
  });
  return { pieces: [`pad_${e}`], definitions, call: `cl_pad_${e}(&${ctx.paramsName}, ${value}, ${ctx.pointer(step.inputs[0], false)}, ${ctx.pointer(y, true)});` };
};

interface MeanConstants {
  n: number; zx: number; zy: number; lo: number; hi: number;
  truncating: boolean; float: boolean; multiplier: number; shift: number; fm: number; bias: number;
}

const mean: Emitter = (step, ctx) => {
  const st = step.state as { axes?: number[]; constants?: MeanConstants };
  const c = st.constants, axes = st.axes;
  if (!c || !axes) refuse(step.node, 'the reference kernel exposes no constants');
  const x = step.inputs[0]!, y = step.outputs[0]!;
  const e = elemOf(y);
  const shape = padded(step.node, x.shape);
  const off = C_MAX_RANK - x.shape.length;
  const strides = new Array<number>(C_MAX_RANK).fill(0);
  for (let d = C_MAX_RANK - 1, acc = 1; d >= 0; d--) { strides[d] = acc; acc *= shape[d]!; }
  const reduced = shape.map((_, d) => d >= off && axes.includes(d - off));
  const definitions = struct('cl_mean_params', ctx.paramsName, {
    out_size: y.size,
    kept_dims: cArray(shape.map((n, d) => (reduced[d] ? 1 : n))), kept_strides: cArray(strides.map((s, d) => (reduced[d] ? 0 : s))),
    reduced_dims: cArray(shape.map((n, d) => (reduced[d] ? n : 1))), reduced_strides: cArray(strides.map((s, d) => (reduced[d] ? s : 0))),
    n: c.n, truncating: c.truncating ? 1 : 0, input_zero_times_n: Math.imul(c.zx, c.n),
    multiplier: c.multiplier, shift: c.shift, output_offset: c.zy, act_min: c.lo, act_max: c.hi,
    use_float: c.float ? 1 : 0, scale: floatLiteral(c.float ? c.fm : 0), bias: floatLiteral(c.float ? c.bias : 0),
  });
  return { pieces: [`mean_${e}`], definitions, call: `cl_mean_${e}(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

const convTransposeS8: Emitter = (step, ctx) => {
  const st = step.state as { t: { g: Geometry3; cin: number; cout: number; group: number }; zx: number; rq: ChannelRequantState };
  const g = st.t.g;
  planar(step.node, g);
  if (st.t.group !== 1) refuse(step.node, `grouped int8 ConvTranspose (group ${st.t.group})`);
  const { mult, shift, scale } = requant(step.node, st.rq, ctx, st.t.cout);
  const definitions = struct('cl_conv_transpose_s8_params', ctx.paramsName, {
    ...window2(g), in_c: st.t.cin, out_c: st.t.cout, dilation_h: g.dH, dilation_w: g.dW, pad_h: g.pH, pad_w: g.pW,
    input_offset: -st.zx, output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift, scale,
  });
  const [x, w, b] = step.inputs;
  return {
    pieces: ['conv_transpose_s8'], definitions,
    call: `cl_conv_transpose_s8(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

function perTensor(node: Node, t: Tensor, what: string): { scale: number; zeroPoint: number } {
  const q = t.quant;
  if (!q || q.scale.length !== 1) refuse(node, `${what} is quantized per axis (the C kernel takes one scale)`);
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 };
}

/**
 * TFLite's QuantizeMultiplier (ir/quant-math.ts, the one the reference kernels
 * use) for the one node whose kernel keeps no prepared state: Quantize from
 * int16 or to int16 (the engine's Quantize kernel computes it at run time).
 */
function requantizeMultiplier(node: Node, real: number): QuantizedMultiplier {
  if (!Number.isFinite(real) || real < 0) refuse(node, `the requantization factor ${real} is not a positive finite number`);
  return quantizeMultiplier(real);
}

/** Quantize from int8/int16 with int16 on a side: TFLite's Requantize, as the engine's Quantize kernel. */
function requantize(step: PlanStep, ctx: EmitContext): EmittedNode {
  const x = step.inputs[0]!, y = step.outputs[0]!;
  const a = elemOf(x), b = elemOf(y);
  if (!REQUANTIZE_PAIRS.some(([p, q]) => p === a && q === b)) refuse(step.node, `requantizing ${x.dtype} to ${y.dtype} is not emitted (int8 and int16 only)`);
  const qx = perTensor(step.node, x, 'the input'), qy = perTensor(step.node, y, 'the output');
  if (a === 's8' && b === 's8' && ctx.arithmetic !== 'tflite-reference') {
    // The engine's Quantize (ref/quant.ts): XNNPACK's convert inside its range, TFLite's Requantize outside.
    const m = xnnpackConvertMultiplier(qx.scale, qy.scale);
    if (m !== undefined) {
      return {
        pieces: ['quantize_xnnpack'], definitions: '',
        call: `cl_convert_s8_s8_xnnpack(${y.size}, ${m}, ${qx.zeroPoint}, ${qy.zeroPoint}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});`,
      };
    }
  }
  const { multiplier, shift } = requantizeMultiplier(step.node, qx.scale / qy.scale);
  return {
    pieces: ['requantize'], definitions: '',
    call: `cl_requantize_${a}_${b}(${y.size}, ${intLiteral(multiplier)}, ${shift}, ${qx.zeroPoint}, ${qy.zeroPoint}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});`,
  };
}

const quantize: Emitter = (step, ctx) => {
  const x = step.inputs[0]!, y = step.outputs[0]!;
  if (x.dtype !== 'float32') {
    return requantize(step, ctx);
  }
  const q = perTensor(step.node, y, 'the output');
  const e = elemOf(y);
  if (ctx.arithmetic !== 'tflite-reference') {
    // XNNPACK's f32→qs8 convert: rne(fl(x · fl(1/s))) + z. float → int16 divides in double there (ref/quant.ts): not emitted.
    if (e !== 's8') refuse(step.node, `the ${ctx.arithmetic} float → int16 Quantize is not emitted`);
    return { pieces: ['quantize_xnnpack'], definitions: '', call: `cl_quantize_f32_s8_xnnpack(${y.size}, ${floatLiteral(Math.fround(1 / q.scale))}, ${q.zeroPoint}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
  }
  return { pieces: ['quantize'], definitions: '', call: `cl_quantize_f32_${e}(${y.size}, ${floatLiteral(q.scale)}, ${q.zeroPoint}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

const dequantize: Emitter = (step, ctx) => {
  const x = step.inputs[0]!, y = step.outputs[0]!;
  if (x.dtype !== 'int8' && x.dtype !== 'int16') refuse(step.node, `dequantizing ${x.dtype} is not emitted (int8 and int16 only)`);
  const q = perTensor(step.node, x, 'the input');
  return { pieces: ['quantize'], definitions: '', call: `cl_dequantize_${elemOf(x)}_f32(${y.size}, ${floatLiteral(q.scale)}, ${q.zeroPoint}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

/** What src/kernels/ref/int16/activation.ts keeps beside its table: the arithmetic behind it. */
type Int16UnarySpec =
  | { kind: 'relux'; multiplier: number; shift: number; lo: number; hi: number }
  | { kind: 'leaky'; multiplier: number; shift: number; alphaMultiplier: number; alphaShift: number }
  | { kind: 'sigmoid' | 'tanh'; multiplier: number; shift: number; sigmoidTableBits: Int16Array };

/**
 * The 16x8 unary ops: computed from the reference kernel's constants where it
 * keeps them (Relu, Clip, LeakyRelu; Sigmoid and Tanh in tflite-reference),
 * else its 65,536-entry table as it is (128 KiB; the builtin kernels'
 * gemmlowp path at power-of-two input scales).
 */
const lutS16: Emitter = (step, ctx) => {
  const st = step.state as { table: Int16Array; spec?: Int16UnarySpec };
  const x = step.inputs[0]!;
  const io = `${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)}`;
  const sp = st.spec;
  if (sp?.kind === 'relux') return { pieces: ['activation_s16'], definitions: '', call: `cl_relux_s16(${x.size}, ${sp.multiplier}, ${sp.shift}, ${sp.lo}, ${sp.hi}, ${io});` };
  if (sp?.kind === 'leaky') return { pieces: ['activation_s16'], definitions: '', call: `cl_leaky_relu_s16(${x.size}, ${sp.multiplier}, ${sp.shift}, ${sp.alphaMultiplier}, ${sp.alphaShift}, ${io});` };
  if (sp?.kind === 'sigmoid' || sp?.kind === 'tanh') {
    const table = ctx.int16Table('sigmoid_table', sp.sigmoidTableBits);
    return { pieces: ['activation_s16'], definitions: '', call: `cl_${sp.kind === 'sigmoid' ? 'logistic' : 'tanh'}_s16(${x.size}, ${sp.multiplier}, ${sp.shift}, ${table}, ${io});` };
  }
  if (!(st.table instanceof Int16Array) || st.table.length !== 65536) refuse(step.node, 'the reference kernel holds no 16-bit table');
  const table = ctx.int16Table('table', st.table);
  return { pieces: ['lut_s16'], definitions: '', call: `cl_lut_s16(${x.size}, ${table}, ${io});` };
};

/** Data movement through the reference kernels' strided plan (Transpose, Slice, Expand, Tile). */
const strided: Emitter = (step, ctx) => {
  const raw = step.state as { plan?: { shape: number[]; strides: number[]; offset: number; size: number }; shape?: number[]; strides?: number[]; offset?: number; size?: number } | undefined;
  const plan = raw?.plan ?? (raw?.shape ? raw as { shape: number[]; strides: number[]; offset: number; size: number } : undefined);
  if (!plan) refuse(step.node, 'its shape or parameters are only known at run time');
  const y = step.outputs[0]!;
  const suffix = ({ int8: 's8', uint8: 'u8', int16: 's16', int32: 's32', int64: 's64', float32: 'f32' } as Record<string, string>)[y.dtype];
  if (!suffix || !STRIDED_TYPES[suffix]) refuse(step.node, `no ${y.dtype} copy kernel`);
  if (plan.shape.length > C_MAX_RANK) refuse(step.node, `a strided walk of rank ${plan.shape.length} (above ${C_MAX_RANK})`);
  const lead = C_MAX_RANK - plan.shape.length;
  const definitions = struct('cl_strided_params', ctx.paramsName, {
    size: y.size, offset: plan.offset,
    dims: cArray([...new Array<number>(lead).fill(1), ...plan.shape]), strides: cArray([...new Array<number>(lead).fill(0), ...plan.strides]),
  });
  return { pieces: [`strided_${suffix}`], definitions, call: `cl_strided_copy_${suffix}(&${ctx.paramsName}, ${ctx.pointer(step.inputs[0], false)}, ${ctx.pointer(y, true)});` };
};

/**
 * int8/int16 Resize from the reference kernel's prepared taps (ref/int8/resize.ts
 * ResizeState): the resized axes (at most two) split the output into
 * [outer, y, mid, x, inner]; an axis not resized gets one tap at 0.
 */
const resize: Emitter = (step, ctx) => {
  const st = step.state as { linear: boolean; reference: boolean; axes: number[]; taps: { lo: Int32Array; hi: Int32Array; weight: Int32Array }[]; inStrides: number[]; outShape: number[] } | undefined;
  if (!st?.taps || !st.outShape) refuse(step.node, 'the reference kernel holds no prepared taps');
  const { axes, outShape, inStrides } = st;
  if (axes.length === 0) refuse(step.node, 'it resizes no axis');
  const ay = axes.length === 2 ? axes[0]! : -1, ax = axes[axes.length - 1]!;
  const prod = (from: number, to: number) => outShape.slice(from, to).reduce((a, b) => a * b, 1);
  const one = new Int32Array(1);
  const ty = ay >= 0 ? st.taps[0]! : { lo: one, hi: one, weight: one };
  const tx = st.taps[axes.length - 1]!;
  const table = (hint: string, v: Int32Array) => ctx.int32Table(hint, Array.from(v));
  const definitions = struct('cl_resize_params', ctx.paramsName, {
    outer: ay >= 0 ? prod(0, ay) : prod(0, ax), out_y: ay >= 0 ? outShape[ay]! : 1, mid: ay >= 0 ? prod(ay + 1, ax) : 1,
    out_x: outShape[ax]!, inner: prod(ax + 1, outShape.length),
    stride_outer: ay >= 0 ? (ay > 0 ? inStrides[ay - 1]! : 0) : (ax > 0 ? inStrides[ax - 1]! : 0),
    stride_y: ay >= 0 ? inStrides[ay]! : 0, stride_mid: ay >= 0 && ax - ay > 1 ? inStrides[ax - 1]! : 0, stride_x: inStrides[ax]!,
    linear: st.linear ? 1 : 0, reference: st.reference ? 1 : 0,
    lo_y: table('lo_y', ty.lo), hi_y: table('hi_y', ty.hi), w_y: table('w_y', ty.weight),
    lo_x: table('lo_x', tx.lo), hi_x: table('hi_x', tx.hi), w_x: table('w_x', tx.weight),
  });
  const e = step.outputs[0]!.dtype === 'int8' ? 's8' : 's16';
  return { pieces: [`resize_${e}`], definitions, call: `cl_resize_${e}(&${ctx.paramsName}, ${ctx.pointer(step.inputs[0], false)}, ${ctx.pointer(step.outputs[0], true)});` };
};

const softmaxS16: Emitter = (step, ctx) => {
  const st = step.state as { depth: number; reciprocalLut?: Int16Array; expLut?: Int16Array; expMultiplier: number; expShift: number };
  if (!st.reciprocalLut || !st.expLut) refuse(step.node, 'the reference kernel exposes no tables');
  const x = step.inputs[0]!;
  const definitions = struct('cl_softmax_s16_params', ctx.paramsName, {
    rows: x.size / st.depth, depth: st.depth, exp_multiplier: st.expMultiplier, exp_shift: st.expShift,
    exp_lut: ctx.int16Table('exp_lut', st.expLut), reciprocal: ctx.int16Table('reciprocal', st.reciprocalLut),
  });
  return { pieces: ['softmax_s16'], definitions, call: `cl_softmax_s16(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)});` };
};

/** Emitters by `op/dtype` of the node's first output. */
const EMITTERS: ReadonlyMap<string, Emitter> = new Map([
  ['Conv/int8', convS8],
  ['DepthwiseConv/int8', depthwiseS8],
  ['FullyConnected/int8', fullyConnectedS8],
  ['AveragePool/int8', pool('average')], ['AveragePool/int16', pool('average')],
  ['MaxPool/int8', pool('max')], ['MaxPool/int16', pool('max')],
  ['Softmax/int8', softmaxS8],
  ['FullyConnected/float32', fullyConnectedF32],
  ['ConvTranspose/int8', convTransposeS8],
  ['Add/int8', binary('add')], ['Sub/int8', binary('add')], ['Mul/int8', binary('mul')],
  ['Concat/int8', concat], ['Pad/int8', pad], ['ReduceMean/int8', mean], ['Resize/int8', resize], ['Resize/int16', resize],
  ['Quantize/int8', quantize], ['Quantize/int16', quantize],
  ['Dequantize/float32', dequantize],
  ['Softmax/int16', softmaxS16],
  ...['Transpose', 'Slice', 'Expand', 'Tile'].flatMap((op) => ['int8', 'uint8', 'int16', 'int32', 'int64', 'float32'].map((d) => [`${op}/${d}`, strided] as [string, Emitter])),
  ['Conv/int16', convS8], ['DepthwiseConv/int16', depthwiseS8], ['FullyConnected/int16', fullyConnectedS8],
  ['Add/int16', binary('add')], ['Sub/int16', binary('add')], ['Mul/int16', binary('mul')],
  ['Concat/int16', concat], ['Pad/int16', pad], ['ReduceMean/int16', mean],
  ...['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Tanh'].map((op) => [`${op}/int16`, lutS16] as [string, Emitter]),
  ...['Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh'].map((op) => [`${op}/int8`, lutS8] as [string, Emitter]),
  ...SIGNAL_EMITTERS,
]);

/** The (op, dtype) pairs the C generator emits, for docs and errors. */
export function emittedOps(): string[] {
  return [...EMITTERS.keys()];
}

/** The emitter of a step, or a CloudlessError naming the node and op. */
export function emitterFor(step: PlanStep): Emitter {
  const dtype = step.outputs[0]?.dtype ?? 'float32';
  const e = EMITTERS.get(`${step.node.op}/${dtype}`);
  if (!e) {
    throw new CloudlessError('E_UNSUPPORTED_OP', `node ${step.node.name}: the C generator has no ${dtype} ${step.node.op} kernel`, {
      node: step.node.name, hint: `the C target emits ${emittedOps().join(', ')} (docs/micro.md)`,
    });
  }
  if (step.kernel.backend !== 'ref') refuse(step.node, `planned on the ${step.kernel.backend} backend; plan on 'ref'`);
  return e;
}

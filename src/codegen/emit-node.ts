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
import type { PlanStep } from '../runtime/plan.js';
import { floatLiteral, intLiteral } from './c-data.js';

/** What an emitter can ask of the graph emitter. */
export interface EmitContext {
  /** A C expression for the data pointer of input/output tensor `t` of the step (arena slot or constant array). */
  pointer(t: Tensor | undefined, mutable: boolean): string;
  /** Declares a `static const` int32 array and returns its name. */
  int32Table(hint: string, values: ArrayLike<number>): string;
  /** Declares a `static const` int8 array and returns its name. */
  int8Table(hint: string, values: Int8Array): string;
  /** A unique C identifier for this node's params. */
  paramsName: string;
  arithmetic: 'tflite-reference' | 'tflite-xnnpack';
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
  wide: false | string;
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

function requant(node: Node, rq: ChannelRequantState, ctx: EmitContext): { mult: string; shift: string } {
  if (rq.wide) refuse(node, '16x8 epilogues are not emitted yet');
  if (!rq.reference) refuse(node, `the ${ctx.arithmetic} int8 arithmetic is not emitted yet (only tflite-reference)`);
  return { mult: ctx.int32Table('multiplier', rq.multipliers), shift: ctx.int32Table('shift', rq.shifts) };
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
  const { mult, shift } = requant(step.node, st.rq, ctx);
  const definitions = struct('cl_conv_s8_params', ctx.paramsName, {
    ...window2(g), in_c: st.cin, out_c: st.cout, dilation_h: g.dH, dilation_w: g.dW, pad_h: g.pH, pad_w: g.pW,
    input_offset: -st.zx, output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift,
  });
  const [x, w, b] = step.inputs;
  return {
    pieces: ['conv_s8'], definitions,
    call: `cl_conv_s8(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const depthwiseS8: Emitter = (step, ctx) => {
  const st = step.state as { walk: { g: Geometry3 }; channels: number; multiplier: number; zx: number; rq: ChannelRequantState };
  const g = st.walk.g;
  planar(step.node, g);
  const { mult, shift } = requant(step.node, st.rq, ctx);
  const definitions = struct('cl_depthwise_conv_s8_params', ctx.paramsName, {
    ...window2(g), in_c: st.channels, depth_multiplier: st.multiplier, dilation_h: g.dH, dilation_w: g.dW, pad_h: g.pH, pad_w: g.pW,
    input_offset: -st.zx, output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi, multiplier: mult, shift,
  });
  const [x, w, b] = step.inputs;
  return {
    pieces: ['depthwise_conv_s8'], definitions,
    call: `cl_depthwise_conv_s8(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const fullyConnectedS8: Emitter = (step, ctx) => {
  const st = step.state as { k: number; o: number; zx: number; zw: number; rq: ChannelRequantState };
  const { mult, shift } = requant(step.node, st.rq, ctx);
  const [x, w, b] = step.inputs;
  const definitions = struct('cl_fully_connected_s8_params', ctx.paramsName, {
    rows: x!.size / st.k, depth: st.k, units: st.o, input_offset: -st.zx, filter_offset: -st.zw,
    output_offset: st.rq.zeroPoint, act_min: st.rq.lo, act_max: st.rq.hi,
    // Per-tensor weights have one multiplier; the kernel indexes by unit, so repeat it.
    multiplier: st.rq.multipliers.length === st.o ? mult : ctx.int32Table('multiplier', new Array<number>(st.o).fill(st.rq.multipliers[0]!)),
    shift: st.rq.shifts.length === st.o ? shift : ctx.int32Table('shift', new Array<number>(st.o).fill(st.rq.shifts[0]!)),
  });
  return {
    pieces: ['fully_connected_s8'], definitions,
    call: `cl_fully_connected_s8(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${b && b.size > 0 ? ctx.pointer(b, false) : '0'}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

function poolS8(fn: 'cl_average_pool_s8' | 'cl_max_pool_s8'): Emitter {
  return (step, ctx) => {
    const st = step.state as { walk: { g: Geometry3 }; channels: number; lo: number; hi: number };
    const g = st.walk.g;
    planar(step.node, g);
    if (g.dH !== 1 || g.dW !== 1) refuse(step.node, 'dilated pooling is not emitted');
    const definitions = struct('cl_pool_s8_params', ctx.paramsName, {
      ...window2(g), channels: st.channels, pad_h: g.pH, pad_w: g.pW, act_min: st.lo, act_max: st.hi,
    });
    return { pieces: ['pool_s8'], definitions, call: `${fn}(&${ctx.paramsName}, ${ctx.pointer(step.inputs[0], false)}, ${ctx.pointer(step.outputs[0], true)});` };
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

/** Emitters by `op/dtype` of the node's first output. */
const EMITTERS: ReadonlyMap<string, Emitter> = new Map([
  ['Conv/int8', convS8],
  ['DepthwiseConv/int8', depthwiseS8],
  ['FullyConnected/int8', fullyConnectedS8],
  ['AveragePool/int8', poolS8('cl_average_pool_s8')],
  ['MaxPool/int8', poolS8('cl_max_pool_s8')],
  ['Softmax/int8', softmaxS8],
  ['FullyConnected/float32', fullyConnectedF32],
  ...['Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh'].map((op) => [`${op}/int8`, lutS8] as [string, Emitter]),
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

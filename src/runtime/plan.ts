import {
  CloudlessError, DEFAULT_LIMITS, NeedsValueError, checkTensorSize, type ResourceLimits, Tensor, bytesPerElement, getSchema, sameQuant, sizeOf, shapeToString, viewTyped, withContext,
  type Backend, type Graph, type GraphPlanner, type KernelContext, type KernelDef, type Node, type PlannedValue, type TypedArray, type ValueInfo,
} from '../ir/index.js';
import { shapeRange } from '../ir/ops/shape-ops.js';
import { opTraits } from '../ir/ops/traits.js';
import { planArena, describeArena, type ArenaHost, type ArenaRequest } from './arena.js';
import { evalNode } from './eval-node.js';
import type { KernelRegistry } from '../ir/index.js';

/** One node to execute at run time, with its tensors bound to arena views. */
export interface PlanStep {
  node: Node;
  kernel: KernelDef;
  state: unknown;
  inputs: (Tensor | undefined)[];
  outputs: Tensor[];
}

/**
 * An executable plan for one set of input shapes (and, for graphs whose shapes
 * depend on input contents, one set of those contents).
 */
export interface Plan {
  key: string;
  steps: PlanStep[];
  /** Arena views that feeds are copied into, by graph input name. */
  inputs: Map<string, Tensor>;
  /** The tensors returned by run(), by graph output name (arena views or constants). */
  outputs: Map<string, Tensor>;
  /** Bytes of the arena (and, when it lives in a host's memory, of the outputs' own buffers). */
  arenaBytes: number;
  /** The largest sum of (aligned) buffer sizes alive at one step: no arena for this order can be smaller. */
  arenaLowerBound: number;
  /** The backend whose memory holds the arena, when it is not a JavaScript ArrayBuffer. */
  hostBackend?: string;
  /**
   * Rebinds the views when the host's memory was replaced; the runner calls it
   * before the steps. The memory only grows while something is planned, never
   * during a run: control-flow nodes that plan a body for new contents at run
   * time do it outside any planGraph call, so on the reference kernels alone.
   */
  refreshViews(): void;
  /** Called by the runner after the steps: copies the outputs out of the host's memory. */
  afterRun(): void;
  /**
   * Gives a host's memory back now rather than when the plan is garbage
   * collected; the plan must not run again. (Outputs already handed out live
   * in buffers of their own and stay valid.)
   */
  dispose(): void;
  /** The sum of the aligned sizes of all planned tensors: what a plan without reuse would need. */
  unsharedBytes: number;
  scratchBytes: number;
  packedWeightBytes: number;
  /** Bytes of constants computed at plan time (folded subgraphs). */
  foldedBytes: number;
  /** Graph inputs whose contents decide shapes (their values are part of `key`). */
  shapeInputs: Set<string>;
  /** dtype, shape and quantization of every value computed at run time (and every graph input), as planned. */
  values: ReadonlyMap<string, ValueInfo>;
  describe(): string;
}

export interface PlanOptions {
  backends: readonly Backend[];
  ctx: KernelContext;
  registry: KernelRegistry;
  alignment?: number;
  /**
   * Memory of a backend to put the arena in when steps run on that backend
   * (their kernels then read and write tensors in place).
   */
  arenaHost?: ArenaHost;
  /** Graph inputs already known to decide shapes. */
  shapeInputs?: ReadonlySet<string>;
  /**
   * The feeds are placeholders (zeros of the declared shapes, for planning at
   * load): when a shape turns out to depend on an input's contents, give up with
   * PlanDeferred instead of planning with made-up values.
   */
  placeholderFeeds?: boolean;
  /** Tensor and arena size limits, checked on every shape the plan computes before it is allocated (default DEFAULT_LIMITS). */
  limits?: ResourceLimits;
}

/** Planning needs real input contents; the session plans at the first run instead. */
export class PlanDeferred extends Error {
  /** The graph inputs whose contents the plan needs. */
  readonly inputs: readonly string[];
  constructor(message: string, inputs: readonly string[] = []) {
    super(message);
    this.inputs = inputs;
  }
}

/**
 * The planner that shape inference and the control-flow kernels of a plan get for
 * their bodies: the plan's registry, backends, kernel context and limits, with the
 * arena in JavaScript memory (body kernels feed and read body plans' views
 * directly, which a host's memory could replace between runs). Plans made while a
 * plan runs use the reference kernels only, so that no host's memory grows under
 * the running plan's views.
 */
export function bodyPlanner(options: PlanOptions): GraphPlanner {
  return {
    plan: (graph, feeds, shapeInputs, duringRun = false) => planGraph(graph, feeds, {
      ...options, arenaHost: undefined, shapeInputs, placeholderFeeds: true, ...(duringRun ? { backends: ['ref'] } : {}),
    }),
    isPlanDeferred: (err): err is PlanDeferred => err instanceof PlanDeferred,
  };
}

/** A stable key of the feeds' shapes (and contents of shape inputs) that selects a plan. */
export function planKey(feeds: ReadonlyMap<string, Tensor>, shapeInputs: ReadonlySet<string>): string {
  const parts: string[] = [];
  for (const [name, t] of [...feeds].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    parts.push(`${name}:${t.dtype}${shapeToString(t.shape)}`);
    if (shapeInputs.has(name)) parts.push(`=${t.toNumbers().join(',')}`);
  }
  return parts.join(';');
}

const NON_DETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/**
 * Plans a graph for concrete feeds:
 *   1. walk the nodes in order; a node whose inputs are all known at plan time
 *      (constants, folded values, shapes of planned tensors, contents of shape
 *      inputs) is evaluated now and its outputs become constants (folding);
 *   2. every other node gets its output shapes from its op schema and a kernel
 *      from the registry (first backend that fits); the kernel prepares its state;
 *   3. the tensors those nodes produce, plus the graph inputs, are packed into one
 *      arena by planArena, and every step's inputs and outputs become views of it.
 * When shape inference needs the content of a value that derives from graph
 * inputs, those inputs become shape inputs and planning starts again with their
 * contents known.
 */
export function planGraph(graph: Graph, feeds: ReadonlyMap<string, Tensor>, options: PlanOptions): Plan {
  const shapeInputs = new Set(options.shapeInputs ?? []);
  for (let attempt = 0; attempt <= graph.inputs.length; attempt++) {
    try {
      return planOnce(graph, feeds, shapeInputs, options);
    } catch (err) {
      if (!(err instanceof NeedsValueError)) throw err;
      const name = err.node.inputs[err.inputIndex]!;
      const sources = graphInputsBehind(graph, name).filter((n) => !shapeInputs.has(n));
      if (options.placeholderFeeds) throw new PlanDeferred(err.message, sources);
      if (sources.length === 0) {
        throw new CloudlessError('E_UNSUPPORTED', `node ${err.node.name} (${err.node.op}): output shape depends on "${name}", which is computed at run time`, {
          node: err.node.name,
          hint: 'shapes that depend on computed data are not supported by the static planner',
        });
      }
      for (const s of sources) shapeInputs.add(s);
    }
  }
  throw new CloudlessError('E_INTERNAL', `graph ${graph.name}: planning did not converge`);
}

function graphInputsBehind(graph: Graph, value: string): string[] {
  const producers = graph.producers();
  const inputs = new Set(graph.inputs);
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [value];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (inputs.has(v)) { found.add(v); continue; }
    const p = producers.get(v);
    if (p) for (const i of p.inputs) if (i) stack.push(i);
  }
  return [...found];
}

function planOnce(graph: Graph, feeds: ReadonlyMap<string, Tensor>, shapeInputs: Set<string>, options: PlanOptions): Plan {
  const known = new Map<string, Tensor>();
  const infos = new Map<string, ValueInfo>();
  let foldedBytes = 0;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const checkOutputs = (node: Node, outs: readonly ValueInfo[]) => outs.forEach((o, i) => {
    checkTensorSize(o.shape, bytesPerElement(o.dtype), `graph ${graph.name}: node ${node.name} (${node.op}): output "${node.outputs[i] ?? i}"`, limits, node.name);
  });
  for (const v of graph.values.values()) {
    if (v.constant) { known.set(v.name, v.constant); infos.set(v.name, info(v.constant)); }
  }
  for (const name of graph.inputs) {
    const t = feeds.get(name);
    if (!t) throw new CloudlessError('E_INPUT', `graph ${graph.name}: no feed for input "${name}"`);
    const q = graph.values.get(name)?.quant ?? t.quant;
    checkTensorSize(t.shape, bytesPerElement(t.dtype), `graph ${graph.name}: input "${name}"`, limits);
    infos.set(name, { dtype: t.dtype, shape: [...t.shape], quant: q });
    if (shapeInputs.has(name)) known.set(name, t.clone());
  }

  const planner = bodyPlanner(options);
  type Pending = { node: Node; kernel: KernelDef; inputInfos: (ValueInfo | undefined)[]; outInfos: ValueInfo[] };
  const pending: Pending[] = [];
  for (const node of graph.nodes) {
    const shapeOnly = foldShapeOnly(node, infos);
    if (shapeOnly) {
      known.set(node.outputs[0]!, shapeOnly);
      infos.set(node.outputs[0]!, info(shapeOnly));
      continue;
    }
    const inputs = node.inputs.map((n) => (n ? known.get(n) : undefined));
    const allKnown = node.inputs.every((n) => !n || known.has(n));
    if (allKnown && !NON_DETERMINISTIC.has(node.op) && getSchema(node.op)) {
      // Folding computes the value now: check its size from shape inference first, so a constant
      // Expand/Reshape to a huge shape is refused before its buffer is allocated.
      let inferred: ValueInfo[] | undefined;
      try {
        inferred = getSchema(node.op)!.infer({
          node, inputs: inputs.map((t) => (t ? info(t) : undefined)), value: (i) => inputs[i]!, hasValue: (i) => !!inputs[i], planner,
        });
      } catch { /* folding reports the error itself */ }
      if (inferred) checkOutputs(node, inferred);
      let outs: Tensor[];
      try {
        outs = evalNode(node, inputs, {
          registry: options.registry, backends: ['ref'], ctx: options.ctx, planner,
          outputQuant: node.outputs.map((o) => graph.values.get(o)?.quant),
        });
      } catch (err) {
        throw withContext(err, `graph ${graph.name}: folding node ${node.name} (${node.op})`, { node: node.name });
      }
      outs.forEach((t, i) => {
        const name = node.outputs[i];
        if (!name) return;
        known.set(name, t);
        infos.set(name, info(t));
        foldedBytes += t.byteLength;
      });
      checkOutputs(node, outs.map(info));
      if (foldedBytes > limits.maxArenaBytes) {
        throw new CloudlessError('E_LIMIT', `graph ${graph.name}: constants folded up to node ${node.name} (${node.op}) take ${foldedBytes} bytes, over the ${limits.maxArenaBytes}-byte limit`, { node: node.name });
      }
      continue;
    }
    const schema = getSchema(node.op);
    if (!schema) {
      throw new CloudlessError('E_UNSUPPORTED_OP', `graph ${graph.name}: node ${node.name}: op ${node.op} is not supported`, { node: node.name });
    }
    const inputInfos = node.inputs.map((n) => {
      if (!n) return undefined;
      const i = infos.get(n);
      if (!i) throw new CloudlessError('E_GRAPH', `graph ${graph.name}: node ${node.name} reads "${n}" before it is defined`, { node: node.name });
      return i;
    });
    checkArity(node, schema.inputs, schema.outputs);
    let outInfos: ValueInfo[];
    try {
      outInfos = schema.infer({
        node,
        inputs: inputInfos,
        value(i) {
          const n = node.inputs[i];
          const t = n ? known.get(n) : undefined;
          if (!t) throw new NeedsValueError(i, node);
          return t;
        },
        hasValue: (i) => { const n = node.inputs[i]; return !!n && known.has(n); },
        planner,
      });
    } catch (err) {
      if (err instanceof NeedsValueError) throw err;
      throw withContext(err, `graph ${graph.name}`, { node: node.name });
    }
    outInfos = outInfos.map((o, i) => {
      const q = graph.values.get(node.outputs[i] ?? '')?.quant;
      return q ? { ...o, quant: q } : o;
    });
    checkOutputs(node, outInfos);
    const found = options.registry.find(options.backends, node, inputInfos, outInfos);
    if (!('kernel' in found)) {
      throw new CloudlessError('E_UNSUPPORTED_OP', `graph ${graph.name}: node ${node.name} (${node.op}): ${found.reasons.join('; ')}`, { node: node.name });
    }
    outInfos.forEach((o, i) => { const n = node.outputs[i]; if (n) infos.set(n, o); });
    pending.push({ node, kernel: found.kernel, inputInfos, outInfos });
  }

  // Lifetimes of the tensors that live in the arena: graph inputs and the outputs of run-time steps.
  const requests: ArenaRequest[] = [];
  const lifetimes = new Map<string, ArenaRequest>();
  const request = (name: string, first: number) => {
    const i = infos.get(name)!;
    const r = { id: name, bytes: sizeOf(i.shape) * bytesPerElement(i.dtype), first, last: first };
    lifetimes.set(name, r);
    requests.push(r);
  };
  for (const name of graph.inputs) if (!known.has(name) || shapeInputs.has(name)) request(name, 0);
  // Steps whose output is its input's bytes under another shape: the output shares the input's buffer
  // (one request, whose lifetime covers both) and the step is not run.
  const aliasing = new Set<number>();
  pending.forEach((p, step) => {
    for (const n of p.node.inputs) {
      const r = n ? lifetimes.get(n) : undefined;
      if (r) r.last = step;
    }
    const source = viewSource(p, lifetimes, infos);
    if (source) {
      lifetimes.set(p.node.outputs[0]!, source);
      aliasing.add(step);
      return;
    }
    for (const n of p.node.outputs) if (n) request(n, step);
  });
  for (const name of graph.outputs) {
    const r = lifetimes.get(name);
    if (r) r.last = pending.length;
  }
  const alignment = options.alignment ?? 16;

  // Prepare every kernel before the arena exists: preparing may grow a host's memory.
  const live = pending.filter((_, step) => !aliasing.has(step));
  let scratchBytes = 0, packedWeightBytes = 0;
  const states = live.map((p) => {
    if (!p.kernel.prepare) return undefined;
    const plannedInputs: (PlannedValue | undefined)[] = p.inputInfos.map((inf, i) => {
      if (!inf) return undefined;
      const n = p.node.inputs[i]!;
      return known.has(n) ? { ...inf, constant: known.get(n) } : inf;
    });
    try {
      const prepared = p.kernel.prepare({ node: p.node, inputs: plannedInputs, outputs: p.outInfos, ctx: options.ctx, planner });
      scratchBytes += prepared.scratchBytes ?? 0;
      packedWeightBytes += prepared.packedWeightBytes ?? 0;
      return prepared.state;
    } catch (err) {
      throw withContext(err, `graph ${graph.name}: preparing node ${p.node.name} (${p.node.op})`, { node: p.node.name });
    }
  });

  // With a host, the arena lives in the host's memory when some step runs there; each buffer then keeps
  // SLACK bytes after it, because such kernels may read (and write) a partial vector past a tensor's end.
  const host = options.arenaHost && live.some((p) => p.kernel.backend === options.arenaHost!.backend) ? options.arenaHost : undefined;
  const padded = host ? requests.map((r) => ({ ...r, bytes: r.bytes + HOST_SLACK })) : requests;
  const arenaPlan = planArena(padded, alignment);
  const arenaBytes = Math.max(arenaPlan.arenaBytes, alignment);
  if (arenaBytes + scratchBytes > limits.maxArenaBytes) {
    throw new CloudlessError('E_LIMIT', `graph ${graph.name}: the plan needs an arena of ${arenaBytes} bytes (+ ${scratchBytes} scratch), over the ${limits.maxArenaBytes}-byte limit (maxArenaBytes)`, {
      hint: 'raise maxArenaBytes (CLI: --max-arena-mb) if the model genuinely needs it',
    });
  }
  const region = host ? host.reserve(arenaBytes + HOST_SLACK) : 0;
  let buffer = host ? host.buffer() : new ArrayBuffer(arenaBytes);
  const views = new Map<string, Tensor>();
  const bindViews = () => {
    for (const [name, r] of lifetimes) {
      const i = infos.get(name)!;
      const data = viewTyped(i.dtype, buffer, region + arenaPlan.offsets.get(r.id)!, sizeOf(i.shape));
      views.set(name, new Tensor(i.dtype, i.shape, data, i.quant));
    }
  };
  bindViews();
  const tensorOf = (name: string): Tensor | undefined => (name ? views.get(name) ?? known.get(name) : undefined);

  const steps: PlanStep[] = live.map((p, k) => ({ node: p.node, kernel: p.kernel, state: states[k], inputs: [], outputs: [] }));
  const inputs = new Map<string, Tensor>();
  const bindSteps = () => {
    steps.forEach((st, k) => {
      st.inputs = st.node.inputs.map(tensorOf);
      st.outputs = st.node.outputs.map((n, i) => {
        const t = n ? views.get(n) : undefined;
        // An unnamed output still needs a place to be written; it lives outside the arena (and survives rebinding).
        return t ?? st.outputs[i] ?? new Tensor(live[k]!.outInfos[i]!.dtype, live[k]!.outInfos[i]!.shape, undefined, live[k]!.outInfos[i]!.quant);
      });
    });
    for (const name of graph.inputs) { const v = views.get(name); if (v) inputs.set(name, v); }
  };
  bindSteps();

  // Outputs are handed to the caller: with a host they are copied out of its memory (which may be replaced
  // under a caller's feet) into buffers of their own at the end of each run.
  const outputs = new Map<string, Tensor>();
  const mirrored: [Tensor, string][] = [];
  let mirrorBytes = 0;
  for (const name of graph.outputs) {
    const t = tensorOf(name);
    if (!t) throw new CloudlessError('E_GRAPH', `graph ${graph.name}: output "${name}" is never computed`);
    if (host && views.has(name)) {
      const own = new Tensor(t.dtype, t.shape, undefined, t.quant);
      mirrored.push([own, name]);
      mirrorBytes += own.byteLength;
      outputs.set(name, own);
    } else {
      outputs.set(name, t);
    }
  }
  const unsharedBytes = requests.reduce((s, r) => s + Math.ceil(r.bytes / alignment) * alignment, 0);
  const plan: Plan = {
    key: planKey(feeds, shapeInputs),
    steps, inputs, outputs,
    arenaBytes: arenaPlan.arenaBytes + mirrorBytes,
    arenaLowerBound: arenaPlan.lowerBound,
    unsharedBytes, scratchBytes, packedWeightBytes, foldedBytes,
    shapeInputs: new Set(shapeInputs),
    values: new Map([...lifetimes.keys()].map((name) => [name, infos.get(name)!] as const)),
    hostBackend: host?.backend,
    refreshViews: host ? () => {
      const now = host.buffer();
      if (now === buffer) return;
      buffer = now;
      bindViews();
      bindSteps();
    } : noop,
    afterRun: host ? () => { for (const [own, name] of mirrored) copyInto(own.data, views.get(name)!.data); } : noop,
    describe: () => describeArena(padded, arenaPlan) + (host ? `\n(in ${host.backend} memory at offset ${region}; outputs copied out: ${mirrorBytes} bytes)` : ''),
    dispose: host ? () => {
      // Once: either here or by the finalizer, never both.
      if (regionOwners.unregister(plan)) host.release(region);
    } : noop,
  };
  if (host) regionOwners.register(plan, { host, region }, plan);
  return plan;
}

/** Bytes kept free after every tensor of an arena that lives in a host's memory (see ArenaHost). */
const HOST_SLACK = 16;

const noop = () => {};

/** Gives a plan's arena back to its host when the plan is garbage collected. */
const regionOwners = new FinalizationRegistry<{ host: ArenaHost; region: number }>(({ host, region }) => host.release(region));

function copyInto(dst: TypedArray, src: TypedArray): void {
  (dst as Float32Array).set(src as Float32Array);
}

/**
 * The arena buffer a view op's output can share: its data input's, when that
 * lives in the arena and has the same dtype and size. Reading the output then
 * reads the input's bytes, and neither is written again (every value has one
 * producer), so sharing is exact.
 */
function viewSource(p: { node: Node; outInfos: ValueInfo[] }, lifetimes: ReadonlyMap<string, ArenaRequest>, infos: ReadonlyMap<string, ValueInfo>): ArenaRequest | undefined {
  const { node } = p;
  if (opTraits(node.op).movement !== 'view' || node.outputs.length !== 1 || !node.outputs[0]) return undefined;
  const src = node.inputs[0];
  const r = src ? lifetimes.get(src) : undefined;
  const from = src ? infos.get(src) : undefined;
  const to = p.outInfos[0];
  if (!r || !from || !to || from.dtype !== to.dtype || sizeOf(from.shape) !== sizeOf(to.shape) || !sameQuant(from.quant, to.quant)) return undefined;
  return r;
}

/**
 * Shape and Size read only their input's shape, which is known at plan time even
 * when its contents are not: fold them, so Shape → Gather → Concat → Reshape
 * chains become constants instead of making the data a shape input.
 */
function foldShapeOnly(node: Node, infos: ReadonlyMap<string, ValueInfo>): Tensor | undefined {
  if ((node.op !== 'Shape' && node.op !== 'Size') || node.outputs.length !== 1) return undefined;
  const x = infos.get(node.inputs[0] ?? '');
  if (!x) return undefined;
  if (node.op === 'Size') return Tensor.fromNumbers('int64', [], [sizeOf(x.shape)]);
  const [start, end] = shapeRange(node, x.shape.length);
  const dims = x.shape.slice(start, Math.max(start, end));
  return Tensor.fromNumbers('int64', [dims.length], dims);
}

function info(t: Tensor): ValueInfo {
  return { dtype: t.dtype, shape: [...t.shape], quant: t.quant };
}

function checkArity(node: Node, ins: readonly [number, number], outs: readonly [number, number]): void {
  let n = node.inputs.length;
  while (n > 0 && !node.inputs[n - 1]) n--;
  if (n < ins[0] || node.inputs.length > ins[1]) {
    throw new CloudlessError('E_GRAPH', `node ${node.name} (${node.op}) has ${node.inputs.length} inputs; it takes ${ins[0]} to ${ins[1]}`, { node: node.name });
  }
  if (node.outputs.length < outs[0] || node.outputs.length > outs[1]) {
    throw new CloudlessError('E_GRAPH', `node ${node.name} (${node.op}) has ${node.outputs.length} outputs; it makes ${outs[0]} to ${outs[1]}`, { node: node.name });
  }
}

import {
  DEFAULT_LIMITS, bytesPerElement, envLimits, checkTensorSize, type ResourceLimits,
  CloudlessError, Tensor, getSchema, shapeToString,
  type Backend, type DType, type Dim, type Graph, type Int8Arithmetic, type KernelContext, type TypedArray,
} from '../ir/index.js';
import { defaultRegistry } from './builtins.js';
import { PlanDeferred, planGraph, planKey, type Plan } from './plan.js';
import type { KernelRegistry } from './registry.js';

export type BackendChoice = 'auto' | Backend;

export interface SessionOptions {
  /** Which kernels to use: 'ref' (TypeScript reference), 'wasm' (SIMD), or 'auto' (fastest available). */
  backend?: BackendChoice;
  /** int8 arithmetic to match bit for bit (default 'tflite-xnnpack'). */
  int8Arithmetic?: Int8Arithmetic;
  /** Concrete shapes for inputs with symbolic or unknown dimensions, so the session can plan at load. */
  inputShapes?: Record<string, number[]>;
  /** Record per-node timings on every run (see profile()). */
  profile?: boolean;
  /**
   * Put the activation arena in the memory of the first backend's kernels when
   * they have their own (the wasm kernels' linear memory), so they read and
   * write tensors in place instead of copying each node's inputs in and outputs
   * out (default true). Outputs are then copied to buffers of their own.
   */
  arenaInBackendMemory?: boolean;
  registry?: KernelRegistry;
  /** Most elements one tensor may hold (default: load() derives it from the machine's memory; else DEFAULT_LIMITS). */
  maxTensorElements?: number;
  /** Most bytes the arena (and any one tensor, and the folded constants) may take. */
  maxArenaBytes?: number;
  /**
   * Threads the wasm kernels split the large ops over (default 1): a pool of
   * workers started once, at load, sharing the kernels' memory. Results are
   * the same bits as with one thread. Needs SharedArrayBuffer; without it the
   * kernels run on one thread (see `threadsUnavailable` in the wasm kernels).
   * CLOUDLESS_THREADS in the environment sets the default.
   */
  threads?: number;
}

export interface IOInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

/** One set of feeds for a model, named after the file it came from (calibration and evaluation samples). */
export interface Sample {
  /** The file (and index within a batch file) the sample came from. */
  name: string;
  /** File name (without folder), used to match labels. */
  file: string;
  feeds: Record<string, Tensor>;
}

export interface MemoryReport {
  /** Bytes of the activation arena (all intermediate tensors, inputs and outputs). */
  arenaBytes: number;
  /** Bytes of constant weights held by the model, plus constants folded at plan time. */
  weightBytes: number;
  /** Bytes of per-kernel scratch buffers and repacked weights. */
  scratchBytes: number;
}

export interface NodeProfile {
  node: string;
  op: string;
  calls: number;
  totalMs: number;
  meanMs: number;
}

/**
 * A loaded model ready to run. Plans are cached by input shapes: a run with the
 * shapes of the previous run reuses its arena and allocates no buffers. Tensors
 * returned by run() are views into the arena (or, when the arena lives in the
 * wasm kernels' memory, buffers of their own), overwritten by the next run();
 * clone() what you keep.
 */
export class Session {
  readonly graph: Graph;
  readonly inputs: IOInfo[];
  readonly outputs: IOInfo[];
  readonly warnings: string[];
  private readonly options: Required<Pick<SessionOptions, 'backend' | 'int8Arithmetic' | 'profile' | 'arenaInBackendMemory'>> & { registry: KernelRegistry };
  private readonly ctx: KernelContext;
  /** The resource limits every plan of this session is checked against. */
  readonly limits: ResourceLimits;
  private plan?: Plan;
  private shapeInputs = new Set<string>();
  private readonly feedMap = new Map<string, Tensor>();
  private readonly timings = new Map<string, { op: string; calls: number; totalMs: number }>();

  constructor(graph: Graph, options: SessionOptions = {}) {
    this.graph = graph;
    this.options = {
      backend: options.backend ?? 'auto',
      int8Arithmetic: options.int8Arithmetic ?? 'tflite-xnnpack',
      profile: options.profile ?? false,
      arenaInBackendMemory: options.arenaInBackendMemory ?? true,
      registry: options.registry ?? defaultRegistry,
    };
    this.ctx = { int8Arithmetic: this.options.int8Arithmetic, threads: checkThreads(graph, options.threads) };
    const defaults = envLimits(DEFAULT_LIMITS);
    this.limits = {
      maxTensorElements: options.maxTensorElements ?? defaults.maxTensorElements,
      maxArenaBytes: options.maxArenaBytes ?? defaults.maxArenaBytes,
    };
    this.warnings = [...(graph.meta.warnings ?? [])];
    this.inputs = graph.inputs.map((n) => ioInfo(graph, n));
    this.outputs = graph.outputs.map((n) => ioInfo(graph, n));
    checkSupported(graph, this.backends(), this.options.registry);
    const shapes = options.inputShapes ?? {};
    for (const name of Object.keys(shapes)) {
      if (!graph.inputs.includes(name)) throw unknownInput(graph, name);
    }
    // Plan now when every input shape is known, so load() reports memory and errors early.
    const planned = this.inputs.map((i) => concreteShape(i, shapes[i.name]));
    if (planned.every((s) => s !== undefined)) {
      // The placeholder feeds are allocated: their sizes are checked first.
      this.inputs.forEach((i, k) => checkTensorSize(planned[k]!, bytesPerElement(i.dtype), `${graph.meta.source ?? graph.name}: input "${i.name}"`, this.limits));
      const feeds = new Map(this.inputs.map((i, k) => [i.name, new Tensor(i.dtype, planned[k]!)] as const));
      try {
        this.replan(feeds, true);
      } catch (err) {
        if (!(err instanceof PlanDeferred)) throw err;
      }
    }
  }

  /** Backends tried in order. */
  backends(): Backend[] {
    const b = this.options.backend;
    if (b === 'auto') return this.options.registry.ops('wasm').size > 0 ? ['wasm', 'ref'] : ['ref'];
    return [b];
  }

  get memory(): MemoryReport {
    const p = this.plan;
    return {
      arenaBytes: p?.arenaBytes ?? 0,
      weightBytes: this.graph.weightBytes() + (p?.foldedBytes ?? 0),
      scratchBytes: (p?.scratchBytes ?? 0) + (p?.packedWeightBytes ?? 0),
    };
  }

  /** The current plan (undefined before the first run when input shapes were not known at load). */
  get currentPlan(): Plan | undefined {
    return this.plan;
  }

  /** A debug print of the arena plan: offsets, sizes and lifetimes of every tensor. */
  describePlan(): string {
    return this.plan ? this.plan.describe() : 'not planned yet: run once or pass inputShapes';
  }

  /** Runs the model. Feeds are checked against the declared inputs; a new input shape re-plans. */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.runSync(feeds);
  }

  runSync(feeds: Record<string, Tensor>): Record<string, Tensor> {
    this.checkFeeds(feeds);
    const map = this.feedMap;
    map.clear();
    for (const i of this.inputs) map.set(i.name, feeds[i.name]!);
    let plan = this.plan;
    if (!plan || !fitsPlan(plan, map)) plan = this.replan(map);
    plan.refreshViews();
    for (const [name, view] of plan.inputs) copyInto(view.data, map.get(name)!.data);
    const profile = this.options.profile;
    // With threads, the backend's workers poll between the nodes instead of sleeping (RunScope).
    const end = (this.ctx.threads ?? 1) > 1 ? this.options.registry.runScope(this.backends()[0]!)?.() : undefined;
    try {
      for (const step of plan.steps) {
        const t0 = profile ? performance.now() : 0;
        try {
          step.kernel.run(step.inputs, step.outputs, step.node, step.state, this.ctx);
        } catch (err) {
          if (err instanceof CloudlessError) throw err;
          throw new CloudlessError('E_INTERNAL', `node ${step.node.name} (${step.node.op}) failed: ${err instanceof Error ? err.message : String(err)}`, { node: step.node.name, cause: err });
        }
        if (profile) this.record(step.node.name, step.node.op, performance.now() - t0);
      }
    } finally {
      end?.();
    }
    plan.afterRun();
    const out: Record<string, Tensor> = {};
    for (const [name, t] of plan.outputs) out[name] = t;
    return out;
  }

  /** Per-node timings accumulated over runs (needs the `profile` option). */
  profile(): NodeProfile[] {
    return [...this.timings].map(([node, t]) => ({ node, op: t.op, calls: t.calls, totalMs: t.totalMs, meanMs: t.totalMs / t.calls }));
  }

  /** Forgets the timings recorded so far (e.g. of warm-up runs). */
  resetProfile(): void {
    this.timings.clear();
  }

  private record(node: string, op: string, ms: number): void {
    let t = this.timings.get(node);
    if (!t) this.timings.set(node, (t = { op, calls: 0, totalMs: 0 }));
    t.calls++;
    t.totalMs += ms;
  }

  /**
   * Releases the session's arena now (with the WebAssembly kernels it lives in
   * their memory, otherwise freed when the plan is garbage collected). A later
   * run plans again. Tensors returned by earlier runs stay valid.
   */
  dispose(): void {
    this.plan?.dispose();
    this.plan = undefined;
  }

  private replan(feeds: ReadonlyMap<string, Tensor>, placeholderFeeds = false): Plan {
    const backends = this.backends();
    // The previous plan is never run again: its arena goes back now.
    this.plan?.dispose();
    this.plan = undefined;
    this.plan = planGraph(this.graph, feeds, {
      backends, ctx: this.ctx, registry: this.options.registry, shapeInputs: this.shapeInputs, placeholderFeeds, limits: this.limits,
      arenaHost: this.options.arenaInBackendMemory ? this.options.registry.arenaHost(backends[0]!) : undefined,
    });
    this.shapeInputs = this.plan.shapeInputs;
    return this.plan;
  }

  private checkFeeds(feeds: Record<string, Tensor>): void {
    const src = this.graph.meta.source ?? this.graph.name;
    for (const name of Object.keys(feeds)) {
      if (!this.graph.inputs.includes(name)) throw unknownInput(this.graph, name);
    }
    for (const info of this.inputs) {
      const t = feeds[info.name];
      if (!t) {
        throw new CloudlessError('E_INPUT', `${src}: missing input "${info.name}" (${info.dtype} ${shapeToString(info.shape)})`);
      }
      if (!(t instanceof Tensor)) {
        throw new CloudlessError('E_INPUT', `${src}: input "${info.name}" must be a Tensor`);
      }
      if (t.dtype !== info.dtype) {
        throw new CloudlessError('E_INPUT', `${src}: input "${info.name}" must be ${info.dtype}, got ${t.dtype}`);
      }
      const declared = info.shape;
      const bad = declared.length !== t.shape.length ||
        declared.some((d, k) => typeof d === 'number' && d >= 0 && d !== t.shape[k]);
      if (this.graph.values.get(info.name)?.shape && bad) {
        throw new CloudlessError('E_INPUT', `${src}: input "${info.name}" must have shape ${shapeToString(declared)}, got ${shapeToString(t.shape)}`);
      }
    }
  }
}

/** Most threads a session may ask for (the wasm pool's limit). */
const MAX_THREADS = 64;

/** CLOUDLESS_THREADS, when set, is the default of the threads option (so a whole test suite can run on the pool). */
function envThreads(): number | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.CLOUDLESS_THREADS;
  return v ? Number(v) : undefined;
}

function checkThreads(graph: Graph, given: number | undefined): number {
  const threads = given ?? envThreads();
  if (threads === undefined) return 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new CloudlessError('E_INPUT', `${graph.meta.source ?? graph.name}: option threads must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`, {
      hint: 'pass threads: 2 to run the large ops on two threads',
    });
  }
  return threads;
}

function ioInfo(graph: Graph, name: string): IOInfo {
  const v = graph.values.get(name);
  if (!v) throw new CloudlessError('E_GRAPH', `graph ${graph.name}: input or output "${name}" is not declared`);
  return { name, dtype: v.dtype, shape: v.shape ? [...v.shape] : [] };
}

function concreteShape(info: IOInfo, given: number[] | undefined): number[] | undefined {
  if (given) return given;
  if (info.shape.every((d): d is number => typeof d === 'number' && d >= 0)) return info.shape as number[];
  return undefined;
}

function unknownInput(graph: Graph, name: string): CloudlessError {
  return new CloudlessError('E_INPUT', `${graph.meta.source ?? graph.name}: the model has no input "${name}"`, {
    hint: `inputs are: ${graph.inputs.join(', ')}`,
  });
}

/**
 * Whether feeds can run on a plan: on the hot path, a plain comparison of dtypes
 * and shapes with the plan's input views; the full key (with contents) only when
 * some input's contents decide shapes.
 */
function fitsPlan(plan: Plan, feeds: ReadonlyMap<string, Tensor>): boolean {
  if (plan.shapeInputs.size > 0) return planKey(feeds, plan.shapeInputs) === plan.key;
  if (plan.inputs.size !== feeds.size) return planKey(feeds, plan.shapeInputs) === plan.key;
  for (const [name, view] of plan.inputs) {
    const t = feeds.get(name);
    if (!t || t.dtype !== view.dtype || t.shape.length !== view.shape.length) return false;
    for (let i = 0; i < t.shape.length; i++) if (t.shape[i] !== view.shape[i]) return false;
  }
  return true;
}

function copyInto(dst: TypedArray, src: TypedArray): void {
  (dst as Float32Array).set(src as Float32Array);
}

/**
 * Refuses a graph that holds ops no kernel implements, listing every such node at
 * once (so a user sees the whole list, not the first failure).
 */
export function checkSupported(graph: Graph, backends: readonly Backend[], registry: KernelRegistry = defaultRegistry): void {
  const missing = unsupportedNodes(graph, backends, registry);
  if (missing.length === 0) return;
  const ops = [...new Set(missing.map((m) => m.op))];
  const list = missing.slice(0, 12).map((m) => `${m.node} (${m.op})`).join(', ');
  throw new CloudlessError('E_UNSUPPORTED_OP',
    `${graph.meta.source ?? graph.name}: unsupported op${ops.length > 1 ? 's' : ''} ${ops.join(', ')} at node${missing.length > 1 ? 's' : ''} ${list}${missing.length > 12 ? ` and ${missing.length - 12} more` : ''}`,
    { node: missing[0]!.node, hint: 'run `cloudless info <model>` for the full list; docs/conformance.md lists supported ops' });
}

/** Nodes whose op has no schema or no kernel on the given backends. */
export function unsupportedNodes(graph: Graph, backends: readonly Backend[], registry: KernelRegistry = defaultRegistry): { node: string; op: string }[] {
  const out: { node: string; op: string }[] = [];
  for (const n of graph.nodes) {
    const hasKernel = backends.some((b) => registry.candidates(b, n.op).length > 0);
    if (!getSchema(n.op) || !hasKernel) out.push({ node: n.name, op: n.op });
  }
  return out;
}

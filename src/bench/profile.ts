/**
 * Where a model's time goes in cloudless: per-op totals of a session's per-node
 * timings (SessionOptions.profile) over timed runs after warm-up, with the
 * backend each op's nodes ran on and the slowest nodes. For finding the kernel
 * to work on next; the latency figures themselves come from benchModel.
 */
import type { Tensor } from '../ir/index.js';
import type { Graph } from '../ir/index.js';
import { Session, type BackendChoice } from '../runtime/session.js';

export interface OpProfile {
  op: string;
  /** Backends the op's nodes ran on ("wasm", "ref", or both). */
  backends: string[];
  nodes: number;
  /** Mean milliseconds per run spent in the op's nodes. */
  ms: number;
  /** Share of the summed node time, in percent. */
  percent: number;
}

export interface ModelProfile {
  runs: number;
  /** Mean milliseconds per run, summed over nodes (excludes copying feeds in). */
  totalMs: number;
  ops: OpProfile[];
  /** The slowest nodes, slowest first. */
  nodes: { node: string; op: string; backend: string; ms: number }[];
}

export function profileModel(graph: Graph, feeds: Record<string, Tensor>, options: { backend?: BackendChoice; runs?: number; warmup?: number; top?: number } = {}): ModelProfile {
  const runs = Math.max(1, options.runs ?? 10);
  const session = new Session(graph, { backend: options.backend ?? 'auto', profile: true });
  for (let i = 0; i < (options.warmup ?? 2); i++) session.runSync(feeds);
  session.resetProfile();
  for (let i = 0; i < runs; i++) session.runSync(feeds);
  const backendOf = new Map(session.currentPlan!.steps.map((s) => [s.node.name, s.kernel.backend]));
  const byOp = new Map<string, { backends: Set<string>; nodes: number; ms: number }>();
  const nodes = session.profile().map((p) => ({ node: p.node, op: p.op, backend: backendOf.get(p.node) ?? '?', ms: p.totalMs / runs }));
  for (const n of nodes) {
    const e = byOp.get(n.op) ?? { backends: new Set<string>(), nodes: 0, ms: 0 };
    e.backends.add(n.backend);
    e.nodes++;
    e.ms += n.ms;
    byOp.set(n.op, e);
  }
  const totalMs = nodes.reduce((s, n) => s + n.ms, 0);
  const ops = [...byOp].map(([op, e]) => ({ op, backends: [...e.backends].sort(), nodes: e.nodes, ms: e.ms, percent: totalMs > 0 ? (100 * e.ms) / totalMs : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { runs, totalMs, ops, nodes: nodes.sort((a, b) => b.ms - a.ms).slice(0, options.top ?? 10) };
}

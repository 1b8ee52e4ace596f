import { CloudlessError } from './errors.js';
import type { DType } from './dtype.js';
import type { Node } from './graph.js';
import type { ArenaHost, Backend, KernelDef, RunScope } from './kernel.js';
import type { ValueInfo } from './schema.js';

/**
 * The kernel registry: one map keyed by backend and op, holding kernels by the
 * dtype of their type-deciding input. Registering the same (backend, op, dtype)
 * twice throws. It can list its coverage for docs and error messages.
 */
export class KernelRegistry {
  private readonly kernels = new Map<string, KernelDef[]>();
  private readonly hosts = new Map<Backend, ArenaHost>();
  private readonly scopes = new Map<Backend, RunScope>();

  /** Declares the memory a backend's kernels work in (see ArenaHost). */
  setArenaHost(backend: Backend, host: ArenaHost): void {
    this.hosts.set(backend, host);
  }

  arenaHost(backend: Backend): ArenaHost | undefined {
    return this.hosts.get(backend);
  }

  /** Declares what a backend does around a whole run of a session with threads > 1 (see RunScope). */
  setRunScope(backend: Backend, scope: RunScope): void {
    this.scopes.set(backend, scope);
  }

  runScope(backend: Backend): RunScope | undefined {
    return this.scopes.get(backend);
  }

  register(def: KernelDef): void {
    const key = `${def.backend}:${def.op}`;
    const list = this.kernels.get(key) ?? [];
    for (const other of list) {
      const clash = other.dtypes.find((d) => def.dtypes.includes(d));
      if (clash && !other.check && !def.check) {
        throw new CloudlessError('E_INTERNAL', `kernel ${def.op} for ${clash} on backend ${def.backend} is registered twice`);
      }
    }
    list.push(def);
    this.kernels.set(key, list);
  }

  registerAll(defs: readonly KernelDef[]): void {
    for (const d of defs) this.register(d);
  }

  /** Kernels for an op on a backend, in registration order. */
  candidates(backend: Backend, op: string): readonly KernelDef[] {
    return this.kernels.get(`${backend}:${op}`) ?? [];
  }

  /**
   * Finds the kernel for a node, trying backends in order. Returns the kernel,
   * or the reasons why none fits (for the error message).
   */
  find(backends: readonly Backend[], node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]):
    { kernel: KernelDef } | { reasons: string[] } {
    const reasons: string[] = [];
    for (const backend of backends) {
      for (const k of this.candidates(backend, node.op)) {
        const ti = k.typeInput ?? 0;
        const dtype = ti < 0 ? outputs[0]?.dtype : inputs[ti]?.dtype;
        if (dtype === undefined || !k.dtypes.includes(dtype)) {
          reasons.push(`${backend} kernel takes ${k.dtypes.join('/')}, not ${dtype ?? 'nothing'}`);
          continue;
        }
        const why = k.check?.(node, inputs, outputs);
        if (why) { reasons.push(`${backend}: ${why}`); continue; }
        return { kernel: k };
      }
    }
    if (reasons.length === 0) reasons.push(`no kernel implements ${node.op} on ${backends.join(' or ')}`);
    return { reasons };
  }

  /** Coverage: for each backend and op, the dtypes with a kernel. */
  coverage(): { backend: Backend; op: string; dtypes: DType[] }[] {
    const out: { backend: Backend; op: string; dtypes: DType[] }[] = [];
    for (const list of this.kernels.values()) {
      const first = list[0]!;
      const dtypes = [...new Set(list.flatMap((k) => k.dtypes))];
      out.push({ backend: first.backend, op: first.op, dtypes });
    }
    return out.sort((a, b) => a.backend.localeCompare(b.backend) || a.op.localeCompare(b.op));
  }

  /** Ops with at least one kernel on a backend. */
  ops(backend: Backend): Set<string> {
    const s = new Set<string>();
    for (const list of this.kernels.values()) for (const k of list) if (k.backend === backend) s.add(k.op);
    return s;
  }
}

import { registerSchemas, getSchema } from '../ir/index.js';
import { allSchemas } from '../ir/ops/index.js';
import { refKernels } from '../kernels/ref/index.js';
import { allWasmKernels, wasmArenaHost, wasmAvailable } from '../kernels/wasm/index.js';
import { controlKernels, installBodyPlanning } from '../kernels/ref/control-flow.js';
import { KernelRegistry } from './registry.js';
import { PlanDeferred, activePlanOptions, planGraph } from './plan.js';
import { defaultKernelContext } from './eval-node.js';

let registered = false;

/** Registers the built-in op schemas once per process. */
export function ensureSchemas(): void {
  if (registered) return;
  registered = true;
  registerSchemas(allSchemas.filter((s) => !getSchema(s.op)));
}

/** The process-wide registry with every built-in kernel. */
export const defaultRegistry = new KernelRegistry();
defaultRegistry.registerAll(refKernels);
// If/Loop/Scan run their bodies through the planner, which they cannot import themselves (a cycle).
installBodyPlanning({
  planGraph,
  isPlanDeferred: (err): err is PlanDeferred => err instanceof PlanDeferred,
  // Bodies keep their arenas in JavaScript memory: their kernels feed and read body plans' views directly,
  // which a host's memory could replace between runs.
  options: () => {
    const outer = activePlanOptions();
    return outer ? { ...outer, arenaHost: undefined } : { backends: ['ref'], ctx: defaultKernelContext, registry: defaultRegistry };
  },
});
defaultRegistry.registerAll(controlKernels);

let wasmRegistered = false;

/**
 * Registers the wasm kernels and their arena host in the default registry once
 * the module is loaded: at import in Node, after initWasm() in a page. Returns
 * whether they are registered.
 */
export function enableWasmKernels(): boolean {
  if (wasmRegistered) return true;
  if (!wasmAvailable()) return false;
  wasmRegistered = true;
  defaultRegistry.registerAll(allWasmKernels);
  defaultRegistry.setArenaHost('wasm', wasmArenaHost());
  return true;
}
enableWasmKernels();
ensureSchemas();

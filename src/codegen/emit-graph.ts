/**
 * The NN emitter: a loaded graph → a dependency-free C99 package (package.ts).
 *
 *   1. The graph is planned by the runtime's own planner (src/runtime/plan.ts)
 *      on the reference kernels in the chosen int8 arithmetic, exactly as
 *      `load(model, { backend: 'ref', int8Arithmetic })` plans it: same node
 *      order, same folding of constant subgraphs, same arena offsets, and
 *      reshapes that alias their input's bytes cost nothing.
 *   2. Each planned step becomes one call of a C kernel (emit-node.ts) whose
 *      params hold the constants the reference kernel prepared.
 *   3. Tensors in the arena become `arena + offset` with the planner's offsets;
 *      every other tensor a step reads is a constant: a `static const` array.
 *   4. The arena is one `static uint8_t` array of exactly the plan's size, or
 *      a caller's buffer (`<name>_invoke_with_arena`).
 */
import { CloudlessError, Tensor, bytesPerElement, type Graph } from '../ir/index.js';
import type { Int8Arithmetic } from '../ir/kernel.js';
import { Session } from '../runtime/session.js';
import type { Plan } from '../runtime/plan.js';
import { cIdentifier, cType, initializer } from './c-data.js';
import { closePieces, kernelFiles } from './c-kernels.js';
import { emitterFor, type EmitContext } from './emit-node.js';
import type { CPackage, CTensorInfo } from './package.js';

export interface EmitOptions {
  /** C identifier prefix (default: from the graph's name). */
  name?: string;
  int8Arithmetic?: Int8Arithmetic;
  /** Concrete shapes for inputs with symbolic dimensions. */
  inputShapes?: Record<string, number[]>;
  /**
   * Prefixes every kernel symbol (`cl_*` → `<p>_cl_*`, `CL_*` → `<P>_CL_*`), so that several
   * packages can be linked into one program even when their kernel libraries overlap.
   */
  kernelPrefix?: string;
}

/** The arena's alignment: the planner's, and what a caller-supplied arena must have. */
export const ARENA_ALIGNMENT = 16;

/** Emits the C package of a graph, or refuses it with a CloudlessError naming the node and op. */
export function emitC(graph: Graph, options: EmitOptions = {}): CPackage {
  const arithmetic = options.int8Arithmetic ?? 'tflite-reference';
  const session = new Session(graph, { backend: 'ref', int8Arithmetic: arithmetic, arenaInBackendMemory: false, inputShapes: options.inputShapes });
  const plan = session.currentPlan;
  if (!plan) {
    throw new CloudlessError('E_UNSUPPORTED', `${graph.meta.source ?? graph.name}: the graph cannot be planned statically (an input shape is unknown or a shape depends on input data)`, {
      hint: 'give concrete input shapes; the C target needs one static plan',
    });
  }
  const name = cIdentifier((options.name ?? graph.name ?? 'model').toLowerCase());
  const pkg = emitPlan(graph, plan, name, arithmetic);
  return options.kernelPrefix === undefined ? pkg : prefixKernels(pkg, options.kernelPrefix);
}

/** Renames the kernel library's symbols and macros in every file of the package (EmitOptions.kernelPrefix). */
export function prefixKernels(pkg: CPackage, prefix: string): CPackage {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(prefix)) {
    throw new CloudlessError('E_CONFIG', `kernel prefix "${prefix}" is not a C identifier`, { hint: 'use letters, digits and underscores, starting with a letter' });
  }
  const lower = prefix.toLowerCase(), upper = prefix.toUpperCase();
  const rename = (text: string) => text
    .replace(/\bcl_/g, `${lower}_cl_`).replace(/\bCL_/g, `${upper}_CL_`)
    .replace(/\bCLOUDLESS_KERNELS_H\b/g, `${upper}_CLOUDLESS_KERNELS_H`);
  return { ...pkg, files: Object.fromEntries(Object.entries(pkg.files).map(([f, text]) => [f, rename(text)])) };
}

function arenaBufferOf(plan: Plan): ArrayBufferLike | undefined {
  for (const t of plan.inputs.values()) return t.data.buffer;
  for (const s of plan.steps) for (const t of s.outputs) return t.data.buffer;
  return undefined;
}

function emitPlan(graph: Graph, plan: Plan, name: string, arithmetic: Int8Arithmetic): CPackage {
  const NAME = name.toUpperCase();
  const arena = arenaBufferOf(plan);
  const arenaBytes = plan.arenaBytes;
  const consts = new Map<unknown, string>();
  const constDefs: string[] = [];
  let constBytes = 0;
  const used = new Set<string>();
  const unique = (base: string) => {
    let id = cIdentifier(base), k = 1;
    while (used.has(id)) id = `${cIdentifier(base)}_${k++}`;
    used.add(id);
    return id;
  };

  const constantArray = (t: Tensor, hint: string): string => {
    const known = consts.get(t.data);
    if (known) return known;
    const id = unique(`${name}_c_${hint}`);
    const type = cType(t.dtype);
    constDefs.push(`/* ${hint}: ${t.dtype} [${t.shape.join(', ')}] */\nstatic const ${type} ${id}[${Math.max(t.size, 1)}] CL_ALIGN(16) = {${initializer(t.data, t.dtype)}};\n`);
    constBytes += Math.max(t.size, 1) * bytesPerElement(t.dtype);
    consts.set(t.data, id);
    return id;
  };
  const inArena = (t: Tensor) => arena !== undefined && t.data.buffer === arena;
  const valueName = new Map<Tensor, string>();
  for (const s of plan.steps) {
    s.node.inputs.forEach((n, i) => { const t = s.inputs[i]; if (t && n) valueName.set(t, n); });
  }
  const pointer = (t: Tensor | undefined, mutable: boolean): string => {
    if (!t) return '0';
    const type = cType(t.dtype);
    if (inArena(t)) return `(${mutable ? '' : 'const '}${type} *)(arena + ${t.data.byteOffset})`;
    if (mutable) throw new CloudlessError('E_INTERNAL', `a step writes a tensor outside the arena (${valueName.get(t) ?? 'unnamed'})`);
    return constantArray(t, valueName.get(t) ?? 'const');
  };

  // Mutable storage outside the arena: state carried across invokes (zeroed by reset) and per-call scratch.
  const stateDefs: string[] = [], stateNames: string[] = [], scratchDefs: string[] = [];
  let stateBytes = 0, scratchBytes = 0;
  const storage = (kind: 'state' | 'scratch') => (hint: string, ctype: string, count: number, elementBytes: number): string => {
    const id = unique(`${name}_${kind}_${hint}`);
    const def = `static ${ctype} ${id}[${Math.max(count, 1)}];`;
    if (kind === 'state') { stateDefs.push(def); stateNames.push(id); stateBytes += count * elementBytes; }
    else { scratchDefs.push(def); scratchBytes += count * elementBytes; }
    return id;
  };

  const pieceIds: string[] = [];
  const nodeDefs: string[] = [];
  const calls: string[] = [];
  plan.steps.forEach((step, k) => {
    const emit = emitterFor(step);
    const paramsName = unique(`${name}_p${k}_${step.node.op.toLowerCase()}`);
    const ctx: EmitContext = {
      pointer, paramsName, arithmetic,
      isConstant: (t) => !inArena(t),
      state(hint, ctype, count, elementBytes) { return storage('state')(`p${k}_${hint}`, ctype, count, elementBytes); },
      scratch(hint, ctype, count, elementBytes) { return storage('scratch')(`p${k}_${hint}`, ctype, count, elementBytes); },
      int32Table(hint, values) {
        const t = new Tensor('int32', [values.length], Int32Array.from(values));
        return constantArray(t, `${paramsName}_${hint}`);
      },
      floatTable(hint, values) {
        return constantArray(new Tensor('float32', [values.length], Float32Array.from(values)), `${paramsName}_${hint}`);
      },
      int16Table(hint, values) {
        return constantArray(new Tensor('int16', [values.length], values), `${paramsName}_${hint}`);
      },
      int8Table(hint, values) {
        return constantArray(new Tensor('int8', [values.length], values), `${paramsName}_${hint}`);
      },
    };
    const out = emit(step, ctx);
    pieceIds.push(...out.pieces);
    nodeDefs.push(out.definitions);
    calls.push(`  /* ${k}: ${step.node.name} (${step.node.op}) */\n  ${out.call}`);
  });

  const ioInfo = (gname: string, t: Tensor): CTensorInfo => {
    const q = graph.values.get(gname)?.quant ?? t.quant;
    return {
      name: gname, dtype: t.dtype, shape: [...t.shape], bytes: t.byteLength,
      quant: q && q.scale.length === 1 ? { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0 } : undefined,
    };
  };
  const inputs: CTensorInfo[] = [];
  const inputExprs: string[] = [];
  for (const gname of graph.inputs) {
    const t = plan.inputs.get(gname);
    if (!t) throw new CloudlessError('E_UNSUPPORTED', `input "${gname}" is folded into a constant; the C target needs every input in the arena`);
    cType(t.dtype);
    inputs.push(ioInfo(gname, t));
    inputExprs.push(`current_arena + ${t.data.byteOffset}`);
  }
  const outputs: CTensorInfo[] = [];
  const outputExprs: string[] = [];
  for (const gname of graph.outputs) {
    const t = plan.outputs.get(gname);
    if (!t) throw new CloudlessError('E_INTERNAL', `output "${gname}" has no planned tensor`);
    outputs.push(ioInfo(gname, t));
    outputExprs.push(inArena(t) ? `current_arena + ${t.data.byteOffset}` : `(const void *)${constantArray(t, gname)}`);
  }

  const pieces = closePieces(pieceIds);
  const kernels = kernelFiles(pieces);
  const header = packageHeader(name, NAME, arenaBytes, inputs, outputs, plan, graph, stateBytes, scratchBytes);
  const source = `/* ${name}.c: ${graph.meta.source ?? graph.name} compiled by cloudless (${arithmetic} arithmetic). */
#include "${name}.h"
#include "cloudless_kernels.h"

#if defined(__GNUC__)
#define CL_ALIGN(n) __attribute__((aligned(n)))
#else
#define CL_ALIGN(n)
#endif

/* ---- constants (flash) ---- */
${constDefs.join('\n')}
/* ---- state carried across invokes (zeroed by ${name}_reset) and scratch of single calls ---- */
${[...stateDefs, ...scratchDefs].join('\n') || '/* none */'}

/* ---- node parameters ---- */
${nodeDefs.join('\n')}
/* ---- arena ---- */
#ifndef ${NAME}_NO_STATIC_ARENA
static uint8_t ${name}_arena[${Math.max(arenaBytes, 1)}] CL_ALIGN(${ARENA_ALIGNMENT});
static uint8_t *current_arena = ${name}_arena;
#else
static uint8_t *current_arena = 0;
#endif

int ${name}_invoke_with_arena(uint8_t *arena) {
  if (arena == 0) return ${NAME}_STATUS_NO_ARENA;
  if (((uintptr_t)arena & ${ARENA_ALIGNMENT - 1}u) != 0) return ${NAME}_STATUS_MISALIGNED_ARENA;
  current_arena = arena;
${calls.join('\n')}
  return ${NAME}_STATUS_OK;
}

#ifndef ${NAME}_NO_STATIC_ARENA
int ${name}_invoke(void) { return ${name}_invoke_with_arena(${name}_arena); }
#endif

void ${name}_reset(void) {
${stateNames.map((id) => `  { uint32_t k; for (k = 0; k < sizeof(${id}) / sizeof(${id}[0]); k++) ${id}[k] = 0; }`).join('\n') || '  /* the model keeps no state */'}
}

void *${name}_input(int i) {
  if (current_arena == 0) return 0;
  switch (i) {
${inputExprs.map((e, i) => `    case ${i}: return ${e};`).join('\n')}
    default: return 0;
  }
}

const void *${name}_output(int i) {
  if (current_arena == 0) return 0;
  switch (i) {
${outputExprs.map((e, i) => `    case ${i}: return ${e};`).join('\n')}
    default: return 0;
  }
}
`;
  return {
    name,
    files: { [`${name}.h`]: header, [`${name}.c`]: source, 'cloudless_kernels.h': kernels.header, 'cloudless_kernels.c': kernels.source },
    arenaBytes, arenaLowerBound: plan.arenaLowerBound, constBytes, inputs, outputs, needsLibm: false, stateBytes, scratchBytes,
  };
}

function tensorMacros(NAME: string, kind: 'INPUT' | 'OUTPUT', i: number, t: CTensorInfo): string {
  const p = `${NAME}_${kind}${i}`;
  const lines = [
    `/* ${kind.toLowerCase()} ${i}: "${t.name}" ${t.dtype} [${t.shape.join(', ')}] */`,
    `#define ${p}_BYTES ${t.bytes}`,
    `#define ${p}_RANK ${t.shape.length}`,
    ...t.shape.map((d, k) => `#define ${p}_DIM${k} ${d}`),
  ];
  if (t.quant) lines.push(`#define ${p}_SCALE ${t.quant.scale.toPrecision(9)}f`, `#define ${p}_ZERO_POINT ${t.quant.zeroPoint}`);
  return lines.join('\n');
}

function packageHeader(name: string, NAME: string, arenaBytes: number, inputs: CTensorInfo[], outputs: CTensorInfo[], plan: Plan, graph: Graph, stateBytes: number, scratchBytes: number): string {
  const offsets = (list: CTensorInfo[], kind: 'INPUT' | 'OUTPUT', map: ReadonlyMap<string, Tensor>) => list
    .map((t, i) => { const v = map.get(t.name); return v && v.data.buffer === arenaBufferOf(plan) ? `#define ${NAME}_${kind}${i}_OFFSET ${v.data.byteOffset}` : ''; })
    .filter(Boolean).join('\n');
  return `/*
 * ${name}.h: ${graph.meta.source ?? graph.name}, compiled to C99 by cloudless.
 *
 * Usage:
 *   int8_t *in = ${name}_input(0);      write ${NAME}_INPUT0_BYTES bytes
 *   if (${name}_invoke() != ${NAME}_STATUS_OK) ...;
 *   const int8_t *out = ${name}_output(0);
 *
 * With ${NAME}_NO_STATIC_ARENA defined the package holds no arena: call
 * ${name}_invoke_with_arena(buf) with a ${ARENA_ALIGNMENT}-byte aligned buffer of ${NAME}_ARENA_BYTES,
 * inputs written at buf + ${NAME}_INPUT<i>_OFFSET. input()/output() point into the
 * arena used last. Nothing allocates, prints or reads outside its buffers.
 *
 * ${stateBytes > 0 ? `The model is stateful: ${NAME}_STATE_BYTES bytes (a static array in ${name}.c) carry
 * over from one invoke to the next, as successive runs of an engine session do.
 * ${name}_reset() zeroes them, as a fresh session starts; they start zeroed.` : `The model keeps no state between invokes (${name}_reset() does nothing).`}
 */
#ifndef ${NAME}_H
#define ${NAME}_H
#include <stdint.h>

#define ${NAME}_ARENA_BYTES ${arenaBytes}
#define ${NAME}_ARENA_ALIGNMENT ${ARENA_ALIGNMENT}
#define ${NAME}_STATE_BYTES ${stateBytes}
#define ${NAME}_SCRATCH_BYTES ${scratchBytes}
#define ${NAME}_STATEFUL ${stateBytes > 0 ? 1 : 0}
#define ${NAME}_NUM_INPUTS ${inputs.length}
#define ${NAME}_NUM_OUTPUTS ${outputs.length}

/* Status codes of invoke. */
#define ${NAME}_STATUS_OK 0
#define ${NAME}_STATUS_NO_ARENA 1
#define ${NAME}_STATUS_MISALIGNED_ARENA 2

${inputs.map((t, i) => tensorMacros(NAME, 'INPUT', i, t)).join('\n')}
${offsets(inputs, 'INPUT', plan.inputs)}
${outputs.map((t, i) => tensorMacros(NAME, 'OUTPUT', i, t)).join('\n')}
${offsets(outputs, 'OUTPUT', plan.outputs)}

int ${name}_invoke_with_arena(uint8_t *arena);
#ifndef ${NAME}_NO_STATIC_ARENA
int ${name}_invoke(void);
#endif
void ${name}_reset(void);
void *${name}_input(int i);
const void *${name}_output(int i);

#endif
`;
}

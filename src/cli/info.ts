import { CloudlessError, Tensor, shapeToString, type Dim, type Graph } from '../ir/index.js';
import { readModel } from '../runtime/load.js';
import { Session, unsupportedNodes } from '../runtime/session.js';
import { formatBytes, table } from './output.js';

export interface ModelInfo {
  file: string;
  format: string;
  producer?: string;
  opsets?: Record<string, number>;
  inputs: { name: string; dtype: string; shape: Dim[] }[];
  outputs: { name: string; dtype: string; shape: Dim[] }[];
  nodes: number;
  ops: Record<string, number>;
  parameters: number;
  weightBytes: number;
  /** Planned arena bytes, with the input shapes used to plan (symbolic dimensions taken as 1). */
  arena?: { bytes: number; inputShapes: Record<string, number[]> };
  arenaError?: string;
  unsupported: { node: string; op: string }[];
  warnings: string[];
}

export async function modelInfo(file: string, backend: 'ref' | 'auto' = 'auto'): Promise<ModelInfo> {
  const graph = await readModel(file);
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  let parameters = 0;
  for (const v of graph.values.values()) if (v.constant) parameters += v.constant.size;
  const info: ModelInfo = {
    file,
    format: graph.meta.format,
    producer: graph.meta.producer,
    opsets: graph.meta.opsets,
    inputs: graph.inputs.map((n) => io(graph, n)),
    outputs: graph.outputs.map((n) => io(graph, n)),
    nodes: graph.nodes.length,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1])),
    parameters,
    weightBytes: graph.weightBytes(),
    unsupported: unsupportedNodes(graph, backend === 'ref' ? ['ref'] : ['wasm', 'ref']),
    warnings: [...(graph.meta.warnings ?? [])],
  };
  if (info.unsupported.length === 0) {
    const inputShapes = Object.fromEntries(info.inputs.map((i) => [i.name, i.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1))]));
    try {
      const s = new Session(graph, { inputShapes, backend });
      info.arena = { bytes: s.memory.arenaBytes, inputShapes };
    } catch (err) {
      info.arenaError = err instanceof CloudlessError ? err.message : String(err);
    }
  }
  return info;
}

function io(graph: Graph, name: string) {
  const v = graph.value(name);
  return { name, dtype: v.dtype, shape: v.shape ?? [] };
}

export function printInfo(i: ModelInfo): string {
  const lines: string[] = [];
  lines.push(`${i.file}`);
  lines.push(`  format      ${i.format}${i.producer ? ` (producer ${i.producer})` : ''}`);
  if (i.opsets) lines.push(`  opsets      ${Object.entries(i.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}`);
  lines.push(`  nodes       ${i.nodes}`);
  lines.push(`  parameters  ${i.parameters.toLocaleString('en-US')} (${formatBytes(i.weightBytes)} of weights)`);
  if (i.arena) lines.push(`  arena       ${formatBytes(i.arena.bytes)} planned for ${Object.entries(i.arena.inputShapes).map(([n, s]) => `${n} ${shapeToString(s)}`).join(', ')}`);
  else if (i.arenaError) lines.push(`  arena       not planned: ${i.arenaError}`);
  lines.push('', table(['input', 'dtype', 'shape'], i.inputs.map((x) => [x.name, x.dtype, shapeToString(x.shape)])));
  lines.push('', table(['output', 'dtype', 'shape'], i.outputs.map((x) => [x.name, x.dtype, shapeToString(x.shape)])));
  lines.push('', table(['op', 'count'], Object.entries(i.ops), ['l', 'r']));
  if (i.unsupported.length) {
    lines.push('', `unsupported ops (${i.unsupported.length} nodes):`);
    lines.push(table(['node', 'op'], i.unsupported.map((u) => [u.node, u.op])));
  }
  for (const w of i.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

export type { Tensor };

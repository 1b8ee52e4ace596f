import { CloudlessError } from './errors.js';
import type { AttrValue, Graph, Node } from './graph.js';
import { Tensor } from './tensor.js';

function bad(node: Node, name: string, want: string, got: AttrValue | undefined): never {
  throw new CloudlessError('E_ATTR', `node ${node.name} (${node.op}): attribute "${name}" must be ${want}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`, { node: node.name });
}

export function hasAttr(node: Node, name: string): boolean {
  return node.attrs[name] !== undefined;
}

export function attrInt(node: Node, name: string, fallback?: number): number {
  const v = node.attrs[name] ?? fallback;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(node, name, 'an integer', v);
  return Math.trunc(v);
}

export function attrFloat(node: Node, name: string, fallback?: number): number {
  const v = node.attrs[name] ?? fallback;
  if (typeof v !== 'number') return bad(node, name, 'a number', v);
  return v;
}

export function attrString(node: Node, name: string, fallback?: string): string {
  const v = node.attrs[name] ?? fallback;
  if (typeof v !== 'string') return bad(node, name, 'a string', v);
  return v;
}

export function attrInts(node: Node, name: string, fallback?: number[]): number[] {
  const v = node.attrs[name] ?? fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) return bad(node, name, 'a list of integers', v as AttrValue);
  return (v as number[]).map((x) => Math.trunc(x));
}

export function attrFloats(node: Node, name: string, fallback?: number[]): number[] {
  const v = node.attrs[name] ?? fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) return bad(node, name, 'a list of numbers', v as AttrValue);
  return v as number[];
}

export function attrStrings(node: Node, name: string, fallback?: string[]): string[] {
  const v = node.attrs[name] ?? fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return bad(node, name, 'a list of strings', v as AttrValue);
  return v as string[];
}

export function attrTensor(node: Node, name: string): Tensor {
  const v = node.attrs[name];
  if (!(v instanceof Tensor)) return bad(node, name, 'a tensor', v);
  return v;
}

export function attrGraph(node: Node, name: string): Graph {
  const v = node.attrs[name];
  if (v === undefined || typeof v !== 'object' || Array.isArray(v) || v instanceof Tensor) return bad(node, name, 'a graph', v);
  return v;
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/data.js';

/**
 * The import rules of docs/ARCHITECTURE.md, enforced: every relative import in src/ goes from a file's
 * layer to a layer that layer may import (or stays inside its own layer). The layers are the folders
 * of src/ (kernels/ref and kernels/wasm apart); src/index.ts is the public API and may import anything.
 */
export const MAY_IMPORT: Record<string, readonly string[]> = {
  ir: [],
  formats: ['ir'],
  passes: ['ir'],
  'kernels/ref': ['ir'],
  'kernels/wasm': ['ir', 'kernels/ref'],
  runtime: ['ir', 'kernels/ref', 'kernels/wasm', 'passes', 'formats'],
  codegen: ['ir', 'passes', 'runtime', 'formats'],
  quantize: ['ir', 'formats', 'passes', 'runtime'],
  zoo: ['ir', 'formats'],
  tasks: ['ir', 'runtime', 'zoo', 'formats'],
  pipeline: ['ir', 'runtime', 'tasks', 'zoo'],
  fleet: ['ir', 'pipeline', 'runtime', 'zoo'],
  bench: ['ir', 'runtime', 'formats', 'passes', 'quantize', 'kernels/wasm'],
  browser: ['ir', 'runtime', 'kernels/wasm', 'tasks', 'zoo', 'formats'],
  cli: ['*'],
  server: ['*'],
  index: ['*'],
};

/**
 * Imports against the rules that exist today, each to be removed (issue 20). A new one fails the test;
 * removing one of these and not this line fails it too, so the list only shrinks.
 */
export const KNOWN_BACK_EDGES: readonly string[] = [
];

export const SRC = path.join(repoRoot, 'src');
/** Folders outside the TypeScript layering: AssemblyScript sources and their build output. */
const SKIP = new Set(['src/kernels/wasm/assembly', 'src/kernels/wasm/generated']);

export function layerOf(rel: string): string {
  const parts = rel.split('/');
  if (parts.length === 1) return 'index';
  if (parts[0] === 'kernels') return `kernels/${parts[1]}`;
  return parts[0]!;
}

export function sourceFiles(dir: string, acc: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (SKIP.has(path.relative(repoRoot, p))) continue;
    if (e.isDirectory()) sourceFiles(p, acc);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) acc.push(p);
  }
  return acc;
}

/** Relative module specifiers of static imports, re-exports and dynamic imports (comments stripped). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  const re = /(?:\bimport|\bexport)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.startsWith('.')) specs.push(spec);
  }
  return specs;
}

/** src/ as an in-memory module graph: each .ts file's path relative to src/ ('runtime/session.ts') and its source. */
export function modulesOnDisk(): Map<string, string> {
  const modules = new Map<string, string>();
  for (const file of sourceFiles(SRC)) modules.set(path.relative(SRC, file).split(path.sep).join('/'), readFileSync(file, 'utf8'));
  return modules;
}

export interface Edge {
  /** 'from/file.ts -> to/file.ts', paths relative to src/. */
  edge: string;
  from: string;
  to: string;
}

/**
 * Every import from one layer into another in a module graph (paths relative to src/ and their
 * sources; by default src/ as it is on disk).
 */
export function crossLayerImports(modules: ReadonlyMap<string, string> = modulesOnDisk()): Edge[] {
  const out: Edge[] = [];
  for (const [rel, source] of modules) {
    for (const spec of importsOf(source)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) continue; // outside src/ (package.json)
      const from = layerOf(rel), to = layerOf(target);
      if (from !== to) out.push({ edge: `${rel} -> ${target}`, from, to });
    }
  }
  return out;
}

/** The rule an edge breaks, in words: what its layer may import. */
export function ruleOf(layer: string): string {
  const allowed = MAY_IMPORT[layer];
  if (!allowed) return `layer ${layer} has no row in MAY_IMPORT (test/architecture/layering.ts)`;
  return `layer ${layer} may import ${allowed.length ? allowed.join(', ') : 'nothing of ours'} (MAY_IMPORT in test/architecture/layering.ts, docs/ARCHITECTURE.md §1)`;
}

/** The edges against the rules. */
export function violations(edges: readonly Edge[] = crossLayerImports()): Edge[] {
  return edges.filter(({ from, to }) => {
    const allowed = MAY_IMPORT[from];
    if (!allowed) return true; // a new folder of src/ needs its row in MAY_IMPORT
    return !allowed.includes('*') && !allowed.includes(to);
  });
}

/** One line per violation: the file, what it imports, and the rule it breaks. */
export function describeViolations(bad: readonly Edge[]): string[] {
  return bad.map((e) => `src/${e.edge.replace(' -> ', ' imports src/')}: ${ruleOf(e.from)}`);
}

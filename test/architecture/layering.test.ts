import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_BACK_EDGES, MAY_IMPORT, SRC, crossLayerImports, describeViolations, importsOf, layerOf, sourceFiles, violations } from './layering.js';

describe('layering of src/ (docs/ARCHITECTURE.md)', () => {
  const edges = crossLayerImports();

  it('finds the imports it checks', () => {
    // Guards the scanner itself: the runtime imports the IR and the kernels, the CLI the runtime.
    expect(edges.some((e) => e.from === 'runtime' && e.to === 'ir')).toBe(true);
    expect(edges.some((e) => e.from === 'kernels/ref' && e.to === 'ir')).toBe(true);
    expect(edges.length).toBeGreaterThan(100);
  });

  it('every folder of src/ has its row of rules', () => {
    const layers = new Set(sourceFiles(SRC).map((f) => layerOf(path.relative(SRC, f).split(path.sep).join('/'))));
    expect([...layers].filter((l) => !(l in MAY_IMPORT))).toEqual([]);
  });

  it('no import goes against the layering, beyond the known back-edges being removed', () => {
    const bad = violations(edges);
    expect(describeViolations(bad.filter((e) => !KNOWN_BACK_EDGES.includes(e.edge)))).toEqual([]);
    expect(KNOWN_BACK_EDGES.filter((k) => !bad.some((e) => e.edge === k))).toEqual([]);
  });

  it('the scanner reads the forms imports take', () => {
    const src = [
      "import { a } from '../runtime/plan.js';",
      "import type { B } from './b.js';",
      "export { c } from '../tasks/c.js';",
      "const d = await import('../zoo/d.js');",
      "import './side-effect.js';",
      "// import { e } from '../cli/e.js';",
      "import fs from 'node:fs';",
    ].join('\n');
    expect(importsOf(src).sort()).toEqual(['../runtime/plan.js', '../tasks/c.js', '../zoo/d.js', './b.js', './side-effect.js']);
  });
});

import { describe, expect, it } from 'vitest';
import { crossLayerImports, describeViolations, modulesOnDisk, violations } from './layering.js';

// The layering test must be able to fail: a deliberate back-edge, added to src/ as it is on disk but
// only in memory (no file is written), is reported with its file and the rule it breaks.
describe('the layering checker reports a back-edge', () => {
  it('src/ir importing the runtime', () => {
    const modules = new Map(modulesOnDisk());
    modules.set('ir/x.ts', "import { Session } from '../runtime/session.js';\nexport const s = Session;\n");
    expect(describeViolations(violations(crossLayerImports(modules)))).toEqual([
      'src/ir/x.ts imports src/runtime/session.ts: layer ir may import nothing of ours (MAY_IMPORT in test/architecture/layering.ts, docs/ARCHITECTURE.md §1)',
    ]);
  });

  it('a dynamic import from a lower layer, and a new folder with no row', () => {
    const modules = new Map([
      ['kernels/ref/y.ts', "const p = await import('../../passes/optimize.js');"],
      ['kernels/ref/z.ts', "import { a } from '../../ir/index.js';\nimport { b } from './y.js';"],
      ['plugins/p.ts', "import { c } from '../ir/index.js';"],
    ]);
    expect(describeViolations(violations(crossLayerImports(modules)))).toEqual([
      'src/kernels/ref/y.ts imports src/passes/optimize.ts: layer kernels/ref may import ir (MAY_IMPORT in test/architecture/layering.ts, docs/ARCHITECTURE.md §1)',
      'src/plugins/p.ts imports src/ir/index.ts: layer plugins has no row in MAY_IMPORT (test/architecture/layering.ts)',
    ]);
  });
});

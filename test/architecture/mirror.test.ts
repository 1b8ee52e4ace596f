import { describe, expect, it } from 'vitest';
import { CROSS_CUTTING, SRC_DIR, TEST, foldersBelow, unmirroredTestFolders } from './mirror.js';

describe('test/ mirrors src/ (CONTRIBUTING.md)', () => {
  it('every folder of test/ is a folder of src/, or one of the cross-cutting ones', () => {
    expect(unmirroredTestFolders(foldersBelow(TEST), foldersBelow(SRC_DIR))).toEqual([]);
  });

  it('reports a test folder with no src/ counterpart, at any depth', () => {
    const src = ['ir', 'kernels', 'kernels/ref', 'tasks', 'tasks/audio'];
    const test = ['ir', 'kernels/ref', 'kernels/ref/int8', 'signal', 'tasks/audio', 'oracle', 'oracle/tflm'];
    expect(unmirroredTestFolders(test, src)).toEqual(['kernels/ref/int8', 'signal']);
  });

  it('each cross-cutting folder exists and says why it is allowed', () => {
    const top = new Set(foldersBelow(TEST).filter((f) => !f.includes('/')));
    for (const [name, why] of Object.entries(CROSS_CUTTING)) {
      expect(top.has(name), `test/${name} is listed in CROSS_CUTTING but does not exist`).toBe(true);
      expect(why.length).toBeGreaterThan(20);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { nodeTestsDir, readPassingList, runAll, summarize } from './runner.js';

const dir = nodeTestsDir();

describe.skipIf(!dir)('ONNX backend node tests', () => {
  it('every test in passing.txt still passes and no supported op gives a wrong answer', () => {
    const results = runAll(dir!);
    const byName = new Map(results.map((r) => [r.name, r]));
    const regressions = readPassingList()
      .map((n) => byName.get(n))
      .filter((r) => !r || r.status !== 'pass')
      .map((r) => `${r?.name}: ${r?.status} ${r?.detail ?? ''}`);
    expect(regressions).toEqual([]);
    const failures = results.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.detail}`);
    expect(failures).toEqual([]);
    const s = summarize(results);
    expect(s.singleOp.passed).toBeGreaterThanOrEqual(readPassingList().filter((n) => !n.includes('_expanded')).length);
  });
});

if (!dir) {
  console.warn('ONNX node tests skipped: libonnx-testdata not found (run `npm run setup-data`)');
}

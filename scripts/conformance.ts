/**
 * npm run conformance [-- --json] [-- --filter REGEX] [-- --write-passing] [-- --write-docs] [-- --verbose]
 * Runs the ONNX backend node tests through cloudless (reference kernels) and
 * prints a pass / fail / unsupported table per op with totals.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nodeTestsDir, runAll, summarize, PASSING_FILE, RTOL, type TestResult } from '../test/conformance/runner.js';
import { EXCLUDED } from '../test/conformance/exclusions.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const verbose = args.includes('--verbose');
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? new RegExp(args[fi + 1]!) : undefined;
const dir = nodeTestsDir();
if (!dir) {
  console.error('conformance: ONNX node tests not found; run `npm run setup-data` first (Debian libonnx-testdata)');
  process.exit(2);
}
const t0 = Date.now();
const results = runAll(dir, filter, (r, i, n) => {
  if (!json && process.stderr.isTTY) process.stderr.write(`\r${i + 1}/${n} ${r.name}`.padEnd(70).slice(0, 90));
});
if (!json && process.stderr.isTTY) process.stderr.write('\r'.padEnd(90) + '\r');
const s = summarize(results);

if (json) {
  process.stdout.write(`${JSON.stringify({ passed: s.passed, failed: s.failed, unsupported: s.unsupported, excluded: s.excluded, total: s.total, singleOp: s.singleOp, byOp: s.byOp })}\n`);
} else {
  const rows = Object.entries(s.byOp);
  const w = Math.max(...rows.map(([k]) => k.length), 2);
  console.log(`${'op'.padEnd(w)}  pass  fail  unsup  excl`);
  for (const [op, e] of rows) console.log(`${op.padEnd(w)}  ${String(e.pass).padStart(4)}  ${String(e.fail).padStart(4)}  ${String(e.unsupported).padStart(5)}  ${String(e.excluded).padStart(4)}`);
  console.log(`\nall tests:        ${s.passed} passed, ${s.failed} failed, ${s.unsupported} unsupported, ${s.excluded} excluded of ${s.total}`);
  console.log(`single-op tests:  ${s.singleOp.passed} passed, ${s.singleOp.failed} failed, ${s.singleOp.unsupported} unsupported, ${s.singleOp.excluded} excluded of ${s.singleOp.total}`);
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s; float tolerance rtol ${RTOL}, atol 1e-5 for float32 / 1e-7 for float64)`);
  if (verbose) for (const r of results) if (r.status === 'fail' || r.status === 'unsupported') console.log(`${r.status.padEnd(11)} ${r.name}: ${r.detail}`);
}
if (args.includes('--write-passing') && !filter) {
  const names = results.filter((r) => r.status === 'pass').map((r) => r.name);
  writeFileSync(PASSING_FILE, `# ONNX node tests that pass; CI fails if one of them stops passing (npm run conformance -- --write-passing)\n${names.join('\n')}\n`);
  console.error(`wrote ${names.length} names to ${path.relative(process.cwd(), PASSING_FILE)}`);
}
if (args.includes('--write-docs') && !filter) writeDocs(results);

function writeDocs(rs: TestResult[]): void {
  const sm = summarize(rs);
  const lines = [
    '# ONNX conformance',
    '',
    'The ONNX backend node tests from Debian\'s `libonnx-testdata` (ONNX 1.12), run through cloudless\'s reference kernels',
    'by `npm run conformance`. A test passes when every output matches in dtype, shape and value',
    `(floats: |got − want| ≤ atol + ${RTOL}·|want|, atol 1e-5 for float32 and 1e-7 for float64; integers and booleans exactly).`,
    '"unsupported" means cloudless refuses the model at load with a clear error (an op, attribute or dtype it does not implement).',
    'Excluded tests are listed with their reasons in `test/conformance/exclusions.ts`.',
    '',
    `**All tests:** ${sm.passed} passed, ${sm.failed} failed, ${sm.unsupported} unsupported, ${sm.excluded} excluded of ${sm.total}.`,
    '',
    `**Single-op tests** (without \`_expanded\`): ${sm.singleOp.passed} passed, ${sm.singleOp.failed} failed, ${sm.singleOp.unsupported} unsupported, ${sm.singleOp.excluded} excluded of ${sm.singleOp.total}.`,
    '',
    '| op | pass | fail | unsupported | excluded |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.entries(sm.byOp).map(([op, e]) => `| ${op} | ${e.pass} | ${e.fail} | ${e.unsupported} | ${e.excluded} |`),
    '',
    '## Why tests are unsupported',
    '',
    '| test | reason |',
    '| --- | --- |',
    ...rs.filter((r) => r.status === 'unsupported' && !r.expanded).map((r) => `| ${r.name} | ${(r.detail ?? '').replace(/\|/g, '\\|').replace(/^.*?: /, '').slice(0, 160)} |`),
    '',
  ];
  writeFileSync(path.resolve(path.dirname(PASSING_FILE), '../../docs/conformance.md'), lines.join('\n'));
  console.error('wrote docs/conformance.md');
  void EXCLUDED;
}

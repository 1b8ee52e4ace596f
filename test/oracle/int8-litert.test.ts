/**
 * `tflite-xnnpack` is bit-exact with LiteRT.js (TFLite with XNNPACK, 1 thread):
 * randomized single-op int8 graphs (test/helpers/int8-cases.ts: shapes,
 * strides, SAME/VALID, dilations, fused activations, zero points, per-channel
 * and per-tensor scales, broadcasting, exact ties and near-ties, accumulators
 * past 2^24, factors outside XNNPACK's ranges) are written by our .tflite
 * writer, run in LiteRT.js, and run in cloudless on the reference kernels and
 * on backend 'auto' (wasm kernels where they exist). Every output byte must
 * agree.
 *
 * RESIZE_* has its own oracle test (test/oracle/int8-resize-litert.test.ts).
 * Not covered: CONCATENATION with inputs quantized unlike the output: TFLite's int8 spec
 * forbids it and LiteRT.js 2.5.3 cannot run it (its XNNPACK delegate claims the
 * node, then fails to prepare it); the last test pins that down.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Int8Arithmetic } from '../../src/ir/index.js';
import { writeTflite } from '../../src/formats/tflite/writer.js';
import { Session, type BackendChoice } from '../../src/runtime/session.js';
import { runLiteRt } from '../helpers/litert.js';
import { INT8_CASE_OPS, int8Case, type Flavour, type Int8Case, type Int8CaseOp } from '../helpers/int8-cases.js';

const RUNS_PER_OP = 50;
const flavours: Flavour[] = ['random', 'tie', 'near'];

/** Cases and output bytes compared per op, printed at the end (the report's counts). */
const tally = new Map<string, { cases: number; outputs: number }>();

function ours(c: Int8Case, backend: BackendChoice, int8Arithmetic: Int8Arithmetic): Int8Array {
  const out = new Session(c.graph, { backend, int8Arithmetic }).runSync(c.feeds);
  return (out[c.graph.outputs[0]!]!.data as Int8Array).slice();
}

async function litert(c: Int8Case): Promise<Int8Array> {
  const [y] = await runLiteRt(writeTflite(c.graph), c.graph.inputs.map((n) => c.feeds[n]!));
  return y!.data as Int8Array;
}

/** Indices where a and b differ, with both values, for a readable failure. */
function firstDiffs(a: Int8Array, b: Int8Array): string {
  const d: string[] = [];
  for (let i = 0; i < a.length && d.length < 5; i++) if (a[i] !== b[i]) d.push(`[${i}] litert ${a[i]} cloudless ${b[i]}`);
  return d.join(', ');
}

const oracleOps = INT8_CASE_OPS.filter((op): op is Exclude<Int8CaseOp, 'ConcatMixed'> => op !== 'ConcatMixed');

describe('tflite-xnnpack vs LiteRT.js: randomized single-op int8 models', () => {
  afterAll(() => {
    const rows = [...tally].map(([op, t]) => `${op}: ${t.cases} cases, ${t.outputs} outputs`);
    console.log(`int8 bit-exact with LiteRT.js (backends ref and auto):\n  ${rows.join('\n  ')}`);
  });

  for (const op of oracleOps) {
    it(`${op}: every output byte equal`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(...flavours), async (seed, flavour) => {
        const c = int8Case(op, seed, flavour);
        const want = await litert(c);
        for (const backend of ['ref', 'auto'] as const) {
          const got = ours(c, backend, 'tflite-xnnpack');
          expect(got.length, c.name).toBe(want.length);
          const same = got.every((v, i) => v === want[i]);
          expect(same, `${c.name}, backend ${backend}: ${firstDiffs(want, got)}`).toBe(true);
        }
        const t = tally.get(op) ?? { cases: 0, outputs: 0 };
        t.cases++;
        t.outputs += want.length;
        tally.set(op, t);
      }), { numRuns: RUNS_PER_OP });
    });
  }

  it('Concat of inputs quantized unlike the output: LiteRT.js 2.5.3 cannot prepare it', async () => {
    const c = int8Case('ConcatMixed', 12345, 'random');
    await expect(litert(c)).rejects.toThrow(/failed to delegate CONCATENATION/);
    // cloudless runs it with TFLite's integer requantization (the same in both modes).
    expect(ours(c, 'ref', 'tflite-xnnpack')).toEqual(ours(c, 'ref', 'tflite-reference'));
  });
});
